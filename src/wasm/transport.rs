//! Sending a built request with fetch: one attempt at a time, with a timer
//! per attempt, the caller's AbortSignal, and the retry policy between them.

use crate::prelude::*;

use js_sys::{Function, Promise, Reflect, Uint8Array, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::AbortController;

use super::convert::{field_errors_from_js, read_property, to_js_error, ErrorExtras};
use crate::response::REDIRECT_HINT;
use crate::{
    excerpt, invalid_body_error, kind_for_status, oversized_body_error, parse_retry_after, redact, status_error, Error,
    ErrorKind, ErrorResponse, HttpRequest, Settings, BODY_EXCERPT_CHARS, MAX_RESPONSE_BYTES,
};

#[wasm_bindgen(module = "/src/wasm/stampede-error.js")]
extern "C" {
    #[wasm_bindgen(js_name = requestInit)]
    fn request_init(header_text: &str, body: &str, signal: &web_sys::AbortSignal) -> JsValue;

    /// Returns `[status or -1, Retry-After, Content-Length, Content-Encoding]`.
    #[wasm_bindgen(js_name = responseHead)]
    fn response_head(response: &JsValue) -> js_sys::Array;

    #[wasm_bindgen(js_name = listenForAbort)]
    fn listen_for_abort(signal: &JsValue, handler: &Function, add: bool);

    #[wasm_bindgen(js_name = isAborted)]
    fn signal_aborted(signal: &JsValue) -> bool;

    /// Returns a signal that aborts with `signal`, for the call's own listeners.
    #[wasm_bindgen(js_name = followSignal)]
    fn follow_signal(signal: &JsValue) -> JsValue;
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

/// The failure of one attempt, with the JavaScript values that go with its error.
struct Failure {
    error: Error,
    extras: ErrorExtras,
}

impl Failure {
    fn new(error: Error) -> Self {
        Failure { error, extras: ErrorExtras::default() }
    }
}

/// Sends the call, retrying as its policy allows, and resolves to the parsed
/// JSON object of the 2xx response or rejects with a `StampedeError`.
pub async fn send(call: Call) -> Result<JsValue, JsValue> {
    let call = Call { signal: call.signal.as_ref().map(follow_signal), ..call };
    let deadline = Deadline::start(call.settings.total_timeout_ms);
    let mut attempts: u32 = 0;
    loop {
        if is_aborted(call.signal.as_ref()) {
            return Err(to_js_error(&aborted_error(attempts), ErrorExtras::default()));
        }
        let Some(remaining_ms) = deadline.remaining_ms() else {
            return Err(to_js_error(&deadline.error(attempts), ErrorExtras::default()));
        };

        attempts += 1;
        let failure = match attempt(&call, attempts, remaining_ms, &deadline).await {
            Ok(body) => return Ok(body),
            Err(failure) => failure,
        };

        let retries_done = attempts - 1;
        let delay_ms = call.settings.retry.delay_ms(&failure.error, retries_done, random());
        // A delay that would end past the deadline cannot lead to a result, so the last failure is returned.
        let Some(delay_ms) = delay_ms.filter(|delay| deadline.remaining_ms().map_or(false, |left| (*delay as f64) < left)) else {
            return Err(to_js_error(&failure.error, failure.extras));
        };
        sleep(delay_ms as f64, call.signal.as_ref()).await;
    }
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
        let left = self.ends_at - date_now();
        (left > 0.0).then_some(left)
    }

    fn error(&self, attempts: u32) -> Error {
        let total = self.total_ms.unwrap_or(0);
        let mut error = Error::new(
            ErrorKind::Timeout,
            text!("The call did not complete within its totalTimeoutMs of ", total, " ms, retries included."),
        );
        error.attempts = attempts;
        error
    }
}

async fn attempt(call: &Call, attempts: u32, remaining_ms: f64, deadline: &Deadline) -> Result<JsValue, Failure> {
    let token = call.settings.access_token.as_deref();

    // The controller aborts this attempt when its timer fires or the caller's signal does.
    let controller = AbortController::new()
        .map_err(|_| Failure::new(network_error("AbortController is not available in this runtime, so no request was sent.", attempts - 1)))?;
    let abort = abort_function(&controller)?;
    let timeout_ms = f64::from(call.settings.timeout_ms);
    let cut_by_deadline = remaining_ms < timeout_ms;
    let timer = set_timeout(&abort, timeout_ms.min(remaining_ms));
    if let Some(signal) = &call.signal {
        listen_for_abort(signal, &abort, true);
    }

    let outcome = fetch_and_read(call, &controller).await;

    clear_timeout(&timer);
    if let Some(signal) = &call.signal {
        listen_for_abort(signal, &abort, false);
    }

    // A rejection is classified by which signal fired, never by its message.
    let (status, retry_after, body) = match outcome {
        Ok(response) => response,
        Err((stage, cause)) => {
            if is_aborted(call.signal.as_ref()) {
                return Err(Failure::new(aborted_error(attempts)));
            }
            if controller.signal().aborted() && cut_by_deadline {
                return Err(Failure::new(deadline.error(attempts)));
            }
            if controller.signal().aborted() {
                return Err(Failure::new(timeout_error(call.settings.timeout_ms, attempts)));
            }
            let url = &call.request.url;
            let mut error = match stage {
                Stage::Fetch => network_error(&text!("POST ", url, " failed before a response arrived: ", describe_rejection(&cause), "."), attempts),
                Stage::NotAResponse => network_error(&text!("POST ", url, " failed: the fetch function resolved to a value that is not a Response."), attempts),
                Stage::Redirect => {
                    let mut error = Error::new(ErrorKind::Http, text!("POST ", url, " received a redirect response. ", REDIRECT_HINT));
                    error.attempts = attempts;
                    error
                }
                Stage::Body(status) => network_error(&text!("POST ", url, " returned ", status, ", but its body could not be read: ", describe_rejection(&cause), "."), attempts),
            };
            if let Stage::Body(status) = stage {
                // A response arrived, so the retry policy judges it by its status.
                error.status = Some(status);
            }
            error.message = redact(&error.message, token);
            let cause = (!cause.is_undefined()).then(|| redact_cause(cause, token));
            return Err(Failure { error, extras: ErrorExtras { body: None, cause } });
        }
    };

    let text = redact(&body.text, token);
    let success = (200..=299).contains(&status);
    if body.truncated && success {
        return Err(Failure::new(oversized_body_error(status, attempts)));
    }
    // The start of a cut error body is kept as text, because it cannot parse.
    let parsed = if body.truncated { None } else { JSON::parse(&text).ok().map(|body| redact_parsed(body, token)) };
    if success {
        return match parsed {
            Some(body) if body.is_object() && !js_sys::Array::is_array(&body) => Ok(body),
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

/// Calls fetch and reads the status, `Retry-After` and the body.
async fn fetch_and_read(call: &Call, controller: &AbortController) -> Result<(u16, Option<String>, Body), (Stage, JsValue)> {
    let fetch_failed = |cause| (Stage::Fetch, cause);
    // One string carries every header, because each string crossing into JavaScript costs a copy.
    let mut header_text = String::new();
    for (name, value) in &call.request.headers {
        header_text.push_str(name);
        header_text.push('\0');
        header_text.push_str(value);
        header_text.push('\0');
    }
    let init = request_init(&header_text, &call.request.body, &controller.signal());

    // Each wait also ends when the controller aborts, so a fetch that ignores
    // its signal cannot keep the call waiting past its timeout.
    let aborted = abort_promise(&controller.signal());
    let returned = call.fetch.call2(&JsValue::UNDEFINED, &JsValue::from_str(&call.request.url), &init).map_err(fetch_failed)?;
    let response = settle(&returned, &aborted).await.map_err(fetch_failed)?;

    let head = response_head(&response);
    if head.get(0).as_f64() == Some(-2.0) {
        return Err((Stage::Redirect, JsValue::UNDEFINED));
    }
    let status = head
        .get(0)
        .as_f64()
        .filter(|status| (100.0..=599.0).contains(status))
        .ok_or((Stage::NotAResponse, JsValue::UNDEFINED))? as u16;
    let retry_after = head.get(1).as_string();
    let length = BodyLength {
        declared: head.get(2).as_string().and_then(|length| length.trim().parse::<u64>().ok()),
        encoded: head.get(3).as_string().is_some_and(|encoding| !encoding.eq_ignore_ascii_case("identity")),
    };
    let success = (200..=299).contains(&status);
    let body = read_body(&response, success, length, &aborted).await.map_err(|cause| (Stage::Body(status), cause))?;
    Ok((status, retry_after, body))
}

/// The length facts of a response body, from its headers.
struct BodyLength {
    /// `Content-Length`, when present and a number.
    declared: Option<u64>,
    /// True when a `Content-Encoding` other than identity applies.
    encoded: bool,
}

/// A response body as text, at most `MAX_RESPONSE_BYTES` of it.
struct Body {
    text: String,
    /// True when the body was longer than the limit and only its start was read.
    truncated: bool,
}

/// Reads the body, at most `MAX_RESPONSE_BYTES` of it. A body of a declared,
/// small enough length is read with `text()`. Any other is read chunk by chunk,
/// so a huge one is never buffered whole.
async fn read_body(response: &JsValue, success: bool, length: BodyLength, aborted: &Promise) -> Result<Body, JsValue> {
    let stream = read_property(response, "body");
    let declared_length = length.declared;
    let too_long = declared_length.is_some_and(|length| length > MAX_RESPONSE_BYTES as u64);
    // A 2xx body this long is rejected unread. Of an error body the start is
    // read below, for the excerpt the error keeps.
    if too_long && success {
        cancel(&stream, "cancel");
        return Ok(Body { text: String::new(), truncated: true });
    }

    // Reading a stream to its end makes Chromium list some requests as
    // cancelled in its network log, so the common case uses text().
    let encoded = length.encoded;
    let get_reader = read_property(&stream, "getReader").dyn_into::<Function>().ok();
    let Some(get_reader) = get_reader.filter(|_| declared_length.is_none() || encoded || too_long) else {
        let text_method: Function = Reflect::get(response, &"text".into())?.dyn_into()?;
        let text = settle(&text_method.call0(response)?, aborted).await?.as_string().unwrap_or_default();
        let truncated = text.len() > MAX_RESPONSE_BYTES;
        return Ok(Body { text, truncated });
    };

    let reader = get_reader.call0(&stream)?;
    let read: Function = read_property(&reader, "read").dyn_into()?;
    let mut bytes: Vec<u8> = Vec::new();
    let mut truncated = false;
    loop {
        let chunk = settle(&read.call0(&reader)?, aborted).await?;
        if read_property(&chunk, "done").is_truthy() {
            break;
        }
        // A real Uint8Array passes both checks. A Proxy, or an object that only
        // has its prototype, fails isView, so no length getter can throw through the wasm.
        let value = read_property(&chunk, "value");
        if !js_sys::ArrayBuffer::is_view(&value) {
            return Err(JsValue::from_str("the response body stream yielded a chunk that is not a Uint8Array"));
        }
        let data: Uint8Array = value.dyn_into()?;
        let room = MAX_RESPONSE_BYTES - bytes.len();
        if data.length() as usize > room {
            bytes.extend(data.subarray(0, room as u32).to_vec());
            truncated = true;
            cancel(&reader, "cancel");
            break;
        }
        bytes.extend(data.to_vec());
    }

    // fetch's text() decodes UTF-8 the same way: invalid bytes become U+FFFD, and a BOM is dropped.
    let text = String::from_utf8_lossy(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes)).into_owned();
    Ok(Body { text, truncated })
}

/// Calls `target.cancel()` and awaits its promise in the background, so a
/// rejection is handled instead of reported as unhandled.
fn cancel(target: &JsValue, method: &str) {
    let Ok(cancel) = read_property(target, method).dyn_into::<Function>() else {
        return;
    };
    if let Ok(promise) = cancel.call0(target) {
        spawn_local(async move {
            let _ = JsFuture::from(Promise::resolve(&promise)).await;
        });
    }
}

/// Awaits `value`, or rejects as soon as `aborted` does.
async fn settle(value: &JsValue, aborted: &Promise) -> Result<JsValue, JsValue> {
    let race: js_sys::Array = [Promise::resolve(value), aborted.clone()].into_iter().collect();
    JsFuture::from(Promise::race(&race)).await
}

/// Returns a promise that rejects when `signal` aborts and never resolves.
fn abort_promise(signal: &web_sys::AbortSignal) -> Promise {
    let signal: &JsValue = signal.as_ref();
    Promise::new(&mut |_resolve, reject| listen_for_abort(signal, &reject, true))
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
    let leaks = texts.iter().any(|text| text.as_string().is_some_and(|text| text.contains(token)));
    if !leaks {
        return cause;
    }
    js_sys::Error::new(&redact(&describe_rejection(&cause), Some(token))).into()
}

/// Keeps a JSON error body as parsed, else a short excerpt of the text.
fn body_or_excerpt(parsed: Option<JsValue>, text: &str) -> JsValue {
    parsed.unwrap_or_else(|| JsValue::from_str(&excerpt(text, BODY_EXCERPT_CHARS)))
}

/// Returns `controller.abort` bound to the controller, so timers and event
/// listeners can call it without a Rust closure.
fn abort_function(controller: &AbortController) -> Result<Function, Failure> {
    Reflect::get(controller, &"abort".into())
        .ok()
        .and_then(|abort| abort.dyn_into::<Function>().ok())
        .map(|abort| abort.bind0(controller))
        .ok_or_else(|| Failure::new(network_error("AbortController.abort is not available in this runtime, so no request was sent.", 0)))
}

fn is_aborted(signal: Option<&JsValue>) -> bool {
    signal.is_some_and(signal_aborted)
}

/// Waits `delay_ms`, or less when the signal aborts first.
async fn sleep(delay_ms: f64, signal: Option<&JsValue>) {
    let mut wake = None;
    let promise = Promise::new(&mut |resolve, _reject| wake = Some(resolve));
    let Some(wake) = wake else {
        return;
    };
    let timer = set_timeout(&wake, delay_ms);
    if let Some(signal) = signal {
        listen_for_abort(signal, &wake, true);
    }
    let _ = JsFuture::from(promise).await;
    clear_timeout(&timer);
    if let Some(signal) = signal {
        listen_for_abort(signal, &wake, false);
    }
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
        Some(detail) if !detail.is_empty() && !message.contains(&detail) => text!(message, " (", detail.trim_end_matches('.'), ")"),
        _ => message.to_string(),
    }
}

fn aborted_error(attempts: u32) -> Error {
    let mut error = Error::new(ErrorKind::Aborted, "The request was aborted by the caller's AbortSignal.");
    error.attempts = attempts;
    error
}

fn timeout_error(timeout_ms: u32, attempts: u32) -> Error {
    let mut error = Error::new(ErrorKind::Timeout, text!("The server did not respond within ", timeout_ms, " ms."));
    error.attempts = attempts;
    error
}

fn network_error(message: &str, attempts: u32) -> Error {
    let mut error = Error::new(ErrorKind::Network, message);
    error.attempts = attempts;
    error
}
