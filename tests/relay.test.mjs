// Tests of the relay Worker in examples/relay/. It runs in miniflare on
// 127.0.0.1 (scripts/lib/relay.mjs) in front of the mock Stampede API. The
// tests send it HTTP requests with an Origin header, as a browser would: with
// fetch, with a raw socket for bodies framed in ways fetch does not send, and
// from a page in Chromium that uses the package.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";

import { Miniflare } from "miniflare";

import { freePort, RELAY_DIR, startRelay } from "../scripts/lib/relay.mjs";
import { startMockServer } from "../www/mock/server.mjs";
import { installFixture, launchChromium, REPO_ROOT } from "./support.mjs";

// Long and unlike any other string in the tests, so that finding it anywhere
// is a leak and not a coincidence.
const TOKEN = "relay-secret-7d41c2b9e05a4f38";
const ORG = "a1b2c3d4-e5f6-7890-abcd-ef1234567890";
const APP_ORIGIN = "https://app.example.test";
const OTHER_ORIGIN = "https://evil.example.test";
const MAX_BODY_BYTES = 16_384;
const UPSTREAM_TIMEOUT_MS = 1_000;
// Upper bound of one request to the relay or the mock, and of one browser wait.
const REQUEST_TIMEOUT_MS = 10_000;
const EVENT_PATH = "/v1/workflows/incoming-event";
const RUN_PATH = "/v1/workflows/welcome-journey/workflow-runs";
const EVENT = { organisation_registration_id: ORG, serials: ["VENUE0000001"], parameters: { source: "relay-test", visits: 3 } };

let mock;
let relay;
let relayOutput = [];
let pageDir;

before(async () => {
  // The Chromium test's page comes from the mock's origin, and its CSP lets it
  // connect to the relay, so the relay's port is chosen first.
  const relayPort = await freePort();
  pageDir = mkdtempSync(join(tmpdir(), "stampede-relay-page-"));
  writeBrowserPage(pageDir);
  mock = await startMockServer({
    port: 0,
    token: TOKEN,
    staticRoots: [
      { prefix: "/", dir: pageDir },
      { prefix: "/pkg/", dir: join(REPO_ROOT, "pkg") },
    ],
    contentSecurityPolicy: `default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' http://127.0.0.1:${relayPort}`,
  });
  relay = await startRelay({
    port: relayPort,
    token: TOKEN,
    vars: {
      STAMPEDE_BASE_URL: mock.url,
      ALLOWED_ORIGINS: `${APP_ORIGIN}, ${new URL(mock.url).origin}`,
      MAX_BODY_BYTES: String(MAX_BODY_BYTES),
      STAMPEDE_TIMEOUT_MS: String(UPSTREAM_TIMEOUT_MS),
    },
    onOutput: (line) => relayOutput.push(line),
  });
});

after(async () => {
  await relay?.close();
  await mock?.close();
  if (pageDir) rmSync(pageDir, { recursive: true, force: true });
});

beforeEach(async () => {
  const response = await fetch(new URL("__mock/reset", mock.url), { method: "POST", signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  assert.equal(response.status, 200, "resetting the mock failed");
  relayOutput = [];
});

// ---------------------------------------------------------------------------
// Helpers

/** Sends a request to the relay as a page of `origin` would; resolves to { status, headers, text, json }. */
async function relayFetch(path, { method = "POST", origin = APP_ORIGIN, headers = {}, body, target = relay } = {}) {
  const response = await fetch(new URL(path.replace(/^\//, ""), target.url), {
    method,
    headers: {
      ...(origin === null ? {} : { Origin: origin }),
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      ...headers,
    },
    body: body === undefined || typeof body === "string" ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: Object.fromEntries(response.headers), text, json };
}

/** Queues scripted responses on the mock. */
async function script(...responses) {
  const response = await fetch(new URL("__mock/script", mock.url), {
    method: "POST",
    body: JSON.stringify({ responses }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  assert.equal(response.status, 200, await response.text());
}

/** Asserts that neither the token nor an Authorization value is in a response's headers or body, or in the relay's log. */
function assertNoToken(response) {
  const seen = JSON.stringify(response.headers) + response.text;
  assert.ok(!seen.includes(TOKEN), `the relay's response shows the token:\n${seen}`);
  assert.ok(!/bearer/i.test(seen), `the relay's response shows an Authorization value:\n${seen}`);
  for (const line of relayOutput) assert.ok(!line.includes(TOKEN), `the relay logged the token: ${line}`);
}

function assertAllowedOriginHeaders(response, origin = APP_ORIGIN) {
  assert.equal(response.headers["access-control-allow-origin"], origin);
  assert.equal(response.headers["access-control-expose-headers"], "Retry-After");
  assert.match(response.headers.vary ?? "", /\bOrigin\b/);
}

function assertNothingForwarded() {
  assert.deepEqual(mock.state.requests, [], "the relay sent a request to the API");
}

/** Returns the one request the mock received, after checking that it carries the relay's token. */
function forwardedRequest(expectedPath) {
  const { requests } = mock.state;
  assert.equal(requests.length, 1, `expected exactly one request upstream, got ${requests.map((r) => r.path).join(", ")}`);
  const [request] = requests;
  assert.equal(request.method, "POST");
  assert.equal(request.path, expectedPath);
  assert.equal(request.headers.authorization, `Bearer ${TOKEN}`);
  assert.match(request.headers["content-type"], /^application\/json/);
  return request;
}

/**
 * Writes `head` and `body` to the relay on a raw TCP connection and resolves
 * to the status line's code and the response text. The relay may close the
 * connection while the body is still being written, and the response it sent
 * before that still counts.
 */
function rawRequest(head, body) {
  const { port } = new URL(relay.url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), "127.0.0.1");
    let received = "";
    const timer = setTimeout(() => socket.destroy(), REQUEST_TIMEOUT_MS);
    socket.setEncoding("utf8");
    socket.on("data", (chunk) => {
      received += chunk;
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(received)?.[1];
      resolve({ status: status === undefined ? null : Number(status), text: received });
    });
    socket.write(head);
    socket.end(body);
  });
}

function rawHead(extraLines) {
  return [
    `POST ${EVENT_PATH} HTTP/1.1`,
    "Host: relay.test",
    `Origin: ${APP_ORIGIN}`,
    "Content-Type: application/json",
    "Connection: close",
    ...extraLines,
    "",
    "",
  ].join("\r\n");
}

/** Encodes `text` in chunked transfer encoding, in chunks of `size` bytes. */
function chunked(text, size) {
  let encoded = "";
  for (let offset = 0; offset < text.length; offset += size) {
    const piece = text.slice(offset, offset + size);
    encoded += `${Buffer.byteLength(piece).toString(16)}\r\n${piece}\r\n`;
  }
  return `${encoded}0\r\n\r\n`;
}

/** Returns the JSON of a valid incoming event that is exactly `bytes` bytes long. */
function eventOfSize(bytes) {
  const empty = JSON.stringify({ organisation_registration_id: ORG, parameters: { source: "relay-test", pad: "" } });
  const text = JSON.stringify({ organisation_registration_id: ORG, parameters: { source: "relay-test", pad: "p".repeat(bytes - empty.length) } });
  assert.equal(Buffer.byteLength(text), bytes);
  return text;
}

// ---------------------------------------------------------------------------
// Forwarding

describe("forwarding", () => {
  test("incoming event: forwarded with the token, none returned", async () => {
    const response = await relayFetch(EVENT_PATH, { body: EVENT });

    assert.equal(response.status, 200, response.text);
    assert.equal(response.json.message, "Event received.");
    assert.equal(response.json.event.organisation_registration_id, ORG);
    assert.deepEqual(response.json.event.parameters, EVENT.parameters);
    assertAllowedOriginHeaders(response);
    assert.match(response.headers["content-type"], /^application\/json/);

    const forwarded = forwardedRequest(EVENT_PATH);
    assert.deepEqual(JSON.parse(forwarded.body), EVENT);
    assert.equal(forwarded.headers.origin, undefined, "the page's Origin was passed on");
    assertNoToken(response);
  });

  test("workflow run: forwarded with the token, none returned", async () => {
    const response = await relayFetch(RUN_PATH, { body: { org_reg_id: ORG } });

    assert.equal(response.status, 200, response.text);
    assert.equal(response.json.data.org_reg_id, ORG);
    assert.equal(response.json.data.status, "queued");
    assertAllowedOriginHeaders(response);
    assert.deepEqual(JSON.parse(forwardedRequest(RUN_PATH).body), { org_reg_id: ORG });
    assertNoToken(response);
  });

  test("workflow id stays one path segment", async () => {
    const response = await relayFetch("/v1/workflows/spring%20sale%3F/workflow-runs", { body: { org_reg_id: ORG } });

    assert.equal(response.status, 404, "the mock knows no such workflow");
    assert.deepEqual(response.json, { message: "Workflow not found." });
    forwardedRequest("/v1/workflows/spring%20sale%3F/workflow-runs");
    assertNoToken(response);
  });

  test("page headers and cookies are dropped", async () => {
    await relayFetch(EVENT_PATH, {
      body: EVENT,
      headers: { Cookie: "session=abc", "X-Request-Id": "page-1", Authorization: "Bearer page-guess" },
    });
    const forwarded = forwardedRequest(EVENT_PATH);
    assert.equal(forwarded.headers.cookie, undefined);
    assert.equal(forwarded.headers["x-request-id"], undefined);
  });
});

// ---------------------------------------------------------------------------
// Upstream answers

describe("upstream responses pass through", () => {
  const cases = [
    { status: 401, body: { message: "Unauthenticated." } },
    { status: 404, body: { message: "Workflow not found." } },
    { status: 423, body: { message: "The user is in the waiting period." } },
    { status: 429, body: { message: "Too Many Requests" }, headers: { "Retry-After": "7" } },
    { status: 503, body: { message: "Service Unavailable", detail: { retry: true } }, headers: { "Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT" } },
    { status: 422, body: { message: "The serials.0 field is invalid.", errors: { "serials.0": ["The serials.0 field is invalid."] } } },
    { status: 200, body: { message: "Event received.", event: { id: "e-1", nested: { kept: [1, "two", null] } }, added_later: true } },
  ];
  for (const upstream of cases) {
    test(`${upstream.status}${upstream.headers ? " with Retry-After" : ""}`, async () => {
      await script({ status: upstream.status, body: upstream.body, headers: upstream.headers ?? {} });
      const response = await relayFetch(EVENT_PATH, { body: EVENT });

      assert.equal(response.status, upstream.status);
      assert.deepEqual(response.json, upstream.body);
      assert.match(response.headers["content-type"], /^application\/json/);
      assert.equal(response.headers["retry-after"], upstream.headers?.["Retry-After"]);
      assertAllowedOriginHeaders(response);
      // One attempt only: the relay leaves retries to the page, where they are visible.
      forwardedRequest(EVENT_PATH);
      assertNoToken(response);
    });
  }

  test("non-JSON body: first 500 characters as text", async () => {
    const page = `<html><body>${"Bad gateway. ".repeat(60)}</body></html>`;
    await script({ status: 502, body: page });
    const response = await relayFetch(EVENT_PATH, { body: EVENT });

    assert.equal(response.status, 502);
    assert.match(response.headers["content-type"], /^text\/plain/);
    assert.equal([...response.text].length, 500);
    assert.ok(page.startsWith(response.text.slice(0, -1)));
    assert.ok(response.text.endsWith("…"));
    forwardedRequest(EVENT_PATH);
  });

  test("echoed token: redacted in body and Retry-After", async () => {
    await script(
      { status: 200, body: { message: `ok ${TOKEN}`, event: { authorization: `Bearer ${TOKEN}` } } },
      { status: 400, body: { message: `Bad token ${TOKEN}` }, headers: { "Retry-After": TOKEN } },
    );
    const ok = await relayFetch(EVENT_PATH, { body: EVENT });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.message, "ok [redacted]");
    assertNoToken({ ...ok, text: ok.text.replaceAll("Bearer [redacted]", "") });

    const bad = await relayFetch(EVENT_PATH, { body: EVENT });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers["retry-after"], undefined);
    assertNoToken(bad);
  });
});

describe("no complete upstream response", () => {
  test("connection reset: 502, sent once", async () => {
    await script({ fault: "reset" });
    const response = await relayFetch(EVENT_PATH, { body: EVENT });
    assert.equal(response.status, 502);
    assert.match(response.json.message, /may or may not have been processed/);
    assertAllowedOriginHeaders(response);
    forwardedRequest(EVENT_PATH);
    assertNoToken(response);
  });

  test("200 with a cut body: 502, sent once", async () => {
    await script({ status: 200, fault: "truncate", body: { message: "Event received.", event: { id: "x".repeat(200) } } });
    const response = await relayFetch(EVENT_PATH, { body: EVENT });
    assert.equal(response.status, 502);
    forwardedRequest(EVENT_PATH);
    assertNoToken(response);
  });

  test("upstream timeout: 504, sent once", async () => {
    await script({ fault: "hang" });
    const started = Date.now();
    const response = await relayFetch(EVENT_PATH, { body: EVENT });
    const elapsed = Date.now() - started;

    assert.equal(response.status, 504);
    assert.match(response.json.message, new RegExp(`timed out after ${UPSTREAM_TIMEOUT_MS} ms`));
    assert.ok(elapsed >= UPSTREAM_TIMEOUT_MS, `responded after ${elapsed} ms`);
    assert.ok(elapsed < UPSTREAM_TIMEOUT_MS + 4_000, `responded after ${elapsed} ms`);
    forwardedRequest(EVENT_PATH);
    assertNoToken(response);
  });
});

// ---------------------------------------------------------------------------
// Origins

describe("origins", () => {
  test("preflight from an allowed origin: 204", async () => {
    const response = await relayFetch(EVENT_PATH, {
      method: "OPTIONS",
      headers: { "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type" },
    });
    assert.equal(response.status, 204);
    assert.equal(response.headers["access-control-allow-origin"], APP_ORIGIN);
    assert.equal(response.headers["access-control-allow-methods"], "POST");
    assert.match(response.headers["access-control-allow-headers"], /^content-type$/i);
    assertNothingForwarded();
  });

  test("preflight from another origin: 403", async () => {
    const response = await relayFetch(EVENT_PATH, {
      method: "OPTIONS",
      origin: OTHER_ORIGIN,
      headers: { "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type" },
    });
    assert.equal(response.status, 403);
    assert.equal(response.headers["access-control-allow-origin"], undefined);
    assert.equal(response.headers["access-control-allow-methods"], undefined);
    assertNothingForwarded();
  });

  for (const [name, origin] of [
    ["another origin", OTHER_ORIGIN],
    ["an allowed host on another scheme", APP_ORIGIN.replace("https:", "http:")],
    ["an allowed origin with a trailing slash", `${APP_ORIGIN}/`],
    ["the origin null", "null"],
    ["no Origin header", null],
  ]) {
    test(`POST from ${name}: 403, nothing sent`, async () => {
      const response = await relayFetch(EVENT_PATH, { origin, body: EVENT });
      assert.equal(response.status, 403);
      assert.equal(response.headers["access-control-allow-origin"], undefined);
      assert.equal(typeof response.json.message, "string");
      assertNothingForwarded();
    });
  }
});

// ---------------------------------------------------------------------------
// Body size

describe("body size", () => {
  test("body of exactly MAX_BODY_BYTES: forwarded", async () => {
    const response = await relayFetch(EVENT_PATH, { body: eventOfSize(MAX_BODY_BYTES) });
    assert.equal(response.status, 200, response.text);
    forwardedRequest(EVENT_PATH);
  });

  test("one byte more: 413, nothing sent", async () => {
    const response = await relayFetch(EVENT_PATH, { body: eventOfSize(MAX_BODY_BYTES + 1) });
    assert.equal(response.status, 413);
    assertAllowedOriginHeaders(response);
    assert.match(response.json.message, /16384 bytes/);
    assertNothingForwarded();
  });

  test("chunked body without Content-Length: 413", async () => {
    const response = await rawRequest(rawHead(["Transfer-Encoding: chunked"]), chunked(eventOfSize(64 * 1024), 1024));
    assert.equal(response.status, 413, response.text);
    assertNothingForwarded();
  });

  test("chunked body with a false Content-Length: 413", async () => {
    const response = await rawRequest(
      rawHead(["Content-Length: 100", "Transfer-Encoding: chunked"]),
      chunked(eventOfSize(MAX_BODY_BYTES + 1), 4096),
    );
    assert.equal(response.status, 413, response.text);
    assertNothingForwarded();
  });

  test("body longer than its Content-Length: cut, nothing sent", async () => {
    const response = await rawRequest(rawHead(["Content-Length: 100"]), eventOfSize(MAX_BODY_BYTES + 1));
    // The relay reads only the 100 declared bytes, which are not a complete JSON object.
    assert.equal(response.status, 400, response.text);
    assertNothingForwarded();
  });
});

// ---------------------------------------------------------------------------
// Validation and other requests

describe("validation", () => {
  test("invalid event: 422 with dotted keys", async () => {
    const response = await relayFetch(EVENT_PATH, {
      body: { organisation_registration_id: "not-a-uuid", serials: ["VENUE0000001", "1234567890123"], parameters: { source: "", nested: { a: 1 } } },
    });
    assert.equal(response.status, 422);
    assertAllowedOriginHeaders(response);
    assert.equal(typeof response.json.message, "string");
    assert.deepEqual(Object.keys(response.json.errors).sort(), [
      "organisation_registration_id",
      "parameters.nested",
      "parameters.source",
      "serials.1",
    ]);
    for (const messages of Object.values(response.json.errors)) assert.ok(messages.every((m) => typeof m === "string"));
    assertNothingForwarded();
  });

  test("invalid workflow run: 422 with its keys", async () => {
    const response = await relayFetch("/v1/workflows/a%2Fb/workflow-runs", { body: { org_reg_id: ORG.toUpperCase().replace("-", "") } });
    assert.equal(response.status, 422);
    assert.deepEqual(Object.keys(response.json.errors).sort(), ["org_reg_id", "workflowId"]);
    assertNothingForwarded();
  });

  test("unknown field: 422", async () => {
    const response = await relayFetch(RUN_PATH, { body: { org_reg_id: ORG, accessToken: "x" } });
    assert.equal(response.status, 422);
    assert.deepEqual(Object.keys(response.json.errors), ["accessToken"]);
    assertNothingForwarded();
  });
});

describe("other requests", () => {
  const cases = [
    { name: "GET", path: EVENT_PATH, method: "GET", status: 405 },
    { name: "PUT", path: RUN_PATH, method: "PUT", body: { org_reg_id: ORG }, status: 405 },
    { name: "an unknown path", path: "/v1/workflows", body: EVENT, status: 404 },
    { name: "a path with a trailing slash", path: `${EVENT_PATH}/`, body: EVENT, status: 404 },
    { name: "a query string", path: `${EVENT_PATH}?x=1`, body: EVENT, status: 404 },
    { name: "a path outside /v1/", path: "/__mock/requests", body: EVENT, status: 404 },
    { name: "a text/plain body", path: EVENT_PATH, body: JSON.stringify(EVENT), headers: { "Content-Type": "text/plain" }, status: 415 },
    { name: "malformed JSON", path: EVENT_PATH, body: "{\"organisation_registration_id\":", status: 400 },
    { name: "a JSON array", path: EVENT_PATH, body: "[]", status: 400 },
    { name: "an empty body", path: EVENT_PATH, body: "", status: 400 },
  ];
  for (const { name, status, ...request } of cases) {
    test(`${name}: ${status}, nothing sent`, async () => {
      const response = await relayFetch(request.path, request);
      assert.equal(response.status, status, response.text);
      assertAllowedOriginHeaders(response);
      assert.equal(typeof response.json.message, "string");
      if (status === 405) assert.equal(response.headers.allow, "POST, OPTIONS");
      assertNothingForwarded();
    });
  }
});

// ---------------------------------------------------------------------------
// Configuration

describe("configuration", () => {
  test("default upstream and PATH_PREFIX", async () => {
    // Every outgoing request of this relay lands here; nothing leaves the machine.
    const outgoing = [];
    const guarded = await startRelay({
      token: TOKEN,
      vars: { ALLOWED_ORIGINS: APP_ORIGIN, PATH_PREFIX: "/stampede" },
      outboundService: async (request) => {
        outgoing.push({ url: request.url, authorization: request.headers.get("Authorization"), body: await request.text() });
        return Response.json({ message: "Event received.", event: {} });
      },
    });
    try {
      const response = await relayFetch(`/stampede${EVENT_PATH}`, { body: EVENT, target: guarded });
      assert.equal(response.status, 200, response.text);
      assert.deepEqual(outgoing, [
        { url: `https://global.stampede.ai${EVENT_PATH}`, authorization: `Bearer ${TOKEN}`, body: JSON.stringify(EVENT) },
      ]);

      const unprefixed = await relayFetch(EVENT_PATH, { body: EVENT, target: guarded });
      assert.equal(unprefixed.status, 404);
      assert.equal(outgoing.length, 1);
    } finally {
      await guarded.close();
    }
  });

  test("invalid settings: 500, nothing sent", async () => {
    const outgoing = [];
    const outboundService = (request) => {
      outgoing.push(request.url);
      return new Response("{}");
    };
    for (const setup of [
      { vars: { ALLOWED_ORIGINS: APP_ORIGIN } },
      { token: TOKEN, vars: { ALLOWED_ORIGINS: "*" } },
      { token: TOKEN, vars: { ALLOWED_ORIGINS: `${APP_ORIGIN}/path` } },
      { token: TOKEN, vars: { ALLOWED_ORIGINS: APP_ORIGIN, MAX_BODY_BYTES: "16kb" } },
    ]) {
      const output = [];
      const broken = await startRelay({ ...setup, outboundService, onOutput: (line) => output.push(line) });
      try {
        const response = await relayFetch(EVENT_PATH, { body: EVENT, target: broken });
        assert.equal(response.status, 500, JSON.stringify(setup));
        assert.match(response.json.message, /configuration is invalid/);
        assert.ok(output.some((line) => /configuration error/.test(line)), `nothing logged for ${JSON.stringify(setup)}`);
        assert.ok(!JSON.stringify(output).includes(TOKEN));
      } finally {
        await broken.close();
      }
    }
    assert.deepEqual(outgoing, []);
  });
});

// ---------------------------------------------------------------------------
// A page in Chromium

/**
 * Writes a page that sends one event through the relay with no token, then a
 * workflow run that the mock rejects with 429, to read its Retry-After.
 */
function writeBrowserPage(dir) {
  writeFileSync(
    join(dir, "index.html"),
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>relay page</title>\n' +
      '<script type="module" src="page.js"></script></head><body></body></html>\n',
  );
  writeFileSync(
    join(dir, "page.js"),
    `import { StampedeClient } from "/pkg/index.js";

const describe = (error) => ({ kind: error.kind, status: error.status, retryAfterMs: error.retryAfterMs, attempts: error.attempts });
const relay = new URLSearchParams(location.search).get("relay");
const client = new StampedeClient({ baseUrl: relay, maxRetries: 0 });
const outcome = {};
try {
  outcome.event = await client.sendIncomingEvent(${JSON.stringify(EVENT)});
} catch (error) {
  outcome.eventError = describe(error);
}
try {
  await client.storeWorkflowRun("welcome-journey", { org_reg_id: "${ORG}" });
  outcome.run = "resolved";
} catch (error) {
  outcome.run = describe(error);
}
window.outcome = outcome;
`,
  );
}

test("Chromium page: event sent without a token", { timeout: 60_000 }, async () => {
  await script({ status: 429, body: { message: "Too Many Requests" }, headers: { "Retry-After": "120" }, path: "workflow-runs" });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const pageErrors = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    // The headers of each exchange with the relay, as the browser sent and
    // received them. Chromium's DevTools protocol returned no bodies for these
    // responses, which the package reads as a stream, so the bodies are checked
    // as the page parsed them.
    const exchanges = [];
    page.on("response", (response) => {
      if (!response.url().startsWith(relay.url)) return;
      const request = response.request();
      exchanges.push(
        Promise.all([request.allHeaders(), response.allHeaders()]).then(([requestHeaders, headers]) => ({
          method: request.method(),
          requestHeaders,
          headers,
        })),
      );
    });

    await page.goto(`${mock.url}?relay=${encodeURIComponent(relay.url)}`, { timeout: REQUEST_TIMEOUT_MS });
    await page.waitForFunction(() => window.outcome !== undefined, null, { timeout: REQUEST_TIMEOUT_MS });
    const outcome = await page.evaluate(() => window.outcome);

    assert.deepEqual(pageErrors, []);
    assert.equal(outcome.eventError, undefined, JSON.stringify(outcome.eventError));
    assert.equal(outcome.event.message, "Event received.");
    assert.deepEqual(outcome.event.event.parameters, EVENT.parameters);
    // Retry-After reached the page's code: the relay exposes it to CORS.
    assert.deepEqual(outcome.run, { kind: "rate_limited", status: 429, retryAfterMs: 120_000, attempts: 1 });

    // The page sent no token, and nothing it received contains one.
    const posts = (await Promise.all(exchanges)).filter((exchange) => exchange.method === "POST");
    assert.equal(posts.length, 2);
    for (const exchange of posts) {
      assert.equal(exchange.requestHeaders.authorization, undefined);
      assertNoToken({ headers: exchange.headers, text: "" });
    }
    const seenInPage = await page.evaluate(() => JSON.stringify(window.outcome) + document.documentElement.outerHTML);
    assertNoToken({ headers: {}, text: seenInPage });

    // The mock got both requests, each with the relay's token.
    const { requests } = mock.state;
    assert.deepEqual(requests.map((request) => request.path), [EVENT_PATH, RUN_PATH]);
    for (const request of requests) assert.equal(request.headers.authorization, `Bearer ${TOKEN}`);
  } finally {
    await browser.close();
  }
});

// ---------------------------------------------------------------------------
// The deployable bundle

// The first run installs the fixture's wrangler with `npm ci`.
const SETUP_TIMEOUT_MS = 600_000;
const WRANGLER_TIMEOUT_MS = 120_000;

/**
 * Runs a command in its own process group with a clean environment and
 * resolves to { code, stdout, stderr }; past timeoutMs the group gets SIGKILL.
 */
function runCommand(command, args, { cwd, env, timeoutMs }) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    const output = { stdout: "", stderr: "" };
    for (const stream of ["stdout", "stderr"]) {
      child[stream].setEncoding("utf8");
      child[stream].on("data", (chunk) => {
        if (output[stream].length < 1 << 20) output[stream] += chunk;
      });
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // The group has already exited.
      }
      reject(new Error(`${command} ${args.join(" ")} ran longer than ${timeoutMs} ms and was killed.\n${output.stderr}`));
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, ...output });
    });
  });
}

describe("the Worker as wrangler deploys it", () => {
  let scratch;

  before(() => {
    scratch = mkdtempSync(join(tmpdir(), "stampede-relay-wrangler-"));
  });
  after(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  test("wrangler bundle relays an event", { timeout: SETUP_TIMEOUT_MS }, async (t) => {
    // The example as a user has it after `npm install stampede-workflows`:
    // its own files, with the packed package and wrangler in node_modules.
    const fixture = installFixture("relay-app");
    const project = join(scratch, "relay");
    mkdirSync(project);
    cpSync(join(RELAY_DIR, "wrangler.toml"), join(project, "wrangler.toml"));
    cpSync(join(RELAY_DIR, "src"), join(project, "src"), { recursive: true });
    symlinkSync(join(fixture, "node_modules"), join(project, "node_modules"), "dir");

    // Offline by setting (no metrics, error reports or update check) and, where
    // permitted, in fact: a network namespace with no route out.
    const isolate = spawnSync("unshare", ["--net", "--", "true"], { stdio: "ignore", timeout: 10_000 }).status === 0;
    if (!isolate) t.diagnostic("unshare --net is not permitted here; relying on wrangler's settings alone");
    const outdir = join(scratch, "dist");
    const wrangler = [process.execPath, join(fixture, "node_modules", "wrangler", "bin", "wrangler.js"), "deploy", "--dry-run", "--outdir", outdir];
    const [command, ...args] = isolate ? ["unshare", "--net", "--", ...wrangler] : wrangler;
    const home = join(scratch, "home");
    mkdirSync(home);
    const outcome = await runCommand(command, args, {
      cwd: project,
      timeoutMs: WRANGLER_TIMEOUT_MS,
      env: {
        PATH: process.env.PATH,
        HOME: home,
        XDG_CONFIG_HOME: join(home, ".config"),
        NO_COLOR: "1",
        WRANGLER_SEND_METRICS: "false",
        WRANGLER_SEND_ERROR_REPORTS: "false",
        WRANGLER_HIDE_BANNER: "true",
        WRANGLER_LOG_PATH: join(scratch, "wrangler-logs"),
      },
    });
    assert.equal(outcome.code, 0, `wrangler failed:\n${outcome.stdout}\n${outcome.stderr}`);
    for (const name of ["STAMPEDE_BASE_URL", "ALLOWED_ORIGINS", "MAX_BODY_BYTES", "STAMPEDE_TIMEOUT_MS", "PATH_PREFIX"]) {
      assert.match(outcome.stdout, new RegExp(`env\\.${name}\\b`), `wrangler.toml's ${name} is not bound`);
    }
    assert.ok(!/env\.STAMPEDE_TOKEN\b/.test(outcome.stdout), "the token must be a secret, not a var of wrangler.toml");
    const wasmFiles = readdirSync(outdir).filter((name) => name.endsWith(".wasm"));
    assert.equal(wasmFiles.length, 1, "the bundle does not ship the package's .wasm as a module");

    // The bundle in workerd, with the vars a test needs instead of the toml's.
    const toml = readFileSync(join(RELAY_DIR, "wrangler.toml"), "utf8");
    const worker = new Miniflare({
      host: "127.0.0.1",
      port: 0,
      modules: true,
      modulesRoot: outdir,
      scriptPath: join(outdir, "index.js"),
      modulesRules: [
        { type: "ESModule", include: ["**/*.js"] },
        { type: "CompiledWasm", include: ["**/*.wasm"] },
      ],
      compatibilityDate: /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)[1],
      bindings: { STAMPEDE_BASE_URL: mock.url, ALLOWED_ORIGINS: APP_ORIGIN, STAMPEDE_TOKEN: TOKEN },
    });
    try {
      const url = String(await worker.ready);
      const response = await relayFetch(EVENT_PATH, { body: EVENT, target: { url } });
      assert.equal(response.status, 200, response.text);
      assert.equal(response.json.message, "Event received.");
      assertAllowedOriginHeaders(response);
      assert.deepEqual(JSON.parse(forwardedRequest(EVENT_PATH).body), EVENT);
      assertNoToken(response);

      const rejected = await relayFetch(EVENT_PATH, { body: EVENT, target: { url }, origin: OTHER_ORIGIN });
      assert.equal(rejected.status, 403);
      assert.equal(mock.state.requests.length, 1);
    } finally {
      await worker.dispose();
    }
  });
});
