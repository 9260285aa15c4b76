//! Validation of the two request bodies and the workflow id. Every violation
//! is collected under Laravel's dotted key, so one handler serves the
//! package's errors and the server's 422 errors alike.

use crate::prelude::*;

use crate::error::FieldErrors;
use crate::value::Value;

/// The maximum number of serials, or parameters, in one event.
///
/// NOTE: the API documents no such limit. This is the package's own bound,
/// so that a huge or sparse array is rejected instead of read item by item.
pub const MAX_ITEMS: usize = 1000;

/// The maximum number of characters in a serial, counted as Unicode scalar values the way
/// PHP's `mb_strlen` counts them.
pub const MAX_SERIAL_CHARS: usize = 12;

const UUID_FORM: &str = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

/// A validated incoming event, ready to be sent.
#[derive(Clone, Debug, PartialEq)]
pub struct IncomingEvent {
    pub organisation_registration_id: String,
    pub serials: Option<Vec<String>>,
    pub parameters: Option<Vec<(String, Scalar)>>,
}

/// A parameter value: the scalars PHP's `is_scalar` accepts.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    String(String),
    /// Always finite.
    Number(f64),
    Bool(bool),
}

/// A validated workflow run request and the workflow it targets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkflowRun {
    pub workflow_id: String,
    pub org_reg_id: String,
}

/// Checks an incoming event and returns it in sendable form.
pub fn validate_incoming_event(event: &Value) -> Result<IncomingEvent, FieldErrors> {
    let mut errors = FieldErrors::default();
    let Value::Object(fields) = event else {
        errors.add(
            "event",
            text!("The event must be an object with an organisation_registration_id field, but it is ", event.describe(), "."),
        );
        return Err(errors);
    };
    reject_unknown_fields(
        &mut errors,
        fields,
        &["organisation_registration_id", "serials", "parameters"],
        "an incoming event",
    );

    let id = check_uuid(&mut errors, "organisation_registration_id", event.get("organisation_registration_id"));
    let serials = check_serials(&mut errors, event.get("serials"));
    let parameters = check_parameters(&mut errors, event.get("parameters"));

    match (id, serials, parameters) {
        (Some(organisation_registration_id), Ok(serials), Ok(parameters)) if errors.is_empty() => Ok(IncomingEvent {
            organisation_registration_id,
            serials,
            parameters,
        }),
        _ => Err(errors),
    }
}

/// Checks a workflow id and a workflow run request.
pub fn validate_workflow_run(workflow_id: &Value, request: &Value) -> Result<WorkflowRun, FieldErrors> {
    let mut errors = FieldErrors::default();
    if let Some(message) = workflow_id_problem(workflow_id) {
        errors.add("workflowId", message);
    }

    let org_reg_id = match request {
        Value::Object(fields) => {
            reject_unknown_fields(&mut errors, fields, &["org_reg_id"], "a workflow run request");
            check_uuid(&mut errors, "org_reg_id", request.get("org_reg_id"))
        }
        Value::Undefined | Value::Null => check_uuid(&mut errors, "org_reg_id", &Value::Undefined),
        other => {
            errors.add(
                "request",
                text!("The request must be an object with an org_reg_id field, but it is ", other.describe(), "."),
            );
            None
        }
    };

    match (workflow_id, org_reg_id) {
        (Value::String(workflow_id), Some(org_reg_id)) if errors.is_empty() => Ok(WorkflowRun {
            workflow_id: workflow_id.clone(),
            org_reg_id,
        }),
        _ => Err(errors),
    }
}

fn workflow_id_problem(workflow_id: &Value) -> Option<String> {
    let id = match workflow_id {
        Value::String(id) => id,
        Value::InvalidUnicode => return Some("The workflowId argument must be valid Unicode text; it contains an unpaired surrogate.".into()),
        other => return Some(text!("The workflowId argument must be a string, but it is ", other.describe(), ".")),
    };
    if id.is_empty() {
        return Some("The workflowId argument must not be empty.".into());
    }
    if id == "." || id == ".." {
        return Some("The workflowId argument must not be \".\" or \"..\", because they name a directory, not a workflow.".into());
    }
    // The backend decodes %2F before routing, so no encoding keeps a "/" inside one segment.
    if id.bytes().any(|b| b == b'/') {
        return Some("The workflowId argument must not contain \"/\", because the server decodes %2F before routing.".into());
    }
    if id.trim() != id {
        return Some("The workflowId argument must not start or end with whitespace.".into());
    }
    if id.chars().any(char::is_control) {
        return Some("The workflowId argument must not contain control characters.".into());
    }
    None
}

fn reject_unknown_fields(errors: &mut FieldErrors, fields: &[(String, Value)], known: &[&str], what: &str) {
    for (name, _) in fields {
        if known.contains(&name.as_str()) {
            continue;
        }
        // The two endpoints name the same id differently, an easy mix-up.
        let hint = match name.as_str() {
            "organisation_registration_id" if known.contains(&"org_reg_id") => " Did you mean org_reg_id?",
            "org_reg_id" if known.contains(&"organisation_registration_id") => " Did you mean organisation_registration_id?",
            _ => "",
        };
        let accepted = match known {
            [only] => text!("only the ", only, " field"),
            _ => text!("only the fields ", known.join(", ")),
        };
        errors.add(name.clone(), text!("The ", name, " field is not accepted, because ", what, " has ", accepted, ".", hint));
    }
}

/// Checks a required UUID in the hyphenated 8-4-4-4-12 form and returns it
/// exactly as given.
fn check_uuid(errors: &mut FieldErrors, key: &str, value: &Value) -> Option<String> {
    let label = key.replace('_', " ");
    let text = match value {
        Value::Undefined | Value::Null => {
            errors.add(key, text!("The ", label, " field is required."));
            return None;
        }
        Value::String(text) if text.is_empty() => {
            errors.add(key, text!("The ", label, " field is required."));
            return None;
        }
        Value::String(text) => text,
        other => {
            errors.add(key, text!("The ", label, " field must be a UUID string, but it is ", other.describe(), "."));
            return None;
        }
    };
    match uuid_problem(text) {
        None => Some(text.clone()),
        Some(problem) => {
            errors.add(key, text!("The ", label, " field ", problem));
            None
        }
    }
}

/// Describes why `text` is not a hyphenated UUID, as the end of a sentence.
fn uuid_problem(text: &str) -> Option<String> {
    if is_hyphenated_uuid(text) {
        return None;
    }
    let problem = if text.trim() != text {
        text!("must be a UUID without surrounding whitespace, in the form ", UUID_FORM, ".")
    } else if text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        text!("must be a UUID with hyphens, in the form ", UUID_FORM, ".")
    } else if text.starts_with('{') && text.ends_with('}') && text.get(1..text.len() - 1).is_some_and(is_hyphenated_uuid) {
        text!("must be a UUID without braces, in the form ", UUID_FORM, ".")
    } else if text.len() > 9 && text.get(..9).is_some_and(|prefix| prefix.eq_ignore_ascii_case("urn:uuid:")) {
        text!("must be a UUID without the urn:uuid: prefix, in the form ", UUID_FORM, ".")
    } else {
        text!("must be a valid UUID in the form ", UUID_FORM, ".")
    };
    Some(problem)
}

/// Returns true for 36 characters of hex digits with hyphens at 8, 13, 18 and 23:
///
/// ```text
/// a1b2c3d4-e5f6-7890-abcd-ef1234567890
///         ^    ^    ^    ^
/// ```
pub fn is_hyphenated_uuid(text: &str) -> bool {
    text.len() == 36
        && text.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn check_serials(errors: &mut FieldErrors, value: &Value) -> Result<Option<Vec<String>>, ()> {
    let items = match value {
        Value::Undefined | Value::Null => return Ok(None),
        Value::Array(items) => items,
        other => {
            errors.add("serials", text!("The serials field must be an array of strings, but it is ", other.describe(), "."));
            return Err(());
        }
    };
    if items.len() > MAX_ITEMS {
        errors.add("serials", text!("The serials field must not have more than ", MAX_ITEMS, " items."));
        return Err(());
    }

    let mut serials = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        // Keys are built only for errors, because validation runs on every call.
        let key = || text!("serials.", index);
        match item {
            Value::String(serial) if serial.is_empty() => {
                errors.add(key(), text!("The serials.", index, " field must be at least 1 character."));
            }
            Value::String(serial) if serial.chars().count() > MAX_SERIAL_CHARS => {
                errors.add(
                    key(),
                    text!("The serials.", index, " field must not be greater than ", MAX_SERIAL_CHARS, " characters."),
                );
            }
            Value::String(serial) => serials.push(serial.clone()),
            Value::InvalidUnicode => errors.add(key(), text!("The serials.", index, " field must be valid Unicode text; it contains an unpaired surrogate.")),
            other => errors.add(key(), text!("The serials.", index, " field must be a string, but it is ", other.describe(), ".")),
        }
    }
    Ok(Some(serials))
}

fn check_parameters(errors: &mut FieldErrors, value: &Value) -> Result<Option<Vec<(String, Scalar)>>, ()> {
    let entries = match value {
        Value::Undefined | Value::Null => return Ok(None),
        Value::Object(entries) => entries,
        other => {
            errors.add(
                "parameters",
                text!("The parameters field must be an object of scalar values, but it is ", other.describe(), "."),
            );
            return Err(());
        }
    };
    if entries.len() > MAX_ITEMS {
        errors.add("parameters", text!("The parameters field must not have more than ", MAX_ITEMS, " keys."));
        return Err(());
    }

    let mut parameters = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        // An undefined value counts as absent and is left out, as JSON.stringify does. A null value stays invalid.
        if matches!(value, Value::Undefined) {
            continue;
        }
        // Keys are built only for errors, because validation runs on every call.
        let key = || text!("parameters.", name);
        if name.is_empty() {
            errors.add(key(), "The parameters field must not have an empty key.");
            continue;
        }
        let scalar = match value {
            Value::String(text) => Scalar::String(text.clone()),
            Value::Bool(flag) => Scalar::Bool(*flag),
            Value::Number(number) if number.is_finite() => Scalar::Number(*number),
            Value::InvalidUnicode => {
                errors.add(key(), text!("The parameters.", name, " field must be valid Unicode text; it contains an unpaired surrogate."));
                continue;
            }
            other => {
                let message = text!("The parameters.", name, " field must be a string, a finite number or a boolean, but it is ", other.describe(), ".");
                errors.add(key(), message);
                continue;
            }
        };
        // `source` routes the event to a workflow, so an empty or non-string source is a mistake.
        if name == "source" && !matches!(&scalar, Scalar::String(text) if !text.is_empty()) {
            errors.add(key(), "The parameters.source field must be a non-empty string.");
            continue;
        }
        parameters.push((name.clone(), scalar));
    }
    Ok(Some(parameters))
}
