// Fuzz of the built package (pkg/node.js) with generated JavaScript values,
// given to the two validators, both send functions and the StampedeClient.
// The values include cyclic objects, throwing getters and Proxy traps,
// revoked Proxies, 1 MB strings, deep nesting and symbols. They also include
// frozen and null-prototype objects, sparse and huge arrays, BigInts,
// built-ins, class instances, unpaired surrogates and numbers at every edge.
//
// Only documented results pass: a validator returns { valid: true } or
// { valid: false, message, errors }; a send rejects only with a
// StampedeError of a documented kind, of kind "validation" whenever the
// validator calls the input invalid, and then without calling fetch; the
// constructor throws only a "validation" StampedeError. A wasm trap fails the
// case, and after every batch a known-good call must still work.
//
// Nothing leaves the process: every send gets a fake fetch that counts its
// calls, the base URL is 127.0.0.1, and globalThis.fetch is replaced by the
// same kind of fake for the cases whose options lose their fetch.
//
//   FUZZ_CASES=100000 node --test tests/js/fuzz.test.mjs   more cases (default 3000)
//   FUZZ_SEED=1234 FUZZ_ONLY=567 node --test ...          one failing case again
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { inspect } from "node:util";

import {
  StampedeClient,
  StampedeError,
  sendIncomingEvent,
  storeWorkflowRun,
  validateIncomingEvent,
  validateWorkflowRun,
} from "../../pkg/node.js";

const CASES = wholeNumber("FUZZ_CASES", 3000);
const SEED = wholeNumber("FUZZ_SEED", Math.floor(Math.random() * 2 ** 32)) >>> 0;
const ONLY = process.env.FUZZ_ONLY === undefined ? undefined : wholeNumber("FUZZ_ONLY", 0);
/** Cases between two known-good calls. */
const BATCH = 250;
/** The maximum time a call may take before the case fails as hung. */
const SETTLE_LIMIT_MS = 15_000;

const ORG = "a1b2c3d4-e5f6-7890-abcd-ef1234567890";
const TOKEN = "fuzz-token-5c0ffee0d15ea5e";
const BASE_URL = "http://127.0.0.1:9";
const GOOD_EVENT = { organisation_registration_id: ORG, serials: ["VENUE0000001"], parameters: { source: "pos", amount: 12.5 } };
const KINDS = new Set([
  "validation", "bad_request", "unauthorized", "forbidden", "not_found", "unprocessable", "locked", "rate_limited",
  "server", "http", "network", "timeout", "aborted", "invalid_response",
]);

function wholeNumber(name, fallback) {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a whole number, got ${text}`);
  return value;
}

// ---------------------------------------------------------------------------
// Fetch fakes: they count every call, respond 200 with a JSON object and send nothing.

const calls = { option: 0, global: 0 };

function accepted() {
  return Promise.resolve(
    new Response('{"message":"accepted"}', { status: 200, headers: { "content-type": "application/json" } }),
  );
}

function fakeFetch() {
  calls.option += 1;
  return accepted();
}

const sent = () => calls.option + calls.global;

/** How the cases ended, printed at the end so a change in the generator shows. */
const tally = { validEvents: 0, validRuns: 0, resolved: 0, rejected: {} };
const realFetch = globalThis.fetch;

before(() => {
  globalThis.fetch = function guardFetch() {
    calls.global += 1;
    return accepted();
  };
});

after(() => {
  globalThis.fetch = realFetch;
});

// ---------------------------------------------------------------------------
// A seeded generator. Each case has its own stream, so FUZZ_SEED and
// FUZZ_ONLY replay one case without the others.

class Random {
  constructor(seed) {
    this.state = seed >>> 0;
  }

  /** mulberry32: a float in [0, 1). */
  next() {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }

  below(bound) {
    return Math.floor(this.next() * bound);
  }

  chance(probability) {
    return this.next() < probability;
  }

  pick(list) {
    return list[this.below(list.length)];
  }
}

function caseRandom(index) {
  return new Random(Math.imul(SEED ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35));
}

const EDGE_NUMBERS = [
  0, -0, NaN, Infinity, -Infinity, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, -Number.MIN_VALUE,
  Number.EPSILON, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, Number.MAX_SAFE_INTEGER + 2,
  Number.MIN_SAFE_INTEGER, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53, 2 ** 64, 2 ** 1023, 1e21, 1e-7, 0.1,
  0.5, -0.5, 1, -1, 2, 10, 11, 12, 13, 1000, 1001, 30_000, 30_001, 2147483646.5,
];
const BIGINTS = [0n, 1n, -1n, 2n ** 64n, -(2n ** 1000n)];
const SYMBOLS = [Symbol(), Symbol("organisation_registration_id"), Symbol.iterator, Symbol.for("fuzz"), Symbol.toStringTag];
const PIECES = [
  "a", "Z", "0", "9", "-", "_", ".", "..", "/", "?", "#", "%", "%2F", "%2e", " ", "\t", "\n", "\r", "\0", "\u007f",
  "\u0085", "é", "ß", "İ", "\u212a", "\u0301", "\u200b", "\ufeff", "\ufffd", "\u202e", "\u05d0", "😀", "\u{10ffff}",
  "\ud800", "\udfff", '"', "\\", "<", "[redacted]", "Bearer ", "https://", "http://", "127.0.0.1", "localhost",
  "urn:uuid:", "{", "}", ORG, "VENUE0000001", "source", "__proto__",
];
const KEYS = [
  "organisation_registration_id", "serials", "parameters", "org_reg_id", "source", "accessToken", "baseUrl",
  "timeoutMs", "totalTimeoutMs", "maxRetries", "retryAmbiguous", "fetch", "headers", "signal", "__proto__",
  "constructor", "toString", "valueOf", "toJSON", "then", "length", "0", "", "X-Request-Id", "Authorization",
];

/** Values that are costly to build, made once. */
const shared = new Map();
function once(name, make) {
  if (!shared.has(name)) shared.set(name, make());
  return shared.get(name);
}

const MB = 1024 * 1024;
const LONG_STRINGS = {
  ascii: () => once("ascii", () => "x".repeat(MB)),
  accented: () => once("accented", () => "é".repeat(MB)),
  emoji: () => once("emoji", () => "😀".repeat(MB / 2)),
  surrogate: () => once("surrogate", () => `${"y".repeat(MB - 1)}\ud800`),
  uuids: () => once("uuids", () => ORG.repeat(Math.ceil(MB / ORG.length))),
};

/** Sets an own property, so "__proto__" is a key like any other, not the prototype. */
function put(object, key, value) {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}

class Generator {
  constructor(random) {
    this.random = random;
    /** What was chosen, for the failure message. */
    this.trail = [];
  }

  note(name) {
    if (this.trail.length < 40) this.trail.push(name);
  }

  number() {
    const r = this.random;
    switch (r.below(4)) {
      case 0:
      case 1:
        return r.pick(EDGE_NUMBERS);
      case 2: {
        // Any bit pattern: subnormals, NaN payloads, huge and tiny numbers.
        const view = new DataView(new ArrayBuffer(8));
        view.setUint32(0, r.below(2 ** 32));
        view.setUint32(4, r.below(2 ** 32));
        return view.getFloat64(0);
      }
      default:
        return r.below(40) - 5;
    }
  }

  string() {
    const r = this.random;
    const roll = r.below(50);
    if (roll === 0) {
      const kind = r.pick(Object.keys(LONG_STRINGS));
      this.note(`long ${kind} string`);
      return LONG_STRINGS[kind]();
    }
    if (roll === 1) return ORG;
    if (roll === 2) return r.pick([`{${ORG}}`, `urn:uuid:${ORG}`, ORG.replaceAll("-", ""), ` ${ORG}`, ORG.toUpperCase(), `${ORG}\ud800`]);
    let text = "";
    for (let count = r.below(8); count > 0; count -= 1) text += r.pick(PIECES);
    return text;
  }

  key() {
    return this.random.chance(0.7) ? this.random.pick(KEYS) : this.string();
  }

  /** Generates any value, with at most `depth` levels of nesting. */
  value(depth = 2) {
    const r = this.random;
    const roll = r.below(100);
    if (roll < 8) return r.pick([undefined, null, true, false]);
    if (roll < 22) return this.number();
    if (roll < 40) return this.string();
    if (roll < 43) return r.pick(BIGINTS);
    if (roll < 46) return r.pick(SYMBOLS);
    if (roll < 56 && depth > 0) return this.plainObject(depth - 1);
    if (roll < 64 && depth > 0) return this.array(depth - 1);
    return this.exotic(depth);
  }

  plainObject(depth) {
    const object = {};
    for (let count = this.random.below(6); count > 0; count -= 1) {
      put(object, this.key(), this.value(depth));
    }
    return object;
  }

  array(depth) {
    const items = [];
    for (let count = this.random.below(6); count > 0; count -= 1) items.push(this.value(depth));
    return items;
  }

  /** Generates the values that break naive readers. */
  exotic(depth) {
    const r = this.random;
    const inner = () => (depth > 0 ? this.value(depth - 1) : this.string());
    const makers = [
      ["cyclic object", () => {
        const object = { organisation_registration_id: ORG, parameters: {} };
        object.self = object;
        object.parameters.loop = object;
        object.serials = [object];
        return object;
      }],
      ["cyclic array", () => {
        const array = [ORG];
        array.push(array);
        return array;
      }],
      ["throwing getter", () => {
        const object = this.plainObject(0);
        const thrown = r.pick([new Error("getter"), Symbol("thrown"), undefined, null, 42, new Proxy({}, {})]);
        Object.defineProperty(object, this.key(), { enumerable: true, get() { throw thrown; } });
        return object;
      }],
      ["throwing index getter", () => {
        const array = ["S1"];
        Object.defineProperty(array, r.below(3), { enumerable: true, get() { throw new RangeError("index"); } });
        return array;
      }],
      ["proxy with throwing traps", () => {
        const handler = {};
        for (const trap of ["get", "ownKeys", "getOwnPropertyDescriptor", "has", "getPrototypeOf", "apply"]) {
          if (r.chance(0.5)) handler[trap] = () => { throw new TypeError(`trap ${trap}`); };
        }
        const target = r.pick([{ organisation_registration_id: ORG }, [ORG], () => {}, GOOD_EVENT]);
        return new Proxy(target, handler);
      }],
      ["transparent proxy", () => new Proxy(this.plainObject(depth > 0 ? depth - 1 : 0), {})],
      ["revoked proxy", () => {
        const { proxy, revoke } = Proxy.revocable(r.pick([{}, [], function target() {}]), {});
        revoke();
        return proxy;
      }],
      ["proxy lying about its keys", () => {
        // Drawn now, so the package's reads do not change what is generated next.
        const keys = r.pick([["a", "a"], [Symbol("s"), "b"], Array.from({ length: 5000 }, (_, i) => `k${i}`), ["length"]]);
        const value = inner();
        return new Proxy({}, {
          ownKeys: () => keys,
          getOwnPropertyDescriptor: () => ({ value, enumerable: true, configurable: true }),
          get: () => value,
        });
      }],
      ["frozen object", () => Object.freeze(r.chance(0.5) ? { ...GOOD_EVENT } : this.plainObject(0))],
      ["null-prototype object", () => Object.assign(Object.create(null), r.chance(0.5) ? GOOD_EVENT : this.plainObject(0))],
      ["sparse array", () => {
        const array = [];
        array[r.pick([1, 999, 1000, 1001, 65_535, 2 ** 32 - 2])] = inner();
        return array;
      }],
      ["huge length", () => once("huge length", () => {
        const array = [];
        array.length = 2 ** 32 - 1;
        return array;
      })],
      ["wide array", () => once("wide array", () => Array.from({ length: 5000 }, (_, i) => `S${i}`))],
      ["wide object", () => once("wide object", () => Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, i])))],
      ["one long string many times", () => Array(1001).fill(LONG_STRINGS.ascii())],
      ["deep arrays", () => once("deep arrays", () => {
        let value = ORG;
        for (let level = 0; level < 10_000; level += 1) value = [value];
        return value;
      })],
      ["deep objects", () => once("deep objects", () => {
        let value = { organisation_registration_id: ORG };
        for (let level = 0; level < 10_000; level += 1) value = { parameters: value };
        return value;
      })],
      ["built-in", () => r.pick([
        new Date(0), new Date(NaN), new Map([["a", 1]]), new Set([1]), new WeakMap(), /x/g, Promise.resolve(ORG),
        new Error("e"), new TypeError("t"), new String(ORG), new Number(1), new Boolean(false), new Uint8Array(4),
        new ArrayBuffer(8), new DataView(new ArrayBuffer(2)), Math, JSON, globalThis,
      ])],
      ["function", () => r.pick([function named() {}, () => ORG, async () => {}, function* gen() {}, class Empty {}, Symbol, fakeFetch])],
      ["class instance", () => {
        class Event {
          constructor() {
            this.organisation_registration_id = ORG;
          }
        }
        return new Event();
      }],
      ["tagged as Object", () => ({ [Symbol.toStringTag]: "Object", organisation_registration_id: ORG })],
      ["throwing toStringTag", () => ({ get [Symbol.toStringTag]() { throw new Error("tag"); }, organisation_registration_id: ORG })],
      ["throwing conversions", () => ({
        toString() { throw new Error("toString"); },
        valueOf() { throw new Error("valueOf"); },
        toJSON() { throw new Error("toJSON"); },
        [Symbol.toPrimitive]() { throw new Error("toPrimitive"); },
        organisation_registration_id: ORG,
      })],
      ["symbol keys", () => ({ [Symbol("organisation_registration_id")]: ORG, [Symbol.iterator]: inner(), serials: ["S"] })],
      ["unpaired surrogate key", () => ({ organisation_registration_id: ORG, parameters: { "\ud800": "x", ["a\udc00"]: 1 } })],
      ["arguments object", () => (function argumentsOf() { return arguments; })(ORG, 1)],
      ["abort signal", () => r.pick([AbortSignal.abort(), new AbortController().signal, AbortSignal.abort(Symbol("reason"))])],
      ["fake signal", () => ({
        aborted: r.chance(0.5),
        addEventListener() { throw new Error("addEventListener"); },
        removeEventListener() { throw new Error("removeEventListener"); },
      })],
    ];
    const [name, make] = r.pick(makers);
    this.note(name);
    return make();
  }

  /** Maybe replaces `value` with something generated. */
  mutate(value, probability) {
    return this.random.chance(probability) ? this.value() : value;
  }

  uuid() {
    return this.mutate(this.random.chance(0.8) ? ORG : this.string(), 0.1);
  }

  /** Generates events near validity, so many of them reach fetch. */
  event() {
    const r = this.random;
    if (r.chance(0.2)) {
      this.note("event: any value");
      return this.value();
    }
    const event = {};
    if (r.chance(0.95)) event.organisation_registration_id = this.uuid();
    if (r.chance(0.6)) {
      const serial = () => (r.chance(0.9) ? r.pick(["S", "VENUE0000001", "😀".repeat(12), "e\u0301".repeat(6)]) : r.pick(["", "x".repeat(13), this.value(0)]));
      event.serials = this.mutate(Array.from({ length: r.below(5) }, serial), 0.05);
    }
    if (r.chance(0.6)) {
      const parameters = {};
      for (let count = r.below(5); count > 0; count -= 1) {
        const name = r.chance(0.75) ? r.pick(["source", "amount", "member", "note"]) : this.string();
        put(parameters, name, r.chance(0.85) ? r.pick(["pos", 12.5, true, 0, -0, 1e21, "é😀\u0000"]) : this.value(1));
      }
      event.parameters = this.mutate(parameters, 0.05);
    }
    if (r.chance(0.1)) put(event, this.key(), this.value(1));
    return this.wrap(event, "event");
  }

  /** Sometimes hands an object over frozen, proxied or with a getter. */
  wrap(object, what) {
    const r = this.random;
    switch (r.below(12)) {
      case 0:
        this.note(`${what}: frozen`);
        return Object.freeze(object);
      case 1:
        this.note(`${what}: transparent proxy`);
        return new Proxy(object, {});
      case 2: {
        this.note(`${what}: getters`);
        const withGetters = {};
        for (const [key, value] of Object.entries(object)) {
          Object.defineProperty(withGetters, key, { enumerable: true, get: () => value });
        }
        return withGetters;
      }
      default:
        return object;
    }
  }

  workflowId() {
    const r = this.random;
    if (r.chance(0.6)) return r.pick(["welcome-journey", "wf_1", "a b?c#d%e\\f", "é", "~", "...", "%2F", "%2e%2e"]);
    return this.value(0);
  }

  runRequest() {
    return this.random.chance(0.8) ? this.wrap({ org_reg_id: this.uuid() }, "request") : this.value();
  }

  /** One-off options: client and request options together. */
  options() {
    return this.mutateOptions({ baseUrl: BASE_URL, accessToken: TOKEN, fetch: fakeFetch, maxRetries: 0 }, [
      "baseUrl", "accessToken", "fetch", "headers", "timeoutMs", "totalTimeoutMs", "maxRetries", "retryAmbiguous", "signal",
    ]);
  }

  clientOptions() {
    return this.mutateOptions({ baseUrl: BASE_URL, accessToken: TOKEN, fetch: fakeFetch, maxRetries: 0 }, [
      "baseUrl", "accessToken", "fetch", "headers", "timeoutMs", "totalTimeoutMs", "maxRetries", "retryAmbiguous", "signal",
    ]);
  }

  requestOptions() {
    return this.mutateOptions({}, ["timeoutMs", "totalTimeoutMs", "maxRetries", "retryAmbiguous", "signal", "fetch"]);
  }

  mutateOptions(options, keys) {
    const r = this.random;
    if (r.chance(0.1)) {
      this.note("options: any value");
      return this.value();
    }
    for (let count = r.chance(0.5) ? 0 : 1 + r.below(2); count > 0; count -= 1) {
      const key = r.chance(0.9) ? r.pick(keys) : this.key();
      if (r.chance(0.2)) {
        this.note(`options: without ${key}`);
        delete options[key];
      } else {
        this.note(`options: ${key}`);
        put(options, key, this.optionValue(key));
      }
    }
    return this.wrap(options, "options");
  }

  optionValue(key) {
    const r = this.random;
    // maxRetries stays 0 or invalid, so no call waits for a backoff.
    if (key !== "maxRetries" && r.chance(0.4)) return this.value(1);
    switch (key) {
      case "baseUrl":
        return r.pick([BASE_URL, `${BASE_URL}/`, `${BASE_URL}/relay`, "http://localhost:9", "http://[::1]:9", "http://example.com", "https://global.stampede.ai/v1", "127.0.0.1:9"]);
      case "accessToken":
        return r.pick([TOKEN, `Bearer ${TOKEN}`, "", " ", "bad token", "t\n", "é"]);
      case "fetch":
        return r.pick([fakeFetch, undefined, null]);
      case "headers":
        return r.pick([{ "X-Request-Id": "abc" }, { Authorization: "x" }, { "x y": "z" }, { "X-A": "a\nb" }, { "X-A": "a", "x-a": "b" }]);
      case "timeoutMs":
      case "totalTimeoutMs":
        return r.pick([1, 1000, 0, -1, 2 ** 31, 2 ** 31 - 1, 1.5, Infinity]);
      case "maxRetries":
        return r.pick([0, -1, 0.5, 11, NaN, "2", null]);
      case "retryAmbiguous":
        return r.pick([true, false, "true", 1]);
      case "signal":
        return r.pick([AbortSignal.abort(), new AbortController().signal, { aborted: false, addEventListener() {} }, {}]);
      default:
        return this.value(1);
    }
  }
}

// ---------------------------------------------------------------------------
// Checks

function describeError(error) {
  try {
    return inspect(error, { depth: 1, breakLength: Infinity }).slice(0, 600);
  } catch {
    return String(typeof error);
  }
}

function isTrap(error) {
  return error instanceof WebAssembly.RuntimeError || /unreachable|RuntimeError/.test(String(error?.message ?? ""));
}

/** Checks the documented shape of a ValidationResult and returns `valid`. */
function checkValidation(result, where) {
  assert.equal(typeof result, "object", `${where}: result is ${typeof result}`);
  assert.notEqual(result, null, `${where}: result is null`);
  if (result.valid === true) {
    assert.deepEqual(Object.keys(result), ["valid"], `${where}: extra fields on a valid result`);
    return true;
  }
  assert.equal(result.valid, false, `${where}: valid is ${result.valid}`);
  assert.deepEqual(Object.keys(result).sort(), ["errors", "message", "valid"], `${where}: fields`);
  assert.equal(typeof result.message, "string", `${where}: message`);
  assert.ok(result.message.length > 0, `${where}: empty message`);
  checkFieldErrors(result.errors, where);
  return false;
}

function checkFieldErrors(errors, where) {
  assert.equal(typeof errors, "object", `${where}: errors is ${typeof errors}`);
  assert.notEqual(errors, null, `${where}: errors is null`);
  const keys = Object.keys(errors);
  assert.ok(keys.length > 0, `${where}: no field errors`);
  for (const key of keys) {
    const messages = errors[key];
    const label = `${where}: errors[${JSON.stringify(key)}]`;
    assert.ok(Array.isArray(messages), `${label} is not an array`);
    assert.ok(messages.length > 0, `${label} is empty`);
    for (const message of messages) {
      assert.equal(typeof message, "string", `${label} contains a ${typeof message}`);
      assert.ok(message.length > 0, `${label} contains an empty message`);
    }
  }
}

/** Calls a validator, which must return and never throw. */
function validate(where, call) {
  let result;
  try {
    result = call();
  } catch (error) {
    assert.fail(`${where} threw ${isTrap(error) ? "a wasm trap" : "an error"}: ${describeError(error)}`);
  }
  return checkValidation(result, where);
}

function settleWithin(promise, ms) {
  let timer;
  const limit = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ state: "hung" }), ms);
  });
  const settled = promise.then(
    (value) => ({ state: "resolved", value }),
    (error) => ({ state: "rejected", error }),
  );
  return Promise.race([settled, limit]).finally(() => clearTimeout(timer));
}

function checkStampedeError(error, where) {
  if (isTrap(error)) assert.fail(`${where}: wasm trap ${describeError(error)}`);
  if (!(error instanceof StampedeError)) assert.fail(`${where}: not a StampedeError: ${describeError(error)}`);
  assert.ok(KINDS.has(error.kind), `${where}: unknown kind ${error.kind}`);
  assert.equal(typeof error.message, "string", `${where}: message`);
  if (error.kind === "validation") {
    assert.equal(error.attempts, 0, `${where}: a validation error with attempts`);
    checkFieldErrors(error.errors, `${where} errors`);
  }
}

/**
 * Runs one send and checks its outcome. `valid` is what the validator
 * returned for the input: when false, the call must reject with "validation".
 */
async function checkSend(where, call, valid) {
  const before = sent();
  let promise;
  try {
    promise = call();
  } catch (error) {
    assert.fail(`${where} threw instead of rejecting: ${describeError(error)}`);
  }
  assert.ok(promise instanceof Promise, `${where} returned ${typeof promise}`);
  const outcome = await settleWithin(promise, SETTLE_LIMIT_MS);
  const fetched = sent() - before;
  assert.notEqual(outcome.state, "hung", `${where} did not settle within ${SETTLE_LIMIT_MS} ms`);
  if (outcome.state === "rejected") {
    checkStampedeError(outcome.error, where);
    tally.rejected[outcome.error.kind] = (tally.rejected[outcome.error.kind] ?? 0) + 1;
    if (outcome.error.kind === "validation") assert.equal(fetched, 0, `${where}: fetch called for invalid input`);
  } else {
    tally.resolved += 1;
    assert.equal(typeof outcome.value, "object", `${where}: resolved to ${typeof outcome.value}`);
    assert.ok(fetched >= 1, `${where}: resolved without calling fetch`);
  }
  if (valid === false) {
    assert.equal(outcome.state, "rejected", `${where}: invalid input resolved`);
    assert.equal(outcome.error.kind, "validation", `${where}: invalid input rejected with ${outcome.error.kind}`);
  }
  return outcome;
}

async function runCase(index) {
  const generate = new Generator(caseRandom(index));
  try {
    const event = generate.event();
    const workflowId = generate.workflowId();
    const request = generate.runRequest();
    const options = generate.options();
    const clientOptions = generate.clientOptions();
    const requestOptions = generate.requestOptions();

    const eventValid = validate("validateIncomingEvent", () => validateIncomingEvent(event));
    const runValid = validate("validateWorkflowRun", () => validateWorkflowRun(workflowId, request));
    tally.validEvents += eventValid ? 1 : 0;
    tally.validRuns += runValid ? 1 : 0;

    await checkSend("sendIncomingEvent", () => sendIncomingEvent(event, options), eventValid);
    await checkSend("storeWorkflowRun", () => storeWorkflowRun(workflowId, request, options), runValid);

    let client;
    try {
      client = new StampedeClient(clientOptions);
    } catch (error) {
      checkStampedeError(error, "new StampedeClient");
      assert.equal(error.kind, "validation", `new StampedeClient threw kind ${error.kind}`);
    }
    if (client) {
      await checkSend("client.sendIncomingEvent", () => client.sendIncomingEvent(event, requestOptions), eventValid);
      await checkSend("client.storeWorkflowRun", () => client.storeWorkflowRun(workflowId, request, requestOptions), runValid);
    }
  } catch (error) {
    error.message = `FUZZ_SEED=${SEED} FUZZ_ONLY=${index} (${generate.trail.join("; ") || "plain values"}): ${error.message}`;
    throw error;
  }
}

/** A call that must work after any case: the instance is not broken. */
async function knownGoodCalls(where) {
  assert.deepEqual(validateIncomingEvent(GOOD_EVENT), { valid: true }, `${where}: validateIncomingEvent`);
  assert.deepEqual(validateWorkflowRun("welcome-journey", { org_reg_id: ORG }), { valid: true }, `${where}: validateWorkflowRun`);
  const before = calls.option;
  const response = await sendIncomingEvent(GOOD_EVENT, { baseUrl: BASE_URL, accessToken: TOKEN, fetch: fakeFetch });
  assert.equal(response.message, "accepted", `${where}: sendIncomingEvent`);
  const client = new StampedeClient({ baseUrl: BASE_URL, accessToken: TOKEN, fetch: fakeFetch });
  const run = await client.storeWorkflowRun("welcome-journey", { org_reg_id: ORG });
  assert.equal(run.message, "accepted", `${where}: client.storeWorkflowRun`);
  assert.equal(calls.option - before, 2, `${where}: fetch calls of the known-good sends`);
}

// ---------------------------------------------------------------------------

describe("fuzz", () => {
  test(`${ONLY === undefined ? CASES : 1} generated cases give documented results`, { timeout: 600_000 }, async (t) => {
    t.diagnostic(`FUZZ_SEED=${SEED}${ONLY === undefined ? ` FUZZ_CASES=${CASES}` : ` FUZZ_ONLY=${ONLY}`}`);
    const started = performance.now();
    const indexes = ONLY === undefined ? Array.from({ length: CASES }, (_, i) => i) : [ONLY];
    for (const [position, index] of indexes.entries()) {
      await runCase(index);
      if ((position + 1) % BATCH === 0 || position === indexes.length - 1) {
        await knownGoodCalls(`after case ${index} (FUZZ_SEED=${SEED})`);
      }
    }
    t.diagnostic(`${indexes.length} cases in ${Math.round(performance.now() - started)} ms: ${tally.validEvents} valid events, ${tally.validRuns} valid runs`);
    t.diagnostic(`sends: ${tally.resolved} resolved, rejected ${JSON.stringify(tally.rejected)}; fetch calls: ${calls.option} fake, ${calls.global} global`);
  });
});

// ---------------------------------------------------------------------------
// Cases the fuzz found, kept as plain tests.

describe("text past the per-argument limit is described, not copied", () => {
  // One 5 MB string in 1,000 serials used to be copied 1,000 times into the
  // wasm memory, 5 GB, which ran out of memory and trapped.
  const big = "x".repeat(5_000_000);

  test("1,000 serials sharing one 5 MB string", () => {
    const result = validateIncomingEvent({ organisation_registration_id: ORG, serials: Array(1000).fill(big) });
    assert.equal(result.valid, false);
    assert.match(result.errors["serials.0"][0], /beyond the 4194304 characters/);
    assert.deepEqual(validateIncomingEvent(GOOD_EVENT), { valid: true });
  });

  test("1,000 parameters sharing one 1 MB string are rejected without a fetch", async () => {
    const medium = "m".repeat(MB);
    const parameters = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`p${i}`, medium]));
    const before = sent();
    const outcome = await settleWithin(sendIncomingEvent({ organisation_registration_id: ORG, parameters }, { baseUrl: BASE_URL, accessToken: TOKEN, fetch: fakeFetch }), SETTLE_LIMIT_MS);
    assert.equal(outcome.state, "rejected");
    checkStampedeError(outcome.error, "sendIncomingEvent");
    assert.equal(outcome.error.kind, "validation");
    // Names count too, so three of the strings fit in the limit and the fourth does not.
    assert.deepEqual(Object.keys(outcome.error.errors), Array.from({ length: 997 }, (_, i) => `parameters.p${i + 3}`));
    assert.equal(sent(), before);
  });

  test("name past the limit shown by its start", () => {
    const name = "k".repeat(5_000_000);
    const result = validateIncomingEvent({ organisation_registration_id: ORG, parameters: { [name]: "v" } });
    assert.equal(result.valid, false);
    assert.deepEqual(Object.keys(result.errors), [`parameters.${"k".repeat(40)}…`]);
  });

  test("a workflow id past the limit", () => {
    const result = validateWorkflowRun("w".repeat(5_000_000), { org_reg_id: ORG });
    assert.equal(result.valid, false);
    assert.deepEqual(Object.keys(result.errors), ["workflowId"]);
  });

  test("a 1 MB parameter within the limit is still sent whole", async () => {
    const note = "é".repeat(MB);
    let body;
    const capture = (url, init) => {
      body = init.body;
      return accepted();
    };
    await sendIncomingEvent({ organisation_registration_id: ORG, parameters: { note } }, { baseUrl: BASE_URL, accessToken: TOKEN, fetch: capture });
    assert.equal(JSON.parse(body).parameters.note, note);
  });
});
