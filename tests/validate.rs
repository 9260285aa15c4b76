#![cfg(not(target_arch = "wasm32"))]
//! Validation of incoming events, workflow run requests and workflow ids.

mod common;
use common::*;

use stampede_workflows::{
    is_hyphenated_uuid, validate_incoming_event, validate_workflow_run, FieldErrors, IncomingEvent, Scalar, Value, WorkflowRun,
    MAX_ITEMS, MAX_SERIAL_CHARS,
};

const UUID_FORM: &str = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

fn strings(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|item| text(item)).collect())
}

/// Builds an event with a valid id and one more field.
fn event_with(field: &str, value: Value) -> Value {
    object(vec![("organisation_registration_id", text(ID)), (field, value)])
}

fn event_errors(event: &Value) -> FieldErrors {
    match validate_incoming_event(event) {
        Ok(valid) => panic!("expected validation errors, but the event passed as {valid:?}"),
        Err(errors) => errors,
    }
}

fn run_errors(workflow_id: &Value, request: &Value) -> FieldErrors {
    match validate_workflow_run(workflow_id, request) {
        Ok(valid) => panic!("expected validation errors, but the run passed as {valid:?}"),
        Err(errors) => errors,
    }
}

fn parameters_of(value: Value) -> Vec<(String, Scalar)> {
    match validate_incoming_event(&event_with("parameters", value)) {
        Ok(event) => event.parameters.unwrap_or_default(),
        Err(errors) => panic!("expected the parameters to pass, got {errors:?}"),
    }
}

// Organisation registration id and org_reg_id

#[test]
fn accepts_minimal_event() {
    let event = object(vec![("organisation_registration_id", text(ID))]);

    let valid = validate_incoming_event(&event);

    assert_eq!(
        valid,
        Ok(IncomingEvent {
            organisation_registration_id: ID.to_string(),
            serials: None,
            parameters: None,
        })
    );
}

#[test]
fn keeps_uuid_case_exactly_as_given() {
    let cases = [
        "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
        "A1B2C3D4-E5F6-7890-ABCD-EF1234567890",
        "a1B2c3D4-E5f6-7890-AbCd-eF1234567890",
        "00000000-0000-0000-0000-000000000000",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
    ];
    for id in cases {
        let event = object(vec![("organisation_registration_id", text(id))]);
        let run = object(vec![("org_reg_id", text(id))]);

        let event_id = validate_incoming_event(&event).map(|valid| valid.organisation_registration_id);
        let run_id = validate_workflow_run(&text("wf"), &run).map(|valid| valid.org_reg_id);

        assert_eq!(event_id.as_deref(), Ok(id), "incoming event with {id}");
        assert_eq!(run_id.as_deref(), Ok(id), "workflow run with {id}");
    }
}

#[test]
fn rejects_other_uuid_forms_showing_expected_form() {
    let cases = [
        ("a1b2c3d4e5f67890abcdef1234567890", "must be a UUID with hyphens"),
        ("A1B2C3D4E5F67890ABCDEF1234567890", "must be a UUID with hyphens"),
        ("{a1b2c3d4-e5f6-7890-abcd-ef1234567890}", "must be a UUID without braces"),
        ("urn:uuid:a1b2c3d4-e5f6-7890-abcd-ef1234567890", "without the urn:uuid: prefix"),
        ("URN:UUID:a1b2c3d4-e5f6-7890-abcd-ef1234567890", "without the urn:uuid: prefix"),
        (" a1b2c3d4-e5f6-7890-abcd-ef1234567890", "without surrounding whitespace"),
        ("a1b2c3d4-e5f6-7890-abcd-ef1234567890 ", "without surrounding whitespace"),
        ("\ta1b2c3d4-e5f6-7890-abcd-ef1234567890\n", "without surrounding whitespace"),
        ("a1b2c3d4-e5f6-7890-abcd-ef1234567890\u{a0}", "without surrounding whitespace"),
        ("not-a-uuid", "must be a valid UUID"),
        ("a1b2c3d4-e5f6-7890-abcd-ef123456789", "must be a valid UUID"),
        ("a1b2c3d4-e5f6-7890-abcd-ef12345678901", "must be a valid UUID"),
        ("a1b2c3d-4e5f6-7890-abcd-ef1234567890", "must be a valid UUID"),
        ("g1b2c3d4-e5f6-7890-abcd-ef1234567890", "must be a valid UUID"),
        ("a1b2c3d4_e5f6_7890_abcd_ef1234567890", "must be a valid UUID"),
        ("a1b2c3d4-e5f6-7890-abcd-ef12345678é", "must be a valid UUID"),
        ("{a1b2c3d4e5f67890abcdef1234567890}", "must be a valid UUID"),
        ("{", "must be a valid UUID"),
        ("urn:uuid:", "must be a valid UUID"),
        ("ééééé", "must be a valid UUID"),
    ];
    for (id, fragment) in cases {
        let event = object(vec![("organisation_registration_id", text(id))]);
        let run = object(vec![("org_reg_id", text(id))]);

        let event_errors = event_errors(&event);
        let run_errors = run_errors(&text("wf"), &run);

        assert_single(&event_errors, "organisation_registration_id", fragment, id);
        assert_single(&event_errors, "organisation_registration_id", UUID_FORM, id);
        assert_single(&event_errors, "organisation_registration_id", "The organisation registration id field", id);
        assert_single(&run_errors, "org_reg_id", fragment, id);
        assert_single(&run_errors, "org_reg_id", UUID_FORM, id);
        assert_single(&run_errors, "org_reg_id", "The org reg id field", id);
    }
}

#[test]
fn requires_uuid_when_missing_or_empty() {
    let cases = [("missing", None), ("undefined", Some(Value::Undefined)), ("null", Some(Value::Null)), ("empty", Some(text("")))];
    for (case, value) in cases {
        let event = object(value.clone().map(|id| ("organisation_registration_id", id)).into_iter().collect());
        let run = object(value.map(|id| ("org_reg_id", id)).into_iter().collect());

        assert_single(&event_errors(&event), "organisation_registration_id", "The organisation registration id field is required.", case);
        assert_single(&run_errors(&text("wf"), &run), "org_reg_id", "The org reg id field is required.", case);
    }
}

#[test]
fn rejects_uuid_that_is_not_string() {
    let cases = [
        (Value::Number(1.0), "a number"),
        (Value::Bool(true), "a boolean"),
        (strings(&[ID]), "an array"),
        (object(vec![("id", text(ID))]), "an object"),
        (Value::Unsupported("a BigInt"), "a BigInt"),
        (Value::InvalidUnicode, "an unpaired surrogate"),
        (Value::Unreadable, "could not be read"),
    ];
    for (value, described) in cases {
        let event = event_errors(&object(vec![("organisation_registration_id", value.clone())]));
        let run = run_errors(&text("wf"), &object(vec![("org_reg_id", value)]));

        assert_single(&event, "organisation_registration_id", "must be a UUID string, but it is", described);
        assert_single(&event, "organisation_registration_id", described, described);
        assert_single(&run, "org_reg_id", described, described);
    }
}

#[test]
fn checks_uuid_shape_byte_by_byte() {
    assert!(is_hyphenated_uuid(ID));
    assert!(is_hyphenated_uuid("ABCDEF01-2345-6789-abcd-ef0123456789"));
    assert!(!is_hyphenated_uuid(""));
    assert!(!is_hyphenated_uuid("a1b2c3d4e5f67890abcdef1234567890"));
    assert!(!is_hyphenated_uuid("a1b2c3d4-e5f6-7890-abcd-ef1234567890-"));
    assert!(!is_hyphenated_uuid("-a1b2c3d4e5f6-7890-abcd-ef1234567890"));
    assert!(!is_hyphenated_uuid("a1b2c3d4-e5f6-7890-abcd-ef123456789\u{0}"));
    assert!(!is_hyphenated_uuid("a1b2c3d4-e5f6-7890-abcd-ef12345678\u{e9}"));
}

// Event shape and unknown fields

#[test]
fn rejects_event_that_is_not_object() {
    let cases = [
        (Value::Undefined, "undefined"),
        (Value::Null, "null"),
        (text(ID), "a string"),
        (strings(&[ID]), "an array"),
        (Value::Number(3.0), "a number"),
    ];
    for (event, described) in cases {
        let errors = event_errors(&event);

        assert_single(&errors, "event", "The event must be an object", described);
        assert_single(&errors, "event", &format!("but it is {described}."), described);
    }
}

#[test]
fn rejects_unknown_event_fields() {
    let event = object(vec![
        ("organisation_registration_id", text(ID)),
        ("serial", strings(&["ABC"])),
        ("org_reg_id", text(ID)),
    ]);

    let errors = event_errors(&event);

    assert_eq!(keys(&errors), vec!["serial", "org_reg_id"]);
    assert_eq!(
        errors.get("serial"),
        ["The serial field is not accepted, because an incoming event has only the fields organisation_registration_id, serials, parameters."]
    );
    assert!(errors.get("org_reg_id")[0].contains("The org_reg_id field is not accepted"));
}

#[test]
fn rejects_unknown_workflow_run_fields() {
    let request = object(vec![("org_reg_id", text(ID)), ("organisation_registration_id", text(ID))]);

    let errors = run_errors(&text("wf"), &request);

    assert_single(&errors, "organisation_registration_id", "a workflow run request has only the org_reg_id field. Did you mean org_reg_id?", "extra field");
}

#[test]
fn reports_every_violation_at_once() {
    let event = object(vec![
        ("organisation_registration_id", text("nope")),
        ("serials", strings(&["OK", "THIRTEEN_CHAR"])),
        ("parameters", object(vec![("source", text("")), ("bad", Value::Null)])),
        ("extra", Value::Bool(true)),
    ]);

    let errors = event_errors(&event);

    assert_eq!(keys(&errors), vec!["extra", "organisation_registration_id", "serials.1", "parameters.source", "parameters.bad"]);
    assert!(errors.summary().ends_with("(and 4 more errors)"), "{}", errors.summary());
}

#[test]
fn treats_null_optional_fields_as_absent() {
    for absent in [Value::Undefined, Value::Null] {
        let event = object(vec![
            ("organisation_registration_id", text(ID)),
            ("serials", absent.clone()),
            ("parameters", absent.clone()),
        ]);

        let valid = validate_incoming_event(&event);

        assert_eq!(valid.as_ref().map(|event| &event.serials), Ok(&None), "serials {absent:?}");
        assert_eq!(valid.as_ref().map(|event| &event.parameters), Ok(&None), "parameters {absent:?}");
    }
}

// Serials

#[test]
fn accepts_serials_of_1_to_12_chars() {
    let emoji = "😀".repeat(MAX_SERIAL_CHARS);
    let combining = "e\u{301}".repeat(6);
    let accented = "é".repeat(12);
    let serials = ["A", "XXXXXXXXXXXX", emoji.as_str(), combining.as_str(), accented.as_str(), " ", "a b"];

    let valid = validate_incoming_event(&event_with("serials", strings(&serials)));

    let expected: Vec<String> = serials.iter().map(|serial| serial.to_string()).collect();
    assert_eq!(valid.map(|event| event.serials), Ok(Some(expected)));
}

#[test]
fn accepts_empty_serials_array() {
    let valid = validate_incoming_event(&event_with("serials", Value::Array(Vec::new())));

    assert_eq!(valid.map(|event| event.serials), Ok(Some(Vec::new())));
}

#[test]
fn rejects_serial_over_12_chars() {
    let thirteen_emoji = "😀".repeat(13);
    let seven_combined = "e\u{301}".repeat(7);
    let cases = ["XXXXXXXXXXXXX", thirteen_emoji.as_str(), seven_combined.as_str()];
    for serial in cases {
        let errors = event_errors(&event_with("serials", strings(&[serial])));

        assert_single(&errors, "serials.0", "The serials.0 field must not be greater than 12 characters.", serial);
    }
}

#[test]
fn rejects_empty_serial() {
    let errors = event_errors(&event_with("serials", strings(&["OK", ""])));

    assert_single(&errors, "serials.1", "The serials.1 field must be at least 1 character.", "empty serial");
}

#[test]
fn rejects_serial_that_is_not_string() {
    let cases = [
        (Value::Number(123.0), "but it is a number."),
        (Value::Null, "but it is null."),
        (Value::Undefined, "but it is undefined."),
        (Value::Bool(false), "but it is a boolean."),
        (strings(&["A"]), "but it is an array."),
        (object(vec![]), "but it is an object."),
        (Value::Unsupported("a Date"), "but it is a Date."),
        (Value::InvalidUnicode, "must be valid Unicode text"),
    ];
    for (item, fragment) in cases {
        let errors = event_errors(&event_with("serials", Value::Array(vec![text("OK"), item])));

        assert_single(&errors, "serials.1", fragment, fragment);
    }
}

#[test]
fn keys_each_bad_serial_by_index() {
    let serials = Value::Array(vec![text("OK"), text(""), text("XXXXXXXXXXXXX"), Value::Number(5.0), text("ALSO_OK")]);

    let errors = event_errors(&event_with("serials", serials));

    assert_eq!(keys(&errors), vec!["serials.1", "serials.2", "serials.3"]);
}

#[test]
fn rejects_serials_that_are_not_array() {
    let cases = [
        (text("XXXX"), "a string"),
        (object(vec![("0", text("XXXX"))]), "an object"),
        (Value::Number(1.0), "a number"),
    ];
    for (serials, described) in cases {
        let errors = event_errors(&event_with("serials", serials));

        assert_single(&errors, "serials", &format!("The serials field must be an array of strings, but it is {described}."), described);
    }
}

#[test]
fn limits_serials_to_max_items() {
    let at_limit = Value::Array(vec![text("S"); MAX_ITEMS]);
    let over_limit = Value::Array(vec![text(""); MAX_ITEMS + 1]);

    let valid = validate_incoming_event(&event_with("serials", at_limit));
    let errors = event_errors(&event_with("serials", over_limit));

    assert_eq!(valid.map(|event| event.serials.map(|serials| serials.len())), Ok(Some(MAX_ITEMS)));
    assert_single(&errors, "serials", &format!("must not have more than {MAX_ITEMS} items"), "over the limit");
}

// Parameters

#[test]
fn accepts_scalar_parameters_in_order() {
    let parameters = object(vec![
        ("source", text("some_service")),
        ("key", text("value")),
        ("empty", text("")),
        ("zero", Value::Number(0.0)),
        ("negative", Value::Number(-1.5)),
        ("large", Value::Number(1e300)),
        ("yes", Value::Bool(true)),
        ("no", Value::Bool(false)),
    ]);

    let valid = parameters_of(parameters);

    let expected = vec![
        ("source".to_string(), Scalar::String("some_service".into())),
        ("key".to_string(), Scalar::String("value".into())),
        ("empty".to_string(), Scalar::String(String::new())),
        ("zero".to_string(), Scalar::Number(0.0)),
        ("negative".to_string(), Scalar::Number(-1.5)),
        ("large".to_string(), Scalar::Number(1e300)),
        ("yes".to_string(), Scalar::Bool(true)),
        ("no".to_string(), Scalar::Bool(false)),
    ];
    assert_eq!(valid, expected);
}

#[test]
fn accepts_empty_parameters_object() {
    assert_eq!(parameters_of(object(vec![])), Vec::new());
}

#[test]
fn rejects_non_scalar_parameter_under_its_key() {
    let cases = [
        (Value::Null, "but it is null."),
        (strings(&["a"]), "but it is an array."),
        (object(vec![("a", text("b"))]), "but it is an object."),
        (Value::Number(f64::NAN), "but it is NaN."),
        (Value::Number(f64::INFINITY), "but it is an infinite number."),
        (Value::Number(f64::NEG_INFINITY), "but it is an infinite number."),
        (Value::Unsupported("a BigInt"), "but it is a BigInt."),
        (Value::Unsupported("a Date"), "but it is a Date."),
        (Value::Unsupported("a function"), "but it is a function."),
        (Value::Unreadable, "but it is a value that could not be read."),
        (Value::InvalidUnicode, "The parameters.key field must be valid Unicode text"),
    ];
    for (value, fragment) in cases {
        let errors = event_errors(&event_with("parameters", object(vec![("ok", text("fine")), ("key", value)])));

        assert_single(&errors, "parameters.key", fragment, fragment);
    }
}

#[test]
fn omits_undefined_parameter_values() {
    let parameters = object(vec![("kept", text("x")), ("dropped", Value::Undefined), ("source", Value::Undefined)]);

    let valid = parameters_of(parameters);

    assert_eq!(valid, vec![("kept".to_string(), Scalar::String("x".into()))]);
}

#[test]
fn names_scalar_types_in_parameter_message() {
    let errors = event_errors(&event_with("parameters", object(vec![("key", Value::Null)])));

    assert_eq!(
        errors.get("parameters.key"),
        ["The parameters.key field must be a string, a finite number or a boolean, but it is null."]
    );
}

#[test]
fn keys_each_bad_parameter_separately() {
    let parameters = object(vec![
        ("a", Value::Null),
        ("b", text("ok")),
        ("c", Value::Number(f64::NAN)),
        ("d.e", Value::Array(Vec::new())),
    ]);

    let errors = event_errors(&event_with("parameters", parameters));

    assert_eq!(keys(&errors), vec!["parameters.a", "parameters.c", "parameters.d.e"]);
}

#[test]
fn requires_source_to_be_non_empty_string() {
    let cases = [
        (text(""), "The parameters.source field must be a non-empty string."),
        (Value::Number(1.0), "The parameters.source field must be a non-empty string."),
        (Value::Bool(true), "The parameters.source field must be a non-empty string."),
        (Value::Null, "but it is null."),
        (object(vec![]), "but it is an object."),
    ];
    for (source, fragment) in cases {
        let errors = event_errors(&event_with("parameters", object(vec![("source", source)])));

        assert_single(&errors, "parameters.source", fragment, fragment);
    }
}

#[test]
fn accepts_non_empty_source() {
    let valid = parameters_of(object(vec![("source", text(" "))]));

    assert_eq!(valid, vec![("source".to_string(), Scalar::String(" ".into()))]);
}

#[test]
fn rejects_parameters_that_are_not_object() {
    let cases = [
        (text("source=x"), "a string"),
        (strings(&["x"]), "an array"),
        (Value::Number(1.0), "a number"),
        (Value::Bool(true), "a boolean"),
    ];
    for (parameters, described) in cases {
        let errors = event_errors(&event_with("parameters", parameters));

        assert_single(
            &errors,
            "parameters",
            &format!("The parameters field must be an object of scalar values, but it is {described}."),
            described,
        );
    }
}

#[test]
fn limits_parameters_to_max_items() {
    let names: Vec<String> = (0..=MAX_ITEMS).map(|i| format!("p{i}")).collect();
    let at_limit = object(names.iter().take(MAX_ITEMS).map(|name| (name.as_str(), Value::Bool(true))).collect());
    let over_limit = object(names.iter().map(|name| (name.as_str(), Value::Null)).collect());

    let valid = parameters_of(at_limit);
    let errors = event_errors(&event_with("parameters", over_limit));

    assert_eq!(valid.len(), MAX_ITEMS);
    assert_single(&errors, "parameters", &format!("must not have more than {MAX_ITEMS} keys"), "over the limit");
}

// Workflow id

#[test]
fn accepts_workflow_run() {
    let valid = validate_workflow_run(&text("wf_123"), &object(vec![("org_reg_id", text(ID))]));

    assert_eq!(
        valid,
        Ok(WorkflowRun {
            workflow_id: "wf_123".to_string(),
            org_reg_id: ID.to_string(),
        })
    );
}

#[test]
fn rejects_workflow_id_with_outer_whitespace_or_controls() {
    let cases = [(" ", "whitespace"), (" wf", "whitespace"), ("wf\n", "whitespace"), ("w\0f", "control"), ("w\u{7f}f", "control")];
    for (id, fragment) in cases {
        let errors = run_errors(&text(id), &object(vec![("org_reg_id", text(ID))]));

        assert_single(&errors, "workflowId", fragment, id);
    }
}

#[test]
fn rejects_empty_parameter_key() {
    let errors = event_errors(&event_with("parameters", object(vec![("", text("x"))])));

    assert_single(&errors, "parameters.", "empty key", "empty key");
}

#[test]
fn hints_at_the_other_endpoints_id_name() {
    let errors = run_errors(&text("wf"), &object(vec![("organisation_registration_id", text(ID))]));

    assert!(errors.get("organisation_registration_id")[0].ends_with("Did you mean org_reg_id?"));
}

#[test]
fn accepts_workflow_ids_that_encode_to_one_segment() {
    let long = "w".repeat(10_000);
    let cases = ["...", ".a", "a.", "..a", "%2e%2e", "%2F", "\\", "a?b", "a#b", "a b", "ünïcödé", "😀", long.as_str()];
    for id in cases {
        let valid = validate_workflow_run(&text(id), &object(vec![("org_reg_id", text(ID))]));

        assert_eq!(valid.map(|run| run.workflow_id).as_deref(), Ok(id), "workflow id {id:?}");
    }
}

#[test]
fn rejects_invalid_workflow_id_strings() {
    let cases = [
        ("", "The workflowId argument must not be empty."),
        (".", "must not be \".\" or \"..\""),
        ("..", "must not be \".\" or \"..\""),
        ("/", "must not contain \"/\""),
        ("a/b", "must not contain \"/\""),
        ("/a", "must not contain \"/\""),
        ("a/", "must not contain \"/\""),
        ("../a", "must not contain \"/\""),
    ];
    for (id, fragment) in cases {
        let errors = run_errors(&text(id), &object(vec![("org_reg_id", text(ID))]));

        assert_single(&errors, "workflowId", fragment, id);
    }
}

#[test]
fn rejects_workflow_id_that_is_not_string() {
    let cases = [
        (Value::Undefined, "but it is undefined."),
        (Value::Null, "but it is null."),
        (Value::Number(42.0), "but it is a number."),
        (Value::Bool(true), "but it is a boolean."),
        (strings(&["wf"]), "but it is an array."),
        (object(vec![]), "but it is an object."),
        (Value::Unsupported("a function"), "but it is a function."),
        (Value::InvalidUnicode, "must be valid Unicode text"),
    ];
    for (id, fragment) in cases {
        let errors = run_errors(&id, &object(vec![("org_reg_id", text(ID))]));

        assert_single(&errors, "workflowId", fragment, fragment);
    }
}

#[test]
fn rejects_request_that_is_not_object() {
    let cases = [(text(ID), "a string"), (strings(&[ID]), "an array"), (Value::Number(1.0), "a number")];
    for (request, described) in cases {
        let errors = run_errors(&text("wf"), &request);

        assert_single(&errors, "request", &format!("The request must be an object with an org_reg_id field, but it is {described}."), described);
    }
}

#[test]
fn requires_org_reg_id_when_request_absent() {
    for request in [Value::Undefined, Value::Null] {
        let errors = run_errors(&text("wf"), &request);

        assert_single(&errors, "org_reg_id", "The org reg id field is required.", "absent request");
    }
}

#[test]
fn reports_workflow_id_and_org_reg_id_together() {
    let errors = run_errors(&text(".."), &object(vec![("org_reg_id", text("{bad}"))]));

    assert_eq!(keys(&errors), vec!["workflowId", "org_reg_id"]);
}
