//! Building the HTTP request: URL, headers and JSON body.

use crate::prelude::*;

use crate::options::Settings;
use crate::text::Piece;
use crate::value::is_whole;
use crate::validate::{IncomingEvent, Scalar, WorkflowRun};

/// Everything needed to send one request. The method is always POST.
#[derive(Clone, PartialEq)]
pub struct HttpRequest {
    pub url: String,
    /// Header names and values, the package's own after the caller's.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl core::fmt::Debug for HttpRequest {
    /// Shows the request with the Authorization value hidden.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let shown = if name == "Authorization" { "Bearer [redacted]" } else { value.as_str() };
                (name.as_str(), shown)
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body", &self.body)
            .finish()
    }
}

/// Writes a finite number as JSON text into a string.
pub type NumberWriter = fn(f64, &mut String);

/// Builds `POST {baseUrl}/v1/workflows/incoming-event`.
pub fn incoming_event_request(settings: &Settings, event: &IncomingEvent) -> HttpRequest {
    incoming_event_request_with(settings, event, write_number)
}

/// Builds the incoming event request with `write_number` for the parameter
/// numbers. The wasm layer passes JavaScript's number formatting, which keeps
/// Rust's float formatting code, about 20 KB, out of the wasm.
pub fn incoming_event_request_with(settings: &Settings, event: &IncomingEvent, write_number: NumberWriter) -> HttpRequest {
    let mut body = String::from("{");
    write_key(&mut body, "organisation_registration_id");
    write_string(&mut body, &event.organisation_registration_id);

    if let Some(serials) = &event.serials {
        body.push(',');
        write_key(&mut body, "serials");
        body.push('[');
        for (index, serial) in serials.iter().enumerate() {
            if index > 0 {
                body.push(',');
            }
            write_string(&mut body, serial);
        }
        body.push(']');
    }

    if let Some(parameters) = &event.parameters {
        body.push(',');
        write_key(&mut body, "parameters");
        body.push('{');
        for (index, (name, value)) in parameters.iter().enumerate() {
            if index > 0 {
                body.push(',');
            }
            write_key(&mut body, name);
            match value {
                Scalar::String(text) => write_string(&mut body, text),
                Scalar::Number(number) => write_number(*number, &mut body),
                Scalar::Bool(flag) => body.push_str(if *flag { "true" } else { "false" }),
            }
        }
        body.push('}');
    }
    body.push('}');

    build(settings, "/v1/workflows/incoming-event".to_string(), body)
}

/// Builds `POST {baseUrl}/v1/workflows/{workflowId}/workflow-runs`, with the
/// workflow id percent-encoded as exactly one path segment.
pub fn workflow_run_request(settings: &Settings, run: &WorkflowRun) -> HttpRequest {
    let mut body = String::from("{");
    write_key(&mut body, "org_reg_id");
    write_string(&mut body, &run.org_reg_id);
    body.push('}');

    let path = text!("/v1/workflows/", encode_path_segment(&run.workflow_id), "/workflow-runs");
    build(settings, path, body)
}

fn build(settings: &Settings, path: String, body: String) -> HttpRequest {
    let mut headers = settings.headers.clone();
    headers.push(("Content-Type".into(), "application/json".into()));
    // Laravel returns errors as JSON only when the request accepts JSON.
    headers.push(("Accept".into(), "application/json".into()));
    if let Some(token) = &settings.access_token {
        headers.push(("Authorization".into(), text!("Bearer ", token)));
    }
    HttpRequest {
        url: text!(settings.base_url, path),
        headers,
        body,
    }
}

/// Percent-encodes every byte except RFC 3986's unreserved characters, so
/// `/`, `\`, `?`, `#`, `%` and dots in the middle stay inside the segment.
pub fn encode_path_segment(segment: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut encoded = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push('%');
            encoded.push(char::from(HEX[usize::from(byte >> 4)]));
            encoded.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    encoded
}

fn write_key(out: &mut String, key: &str) {
    write_string(out, key);
    out.push(':');
}

/// Writes `text` as a JSON string. Non-ASCII text stays as UTF-8.
pub fn write_string(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let code = u32::from(c) as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[code >> 4]));
                out.push(char::from(HEX[code & 0x0f]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Writes a finite number the way `JSON.stringify` does for the common cases:
/// whole numbers without a fraction, and -0 as 0.
pub fn write_number(number: f64, out: &mut String) {
    const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;
    if number == 0.0 {
        out.push('0');
    } else if is_whole(number) && number.abs() <= MAX_SAFE_INTEGER {
        (number as i64).push_to(out);
    } else {
        // Rust prints the shortest text that reads back as the same f64, in plain decimal notation.
        out.push_str(&number.to_string());
    }
}
