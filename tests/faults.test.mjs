// Fault suite for the built package (pkg/node.js) against every scripted
// fault of the mock. Each test asserts the outcome the README documents: the
// error kind and status, the attempts (as the error counts them and as the
// mock received them) and how long the call waited. Then the next call on the
// same StampedeClient must succeed. Every call must settle, and no error may
// show the access token.
//
// Times are measured twice: around the whole call with performance.now(), and
// on the wire through undici's diagnostics channels (the fetch of Node), which
// mark when each request starts and when its response ends, so the sleep
// between two attempts is measured without the mock's own transit time.
import assert from "node:assert/strict";
import diagnosticsChannel from "node:diagnostics_channel";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { inspect } from "node:util";

import { startMockServer } from "../www/mock/server.mjs";
import { StampedeClient, StampedeError } from "../pkg/node.js";

// Long and unusual, so that finding it anywhere in an error means a leak.
const TOKEN = "fault-suite-token-6d1f0c9a2b7e";
const ORG = "a1b2c3d4-e5f6-7890-abcd-ef1234567890";
const EVENT = { organisation_registration_id: ORG, serials: ["VENUE0000001"], parameters: { source: "pos" } };
const MAX_RESPONSE_BYTES = 1024 * 1024;
const EXCERPT_CHARS = 500;
const RETRY_AFTER_CAP_MS = 30_000;

// Node timers count whole milliseconds, so a timer can fire up to about a
// millisecond before performance.now() reports its delay as over.
const EARLY_MS = 2;
// Allowance above a documented upper bound for scheduling and loopback
// transit, because scripts/test runs two suites at a time on machines that may be busy.
const LATE_MS = 200;
// "At once": a call that must not wait for anything settles within this.
const PROMPT_MS = 500;
// How long to watch the mock after an abort for a request that should not come.
const QUIET_MS = 500;
// Every call of the suite must settle within this, or the test fails.
const SETTLE_LIMIT_MS = 5_000;

const KINDS = new Set([
  "validation", "bad_request", "unauthorized", "forbidden", "not_found", "unprocessable", "locked",
  "rate_limited", "server", "http", "network", "timeout", "aborted", "invalid_response",
]);

let mock;
/** The mock's log lines since the last reset, each with the time it was written. */
let mockLog = [];
/** Every StampedeError the suite saw, checked once more at the end. */
const errorsSeen = [];
/** Calls started and not yet settled. */
const pending = new Set();

// ---------------------------------------------------------------------------
// The wire: one record per API request that fetch starts, in order.

let wire = [];
const wireByRequest = new WeakMap();
const wireListeners = {
  "undici:request:create": ({ request }) => {
    if (!isApiRequest(request)) return;
    const record = { start: performance.now(), end: undefined, outcome: undefined };
    wire.push(record);
    wireByRequest.set(request, record);
  },
  "undici:request:trailers": ({ request }) => endWireRecord(request, "complete"),
  "undici:request:error": ({ request }) => endWireRecord(request, "error"),
};

function isApiRequest(request) {
  return mock !== undefined && request.origin === new URL(mock.url).origin && request.path.startsWith("/v1/");
}

function endWireRecord(request, outcome) {
  const record = wireByRequest.get(request);
  if (record !== undefined && record.end === undefined) {
    record.end = performance.now();
    record.outcome = outcome;
    for (const waiter of wireWaiters) waiter();
  }
}

let wireWaiters = new Set();

/** Resolves once the response of attempt `n` (from 1) has ended, or rejects after SETTLE_LIMIT_MS. */
function attemptEnded(n) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      wireWaiters.delete(check);
      reject(new Error(`attempt ${n} did not end within ${SETTLE_LIMIT_MS} ms`));
    }, SETTLE_LIMIT_MS);
    const check = () => {
      if (wire.length < n || wire[n - 1].end === undefined) return;
      clearTimeout(timer);
      wireWaiters.delete(check);
      resolve();
    };
    wireWaiters.add(check);
    check();
  });
}

/** Milliseconds from the end of each attempt's response to the start of the next request. */
function wireGaps() {
  return wire.slice(1).map((record, index) => record.start - wire[index].end);
}

// ---------------------------------------------------------------------------
// Setup

before(async () => {
  // maxBodyBytes is raised so that scripts can carry bodies of about 1 MiB.
  mock = await startMockServer({
    port: 0,
    token: TOKEN,
    maxBodyBytes: 8 * 1024 * 1024,
    log: (line) => mockLog.push({ at: performance.now(), line }),
  });
  for (const [name, listener] of Object.entries(wireListeners)) diagnosticsChannel.subscribe(name, listener);
  // One call first, so that compiling and connecting do not count in the first test's times.
  await newClient().sendIncomingEvent(EVENT);
});

after(async () => {
  for (const [name, listener] of Object.entries(wireListeners)) diagnosticsChannel.unsubscribe(name, listener);
  await mock.close();
});

beforeEach(async () => {
  await control("reset");
  mockLog = [];
  wire = [];
  wireWaiters = new Set();
});

afterEach(() => {
  const unsettled = pending.size;
  // Cleared, so that one call that never settles fails its own test only.
  pending.clear();
  assert.equal(unsettled, 0, `${unsettled} call(s) of this test never settled`);
});

// ---------------------------------------------------------------------------
// Helpers

async function control(name, body) {
  const init = body === undefined ? { method: "POST" } : { method: "POST", body: JSON.stringify(body) };
  const response = await fetch(new URL(`__mock/${name}`, mock.url), init);
  const text = await response.text();
  assert.equal(response.status, 200, `mock control ${name} failed: ${text}`);
}

async function script(...responses) {
  await control("script", { responses });
}

/** Requests the mock received since the last reset. */
function received() {
  return mock.state.requests.length;
}

function newClient(options = {}) {
  return new StampedeClient({ baseUrl: mock.url, accessToken: TOKEN, timeoutMs: 2_000, ...options });
}

/**
 * Starts a call and waits until it settles, failing the test when it is still
 * pending after `limitMs`. Returns { value } or { error }, with `ms`, the time
 * from the start of the call until it settled.
 */
async function settle(start, limitMs = SETTLE_LIMIT_MS) {
  const startedAt = performance.now();
  const promise = start();
  pending.add(promise);
  const settled = promise.then(
    (value) => ({ value, ms: performance.now() - startedAt }),
    (error) => ({ error, ms: performance.now() - startedAt }),
  );
  settled.then(() => pending.delete(promise));

  let timer;
  const stillPending = new Promise((resolve) => {
    timer = setTimeout(resolve, limitMs, null);
  });
  const result = await Promise.race([settled, stillPending]);
  clearTimeout(timer);
  if (result === null) assert.fail(`the call was still pending after ${limitMs} ms`);
  if ("error" in result) checkError(result.error);
  return result;
}

async function rejects(start, limitMs) {
  const result = await settle(start, limitMs);
  if (!("error" in result)) assert.fail(`expected a rejection, but the call resolved to ${JSON.stringify(result.value)}`);
  return result;
}

async function resolves(start, limitMs) {
  const result = await settle(start, limitMs);
  if ("error" in result) throw result.error;
  return result;
}

/** The checks every rejection of the suite must pass, whatever the fault. */
function checkError(error) {
  errorsSeen.push(error);
  assert.ok(error instanceof StampedeError, `not a StampedeError: ${error}`);
  assert.ok(error instanceof Error);
  assert.ok(KINDS.has(error.kind), `undocumented kind ${error.kind}`);
  assert.ok(Number.isInteger(error.attempts), `attempts is ${error.attempts}`);
  assert.ok(error.attempts >= 0, `attempts is ${error.attempts}`);
  assertNoToken(error);
}

function assertNoToken(error) {
  const views = {
    message: error.message,
    string: String(error),
    json: JSON.stringify(error),
    stack: String(error.stack),
    body: JSON.stringify(error.body ?? null),
    inspect: inspect(error, { depth: Infinity }),
  };
  for (const [view, text] of Object.entries(views)) {
    assert.ok(!text.includes(TOKEN), `the token appears in the error's ${view}: ${text}`);
  }
}

/** Asserts `ms` lies in [min, max), with the timer and scheduling allowances. */
function assertWithin(ms, min, max, what) {
  assert.ok(ms >= min - EARLY_MS, `${what} took ${ms.toFixed(1)} ms, less than ${min} ms`);
  assert.ok(ms < max + LATE_MS, `${what} took ${ms.toFixed(1)} ms, not less than ${max} ms (+${LATE_MS} ms allowance)`);
}

/** Returns the documented bounds of the backoff before retry n: [half, whole) of min(250 ms × 2^(n-1), 8 s). */
function backoffBounds(retry) {
  const whole = Math.min(250 * 2 ** (retry - 1), 8_000);
  return [whole / 2, whole];
}

function assertBackoffGaps() {
  const gaps = wireGaps();
  gaps.forEach((gap, index) => {
    const [min, max] = backoffBounds(index + 1);
    assertWithin(gap, min, max, `the backoff before retry ${index + 1}`);
  });
}

/**
 * Asserts that each attempt was cut after `timeoutMs`, retried after the backoff.
 * fetch may start its request a little after the package starts the attempt's
 * timer, so an attempt's own span on the wire gives only the upper bound; the
 * lower bound is taken from one attempt's end to the next, which contains a
 * backoff sleep and a whole timer.
 */
function assertAttemptTimeouts(timeoutMs) {
  wire.forEach((record, index) => {
    const span = record.end - record.start;
    assert.ok(span < timeoutMs + LATE_MS, `attempt ${index + 1} took ${span.toFixed(1)} ms, over ${timeoutMs} ms`);
    if (index === 0) return;
    const [half] = backoffBounds(index);
    const sinceLast = record.end - wire[index - 1].end;
    assert.ok(
      sinceLast >= half + timeoutMs - EARLY_MS,
      `attempt ${index + 1} ended ${sinceLast.toFixed(1)} ms after attempt ${index}, under ${half} + ${timeoutMs} ms`,
    );
  });
}

/** Asserts that the mock received `count` requests, each the same event, and fetch started as many. */
function assertRequests(count) {
  assert.equal(received(), count, "requests the mock received");
  assert.equal(wire.length, count, "requests fetch started");
  for (const request of mock.state.requests) {
    assert.equal(request.path, "/v1/workflows/incoming-event");
    assert.deepEqual(JSON.parse(request.body), EVENT);
  }
}

/**
 * Returns the mock's log entry of the first API request, waiting up to a second
 * for it: the mock writes it when the response's connection closes.
 */
async function firstApiLogEntry() {
  const until = performance.now() + 1_000;
  for (;;) {
    const entry = mockLog.find(({ line }) => line.startsWith("POST /v1/"));
    if (entry !== undefined) return entry;
    if (performance.now() > until) assert.fail("the mock logged no API request within 1000 ms");
    await sleep(10);
  }
}

/** Drops scripted responses that were not used, after asserting how many there are. */
function dropUnused(expected) {
  assert.equal(mock.state.scriptedResponses.length, expected, "scripted responses left unused");
  mock.state.scriptedResponses.length = 0;
}

/** The next call on the same client reaches the mock's own handler and succeeds. */
async function assertNextCallSucceeds(client) {
  assert.equal(mock.state.scriptedResponses.length, 0, "a scripted response is left over");
  const before = received();
  const { value } = await resolves(() => client.sendIncomingEvent(EVENT));
  assert.equal(value.message, "Event received.");
  assert.equal(value.event.organisation_registration_id, ORG);
  assert.equal(received(), before + 1);
  assert.equal(mock.state.requests.at(-1).headers.authorization, `Bearer ${TOKEN}`);
}

/** Aborts `controller` after `ms` and returns a promise of the time it did. */
function abortAfter(controller, ms) {
  return new Promise((resolve) => {
    setTimeout(() => {
      const at = performance.now();
      controller.abort();
      resolve(at);
    }, ms);
  });
}

/** Aborts `controller` `ms` after the response of attempt `n` ended, inside the sleep that follows it. */
async function abortInSleepAfter(controller, n, ms) {
  await attemptEnded(n);
  return abortAfter(controller, ms);
}

/** Asserts that `body` is the start of the long `text`, cut to at most 500 characters with an ellipsis. */
function assertExcerpt(body, text) {
  assert.equal(typeof body, "string");
  assert.ok(body.length <= EXCERPT_CHARS, `the excerpt is ${body.length} characters`);
  assert.ok(body.length >= EXCERPT_CHARS - 1, `the excerpt is only ${body.length} characters`);
  assert.ok(body.endsWith("…"), `the excerpt does not end with an ellipsis: ${body.slice(-20)}`);
  assert.ok(text.startsWith(body.slice(0, -1)), `the excerpt is not the body's start: ${body.slice(0, 80)}`);
}

/** Returns the text of a JSON success body of exactly `bytes` bytes. */
function successBodyOfSize(bytes) {
  const head = '{"message":"Event received.","event":{},"pad":"';
  const tail = '"}';
  return head + "p".repeat(bytes - head.length - tail.length) + tail;
}

// ---------------------------------------------------------------------------
// Statuses, each with and without retryAmbiguous

describe("statuses under the retry policy", () => {
  // retried: under the default policy / under retryAmbiguous.
  const statuses = [
    { status: 408, kind: "http", retried: [true, true] },
    { status: 429, kind: "rate_limited", retried: [true, true] },
    { status: 500, kind: "server", retried: [false, false] },
    { status: 502, kind: "server", retried: [false, true] },
    { status: 503, kind: "server", retried: [true, true] },
    { status: 504, kind: "server", retried: [false, true] },
  ];

  for (const { status, kind, retried } of statuses) {
    for (const [index, retryAmbiguous] of [false, true].entries()) {
      const attempts = retried[index] ? 3 : 1;
      const mode = retryAmbiguous ? "with" : "without";
      test(`${status} ${mode} retryAmbiguous gives ${kind} after ${attempts} attempt(s)`, async () => {
        const body = { message: `Scripted ${status}.` };
        const failure = { status, headers: { "Retry-After": "0" }, body };
        await script(failure, failure, failure);
        const client = newClient({ retryAmbiguous, maxRetries: 2 });

        const { error, ms } = await rejects(() => client.sendIncomingEvent(EVENT));

        assert.equal(error.kind, kind);
        assert.equal(error.status, status);
        assert.equal(error.attempts, attempts);
        assert.equal(error.retryAfterMs, 0);
        assert.deepEqual(error.body, body);
        assert.ok(error.message.includes(String(status)), error.message);
        assert.ok(error.message.includes(body.message), error.message);
        assertRequests(attempts);
        assert.ok(ms < PROMPT_MS, `Retry-After: 0 should not wait, but the call took ${ms.toFixed(1)} ms`);
        dropUnused(3 - attempts);
        await assertNextCallSucceeds(client);
      });
    }
  }

  const notJson = [
    { name: "200 with a text body", status: 200, body: "OK", errorBody: "OK" },
    { name: "201 with a JSON array", status: 201, body: ["created"], errorBody: ["created"] },
    { name: "204 without a body", status: 204, body: "", errorBody: "" },
  ];

  for (const { name, status, body, errorBody } of notJson) {
    for (const retryAmbiguous of [false, true]) {
      test(`${name} ${retryAmbiguous ? "with" : "without"} retryAmbiguous gives invalid_response after 1 attempt`, async () => {
        await script({ status, body }, { status, body }, { status, body });
        const client = newClient({ retryAmbiguous, maxRetries: 2 });

        const { error, ms } = await rejects(() => client.sendIncomingEvent(EVENT));

        assert.equal(error.kind, "invalid_response");
        assert.equal(error.status, status);
        assert.equal(error.attempts, 1);
        assert.equal(error.retryAfterMs, undefined);
        assert.deepEqual(error.body, errorBody);
        assertRequests(1);
        assert.ok(ms < PROMPT_MS, `took ${ms.toFixed(1)} ms`);
        dropUnused(2);
        await assertNextCallSucceeds(client);
      });
    }
  }
});

// ---------------------------------------------------------------------------
// Retry-After and backoff

describe("Retry-After", () => {
  test("Retry-After: 1 waits at least 1000 ms and well under 2000 ms", async () => {
    await script({ status: 429, headers: { "Retry-After": "1" } });
    const client = newClient();

    const { value, ms } = await resolves(() => client.sendIncomingEvent(EVENT));

    assert.equal(value.message, "Event received.");
    assertRequests(2);
    assertWithin(ms, 1_000, 1_500, "the call");
    assertWithin(wireGaps()[0], 1_000, 1_000, "the wait before the retry");
    await assertNextCallSucceeds(client);
  });

  for (const [status, options] of [[408, {}], [429, {}], [503, {}], [502, { retryAmbiguous: true }], [504, { retryAmbiguous: true }]]) {
    test(`Retry-After: 31 on a ${status} ends the retries at once with retryAfterMs`, async () => {
      await script({ status, headers: { "Retry-After": "31" } });
      const client = newClient({ maxRetries: 5, ...options });

      const { error, ms } = await rejects(() => client.sendIncomingEvent(EVENT));

      assert.equal(error.status, status);
      assert.equal(error.attempts, 1);
      assert.equal(error.retryAfterMs, 31_000);
      assertRequests(1);
      assert.ok(ms < PROMPT_MS, `took ${ms.toFixed(1)} ms`);
      await assertNextCallSucceeds(client);
    });
  }

  test("Retry-After: 30 is still waited for (the cap is inclusive)", async () => {
    await script({ status: 503, headers: { "Retry-After": String(RETRY_AFTER_CAP_MS / 1000) } });
    const client = newClient();
    const controller = new AbortController();
    const abortedAt = abortInSleepAfter(controller, 1, 200);

    // Had the retries ended, the call would reject with the 503 at once, before the abort.
    const { error } = await rejects(() => client.sendIncomingEvent(EVENT, { signal: controller.signal }));
    const afterAbort = performance.now() - (await abortedAt);

    assert.equal(error.kind, "aborted");
    assert.equal(error.attempts, 1);
    assert.ok(afterAbort < PROMPT_MS, `rejected ${afterAbort.toFixed(1)} ms after the abort`);
    assertRequests(1);
    await assertNextCallSucceeds(client);
  });

  test("an HTTP-date Retry-After is waited for until that date", async () => {
    // Two whole seconds ahead of the current second: between 1 and 2 s from now.
    const retryAt = (Math.floor(Date.now() / 1000) + 2) * 1000;
    await script({ status: 503, headers: { "Retry-After": new Date(retryAt).toUTCString() } });
    const client = newClient();

    const { value } = await resolves(() => client.sendIncomingEvent(EVENT));

    assert.equal(value.message, "Event received.");
    assertRequests(2);
    const retriedAt = Date.parse(mock.state.requests[1].at);
    assert.ok(retriedAt >= retryAt - EARLY_MS, `retried ${retryAt - retriedAt} ms before the date`);
    assert.ok(retriedAt < retryAt + LATE_MS, `retried ${retriedAt - retryAt} ms after the date`);
    await assertNextCallSucceeds(client);
  });

  const pastDates = {
    "IMF-fixdate": "Sun, 06 Nov 1994 08:49:37 GMT",
    "RFC 850 date": "Sunday, 06-Nov-94 08:49:37 GMT",
    "asctime date": "Sun Nov  6 08:49:37 1994",
  };
  for (const [form, date] of Object.entries(pastDates)) {
    test(`an ${form} in the past is retried at once`, async () => {
      const failure = { status: 503, headers: { "Retry-After": date } };
      await script(failure, failure, failure, failure, failure);
      const client = newClient({ maxRetries: 4 });

      const { error, ms } = await rejects(() => client.sendIncomingEvent(EVENT));

      assert.equal(error.kind, "server");
      assert.equal(error.attempts, 5);
      assert.equal(error.retryAfterMs, 0);
      assertRequests(5);
      // Four backoffs would take at least 125 + 250 + 500 + 1000 ms.
      assert.ok(ms < 1_000, `took ${ms.toFixed(1)} ms: the date was not read`);
      await assertNextCallSucceeds(client);
    });
  }

  test("HTTP-date over 30 s ends retries", async () => {
    const retryAt = (Math.floor(Date.now() / 1000) + 60) * 1000;
    await script({ status: 429, headers: { "Retry-After": new Date(retryAt).toUTCString() } });
    const client = newClient();

    const sentAt = Date.now();
    const { error, ms } = await rejects(() => client.sendIncomingEvent(EVENT));

    assert.equal(error.kind, "rate_limited");
    assert.equal(error.attempts, 1);
    assert.ok(error.retryAfterMs > RETRY_AFTER_CAP_MS, `retryAfterMs is ${error.retryAfterMs}`);
    assert.ok(error.retryAfterMs <= retryAt - sentAt, `retryAfterMs ${error.retryAfterMs} is past the date`);
    assert.ok(error.retryAfterMs >= retryAt - sentAt - 1_000, `retryAfterMs ${error.retryAfterMs} is too short`);
    assertRequests(1);
    assert.ok(ms < PROMPT_MS, `took ${ms.toFixed(1)} ms`);
    await assertNextCallSucceeds(client);
  });

  // Not spelt out in the README: a Retry-After that is neither seconds nor a
  // date is taken as absent, so the documented backoff applies.
  test("an unreadable Retry-After falls back to the backoff", async () => {
    const failure = { status: 503, headers: { "Retry-After": "soon" } };
    await script(failure, failure);
    const client = newClient({ maxRetries: 1 });

    const { error } = await rejects(() => client.sendIncomingEvent(EVENT));

    assert.equal(error.kind, "server");
    assert.equal(error.attempts, 2);
    assert.equal(error.retryAfterMs, undefined);
    assertRequests(2);
    assertBackoffGaps();
    await assertNextCallSucceeds(client);
  });
});

describe("backoff without Retry-After", () => {
  test("503 is retried after [125, 250), [250, 500) and [500, 1000) ms", async () => {
    await script({ status: 503 }, { status: 503 }, { status: 503 }, { status: 503 });
    const client = newClient({ maxRetries: 3 });

    const { error, ms } = await rejects(() => client.sendIncomingEvent(EVENT));

    assert.equal(error.kind, "server");
    assert.equal(error.status, 503);
    assert.equal(error.attempts, 4);
    assert.equal(error.retryAfterMs, undefined);
    assertRequests(4);
    assertBackoffGaps();
    assertWithin(ms, 125 + 250 + 500, 250 + 500 + 1_000, "the call");
    await assertNextCallSucceeds(client);
  });

  test("502 under retryAmbiguous is retried after [125, 250) ms and then succeeds", async () => {
    await script({ status: 502 });
    const client = newClient({ retryAmbiguous: true });

    const { value } = await resolves(() => client.sendIncomingEvent(EVENT));

    assert.equal(value.message, "Event received.");
    assertRequests(2);
    assertBackoffGaps();
    await assertNextCallSucceeds(client);
  });
});

// ---------------------------------------------------------------------------
// Timeouts

describe("timeoutMs per attempt", () => {
  test("a delay shorter than timeoutMs succeeds", async () => {
    await script({ delayMs: 100, body: { message: "Event received.", event: { organisation_registration_id: ORG } } });
    const client = newClient({ timeoutMs: 300 });

    const { value, ms } = await resolves(() => client.sendIncomingEvent(EVENT));

    assert.equal(value.message, "Event received.");
    assertRequests(1);
    assertWithin(ms, 100, 300, "the call");
    await assertNextCallSucceeds(client);
  });

  test("a delay longer than timeoutMs gives timeout after 1 attempt", async () => {
    await script({ delayMs: 600 });
    const client = newClient({ timeoutMs: 200 });

    const { error, ms } = await rejects(() => client.sendIncomingEvent(EVENT));

    assert.equal(error.kind, "timeout");
    assert.equal(error.status, undefined);
    assert.equal(error.attempts, 1);
    assert.match(error.message, /200 ms/);
    assertRequests(1);
    assertWithin(ms, 200, 200, "the call");
    await assertNextCallSucceeds(client);
  });

  test("slow attempts retried under retryAmbiguous", async () => {
    await script({ delayMs: 600 }, { delayMs: 600 }, { delayMs: 600 });
    const client = newClient({ timeoutMs: 150, retryAmbiguous: true, maxRetries: 2 });

    const { error, ms } = await rejects(() => client.sendIncomingEvent(EVENT));

    assert.equal(error.kind, "timeout");
    assert.equal(error.attempts, 3);
    assertRequests(3);
    assertAttemptTimeouts(150);
    assertBackoffGaps();
    assertWithin(ms, 3 * 150 + 125 + 250, 3 * 150 + 250 + 500, "the call");
    await assertNextCallSucceeds(client);
  });

  test("a hang gives timeout after 1 attempt", async () => {
    await script({ fault: "hang" });
    const client = newClient({ timeoutMs: 150 });

    const { error, ms } = await rejects(() => client.sendIncomingEvent(EVENT));

    assert.equal(error.kind, "timeout");
    assert.equal(error.attempts, 1);
    assert.match(error.message, /150 ms/);
    assertRequests(1);
    assertWithin(ms, 150, 150, "the call");
    await assertNextCallSucceeds(client);
  });

  test("a hang under retryAmbiguous is retried and then succeeds", async () => {
    await script({ fault: "hang" });
    const client = newClient({ timeoutMs: 150, retryAmbiguous: true });

    const { value, ms } = await resolves(() => client.sendIncomingEvent(EVENT));

    assert.equal(value.message, "Event received.");
    assertRequests(2);
    assertBackoffGaps();
    assertWithin(ms, 150 + 125, 150 + 250, "the call");
    await assertNextCallSucceeds(client);
  });

  test("timeoutMs passed per call replaces the client's", async () => {
    await script({ fault: "hang" });
    const client = newClient({ timeoutMs: 2_000 });

    const { error, ms } = await rejects(() => client.sendIncomingEvent(EVENT, { timeoutMs: 100 }));

    assert.equal(error.kind, "timeout");
    assert.equal(error.attempts, 1);
    assertWithin(ms, 100, 100, "the call");
    await assertNextCallSucceeds(client);
  });

  test("a trickled body that ends within timeoutMs succeeds", async () => {
    const body = { message: "Event received.", event: { organisation_registration_id: ORG } };
    const length = JSON.stringify(body).length;
    // Six chunks, 20 ms apart: about 100 ms.
    await script({ body, fault: "trickle", trickleBytes: Math.ceil(length / 6), trickleMs: 20 });
    const client = newClient({ timeoutMs: 400 });

    const { value, ms } = await resolves(() => client.sendIncomingEvent(EVENT));

    assert.deepEqual(value, body);
    assertRequests(1);
    assertWithin(ms, 100, 400, "the call");
    await assertNextCallSucceeds(client);
  });

  test("a trickled body that outlasts timeoutMs gives timeout: reading the body counts", async () => {
    const body = { message: "Event received.", event: { organisation_registration_id: ORG } };
    // Two bytes every 30 ms: well over a second for the whole body.
    await script({ body, fault: "trickle", trickleBytes: 2, trickleMs: 30 });
    const client = newClient({ timeoutMs: 200 });

    const { error, ms } = await rejects(() => client.sendIncomingEvent(EVENT));

    assert.equal(error.kind, "timeout");
    assert.equal(error.status, 200);
    assert.match(error.message, /returned 200, but the rest of its response did not arrive within 200 ms/);
    assert.equal(error.attempts, 1);
    assertRequests(1);
    assertWithin(ms, 200, 200, "the call");
    await assertNextCallSucceeds(client);
  });

  test("a trickled 200 that outlasts timeoutMs is not retried under retryAmbiguous", async () => {
    const body = { message: "Event received.", event: { organisation_registration_id: ORG } };
    await script({ body, fault: "trickle", trickleBytes: 2, trickleMs: 30 });
    const client = newClient({ timeoutMs: 200, retryAmbiguous: true });

    const { error } = await rejects(() => client.sendIncomingEvent(EVENT));

    assert.equal(error.kind, "timeout");
    assert.equal(error.status, 200);
    assert.equal(error.attempts, 1);
    await sleep(QUIET_MS);
    assertRequests(1);
    await assertNextCallSucceeds(client);
  });

  test("a trickled 503 that outlasts timeoutMs is retried by default", async () => {
    const body = { message: "Service Unavailable" };
    await script({ status: 503, headers: { "Retry-After": "0" }, body, fault: "trickle", trickleBytes: 1, trickleMs: 50 });
    const client = newClient({ timeoutMs: 200 });

    const { value } = await resolves(() => client.sendIncomingEvent(EVENT));

    assert.equal(value.message, "Event received.");
    assertRequests(2);
  });
});

describe("totalTimeoutMs for the whole call", () => {
  test("cuts a slow first attempt", async () => {
    await script({ delayMs: 1_000 });
    const client = newClient({ timeoutMs: 2_000 });

    const { error, ms } = await rejects(() => client.sendIncomingEvent(EVENT, { totalTimeoutMs: 250 }));

    assert.equal(error.kind, "timeout");
    assert.equal(error.attempts, 1);
    assert.match(error.message, /totalTimeoutMs of 250 ms/);
    assertRequests(1);
    assertWithin(ms, 250, 250, "the call");
    await assertNextCallSucceeds(client);
  });

  test("cuts a slow retry", async () => {
    await script({ status: 503, headers: { "Retry-After": "0" } }, { fault: "hang" });
    const client = newClient({ timeoutMs: 2_000, totalTimeoutMs: 300 });

    const { error, ms } = await rejects(() => client.sendIncomingEvent(EVENT));

    assert.equal(error.kind, "timeout");
    assert.equal(error.status, undefined);
    assert.equal(error.attempts, 2);
    assert.match(error.message, /totalTimeoutMs of 300 ms/);
    assertRequests(2);
    assertWithin(ms, 300, 300, "the call");
    await assertNextCallSucceeds(client);
  });

  test("Retry-After past the deadline ends retries", async () => {
    await script({ status: 503, headers: { "Retry-After": "1" } });
    const client = newClient({ totalTimeoutMs: 500 });

    const { error, ms } = await rejects(() => client.sendIncomingEvent(EVENT));

    assert.equal(error.kind, "server");
    assert.equal(error.status, 503);
    assert.equal(error.attempts, 1);
    assert.equal(error.retryAfterMs, 1_000);
    assertRequests(1);
    assert.ok(ms < PROMPT_MS, `took ${ms.toFixed(1)} ms`);
    await assertNextCallSucceeds(client);
  });

  test("backoff past the deadline ends retries", async () => {
    // Retry 1 waits [125, 250) ms, which fits in 370 ms while attempt 1 takes under 120 ms.
    // Retry 2 could start at 125 + 250 ms at the earliest, past the deadline, so it is not made.
    const failures = Array.from({ length: 6 }, () => ({ status: 503 }));
    await script(...failures);
    const client = newClient({ maxRetries: 5, totalTimeoutMs: 370 });

    const { error, ms } = await rejects(() => client.sendIncomingEvent(EVENT));

    assert.equal(error.kind, "server");
    assert.equal(error.status, 503);
    assert.equal(error.attempts, 2);
    assertRequests(2);
    assertBackoffGaps();
    assert.ok(ms < 370, `took ${ms.toFixed(1)} ms, past totalTimeoutMs`);
    dropUnused(4);
    await assertNextCallSucceeds(client);
  });

  test("bounds per-attempt timeouts retried under retryAmbiguous", async () => {
    // Attempt 1 times out at 100 ms. Attempt 2 starts by 350 ms and ends by 450 ms, so no room is left for a third.
    await script({ fault: "hang" }, { fault: "hang" }, { fault: "hang" });
    const client = newClient({ timeoutMs: 100, totalTimeoutMs: 450, retryAmbiguous: true, maxRetries: 5 });

    const { error, ms } = await rejects(() => client.sendIncomingEvent(EVENT));

    assert.equal(error.kind, "timeout");
    assert.equal(error.attempts, 2);
    assertRequests(2);
    assertBackoffGaps();
    assertWithin(ms, 100 + 125 + 100, 450, "the call");
    dropUnused(1);
    await assertNextCallSucceeds(client);
  });
});

// ---------------------------------------------------------------------------
// Broken connections

describe("broken connections", () => {
  test("a reset before the headers gives network after 1 attempt", async () => {
    await script({ fault: "reset" }, { fault: "reset" });
    const client = newClient();

    const { error, ms } = await rejects(() => client.sendIncomingEvent(EVENT));

    assert.equal(error.kind, "network");
    assert.equal(error.status, undefined);
    assert.equal(error.attempts, 1);
    assertRequests(1);
    assert.ok(ms < PROMPT_MS, `took ${ms.toFixed(1)} ms`);
    dropUnused(1);
    await assertNextCallSucceeds(client);
  });

  test("a reset before the headers under retryAmbiguous is retried until maxRetries", async () => {
    await script({ fault: "reset" }, { fault: "reset" }, { fault: "reset" });
    const client = newClient({ retryAmbiguous: true, maxRetries: 2 });

    const { error } = await rejects(() => client.sendIncomingEvent(EVENT));

    assert.equal(error.kind, "network");
    assert.equal(error.status, undefined);
    assert.equal(error.attempts, 3);
    assertRequests(3);
    assertBackoffGaps();
    await assertNextCallSucceeds(client);
  });

  // After the status line the body breaks off: the kind is network, the
  // status is kept, and the retry policy judges the attempt by that status, so
  // a 200, which the server processed, is not sent again even under retryAmbiguous.
  const brokenBodies = [
    { name: "a reset after the headers of a 200", fault: "reset-after-headers", status: 200 },
    { name: "a truncated JSON 200 body with Content-Length", fault: "truncate", status: 200, chunked: false },
    { name: "a truncated JSON 200 body in chunked encoding", fault: "truncate", status: 200, chunked: true },
  ];
  const event = { message: "Event received.", event: { organisation_registration_id: ORG, id: "e1" } };
  for (const { name, fault, status, chunked = false } of brokenBodies) {
    for (const retryAmbiguous of [false, true]) {
      test(`${name} ${retryAmbiguous ? "with" : "without"} retryAmbiguous gives network with status ${status} after 1 attempt`, async () => {
        const broken = { status, body: event, fault, chunked };
        await script(broken, broken, broken);
        const client = newClient({ retryAmbiguous, maxRetries: 2 });

        const { error, ms } = await rejects(() => client.sendIncomingEvent(EVENT));

        assert.equal(error.kind, "network");
        assert.equal(error.status, status);
        assert.equal(error.attempts, 1);
        assert.match(error.message, new RegExp(`returned ${status}, but its body could not be read`));
        assertRequests(1);
        assert.ok(ms < PROMPT_MS, `took ${ms.toFixed(1)} ms`);
        dropUnused(2);
        await assertNextCallSucceeds(client);
      });
    }
  }

  test("a truncated 503 body is retried by default, with backoff", async () => {
    await script({ status: 503, fault: "truncate" });
    const client = newClient();

    const { value } = await resolves(() => client.sendIncomingEvent(EVENT));

    assert.equal(value.message, "Event received.");
    assertRequests(2);
    assertBackoffGaps();
    await assertNextCallSucceeds(client);
  });

  test(
    "a reset after the headers of a 503 is retried by default, with backoff",
    async () => {
      await script({ status: 503, fault: "reset-after-headers" });
      const client = newClient();

      const { value } = await resolves(() => client.sendIncomingEvent(EVENT));

      assert.equal(value.message, "Event received.");
      assertRequests(2);
      assertBackoffGaps();
      await assertNextCallSucceeds(client);
    },
  );

  test("a truncated 502 body gives network with status 502, not retried by default", async () => {
    await script({ status: 502, fault: "truncate" }, { status: 502, fault: "truncate" });
    const client = newClient();

    const { error } = await rejects(() => client.sendIncomingEvent(EVENT));

    assert.equal(error.kind, "network");
    assert.equal(error.status, 502);
    assert.equal(error.attempts, 1);
    assertRequests(1);
    dropUnused(1);
    await assertNextCallSucceeds(client);
  });

  test("a truncated 502 body under retryAmbiguous is retried until maxRetries", async () => {
    await script({ status: 502, fault: "truncate" }, { status: 502, fault: "truncate" });
    const client = newClient({ retryAmbiguous: true, maxRetries: 1 });

    const { error } = await rejects(() => client.sendIncomingEvent(EVENT));

    assert.equal(error.kind, "network");
    assert.equal(error.status, 502);
    assert.equal(error.attempts, 2);
    assertRequests(2);
    assertBackoffGaps();
    await assertNextCallSucceeds(client);
  });
});

// ---------------------------------------------------------------------------
// Bodies

describe("response bodies", () => {
  test("200 with HTML is invalid_response", async () => {
    const html = `<!DOCTYPE html><html><head><title>Maintenance for ${TOKEN}</title></head><body>${"<p>down</p>".repeat(300)}</body></html>`;
    const page = { status: 200, headers: { "Content-Type": "text/html; charset=utf-8" }, body: html };
    await script(page, page, page);
    const client = newClient({ retryAmbiguous: true, maxRetries: 2 });

    const { error, ms } = await rejects(() => client.sendIncomingEvent(EVENT));

    assert.equal(error.kind, "invalid_response");
    assert.equal(error.status, 200);
    assert.equal(error.attempts, 1);
    assert.equal(typeof error.body, "string");
    assert.ok(error.body.startsWith("<!DOCTYPE html><html><head><title>Maintenance for "), error.body.slice(0, 80));
    assertExcerpt(error.body, html.replaceAll(TOKEN, "[redacted]"));
    assertRequests(1);
    assert.ok(ms < PROMPT_MS, `took ${ms.toFixed(1)} ms`);
    dropUnused(2);
    await assertNextCallSucceeds(client);
  });

  // 4 MiB sent in 256 KiB chunks 100 ms apart: the whole body takes 1.5 s,
  // the first byte over 1 MiB arrives with the fifth chunk at 400 ms.
  const CHUNK = 256 * 1024;

  /** Asserts that the mock's connection closed before the whole body was sent, so the package stopped reading. */
  async function assertConnectionDropped(startedAt) {
    const { at, line } = await firstApiLogEntry();
    assert.match(line, /connection closed before the response was complete/);
    assert.ok(at - startedAt < 1_200, `the connection closed ${(at - startedAt).toFixed(1)} ms after the call started`);
  }
  const bigBody = (status, chunked, text = "x") => ({
    status,
    body: text.repeat(1024),
    bodyRepeat: (4 * MAX_RESPONSE_BYTES) / 1024,
    chunked,
    fault: "trickle",
    trickleBytes: CHUNK,
    trickleMs: 100,
  });

  test("a 4 MiB 2xx body with Content-Length gives invalid_response without reading it", async () => {
    await script(bigBody(200, false));
    const client = newClient({ retryAmbiguous: true });
    const startedAt = performance.now();

    const { error, ms } = await rejects(() => client.sendIncomingEvent(EVENT));

    assert.equal(error.kind, "invalid_response");
    assert.equal(error.status, 200);
    assert.equal(error.attempts, 1);
    assert.match(error.message, /1048576 bytes/);
    assertRequests(1);
    assert.ok(ms < PROMPT_MS, `took ${ms.toFixed(1)} ms: the body was read`);
    await assertConnectionDropped(startedAt);
    await assertNextCallSucceeds(client);
  });

  test("4 MiB chunked 2xx stops at 1 MiB", async () => {
    await script(bigBody(200, true));
    const client = newClient({ retryAmbiguous: true });
    const startedAt = performance.now();

    const { error, ms } = await rejects(() => client.sendIncomingEvent(EVENT));

    assert.equal(error.kind, "invalid_response");
    assert.equal(error.status, 200);
    assert.equal(error.attempts, 1);
    assertRequests(1);
    assertWithin(ms, 400, 1_000, "the call (the whole body takes 1500 ms)");
    await assertConnectionDropped(startedAt);
    await assertNextCallSucceeds(client);
  });

  test("4 MiB chunked 5xx keeps an excerpt", async () => {
    const text = `Upstream failure, trace follows. ${"trace ".repeat(200)}`.slice(0, 1024);
    await script({ status: 500, body: text, bodyRepeat: 4096, chunked: true });
    const client = newClient();

    const { error, ms } = await rejects(() => client.sendIncomingEvent(EVENT));

    assert.equal(error.kind, "server");
    assert.equal(error.status, 500);
    assert.equal(error.attempts, 1);
    assertExcerpt(error.body, text);
    assertRequests(1);
    assert.ok(ms < 1_000, `took ${ms.toFixed(1)} ms`);
    await assertNextCallSucceeds(client);
  });

  test("a 4 MiB 5xx body with Content-Length keeps its kind without being read", async () => {
    await script(bigBody(502, false, "y"));
    const client = newClient();

    const { error, ms } = await rejects(() => client.sendIncomingEvent(EVENT));

    assert.equal(error.kind, "server");
    assert.equal(error.status, 502);
    assert.equal(error.attempts, 1);
    assert.equal(typeof error.body, "string");
    assert.ok(error.body.length <= EXCERPT_CHARS, `the excerpt is ${error.body.length} characters`);
    assertRequests(1);
    assert.ok(ms < PROMPT_MS, `took ${ms.toFixed(1)} ms: the body was read`);
    await assertNextCallSucceeds(client);
  });

  test(
    "a 4 MiB 5xx body with Content-Length keeps an excerpt of its start, as without",
    async () => {
      const text = `Upstream failure, trace follows. ${"trace ".repeat(200)}`.slice(0, 1024);
      await script({ status: 500, body: text, bodyRepeat: 4096 });
      const client = newClient();

      const { error } = await rejects(() => client.sendIncomingEvent(EVENT));

      assert.equal(error.kind, "server");
      assertExcerpt(error.body, text);
      await assertNextCallSucceeds(client);
    },
  );


  for (const chunked of [false, true]) {
    const framing = chunked ? "in chunked encoding" : "with Content-Length";
    test(`a JSON object of exactly 1 MiB ${framing} is read whole`, async () => {
      const body = successBodyOfSize(MAX_RESPONSE_BYTES);
      await script({ status: 200, headers: { "Content-Type": "application/json" }, body, chunked });
      const client = newClient();

      const { value } = await resolves(() => client.sendIncomingEvent(EVENT));

      assert.equal(value.message, "Event received.");
      assert.equal(JSON.stringify(value).length, MAX_RESPONSE_BYTES);
      assertRequests(1);
      await assertNextCallSucceeds(client);
    });

    test(`a JSON object of 1 MiB and 1 byte ${framing} gives invalid_response`, async () => {
      const body = successBodyOfSize(MAX_RESPONSE_BYTES + 1);
      await script({ status: 200, headers: { "Content-Type": "application/json" }, body, chunked });
      const client = newClient();

      const { error } = await rejects(() => client.sendIncomingEvent(EVENT));

      assert.equal(error.kind, "invalid_response");
      assert.equal(error.status, 200);
      assert.equal(error.attempts, 1);
      assertRequests(1);
      await assertNextCallSucceeds(client);
    });
  }
});

// ---------------------------------------------------------------------------
// Aborts

describe("aborts", () => {
  test("an already aborted signal rejects before anything is sent", async () => {
    const client = newClient({ retryAmbiguous: true });
    const controller = new AbortController();
    controller.abort(new Error("changed my mind"));

    const { error, ms } = await rejects(() => client.sendIncomingEvent(EVENT, { signal: controller.signal }));

    assert.equal(error.kind, "aborted");
    assert.equal(error.attempts, 0);
    assert.equal(error.status, undefined);
    assert.ok(ms < PROMPT_MS, `took ${ms.toFixed(1)} ms`);
    await sleep(QUIET_MS);
    assertRequests(0);
    await assertNextCallSucceeds(client);
  });

  test("an abort in the same tick as the call sends nothing", async () => {
    const client = newClient({ retryAmbiguous: true });
    const controller = new AbortController();

    const { error, ms } = await rejects(() => {
      const call = client.sendIncomingEvent(EVENT, { signal: controller.signal });
      controller.abort();
      return call;
    });

    assert.equal(error.kind, "aborted");
    assert.ok(ms < PROMPT_MS, `took ${ms.toFixed(1)} ms`);
    await sleep(QUIET_MS);
    assert.equal(received(), 0);
    assert.ok(error.attempts >= received(), `attempts ${error.attempts} counts fewer than the mock received`);
    await assertNextCallSucceeds(client);
  });

  test("an abort during a hanging request rejects at once and is not retried", async () => {
    await script({ fault: "hang" }, { fault: "hang" }, { fault: "hang" });
    const client = newClient({ retryAmbiguous: true, maxRetries: 2 });
    const controller = new AbortController();
    const abortedAt = abortAfter(controller, 100);

    const { error } = await rejects(() => client.sendIncomingEvent(EVENT, { signal: controller.signal }));
    const afterAbort = performance.now() - (await abortedAt);

    assert.equal(error.kind, "aborted");
    assert.equal(error.attempts, 1);
    assert.equal(error.status, undefined);
    assert.ok(afterAbort < PROMPT_MS, `rejected ${afterAbort.toFixed(1)} ms after the abort`);
    await sleep(QUIET_MS);
    assertRequests(1);
    dropUnused(2);
    await assertNextCallSucceeds(client);
  });

  test("an abort while the body trickles in rejects at once", async () => {
    const body = { message: "Event received.", event: { organisation_registration_id: ORG } };
    await script({ body, fault: "trickle", trickleBytes: 1, trickleMs: 50 });
    const client = newClient({ retryAmbiguous: true });
    const controller = new AbortController();
    const abortedAt = abortAfter(controller, 150);

    const { error } = await rejects(() => client.sendIncomingEvent(EVENT, { signal: controller.signal }));
    const afterAbort = performance.now() - (await abortedAt);

    assert.equal(error.kind, "aborted");
    assert.equal(error.status, 200);
    assert.equal(error.attempts, 1);
    assert.ok(afterAbort < PROMPT_MS, `rejected ${afterAbort.toFixed(1)} ms after the abort`);
    await sleep(QUIET_MS);
    assertRequests(1);
    await assertNextCallSucceeds(client);
  });

  test("an abort during a Retry-After sleep rejects at once and sends nothing more", async () => {
    await script({ status: 503, headers: { "Retry-After": "1" } });
    const client = newClient();
    const controller = new AbortController();
    const abortedAt = abortInSleepAfter(controller, 1, 200);

    const { error } = await rejects(() => client.sendIncomingEvent(EVENT, { signal: controller.signal }));
    const afterAbort = performance.now() - (await abortedAt);

    assert.equal(error.kind, "aborted");
    assert.equal(error.attempts, 1);
    assert.ok(afterAbort < PROMPT_MS, `rejected ${afterAbort.toFixed(1)} ms after the abort`);
    // Until past the moment the retry was due.
    await sleep(Math.max(0, wire[0].end + 1_000 + 300 - performance.now()));
    assertRequests(1);
    await assertNextCallSucceeds(client);
  });

  test("an abort during a backoff sleep rejects at once and sends nothing more", async () => {
    await script({ status: 503 }, { status: 503 });
    const client = newClient({ maxRetries: 1 });
    const controller = new AbortController();
    // The backoff before the retry is at least 125 ms.
    const abortedAt = abortInSleepAfter(controller, 1, 40);

    const { error } = await rejects(() => client.sendIncomingEvent(EVENT, { signal: controller.signal }));
    const afterAbort = performance.now() - (await abortedAt);

    assert.equal(error.kind, "aborted");
    assert.equal(error.attempts, 1);
    assert.ok(afterAbort < PROMPT_MS, `rejected ${afterAbort.toFixed(1)} ms after the abort`);
    await sleep(QUIET_MS);
    assertRequests(1);
    dropUnused(1);
    await assertNextCallSucceeds(client);
  });

  test("an abort after the call resolved changes nothing", async () => {
    const client = newClient();
    const controller = new AbortController();

    const { value } = await resolves(() => client.sendIncomingEvent(EVENT, { signal: controller.signal }));
    controller.abort();

    assert.equal(value.message, "Event received.");
    await sleep(100);
    assertRequests(1);
    await assertNextCallSucceeds(client);
  });
});

// ---------------------------------------------------------------------------
// The workflow-runs endpoint takes the same path through the transport.

describe("storeWorkflowRun under faults", () => {
  test("a 503 is retried and the run is stored", async () => {
    await script({ status: 503, headers: { "Retry-After": "0" }, path: "workflow-runs" });
    const client = newClient();

    const { value } = await resolves(() => client.storeWorkflowRun("welcome-journey", { org_reg_id: ORG }));

    assert.equal(value.data.org_reg_id, ORG);
    assert.equal(received(), 2);
    assert.equal(wire.length, 2);
    await assertNextCallSucceeds(client);
  });

  test("a hang gives timeout, and an abort during a second hang gives aborted", async () => {
    await script({ fault: "hang", path: "workflow-runs" }, { fault: "hang", path: "workflow-runs" });
    const client = newClient({ timeoutMs: 150 });

    const timedOut = await rejects(() => client.storeWorkflowRun("42", { org_reg_id: ORG }));
    assert.equal(timedOut.error.kind, "timeout");
    assert.equal(timedOut.error.attempts, 1);
    assertWithin(timedOut.ms, 150, 150, "the call");

    const controller = new AbortController();
    abortAfter(controller, 50);
    const aborted = await rejects(() => client.storeWorkflowRun("42", { org_reg_id: ORG }, { signal: controller.signal }));
    assert.equal(aborted.error.kind, "aborted");
    assert.equal(aborted.error.attempts, 1);
    assert.equal(received(), 2);
    await assertNextCallSucceeds(client);
  });
});

// ---------------------------------------------------------------------------

test("no error of the suite shows the token", () => {
  // Every rejection above went through checkError, and this checks that there were many.
  assert.ok(errorsSeen.length >= 60, `only ${errorsSeen.length} errors were checked`);
  for (const error of errorsSeen) assertNoToken(error);
});
