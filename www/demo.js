// Demo page logic. It reads the two endpoint forms, validates them with the
// package's validators on every change, shows each field error next to its
// field and a preview of the request, and sends the request with the package's
// one-off functions. The access token stays in memory, as the password input's
// value, and is never written to storage, the URL, an attribute or the page's text.
// In relay mode the page contains no token at all: it sends to the relay of
// examples/relay/, which adds the token itself.

const PACKAGE_URL = '/pkg/index.js';
const DEMO_TOKEN = 'demo-token';
const MASKED_AUTHORIZATION = 'Bearer ••••';
const EXAMPLE_ORG_ID = 'a1b2c3d4-e5f6-7890-abcd-ef1234567890';
const EXAMPLE_SERIAL = 'VENUE-0001';
const DEFAULT_SOURCE = 'demo_page';
const DEFAULT_WORKFLOW_ID = 'welcome-journey';
// The page URL's parameter that names the relay; without it the relay is
// assumed on this host's next port, where scripts/demo starts it.
const RELAY_PARAMETER = 'relay';
const BASE_URL_HINTS = {
  direct: "Defaults to this page's origin, which is the mock API.",
  relay: "The relay's URL. The relay adds the token, so this page sends none.",
};

// The imported package module, or null until its import resolves.
let stampede = null;
let packageError = null;
let nextElementId = 1;

// "direct" sends to the mock with the token field's value; "relay" sends to a
// relay with no token. relayUrl keeps the relay's URL, as last edited, while
// the page is in direct mode.
let mode = 'direct';
let relayUrl = null;

// Per endpoint: whether the last render allowed sending, and whether a request is in flight.
const endpoints = {
  event: { ready: false, sending: false },
  run: { ready: false, sending: false },
};

const byId = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------
// Small DOM helpers

/** Creates an element with attributes and children. String children become text nodes. */
function createElement(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined && value !== false) node.setAttribute(name, value === true ? '' : value);
  }
  node.append(...children);
  return node;
}

function uniqueId(prefix) {
  const id = `${prefix}-${nextElementId}`;
  nextElementId += 1;
  return id;
}

function showMessage(element, message) {
  element.textContent = message;
  element.hidden = false;
}

function hideMessage(element) {
  element.textContent = '';
  element.hidden = true;
}

// ---------------------------------------------------------------------------
// Settings

function readSettings() {
  const accessToken = byId('access-token').value;
  return {
    baseUrl: byId('base-url').value,
    // The relay adds the token, so relay mode sends none. In direct mode an
    // empty field sends no Authorization header, so the mock responds with 401.
    accessToken: mode === 'relay' || accessToken === '' ? undefined : accessToken,
  };
}

/** Returns the relay's URL: the page URL's `relay` parameter, else this host on the next port. */
function defaultRelayUrl() {
  const fromPageUrl = new URLSearchParams(window.location.search).get(RELAY_PARAMETER);
  if (fromPageUrl) return fromPageUrl;
  const url = new URL(window.location.origin);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  url.port = String(port + 1);
  return url.href;
}

/**
 * Switches between sending directly to the mock and through a relay. Relay
 * mode empties and hides the token field, so the page contains no token.
 * Direct mode puts the mock's public demo token back.
 */
function switchMode(next) {
  if (next === mode) return;
  const baseUrl = byId('base-url');
  const token = byId('access-token');
  if (next === 'relay') {
    token.value = '';
    baseUrl.value = relayUrl ?? defaultRelayUrl();
  } else {
    relayUrl = baseUrl.value;
    baseUrl.value = window.location.origin;
    token.value = DEMO_TOKEN;
  }
  byId('access-token-field').hidden = next === 'relay';
  byId('base-url-hint').textContent = BASE_URL_HINTS[next];
  mode = next;
}

/**
 * Checks the base URL and token with the package's own rules, by constructing a
 * client. Returns the field errors keyed `baseUrl` and `accessToken`.
 */
function validateSettings(settings) {
  try {
    new stampede.StampedeClient(settings);
    return {};
  } catch (error) {
    return error.errors ?? { baseUrl: [error.message] };
  }
}

function renderSettings(errors) {
  const fields = [
    ['baseUrl', byId('base-url'), byId('base-url-error')],
    ['accessToken', byId('access-token'), byId('access-token-error')],
  ];
  for (const [key, input, errorElement] of fields) {
    if (errors[key]) {
      showMessage(errorElement, errors[key].join(' '));
      input.setAttribute('aria-invalid', 'true');
    } else {
      hideMessage(errorElement);
      input.removeAttribute('aria-invalid');
    }
  }
}

// ---------------------------------------------------------------------------
// Request preview
//
// The preview is the request the package itself builds: the call runs with a
// fetch that records its arguments and sends nothing, so the preview cannot
// drift from what Send does.

const latestPreview = new Map();

/** Formats a recorded fetch call as HTTP, with the token masked. */
function formatRecordedRequest(url, init) {
  const lines = [`${init.method} ${url}`];
  for (const [name, value] of new Headers(init.headers)) {
    lines.push(`${name}: ${name === 'authorization' ? MASKED_AUTHORIZATION : value}`);
  }
  return `${lines.join('\n')}\n\n${init.body}`;
}

/**
 * Runs `call` with a recording fetch and shows the request in `element`, or a
 * hint when the input is invalid. Only the newest preview of an element is shown.
 */
async function renderPreview(element, call) {
  const serial = (latestPreview.get(element) ?? 0) + 1;
  latestPreview.set(element, serial);

  let recorded;
  const record = async (url, init) => {
    recorded = formatRecordedRequest(url, init);
    return new Response('{}', { status: 200 });
  };
  try {
    await call({ fetch: record, maxRetries: 0 });
  } catch {
    // A validation error: the field messages already say what to fix.
  }

  if (latestPreview.get(element) !== serial) return;
  element.textContent = recorded ?? 'The request appears here once every field is valid.';
}

// ---------------------------------------------------------------------------
// Field errors
//
// A field is { input, error, scope }: the control marked aria-invalid, the
// element that shows the message and the element whose "touched" class marks
// that the user has edited or left the field. Errors of untouched fields stay
// hidden, and the line under the Send button still says what is missing.

/**
 * Returns a field for renderFieldErrors. `label`, when given, replaces the
 * error key in messages, because empty serial rows are not sent and the key's
 * index then differs from the row's number.
 */
function field(input, error, scope = input.closest('.field, li, fieldset'), label = undefined) {
  return { input, error, scope, label };
}

function markTouched(target) {
  if (!target.matches('input, select')) return;
  for (const scope of [target.closest('.field'), target.closest('li'), target.closest('fieldset')]) {
    scope?.classList.add('touched');
  }
}

function markAllTouched(form) {
  for (const control of form.querySelectorAll('input, select')) markTouched(control);
}

function showFieldError(target, message) {
  if (!target.scope.classList.contains('touched')) return;
  showMessage(target.error, message);
  target.input?.setAttribute('aria-invalid', 'true');
}

/** Returns a validator message with the field's label on the page in place of its dotted key. */
function withLabel(fields, key, message) {
  const target = fields.get(key);
  return target?.label ? message.replaceAll(`The ${key} field`, target.label) : message;
}

/**
 * Shows each validator error next to its field and each page-level problem next
 * to its row. Keys with no field on the page go to the form's list of other errors.
 */
function renderFieldErrors(form, fields, errors, problems, otherList) {
  for (const element of form.querySelectorAll('.field-error')) hideMessage(element);
  for (const element of form.querySelectorAll('[aria-invalid]')) element.removeAttribute('aria-invalid');

  const otherMessages = [];
  for (const [key, messages] of Object.entries(errors)) {
    const target = fields.get(key);
    const text = messages.join(' ');
    if (target) showFieldError(target, withLabel(fields, key, text));
    else otherMessages.push(...messages);
  }
  for (const problem of problems) showFieldError(problem.field, problem.message);

  otherList.replaceChildren(...otherMessages.map((message) => createElement('li', {}, message)));
  otherList.hidden = otherMessages.length === 0;
}

/** Returns null when the endpoint may send, else a sentence saying what to fix first. */
function findBlockingProblem(settingsErrors, validation, problems, fields) {
  if (packageError) return 'The package did not load, so nothing can be sent.';
  if (!stampede) return 'Waiting for the package to load.';
  if (Object.keys(settingsErrors).length > 0) return 'Fix the settings above before sending.';

  const errors = Object.entries(validation.errors ?? {});
  const labelled = errors.flatMap(([key, messages]) => messages.map((message) => withLabel(fields, key, message)));
  const messages = [...labelled, ...problems.map((problem) => problem.message)];
  if (messages.length === 0) return null;
  const more = messages.length > 1 ? ` (and ${messages.length - 1} more)` : '';
  return `Not ready to send: ${messages[0]}${more}`;
}

function renderReadiness(name, problem) {
  const state = endpoints[name];
  state.ready = problem === null;

  const readiness = byId(`${name}-readiness`);
  readiness.textContent = state.sending ? 'Sending…' : (problem ?? 'Ready to send.');
  readiness.classList.toggle('ready', state.ready && !state.sending);
  byId(`${name}-send`).disabled = !state.ready || state.sending;
}

// ---------------------------------------------------------------------------
// Incoming event: serial rows

function addSerialRow(value = '') {
  const inputId = uniqueId('serial');
  const errorId = `${inputId}-error`;
  const input = createElement('input', {
    id: inputId, type: 'text', class: 'serial-value', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': errorId,
  });
  input.value = value;
  const remove = createElement('button', { type: 'button', class: 'remove-row', 'data-remove-row': true }, '×');
  const error = createElement('p', { id: errorId, class: 'field-error', hidden: true });

  const row = createElement('li', { class: 'row serial-row' }, input, remove, error);
  byId('serial-rows').append(row);
  return row;
}

/** Returns the non-empty serials in row order, and maps `serials.N` to the row that sent serial N. */
function readSerials(fields) {
  const serials = [];
  const rows = [...byId('serial-rows').children];
  for (const [rowIndex, row] of rows.entries()) {
    const input = row.querySelector('.serial-value');
    if (input.value === '') continue;
    const label = `Serial ${rowIndex + 1}`;
    fields.set(`serials.${serials.length}`, field(input, row.querySelector('.field-error'), row, label));
    serials.push(input.value);
  }
  return serials;
}

// ---------------------------------------------------------------------------
// Incoming event: parameter rows

function createOption(value, selected) {
  const option = createElement('option', { value }, value);
  option.selected = selected;
  return option;
}

function addParameterRow({ key = '', type = 'string', value = '' } = {}) {
  const rowId = uniqueId('parameter');
  const errorId = `${rowId}-error`;

  const keyInput = createElement('input', {
    type: 'text', class: 'parameter-key', placeholder: 'key', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': errorId,
  });
  keyInput.value = key;
  const typeSelect = createElement(
    'select',
    { class: 'parameter-type' },
    ...['string', 'number', 'boolean'].map((option) => createOption(option, option === type)),
  );
  const valueInput = createElement('input', {
    type: 'text', class: 'parameter-value', placeholder: 'value', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': errorId,
  });
  valueInput.value = value;
  const booleanSelect = createElement(
    'select',
    { class: 'parameter-boolean', 'aria-describedby': errorId },
    createOption('true', true),
    createOption('false', false),
  );
  const remove = createElement('button', { type: 'button', class: 'remove-row', 'data-remove-row': true }, '×');
  const error = createElement('p', { id: errorId, class: 'field-error', hidden: true });

  const row = createElement('li', { class: 'row parameter-row' }, keyInput, typeSelect, valueInput, booleanSelect, remove, error);
  byId('parameter-rows').append(row);
  return row;
}

/** Returns the row's value as the chosen type: text, a number (NaN when not numeric) or a boolean. */
function readParameterValue(row) {
  const type = row.querySelector('.parameter-type').value;
  const text = row.querySelector('.parameter-value').value;
  if (type === 'boolean') return row.querySelector('.parameter-boolean').value === 'true';
  // Only plain decimal notation counts, so "0x10" or " 5 " is not silently converted.
  if (type === 'number') return /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) ? Number(text) : Number.NaN;
  return text;
}

function valueControl(row) {
  const isBoolean = row.querySelector('.parameter-type').value === 'boolean';
  return row.querySelector(isBoolean ? '.parameter-boolean' : '.parameter-value');
}

/**
 * Returns why a parameter row cannot be sent, with the control to mark, or null.
 * The validator never receives such rows, so the page reports them itself.
 */
function findParameterRowProblem(row, key, value, parameters) {
  const keyInput = row.querySelector('.parameter-key');
  if (key === '') {
    return { input: keyInput, message: 'This parameter has no key. Enter one or remove the row.' };
  }
  if (Object.hasOwn(parameters, key)) {
    return { input: keyInput, message: `The key "${key}" is already used by an earlier parameter row.` };
  }
  if (typeof value === 'number' && !Number.isFinite(value)) {
    return { input: valueControl(row), message: `The value of "${key}" must be a finite number, such as 3 or -2.5.` };
  }
  return null;
}

/**
 * Returns the parameters object, or undefined when there are no rows. Rows with an
 * empty or repeated key or a non-numeric number are left out and reported in `problems`.
 */
function readParameters(fields, problems) {
  const rows = [...byId('parameter-rows').children];
  if (rows.length === 0) return undefined;

  const parameters = {};
  for (const row of rows) {
    const key = row.querySelector('.parameter-key').value;
    const value = readParameterValue(row);
    const error = row.querySelector('.field-error');
    const problem = findParameterRowProblem(row, key, value, parameters);
    if (problem) {
      problems.push({ field: field(problem.input, error, row), message: problem.message });
      continue;
    }
    // defineProperty makes even a key such as "__proto__" an own, enumerable property.
    Object.defineProperty(parameters, key, { value, enumerable: true, writable: true, configurable: true });
    fields.set(`parameters.${key}`, field(valueControl(row), error, row));
  }
  return parameters;
}

function hasSourceRow() {
  return [...document.querySelectorAll('.parameter-key')].some((input) => input.value === 'source');
}

function addSourceRow() {
  const existing = [...document.querySelectorAll('.parameter-key')].find((input) => input.value === 'source');
  if (existing) {
    valueControl(existing.closest('li')).focus();
    return;
  }
  addParameterRow({ key: 'source' }).querySelector('.parameter-value').focus();
}

/** Shows the value control that fits the row's type and gives only that one the label. */
function showValueControl(row, label) {
  const visible = valueControl(row);
  for (const control of row.querySelectorAll('.parameter-value, .parameter-boolean')) {
    control.hidden = control !== visible;
    if (control === visible) control.setAttribute('aria-label', label);
    else control.removeAttribute('aria-label');
  }
}

/** Numbers the rows' accessible names, shows the value control that fits each type, and offers `source` only once. */
function renderRows() {
  [...byId('serial-rows').children].forEach((row, index) => {
    row.querySelector('.serial-value').setAttribute('aria-label', `Serial ${index + 1}`);
    row.querySelector('.remove-row').setAttribute('aria-label', `Remove serial ${index + 1}`);
  });
  [...byId('parameter-rows').children].forEach((row, index) => {
    const label = `Parameter ${index + 1}`;
    const type = row.querySelector('.parameter-type').value;
    row.querySelector('.parameter-key').setAttribute('aria-label', `${label} key`);
    row.querySelector('.parameter-type').setAttribute('aria-label', `${label} type`);
    row.querySelector('.parameter-value').setAttribute('inputmode', type === 'number' ? 'decimal' : 'text');
    showValueControl(row, `${label} value`);
    row.querySelector('.remove-row').setAttribute('aria-label', `Remove parameter ${index + 1}`);
  });
  byId('add-source').disabled = hasSourceRow();
}

// ---------------------------------------------------------------------------
// Incoming event: the whole form

/** Reads the form into the event to send, the fields that show errors and the page-level problems. */
function readIncomingEvent() {
  const orgInput = byId('event-org-id');
  const fields = new Map([
    ['organisation_registration_id', field(orgInput, byId('event-org-id-error'))],
    ['serials', field(null, byId('serials-error'), byId('serials-error').closest('fieldset'))],
    ['parameters', field(null, byId('parameters-error'), byId('parameters-error').closest('fieldset'))],
  ]);
  const problems = [];

  const event = { organisation_registration_id: orgInput.value };
  const serials = readSerials(fields);
  if (serials.length > 0) event.serials = serials;
  const parameters = readParameters(fields, problems);
  if (parameters !== undefined) event.parameters = parameters;

  return { event, fields, problems };
}

function renderIncomingEvent(settings, settingsErrors) {
  renderRows();
  const { event, fields, problems } = readIncomingEvent();
  const validation = stampede ? stampede.validateIncomingEvent(event) : { valid: true };

  renderFieldErrors(byId('event-form'), fields, validation.errors ?? {}, problems, byId('event-other-errors'));
  if (stampede) renderPreview(byId('event-preview'), (options) => stampede.sendIncomingEvent(event, { ...settings, ...options }));
  renderReadiness('event', findBlockingProblem(settingsErrors, validation, problems, fields));
}

function fillEventExample() {
  byId('event-org-id').value = EXAMPLE_ORG_ID;
  const firstSerial = byId('serial-rows').querySelector('.serial-value') ?? addSerialRow().querySelector('.serial-value');
  firstSerial.value = EXAMPLE_SERIAL;
  if (!hasSourceRow()) addParameterRow({ key: 'source', value: DEFAULT_SOURCE });
  markAllTouched(byId('event-form'));
}

// ---------------------------------------------------------------------------
// Workflow run form

function readWorkflowRun() {
  const workflowInput = byId('run-workflow-id');
  const orgInput = byId('run-org-id');
  const fields = new Map([
    ['workflowId', field(workflowInput, byId('run-workflow-id-error'))],
    ['org_reg_id', field(orgInput, byId('run-org-id-error'))],
  ]);
  return { workflowId: workflowInput.value, request: { org_reg_id: orgInput.value }, fields };
}

function renderWorkflowRun(settings, settingsErrors) {
  const { workflowId, request, fields } = readWorkflowRun();
  const validation = stampede ? stampede.validateWorkflowRun(workflowId, request) : { valid: true };

  renderFieldErrors(byId('run-form'), fields, validation.errors ?? {}, [], byId('run-other-errors'));
  if (stampede) renderPreview(byId('run-preview'), (options) => stampede.storeWorkflowRun(workflowId, request, { ...settings, ...options }));
  renderReadiness('run', findBlockingProblem(settingsErrors, validation, [], fields));
}

function fillRunExample() {
  byId('run-workflow-id').value = DEFAULT_WORKFLOW_ID;
  byId('run-org-id').value = EXAMPLE_ORG_ID;
  markAllTouched(byId('run-form'));
}

// ---------------------------------------------------------------------------
// Rendering everything

function renderAll() {
  const settings = readSettings();
  const settingsErrors = stampede ? validateSettings(settings) : {};
  renderSettings(settingsErrors);
  renderIncomingEvent(settings, settingsErrors);
  renderWorkflowRun(settings, settingsErrors);
}

// ---------------------------------------------------------------------------
// Sending and showing the result

function definitionList(entries) {
  const list = createElement('dl', { class: 'details' });
  for (const [term, value] of entries) {
    if (value === undefined) continue;
    list.append(createElement('dt', {}, term), createElement('dd', {}, String(value)));
  }
  return list;
}

function jsonBlock(value) {
  return createElement('pre', { class: 'json', tabindex: '0' }, JSON.stringify(value, null, 2));
}

function showPending(container) {
  container.replaceChildren(createElement('p', { class: 'outcome pending' }, 'Sending…'));
}

function showResponse(container, response) {
  container.replaceChildren(
    createElement('p', { class: 'outcome success' }, 'Success'),
    createElement('p', { class: 'hint' }, `The server returned a 2xx status at ${new Date().toLocaleTimeString()}, with this body:`),
    jsonBlock(response),
  );
}

function fieldErrorList(errors) {
  const items = Object.entries(errors).map(([key, messages]) =>
    createElement('li', {}, createElement('code', {}, key), `: ${messages.join(' ')}`),
  );
  return createElement('ul', { class: 'error-list' }, ...items);
}

/** Shows a StampedeError's kind, status, message, attempts, Retry-After, field errors and body. */
function showFailure(container, error) {
  const kind = error?.kind ?? 'unexpected';
  const parts = [
    createElement('p', { class: 'outcome failure' }, `Failed: ${kind}`),
    definitionList([
      ['Kind', kind],
      ['Status', error?.status],
      ['Message', error?.message ?? String(error)],
      ['Attempts', error?.attempts],
      ['Retry after', error?.retryAfterMs === undefined ? undefined : `${error.retryAfterMs} ms`],
    ]),
  ];
  if (error?.errors && Object.keys(error.errors).length > 0) {
    parts.push(createElement('h4', {}, 'Field errors'), fieldErrorList(error.errors));
  }
  if (error?.body !== undefined) {
    parts.push(createElement('h4', {}, 'Response body'), jsonBlock(error.body));
  }
  container.replaceChildren(...parts);
}

/** Sends one request unless the endpoint is not ready or already sending. */
async function send(name, call) {
  const state = endpoints[name];
  if (!state.ready || state.sending) return;

  const container = byId(`${name}-result`);
  state.sending = true;
  renderAll();
  showPending(container);
  try {
    showResponse(container, await call());
  } catch (error) {
    showFailure(container, error);
  } finally {
    state.sending = false;
    renderAll();
  }
}

function sendIncomingEvent() {
  const { event } = readIncomingEvent();
  return send('event', () => stampede.sendIncomingEvent(event, readSettings()));
}

function storeWorkflowRun() {
  const { workflowId, request } = readWorkflowRun();
  return send('run', () => stampede.storeWorkflowRun(workflowId, request, readSettings()));
}

// ---------------------------------------------------------------------------
// Start-up

function listenForEdits(form) {
  const onEdit = (event) => {
    markTouched(event.target);
    renderAll();
  };
  form.addEventListener('input', onEdit);
  form.addEventListener('change', onEdit);
  form.addEventListener('focusout', onEdit);
}

function listenForRowRemoval(list, addButton) {
  list.addEventListener('click', (event) => {
    const button = event.target.closest('[data-remove-row]');
    if (!button) return;
    const row = button.closest('li');
    const focusTarget = row.previousElementSibling?.querySelector('input') ?? addButton;
    row.remove();
    focusTarget.focus();
    renderAll();
  });
}

function onSubmit(form, handler) {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    handler();
  });
}

function wireControls() {
  for (const form of ['settings-form', 'event-form', 'run-form'].map(byId)) listenForEdits(form);
  onSubmit(byId('settings-form'), () => {});
  onSubmit(byId('event-form'), sendIncomingEvent);
  onSubmit(byId('run-form'), storeWorkflowRun);

  listenForRowRemoval(byId('serial-rows'), byId('add-serial'));
  listenForRowRemoval(byId('parameter-rows'), byId('add-parameter'));
  byId('add-serial').addEventListener('click', () => {
    addSerialRow().querySelector('input').focus();
    renderAll();
  });
  byId('add-parameter').addEventListener('click', () => {
    addParameterRow().querySelector('input').focus();
    renderAll();
  });
  byId('add-source').addEventListener('click', () => {
    addSourceRow();
    renderAll();
  });
  byId('event-example').addEventListener('click', () => {
    fillEventExample();
    renderAll();
  });
  byId('run-example').addEventListener('click', () => {
    fillRunExample();
    renderAll();
  });
  for (const radio of document.querySelectorAll('input[name="mode"]')) {
    radio.addEventListener('change', () => {
      if (!radio.checked) return;
      switchMode(radio.value);
      renderAll();
    });
  }
}

function setDefaults() {
  // A browser may restore a checked radio button on reload; the page starts direct.
  document.querySelector('input[name="mode"][value="direct"]').checked = true;
  byId('base-url').value = window.location.origin;
  // Set as a property, not an attribute, so the token is not in the page's HTML.
  byId('access-token').value = DEMO_TOKEN;
  byId('run-workflow-id').value = DEFAULT_WORKFLOW_ID;
  addSerialRow();
  addParameterRow({ key: 'source', value: DEFAULT_SOURCE });
}

async function loadPackage() {
  const status = byId('load-status');
  try {
    stampede = await import(PACKAGE_URL);
    status.hidden = true;
  } catch (error) {
    packageError = error;
    status.classList.add('failed');
    status.textContent = `The package failed to load from ${PACKAGE_URL}. Build it with scripts/build, then reload the page. (${error.message})`;
  }
}

async function start() {
  setDefaults();
  wireControls();
  renderAll();
  await loadPackage();
  renderAll();
}

start();
