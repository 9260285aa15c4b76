//! Client and request options: their validation, defaults and limits.

use crate::prelude::*;
use crate::text::find_text;

use crate::error::FieldErrors;
use crate::retry::RetryPolicy;
use crate::value::{is_whole, Value};

/// The production API.
pub const DEFAULT_BASE_URL: &str = "https://global.stampede.ai";
/// The default time one attempt may take, response body included.
pub const DEFAULT_TIMEOUT_MS: u32 = 30_000;
/// The largest timeout, because JavaScript timers overflow above 2^31 - 1 ms.
pub const MAX_TIMEOUT_MS: u32 = 2_147_483_647;
/// The maximum number of retries a caller may request.
pub const MAX_RETRIES_LIMIT: u32 = 10;

/// Header names the package sets itself. A custom header may not replace
/// them, so the JSON contract and the token cannot change silently.
const RESERVED_HEADERS: [&str; 5] = ["accept", "authorization", "content-length", "content-type", "host"];

/// The set of options an entry point accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `new StampedeClient(options)`: client options only.
    Client,
    /// `client.sendIncomingEvent(event, options)`: request options only.
    Request,
    /// The one-off functions: client and request options together.
    OneOff,
}

const CLIENT_KEYS: [&str; 8] =
    ["accessToken", "baseUrl", "timeoutMs", "totalTimeoutMs", "maxRetries", "retryAmbiguous", "fetch", "headers"];
const REQUEST_KEYS: [&str; 5] = ["signal", "timeoutMs", "totalTimeoutMs", "maxRetries", "retryAmbiguous"];

/// Validated settings for sending requests. Its `Debug` output hides the token.
#[derive(Clone, PartialEq)]
pub struct Settings {
    /// Scheme, host and path prefix, without a trailing slash.
    pub base_url: String,
    /// The token without any `Bearer ` prefix.
    pub access_token: Option<String>,
    pub headers: Vec<(String, String)>,
    /// The time one attempt may take, reading the body included.
    pub timeout_ms: u32,
    /// The time the whole call may take, retries and their delays included.
    pub total_timeout_ms: Option<u32>,
    pub retry: RetryPolicy,
}

impl core::fmt::Debug for Settings {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Settings")
            .field("base_url", &self.base_url)
            .field("access_token", &self.access_token.as_ref().map(|_| "[redacted]"))
            .field("headers", &self.headers)
            .field("timeout_ms", &self.timeout_ms)
            .field("total_timeout_ms", &self.total_timeout_ms)
            .field("retry", &self.retry)
            .finish()
    }
}

/// Per-call values that replace the client's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    pub timeout_ms: Option<u32>,
    pub total_timeout_ms: Option<u32>,
    pub max_retries: Option<u32>,
    pub retry_ambiguous: Option<bool>,
}

impl Settings {
    /// Returns these settings with the per-call values applied.
    pub fn with_overrides(&self, overrides: Overrides) -> Settings {
        let mut settings = self.clone();
        if let Some(timeout_ms) = overrides.timeout_ms {
            settings.timeout_ms = timeout_ms;
        }
        if let Some(total_timeout_ms) = overrides.total_timeout_ms {
            settings.total_timeout_ms = Some(total_timeout_ms);
        }
        if let Some(max_retries) = overrides.max_retries {
            settings.retry.max_retries = max_retries;
        }
        if let Some(retry_ambiguous) = overrides.retry_ambiguous {
            settings.retry.retry_ambiguous = retry_ambiguous;
        }
        settings
    }
}

/// Checks that `options` is an object, or absent, whose keys all belong to `scope`.
fn check_keys(errors: &mut FieldErrors, options: &Value, scope: Scope) -> bool {
    let entries = match options {
        Value::Undefined | Value::Null => return true,
        Value::Object(entries) => entries,
        other => {
            errors.add("options", text!("The options argument must be an object, but it is ", other.describe(), "."));
            return false;
        }
    };
    for (name, _) in entries {
        let client_key = CLIENT_KEYS.contains(&name.as_str());
        let request_key = REQUEST_KEYS.contains(&name.as_str());
        let accepted = match scope {
            Scope::Client => client_key,
            Scope::Request => request_key,
            Scope::OneOff => client_key || request_key,
        };
        if accepted {
            continue;
        }
        let message = if scope == Scope::Request && client_key {
            text!("The ", name, " option can only be set when the StampedeClient is created.")
        } else if scope == Scope::Client && request_key {
            text!("The ", name, " option can only be passed to a single call, not to the StampedeClient.")
        } else {
            text!("The ", name, " option is not recognised; the options are ", known_keys(scope), ".")
        };
        errors.add(name.clone(), message);
    }
    true
}

/// Lists the options of `scope` in alphabetical order, for messages.
fn known_keys(scope: Scope) -> &'static str {
    match scope {
        Scope::Client => "accessToken, baseUrl, fetch, headers, maxRetries, retryAmbiguous, timeoutMs, totalTimeoutMs",
        Scope::Request => "maxRetries, retryAmbiguous, signal, timeoutMs, totalTimeoutMs",
        Scope::OneOff => {
            "accessToken, baseUrl, fetch, headers, maxRetries, retryAmbiguous, signal, timeoutMs, totalTimeoutMs"
        }
    }
}

/// Validates client options, for `Scope::Client` or `Scope::OneOff`, and
/// fills in the defaults. `fetch` and `signal` are checked by the caller,
/// which can check JavaScript functions and AbortSignals.
pub fn parse_settings(options: &Value, scope: Scope) -> Result<Settings, FieldErrors> {
    let mut errors = FieldErrors::default();
    if !check_keys(&mut errors, options, scope) {
        return Err(errors);
    }

    let base = check_base_url(&mut errors, options.get("baseUrl"));
    let access_token = check_access_token(&mut errors, options.get("accessToken"));
    if let Some(base) = &base {
        if base.is_stampede_host && access_token.is_none() && errors.get("accessToken").is_empty() {
            errors.add(
                "accessToken",
                "The accessToken option is required when baseUrl is the Stampede API; pass the organisation's access token.",
            );
        }
    }
    let headers = check_headers(&mut errors, options.get("headers"));
    let overrides = check_overrides(&mut errors, options);

    match base {
        Some(base) if errors.is_empty() => Ok(Settings {
            base_url: base.url,
            access_token,
            headers,
            timeout_ms: overrides.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS),
            total_timeout_ms: overrides.total_timeout_ms,
            retry: RetryPolicy {
                max_retries: overrides.max_retries.unwrap_or(RetryPolicy::DEFAULT.max_retries),
                retry_ambiguous: overrides.retry_ambiguous.unwrap_or(RetryPolicy::DEFAULT.retry_ambiguous),
            },
        }),
        _ => Err(errors),
    }
}

/// Validates the options of one call on a client.
pub fn parse_overrides(options: &Value) -> Result<Overrides, FieldErrors> {
    let mut errors = FieldErrors::default();
    if !check_keys(&mut errors, options, Scope::Request) {
        return Err(errors);
    }
    let overrides = check_overrides(&mut errors, options);
    if errors.is_empty() {
        Ok(overrides)
    } else {
        Err(errors)
    }
}

fn check_overrides(errors: &mut FieldErrors, options: &Value) -> Overrides {
    let timeout_ms = check_whole_number(errors, "timeoutMs", options.get("timeoutMs"), 1, MAX_TIMEOUT_MS, " of milliseconds");
    let total_timeout_ms =
        check_whole_number(errors, "totalTimeoutMs", options.get("totalTimeoutMs"), 1, MAX_TIMEOUT_MS, " of milliseconds");
    let max_retries = check_whole_number(errors, "maxRetries", options.get("maxRetries"), 0, MAX_RETRIES_LIMIT, "");
    let retry_ambiguous = match options.get("retryAmbiguous") {
        Value::Undefined | Value::Null => None,
        Value::Bool(flag) => Some(*flag),
        other => {
            errors.add("retryAmbiguous", text!("The retryAmbiguous option must be a boolean, but it is ", other.describe(), "."));
            None
        }
    };
    Overrides { timeout_ms, total_timeout_ms, max_retries, retry_ambiguous }
}

fn check_whole_number(errors: &mut FieldErrors, key: &str, value: &Value, min: u32, max: u32, unit: &str) -> Option<u32> {
    match value {
        Value::Undefined | Value::Null => None,
        Value::Number(n) if is_whole(*n) && *n >= f64::from(min) && *n <= f64::from(max) => Some(*n as u32),
        other => {
            // Whole numbers are quoted. Others are described, which keeps float formatting out of the wasm.
            let given = match other {
                Value::Number(n) if is_whole(*n) && n.abs() < 1e15 => text!(*n as i64),
                Value::Number(n) if n.is_finite() && !is_whole(*n) => "not a whole number".to_string(),
                Value::Number(n) if n.is_finite() => "far outside that range".to_string(),
                _ => other.describe().to_string(),
            };
            errors.add(key, text!("The ", key, " option must be a whole number", unit, " from ", min, " to ", max, ", but it is ", given, "."));
            None
        }
    }
}

fn check_access_token(errors: &mut FieldErrors, value: &Value) -> Option<String> {
    let token = match value {
        Value::Undefined | Value::Null => return None,
        Value::String(token) => token,
        other => {
            errors.add("accessToken", text!("The accessToken option must be a string, but it is ", other.describe(), "."));
            return None;
        }
    };
    // A token passed as "Bearer <token>" is accepted, so the header never says "Bearer Bearer".
    let token = match token.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("bearer ") => token.get(7..).unwrap_or_default(),
        _ => token.as_str(),
    };
    // Messages here never quote the token, because it is a secret.
    if token.is_empty() {
        errors.add("accessToken", "The accessToken option must not be empty.");
        return None;
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        errors.add(
            "accessToken",
            "The accessToken option must contain only visible ASCII characters, without whitespace or control characters.",
        );
        return None;
    }
    Some(token.to_string())
}

fn check_headers(errors: &mut FieldErrors, value: &Value) -> Vec<(String, String)> {
    let entries = match value {
        Value::Undefined | Value::Null => return Vec::new(),
        Value::Object(entries) => entries,
        other => {
            errors.add("headers", text!("The headers option must be an object of header names and string values, but it is ", other.describe(), "."));
            return Vec::new();
        }
    };

    let mut headers: Vec<(String, String)> = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        let key = text!("headers.", name);
        let lower = name.to_ascii_lowercase();
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            errors.add(key, text!("The header name \"", name, "\" is invalid; a header name is a non-empty token such as X-Request-Id."));
            continue;
        }
        if RESERVED_HEADERS.contains(&lower.as_str()) {
            let fix = if lower == "authorization" { "; pass the token as the accessToken option" } else { "" };
            errors.add(key, text!("The ", name, " header is set by the package and cannot be replaced", fix, "."));
            continue;
        }
        if headers.iter().any(|(other, _)| other.eq_ignore_ascii_case(name)) {
            errors.add(key, text!("The ", name, " header is given twice with different letter case."));
            continue;
        }
        match value {
            Value::String(text) if is_header_value(text) => headers.push((name.clone(), text.clone())),
            Value::String(_) => errors.add(
                key,
                text!("The ", name, " header value must contain only visible ASCII characters and inner spaces, without CR, LF or other control characters."),
            ),
            other => errors.add(key, text!("The ", name, " header value must be a string, but it is ", other.describe(), ".")),
        }
    }
    headers
}

/// Returns true for the `tchar` bytes of RFC 9110, which make up header names.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Accepts visible ASCII with inner spaces. fetch would trim outer spaces
/// silently and reject control characters with a message that quotes the value.
fn is_header_value(text: &str) -> bool {
    text.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) && text.trim_matches(' ') == text
}

/// A validated base URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl {
    /// Scheme and host in lower case, the port, and the path prefix without a trailing slash.
    pub url: String,
    pub is_stampede_host: bool,
}

fn check_base_url(errors: &mut FieldErrors, value: &Value) -> Option<BaseUrl> {
    let text = match value {
        Value::Undefined | Value::Null => DEFAULT_BASE_URL,
        Value::String(text) => text.as_str(),
        other => {
            errors.add("baseUrl", text!("The baseUrl option must be a URL string, but it is ", other.describe(), "."));
            return None;
        }
    };
    match parse_base_url(text) {
        Ok(base) => Some(base),
        Err(problem) => {
            errors.add("baseUrl", text!("The baseUrl option ", problem));
            None
        }
    }
}

/// Parses an absolute http(s) URL with an optional path prefix. The error is
/// the end of a sentence that starts with the option's name.
pub fn parse_base_url(text: &str) -> Result<BaseUrl, String> {
    const EXAMPLE: &str = "such as https://global.stampede.ai";
    if !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(text!("must be an absolute URL without spaces, control characters or non-ASCII characters, ", EXAMPLE, "."));
    }
    if text.bytes().any(|b| b == b'?' || b == b'#') {
        return Err("must not contain a query or a fragment, because request paths are appended to it.".into());
    }
    // The WHATWG URL parser reads "\" as "/" in http(s) URLs, which could move the host.
    if text.bytes().any(|b| b == b'\\') {
        return Err("must not contain a backslash.".into());
    }

    let parts = find_text(text, "://").and_then(|at| Some((text.get(..at)?, text.get(at + 3..)?)));
    let (scheme, rest) = match parts {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => ("https", rest),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => ("http", rest),
        _ => return Err(text!("must be an absolute http or https URL, ", EXAMPLE, ".")),
    };
    let (authority, path) = rest.bytes().position(|b| b == b'/').and_then(|at| rest.split_at_checked(at)).unwrap_or((rest, ""));
    if authority.bytes().any(|b| b == b'@') {
        return Err("must not contain a user name or password; pass the token as the accessToken option.".into());
    }

    let (host, port) = split_host_port(authority).ok_or_else(|| text!("has an invalid host or port; expected a URL ", EXAMPLE, "."))?;
    let host = host.to_ascii_lowercase();
    if scheme == "http" && !is_loopback(&host) {
        return Err("must use https unless the host is loopback (localhost, 127.0.0.0/8 or [::1]), because the access token would travel in clear text.".into());
    }
    if path.split('/').any(is_dot_segment) {
        return Err("must not contain \".\" or \"..\" path segments.".into());
    }
    // The package appends /v1/workflows/..., so a base URL ending in /v1 would request /v1/v1/.
    if path.trim_end_matches('/').rsplit('/').next().is_some_and(|last| last.eq_ignore_ascii_case("v1")) {
        return Err("must not end in /v1, because the package adds /v1/workflows/ itself; remove the /v1.".into());
    }

    let path = path.trim_end_matches('/');
    let port = port.map(|port| text!(":", port)).unwrap_or_default();
    // A fully qualified "global.stampede.ai." names the same host.
    let bare_host = host.strip_suffix('.').unwrap_or(&host);
    let is_stampede_host = bare_host == "stampede.ai" || bare_host.ends_with(".stampede.ai");
    Ok(BaseUrl {
        url: text!(scheme, "://", host, port, path),
        is_stampede_host,
    })
}

/// Splits `host[:port]` or `[ipv6][:port]`; `None` when either part is invalid.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.bytes().position(|b| b == b']')?;
        let (host, rest) = authority.split_at_checked(end + 1)?;
        let inner = host.get(1..host.len() - 1).unwrap_or_default();
        let valid = !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !valid {
            return None;
        }
        match rest.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if rest.is_empty() => (host, None),
            None => return None,
        }
    } else {
        let (host, port) = authority.split_once(':').map_or((authority, None), |(h, p)| (h, Some(p)));
        let labels_valid = host.split('.').enumerate().all(|(i, label)| {
            // One empty label is allowed last, for a fully qualified "example.com.".
            (!label.is_empty() || (i > 0 && host.ends_with('.')))
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
        if host.is_empty() || !labels_valid {
            return None;
        }
        (host, port)
    };
    match port {
        Some(port) if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) => None,
        Some(port) if port.parse::<u32>().map_or(true, |n| n == 0 || n > 65535) => None,
        _ => Some((host, port)),
    }
}

/// Returns true for the hosts whose traffic never leaves the machine:
/// `localhost`, 127.0.0.0/8 and `[::1]`.
pub fn is_loopback(host: &str) -> bool {
    if host == "localhost" || host == "[::1]" || host == "[0:0:0:0:0:0:0:1]" {
        return true;
    }
    let octets: Vec<&str> = host.split('.').collect();
    octets.len() == 4
        && octets[0] == "127"
        && octets
            .iter()
            .all(|octet| !octet.is_empty() && octet.len() <= 3 && octet.bytes().all(|b| b.is_ascii_digit()) && octet.parse::<u16>().map_or(false, |n| n <= 255))
}

/// Returns true for "." and "..", also percent-encoded, which URL parsers resolve away.
fn is_dot_segment(segment: &str) -> bool {
    matches!(segment.to_ascii_lowercase().as_str(), "." | ".." | "%2e" | "%2e%2e" | ".%2e" | "%2e.")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lists in messages are written out by hand, so this keeps them in step with the key tables.
    #[test]
    fn known_keys_match_key_tables() {
        let sorted = |keys: Vec<&str>| {
            let mut keys = keys;
            keys.sort_unstable();
            keys.dedup();
            keys.join(", ")
        };
        let one_off: Vec<&str> = CLIENT_KEYS.iter().chain(REQUEST_KEYS.iter()).copied().collect();

        assert_eq!(known_keys(Scope::Client), sorted(CLIENT_KEYS.to_vec()));
        assert_eq!(known_keys(Scope::Request), sorted(REQUEST_KEYS.to_vec()));
        assert_eq!(known_keys(Scope::OneOff), sorted(one_off));
    }
}
