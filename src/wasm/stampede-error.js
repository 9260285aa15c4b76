// The error class of every rejection, and the JavaScript helpers of the wasm
// layer. The class is written in JavaScript, so `instanceof Error` is true and
// stack traces are the runtime's own.

const FIELDS = ["kind", "status", "errors", "retryAfterMs", "body", "attempts"];

export class StampedeError extends Error {
  constructor(kind, message, details) {
    const cause = details && details.cause;
    super(message, cause === undefined ? undefined : { cause });
    const values = { ...details, kind, attempts: (details && details.attempts) || 0 };
    for (const field of FIELDS) {
      if (values[field] !== undefined) {
        Object.defineProperty(this, field, { value: values[field], enumerable: true });
      }
    }
  }

  // JSON.stringify drops an Error's message; this keeps it, and leaves out `cause`.
  toJSON() {
    const json = { name: this.name, message: this.message };
    for (const field of FIELDS) {
      if (this[field] !== undefined) json[field] = this[field];
    }
    return json;
  }
}

Object.defineProperty(StampedeError.prototype, "name", {
  value: "StampedeError",
  writable: true,
  configurable: true,
});
// The class keeps its name when the build minifies it.
Object.defineProperty(StampedeError, "name", { value: "StampedeError", configurable: true });

// Helpers of the wasm layer. Each replaces several calls across the wasm
// boundary, and the string copies they need, with one call. They live in this
// module because wasm-bindgen copies a snippet module without its imports.

const TAGS = {
  "[object Date]": 2,
  "[object Map]": 3,
  "[object Set]": 4,
  "[object RegExp]": 5,
  "[object Promise]": 6,
  "[object Error]": 7,
  "[object String]": 8,
  "[object Number]": 8,
  "[object Boolean]": 8,
};

// Classifies any value with one call. Primitives and functions get the codes of
// VALUE_TYPES. An object gets 0 when plain, 1 for an array, a code of TAGS for a
// built-in type and 9 for any other, and -1 when asking throws (a revoked Proxy).
const VALUE_TYPES = { undefined: 10, boolean: 12, number: 13, string: 14, bigint: 15, symbol: 16, function: 17 };

function valueTag(value) {
  if (value === null) return 11;
  const type = VALUE_TYPES[typeof value];
  if (type !== undefined) return type;
  try {
    if (Array.isArray(value)) return 1;
    const tag = Object.prototype.toString.call(value);
    return tag === "[object Object]" ? 0 : TAGS[tag] ?? 9;
  } catch {
    return -1;
  }
}

// Returns an array's length, or -1 when reading it throws or gives no number.
function arrayLength(array) {
  try {
    const length = array.length;
    return typeof length === "number" ? length : -1;
  } catch {
    return -1;
  }
}

// The letters readInput writes for values it names without reading, by the
// codes of valueTag. Unknown codes give "9", any other object.
const NAMED = { 2: "2", 3: "3", 4: "4", 5: "5", 6: "6", 7: "7", 8: "8", 9: "9", 15: "b", 16: "y", 17: "F" };

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const bits = new DataView(new ArrayBuffer(8));

// Writes a caller's value as text that the wasm parses, in one call where
// reading it from the wasm takes a call per key, value and string. Arrays and
// objects are read `depth` levels deep and named below that. Strings, keys
// included, count against `budget` UTF-16 code units in all, and a string past
// it is named, not copied. Arrays and objects give at most `maxItems` items.
// A read that throws gives "r". The format, one letter per value:
//   u n t f: undefined, null, true, false
//   d and 16 hex digits: a number's bits
//   s, the text and NUL: a string, with each NUL inside written as NUL SOH
//   I: a string with an unpaired surrogate. L: a string past the budget
//   A, O: an array or object below the depth. Letters of NAMED: other values
//   [ values ]: an array. { key value ... }: an object, where a key is s with
//   its text and NUL. I and K, each with a text and NUL, stand for a key and
//   its value together: I a name with an unpaired surrogate (its value is not
//   read), K the start of a name past the budget
export function readInput(value, depth, budget, maxItems) {
  let out = "";
  let left = budget;
  const text = (string) => (string.includes("\0") ? string.replaceAll("\0", "\0\x01") : string) + "\0";
  const withinBudget = (string) => {
    if (string.length > left) return false;
    left -= string.length;
    return true;
  };
  const wellFormed = (string) =>
    typeof string.isWellFormed === "function" ? string.isWellFormed() : !LONE_SURROGATE.test(string);
  // Writes container[key], or "r" when reading it throws.
  const writeMember = (container, key, depth) => {
    let member;
    try {
      member = container[key];
    } catch {
      out += "r";
      return;
    }
    write(member, depth);
  };
  const write = (value, depth) => {
    const tag = valueTag(value);
    if (tag === 10) out += "u";
    else if (tag === 11) out += "n";
    else if (tag === 12) out += value ? "t" : "f";
    else if (tag === 13) {
      bits.setFloat64(0, value);
      out += "d" + bits.getUint32(0).toString(16).padStart(8, "0") + bits.getUint32(4).toString(16).padStart(8, "0");
    } else if (tag === 14) {
      if (!withinBudget(value)) out += "L";
      else out += wellFormed(value) ? "s" + text(value) : "I";
    } else if (tag === 1) {
      if (depth === 0) return void (out += "A");
      const length = arrayLength(value);
      if (length < 0) return void (out += "r");
      // As the wasm would: NaN reads maxItems items, and a fraction is cut off.
      const count = Math.trunc(Number.isNaN(length) ? maxItems : Math.min(length, maxItems));
      out += "[";
      for (let index = 0; index < count; index += 1) writeMember(value, index, depth - 1);
      out += "]";
    } else if (tag === 0) {
      if (depth === 0) return void (out += "O");
      let keys;
      try {
        keys = Object.keys(value);
      } catch {
        return void (out += "r");
      }
      out += "{";
      for (const key of keys.slice(0, maxItems)) {
        if (!withinBudget(key)) {
          out += "K" + text(key.slice(0, 40));
          continue;
        }
        if (!wellFormed(key)) {
          out += "I" + text(key);
          continue;
        }
        out += "s" + text(key);
        writeMember(value, key, depth - 1);
      }
      out += "}";
    } else if (tag === -1) out += "r";
    else out += NAMED[tag] ?? "9";
  };
  write(value, depth);
  return out;
}

// Sets an own enumerable property, even for a key such as "__proto__".
export function setOwn(object, key, value) {
  Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
}

export function validResult() {
  return { valid: true };
}

export function invalidResult(message, errors) {
  return { valid: false, message, errors };
}

// Creates a StampedeError; absent details are undefined.
export function newError(kind, message, attempts, status, errors, retryAfterMs, body, cause) {
  return new StampedeError(kind, message, { attempts, status, errors, retryAfterMs, body, cause });
}

// Builds fetch's init in one call: POST, the headers from "name\0value\0" text
// (header names and values never contain NUL), the body and the signal.
// Redirects are not followed, because fetch turns a POST redirected with 301
// or 302 into a GET without its body, and a 307 or 308 carries the body elsewhere.
export function requestInit(headerText, body, signal) {
  const headers = new Headers();
  const parts = headerText.split("\0");
  for (let index = 0; index + 1 < parts.length; index += 2) headers.append(parts[index], parts[index + 1]);
  return { method: "POST", headers, body, signal, redirect: "manual" };
}

// Waits for what fetch returned and reads the response. It resolves to one of:
//   [0, cause]: fetch rejected;
//   [1, status]: a value that is not a usable response (-2 for a redirect);
//   [2, status, cause]: the body could not be read;
//   [3, status, Retry-After, text, cut, parsed]: the response, with readBody's result.
// When `signal` aborts first it resolves at once, to [0, reason] before the
// status arrived and to [2, status, reason] after, so the status is never lost.
// It never rejects, so the wasm waits once per attempt and judges every outcome.
export function receive(returned, limit, token, signal) {
  let status = -1;
  const read = async () => {
    let response;
    try {
      response = await returned;
    } catch (cause) {
      return [0, cause];
    }
    let retryAfter;
    [status, retryAfter] = responseHead(response);
    if (!(status >= 100 && status <= 599)) return [1, status];
    try {
      return [3, status, retryAfter, ...(await readBody(response, limit, status >= 200 && status <= 299, token))];
    } catch (cause) {
      return [2, status, cause];
    }
  };
  return new Promise((resolve) => {
    const onAbort = () => resolve(status < 100 || status > 599 ? [0, signal.reason] : [2, status, signal.reason]);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort);
    // The read runs even after an abort, so a rejection of what fetch returned is always handled.
    read().then((result) => {
      signal.removeEventListener("abort", onAbort);
      resolve(result);
    });
  });
}

// Reads a header without throwing: null when absent or unreadable.
function header(headers, name) {
  try {
    const value = headers.get(name);
    return typeof value === "string" ? value : null;
  } catch {
    return null;
  }
}

// Reads what the transport needs of a response in one call, without throwing:
// [status, Retry-After or null]. The status is -1 for a value that is not a
// Response, and -2 for the opaque response browsers give for a redirect that
// was not followed.
function responseHead(response) {
  try {
    if (response.type === "opaqueredirect") return [-2, null];
    const status = typeof response.status === "number" ? response.status : -1;
    return [status, header(response.headers, "retry-after")];
  } catch {
    return [-1, null];
  }
}

// Calls target.cancel() and handles its promise, so a rejection is not
// reported as unhandled.
function cancel(target) {
  try {
    Promise.resolve(target.cancel()).catch(() => {});
  } catch {
    // Nothing to cancel.
  }
}

// Reads at most `limit` bytes of a response body, and resolves to [text, cut]
// or, for a 2xx body that parseClean accepts, to [null, false, parsed].
// cut is true when the body was longer and only its start was read.
// A body of a declared length within the limit is read with text(), because
// reading a stream to its end makes Chromium list some requests as cancelled.
// The wasm checks the length of such a text. Any other body is read chunk by
// chunk, so a huge one is never buffered whole. A 2xx body declared too long
// is not read at all, and of an error body the start is kept for the error.
// Invalid UTF-8 becomes U+FFFD and a byte order mark is dropped, as text() does.
async function readBody(response, limit, success, token) {
  let headers;
  let stream;
  try {
    headers = response.headers;
    stream = response.body;
  } catch {
    // Read as text below.
  }
  const length = header(headers, "content-length");
  const declared = length !== null && /^\s*\d+\s*$/.test(length) ? Number(length) : null;
  const encoding = header(headers, "content-encoding");
  const encoded = encoding !== null && encoding.toLowerCase() !== "identity";
  const tooLong = declared !== null && declared > limit;
  if (tooLong && success) {
    cancel(stream);
    return ["", true];
  }
  let reader;
  try {
    if (declared === null || encoded || tooLong) reader = stream.getReader();
  } catch {
    // A body without a reader is read as text.
  }
  if (!reader) {
    const text = await response.text();
    return withParsed(typeof text === "string" ? text : "", false, success, token, limit);
  }

  const chunks = [];
  let size = 0;
  let cut = false;
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) break;
    // A real Uint8Array passes. A Proxy, or an object that only has its
    // prototype, fails isView.
    const value = chunk.value;
    if (!ArrayBuffer.isView(value)) throw new TypeError("the response body stream yielded a chunk that is not a Uint8Array");
    const room = limit - size;
    cut = value.byteLength > room;
    chunks.push(new Uint8Array(value.buffer, value.byteOffset, Math.min(value.byteLength, room)));
    size += Math.min(value.byteLength, room);
    if (cut) {
      cancel(reader);
      break;
    }
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return withParsed(new TextDecoder().decode(bytes), cut, success, token, limit);
}

function withParsed(text, cut, success, token, limit) {
  const parsed = success && !cut ? parseClean(text, token, limit) : undefined;
  return parsed === undefined ? [text, cut] : [null, false, parsed];
}

// Parses a 2xx body that is a JSON object within the limit and in which the
// access token appears nowhere, not even after JSON.parse has undone escapes
// such as "\/". Such a body needs no redaction, so it need not cross into the
// wasm as text. Any other body is returned undefined, for the wasm to judge.
function parseClean(text, token, limit) {
  if (text.length * 3 > limit && new TextEncoder().encode(text).length > limit) return undefined;
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
  if (token === undefined) return parsed;
  if (text.includes(token)) return undefined;
  // Without backslashes in the text, JSON.parse and JSON.stringify keep every
  // string as it is, and change only whitespace, punctuation and the way
  // numbers are written. A token without JSON punctuation that is not all
  // number characters cannot appear in those changes, so it is absent.
  if (!text.includes("\\") && !/["\\{}[\]:,]/.test(token) && !/^[\d.eE+-]+$/.test(token)) return parsed;
  const json = JSON.stringify(parsed);
  const escaped = JSON.stringify(token).slice(1, -1);
  return json.includes(token) || json.includes(escaped) ? undefined : parsed;
}

// Calls resume(id, true, result) when `value` fulfils, or resume(id, false,
// reason) when it rejects. Promise callbacks run as microtasks, so the wasm is
// never entered again while it runs.
export function settle(resume, id, value) {
  Promise.resolve(value).then(
    (result) => resume(id, true, result),
    (reason) => resume(id, false, reason),
  );
}

// Calls resume(id, true) after `delay` milliseconds, or sooner when the
// caller's `signal`, if any, aborts. It calls once, from the timer or from a
// microtask after the abort.
export function later(resume, id, delay, signal) {
  let done = false;
  const wake = () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    if (signal) listenForAbort(signal, onAbort, false);
    resume(id, true);
  };
  const onAbort = () => Promise.resolve().then(wake);
  const timer = setTimeout(wake, delay);
  if (signal) listenForAbort(signal, onAbort, true);
}

// Returns [promise, resolve, reject], so the wasm can settle a promise later.
export function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return [promise, resolve, reject];
}

// The package's handlers for each caller's signal, run by one "abort" listener
// of the package's own. Node warns when more than ten listeners gather on one
// signal, as they would when many concurrent calls share it. AbortSignal.any
// could avoid that too, but in Node 20 every signal it makes stays alive for
// as long as the signal it follows.
const handlersBySignal = new WeakMap();

// Adds or removes `handler` as an abort handler of a caller's signal, which was
// checked to have addEventListener. A signal whose methods throw is ignored.
export function listenForAbort(signal, handler, add) {
  let entry = handlersBySignal.get(signal);
  if (add) {
    if (!entry) {
      const handlers = new Set();
      entry = { handlers, listener: () => [...handlers].forEach((each) => each()) };
      try {
        signal.addEventListener("abort", entry.listener);
      } catch {
        return;
      }
      handlersBySignal.set(signal, entry);
    }
    entry.handlers.add(handler);
  } else if (entry && entry.handlers.delete(handler) && entry.handlers.size === 0) {
    handlersBySignal.delete(signal);
    try {
      signal.removeEventListener("abort", entry.listener);
    } catch {
      // A signal whose methods throw cannot abort the call, so there is nothing to undo.
    }
  }
}

export function isAborted(signal) {
  try {
    return signal.aborted === true;
  } catch {
    return false;
  }
}
