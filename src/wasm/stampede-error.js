// The error class of every rejection. It lives in JavaScript so that
// `instanceof Error` holds and stack traces are the runtime's own.

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
