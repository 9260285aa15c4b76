// Token safety and request-shape hardening of the built package against the
// mock: the token never leaves in an error or in console output, header and
// token values cannot inject lines, workflow ids stay one path segment, and
// custom headers cannot replace the package's own.
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { after, before, beforeEach, describe, test } from "node:test";

import { startMockServer } from "../../www/mock/server.mjs";
import { StampedeClient, sendIncomingEvent, storeWorkflowRun } from "../../pkg/node.js";

const TOKEN = "sk_live_9f8e7d6c5b4a";
const ORG = "a1b2c3d4-e5f6-7890-abcd-ef1234567890";
const EVENT = { organisation_registration_id: ORG, parameters: { source: "hardening" } };

let mock;
let options;

before(async () => {
  mock = await startMockServer({ port: 0, token: TOKEN });
  options = { baseUrl: mock.url, accessToken: TOKEN, timeoutMs: 2000 };
});

after(async () => {
  await mock.close();
});

beforeEach(async () => {
  const response = await fetch(new URL("__mock/reset", mock.url), { method: "POST" });
  assert.equal(response.status, 200);
});

async function script(...responses) {
  const response = await fetch(new URL("__mock/script", mock.url), { method: "POST", body: JSON.stringify({ responses }) });
  assert.equal(response.status, 200);
}

/** Awaits a rejection and returns it, failing when the promise resolves. */
async function rejection(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected the call to reject");
}

/**
 * Runs `call` with every console method replaced by a recorder, and returns
 * its rejection with what the package printed meanwhile.
 */
async function rejectionWithConsole(call) {
  const printed = [];
  const methods = ["log", "info", "warn", "error", "debug", "trace"];
  const originals = methods.map((method) => console[method]);
  for (const method of methods) console[method] = (...args) => printed.push(args.map((arg) => inspect(arg)).join(" "));
  try {
    return { error: await rejection(call()), printed };
  } finally {
    methods.forEach((method, index) => {
      console[method] = originals[index];
    });
  }
}

function assertNoToken(error, printed) {
  const views = {
    message: error.message,
    string: String(error),
    json: JSON.stringify(error),
    stack: String(error.stack),
    inspect: inspect(error, { depth: 10 }),
    console: printed.join("\n"),
  };
  for (const [view, text] of Object.entries(views)) {
    assert.ok(!text.includes(TOKEN), `the token appears in ${view}: ${text}`);
  }
}

describe("token in errors", () => {
  const echo = { message: `Token ${TOKEN} rejected`, token: TOKEN, escaped: TOKEN.replaceAll("_", "\\u005f") };
  // One scripted failure per error kind that a response can give, each echoing the token.
  const responseKinds = [
    ["bad_request", { status: 400, body: echo }],
    ["unauthorized", { status: 401, body: echo }],
    ["forbidden", { status: 403, body: echo }],
    ["not_found", { status: 404, body: echo }],
    ["unprocessable", { status: 422, body: { ...echo, errors: { token: [TOKEN] } } }],
    ["locked", { status: 423, body: echo }],
    ["rate_limited", { status: 429, headers: { "Retry-After": "120" }, body: echo }],
    ["server", { status: 500, body: `<h1>${TOKEN}</h1>` }],
    ["http", { status: 409, body: echo }],
    ["invalid_response", { status: 200, body: `Bearer ${TOKEN}` }],
    ["network", { status: 200, body: echo, fault: "truncate" }],
    ["timeout", { status: 200, body: echo, delayMs: 1000 }],
  ];

  for (const [kind, response] of responseKinds) {
    test(`${kind} error never shows the token`, async () => {
      await script(response);
      const { error, printed } = await rejectionWithConsole(() =>
        sendIncomingEvent(EVENT, { ...options, timeoutMs: kind === "timeout" ? 100 : 2000 }),
      );

      assert.equal(error.kind, kind);
      assertNoToken(error, printed);
      assert.deepEqual(printed, [], "the package printed to the console");
    });
  }

  test("aborted error never shows the token", async () => {
    await script({ delayMs: 1000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error(`aborted ${TOKEN}`)), 50);
    const { error, printed } = await rejectionWithConsole(() => sendIncomingEvent(EVENT, { ...options, signal: controller.signal }));

    assert.equal(error.kind, "aborted");
    assertNoToken(error, printed);
  });

  test("validation error never shows the token", async () => {
    const { error, printed } = await rejectionWithConsole(() =>
      sendIncomingEvent({ organisation_registration_id: TOKEN }, { ...options, headers: { [TOKEN]: "x", "X-Token": `${TOKEN}\n` } }),
    );

    assert.equal(error.kind, "validation");
    assert.equal(mock.state.requests.length, 0);
    // A token the caller also put into a field or header name is that caller's data; only the option is secret.
    assert.ok(!error.errors.accessToken, JSON.stringify(error.errors));
    assert.deepEqual(printed, []);
  });
});

describe("line breaks and control characters", () => {
  const tokens = [`${TOKEN}\r\nX-Injected: 1`, `${TOKEN}\n`, `\r${TOKEN}`, `${TOKEN}\0`, `${TOKEN} extra`, `${TOKEN}\t`];
  for (const token of tokens) {
    test(`token ${JSON.stringify(token.replace(TOKEN, "<token>"))} is rejected before sending`, async () => {
      const error = await rejection(sendIncomingEvent(EVENT, { ...options, accessToken: token }));

      assert.equal(error.kind, "validation");
      assert.ok(error.errors.accessToken);
      assert.ok(!error.message.includes(TOKEN));
      assert.equal(mock.state.requests.length, 0);
    });
  }

  const values = ["a\r\nX-Injected: 1", "a\n", "\ra", "a\0b", " padded", "padded ", "tab\tinside", "ünïcode"];
  for (const value of values) {
    test(`header value ${JSON.stringify(value)} is rejected before sending`, async () => {
      const error = await rejection(sendIncomingEvent(EVENT, { ...options, headers: { "X-Request-Id": value } }));

      assert.equal(error.kind, "validation");
      assert.ok(error.errors["headers.X-Request-Id"], JSON.stringify(error.errors));
      assert.equal(mock.state.requests.length, 0);
    });
  }

  test("header name with a line break is rejected", async () => {
    const error = await rejection(sendIncomingEvent(EVENT, { ...options, headers: { "X-A\r\nX-B": "1" } }));

    assert.equal(error.kind, "validation");
    assert.equal(mock.state.requests.length, 0);
  });
});

describe("workflow id path segment", () => {
  const rejected = ["..", ".", "/", "a/b", "../admin", "", " padded", "line\nbreak"];
  for (const workflowId of rejected) {
    test(`workflow id ${JSON.stringify(workflowId)} is rejected`, async () => {
      const error = await rejection(storeWorkflowRun(workflowId, { org_reg_id: ORG }, options));

      assert.equal(error.kind, "validation");
      assert.ok(error.errors.workflowId);
      assert.equal(mock.state.requests.length, 0);
    });
  }

  const encoded = ["%2e%2e", "%2F", "\\", "..\\admin", "a?b=1", "a#b", "a b", "ünï", "😀", "w".repeat(10_000), "...", "%00"];
  for (const workflowId of encoded) {
    const name = workflowId.length > 20 ? `${workflowId.length} characters` : JSON.stringify(workflowId);
    test(`workflow id ${name} stays one path segment`, async () => {
      const error = await rejection(storeWorkflowRun(workflowId, { org_reg_id: ORG }, options));

      assert.equal(error.kind, "not_found");
      assert.equal(mock.state.requests.length, 1);
      const path = mock.state.requests[0].path;
      assert.ok(!/[?#]/.test(path), `the path has a query or fragment: ${path}`);
      const segments = path.split("/");
      assert.equal(segments.length, 5, `path ${path}`);
      assert.deepEqual([segments[0], segments[1], segments[2], segments[4]], ["", "v1", "workflows", "workflow-runs"]);
      assert.equal(decodeURIComponent(segments[3]), workflowId);
    });
  }
});

describe("base URL", () => {
  const cleartext = ["http://example.com", "http://global.stampede.ai", "http://10.0.0.1:8080", "http://localhost.example.com"];
  for (const baseUrl of cleartext) {
    test(`http to ${new URL(baseUrl).host} is rejected`, async () => {
      let called = false;
      const fetch = async () => {
        called = true;
        return new Response("{}");
      };
      const error = await rejection(sendIncomingEvent(EVENT, { ...options, baseUrl, fetch }));

      assert.equal(error.kind, "validation");
      assert.match(error.errors.baseUrl[0], /must use https unless the host is loopback/);
      assert.equal(called, false);
    });
  }
});

describe("custom headers", () => {
  const reserved = ["Authorization", "authorization", "AUTHORIZATION", "Content-Type", "content-type", "Accept", "Content-Length", "Host"];
  for (const name of reserved) {
    test(`${name} cannot be set as a custom header`, async () => {
      const error = await rejection(sendIncomingEvent(EVENT, { ...options, headers: { [name]: "Bearer other" } }));

      assert.equal(error.kind, "validation");
      assert.match(error.errors[`headers.${name}`][0], /is set by the package and cannot be replaced/);
      assert.equal(mock.state.requests.length, 0);
    });
  }

  test("other custom headers are sent beside the package's", async () => {
    const client = new StampedeClient({ ...options, headers: { "X-Request-Id": "req-1", "User-Agent": "shop/1.0" } });
    await client.sendIncomingEvent(EVENT);

    const { headers } = mock.state.requests[0];
    assert.equal(headers["x-request-id"], "req-1");
    assert.equal(headers["user-agent"], "shop/1.0");
    assert.equal(headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(headers["content-type"], "application/json");
    assert.equal(headers.accept, "application/json");
  });
});
