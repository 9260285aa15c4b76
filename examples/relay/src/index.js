// A Cloudflare Worker that lets a browser page use the Stampede Workflows API
// without holding the access token.
//
// The page points the package's `baseUrl` at this Worker and sends no token.
// The Worker accepts exactly the API's two requests, with the API's paths and
// body shapes:
//
//   POST {PATH_PREFIX}/v1/workflows/incoming-event
//   POST {PATH_PREFIX}/v1/workflows/{workflowId}/workflow-runs
//
// It serves only the origins listed in ALLOWED_ORIGINS, reads at most
// MAX_BODY_BYTES of a body, checks the body with the package's validators,
// and sends it on with the package and the token of the STAMPEDE_TOKEN secret.
// The page gets Stampede's status and body back, and `Retry-After` when
// Stampede sent one. Configuration: wrangler.toml, and "Relay for browsers"
// in the package's README.
import { StampedeClient, StampedeError, validateIncomingEvent, validateWorkflowRun } from "stampede-workflows";

const DEFAULT_BASE_URL = "https://global.stampede.ai";
const DEFAULT_MAX_BODY_BYTES = 16 * 1024;
const MAX_BODY_BYTES_LIMIT = 1024 * 1024;
// Below the package's default of 30 s per attempt, so that a browser client
// with default settings gets the relay's 504 instead of timing out first.
const DEFAULT_TIMEOUT_MS = 25_000;
const TIMEOUT_MS_LIMIT = 300_000;
const PREFLIGHT_MAX_AGE_SECONDS = "600";
const MISCONFIGURED_MESSAGE = "The relay's configuration is invalid; the Worker's log names the setting to fix.";

const INCOMING_EVENT_PATH = "/v1/workflows/incoming-event";
const WORKFLOW_RUNS_PATH = /^\/v1\/workflows\/([^/]+)\/workflow-runs$/;
// Statuses whose response must not carry a body.
const NULL_BODY_STATUSES = new Set([204, 205, 304]);

export default {
  async fetch(request, env) {
    let config;
    try {
      config = readConfig(env);
    } catch (error) {
      console.error(`stampede relay: configuration error: ${error.message}`);
      return reply(500, { message: MISCONFIGURED_MESSAGE });
    }
    try {
      return await handle(request, config);
    } catch (error) {
      // A bug, not a client's mistake. The stack contains no token, because
      // nothing above puts the token into an error.
      console.error(`stampede relay: unexpected failure: ${error?.stack ?? error}`);
      return reply(500, { message: "The relay failed unexpectedly." }, corsHeadersFor(request, config));
    }
  },
};

// ---------------------------------------------------------------------------
// Configuration

/**
 * Reads the Worker's bindings. Throws an Error that names the binding when one
 * is invalid, so a misconfigured relay rejects every request instead of sending
 * anything with a wrong setting.
 */
function readConfig(env) {
  const token = env.STAMPEDE_TOKEN;
  if (typeof token !== "string" || token.trim() === "") {
    throw new Error("the STAMPEDE_TOKEN secret is missing or empty; set it with `wrangler secret put STAMPEDE_TOKEN`");
  }
  const baseUrl = isUnset(env.STAMPEDE_BASE_URL) ? DEFAULT_BASE_URL : String(env.STAMPEDE_BASE_URL);
  return {
    token,
    baseUrl,
    allowedOrigins: readOrigins(env.ALLOWED_ORIGINS),
    maxBodyBytes: readInteger(env, "MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, MAX_BODY_BYTES_LIMIT),
    timeoutMs: readInteger(env, "STAMPEDE_TIMEOUT_MS", DEFAULT_TIMEOUT_MS, TIMEOUT_MS_LIMIT),
    pathPrefix: readPathPrefix(env.PATH_PREFIX),
  };
}

function isUnset(value) {
  return value === undefined || value === null || value === "";
}

/**
 * ALLOWED_ORIGINS is a string of origins separated by commas or whitespace,
 * or an array of them. Each must be exactly an origin as browsers send it:
 * scheme, host and a port other than the scheme's default, with no path or
 * trailing slash. "*" and "null" are rejected, because they would let any page
 * spend the organisation's token.
 */
function readOrigins(value) {
  if (isUnset(value)) return new Set();
  const entries = Array.isArray(value) ? value : String(value).split(/[\s,]+/);
  const origins = new Set();
  for (const entry of entries) {
    if (typeof entry !== "string") throw new Error(`ALLOWED_ORIGINS must contain only strings, but it contains ${JSON.stringify(entry)}`);
    if (entry === "") continue;
    let parsed = null;
    try {
      parsed = new URL(entry);
    } catch {
      // Reported below.
    }
    const isOrigin = parsed !== null && (parsed.protocol === "https:" || parsed.protocol === "http:") && parsed.origin === entry;
    if (!isOrigin) {
      throw new Error(
        `ALLOWED_ORIGINS has ${JSON.stringify(entry)}, which is not an origin such as "https://www.example.com" ` +
          "(http or https, lower case, no path, no trailing slash, no default port)",
      );
    }
    origins.add(entry);
  }
  return origins;
}

function readInteger(env, name, fallback, max) {
  const value = env[name];
  if (isUnset(value)) return fallback;
  const number = typeof value === "number" ? value : /^\d+$/.test(String(value)) ? Number(value) : Number.NaN;
  if (!Number.isInteger(number) || number < 1 || number > max) {
    throw new Error(`${name} must be a whole number from 1 to ${max}, but it is ${JSON.stringify(value)}`);
  }
  return number;
}

/** "" or a path such as "/stampede": starts with "/", no trailing "/", no "?" or "#". */
function readPathPrefix(value) {
  if (isUnset(value)) return "";
  const prefix = String(value);
  if (!/^(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+$/.test(prefix)) {
    throw new Error(`PATH_PREFIX must be "" or a path such as "/stampede" without a trailing slash, but it is ${JSON.stringify(prefix)}`);
  }
  return prefix;
}

// ---------------------------------------------------------------------------
// Handling one request

async function handle(request, config) {
  const url = new URL(request.url);
  const origin = request.headers.get("Origin");
  // Logs one line per rejected request, then builds the response.
  const reject = (status, message, headers = {}) => {
    console.warn(`stampede relay: rejected ${request.method} ${url.pathname} from origin ${origin ?? "(none)"} with ${status}: ${message}`);
    return reply(status, { message }, headers);
  };

  // Origin first: a page of another origin learns nothing and nothing is sent.
  if (origin === null || !config.allowedOrigins.has(origin)) {
    return reject(403, "The request's Origin is missing or not one of the relay's allowed origins.");
  }
  const cors = allowedOriginHeaders(origin);

  const route = matchRoute(url.pathname, config.pathPrefix);
  if (route === null || url.search !== "") {
    return reject(404, "Route not found: the relay accepts only the Stampede Workflows API's two POST requests, without a query.", cors);
  }
  if (request.method === "OPTIONS") return preflight(cors);
  if (request.method !== "POST") {
    return reject(405, `The ${request.method} method is not supported; use POST.`, { ...cors, Allow: "POST, OPTIONS" });
  }
  if (!hasJsonContentType(request)) {
    return reject(415, "The request body must be sent with Content-Type: application/json.", cors);
  }

  const read = await readBoundedBody(request, config.maxBodyBytes);
  if (read.tooLarge) {
    return reject(413, `The request body is larger than the relay's limit of ${config.maxBodyBytes} bytes.`, cors);
  }
  const parsed = parseJsonObject(read.bytes);
  if (parsed.error) return reject(400, parsed.error, cors);

  // The package's own rules, so the page gets the same 422 shape and keys from
  // the relay as from its own validation.
  const check = route.workflowId === undefined
    ? validateIncomingEvent(parsed.value)
    : validateWorkflowRun(route.workflowId, parsed.value);
  if (!check.valid) {
    console.warn(`stampede relay: rejected POST ${url.pathname} with 422: invalid ${Object.keys(check.errors).join(", ")}`);
    return reply(422, { message: check.message, errors: check.errors }, cors);
  }

  return forward(route, parsed.value, config, cors);
}

/** Returns { workflowId } for a workflow run, {} for an incoming event, or null. */
function matchRoute(pathname, pathPrefix) {
  if (!pathname.startsWith(`${pathPrefix}/v1/`)) return null;
  const path = pathname.slice(pathPrefix.length);
  if (path === INCOMING_EVENT_PATH) return {};

  const match = WORKFLOW_RUNS_PATH.exec(path);
  if (match === null) return null;
  try {
    // The validator then rejects an id that decodes to "/", "." or "..", as
    // the package does in the browser before sending.
    return { workflowId: decodeURIComponent(match[1]) };
  } catch {
    return null;
  }
}

function hasJsonContentType(request) {
  const mediaType = (request.headers.get("Content-Type") ?? "").split(";")[0].trim().toLowerCase();
  return mediaType === "application/json" || /^application\/[^/]+\+json$/.test(mediaType);
}

/**
 * Reads the body and stops as soon as it passes `limit` bytes. A declared
 * Content-Length over the limit is rejected unread. A smaller or missing one is
 * not trusted, so a chunked body, or one that declares fewer bytes than it
 * sends, is counted as it arrives.
 */
async function readBoundedBody(request, limit) {
  const declared = request.headers.get("Content-Length");
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > limit) {
    await request.body?.cancel().catch(() => {});
    return { tooLarge: true };
  }
  if (request.body === null) return { bytes: new Uint8Array(0) };

  const reader = request.body.getReader();
  const chunks = [];
  let total = 0;
  // Each read returns at least one byte or ends the stream, so limit + 1 reads
  // suffice for any body within the limit. The bound also stops empty chunks.
  for (let reads = 0; reads <= limit + 1; reads += 1) {
    const { done, value } = await reader.read();
    if (done) return { bytes: concatenate(chunks, total) };
    total += value.byteLength;
    if (total > limit) break;
    chunks.push(value);
  }
  await reader.cancel().catch(() => {});
  return { tooLarge: true };
}

function concatenate(chunks, total) {
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** Returns { value } for a UTF-8 JSON object, else { error } with a message for a 400. */
function parseJsonObject(bytes) {
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return { error: "The request body is not valid UTF-8." };
  }
  if (text.trim() === "") return { error: "The request body is empty; send a JSON object." };
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: "The request body is not valid JSON." };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { error: "The request body must be a JSON object." };
  }
  return { value };
}

// ---------------------------------------------------------------------------
// Forwarding

/**
 * Sends the checked request with the package and responds with Stampede's
 * status and body. The relay makes one attempt only (maxRetries 0, and
 * retryAmbiguous stays false): a retry here would be invisible to the page,
 * stack on top of the page's own retries, and for a network failure or a
 * timeout could deliver an event twice. The page's copy of the package
 * retries 429 and 503 itself, with the Retry-After passed on to it.
 */
async function forward(route, body, config, cors) {
  const upstream = {};
  let client;
  try {
    client = new StampedeClient({
      baseUrl: config.baseUrl,
      accessToken: config.token,
      timeoutMs: config.timeoutMs,
      maxRetries: 0,
      retryAmbiguous: false,
      fetch: recordingFetch(upstream),
    });
  } catch (error) {
    // Only the relay's own settings can be wrong here, and the package keeps
    // the token out of its messages.
    console.error(`stampede relay: configuration error: ${error.message}`);
    return reply(500, { message: MISCONFIGURED_MESSAGE }, cors);
  }

  const secrets = tokenForms(config.token);
  try {
    const result = route.workflowId === undefined
      ? await client.sendIncomingEvent(body)
      : await client.storeWorkflowRun(route.workflowId, body);
    return passOn(upstream.status ?? 200, JSON.stringify(result), "application/json", upstream.retryAfter, cors, secrets);
  } catch (error) {
    if (!(error instanceof StampedeError)) throw error;
    return passOnFailure(error, upstream, config, cors, secrets);
  }
}

/** Returns a fetch for the package that records the response's status and Retry-After in `upstream`. */
function recordingFetch(upstream) {
  return async (input, init) => {
    const response = await fetch(input, init);
    upstream.status = response.status;
    upstream.retryAfter = response.headers.get("Retry-After") ?? undefined;
    return response;
  };
}

/**
 * Builds the response for a call that rejected.
 *
 * - A response arrived (every kind from bad_request to http, and
 *   invalid_response): its status, with the StampedeError's body. That body is
 *   the parsed JSON error body, passed on as JSON, or, when Stampede sent no
 *   JSON, the first 500 characters of its text, passed on as text/plain.
 * - No complete response arrived: there is no upstream status to pass on, so
 *   the relay responds as a gateway does, 502 for a network failure (a body
 *   that broke off included) and 504 for a timeout. These are the statuses the
 *   package treats as ambiguous, so the page's copy does not retry them
 *   unless its caller opted into retryAmbiguous, exactly as it would have
 *   treated the network failure or timeout itself. 503 would be wrong here:
 *   it means the request was not processed, and invites a retry.
 */
function passOnFailure(error, upstream, config, cors, secrets) {
  switch (error.kind) {
    case "validation":
      // The validators passed the input, so only the relay's settings can be
      // wrong (an option the package rejects only when it sends).
      console.error(`stampede relay: the package rejected the relay's settings: ${error.message}`);
      return reply(500, { message: MISCONFIGURED_MESSAGE }, cors);
    case "timeout":
      console.error(`stampede relay: the request to Stampede timed out after ${config.timeoutMs} ms`);
      return reply(504, {
        message: `The relay's request to Stampede timed out after ${config.timeoutMs} ms, so it may or may not have been processed.`,
      }, cors);
    case "network":
    case "aborted":
      console.error(`stampede relay: no complete response from Stampede: ${error.message}`);
      return reply(502, {
        message: "The relay got no complete response from Stampede, so the request may or may not have been processed.",
      }, cors);
    default: {
      const status = error.status ?? upstream.status ?? 502;
      console.warn(`stampede relay: Stampede responded with ${status} (${error.kind})`);
      if (error.body === undefined) {
        // Only a 2xx body over the package's 1 MiB reading limit has none.
        return passOn(status, error.message, "text/plain; charset=utf-8", upstream.retryAfter, cors, secrets);
      }
      if (typeof error.body === "string") {
        return passOn(status, error.body, "text/plain; charset=utf-8", upstream.retryAfter, cors, secrets);
      }
      return passOn(status, JSON.stringify(error.body), "application/json", upstream.retryAfter, cors, secrets);
    }
  }
}

/** Builds the page's response from Stampede's status and body, with the token removed should Stampede echo it. */
function passOn(status, text, contentType, retryAfter, cors, secrets) {
  const headers = { ...baseHeaders(), ...cors, "Content-Type": contentType };
  if (retryAfter !== undefined && !containsAny(retryAfter, secrets)) headers["Retry-After"] = retryAfter;
  const body = NULL_BODY_STATUSES.has(status) ? null : removeAll(text, secrets);
  return new Response(body, { status, headers });
}

/** Returns every form an echo of the token could take: as configured, without a "Bearer " prefix, and JSON-escaped. */
function tokenForms(token) {
  const bare = token.replace(/^Bearer\s+/i, "");
  const forms = new Set([token, bare, JSON.stringify(token).slice(1, -1), JSON.stringify(bare).slice(1, -1)]);
  forms.delete("");
  // Longest first, so a longer form is replaced before a shorter one inside it.
  return [...forms].sort((a, b) => b.length - a.length);
}

function containsAny(text, secrets) {
  return secrets.some((secret) => text.includes(secret));
}

function removeAll(text, secrets) {
  let clean = text;
  for (const secret of secrets) clean = clean.split(secret).join("[redacted]");
  return clean;
}

// ---------------------------------------------------------------------------
// Responses and CORS

function baseHeaders() {
  return { "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", Vary: "Origin" };
}

function allowedOriginHeaders(origin) {
  return { "Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": "Retry-After" };
}

/** Returns the CORS headers for a request's origin, or none when the origin is not allowed. */
function corsHeadersFor(request, config) {
  const origin = request.headers.get("Origin");
  return origin !== null && config.allowedOrigins.has(origin) ? allowedOriginHeaders(origin) : {};
}

/** Builds one of the relay's own responses, in the API's JSON error shape. */
function reply(status, body, extraHeaders = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...baseHeaders(), ...extraHeaders, "Content-Type": "application/json" },
  });
}

/**
 * Responds to a preflight from an allowed origin. Only Content-Type is allowed as a
 * request header (Accept is safelisted): the relay forwards no header of the
 * page, and a page that tries to send Authorization should fail loudly here.
 */
function preflight(cors) {
  return new Response(null, {
    status: 204,
    headers: {
      ...baseHeaders(),
      ...cors,
      "Access-Control-Allow-Methods": "POST",
      "Access-Control-Allow-Headers": "Content-Type",
      "Access-Control-Max-Age": PREFLIGHT_MAX_AGE_SECONDS,
    },
  });
}
