// End-to-end test of the demo page in www/. It starts the mock Stampede API on
// 127.0.0.1, which also serves the page and pkg/, drives the page in headless
// Chromium through playwright-core, and checks what the mock received. The mock
// serves the page with a strict Content-Security-Policy, so a blocked inline
// script or style shows up as a console error.

import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import { launchChromium } from '../support.mjs';

import { startDemo } from '../../scripts/lib/demo.mjs';
import { startMockServer } from '../../www/mock/server.mjs';

const TOKEN = 'demo-token';
const ORG_ID = 'a1b2c3d4-e5f6-7890-abcd-ef1234567890';
const CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'";
// Upper bound of every single Playwright wait and control request, in milliseconds.
const WAIT_MS = 5_000;
// How long the page gets to send a request that it must not send, in milliseconds.
const QUIET_PERIOD_MS = 500;
const TEST_OPTIONS = { timeout: 30_000 };

let mock;
let browser;
let context;
let page;
let consoleErrors;
let screenshotDir;

// ---------------------------------------------------------------------------
// Helpers

async function controlRequest(route, method = 'GET') {
  const response = await fetch(new URL(`__mock/${route}`, mock.url), { method, signal: AbortSignal.timeout(WAIT_MS) });
  assert.equal(response.status, 200, `${method} /__mock/${route} failed with status ${response.status}`);
  return response.json();
}

async function recordedRequests() {
  const { requests } = await controlRequest('requests');
  return requests;
}

function collectConsoleErrors(target) {
  const errors = [];
  target.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  target.on('pageerror', (error) => errors.push(`Uncaught exception: ${error.message}`));
  return errors;
}

// Chromium logs every fetch that gets a non-2xx status as a console error, and
// no page code can suppress that, so a test that expects such a status names it.
function assertNoConsoleErrors({ expectedStatuses = [] } = {}) {
  const unexpected = consoleErrors.filter((text) => {
    const match = /^Failed to load resource: the server responded with a status of (\d{3})/.exec(text);
    return match === null || !expectedStatuses.includes(Number(match[1]));
  });
  assert.deepEqual(unexpected, [], 'the page logged console errors');
}

function sendEventButton() {
  return page.getByRole('button', { name: 'Send event', exact: true });
}

function storeRunButton() {
  return page.getByRole('button', { name: 'Store run', exact: true });
}

function eventOrgIdInput() {
  return page.getByLabel('Organisation registration id', { exact: true });
}

/** Waits for a request preview, which the page records asynchronously, and returns its text. */
async function previewText(previewSelector) {
  await page.waitForFunction(
    (selector) => document.querySelector(selector).textContent.startsWith('POST '),
    previewSelector,
    { timeout: 5000 },
  );
  return page.locator(previewSelector).textContent();
}

/** Returns the JSON body shown under the blank line of a request preview. */
async function previewBody(previewSelector) {
  const text = await previewText(previewSelector);
  return JSON.parse(text.slice(text.indexOf('\n\n') + 2));
}

async function fillIncomingEvent() {
  await eventOrgIdInput().fill(ORG_ID);
  await page.getByLabel('Serial 1', { exact: true }).fill('VENUE-0001');
  await page.getByRole('button', { name: 'Add serial' }).click();
  await page.getByLabel('Serial 2', { exact: true }).fill('VENUE-0002');

  await page.getByRole('button', { name: 'Add parameter' }).click();
  await page.getByLabel('Parameter 2 key', { exact: true }).fill('visits');
  await page.getByLabel('Parameter 2 type', { exact: true }).selectOption('number');
  await page.getByLabel('Parameter 2 value', { exact: true }).fill('3');

  await page.getByRole('button', { name: 'Add parameter' }).click();
  await page.getByLabel('Parameter 3 key', { exact: true }).fill('vip');
  await page.getByLabel('Parameter 3 type', { exact: true }).selectOption('boolean');
  await page.getByLabel('Parameter 3 value', { exact: true }).selectOption('false');
}

const EXPECTED_EVENT_BODY = {
  organisation_registration_id: ORG_ID,
  serials: ['VENUE-0001', 'VENUE-0002'],
  parameters: { source: 'demo_page', visits: 3, vip: false },
};

async function storeRunAndWait(outcomeClass) {
  await storeRunButton().click();
  await page.locator(`#run-result .outcome.${outcomeClass}`).waitFor();
}

// ---------------------------------------------------------------------------
// Set-up

before(async () => {
  mock = await startMockServer({ port: 0 });
  browser = await launchChromium();
  screenshotDir = await fs.mkdtemp(path.join(os.tmpdir(), 'stampede-demo-'));
});

after(async () => {
  await browser?.close();
});

after(async () => {
  await mock?.close();
});

beforeEach(async () => {
  await controlRequest('reset', 'POST');
  context = await browser.newContext();
  page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  consoleErrors = collectConsoleErrors(page);

  const response = await page.goto(mock.url, { timeout: WAIT_MS });
  assert.equal(response.headers()['content-security-policy'], CONTENT_SECURITY_POLICY);
  // The status line hides once the package's import has resolved. Waiting for
  // the network to go quiet also lets a late failure, such as a missing icon, log its error.
  await page.locator('#load-status').waitFor({ state: 'hidden' });
  await page.waitForLoadState('networkidle', { timeout: WAIT_MS });
});

afterEach(async () => {
  await context?.close();
});

// ---------------------------------------------------------------------------
// Tests

describe('demo page', () => {
  it('sends an incoming event to the mock', TEST_OPTIONS, async (t) => {
    await fillIncomingEvent();

    const preview = await previewText('#event-preview');
    assert.match(preview, new RegExp(`^POST ${mock.url}v1/workflows/incoming-event\n`));
    assert.match(preview, /\nauthorization: Bearer ••••\n/);
    assert.ok(!preview.includes(TOKEN), 'the preview shows the token');
    assert.deepEqual(await previewBody('#event-preview'), EXPECTED_EVENT_BODY);

    await sendEventButton().click();
    await page.locator('#event-result .outcome.success').waitFor();
    const response = JSON.parse(await page.locator('#event-result .json').textContent());
    assert.equal(response.message, 'Event received.');
    assert.deepEqual(response.event.serials, EXPECTED_EVENT_BODY.serials);

    const requests = await recordedRequests();
    assert.equal(requests.length, 1);
    assert.equal(requests[0].method, 'POST');
    assert.equal(requests[0].path, '/v1/workflows/incoming-event');
    assert.equal(requests[0].headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(requests[0].headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(requests[0].body), EXPECTED_EVENT_BODY);

    const screenshot = path.join(screenshotDir, 'demo-after-send.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    t.diagnostic(`screenshot: ${screenshot}`);
    assertNoConsoleErrors();
  });

  it('shows a too long serial next to its field', TEST_OPTIONS, async () => {
    await eventOrgIdInput().fill(ORG_ID);
    const serial = page.getByLabel('Serial 1', { exact: true });
    await serial.fill('ABCDEFGHIJKLM');

    const error = page.locator('#serial-rows li').first().locator('.field-error');
    await error.waitFor();
    assert.match(await error.textContent(), /^Serial 1 must not be greater than 12 characters\.$/);
    assert.equal(await serial.getAttribute('aria-invalid'), 'true');
    assert.equal(await sendEventButton().isDisabled(), true);
    // The line under the button names the row as the field does, not by its dotted key.
    assert.equal(await page.locator('#event-readiness').textContent(), 'Not ready to send: Serial 1 must not be greater than 12 characters.');

    // Enter would submit the form if the page let an invalid event through.
    await serial.press('Enter');
    await delay(QUIET_PERIOD_MS);
    assert.deepEqual(await recordedRequests(), []);

    await serial.fill('ABCDEFGHIJKL');
    await error.waitFor({ state: 'hidden' });
    assert.equal(await sendEventButton().isEnabled(), true);
    assertNoConsoleErrors();
  });

  it('names a serial by its row after an empty row', TEST_OPTIONS, async () => {
    await eventOrgIdInput().fill(ORG_ID);
    await page.getByLabel('Serial 1', { exact: true }).fill('VENUE-0001');
    await page.getByRole('button', { name: 'Add serial' }).click();
    await page.getByRole('button', { name: 'Add serial' }).click();
    await page.getByLabel('Serial 3', { exact: true }).fill('ABCDEFGHIJKLM');

    const error = page.locator('#serial-rows li').nth(2).locator('.field-error');
    await error.waitFor();
    assert.match(await error.textContent(), /^Serial 3 must not be greater than 12 characters\.$/);
    assertNoConsoleErrors();
  });

  it('stores a workflow run, then gets locked', TEST_OPTIONS, async () => {
    await page.getByLabel('Workflow id').fill('welcome-journey');
    await page.getByLabel(/^Organisation registration id \(org_reg_id\)/).fill(ORG_ID);
    assert.match(await previewText('#run-preview'), new RegExp(`^POST ${mock.url}v1/workflows/welcome-journey/workflow-runs\n`));

    await storeRunAndWait('success');
    const response = JSON.parse(await page.locator('#run-result .json').textContent());
    assert.equal(response.data.org_reg_id, ORG_ID);
    assert.equal(response.data.status, 'queued');

    await storeRunAndWait('failure');
    const details = page.locator('#run-result .details');
    assert.equal(await details.locator('dt:text-is("Kind") + dd').textContent(), 'locked');
    assert.equal(await details.locator('dt:text-is("Status") + dd').textContent(), '423');
    assert.equal(await details.locator('dt:text-is("Attempts") + dd').textContent(), '1');
    assert.match(await details.locator('dt:text-is("Message") + dd').textContent(), /423/);

    const requests = await recordedRequests();
    assert.equal(requests.length, 2);
    for (const request of requests) {
      assert.equal(request.path, '/v1/workflows/welcome-journey/workflow-runs');
      assert.deepEqual(JSON.parse(request.body), { org_reg_id: ORG_ID });
    }
    assertNoConsoleErrors({ expectedStatuses: [423] });
  });

  it('shows an invalid base URL in settings', TEST_OPTIONS, async () => {
    await eventOrgIdInput().fill(ORG_ID);
    assert.equal(await sendEventButton().isEnabled(), true);

    await page.getByLabel('Base URL').fill('ftp://127.0.0.1/');
    const error = page.locator('#base-url-error');
    await error.waitFor();
    assert.match(await error.textContent(), /http or https/);
    assert.equal(await sendEventButton().isDisabled(), true);
    assert.equal(await storeRunButton().isDisabled(), true);
    assert.deepEqual(await recordedRequests(), []);
    assertNoConsoleErrors();
  });

  it('keeps the token out of text and storage', TEST_OPTIONS, async () => {
    await fillIncomingEvent();
    await sendEventButton().click();
    await page.locator('#event-result .outcome.success').waitFor();

    const exposure = await page.evaluate(() => ({
      text: document.body.innerText,
      html: document.documentElement.outerHTML,
      url: window.location.href,
      cookies: document.cookie,
      localStorage: JSON.stringify({ ...window.localStorage }),
      sessionStorage: JSON.stringify({ ...window.sessionStorage }),
    }));
    for (const [place, content] of Object.entries(exposure)) {
      assert.ok(!content.includes(TOKEN), `the token appears in ${place}`);
    }
    assert.equal(await page.getByLabel('Access token').inputValue(), TOKEN);
    assert.equal(await page.getByLabel('Access token').getAttribute('type'), 'password');
    assertNoConsoleErrors();
  });
});

// The page in relay mode, served as scripts/demo serves it: the mock and the
// relay of examples/relay/ on two ports, the relay keeping the token.
describe('demo page in relay mode', () => {
  let demo;

  before(async () => {
    demo = await startDemo({ port: 0, relayPort: 0 });
  });

  after(async () => {
    await demo?.close();
  });

  it('sends an event through the relay with no token in the page', TEST_OPTIONS, async () => {
    const requestsToRelay = [];
    page.on('request', (request) => {
      if (request.url().startsWith(demo.relayUrl)) requestsToRelay.push(request);
    });
    const response = await page.goto(demo.pageUrl, { timeout: WAIT_MS });
    assert.match(response.headers()['content-security-policy'], /connect-src 'self' http:\/\/127\.0\.0\.1:\d+/);
    await page.locator('#load-status').waitFor({ state: 'hidden' });

    await page.getByLabel('Through a relay, with no token in the page').check();
    const token = page.getByLabel('Access token');
    assert.equal(await token.isHidden(), true, 'the token field is still shown');
    assert.equal(await page.locator('#access-token').inputValue(), '', 'the token field is not empty');
    assert.equal(await page.getByLabel('Base URL').inputValue(), demo.relayUrl);

    await fillIncomingEvent();
    const preview = await previewText('#event-preview');
    assert.match(preview, new RegExp(`^POST ${demo.relayUrl}v1/workflows/incoming-event\n`));
    assert.doesNotMatch(preview, /authorization/i);

    await sendEventButton().click();
    await page.locator('#event-result .outcome.success').waitFor();
    const result = JSON.parse(await page.locator('#event-result .json').textContent());
    assert.equal(result.message, 'Event received.');

    // The relay added the token; the page's own request carried none.
    const received = demo.mock.state.requests;
    assert.equal(received.length, 1);
    assert.equal(received[0].path, '/v1/workflows/incoming-event');
    assert.equal(received[0].headers.authorization, `Bearer ${TOKEN}`);
    assert.deepEqual(JSON.parse(received[0].body), EXPECTED_EVENT_BODY);
    const posts = requestsToRelay.filter((request) => request.method() === 'POST');
    assert.equal(posts.length, 1);
    assert.equal((await posts[0].allHeaders()).authorization, undefined);
    const html = await page.evaluate(() => document.documentElement.outerHTML + document.body.innerText);
    assert.ok(!html.includes(TOKEN), 'the token appears in the page');

    // Back to direct mode: the demo token and the mock's origin return.
    await page.getByLabel('Directly to the mock, with the demo token').check();
    assert.equal(await token.isVisible(), true);
    assert.equal(await token.inputValue(), TOKEN);
    assert.equal(await page.getByLabel('Base URL').inputValue(), new URL(demo.mockUrl).origin);
    assertNoConsoleErrors();
  });
});
