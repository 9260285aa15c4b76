// Local mock of the Stampede Workflows API, for tests and the demo page.
//
// It serves the two workflow endpoints with Laravel-style JSON errors and a
// control API under /__mock/ that scripts faults and returns the recorded
// requests. Faults come one by one from a queue (POST /__mock/script) or at
// random from a seeded generator (POST /__mock/faults), and each recorded
// request keeps the status the mock sent.
//
// It also serves static files: by default www/ at / and pkg/ at /pkg/,
// so the demo page and the built package share one origin. It uses only Node
// built-ins (Node 18 or later).
//
// As a library: `const mock = await startMockServer({ port: 0 })`.
// From the command line: `node www/mock/server.mjs --help`.

import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { realpathSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const DEFAULT_OPTIONS = {
  host: '127.0.0.1',
  port: 0,
  token: 'demo-token',
  workflows: ['welcome-journey', 'birthday-reward', '42'],
  waitingPeriodMs: 60_000,
  maxBodyBytes: 1024 * 1024,
  apiBasePath: '',
  maxRecordedRequests: 10_000,
  contentSecurityPolicy: "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'",
};

const MAX_SCRIPTED_RESPONSES = 1_000;
const MAX_DELAY_MS = 600_000;
const MAX_SCRIPTED_BODY_BYTES = 64 * 1024 * 1024;
// A body larger than maxBodyBytes is read and discarded so that the client
// receives the 413 instead of a reset. Past this multiple the mock gives up.
const DRAIN_LIMIT_FACTOR = 16;

const SERIAL_MAX_CHARACTERS = 12;
// Hyphenated 8-4-4-4-12 hex digits in either case, as Laravel's uuid rule accepts.
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// With the u flag a valid surrogate pair is one code point outside this range,
// so only unpaired surrogates match.
const UNPAIRED_SURROGATE = /[\uD800-\uDFFF]/u;

const PREFLIGHT_MAX_AGE_SECONDS = '600';
const DEFAULT_ALLOWED_HEADERS = 'authorization, content-type, accept';

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
};

const ROUTE_INCOMING_EVENT = 'incoming-event';
const ROUTE_WORKFLOW_RUNS = 'workflow-runs';

// ---------------------------------------------------------------------------
// Starting and stopping

/**
 * Starts the mock on a loopback address.
 *
 * Options (all optional):
 * - host: loopback IP address to listen on, default "127.0.0.1". Other addresses
 *   are rejected because the mock accepts a fixed, public demo token.
 * - port: TCP port, default 0 (a free port).
 * - token: the access token accepted as "Authorization: Bearer <token>", default "demo-token".
 * - workflows: known workflow ids, default ["welcome-journey", "birthday-reward", "42"].
 * - waitingPeriodMs: how long after a run of a workflow the same org_reg_id gets 423, default 60000.
 * - staticRoots: array of { prefix, dir } served for GET and HEAD; default www/ at "/" and pkg/ at "/pkg/".
 * - contentSecurityPolicy: the Content-Security-Policy header of HTML files, or false for none.
 *   The default, "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'", is the strictest
 *   policy under which a page can instantiate the package's wasm.
 * - maxBodyBytes: largest accepted request body, default 1 MiB; larger bodies get 413.
 * - apiBasePath: path in front of /v1/, such as "/relay", default "" (the API at /v1/).
 * - maxRecordedRequests: how many API requests state.requests keeps, the newest,
 *   default 10000; 0 records none. A soak of more requests raises it.
 * - log: function called with one line per request, or false (the default); true logs to console.log.
 *
 * Returns { url, port, close, state }: url is "http://127.0.0.1:PORT/", close()
 * stops the server and drops open connections, and state is the live mock state
 * (see createState).
 */
export async function startMockServer(options = {}) {
  const config = resolveOptions(options);
  const mock = {
    config,
    state: createState(config),
    timers: new Set(),
    sockets: new Set(),
  };

  const server = http.createServer((req, res) => {
    handleRequest(mock, req, res);
  });
  server.on('connection', (socket) => {
    mock.sockets.add(socket);
    socket.on('close', () => mock.sockets.delete(socket));
  });

  await listen(server, config.port, config.host);
  const { port } = server.address();
  const url = `http://${formatHostForUrl(config.host)}:${port}/`;

  let closing = null;
  const close = () => {
    closing ??= closeServer(mock, server);
    return closing;
  };
  return { url, port, close, state: mock.state };
}

function resolveOptions(options) {
  const merged = { ...DEFAULT_OPTIONS, ...withoutUndefined(options) };

  if (!isLoopbackAddress(merged.host)) {
    throw new TypeError(
      `The host option must be a loopback IP address such as 127.0.0.1, but it is ${JSON.stringify(merged.host)}. ` +
        'The mock accepts a public demo token, so it must not be reachable from other machines.',
    );
  }
  requireInteger('port', merged.port, 0, 65_535);
  if (typeof merged.token !== 'string' || merged.token === '') {
    throw new TypeError('The token option must be a non-empty string.');
  }
  if (!Array.isArray(merged.workflows) || !merged.workflows.every((id) => typeof id === 'string' && id !== '')) {
    throw new TypeError('The workflows option must be an array of non-empty strings.');
  }
  requireInteger('waitingPeriodMs', merged.waitingPeriodMs, 0, Number.MAX_SAFE_INTEGER);
  requireInteger('maxBodyBytes', merged.maxBodyBytes, 0, Number.MAX_SAFE_INTEGER);
  requireInteger('maxRecordedRequests', merged.maxRecordedRequests, 0, Number.MAX_SAFE_INTEGER);

  return {
    host: merged.host,
    port: merged.port,
    token: merged.token,
    workflows: merged.workflows,
    waitingPeriodMs: merged.waitingPeriodMs,
    maxBodyBytes: merged.maxBodyBytes,
    maxRecordedRequests: merged.maxRecordedRequests,
    apiBasePath: normalizeApiBasePath(merged.apiBasePath),
    staticRoots: normalizeStaticRoots(merged.staticRoots ?? defaultStaticRoots()),
    contentSecurityPolicy: normalizeContentSecurityPolicy(merged.contentSecurityPolicy),
    log: normalizeLog(merged.log),
  };
}

function normalizeContentSecurityPolicy(policy) {
  if (policy === false || (typeof policy === 'string' && policy !== '')) return policy;
  throw new TypeError('The contentSecurityPolicy option must be a non-empty string or false.');
}

function withoutUndefined(object) {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));
}

function isLoopbackAddress(host) {
  return host === '::1' || (typeof host === 'string' && /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host));
}

function requireInteger(name, value, min, max) {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`The ${name} option must be an integer from ${min} to ${max}, but it is ${JSON.stringify(value)}.`);
  }
}

function normalizeApiBasePath(basePath) {
  if (typeof basePath !== 'string' || (basePath !== '' && !basePath.startsWith('/'))) {
    throw new TypeError(`The apiBasePath option must be "" or a path starting with "/", but it is ${JSON.stringify(basePath)}.`);
  }
  return basePath.replace(/\/+$/, '');
}

function defaultStaticRoots() {
  return [
    { prefix: '/', dir: fileURLToPath(new URL('..', import.meta.url)) },
    { prefix: '/pkg/', dir: fileURLToPath(new URL('../../pkg/', import.meta.url)) },
  ];
}

// Sorted longest prefix first, so "/pkg/" wins over "/".
function normalizeStaticRoots(roots) {
  if (!Array.isArray(roots)) {
    throw new TypeError('The staticRoots option must be an array of { prefix, dir } objects.');
  }
  const normalized = roots.map((root, index) => {
    if (typeof root?.prefix !== 'string' || !root.prefix.startsWith('/') || typeof root.dir !== 'string') {
      throw new TypeError(`staticRoots[${index}] must be { prefix, dir } with a prefix starting with "/" and a directory path.`);
    }
    const prefix = root.prefix.endsWith('/') ? root.prefix : `${root.prefix}/`;
    return { prefix, dir: path.resolve(root.dir) };
  });
  return normalized.sort((a, b) => b.prefix.length - a.prefix.length);
}

function normalizeLog(log) {
  if (log === true) return (line) => console.log(line);
  if (typeof log === 'function') return log;
  if (log === false || log === undefined || log === null) return null;
  throw new TypeError('The log option must be a function, true or false.');
}

function formatHostForUrl(host) {
  return host.includes(':') ? `[${host}]` : host;
}

function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(mock, server) {
  for (const timer of mock.timers) clearTimeout(timer);
  mock.timers.clear();

  const closed = new Promise((resolve) => server.close(() => resolve()));
  // Keep-alive connections and hanging scripted responses would keep close() waiting.
  for (const socket of mock.sockets) socket.destroy();
  return closed;
}

// Runs fn after ms unless the server closes first.
function setMockTimer(mock, fn, ms) {
  const timer = setTimeout(() => {
    mock.timers.delete(timer);
    fn();
  }, ms);
  mock.timers.add(timer);
}

// ---------------------------------------------------------------------------
// State

/**
 * Creates the live state of one mock server. Tests in the same process may read
 * and change it directly:
 * - token: the accepted access token.
 * - workflows: Set of known workflow ids.
 * - waitingPeriodMs: length of the waiting period after a workflow run.
 * - requests: recorded API requests, oldest first (at most maxRecordedRequests are
 *   kept): { method, path, headers, body, at, status }, where status is the
 *   response status the mock sent, null until it is sent and for "hang" and "reset".
 * - scriptedResponses: pending scripted responses, in the order they are used.
 * - randomFaults: null, or the fault that POST /__mock/faults turned on.
 * - waitingPeriods: Map from "workflowId\norgRegId" to the end of the waiting period (ms since the epoch).
 */
function createState(config) {
  return {
    token: config.token,
    workflows: new Set(config.workflows),
    waitingPeriodMs: config.waitingPeriodMs,
    requests: [],
    scriptedResponses: [],
    randomFaults: null,
    waitingPeriods: new Map(),
  };
}

function resetState(state) {
  state.requests.length = 0;
  state.scriptedResponses.length = 0;
  state.randomFaults = null;
  state.waitingPeriods.clear();
}

function recordRequest(mock, req, res, bodyText) {
  const { requests } = mock.state;
  const limit = mock.config.maxRecordedRequests;
  if (limit === 0) return;
  if (requests.length >= limit) requests.shift();
  const record = {
    method: req.method,
    path: req.url,
    headers: { ...req.headers },
    body: bodyText,
    at: new Date().toISOString(),
    status: null,
  };
  requests.push(record);
  // The status is noted as the head is written (res.end without writeHead goes
  // through writeHead too), so it is in the record before the client can read it.
  const writeHead = res.writeHead;
  res.writeHead = (status, ...rest) => {
    record.status = status;
    return writeHead.call(res, status, ...rest);
  };
}

// ---------------------------------------------------------------------------
// Request dispatch

async function handleRequest(mock, req, res) {
  const startedAt = Date.now();
  res.on('close', () => logRequest(mock, req, res, startedAt));

  try {
    setCommonHeaders(req, res);
    const pathname = rawPathname(req.url);

    if (req.method === 'OPTIONS') {
      sendPreflight(req, res);
    } else if (pathname === null) {
      sendJson(res, 404, { message: 'Not found.' });
    } else if (pathname.startsWith('/__mock/')) {
      await handleControlRequest(mock, req, res, pathname);
    } else if (isApiPath(mock.config.apiBasePath, pathname)) {
      await handleApiRequest(mock, req, res, pathname);
    } else {
      await handleStaticRequest(mock, req, res, pathname);
    }
  } catch (error) {
    reportInternalError(mock, req, res, error);
  }
}

// The path as sent, still percent-encoded, so that routing and the traversal
// checks see exactly what the client sent.
function rawPathname(url) {
  if (!url.startsWith('/')) return null;
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

function setCommonHeaders(req, res) {
  const origin = req.headers.origin;
  res.setHeader('Access-Control-Allow-Origin', origin ?? '*');
  res.setHeader('Access-Control-Expose-Headers', 'Retry-After');
  if (origin !== undefined) res.setHeader('Vary', 'Origin');
  res.setHeader('Cache-Control', 'no-store');
}

function sendPreflight(req, res) {
  const requestedHeaders = req.headers['access-control-request-headers'];
  res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
  res.setHeader('Access-Control-Allow-Headers', requestedHeaders || DEFAULT_ALLOWED_HEADERS);
  res.setHeader('Access-Control-Max-Age', PREFLIGHT_MAX_AGE_SECONDS);
  res.setHeader('Vary', 'Origin, Access-Control-Request-Headers');
  res.writeHead(204);
  res.end();
  req.resume();
}

function logRequest(mock, req, res, startedAt) {
  if (!mock.config.log) return;
  const status = res.headersSent ? res.statusCode : 'no response';
  const incomplete = res.writableFinished ? '' : ' (connection closed before the response was complete)';
  mock.config.log(`${req.method} ${req.url} ${status} ${Date.now() - startedAt}ms${incomplete}`);
}

function reportInternalError(mock, req, res, error) {
  const line = `Mock server error on ${req.method} ${req.url}: ${error?.stack ?? error}`;
  if (mock.config.log) mock.config.log(line);
  else console.error(line);

  if (!res.headersSent) {
    sendJson(res, 500, { message: `The mock server failed: ${error?.message ?? error}` });
  } else {
    res.destroy();
  }
}

function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendMethodNotAllowed(res, method, allowed, pathname) {
  sendJson(
    res,
    405,
    { message: `The ${method} method is not supported for route ${pathname.slice(1)}. Supported methods: ${allowed}.` },
    { Allow: allowed },
  );
}

function sendRouteNotFound(res, pathname) {
  sendJson(res, 404, { message: `The route ${pathname.slice(1)} could not be found.` });
}

/**
 * Reads the request body. Returns { bytes, tooLarge }, where bytes is empty when
 * the body is larger than maxBytes, or null when the client went away or sent far
 * more than maxBytes (then the connection is destroyed).
 */
function readBody(req, maxBytes) {
  return new Promise((resolve) => {
    const chunks = [];
    let received = 0;

    req.on('data', (chunk) => {
      received += chunk.length;
      if (received <= maxBytes) {
        chunks.push(chunk);
      } else if (received > maxBytes * DRAIN_LIMIT_FACTOR) {
        req.socket.destroy();
        resolve(null);
      }
    });
    req.on('end', () => {
      const tooLarge = received > maxBytes;
      resolve({ bytes: tooLarge ? Buffer.alloc(0) : Buffer.concat(chunks), tooLarge });
    });
    req.on('error', () => resolve(null));
    req.on('close', () => resolve(null));
  });
}

function sendBodyTooLarge(res, maxBytes) {
  sendJson(res, 413, { message: `The request body is larger than the limit of ${maxBytes} bytes.` });
}

// ---------------------------------------------------------------------------
// Workflow API

function isApiPath(apiBasePath, pathname) {
  return pathname === `${apiBasePath}/v1` || pathname.startsWith(`${apiBasePath}/v1/`);
}

/**
 * Returns { kind: "incoming-event" }, { kind: "workflow-runs", workflowId } or
 * null when the path matches no route.
 */
function matchApiRoute(apiBasePath, pathname) {
  const workflowsPrefix = `${apiBasePath}/v1/workflows/`;
  if (!pathname.startsWith(workflowsPrefix)) return null;

  const rest = pathname.slice(workflowsPrefix.length);
  if (rest === ROUTE_INCOMING_EVENT) return { kind: ROUTE_INCOMING_EVENT };

  const segments = rest.split('/');
  if (segments.length !== 2 || segments[1] !== ROUTE_WORKFLOW_RUNS) return null;

  const workflowId = decodePathSegment(segments[0]);
  // The real backend decodes %2F before routing, so an id containing "/" never
  // reaches the workflow-runs route. Empty, "." and ".." ids name no workflow.
  if (workflowId === null || workflowId.includes('/') || ['', '.', '..'].includes(workflowId)) return null;
  return { kind: ROUTE_WORKFLOW_RUNS, workflowId };
}

function decodePathSegment(segment) {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

async function handleApiRequest(mock, req, res, pathname) {
  const { config, state } = mock;
  const body = await readBody(req, config.maxBodyBytes);
  if (body === null) return;
  recordRequest(mock, req, res, body.bytes.toString('utf8'));

  const route = matchApiRoute(config.apiBasePath, pathname);
  if (route === null) return sendRouteNotFound(res, pathname);
  if (req.method !== 'POST') return sendMethodNotAllowed(res, req.method, 'POST', pathname);
  if (body.tooLarge) return sendBodyTooLarge(res, config.maxBodyBytes);

  const scripted = takeScriptedResponse(state, route.kind) ?? drawRandomFault(state, route.kind);
  if (scripted) return playScriptedResponse(mock, req, res, scripted);

  if (!hasValidToken(req, state.token)) return sendJson(res, 401, { message: 'Unauthenticated.' });
  if (route.kind === ROUTE_WORKFLOW_RUNS && !state.workflows.has(route.workflowId)) {
    return sendJson(res, 404, { message: 'Workflow not found.' });
  }
  if (!hasJsonContentType(req)) {
    // NOTE: what the real service does here is not documented. Laravel reads no
    // JSON fields from such a request, so it would most likely respond with 422.
    return sendJson(res, 415, { message: 'The request body must be sent with Content-Type: application/json.' });
  }

  const parsed = parseJsonObject(body.bytes);
  if (parsed.error) return sendJson(res, 400, { message: parsed.error });

  if (route.kind === ROUTE_INCOMING_EVENT) return handleIncomingEvent(res, parsed.value);
  return handleWorkflowRun(state, res, route.workflowId, parsed.value);
}

function hasValidToken(req, token) {
  const match = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
  return match !== null && match[1] === token;
}

function hasJsonContentType(req) {
  const mediaType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  return mediaType === 'application/json' || /^application\/[^/]+\+json$/.test(mediaType);
}

/** Returns { value } for a body that is a UTF-8 JSON object, or { error } with a message. */
function parseJsonObject(bytes) {
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { error: 'The request body is not valid UTF-8.' };
  }
  if (text.trim() === '') return { error: 'The request body is empty; send a JSON object.' };

  let value;
  let hasUnpairedSurrogate = false;
  try {
    value = JSON.parse(text, (key, item) => {
      if (UNPAIRED_SURROGATE.test(key) || (typeof item === 'string' && UNPAIRED_SURROGATE.test(item))) {
        hasUnpairedSurrogate = true;
      }
      return item;
    });
  } catch (error) {
    return { error: `The request body is not valid JSON: ${error.message}` };
  }
  // PHP's json_decode rejects \uD800-style escapes that do not form a pair.
  if (hasUnpairedSurrogate) return { error: 'The request body is not valid JSON: it contains an unpaired UTF-16 surrogate.' };
  if (!isPlainObject(value)) return { error: 'The request body must be a JSON object.' };
  return { value };
}

function isPlainObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function handleIncomingEvent(res, body) {
  const errors = validateIncomingEvent(body);
  if (hasErrors(errors)) return sendValidationErrors(res, errors);

  const event = { id: randomUUID(), organisation_registration_id: body.organisation_registration_id };
  if (Object.hasOwn(body, 'serials')) event.serials = body.serials;
  if (Object.hasOwn(body, 'parameters')) event.parameters = body.parameters;
  event.received_at = new Date().toISOString();

  sendJson(res, 200, { message: 'Event received.', event });
}

function handleWorkflowRun(state, res, workflowId, body) {
  const errors = validateWorkflowRun(body);
  if (hasErrors(errors)) return sendValidationErrors(res, errors);

  const now = Date.now();
  const waitingKey = `${workflowId}\n${body.org_reg_id.toLowerCase()}`;
  const waitingUntil = state.waitingPeriods.get(waitingKey);
  if (waitingUntil !== undefined && now < waitingUntil) {
    return sendJson(res, 423, {
      message: 'The user is in the waiting period after a previous run of this workflow and cannot be triggered again yet.',
    });
  }
  if (state.waitingPeriodMs > 0) state.waitingPeriods.set(waitingKey, now + state.waitingPeriodMs);

  const timestamp = new Date(now).toISOString();
  sendJson(res, 200, {
    data: {
      id: randomUUID(),
      org_reg_id: body.org_reg_id,
      status: 'queued',
      profile: {},
      trigger: 'manual',
      event: { triggered_by: 'api' },
      nodes_processed: null,
      created_at: timestamp,
      updated_at: timestamp,
    },
  });
}

// ---------------------------------------------------------------------------
// Validation, with Laravel's dotted keys and message wording

function validateIncomingEvent(body) {
  const errors = {};
  validateUuidField(errors, body, 'organisation_registration_id');
  if (Object.hasOwn(body, 'serials')) validateSerials(errors, body.serials);
  if (Object.hasOwn(body, 'parameters')) validateParameters(errors, body.parameters);
  return errors;
}

function validateWorkflowRun(body) {
  const errors = {};
  validateUuidField(errors, body, 'org_reg_id');
  return errors;
}

function validateUuidField(errors, body, key) {
  const value = body[key];
  if (!Object.hasOwn(body, key) || isEmptyForLaravel(value)) {
    addError(errors, key, `The ${attributeName(key)} field is required.`);
  } else if (typeof value !== 'string' || !UUID_PATTERN.test(value)) {
    addError(errors, key, `The ${attributeName(key)} field must be a valid UUID.`);
  }
}

// Laravel's required rule rejects null, blank strings and empty arrays. An empty
// JSON object counts as well, because it decodes to an empty PHP array.
function isEmptyForLaravel(value) {
  if (value === null || value === undefined) return true;
  if (typeof value === 'string') return value.trim() === '';
  if (Array.isArray(value)) return value.length === 0;
  return isPlainObject(value) && Object.keys(value).length === 0;
}

function validateSerials(errors, serials) {
  if (!Array.isArray(serials)) {
    addError(errors, 'serials', 'The serials field must be an array.');
    return;
  }
  serials.forEach((serial, index) => {
    const key = `serials.${index}`;
    if (typeof serial !== 'string') {
      addError(errors, key, `The ${key} field must be a string.`);
      return;
    }
    // Counted in code points, as PHP's mb_strlen counts characters.
    const length = [...serial].length;
    if (length === 0) {
      addError(errors, key, `The ${key} field must be at least 1 character.`);
    } else if (length > SERIAL_MAX_CHARACTERS) {
      addError(errors, key, `The ${key} field must not be greater than ${SERIAL_MAX_CHARACTERS} characters.`);
    }
  });
}

function validateParameters(errors, parameters) {
  if (!isPlainObject(parameters)) {
    addError(errors, 'parameters', 'The parameters field must be an object.');
    return;
  }
  for (const [name, value] of Object.entries(parameters)) {
    const key = `parameters.${name}`;
    if (!isScalar(value)) {
      addError(errors, key, `The ${attributeName(key)} field must be a string, number or boolean.`);
    } else if (name === 'source' && typeof value !== 'string') {
      addError(errors, key, 'The parameters.source field must be a string.');
    } else if (name === 'source' && value === '') {
      addError(errors, key, 'The parameters.source field must not be empty.');
    }
  }
}

// PHP's is_scalar: strings, numbers and booleans, not null. JSON.parse turns a
// number too large for a double into Infinity, which is rejected as well.
function isScalar(value) {
  return typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

// Laravel shows "organisation_registration_id" as "organisation registration id".
function attributeName(key) {
  return key.replaceAll('_', ' ');
}

function addError(errors, key, message) {
  (errors[key] ??= []).push(message);
}

function hasErrors(errors) {
  return Object.keys(errors).length > 0;
}

// Laravel's summary: the first message, then "(and N more error[s])".
function summarizeErrors(errors) {
  const messages = Object.values(errors).flat();
  const more = messages.length - 1;
  if (more === 0) return messages[0];
  return `${messages[0]} (and ${more} more ${more === 1 ? 'error' : 'errors'})`;
}

function sendValidationErrors(res, errors) {
  sendJson(res, 422, { message: summarizeErrors(errors), errors });
}

// ---------------------------------------------------------------------------
// Scripted responses
//
// A scripted response record, as posted to /__mock/script (every field optional):
//   status        HTTP status from 200 to 599, default 200
//   headers       { name: value } set on the response. A null value removes a
//                 header the mock would send, such as Access-Control-Allow-Origin.
//   body          A string is sent as-is, as text/plain unless headers set Content-Type.
//                 Any other JSON value is sent as JSON. Default {"message": reason phrase}.
//   delayMs       milliseconds to wait before the fault acts, 0 to 600000, default 0
//   path          "incoming-event" or "workflow-runs": only requests to that route use it
//   fault         how the response is delivered, a key of FAULT_HANDLERS, default "none"
//   trickleBytes  for "trickle": bytes per chunk, default 1
//   trickleMs     for "trickle": milliseconds between chunks, default 50
//   bodyRepeat    the body is sent this many times over, for bodies of megabytes that
//                 the control API's own size limit would reject; default 1
//   chunked       true to send without Content-Length, in chunked transfer encoding
// A new fault type is one more FAULT_HANDLERS entry, plus its fields in parseScriptedResponse.

const FAULT_HANDLERS = {
  // Sends the status, headers and body.
  none: sendScripted,
  // Sends nothing, so the request stays open until the client gives up or close() runs.
  hang: () => {},
  // Closes the connection before sending anything, with a TCP reset where Node
  // has socket.resetAndDestroy (16.17 and 18.3 onwards).
  reset: (mock, res) => resetConnection(res.socket),
  // Sends the status and headers, then resets the connection before any body.
  'reset-after-headers': (mock, res, scripted) => {
    writeScriptedHead(res, scripted);
    res.flushHeaders();
    setMockTimer(mock, () => resetConnection(res.socket), 10);
  },
  // Announces the full Content-Length, sends half of the body, then closes the connection.
  truncate: sendTruncated,
  // Sends the headers, then the body in small chunks with pauses between them.
  trickle: sendTrickled,
};

function parseScriptedResponse(entry, index) {
  const where = `responses[${index}]`;
  if (!isPlainObject(entry)) return { error: `${where} must be an object.` };

  const {
    status = 200,
    headers = {},
    delayMs = 0,
    path: route,
    fault = 'none',
    trickleBytes = 1,
    trickleMs = 50,
    bodyRepeat = 1,
    chunked = false,
  } = entry;
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    return { error: `${where}.status must be an integer from 200 to 599.` };
  }
  const headersError = checkScriptedHeaders(headers, where);
  if (headersError) return { error: headersError };
  if (!isDelay(delayMs)) return { error: `${where}.delayMs must be a number from 0 to ${MAX_DELAY_MS}.` };
  if (route !== undefined && route !== ROUTE_INCOMING_EVENT && route !== ROUTE_WORKFLOW_RUNS) {
    return { error: `${where}.path must be "${ROUTE_INCOMING_EVENT}" or "${ROUTE_WORKFLOW_RUNS}".` };
  }
  if (!Object.hasOwn(FAULT_HANDLERS, fault)) {
    return { error: `${where}.fault must be one of ${Object.keys(FAULT_HANDLERS).join(', ')}.` };
  }
  if (!Number.isInteger(trickleBytes) || trickleBytes < 1) return { error: `${where}.trickleBytes must be a positive integer.` };
  if (!isDelay(trickleMs)) return { error: `${where}.trickleMs must be a number from 0 to ${MAX_DELAY_MS}.` };
  if (!Number.isInteger(bodyRepeat) || bodyRepeat < 1) return { error: `${where}.bodyRepeat must be a positive integer.` };
  if (typeof chunked !== 'boolean') return { error: `${where}.chunked must be a boolean.` };
  const encoded = encodeScriptedBody(entry, status);
  if (encoded.body.length * bodyRepeat > MAX_SCRIPTED_BODY_BYTES) {
    return { error: `${where}: the body times bodyRepeat must be at most ${MAX_SCRIPTED_BODY_BYTES} bytes.` };
  }

  return {
    value: {
      status,
      headers,
      body: bodyRepeat === 1 ? encoded.body : Buffer.alloc(encoded.body.length * bodyRepeat, encoded.body),
      contentType: encoded.contentType,
      chunked,
      delayMs,
      path: route ?? null,
      fault,
      trickleBytes,
      trickleMs,
    },
  };
}

function checkScriptedHeaders(headers, where) {
  if (!isPlainObject(headers)) return `${where}.headers must be an object of header names and string values.`;
  for (const [name, value] of Object.entries(headers)) {
    if (value === null) continue;
    if (typeof value !== 'string') return `${where}.headers.${name} must be a string or null.`;
    try {
      http.validateHeaderName(name);
      http.validateHeaderValue(name, value);
    } catch (error) {
      return `${where}.headers.${name} is not a valid HTTP header: ${error.message}`;
    }
  }
  return null;
}

function isDelay(value) {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_DELAY_MS;
}

function encodeScriptedBody(entry, status) {
  if (!Object.hasOwn(entry, 'body')) {
    const message = http.STATUS_CODES[status] ?? 'Unknown';
    return { body: Buffer.from(JSON.stringify({ message })), contentType: 'application/json' };
  }
  if (typeof entry.body === 'string') {
    return { body: Buffer.from(entry.body), contentType: 'text/plain; charset=utf-8' };
  }
  return { body: Buffer.from(JSON.stringify(entry.body)), contentType: 'application/json' };
}

/** Removes and returns the first pending scripted response for this route, or null. */
function takeScriptedResponse(state, routeKind) {
  const index = state.scriptedResponses.findIndex((response) => response.path === null || response.path === routeKind);
  if (index === -1) return null;
  return state.scriptedResponses.splice(index, 1)[0];
}

function playScriptedResponse(mock, req, res, scripted) {
  const play = () => {
    if (res.destroyed) return;
    FAULT_HANDLERS[scripted.fault](mock, res, scripted);
  };
  if (scripted.delayMs > 0) setMockTimer(mock, play, scripted.delayMs);
  else play();
}

function writeScriptedHead(res, scripted) {
  res.setHeader('Content-Type', scripted.contentType);
  if (!scripted.chunked) res.setHeader('Content-Length', scripted.body.length);
  for (const [name, value] of Object.entries(scripted.headers)) {
    if (value === null) res.removeHeader(name);
    else res.setHeader(name, value);
  }
  res.writeHead(scripted.status);
}

function sendScripted(mock, res, scripted) {
  writeScriptedHead(res, scripted);
  res.end(scripted.body);
}

function resetConnection(socket) {
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

function sendTruncated(mock, res, scripted) {
  writeScriptedHead(res, scripted);
  res.flushHeaders();
  const half = scripted.body.subarray(0, Math.floor(scripted.body.length / 2));
  res.write(half, () => res.socket?.destroy());
}

function sendTrickled(mock, res, scripted) {
  writeScriptedHead(res, scripted);
  const { body, trickleBytes, trickleMs } = scripted;
  let offset = 0;

  const sendNextChunk = () => {
    if (res.destroyed) return;
    const chunk = body.subarray(offset, offset + trickleBytes);
    offset += chunk.length;
    if (offset >= body.length) {
      res.end(chunk);
    } else {
      res.write(chunk);
      setMockTimer(mock, sendNextChunk, trickleMs);
    }
  };
  sendNextChunk();
}

// ---------------------------------------------------------------------------
// Random faults
//
// POST /__mock/faults turns on one fault that hits each API request with a
// probability, for soak tests: {"rate": 0.1, "seed": 1, "status": 503,
// "headers": {"Retry-After": "0"}}.
//   rate  probability from 0 to 1 that a request gets the fault; 0 turns it off
//   seed  integer from 0 to 4294967295 for the generator, default 1, so that the
//         same sequence of requests gets the same faults on every run
//   every other field is a field of a scripted response, above (status, headers,
//   body, delayMs, path, fault and so on), and says what the fault sends
// A request takes a queued scripted response first; only a request without one
// draws from the generator, before authentication and validation.

function parseRandomFaults(value) {
  const { rate, seed = 1, ...response } = value;
  if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) return { error: 'rate must be a number from 0 to 1.' };
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) {
    return { error: 'seed must be an integer from 0 to 4294967295.' };
  }
  if (rate === 0) return { value: null };
  const parsed = parseScriptedResponse(response, 0);
  if (parsed.error) return { error: parsed.error.replace('responses[0]', 'the fault') };
  return { value: { rate, seed, response: parsed.value, random: seededRandom(seed) } };
}

/** Returns the random fault for this request, or null when it has none. */
function drawRandomFault(state, routeKind) {
  const faults = state.randomFaults;
  if (faults === null) return null;
  const { response } = faults;
  if (response.path !== null && response.path !== routeKind) return null;
  return faults.random() < faults.rate ? response : null;
}

// A 32-bit xorshift generator: fast, small and repeatable, which is all a fault
// schedule needs. The seed is first XORed with one constant and multiplied by
// an odd one, so that neighbouring seeds start from states that differ in many
// bits. A state of 0, which xorshift never leaves, becomes 1.
function seededRandom(seed) {
  let x = Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

// ---------------------------------------------------------------------------
// Control API under /__mock/ (no token needed)

const CONTROL_ROUTES = {
  '/__mock/requests': { method: 'GET', handle: sendRecordedRequests },
  '/__mock/script': { method: 'POST', handle: appendScriptedResponses },
  '/__mock/faults': { method: 'POST', handle: setRandomFaults },
  '/__mock/reset': { method: 'POST', handle: resetMock },
};

async function handleControlRequest(mock, req, res, pathname) {
  const body = await readBody(req, mock.config.maxBodyBytes);
  if (body === null) return;

  const route = CONTROL_ROUTES[pathname];
  if (route === undefined) return sendRouteNotFound(res, pathname);
  if (req.method !== route.method) return sendMethodNotAllowed(res, req.method, route.method, pathname);
  if (body.tooLarge) return sendBodyTooLarge(res, mock.config.maxBodyBytes);
  return route.handle(mock, res, body.bytes);
}

function sendRecordedRequests(mock, res) {
  sendJson(res, 200, { requests: mock.state.requests });
}

function resetMock(mock, res) {
  resetState(mock.state);
  sendJson(res, 200, { message: 'Mock state reset.' });
}

function appendScriptedResponses(mock, res, bytes) {
  const parsed = parseJsonObject(bytes);
  if (parsed.error) return sendJson(res, 400, { message: parsed.error });

  const { responses } = parsed.value;
  if (!Array.isArray(responses)) {
    return sendJson(res, 400, { message: 'The body must be {"responses": [...]}, an array of scripted responses.' });
  }
  const pending = mock.state.scriptedResponses;
  if (pending.length + responses.length > MAX_SCRIPTED_RESPONSES) {
    return sendJson(res, 400, { message: `At most ${MAX_SCRIPTED_RESPONSES} scripted responses may be pending.` });
  }

  const records = [];
  for (const [index, entry] of responses.entries()) {
    const record = parseScriptedResponse(entry, index);
    if (record.error) return sendJson(res, 400, { message: record.error });
    records.push(record.value);
  }
  pending.push(...records);
  sendJson(res, 200, { queued: pending.length });
}

function setRandomFaults(mock, res, bytes) {
  const parsed = parseJsonObject(bytes);
  const faults = parsed.error ? parsed : parseRandomFaults(parsed.value);
  if (faults.error) return sendJson(res, 400, { message: faults.error });

  mock.state.randomFaults = faults.value;
  sendJson(res, 200, faults.value === null ? { rate: 0 } : { rate: faults.value.rate, seed: faults.value.seed });
}

// ---------------------------------------------------------------------------
// Static files

async function handleStaticRequest(mock, req, res, pathname) {
  const found = await resolveStaticFile(mock.config.staticRoots, pathname);
  req.resume();

  if (found === null) return sendJson(res, 404, { message: 'Not found.' });
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return sendMethodNotAllowed(res, req.method, 'GET, HEAD', pathname);
  }
  if (found.redirect) {
    res.writeHead(301, { Location: found.redirect, 'Content-Length': 0 });
    return res.end();
  }

  const content = await fs.readFile(found.file);
  const extension = path.extname(found.file).toLowerCase();
  const headers = {
    'Content-Type': CONTENT_TYPES[extension] ?? 'application/octet-stream',
    'Content-Length': content.length,
    'X-Content-Type-Options': 'nosniff',
  };
  if (extension === '.html' && mock.config.contentSecurityPolicy) {
    headers['Content-Security-Policy'] = mock.config.contentSecurityPolicy;
  }
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : content);
}

/**
 * Maps a raw request path to { file } inside one static root, { redirect } for a
 * directory named without its trailing slash, or null. Only the root with the
 * longest matching prefix is searched.
 */
async function resolveStaticFile(roots, pathname) {
  const root = roots.find((candidate) => pathname.startsWith(candidate.prefix) || `${pathname}/` === candidate.prefix);
  if (root === undefined) return null;
  if (`${pathname}/` === root.prefix) return { redirect: root.prefix };

  const segments = decodeStaticSegments(pathname.slice(root.prefix.length));
  if (segments === null) return null;

  let file = path.join(root.dir, ...segments);
  let stats = await statOrNull(file);
  if (stats?.isDirectory()) {
    if (!pathname.endsWith('/')) return { redirect: `${pathname}/` };
    file = path.join(file, 'index.html');
    stats = await statOrNull(file);
  }
  if (!stats?.isFile()) return null;
  return (await isInsideDirectory(file, root.dir)) ? { file } : null;
}

// Rejects any segment that decodes to "." or "..", or that hides a separator or
// NUL, so no encoding of a parent reference can leave the root.
function decodeStaticSegments(relativePath) {
  const segments = [];
  for (const raw of relativePath.split('/')) {
    const segment = decodePathSegment(raw);
    if (segment === null || segment === '.' || segment === '..' || /[/\\\0]/.test(segment)) return null;
    if (segment !== '') segments.push(segment);
  }
  return segments;
}

async function statOrNull(file) {
  try {
    return await fs.stat(file);
  } catch {
    return null;
  }
}

// Compares real paths, so a symbolic link cannot lead out of the root either.
async function isInsideDirectory(file, dir) {
  try {
    const [realFile, realDir] = await Promise.all([fs.realpath(file), fs.realpath(dir)]);
    return realFile.startsWith(realDir.endsWith(path.sep) ? realDir : `${realDir}${path.sep}`);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// Command line

const USAGE = `Usage: node www/mock/server.mjs [options]

Runs the mock Stampede Workflows API until SIGINT or SIGTERM, and logs one line per request.

Options:
  --port N               TCP port to listen on; 0 picks a free port (default 0)
  --host ADDRESS         loopback IP address to listen on (default 127.0.0.1)
  --token TOKEN          access token accepted as "Authorization: Bearer TOKEN" (default demo-token)
  --waiting-period-ms N  waiting period after a workflow run, in milliseconds (default 60000)
  --help                 print this help`;

const CLI_OPTIONS = {
  '--port': { name: 'port', parse: parseCliInteger },
  '--host': { name: 'host', parse: (value) => value },
  '--token': { name: 'token', parse: (value) => value },
  '--waiting-period-ms': { name: 'waitingPeriodMs', parse: parseCliInteger },
};

function parseCliInteger(value, flag) {
  if (!/^\d+$/.test(value)) throw new TypeError(`${flag} must be a non-negative integer, but it is ${JSON.stringify(value)}.`);
  return Number(value);
}

/** Returns the startMockServer options for the arguments, or null when --help was given. */
function parseCliArguments(args) {
  const options = { log: (line) => console.log(line) };
  for (let index = 0; index < args.length; index += 1) {
    const argument = args[index];
    if (argument === '--help' || argument === '-h') return null;

    const [flag, inlineValue] = argument.split(/=(.*)/s, 2);
    const spec = CLI_OPTIONS[flag];
    if (spec === undefined) throw new TypeError(`Unknown argument ${JSON.stringify(argument)}; run with --help for the options.`);

    let value = inlineValue;
    if (value === undefined) {
      index += 1;
      value = args[index];
    }
    if (value === undefined) throw new TypeError(`${flag} needs a value.`);
    options[spec.name] = spec.parse(value, flag);
  }
  return options;
}

async function runCli(args) {
  let options;
  try {
    options = parseCliArguments(args);
  } catch (error) {
    console.error(error.message);
    process.exitCode = 2;
    return;
  }
  if (options === null) {
    console.log(USAGE);
    return;
  }

  let mock;
  try {
    mock = await startMockServer(options);
  } catch (error) {
    console.error(`Mock Stampede API failed to start: ${error.message}`);
    process.exitCode = 1;
    return;
  }
  console.log(`Mock Stampede API listening on ${mock.url}`);
  console.log(`Demo page: ${mock.url} (access token ${JSON.stringify(mock.state.token)})`);

  const stop = async (signal) => {
    await mock.close();
    console.log(`Mock Stampede API stopped (${signal}).`);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

function isMainModule() {
  if (process.argv[1] === undefined) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMainModule()) {
  await runCli(process.argv.slice(2));
}
