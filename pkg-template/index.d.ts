/**
 * The body of an incoming event, with the API's own field names. All its text,
 * names included, is at most 4,194,304 characters and valid Unicode.
 */
export interface IncomingEvent {
  /** The organisation registration the event belongs to: a UUID in the hyphenated 8-4-4-4-12 form. */
  organisation_registration_id: string;
  /** Venue serials, each 1 to 12 characters (Unicode code points), at most 1000. */
  serials?: string[];
  /**
   * Scalar values passed into the workflow, at most 1000 keys. `source`, when present,
   * routes the event to a specific workflow and must be a non-empty string.
   */
  parameters?: Record<string, string | number | boolean>;
}

/** The body of a workflow run request. */
export interface WorkflowRunRequest {
  /** The organisation registration for the run: a UUID in the hyphenated 8-4-4-4-12 form. */
  org_reg_id: string;
}

/** The 200 response to an incoming event. Fields the API adds later are kept at run time. */
export interface IncomingEventResponse {
  message: string;
  event: Record<string, unknown>;
}

/** One run of one workflow, as the API returns it. */
export interface WorkflowRun {
  id: string;
  org_reg_id: string;
  status: string;
  profile: object;
  trigger: string;
  event: { triggered_by: string };
  nodes_processed: null | number;
  created_at: string;
  updated_at: string;
}

/** The 200 response to a workflow run request. */
export interface WorkflowRunResponse {
  data: WorkflowRun;
}

/** Options for a client, or for a one-off call together with {@link RequestOptions}. */
export interface ClientOptions {
  /**
   * The organisation's access token, sent as `Authorization: Bearer <token>`. A leading
   * `Bearer ` is accepted and not doubled. Required when `baseUrl` is the Stampede API.
   */
  accessToken?: string;
  /**
   * An absolute `https:` URL without query or fragment; it may carry a path prefix, such
   * as a relay's. Plain `http:` is accepted only for localhost, 127.0.0.0/8 and [::1].
   * @default "https://global.stampede.ai"
   */
  baseUrl?: string;
  /**
   * Milliseconds one attempt may take, reading the response included; a whole number
   * from 1 to 2147483647.
   * @default 30000
   */
  timeoutMs?: number;
  /**
   * Milliseconds the whole call may take, every attempt and retry delay included; a whole
   * number from 1 to 2147483647. When it runs out the call rejects with kind `"timeout"`.
   * @default no limit
   */
  totalTimeoutMs?: number;
  /**
   * Retries after the first attempt, a whole number from 0 to 10. Only failures the
   * retry policy allows are retried.
   * @default 2
   */
  maxRetries?: number;
  /**
   * Also retry network failures, timeouts, 502 and 504, after which the server may have
   * processed the request. This gives at-least-once delivery: an event may be sent twice.
   * @default false
   */
  retryAmbiguous?: boolean;
  /**
   * A fetch to use instead of `globalThis.fetch`. It is called with an undefined `this`.
   * @default globalThis.fetch
   */
  fetch?: typeof fetch;
  /**
   * Extra request headers. Authorization, Content-Type, Accept, Content-Length and Host are
   * set by the package and cannot be given here; values must be visible ASCII.
   */
  headers?: Record<string, string>;
}

/** Options for one call. */
export interface RequestOptions {
  /** Cancels the request and any pending retry; the call rejects with kind `"aborted"`. */
  signal?: AbortSignal;
  /** Milliseconds one attempt may take; replaces the client's value. */
  timeoutMs?: number;
  /** Milliseconds the whole call may take, retries included; replaces the client's value. */
  totalTimeoutMs?: number;
  /** Retries after the first attempt; replaces the client's value. */
  maxRetries?: number;
  /** Also retry failures after which the request may have been processed; replaces the client's value. */
  retryAmbiguous?: boolean;
}

/**
 * Sends an incoming event: `POST {baseUrl}/v1/workflows/incoming-event`.
 * Resolves to the parsed 200 body; rejects with a {@link StampedeError}.
 */
export function sendIncomingEvent(
  event: IncomingEvent,
  options: ClientOptions & RequestOptions,
): Promise<IncomingEventResponse>;

/**
 * Pushes one user through one workflow: `POST {baseUrl}/v1/workflows/{workflowId}/workflow-runs`.
 * Resolves to the parsed 200 body; rejects with a {@link StampedeError}.
 */
export function storeWorkflowRun(
  workflowId: string,
  request: WorkflowRunRequest,
  options: ClientOptions & RequestOptions,
): Promise<WorkflowRunResponse>;

/** Reusable configuration for many calls. Calls on one client may run concurrently. */
export class StampedeClient {
  /** Validates the options; an invalid one throws a {@link StampedeError} of kind `"validation"`. */
  constructor(options: ClientOptions);
  sendIncomingEvent(event: IncomingEvent, options?: RequestOptions): Promise<IncomingEventResponse>;
  storeWorkflowRun(workflowId: string, request: WorkflowRunRequest, options?: RequestOptions): Promise<WorkflowRunResponse>;
}

/** The result of a validator: the server's 422 shape when invalid. */
export type ValidationResult =
  | { valid: true }
  | { valid: false; message: string; errors: Record<string, string[]> };

/** Applies the rules of {@link sendIncomingEvent} to an event without sending it. */
export function validateIncomingEvent(event: unknown): ValidationResult;

/** Applies the rules of {@link storeWorkflowRun} to a workflow id and request without sending them. */
export function validateWorkflowRun(workflowId: unknown, request: unknown): ValidationResult;

/** Why a call failed. */
export type StampedeErrorKind =
  /** Rejected before sending; nothing left the process. */
  | "validation"
  /** 400 */
  | "bad_request"
  /** 401 */
  | "unauthorized"
  /** 403 */
  | "forbidden"
  /** 404 */
  | "not_found"
  /** 422 */
  | "unprocessable"
  /** 423: the user is in the workflow's waiting period. */
  | "locked"
  /** 429 */
  | "rate_limited"
  /** 5xx */
  | "server"
  /** Any other status that is not 2xx. */
  | "http"
  /** fetch rejected: no response; or the body broke off after the status arrived, and `status` is set. */
  | "network"
  /** An attempt took longer than `timeoutMs`, or the call longer than `totalTimeoutMs`; `status` is set when the status had arrived. */
  | "timeout"
  /** The caller's signal aborted; `status` is set when the status had arrived. */
  | "aborted"
  /** A 2xx whose body is not a JSON object, or is over 1 MiB. */
  | "invalid_response";

/** The optional fields of a {@link StampedeError}, and the `cause` it keeps. */
export interface StampedeErrorDetails {
  status?: number;
  errors?: Record<string, string[]>;
  retryAfterMs?: number;
  body?: unknown;
  attempts?: number;
  cause?: unknown;
}

/** The error of every rejection. It never contains the access token. */
export class StampedeError extends Error {
  readonly name: "StampedeError";
  readonly kind: StampedeErrorKind;
  /** The HTTP status, when a response arrived. */
  readonly status?: number;
  /** Field errors under Laravel's dotted keys, for `"validation"` and `"unprocessable"`. */
  readonly errors?: Record<string, string[]>;
  /** The delay the server asked for in `Retry-After`, in milliseconds. */
  readonly retryAfterMs?: number;
  /** The parsed JSON error body, or a text excerpt of at most 500 characters. */
  readonly body?: unknown;
  /** Requests actually sent; 0 for `"validation"`. */
  readonly attempts: number;
  /** Creates an error as the package does; useful for fakes in tests. */
  constructor(kind: StampedeErrorKind, message: string, details?: StampedeErrorDetails);
  /** Returns the fields above with `name` and `message`, for logging as JSON. */
  toJSON(): Record<string, unknown>;
}
