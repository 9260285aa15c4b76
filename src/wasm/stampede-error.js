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

export function valueTag(value) {
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
export function arrayLength(array) {
  try {
    const length = array.length;
    return typeof length === "number" ? length : -1;
  } catch {
    return -1;
  }
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

// Reads what the transport needs of a response in one call, without throwing:
// [status, Retry-After, Content-Length, Content-Encoding], absent headers null.
// The status is -1 for a value that is not a Response, and -2 for the opaque
// response browsers give for a redirect that was not followed.
export function responseHead(response) {
  let status = -1;
  let headers;
  try {
    if (response.type === "opaqueredirect") return [-2, null, null, null];
    status = typeof response.status === "number" ? response.status : -1;
    headers = response.headers;
  } catch {
    return [-1, null, null, null];
  }
  const get = (name) => {
    try {
      const value = headers.get(name);
      return typeof value === "string" ? value : null;
    } catch {
      return null;
    }
  };
  return [status, get("retry-after"), get("content-length"), get("content-encoding")];
}

// Adds or removes `handler` as an "abort" listener of a caller's signal, which
// was checked to have addEventListener; a throwing signal is ignored.
export function listenForAbort(signal, handler, add) {
  try {
    if (add) signal.addEventListener("abort", handler);
    else signal.removeEventListener("abort", handler);
  } catch {
    // A signal whose methods throw cannot abort the call, so there is nothing to undo.
  }
}

export function isAborted(signal) {
  try {
    return signal.aborted === true;
  } catch {
    return false;
  }
}

// Returns a signal that aborts with the caller's, so the call's listeners go on
// it, not on the caller's signal: Node warns when more than ten listeners
// gather on one signal, which many concurrent calls sharing it would cause.
// Without AbortSignal.any (Node 18), or for a signal that only looks like an
// AbortSignal, the caller's signal itself is returned.
export function followSignal(signal) {
  try {
    if (typeof AbortSignal.any === "function" && signal instanceof AbortSignal) return AbortSignal.any([signal]);
  } catch {
    // A signal that cannot be followed is listened to directly.
  }
  return signal;
}
