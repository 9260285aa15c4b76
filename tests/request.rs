#![cfg(not(target_arch = "wasm32"))]
//! Request building: URL, headers, JSON body and the workflow id path segment.

mod common;
use common::*;

use serde_json::{json, Value as Json};
use stampede_workflows::{
    encode_path_segment, incoming_event_request, parse_settings, validate_incoming_event, validate_workflow_run,
    workflow_run_request, HttpRequest, IncomingEvent, Scalar, Scope, Settings, Value, WorkflowRun,
};


fn settings(options: Vec<(&str, Value)>) -> Settings {
    match parse_settings(&object(options), Scope::OneOff) {
        Ok(settings) => settings,
        Err(errors) => panic!("expected valid options, got {errors:?}"),
    }
}

fn default_settings() -> Settings {
    settings(vec![("accessToken", text(TOKEN))])
}

fn event(value: Value) -> IncomingEvent {
    match validate_incoming_event(&value) {
        Ok(event) => event,
        Err(errors) => panic!("expected a valid event, got {errors:?}"),
    }
}

fn run(workflow_id: &str) -> WorkflowRun {
    match validate_workflow_run(&text(workflow_id), &object(vec![("org_reg_id", text(ID))])) {
        Ok(run) => run,
        Err(errors) => panic!("expected a valid workflow run, got {errors:?}"),
    }
}

fn minimal_event() -> IncomingEvent {
    event(object(vec![("organisation_registration_id", text(ID))]))
}

fn event_with_parameters(parameters: Vec<(&str, Scalar)>) -> IncomingEvent {
    IncomingEvent {
        organisation_registration_id: ID.to_string(),
        serials: None,
        parameters: Some(parameters.into_iter().map(|(name, value)| (name.to_string(), value)).collect()),
    }
}

fn parse_body(request: &HttpRequest) -> Json {
    match serde_json::from_str(&request.body) {
        Ok(json) => json,
        Err(error) => panic!("the body is not valid JSON ({error}): {}", request.body),
    }
}

fn header<'a>(request: &'a HttpRequest, name: &str) -> Vec<&'a str> {
    request.headers.iter().filter(|(key, _)| key == name).map(|(_, value)| value.as_str()).collect()
}

/// Decodes %XX escapes, for checking that an encoded segment reads back as the id.
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ASCII escape");
            decoded.push(u8::from_str_radix(hex, 16).expect("hex escape"));
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(decoded).expect("UTF-8 after decoding")
}

// URL

#[test]
fn builds_incoming_event_url() {
    let request = incoming_event_request(&default_settings(), &minimal_event());

    assert_eq!(request.url, "https://global.stampede.ai/v1/workflows/incoming-event");
}

#[test]
fn joins_base_url_without_double_slash() {
    let cases = [
        ("https://global.stampede.ai", "https://global.stampede.ai/v1/workflows/incoming-event"),
        ("https://global.stampede.ai/", "https://global.stampede.ai/v1/workflows/incoming-event"),
        ("https://relay.example.com/stampede", "https://relay.example.com/stampede/v1/workflows/incoming-event"),
        ("https://relay.example.com/stampede/", "https://relay.example.com/stampede/v1/workflows/incoming-event"),
        ("https://relay.example.com/a/b//", "https://relay.example.com/a/b/v1/workflows/incoming-event"),
        ("http://127.0.0.1:8787/", "http://127.0.0.1:8787/v1/workflows/incoming-event"),
        ("http://[::1]:8787/api", "http://[::1]:8787/api/v1/workflows/incoming-event"),
    ];
    for (base_url, expected) in cases {
        let settings = settings(vec![("baseUrl", text(base_url)), ("accessToken", text(TOKEN))]);

        let request = incoming_event_request(&settings, &minimal_event());

        assert_eq!(request.url, expected, "{base_url}");
        assert!(!request.url["https://".len()..].contains("//"), "{}", request.url);
    }
}

#[test]
fn builds_workflow_run_url_with_prefix() {
    let settings = settings(vec![("baseUrl", text("https://relay.example.com/prefix/")), ("accessToken", text(TOKEN))]);

    let request = workflow_run_request(&settings, &run("wf_123"));

    assert_eq!(request.url, "https://relay.example.com/prefix/v1/workflows/wf_123/workflow-runs");
}

#[test]
fn encodes_workflow_id_as_one_segment() {
    let long: String = "a/?#\\ é%.".chars().cycle().take(10_000).collect();
    let cases = ["..", "...", "%2e%2e", "%2F", "\\", "?", "#", "a b", "ünï😀", "a?b=c#d", "&=;+:@$!'()*,", long.as_str()];
    let prefix = "https://global.stampede.ai/v1/workflows/";
    for id in cases {
        let request = workflow_run_request(&default_settings(), &WorkflowRun {
            workflow_id: id.to_string(),
            org_reg_id: ID.to_string(),
        });

        let rest = request.url.strip_prefix(prefix).expect("URL starts with the workflows path");
        let segment = rest.strip_suffix("/workflow-runs").expect("URL ends with /workflow-runs");
        assert!(!segment.is_empty(), "{id:?}");
        assert!(
            segment.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)),
            "segment {segment:?} for {id:?} has a reserved or non-ASCII character"
        );
        assert_eq!(percent_decode(segment), id, "segment {segment:?} decodes back");
    }
}

#[test]
fn percent_encodes_reserved_and_non_ascii_bytes() {
    let cases = [
        ("wf_123", "wf_123"),
        ("AZaz09-._~", "AZaz09-._~"),
        ("..", ".."),
        (".", "."),
        ("%2e%2e", "%252e%252e"),
        ("%2F", "%252F"),
        ("/", "%2F"),
        ("\\", "%5C"),
        ("?", "%3F"),
        ("#", "%23"),
        (" ", "%20"),
        ("a b", "a%20b"),
        ("+", "%2B"),
        (":", "%3A"),
        ("@", "%40"),
        (";=&", "%3B%3D%26"),
        ("é", "%C3%A9"),
        ("😀", "%F0%9F%98%80"),
        ("\0\n\u{7f}", "%00%0A%7F"),
        ("", ""),
    ];
    for (id, expected) in cases {
        assert_eq!(encode_path_segment(id), expected, "{id:?}");
    }
}

#[test]
fn encodes_long_workflow_id_in_full() {
    let id = "é".repeat(10_000);

    let encoded = encode_path_segment(&id);

    assert_eq!(encoded, "%C3%A9".repeat(10_000));
}

// Headers

#[test]
fn sets_json_and_bearer_headers() {
    let request = incoming_event_request(&default_settings(), &minimal_event());

    let expected: Vec<(String, String)> = [
        ("Content-Type", "application/json"),
        ("Accept", "application/json"),
        ("Authorization", "Bearer sk_live_SECRET123"),
    ]
    .iter()
    .map(|(name, value)| (name.to_string(), value.to_string()))
    .collect();
    assert_eq!(request.headers, expected);
}

#[test]
fn puts_custom_headers_before_package_headers() {
    let settings = settings(vec![
        ("accessToken", text(TOKEN)),
        ("headers", object(vec![("X-Request-Id", text("42")), ("X-Tenant", text("north"))])),
    ]);

    let request = workflow_run_request(&settings, &run("wf"));

    let names: Vec<&str> = request.headers.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["X-Request-Id", "X-Tenant", "Content-Type", "Accept", "Authorization"]);
    assert_eq!(header(&request, "X-Request-Id"), ["42"]);
}

#[test]
fn does_not_double_bearer_prefix() {
    for token in ["Bearer x", "bearer x", "BEARER x", "x"] {
        let settings = settings(vec![("accessToken", text(token))]);

        let request = incoming_event_request(&settings, &minimal_event());

        assert_eq!(header(&request, "Authorization"), ["Bearer x"], "token {token:?}");
    }
}

#[test]
fn omits_authorization_without_token() {
    let settings = settings(vec![("baseUrl", text("http://localhost:8787"))]);

    let request = incoming_event_request(&settings, &minimal_event());

    assert_eq!(header(&request, "Authorization"), Vec::<&str>::new());
    assert_eq!(header(&request, "Content-Type"), ["application/json"]);
    assert_eq!(header(&request, "Accept"), ["application/json"]);
}

#[test]
fn hides_token_in_request_debug() {
    let settings = settings(vec![("accessToken", text(TOKEN)), ("headers", object(vec![("X-Visible", text("shown"))]))]);
    let request = workflow_run_request(&settings, &run("wf"));

    let compact = format!("{request:?}");
    let pretty = format!("{request:#?}");

    assert!(!compact.contains("SECRET"), "{compact}");
    assert!(!pretty.contains("SECRET"), "{pretty}");
    assert!(compact.contains("Bearer [redacted]"), "{compact}");
    assert!(compact.contains("shown"), "{compact}");
    assert!(compact.contains(&request.url), "{compact}");
    assert!(compact.contains("org_reg_id"), "{compact}");
}

// Body

#[test]
fn sends_minimal_event_body() {
    let request = incoming_event_request(&default_settings(), &minimal_event());

    assert_eq!(request.body, r#"{"organisation_registration_id":"a1b2c3d4-e5f6-7890-abcd-ef1234567890"}"#);
    assert_eq!(parse_body(&request), json!({ "organisation_registration_id": ID }));
}

#[test]
fn omits_null_optional_fields() {
    let event = event(object(vec![
        ("organisation_registration_id", text(ID)),
        ("serials", Value::Null),
        ("parameters", Value::Undefined),
    ]));

    let request = incoming_event_request(&default_settings(), &event);

    assert_eq!(request.body, r#"{"organisation_registration_id":"a1b2c3d4-e5f6-7890-abcd-ef1234567890"}"#);
}

#[test]
fn sends_full_event_body() {
    let event = event(object(vec![
        ("serials", Value::Array(vec![text("XXXXXXXXXXXX"), text("B")])),
        ("organisation_registration_id", text("A1B2C3D4-E5F6-7890-ABCD-EF1234567890")),
        (
            "parameters",
            object(vec![
                ("source", text("some_service")),
                ("count", Value::Number(3.0)),
                ("ratio", Value::Number(0.5)),
                ("active", Value::Bool(true)),
                ("archived", Value::Bool(false)),
            ]),
        ),
    ]));

    let request = incoming_event_request(&default_settings(), &event);

    assert_eq!(
        request.body,
        concat!(
            r#"{"organisation_registration_id":"A1B2C3D4-E5F6-7890-ABCD-EF1234567890","#,
            r#""serials":["XXXXXXXXXXXX","B"],"#,
            r#""parameters":{"source":"some_service","count":3,"ratio":0.5,"active":true,"archived":false}}"#
        )
    );
    assert_eq!(
        parse_body(&request),
        json!({
            "organisation_registration_id": "A1B2C3D4-E5F6-7890-ABCD-EF1234567890",
            "serials": ["XXXXXXXXXXXX", "B"],
            "parameters": { "source": "some_service", "count": 3, "ratio": 0.5, "active": true, "archived": false },
        })
    );
}

#[test]
fn sends_empty_serials_and_parameters() {
    let event = event(object(vec![
        ("organisation_registration_id", text(ID)),
        ("serials", Value::Array(Vec::new())),
        ("parameters", object(vec![])),
    ]));

    let request = incoming_event_request(&default_settings(), &event);

    assert_eq!(parse_body(&request), json!({ "organisation_registration_id": ID, "serials": [], "parameters": {} }));
}

#[test]
fn sends_workflow_run_body() {
    let request = workflow_run_request(&default_settings(), &run("wf"));

    assert_eq!(request.body, r#"{"org_reg_id":"a1b2c3d4-e5f6-7890-abcd-ef1234567890"}"#);
    assert_eq!(parse_body(&request), json!({ "org_reg_id": ID }));
}

#[test]
fn escapes_json_strings() {
    let cases = [
        ("plain", r#""plain""#),
        ("say \"hi\"", r#""say \"hi\"""#),
        ("back\\slash", r#""back\\slash""#),
        ("line\nbreak", r#""line\nbreak""#),
        ("carriage\rreturn", r#""carriage\rreturn""#),
        ("tab\there", r#""tab\there""#),
        ("nul\0byte", r#""nul\u0000byte""#),
        ("unit\u{1f}sep", r#""unit\u001fsep""#),
        ("bell\u{7}", r#""bell\u0007""#),
        ("form\u{c}feed\u{8}", r#""form\u000cfeed\u0008""#),
        ("del\u{7f}", "\"del\u{7f}\""),
        ("slash/", r#""slash/""#),
        ("café", "\"café\""),
        ("😀", "\"😀\""),
        ("line\u{2028}sep", "\"line\u{2028}sep\""),
        ("", r#""""#),
    ];
    for (value, expected) in cases {
        let request = incoming_event_request(&default_settings(), &event_with_parameters(vec![("key", Scalar::String(value.into()))]));

        let expected_body = format!(r#"{{"organisation_registration_id":"{ID}","parameters":{{"key":{expected}}}}}"#);
        assert_eq!(request.body, expected_body, "{value:?}");
        assert_eq!(parse_body(&request)["parameters"]["key"], json!(value), "{value:?} reads back");
    }
}

#[test]
fn escapes_parameter_names_and_serials() {
    let event = IncomingEvent {
        organisation_registration_id: ID.to_string(),
        serials: Some(vec!["a\"b".into(), "c\\d".into(), "é\n".into()]),
        parameters: Some(vec![("we\"ird\\key\n".into(), Scalar::Bool(true)), ("ключ".into(), Scalar::String("значение".into()))]),
    };

    let request = incoming_event_request(&default_settings(), &event);

    assert_eq!(
        parse_body(&request),
        json!({
            "organisation_registration_id": ID,
            "serials": ["a\"b", "c\\d", "é\n"],
            "parameters": { "we\"ird\\key\n": true, "ключ": "значение" },
        })
    );
}

#[test]
fn writes_numbers_as_json() {
    let cases = [
        (0.0, "0"),
        (-0.0, "0"),
        (1.0, "1"),
        (-1.0, "-1"),
        (42.0, "42"),
        (1.5, "1.5"),
        (-0.25, "-0.25"),
        (0.1, "0.1"),
        (1e15, "1000000000000000"),
        (9_007_199_254_740_991.0, "9007199254740991"),
        (-9_007_199_254_740_991.0, "-9007199254740991"),
        (9_007_199_254_740_992.0, "9007199254740992"),
        (1e21, "1000000000000000000000"),
    ];
    for (number, expected) in cases {
        let request = incoming_event_request(&default_settings(), &event_with_parameters(vec![("n", Scalar::Number(number))]));

        let expected_body = format!(r#"{{"organisation_registration_id":"{ID}","parameters":{{"n":{expected}}}}}"#);
        assert_eq!(request.body, expected_body, "{number}");
    }
}

#[test]
fn writes_numbers_that_read_back_exactly() {
    let cases = [
        0.0,
        -0.0,
        1.0,
        -7.0,
        0.1,
        1.0 / 3.0,
        -2.5e-8,
        1e-7,
        123_456.789,
        9_007_199_254_740_993.0,
        1e21,
        -1e21,
        1.7976931348623157e308,
        f64::MIN,
        f64::MIN_POSITIVE,
        5e-324,
        1e300,
    ];
    for number in cases {
        let request = incoming_event_request(&default_settings(), &event_with_parameters(vec![("n", Scalar::Number(number))]));

        let parsed = parse_body(&request)["parameters"]["n"].as_f64();

        assert_eq!(parsed, Some(number), "{number:e} written as {}", request.body);
        assert!(!request.body.contains("NaN"), "{}", request.body);
        assert!(!request.body.contains("inf"), "{}", request.body);
        assert!(!request.body.contains("-0,"), "{}", request.body);
        assert!(!request.body.contains("-0}"), "{}", request.body);
    }
}
