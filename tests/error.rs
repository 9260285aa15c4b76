#![cfg(not(target_arch = "wasm32"))]
//! The error type, its kinds, field errors and the input value helpers.

use stampede_workflows::{validate_incoming_event, Error, ErrorKind, FieldErrors, Value};

#[test]
fn names_every_kind_as_in_javascript() {
    let cases = [
        (ErrorKind::Validation, "validation"),
        (ErrorKind::BadRequest, "bad_request"),
        (ErrorKind::Unauthorized, "unauthorized"),
        (ErrorKind::Forbidden, "forbidden"),
        (ErrorKind::NotFound, "not_found"),
        (ErrorKind::Unprocessable, "unprocessable"),
        (ErrorKind::Locked, "locked"),
        (ErrorKind::RateLimited, "rate_limited"),
        (ErrorKind::Server, "server"),
        (ErrorKind::Http, "http"),
        (ErrorKind::Network, "network"),
        (ErrorKind::Timeout, "timeout"),
        (ErrorKind::Aborted, "aborted"),
        (ErrorKind::InvalidResponse, "invalid_response"),
    ];
    for (kind, name) in cases {
        assert_eq!(kind.as_str(), name);
    }
}

#[test]
fn groups_messages_by_key_in_order() {
    let mut errors = FieldErrors::default();
    errors.add("serials.0", "First.");
    errors.add("org_reg_id", "Second.");
    errors.add("serials.0", "Third.");

    let collected: Vec<(&str, Vec<String>)> = errors.iter().map(|(key, messages)| (key, messages.to_vec())).collect();

    assert_eq!(
        collected,
        vec![("serials.0", vec!["First.".to_string(), "Third.".to_string()]), ("org_reg_id", vec!["Second.".to_string()])]
    );
    assert_eq!(errors.get("missing"), Vec::<String>::new().as_slice());
}

#[test]
fn merges_field_errors() {
    let mut first = FieldErrors::default();
    first.add("a", "One.");
    let mut second = FieldErrors::default();
    second.add("a", "Two.");
    second.add("b", "Three.");

    first.merge(second);

    assert_eq!(first.get("a"), ["One.", "Two."]);
    assert_eq!(first.get("b"), ["Three."]);
}

#[test]
fn summarises_like_laravel() {
    let mut errors = FieldErrors::default();
    assert_eq!(errors.summary(), "The input is invalid.");

    errors.add("a", "The a field is required.");
    assert_eq!(errors.summary(), "The a field is required.");

    errors.add("a", "The a field must be a string.");
    assert_eq!(errors.summary(), "The a field is required. (and 1 more error)");

    errors.add("b", "The b field is required.");
    assert_eq!(errors.summary(), "The a field is required. (and 2 more errors)");
}

#[test]
fn builds_validation_error_without_attempts() {
    let mut errors = FieldErrors::default();
    errors.add("org_reg_id", "The org reg id field is required.");

    let error = Error::validation(errors.clone());

    assert_eq!(error.kind, ErrorKind::Validation);
    assert_eq!(error.message, "The org reg id field is required.");
    assert_eq!(error.to_string(), "The org reg id field is required.");
    assert_eq!(error.errors, Some(errors));
    assert_eq!(error.status, None);
    assert_eq!(error.retry_after_ms, None);
    assert_eq!(error.attempts, 0);
}

#[test]
fn converts_field_errors_into_result() {
    let empty = FieldErrors::default().into_result(7);
    let mut errors = FieldErrors::default();
    errors.add("event", "The event must be an object.");

    let failed = errors.into_result(7);

    assert_eq!(empty, Ok(7));
    assert_eq!(failed.map_err(|error| error.kind), Err(ErrorKind::Validation));
}

#[test]
fn validation_error_carries_every_event_error() {
    let event: Value = [("serials", Value::from("x"))].into_iter().collect();

    let error = validate_incoming_event(&event).map_err(Error::validation);

    let Err(error) = error else { panic!("expected a validation error") };
    assert_eq!(error.message, "The organisation registration id field is required. (and 1 more error)");
    assert_eq!(error.errors.map(|errors| errors.iter().count()), Some(2));
}

#[test]
fn reads_object_fields_and_absence() {
    let object: Value = [("a", Value::from(1.0)), ("b", Value::Null)].into_iter().collect();

    assert_eq!(object.get("a"), &Value::Number(1.0));
    assert_eq!(object.get("b"), &Value::Null);
    assert_eq!(object.get("c"), &Value::Undefined);
    assert_eq!(Value::from("text").get("a"), &Value::Undefined);
    assert!(object.get("b").is_absent());
    assert!(object.get("c").is_absent());
    assert!(!Value::from(false).is_absent());
    assert!(!Value::from("").is_absent());
}

#[test]
fn describes_values_with_article() {
    let cases = [
        (Value::Undefined, "undefined"),
        (Value::Null, "null"),
        (Value::Bool(true), "a boolean"),
        (Value::Number(1.0), "a number"),
        (Value::Number(f64::NAN), "NaN"),
        (Value::Number(f64::NEG_INFINITY), "an infinite number"),
        (Value::from("x"), "a string"),
        (Value::Array(Vec::new()), "an array"),
        (Value::Object(Vec::new()), "an object"),
        (Value::Unsupported("a Symbol"), "a Symbol"),
        (Value::InvalidUnicode, "a string with an unpaired surrogate"),
        (Value::Unreadable, "a value that could not be read"),
    ];
    for (value, described) in cases {
        assert_eq!(value.describe(), described, "{value:?}");
    }
}
