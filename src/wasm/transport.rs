//! Sending a built request with fetch: one attempt at a time, with a timer
//! per attempt, the caller's AbortSignal, and the retry policy between them.
//!
//! Each call is a small state machine, not a Rust future: a call waiting on
//! a promise is parked in `CALLS`, and the JavaScript helper `settle` wakes it
//! through one long-lived callback. Without an async executor, its wakers and
//! a closure per await, the wasm is about 17 KB smaller.

use core::cell::UnsafeCell;

use js_sys::{Array, Function, Promise, JSON};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;
use web_sys::{AbortController, AbortSignal};

use super::convert::{field_errors_from_js, read_property, to_js_error, ErrorExtras};
use crate::prelude::*;
use crate::text::find_text;
use crate::response::REDIRECT_HINT;
use crate::{
    excerpt, invalid_body_error, kind_for_status, oversized_body_error, parse_retry_after, redact, status_error, Error,
    ErrorKind, ErrorResponse, HttpRequest, Settings, BODY_EXCERPT_CHARS, MAX_RESPONSE_BYTES,
};

#[wasm_bindgen(module = "/src/wasm/stampede-error.js")]
extern "C" {
    #[wasm_bindgen(js_name = requestInit)]
    fn request_init(header_text: &str, body: &str, signal: &AbortSignal) -> JsValue;

    /// Returns a promise of what became of fetch's `returned` value:
    /// `[0, cause]` when it rejected, `[1, status]` when it resolved to no
    /// usable response (-2 for a redirect), `[2, status, cause]` when the body
    /// could not be read, or `[3, status, Retry-After, text, cut, object]`.
    /// The text is at most `limit` bytes. `object` is set, and the text is
    /// null, for a 2xx JSON object that does not contain the token. When
    /// `signal` aborts first, the promise resolves at once to `[0, reason]`,
    /// or to `[2, status, reason]` when the status had arrived.
    #[wasm_bindgen(js_name = receive)]
    fn receive(returned: &JsValue, limit: u32, token: Option<&str>, signal: &AbortSignal) -> JsValue;

    /// Calls `resume(id, ok, result)` once `value` settles.
    #[wasm_bindgen(js_name = settle)]
    fn settle(resume: &JsValue, id: u32, value: &JsValue);

    /// Calls `resume(id, true)` after `delay_ms`, or sooner when `signal` aborts.
    #[wasm_bindgen(js_name = later)]
    fn later(resume: &JsValue, id: u32, delay_ms: f64, signal: &JsValue);

    /// Returns `[promise, resolve, reject]`.
    #[wasm_bindgen(js_name = deferred)]
    fn deferred() -> Array;

    #[wasm_bindgen(js_name = listenForAbort)]
    fn listen_for_abort(signal: &JsValue, handler: &Function, add: bool);

    #[wasm_bindgen(js_name = isAborted)]
    fn signal_aborted(signal: &JsValue) -> bool;
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, delay_ms: f64) -> JsValue;

    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(timer: &JsValue);

    #[wasm_bindgen(js_namespace = Math, js_name = random)]
    fn random() -> f64;

    #[wasm_bindgen(js_namespace = Date, js_name = now)]
    fn date_now() -> f64;
}

/// One call: the request, how to send it and when to stop.
pub struct Call {
    pub request: HttpRequest,
    pub settings: Settings,
    /// The fetch to call, with an undefined `this`.
    pub fetch: Function,
    /// The caller's AbortSignal, already checked to look like one.
    pub signal: Option<JsValue>,
}

/// A call in progress and the promise it settles.
struct Pending {
    call: Call,
    resolve: Function,
    reject: Function,
    deadline: Deadline,
    attempts: u32,
    step: Step,
}

/// The promise or timer a parked call waits for.
enum Step {
    /// The response to the attempt, read by `receive`.
    Response(Attempt),
    /// The delay before the next attempt.
    Retry,
}

/// One request in flight: its controller, which aborts it when its timer
/// fires or the caller's signal does.
struct Attempt {
    controller: AbortController,
    abort: Function,
    timer: JsValue,
    /// True when the timer is the call's deadline, not `timeoutMs`.
    cut_by_deadline: bool,
}

/// The calls waiting on a promise, by id, and the callback that resumes them.
struct Calls {
    slots: UnsafeCell<Slots>,
    resume: UnsafeCell<Option<JsValue>>,
}

struct Slots {
    calls: Vec<Option<Pending>>,
    /// The ids of the empty entries of `calls`.
    free: Vec<u32>,
}

// SAFETY: wasm32-unknown-unknown without the atomics feature runs one thread.
unsafe impl Sync for Calls {}

static CALLS: Calls = Calls {
    slots: UnsafeCell::new(Slots { calls: Vec::new(), free: Vec::new() }),
    resume: UnsafeCell::new(None),
};

impl Calls {
    /// Parks `pending` and returns its id. Nothing here calls JavaScript, so
    /// the borrow cannot overlap another.
    fn park(&self, pending: Pending) -> u32 {
        // SAFETY: one thread, and the borrow ends before this function returns.
        let slots = unsafe { &mut *self.slots.get() };
        match slots.free.pop() {
            Some(id) => {
                slots.calls[id as usize] = Some(pending);
                id
            }
            None => {
                slots.calls.push(Some(pending));
                (slots.calls.len() - 1) as u32
            }
        }
    }

    fn unpark(&self, id: u32) -> Option<Pending> {
        // SAFETY: as in `park`.
        let slots = unsafe { &mut *self.slots.get() };
        let pending = slots.calls.get_mut(id as usize).and_then(Option::take)?;
        slots.free.push(id);
        Some(pending)
    }

    /// The JavaScript function that calls `resume`, created on first use and kept for good.
    fn resume_function(&self) -> JsValue {
        // SAFETY: as in `park`. Creating the closure calls no code of the caller's.
        let resume = unsafe { &mut *self.resume.get() };
        resume.get_or_insert_with(|| Closure::<dyn Fn(u32, bool, JsValue)>::own_aborting(resume_call).into_js_value()).clone()
    }
}

/// Sends the call, retrying as its policy allows. The promise resolves to
/// the parsed JSON object of the 2xx response or rejects with a `StampedeError`.
pub fn send(call: Call) -> Promise {
    let parts = deferred();
    let deadline = Deadline::start(call.settings.total_timeout_ms);
    next_attempt(Pending {
        call,
        resolve: parts.get(1).unchecked_into(),
        reject: parts.get(2).unchecked_into(),
        deadline,
        attempts: 0,
        step: Step::Retry,
    });
    parts.get(0).unchecked_into()
}

/// Parks `pending` until `value` settles.
fn wait(pending: Pending, value: &JsValue) {
    let resume = CALLS.resume_function();
    settle(&resume, CALLS.park(pending), value);
}

/// Resumes the parked call `id` with what its promise settled to.
fn resume_call(id: u32, ok: bool, value: JsValue) {
    let Some(mut pending) = CALLS.unpark(id) else {
        return;
    };
    match core::mem::replace(&mut pending.step, Step::Retry) {
        Step::Response(attempt) => {
            // receive always resolves. Should its promise reject anyway, fetch counts as failed.
            let outcome = if ok { outcome(value.unchecked_into()) } else { Err((Stage::Fetch, value)) };
            finish_attempt(pending, attempt, outcome);
        }
        Step::Retry => next_attempt(pending),
    }
}

impl Pending {
    fn resolve(self, body: &JsValue) {
        let _ = self.resolve.call1(&JsValue::UNDEFINED, body);
    }

    fn reject(self, error: &Error, extras: ErrorExtras) {
        let _ = self.reject.call1(&JsValue::UNDEFINED, &to_js_error(error, extras));
    }
}

/// Starts the next attempt, unless the caller aborted or the deadline passed.
fn next_attempt(mut pending: Pending) {
    if is_aborted(pending.call.signal.as_ref()) {
        let error = aborted_error(pending.attempts);
        return pending.reject(&error, ErrorExtras::default());
    }
    let Some(remaining_ms) = pending.deadline.remaining_ms() else {
        let error = pending.deadline.error(pending.attempts);
        return pending.reject(&error, ErrorExtras::default());
    };
    pending.attempts += 1;

    // The controller aborts this attempt when its timer fires or the caller's signal does.
    let Some((controller, abort)) = new_controller() else {
        let error = network_error("AbortController is not available in this runtime, so no request was sent.", pending.attempts - 1);
        return pending.reject(&error, ErrorExtras::default());
    };
    let timeout_ms = f64::from(pending.call.settings.timeout_ms);
    let timer = set_timeout(&abort, timeout_ms.min(remaining_ms));
    if let Some(signal) = &pending.call.signal {
        listen_for_abort(signal, &abort, true);
    }
    let attempt = Attempt { controller, abort, timer, cut_by_deadline: remaining_ms < timeout_ms };

    // One string carries every header, because each string crossing into JavaScript costs a copy.
    let request = &pending.call.request;
    let mut header_text = String::new();
    for (name, value) in &request.headers {
        header_text.push_str(name);
        header_text.push('\0');
        header_text.push_str(value);
        header_text.push('\0');
    }
    let signal = attempt.controller.signal();
    let init = request_init(&header_text, &request.body, &signal);
    match pending.call.fetch.call2(&JsValue::UNDEFINED, &JsValue::from_str(&request.url), &init) {
        // receive also ends when the controller aborts, so a fetch that ignores
        // its signal cannot keep the call waiting past its timeout.
        Ok(returned) => {
            let token = pending.call.settings.access_token.as_deref();
            let response = receive(&returned, MAX_RESPONSE_BYTES as u32, token, &signal);
            pending.step = Step::Response(attempt);
            wait(pending, &response);
        }
        Err(cause) => finish_attempt(pending, attempt, Err((Stage::Fetch, cause))),
    }
}

/// Reads what `receive` resolved to.
fn outcome(received: Array) -> Outcome {
    let status = received.get(1).as_f64().unwrap_or(-1.0);
    match received.get(0).as_f64() {
        Some(3.0) if (100.0..=599.0).contains(&status) => {
            let retry_after = received.get(2).as_string();
            Ok((status as u16, retry_after, received))
        }
        Some(2.0) if (100.0..=599.0).contains(&status) => Err((Stage::Body(status as u16), received.get(2))),
        Some(1.0) if status == -2.0 => Err((Stage::Redirect, JsValue::UNDEFINED)),
        Some(0.0) => Err((Stage::Fetch, received.get(1))),
        _ => Err((Stage::NotAResponse, JsValue::UNDEFINED)),
    }
}

/// The stage at which an attempt failed without a usable response.
enum Stage {
    /// fetch threw or rejected: no response arrived.
    Fetch,
    /// fetch resolved to something without a valid status.
    NotAResponse,
    /// A browser's opaque response to a redirect, which the package does not follow.
    Redirect,
    /// The status arrived, but reading the body failed.
    Body(u16),
}

/// An attempt's end: the status, `Retry-After` and what `receive` resolved
/// to, or the stage that failed and what it failed with.
type Outcome = Result<(u16, Option<String>, Array), (Stage, JsValue)>;

/// Ends an attempt: resolves the call, or rejects it, or waits to retry.
fn finish_attempt(pending: Pending, attempt: Attempt, outcome: Outcome) {
    clear_timeout(&attempt.timer);
    if let Some(signal) = &pending.call.signal {
        listen_for_abort(signal, &attempt.abort, false);
    }
    let failure = match judge(&pending, &attempt, outcome) {
        Ok(body) => return pending.resolve(&body),
        Err(failure) => failure,
    };

    let retries_done = pending.attempts - 1;
    let delay_ms = pending.call.settings.retry.delay_ms(&failure.error, retries_done, random());
    // A delay that would end past the deadline cannot lead to a result, so the last failure is returned.
    let left = pending.deadline.remaining_ms();
    let Some(delay_ms) = delay_ms.filter(|delay| left.is_some_and(|left| (*delay as f64) < left)) else {
        return pending.reject(&failure.error, failure.extras);
    };
    let signal = pending.call.signal.clone().unwrap_or(JsValue::UNDEFINED);
    let resume = CALLS.resume_function();
    later(&resume, CALLS.park(pending), delay_ms as f64, &signal);
}

/// The failure of one attempt, with the JavaScript values that go with its error.
struct Failure {
    error: Error,
    extras: ErrorExtras,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure { error, extras: ErrorExtras::default() }
    }
}

/// Turns an attempt's outcome into the parsed 2xx body or a failure.
fn judge(pending: &Pending, attempt: &Attempt, outcome: Outcome) -> Result<JsValue, Failure> {
    let call = &pending.call;
    let attempts = pending.attempts;

    // A rejection is classified by which signal fired, never by its message.
    let (status, retry_after, body) = match outcome {
        Ok(response) => response,
        Err((stage, cause)) => {
            // A status that arrived stays on the error, because it shows whether the
            // server processed the request, and the retry policy judges by it.
            let arrived = match stage {
                Stage::Body(status) => Some(status),
                _ => None,
            };
            let mut error = if is_aborted(call.signal.as_ref()) {
                aborted_error(attempts)
            } else if !attempt.controller.signal().aborted() {
                return Err(failed_attempt(call, stage, cause, attempts));
            } else if attempt.cut_by_deadline {
                pending.deadline.error(attempts)
            } else {
                let timeout_ms = call.settings.timeout_ms;
                let message = match arrived {
                    Some(status) => text!("The server returned ", status, ", but the rest of its response did not arrive within ", timeout_ms, " ms."),
                    None => text!("The server did not respond within ", timeout_ms, " ms."),
                };
                let mut error = Error::new(ErrorKind::Timeout, message);
                error.attempts = attempts;
                error
            };
            error.status = arrived;
            return Err(error.into());
        }
    };
    judge_response(call, status, retry_after, body, attempts)
}

/// Describes an attempt that failed before a usable response, without an abort.
fn failed_attempt(call: &Call, stage: Stage, cause: JsValue, attempts: u32) -> Failure {
    let token = call.settings.access_token.as_deref();
    let url = &call.request.url;
    let mut error = match stage {
        Stage::Fetch => network_error(&text!("POST ", url, " failed before a response arrived: ", describe_rejection(&cause), "."), attempts),
        Stage::NotAResponse => network_error(&text!("POST ", url, " failed: the fetch function resolved to a value that is not a Response."), attempts),
        Stage::Redirect => {
            let mut error = Error::new(ErrorKind::Http, text!("POST ", url, " received a redirect response. ", REDIRECT_HINT));
            error.attempts = attempts;
            error
        }
        Stage::Body(status) => {
            let mut error = network_error(&text!("POST ", url, " returned ", status, ", but its body could not be read: ", describe_rejection(&cause), "."), attempts);
            // A response arrived, so the retry policy judges it by its status.
            error.status = Some(status);
            error
        }
    };
    error.message = redact(&error.message, token);
    let cause = (!cause.is_undefined()).then(|| redact_cause(cause, token));
    Failure { error, extras: ErrorExtras { body: None, cause } }
}

/// Turns a response, with what `receive` read of its body, into the parsed 2xx body or a failure.
fn judge_response(call: &Call, status: u16, retry_after: Option<String>, body: Array, attempts: u32) -> Result<JsValue, Failure> {
    let token = call.settings.access_token.as_deref();
    let success = (200..=299).contains(&status);
    let clean = body.get(5);
    if success && clean.is_object() {
        return Ok(clean);
    }
    // A streamed body was cut while it was read. A body read with text() is checked here.
    let raw = body.get(3).as_string().unwrap_or_default();
    let truncated = body.get(4).is_truthy() || raw.len() > MAX_RESPONSE_BYTES;
    let text = redact(&raw, token);
    if truncated && success {
        return Err(oversized_body_error(status, attempts).into());
    }
    // The start of a cut error body is kept as text, because it cannot parse.
    let parsed = if truncated { None } else { JSON::parse(&text).ok().map(|body| redact_parsed(body, token)) };
    if success {
        return match parsed {
            Some(body) if body.is_object() && !Array::is_array(&body) => Ok(body),
            _ => Err(Failure {
                error: invalid_body_error(status, attempts),
                extras: ErrorExtras { body: Some(body_or_excerpt(parsed, &text)), cause: None },
            }),
        };
    }

    let server_message = parsed.as_ref().and_then(|body| read_property(body, "message").as_string());
    let errors = match (kind_for_status(status), &parsed) {
        (Some(ErrorKind::Unprocessable), Some(body)) => field_errors_from_js(&read_property(body, "errors")),
        _ => None,
    };
    let retry_after_ms = retry_after.and_then(|value| parse_retry_after(&value, date_now().max(0.0) as u64));
    let response = ErrorResponse { status, server_message: server_message.as_deref(), errors, retry_after_ms };
    Err(Failure {
        error: status_error(response, attempts),
        extras: ErrorExtras { body: Some(body_or_excerpt(parsed, &text)), cause: None },
    })
}

/// The end of the whole call under `totalTimeoutMs`, if one is set.
struct Deadline {
    total_ms: Option<u32>,
    ends_at: f64,
}

impl Deadline {
    fn start(total_ms: Option<u32>) -> Self {
        let ends_at = total_ms.map_or(f64::INFINITY, |total| date_now() + f64::from(total));
        Deadline { total_ms, ends_at }
    }

    /// Returns the milliseconds left, infinite without a deadline, or `None` once it has passed.
    fn remaining_ms(&self) -> Option<f64> {
        if self.total_ms.is_none() {
            return Some(f64::INFINITY);
        }
        let left = self.ends_at - date_now();
        (left > 0.0).then_some(left)
    }

    fn error(&self, attempts: u32) -> Error {
        let total = self.total_ms.unwrap_or(0);
        let mut error = Error::new(ErrorKind::Timeout, text!("The call did not complete within its totalTimeoutMs of ", total, " ms, retries included."));
        error.attempts = attempts;
        error
    }
}

/// Redacts the token from a parsed body too: JSON escapes such as PHP's "\/"
/// hide it from the raw text, but JSON.parse restores it.
fn redact_parsed(body: JsValue, token: Option<&str>) -> JsValue {
    let (Some(token), Some(json)) = (token, JSON::stringify(&body).ok().and_then(|json| json.as_string())) else {
        return body;
    };
    // JSON.stringify escapes '"' and '\\', which a token may contain.
    let escaped = JSON::stringify(&JsValue::from_str(token)).ok().and_then(|json| json.as_string()).unwrap_or_default();
    let escaped = escaped.strip_prefix('"').and_then(|inner| inner.strip_suffix('"')).unwrap_or(token);
    let clean = redact(&redact(&json, Some(token)), Some(escaped));
    if clean == json {
        return body;
    }
    JSON::parse(&clean).unwrap_or(body)
}

/// Returns `cause`, or a plain Error with a redacted message in its place when
/// its message, stack or own cause contains the token, because loggers print causes.
fn redact_cause(cause: JsValue, token: Option<&str>) -> JsValue {
    let Some(token) = token else {
        return cause;
    };
    let inner = read_property(&cause, "cause");
    let texts = [
        read_property(&cause, "message"),
        read_property(&cause, "stack"),
        read_property(&inner, "message"),
        read_property(&inner, "stack"),
        cause.clone(),
    ];
    let leaks = texts.iter().any(|text| text.as_string().is_some_and(|text| find_text(&text, token).is_some()));
    if !leaks {
        return cause;
    }
    js_sys::Error::new(&redact(&describe_rejection(&cause), Some(token))).into()
}

/// Keeps a JSON error body as parsed, else a short excerpt of the text.
fn body_or_excerpt(parsed: Option<JsValue>, text: &str) -> JsValue {
    parsed.unwrap_or_else(|| JsValue::from_str(&excerpt(text, BODY_EXCERPT_CHARS)))
}

/// Creates an AbortController and its `abort` bound to it, so timers and
/// event listeners can call it without a Rust closure.
fn new_controller() -> Option<(AbortController, Function)> {
    let controller = AbortController::new().ok()?;
    let abort = read_property(&controller, "abort").dyn_into::<Function>().ok()?.bind0(&controller);
    Some((controller, abort))
}

fn is_aborted(signal: Option<&JsValue>) -> bool {
    signal.is_some_and(signal_aborted)
}

/// Describes what fetch rejected with: its message and, where Node gives
/// one, its cause's code or message (such as ECONNREFUSED).
fn describe_rejection(cause: &JsValue) -> String {
    let message = read_property(cause, "message").as_string().unwrap_or_else(|| "fetch failed".into());
    let inner = read_property(cause, "cause");
    let detail = read_property(&inner, "code").as_string().or_else(|| read_property(&inner, "message").as_string());
    // The caller ends the sentence, so a full stop of the runtime's own is dropped.
    let message = message.trim_end_matches('.');
    match detail {
        Some(detail) if !detail.is_empty() && find_text(message, &detail).is_none() => text!(message, " (", detail.trim_end_matches('.'), ")"),
        _ => message.to_string(),
    }
}

fn aborted_error(attempts: u32) -> Error {
    let mut error = Error::new(ErrorKind::Aborted, "The request was aborted by the caller's AbortSignal.");
    error.attempts = attempts;
    error
}

fn network_error(message: &str, attempts: u32) -> Error {
    let mut error = Error::new(ErrorKind::Network, message);
    error.attempts = attempts;
    error
}
