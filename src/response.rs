//! Turning a response's status and body into a result or an error.

use crate::prelude::*;
use crate::text::find_text;

use crate::error::{Error, ErrorKind, FieldErrors};

/// The maximum number of characters of a text error body kept in `StampedeError.body`.
pub const BODY_EXCERPT_CHARS: usize = 500;
/// The maximum number of bytes of a response body the package reads. A longer
/// 2xx body is an `InvalidResponse`, and of a longer error body only the start is kept.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// The maximum number of characters of the server's own message quoted in an error message.
pub const MESSAGE_EXCERPT_CHARS: usize = 300;

/// Maps a status to the error kind it gives, or `None` for 2xx.
pub fn kind_for_status(status: u16) -> Option<ErrorKind> {
    let kind = match status {
        200..=299 => return None,
        400 => ErrorKind::BadRequest,
        401 => ErrorKind::Unauthorized,
        403 => ErrorKind::Forbidden,
        404 => ErrorKind::NotFound,
        422 => ErrorKind::Unprocessable,
        423 => ErrorKind::Locked,
        429 => ErrorKind::RateLimited,
        500..=599 => ErrorKind::Server,
        _ => ErrorKind::Http,
    };
    Some(kind)
}

/// The facts the transport read from a non-2xx response.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ErrorResponse<'a> {
    pub status: u16,
    /// The `message` string of a JSON body.
    pub server_message: Option<&'a str>,
    /// The `errors` object of a 422 JSON body.
    pub errors: Option<FieldErrors>,
    /// `Retry-After` already converted to milliseconds.
    pub retry_after_ms: Option<u64>,
}

/// The advice appended to the error for a redirect.
pub const REDIRECT_HINT: &str = "The package does not follow redirects, because a redirected POST can lose its body or \
carry it to another origin; set baseUrl to the final address.";

/// Builds the error for a non-2xx response: "The server returned 423 Locked: <its message>".
pub fn status_error(response: ErrorResponse<'_>, attempts: u32) -> Error {
    let status = response.status;
    let kind = kind_for_status(status).unwrap_or(ErrorKind::Http);
    let mut message = text!("The server returned ", status);
    if let Some(reason) = reason_phrase(status) {
        message.push(' ');
        message.push_str(reason);
    }
    // A body whose message only repeats the reason phrase ("Too Many Requests") adds nothing.
    let server_message = response
        .server_message
        .map(str::trim)
        .filter(|text| !text.is_empty() && reason_phrase(status).map_or(true, |reason| !reason.eq_ignore_ascii_case(text)));
    match server_message {
        Some(text) => {
            message.push_str(": ");
            message.push_str(&excerpt(text, MESSAGE_EXCERPT_CHARS));
        }
        None => message.push('.'),
    }
    let hint = match status {
        300..=399 => Some(REDIRECT_HINT),
        401 => Some("Check the accessToken option: the server did not accept the access token."),
        404 => Some("Check baseUrl and, for a workflow run, the workflowId."),
        _ => None,
    };
    if let Some(hint) = hint {
        if !message.ends_with(['.', '!', '?']) {
            message.push('.');
        }
        message.push(' ');
        message.push_str(hint);
    }

    let mut error = Error::new(kind, message);
    error.status = Some(status);
    error.errors = response.errors.filter(|_| kind == ErrorKind::Unprocessable);
    error.retry_after_ms = response.retry_after_ms;
    error.attempts = attempts;
    error
}

/// Builds the error for a 2xx response whose body is not a JSON object.
pub fn invalid_body_error(status: u16, attempts: u32) -> Error {
    let mut error = Error::new(
        ErrorKind::InvalidResponse,
        text!("The server returned ", status, " with a body that is not a JSON object."),
    );
    error.status = Some(status);
    error.attempts = attempts;
    error
}

/// Builds the error for a 2xx response whose body exceeds `MAX_RESPONSE_BYTES`.
pub fn oversized_body_error(status: u16, attempts: u32) -> Error {
    let mut error = Error::new(
        ErrorKind::InvalidResponse,
        text!("The server returned ", status, " with a body over ", MAX_RESPONSE_BYTES, " bytes, the most the package reads."),
    );
    error.status = Some(status);
    error.attempts = attempts;
    error
}

/// Returns at most `max_chars` characters of `text`; a cut text ends in "…",
/// which counts as one of them.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    if text.chars().nth(max_chars).is_none() {
        return text.to_string();
    }
    let end = text.char_indices().nth(max_chars.saturating_sub(1)).map_or(0, |(end, _)| end);
    text!(text.get(..end).unwrap_or_default(), "…")
}

/// Replaces the access token in `text`, so that a server that echoes the
/// token cannot put it into an error.
///
/// A token of at least `WORD_TOKEN_CHARS` characters is replaced wherever it
/// occurs. A shorter one is replaced only where it is a whole word, with no
/// ASCII letter or digit next to it, because otherwise a token such as "t"
/// would garble every message and reveal which letters it contains.
pub fn redact(text: &str, token: Option<&str>) -> String {
    const WORD_TOKEN_CHARS: usize = 8;
    let token = match token {
        Some(token) if !token.is_empty() && find_text(text, token).is_some() => token,
        _ => return text.to_string(),
    };
    let everywhere = token.len() >= WORD_TOKEN_CHARS;
    // A long token is replaced inside words too, so its marker must not contain it.
    let marker = ["[redacted]", "[hidden]", "***"]
        .into_iter()
        .find(|marker| !everywhere || find_text(marker, token).is_none())
        .unwrap_or("");

    let mut redacted = text.to_string();
    // A replacement can join with the text after it into the token again, as
    // "d]d]d]d]" does after "[redacted]", so the pass repeats while anything changes.
    for _ in 0..4 {
        let (next, changed) = redact_once(&redacted, token, marker, everywhere);
        redacted = next;
        if !changed || find_text(&redacted, token).is_none() {
            break;
        }
    }
    redacted
}

/// Replaces each occurrence of `token`, overlapping ones included, that is
/// long enough (`everywhere`) or is a whole word. Returns whether any was replaced.
fn redact_once(text: &str, token: &str, marker: &str, everywhere: bool) -> (String, bool) {
    let bytes = text.as_bytes();
    let mut redacted = String::with_capacity(text.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = text.get(from..).and_then(|rest| find_text(rest, token)) {
        let start = from + found;
        let end = start + token.len();
        let alone = start.checked_sub(1).map_or(true, |before| !bytes[before].is_ascii_alphanumeric())
            && bytes.get(end).map_or(true, |after| !after.is_ascii_alphanumeric());
        if everywhere || alone {
            redacted.push_str(text.get(copied..start).unwrap_or_default());
            redacted.push_str(marker);
            copied = end;
            from = end;
        } else {
            // The next match may overlap this one, so the search moves on by one character.
            from = start + text.get(start..).and_then(|rest| rest.chars().next()).map_or(1, char::len_utf8);
        }
    }
    redacted.push_str(text.get(copied..).unwrap_or_default());
    (redacted, copied > 0)
}

fn reason_phrase(status: u16) -> Option<&'static str> {
    let phrase = match status {
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        423 => "Locked",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => return None,
    };
    Some(phrase)
}
