// End-to-end tests of the built package (pkg/node.js) against the mock
// Stampede API: both endpoints, every error kind, retries and token safety.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, beforeEach, describe, test } from "node:test";

import { startMockServer } from "../../www/mock/server.mjs";
import {
  StampedeClient,
  StampedeError,
  sendIncomingEvent,
  storeWorkflowRun,
  validateIncomingEvent,
  validateWorkflowRun,
} from "../../pkg/node.js";

const TOKEN = "demo-token";
const ORG = "a1b2c3d4-e5f6-7890-abcd-ef1234567890";
const EVENT = {
  organisation_registration_id: ORG,
  serials: ["VENUE0000001"],
  parameters: { source: "pos", amount: 12.5, member: true },
};

let mock;
let options;

before(async () => {
  mock = await startMockServer({ port: 0 });
  options = { baseUrl: mock.url, accessToken: TOKEN, timeoutMs: 5000 };
});

after(async () => {
  await mock.close();
});

beforeEach(async () => {
  await control("reset");
});

async function control(name, body) {
  const init = body === undefined ? { method: "POST" } : { method: "POST", body: JSON.stringify(body) };
  const response = await fetch(new URL(`__mock/${name}`, mock.url), init);
  assert.equal(response.status, 200, `mock control ${name} failed`);
}

async function script(...responses) {
  await control("script", { responses });
}

async function recordedRequests() {
  const response = await fetch(new URL("__mock/requests", mock.url));
  return (await response.json()).requests;
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

function assertNoToken(error, token = TOKEN) {
  const views = {
    message: error.message,
    string: String(error),
    json: JSON.stringify(error),
    stack: String(error.stack),
    body: JSON.stringify(error.body ?? null),
  };
  for (const [view, text] of Object.entries(views)) {
    assert.ok(!text.includes(token), `the token appears in ${view}: ${text}`);
  }
}

describe("sendIncomingEvent", () => {
  test("sends the event and returns the 200 body", async () => {
    const response = await sendIncomingEvent(EVENT, options);

    assert.equal(typeof response.message, "string");
    assert.equal(typeof response.event, "object");
    assert.doesNotThrow(() => JSON.stringify(response));
    assert.equal(Object.getPrototypeOf(response), Object.prototype);

    const [request, ...others] = await recordedRequests();
    assert.equal(others.length, 0);
    assert.equal(request.method, "POST");
    assert.equal(request.path, "/v1/workflows/incoming-event");
    assert.equal(request.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(request.headers["content-type"], "application/json");
    assert.equal(request.headers.accept, "application/json");
    assert.deepEqual(JSON.parse(request.body), EVENT);
  });

  test("omits absent optional fields", async () => {
    await sendIncomingEvent({ organisation_registration_id: ORG, serials: undefined, parameters: null }, options);

    const [request] = await recordedRequests();
    assert.deepEqual(JSON.parse(request.body), { organisation_registration_id: ORG });
  });

  test("sends a token given with a Bearer prefix once", async () => {
    await sendIncomingEvent(EVENT, { ...options, accessToken: `Bearer ${TOKEN}` });

    const [request] = await recordedRequests();
    assert.equal(request.headers.authorization, `Bearer ${TOKEN}`);
  });

  test("keeps a base URL path prefix", async () => {
    const relay = await startMockServer({ port: 0, apiBasePath: "/relay" });
    try {
      const response = await sendIncomingEvent(EVENT, { ...options, baseUrl: `${relay.url}relay/` });

      assert.equal(typeof response.message, "string");
      assert.equal(relay.state.requests.length, 1);
      assert.equal(relay.state.requests[0].path, "/relay/v1/workflows/incoming-event");
    } finally {
      await relay.close();
    }
  });
});

describe("storeWorkflowRun", () => {
  test("stores a run and returns its data", async () => {
    const response = await storeWorkflowRun("welcome-journey", { org_reg_id: ORG }, options);

    const run = response.data;
    for (const field of ["id", "org_reg_id", "status", "profile", "trigger", "event", "nodes_processed", "created_at", "updated_at"]) {
      assert.ok(field in run, `data.${field} is missing`);
    }
    assert.equal(run.org_reg_id, ORG);
    const [request] = await recordedRequests();
    assert.equal(request.path, "/v1/workflows/welcome-journey/workflow-runs");
    assert.deepEqual(JSON.parse(request.body), { org_reg_id: ORG });
  });

  test("encodes the workflow id as one path segment", async () => {
    await rejection(storeWorkflowRun("a b?c#d%e\\f", { org_reg_id: ORG }, options));

    const [request] = await recordedRequests();
    assert.equal(request.path, "/v1/workflows/a%20b%3Fc%23d%25e%5Cf/workflow-runs");
  });

  test("unknown workflow gives not_found", async () => {
    const error = await rejection(storeWorkflowRun("no-such-workflow", { org_reg_id: ORG }, options));

    assert.equal(error.kind, "not_found");
    assert.equal(error.status, 404);
    assert.equal(error.attempts, 1);
    assert.match(error.message, /404/);
  });

  test("repeated run in the waiting period gives locked", async () => {
    await storeWorkflowRun("birthday-reward", { org_reg_id: ORG }, options);
    const error = await rejection(storeWorkflowRun("birthday-reward", { org_reg_id: ORG }, options));

    assert.equal(error.kind, "locked");
    assert.equal(error.status, 423);
    assert.equal(error.attempts, 1);
    assert.equal(typeof error.body.message, "string");
    assert.ok(error.message.includes(error.body.message), error.message);
  });
});

describe("responses by status", () => {
  const cases = [
    { status: 400, kind: "bad_request", body: { message: "Malformed JSON." } },
    { status: 403, kind: "forbidden", body: { message: "This action is unauthorized." } },
    { status: 404, kind: "not_found", body: { message: "Not Found" } },
    { status: 405, kind: "http", body: { message: "Method not allowed." } },
    {
      status: 422,
      kind: "unprocessable",
      body: { message: "The serials.0 field is invalid.", errors: { "serials.0": ["The serials.0 field is invalid."] } },
    },
    { status: 423, kind: "locked", body: { message: "The user is in the waiting period." } },
    { status: 500, kind: "server", body: { message: "Server Error" } },
    { status: 504, kind: "server", body: { message: "Gateway Timeout" } },
  ];

  for (const { status, kind, body } of cases) {
    test(`${status} gives ${kind} without a retry`, async () => {
      await script({ status, body });
      const error = await rejection(sendIncomingEvent(EVENT, options));

      assert.ok(error instanceof StampedeError);
      assert.ok(error instanceof Error);
      assert.equal(error.name, "StampedeError");
      assert.equal(error.kind, kind);
      assert.equal(error.status, status);
      assert.equal(error.attempts, 1);
      assert.deepEqual(error.body, body);
      assert.ok(error.message.includes(String(status)), error.message);
      assert.ok(error.message.includes(body.message), error.message);
      assert.deepEqual(error.errors, body.errors);
      assert.equal((await recordedRequests()).length, 1);
    });
  }

  test("401 from a wrong token gives unauthorized", async () => {
    const error = await rejection(sendIncomingEvent(EVENT, { ...options, accessToken: "wrong-token" }));

    assert.equal(error.kind, "unauthorized");
    assert.equal(error.status, 401);
    assert.equal(error.attempts, 1);
    assert.deepEqual(error.body, { message: "Unauthenticated." });
    assertNoToken(error, "wrong-token");
  });

  test("429 with a long Retry-After is not waited for", async () => {
    await script({ status: 429, headers: { "Retry-After": "120" }, body: { message: "Too Many Attempts." } });
    const error = await rejection(sendIncomingEvent(EVENT, options));

    assert.equal(error.kind, "rate_limited");
    assert.equal(error.status, 429);
    assert.equal(error.retryAfterMs, 120_000);
    assert.equal(error.attempts, 1);
  });

  test("429 with a short Retry-After is retried", async () => {
    await script({ status: 429, headers: { "Retry-After": "0" } });
    const response = await sendIncomingEvent(EVENT, options);

    assert.equal(typeof response.message, "string");
    assert.equal((await recordedRequests()).length, 2);
  });

  test("503 is retried up to maxRetries", async () => {
    const unavailable = { status: 503, headers: { "Retry-After": "0" } };
    await script(unavailable, unavailable, unavailable, unavailable);
    const error = await rejection(sendIncomingEvent(EVENT, { ...options, maxRetries: 2 }));

    assert.equal(error.kind, "server");
    assert.equal(error.status, 503);
    assert.equal(error.attempts, 3);
    assert.equal(error.retryAfterMs, 0);
    assert.equal((await recordedRequests()).length, 3);
  });

  test("HTML 502 gives server with a text excerpt", async () => {
    const html = `<html><body><h1>502 Bad Gateway</h1>${"x".repeat(2000)}</body></html>`;
    await script({ status: 502, headers: { "Content-Type": "text/html" }, body: html });
    const error = await rejection(sendIncomingEvent(EVENT, options));

    assert.equal(error.kind, "server");
    assert.equal(error.status, 502);
    assert.equal(error.attempts, 1);
    assert.equal(typeof error.body, "string");
    assert.ok(error.body.startsWith("<html><body><h1>502 Bad Gateway</h1>"));
    assert.ok(error.body.length <= 501, `body excerpt is ${error.body.length} characters`);
    assert.match(error.message, /502 Bad Gateway\.$/);
  });

  test("502 is retried only with retryAmbiguous", async () => {
    await script({ status: 502 });
    const response = await sendIncomingEvent(EVENT, { ...options, retryAmbiguous: true });

    assert.equal(typeof response.message, "string");
    assert.equal((await recordedRequests()).length, 2);
  });

  for (const status of [301, 302, 307, 308]) {
    test(`${status} redirect is not followed`, async () => {
      const target = await startMockServer({ port: 0, token: TOKEN });
      try {
        await script({ status, headers: { Location: `${target.url}v1/workflows/incoming-event` }, body: "" });
        const error = await rejection(sendIncomingEvent(EVENT, options));

        assert.equal(error.kind, "http");
        assert.equal(error.status, status);
        assert.equal(error.attempts, 1);
        assert.match(error.message, /does not follow redirects/);
        assert.equal(target.state.requests.length, 0, "the redirect target received a request");
      } finally {
        await target.close();
      }
    });
  }

  test("2xx body that is not an object gives invalid_response", async () => {
    await script({ status: 200, body: [1, 2] });
    const error = await rejection(sendIncomingEvent(EVENT, options));

    assert.equal(error.kind, "invalid_response");
    assert.equal(error.status, 200);
    assert.deepEqual(error.body, [1, 2]);
  });

  test("unknown success fields are kept", async () => {
    await script({ status: 200, body: { message: "ok", event: { id: "e1" }, extra: { nested: [1] } } });
    const response = await sendIncomingEvent(EVENT, options);

    assert.deepEqual(response, { message: "ok", event: { id: "e1" }, extra: { nested: [1] } });
  });
});

describe("failures without a response", () => {
  test("closed port gives network", async () => {
    const closed = await startMockServer({ port: 0 });
    await closed.close();
    const error = await rejection(sendIncomingEvent(EVENT, { ...options, baseUrl: closed.url }));

    assert.equal(error.kind, "network");
    assert.equal(error.attempts, 1);
    assert.equal(error.status, undefined);
    assert.ok(error.message.includes(closed.url.slice(0, -1)), error.message);
  });

  test("slow response gives timeout", async () => {
    await script({ delayMs: 2000 });
    const error = await rejection(sendIncomingEvent(EVENT, { ...options, timeoutMs: 100 }));

    assert.equal(error.kind, "timeout");
    assert.equal(error.attempts, 1);
    assert.match(error.message, /100 ms/);
  });

  test("fetch that ignores its signal still times out", async () => {
    const ignoresSignal = () => new Promise(() => {});
    const error = await rejection(sendIncomingEvent(EVENT, { ...options, fetch: ignoresSignal, timeoutMs: 50 }));

    assert.equal(error.kind, "timeout");
    assert.equal(error.attempts, 1);
  });

  test("body that never ends times out", async () => {
    const endlessBody = async () => ({ status: 200, headers: new Headers(), text: () => new Promise(() => {}) });
    const error = await rejection(sendIncomingEvent(EVENT, { ...options, fetch: endlessBody, timeoutMs: 50 }));

    assert.equal(error.kind, "timeout");
  });

  test("abort during a request gives aborted", async () => {
    await script({ delayMs: 2000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const error = await rejection(sendIncomingEvent(EVENT, { ...options, signal: controller.signal }));

    assert.equal(error.kind, "aborted");
    assert.equal(error.attempts, 1);
  });

  test("abort during a retry delay gives aborted", async () => {
    await script({ status: 503, headers: { "Retry-After": "10" } });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    const error = await rejection(sendIncomingEvent(EVENT, { ...options, signal: controller.signal }));

    assert.equal(error.kind, "aborted");
    assert.equal(error.attempts, 1);
    assert.ok(Date.now() - started < 5000, "the retry delay was not cut short");
    assert.equal((await recordedRequests()).length, 1);
  });

  test("aborted signal gives aborted and sends nothing", async () => {
    const error = await rejection(sendIncomingEvent(EVENT, { ...options, signal: AbortSignal.abort() }));

    assert.equal(error.kind, "aborted");
    assert.equal(error.attempts, 0);
    assert.equal((await recordedRequests()).length, 0);
  });
});

describe("validation", () => {
  const invalid = [
    ["missing organisation id", {}, "organisation_registration_id"],
    ["braced UUID", { organisation_registration_id: `{${ORG}}` }, "organisation_registration_id"],
    ["13-character serial", { organisation_registration_id: ORG, serials: ["1234567890123"] }, "serials.0"],
    ["null parameter", { organisation_registration_id: ORG, parameters: { key: null } }, "parameters.key"],
    ["nested parameter", { organisation_registration_id: ORG, parameters: { key: { a: 1 } } }, "parameters.key"],
    ["empty source", { organisation_registration_id: ORG, parameters: { source: "" } }, "parameters.source"],
  ];

  for (const [name, event, key] of invalid) {
    test(`${name} is rejected before sending`, async () => {
      const result = validateIncomingEvent(event);
      assert.equal(result.valid, false);
      assert.ok(result.errors[key], `no error under ${key}: ${JSON.stringify(result.errors)}`);

      const error = await rejection(sendIncomingEvent(event, options));
      assert.equal(error.kind, "validation");
      assert.equal(error.attempts, 0);
      assert.deepEqual(error.errors, result.errors);
      assert.equal(error.message, result.message);
      assert.equal((await recordedRequests()).length, 0);
    });
  }

  test("workflow run errors use the API keys", async () => {
    const result = validateWorkflowRun("../admin", { org_reg_id: "nope" });

    assert.equal(result.valid, false);
    assert.deepEqual(Object.keys(result.errors), ["workflowId", "org_reg_id"]);
    const error = await rejection(storeWorkflowRun("a/b", { org_reg_id: ORG }, options));
    assert.equal(error.kind, "validation");
    assert.deepEqual(Object.keys(error.errors), ["workflowId"]);
    assert.equal((await recordedRequests()).length, 0);
  });

  test("valid input gives valid true", () => {
    assert.deepEqual(validateIncomingEvent(EVENT), { valid: true });
    assert.deepEqual(validateWorkflowRun("welcome-journey", { org_reg_id: ORG }), { valid: true });
  });

  test("bad options are reported with the input errors", async () => {
    const error = await rejection(
      sendIncomingEvent({ organisation_registration_id: "x" }, { ...options, baseUrl: "http://example.com", maxRetries: "3" }),
    );

    assert.deepEqual(Object.keys(error.errors).sort(), ["baseUrl", "maxRetries", "organisation_registration_id"]);
    assert.match(error.message, /\(and 2 more errors\)$/);
  });

  test("token with a line break is rejected without quoting it", async () => {
    const error = await rejection(sendIncomingEvent(EVENT, { ...options, accessToken: "sec\nret" }));

    assert.equal(error.kind, "validation");
    assert.ok(error.errors.accessToken);
    assertNoToken(error, "sec\nret");
    assert.equal((await recordedRequests()).length, 0);
  });

  test("client without a token for Stampede throws", () => {
    assert.throws(() => new StampedeClient({}), (error) => {
      assert.ok(error instanceof StampedeError);
      assert.equal(error.kind, "validation");
      assert.ok(error.errors.accessToken);
      return true;
    });
  });
});

describe("StampedeClient", () => {
  test("100 concurrent calls on one client all succeed", async () => {
    const client = new StampedeClient(options);
    const calls = Array.from({ length: 100 }, (_, index) =>
      client.sendIncomingEvent({ organisation_registration_id: ORG, parameters: { index } }),
    );
    const responses = await Promise.all(calls);

    assert.equal(responses.length, 100);
    const indexes = (await recordedRequests()).map((request) => JSON.parse(request.body).parameters.index);
    assert.deepEqual(indexes.sort((a, b) => a - b), Array.from({ length: 100 }, (_, index) => index));
  });

  test("fetch rejecting after a synchronous abort is handled", async () => {
    const unhandled = [];
    const onUnhandled = (reason) => unhandled.push(String(reason));
    process.on("unhandledRejection", onUnhandled);
    try {
      const controller = new AbortController();
      // The caller's signal aborts inside fetch, before fetch's promise is awaited.
      const fetch = () => {
        controller.abort();
        return Promise.reject(new Error("fetch gave up"));
      };
      const error = await rejection(sendIncomingEvent(EVENT, { ...options, fetch, signal: controller.signal }));
      // Unhandled rejections are reported on a later tick.
      await new Promise((resolve) => setTimeout(resolve, 50));

      assert.equal(error.kind, "aborted");
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }

    assert.deepEqual(unhandled, []);
  });

  test("calls sharing one signal cause no listener warning", async () => {
    const warnings = [];
    const onWarning = (warning) => warnings.push(warning.name);
    process.on("warning", onWarning);
    try {
      const client = new StampedeClient(options);
      const shared = new AbortController();
      const calls = Array.from({ length: 30 }, () => client.sendIncomingEvent(EVENT, { signal: shared.signal }));
      await Promise.all(calls);
      // Warnings are emitted on a later tick.
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      process.off("warning", onWarning);
    }

    assert.deepEqual(warnings, []);
  });

  test("a lasting shared signal keeps nothing per call", () => {
    // A child with --expose-gc makes 60,000 calls that share one signal, with a
    // fetch that responds at once, and prints how much heapUsed grew after GC.
    // Kept per call, even 30 bytes would add 1.7 MiB.
    const script = `
      import { StampedeClient } from ${JSON.stringify(new URL("../../pkg/node.js", import.meta.url).href)};
      const body = JSON.stringify({ message: "Event received.", event: {} });
      const fetch = async () => new Response(body, { status: 200, headers: { "content-length": String(body.length) } });
      const client = new StampedeClient({ baseUrl: "http://127.0.0.1:9", accessToken: "token", fetch });
      const signal = new AbortController().signal;
      const event = ${JSON.stringify(EVENT)};
      const heap = async () => {
        for (let i = 0; i < 3; i += 1) {
          globalThis.gc();
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        return process.memoryUsage().heapUsed;
      };
      const run = async (calls) => {
        for (let i = 0; i < calls; i += 20) {
          await Promise.all(Array.from({ length: 20 }, () => client.sendIncomingEvent(event, { signal })));
        }
      };
      await run(10_000);
      const before = await heap();
      await run(60_000);
      console.log(await heap() - before);
    `;
    const child = spawnSync(process.execPath, ["--expose-gc", "--input-type=module", "--eval", script], {
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(child.status, 0, child.stderr);
    const growth = Number(child.stdout.trim());

    assert.ok(growth < 1024 * 1024, `heapUsed grew ${growth} bytes over 60,000 calls`);
  });

  test("request options replace the client's", async () => {
    const client = new StampedeClient({ ...options, maxRetries: 0 });
    await script({ status: 503, headers: { "Retry-After": "0" } });
    const response = await client.storeWorkflowRun("42", { org_reg_id: ORG }, { maxRetries: 1 });

    assert.equal(response.data.org_reg_id, ORG);
    assert.equal((await recordedRequests()).length, 2);
  });

  test("client options are rejected per call", async () => {
    const client = new StampedeClient(options);
    const error = await rejection(client.sendIncomingEvent(EVENT, { baseUrl: mock.url }));

    assert.equal(error.kind, "validation");
    assert.ok(error.errors.baseUrl);
  });
});

describe("failures after the response arrived", () => {
  test("body that fails to read gives network with the status", async () => {
    const brokenBody = async () => {
      const body = new ReadableStream({
        pull(controller) {
          controller.error(new TypeError("terminated"));
        },
      });
      return new Response(body, { status: 200 });
    };
    const error = await rejection(sendIncomingEvent(EVENT, { ...options, fetch: brokenBody, retryAmbiguous: true }));

    assert.equal(error.kind, "network");
    assert.equal(error.status, 200);
    assert.equal(error.attempts, 1, "a 200 was processed, so it is never retried");
    assert.match(error.message, /returned 200, but its body could not be read: terminated/);
  });

  test("fetch resolving to a non-Response gives network", async () => {
    const error = await rejection(sendIncomingEvent(EVENT, { ...options, fetch: async () => ({}) }));

    assert.equal(error.kind, "network");
    assert.equal(error.status, undefined);
    assert.match(error.message, /not a Response/);
  });
});

describe("token safety", () => {
  test("fetch error quoting the token is redacted in its cause", async () => {
    const leakyFetch = async () => {
      throw new TypeError(`connect failed for Bearer ${TOKEN}`, { cause: new Error(`header ${TOKEN}`) });
    };
    const error = await rejection(sendIncomingEvent(EVENT, { ...options, fetch: leakyFetch }));

    assert.equal(error.kind, "network");
    assertNoToken(error);
    assert.ok(error.cause instanceof Error);
    assert.ok(!String(error.cause.message).includes(TOKEN), error.cause.message);
    assert.ok(!String(error.cause.stack).includes(TOKEN));
    assert.equal(error.cause.cause, undefined);
  });

  test("fetch error without the token keeps its cause", async () => {
    const original = new TypeError("fetch failed");
    const error = await rejection(sendIncomingEvent(EVENT, { ...options, fetch: async () => Promise.reject(original) }));

    assert.equal(error.cause, original);
  });

  test("no error exposes the token", async () => {
    const echo = { message: `Token ${TOKEN} is not allowed here`, token: TOKEN };
    const failures = [
      { status: 400, body: echo },
      { status: 422, body: { ...echo, errors: { token: [TOKEN] } } },
      { status: 500, body: `<p>${TOKEN}</p>` },
      { status: 200, body: `not json ${TOKEN}` },
    ];
    for (const failure of failures) {
      await script(failure);
      const error = await rejection(sendIncomingEvent(EVENT, options));
      assert.notEqual(error.kind, "validation");
      assertNoToken(error);
    }
  });
});
