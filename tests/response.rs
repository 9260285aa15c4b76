#![cfg(not(target_arch = "wasm32"))]
//! Status classification, error messages, body excerpts and token redaction.

use stampede_workflows::{
    excerpt, invalid_body_error, kind_for_status, redact, status_error, ErrorKind, ErrorResponse, FieldErrors, BODY_EXCERPT_CHARS,
};

fn response(status: u16, server_message: Option<&str>) -> ErrorResponse<'_> {
    ErrorResponse {
        status,
        server_message,
        ..ErrorResponse::default()
    }
}

fn field_errors(pairs: &[(&str, &str)]) -> FieldErrors {
    let mut errors = FieldErrors::default();
    for (key, message) in pairs {
        errors.add(*key, *message);
    }
    errors
}

#[test]
fn classifies_success_statuses_as_none() {
    for status in [200, 201, 202, 204, 250, 299] {
        assert_eq!(kind_for_status(status), None, "{status}");
    }
}

#[test]
fn classifies_every_error_status() {
    let cases = [
        (400, ErrorKind::BadRequest, "bad_request"),
        (401, ErrorKind::Unauthorized, "unauthorized"),
        (403, ErrorKind::Forbidden, "forbidden"),
        (404, ErrorKind::NotFound, "not_found"),
        (422, ErrorKind::Unprocessable, "unprocessable"),
        (423, ErrorKind::Locked, "locked"),
        (429, ErrorKind::RateLimited, "rate_limited"),
        (500, ErrorKind::Server, "server"),
        (501, ErrorKind::Server, "server"),
        (502, ErrorKind::Server, "server"),
        (503, ErrorKind::Server, "server"),
        (504, ErrorKind::Server, "server"),
        (599, ErrorKind::Server, "server"),
        (100, ErrorKind::Http, "http"),
        (199, ErrorKind::Http, "http"),
        (300, ErrorKind::Http, "http"),
        (301, ErrorKind::Http, "http"),
        (304, ErrorKind::Http, "http"),
        (402, ErrorKind::Http, "http"),
        (405, ErrorKind::Http, "http"),
        (408, ErrorKind::Http, "http"),
        (409, ErrorKind::Http, "http"),
        (410, ErrorKind::Http, "http"),
        (418, ErrorKind::Http, "http"),
        (421, ErrorKind::Http, "http"),
        (424, ErrorKind::Http, "http"),
        (499, ErrorKind::Http, "http"),
        (600, ErrorKind::Http, "http"),
        (0, ErrorKind::Http, "http"),
        (u16::MAX, ErrorKind::Http, "http"),
    ];
    for (status, kind, name) in cases {
        let error = status_error(response(status, None), 1);

        assert_eq!(kind_for_status(status), Some(kind), "{status}");
        assert_eq!(error.kind, kind, "{status}");
        assert_eq!(error.kind.as_str(), name, "{status}");
        assert_eq!(error.status, Some(status), "{status}");
    }
}

#[test]
fn names_status_and_server_message() {
    let cases = [
        (400, Some("Malformed JSON."), "The server returned 400 Bad Request: Malformed JSON."),
        (
            401,
            Some("Unauthenticated."),
            "The server returned 401 Unauthorized: Unauthenticated. Check the accessToken option: the server did not accept the access token.",
        ),
        (401, None, "The server returned 401 Unauthorized. Check the accessToken option: the server did not accept the access token."),
        (403, Some("This action is unauthorized."), "The server returned 403 Forbidden: This action is unauthorized."),
        (404, Some("Workflow not found."), "The server returned 404 Not Found: Workflow not found. Check baseUrl and, for a workflow run, the workflowId."),
        (404, Some("Not here"), "The server returned 404 Not Found: Not here. Check baseUrl and, for a workflow run, the workflowId."),
        (405, None, "The server returned 405 Method Not Allowed."),
        (408, None, "The server returned 408 Request Timeout."),
        (422, Some("The serials.0 field is invalid."), "The server returned 422 Unprocessable Content: The serials.0 field is invalid."),
        (423, Some("Waiting period."), "The server returned 423 Locked: Waiting period."),
        (429, Some("Too Many Attempts."), "The server returned 429 Too Many Requests: Too Many Attempts."),
        (500, Some("Server Error"), "The server returned 500 Internal Server Error: Server Error"),
        (502, None, "The server returned 502 Bad Gateway."),
        (503, None, "The server returned 503 Service Unavailable."),
        (504, None, "The server returned 504 Gateway Timeout."),
        (418, Some("I'm a teapot"), "The server returned 418: I'm a teapot"),
        (599, None, "The server returned 599."),
    ];
    for (status, server_message, expected) in cases {
        let error = status_error(response(status, server_message), 1);

        assert_eq!(error.message, expected, "{status}");
        assert_eq!(error.to_string(), expected, "{status} display");
    }
}

#[test]
fn ignores_blank_server_message() {
    for blank in ["", "   ", "\n\t"] {
        let error = status_error(response(500, Some(blank)), 1);

        assert_eq!(error.message, "The server returned 500 Internal Server Error.", "{blank:?}");
    }
}

#[test]
fn trims_and_shortens_server_message() {
    let long = "x".repeat(1000);

    let trimmed = status_error(response(400, Some("  Bad JSON.\n")), 1);
    let shortened = status_error(response(400, Some(&long)), 1);

    assert_eq!(trimmed.message, "The server returned 400 Bad Request: Bad JSON.");
    assert_eq!(shortened.message, format!("The server returned 400 Bad Request: {}…", "x".repeat(299)));
}

#[test]
fn leaves_out_message_that_repeats_reason() {
    let error = status_error(response(429, Some("Too Many Requests")), 1);

    assert_eq!(error.message, "The server returned 429 Too Many Requests.");
}

#[test]
fn keeps_response_details_in_error() {
    let errors = field_errors(&[("serials.0", "The serials.0 field is invalid.")]);
    let response = ErrorResponse {
        status: 422,
        server_message: Some("The serials.0 field is invalid."),
        errors: Some(errors.clone()),
        retry_after_ms: Some(1500),
    };

    let error = status_error(response, 3);

    assert_eq!(error.kind, ErrorKind::Unprocessable);
    assert_eq!(error.status, Some(422));
    assert_eq!(error.errors, Some(errors));
    assert_eq!(error.retry_after_ms, Some(1500));
    assert_eq!(error.attempts, 3);
}

#[test]
fn keeps_field_errors_only_for_422() {
    for status in [400, 404, 423, 500] {
        let response = ErrorResponse {
            status,
            errors: Some(field_errors(&[("org_reg_id", "Invalid.")])),
            ..ErrorResponse::default()
        };

        let error = status_error(response, 1);

        assert_eq!(error.errors, None, "{status}");
    }
}

#[test]
fn keeps_retry_after_for_rate_limit() {
    let response = ErrorResponse {
        status: 429,
        retry_after_ms: Some(60_000),
        ..ErrorResponse::default()
    };

    let error = status_error(response, 1);

    assert_eq!(error.kind, ErrorKind::RateLimited);
    assert_eq!(error.retry_after_ms, Some(60_000));
}

#[test]
fn reports_success_status_passed_by_mistake_as_http() {
    let error = status_error(response(200, None), 1);

    assert_eq!(error.kind, ErrorKind::Http);
    assert_eq!(error.status, Some(200));
}

#[test]
fn builds_invalid_body_error() {
    let error = invalid_body_error(200, 2);

    assert_eq!(error.kind, ErrorKind::InvalidResponse);
    assert_eq!(error.kind.as_str(), "invalid_response");
    assert_eq!(error.status, Some(200));
    assert_eq!(error.attempts, 2);
    assert_eq!(error.errors, None);
    assert_eq!(error.message, "The server returned 200 with a body that is not a JSON object.");
}

#[test]
fn excerpts_text_by_characters() {
    let cases = [
        ("", 5, ""),
        ("short", 5, "short"),
        ("shorter", 10, "shorter"),
        ("exactly", 7, "exactly"),
        ("too long", 3, "to…"),
        ("😀😀😀😀", 2, "😀…"),
        ("ééé", 1, "…"),
        ("abc", 0, "…"),
    ];
    for (text, max_chars, expected) in cases {
        assert_eq!(excerpt(text, max_chars), expected, "{text:?} at {max_chars}");
    }
}

#[test]
fn excerpts_html_body_to_limit() {
    let html = format!("<html><body>{}</body></html>", "Bad gateway. ".repeat(100));

    let shortened = excerpt(&html, BODY_EXCERPT_CHARS);

    assert_eq!(shortened.chars().count(), BODY_EXCERPT_CHARS);
    assert!(shortened.starts_with("<html><body>Bad gateway."));
    assert!(shortened.ends_with('…'));
}

#[test]
fn redacts_token_formed_again_by_marker() {
    let redacted = redact("d]d]d]d]d]d]d]", Some("d]d]d]d]"));

    assert!(!redacted.contains("d]d]d]d]"), "{redacted}");
}

#[test]
fn redacts_every_token_occurrence() {
    let cases = [
        ("token sk_SECRET echoed", Some("sk_SECRET"), "token [redacted] echoed"),
        ("sk_SECRET and sk_SECRET", Some("sk_SECRET"), "[redacted] and [redacted]"),
        ("Bearer sk_SECRET", Some("sk_SECRET"), "Bearer [redacted]"),
        ("nothing here", Some("sk_SECRET"), "nothing here"),
        ("sk_SECRET", None, "sk_SECRET"),
        ("text", Some(""), "text"),
        ("", Some("sk_SECRET"), ""),
        ("fetch failed", Some("t"), "fetch failed"),
        ("token t was rejected", Some("t"), "token [redacted] was rejected"),
        ("Bearer abc; abcd", Some("abc"), "Bearer [redacted]; abcd"),
        ("xsk_SECRET_LONGx", Some("sk_SECRET_LONG"), "x[redacted]x"),
        ("xa-a-a", Some("a-a"), "xa-[redacted]"),
        ("token: redacted", Some("redacted"), "token: [hidden]"),
    ];
    for (text, token, expected) in cases {
        assert_eq!(redact(text, token), expected, "{text:?} with {token:?}");
    }
}
