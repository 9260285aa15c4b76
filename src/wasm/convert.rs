//! Conversions between JavaScript values and the core's types. Every read
//! of a caller's value can throw (getters, Proxies), so each one is caught.

use js_sys::{Array, JsString, Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::text::find_text;
use crate::{Error, FieldErrors, Value, MAX_ITEMS};

#[wasm_bindgen(module = "/src/wasm/stampede-error.js")]
extern "C" {
    /// Classifies a value: 0 plain object, 1 array, 2 to 9 other objects,
    /// 10 to 17 primitives and functions, -1 unreadable.
    #[wasm_bindgen(js_name = valueTag)]
    fn value_tag(value: &JsValue) -> i32;

    /// Returns an array's length, or -1 when it cannot be read.
    #[wasm_bindgen(js_name = arrayLength)]
    fn array_length(array: &JsValue) -> f64;

    #[wasm_bindgen(js_name = setOwn)]
    fn set_own(object: &Object, key: &str, value: &JsValue);

    #[wasm_bindgen(js_name = validResult)]
    fn valid_result() -> JsValue;

    #[wasm_bindgen(js_name = invalidResult)]
    fn invalid_result(message: &str, errors: &Object) -> JsValue;

    /// Creates a StampedeError; `undefined` leaves a detail out.
    #[wasm_bindgen(js_name = newError)]
    #[allow(clippy::too_many_arguments)]
    fn new_error(
        kind: &str,
        message: &str,
        attempts: u32,
        status: JsValue,
        errors: JsValue,
        retry_after_ms: JsValue,
        body: JsValue,
        cause: JsValue,
    ) -> JsValue;
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_namespace = Object, js_name = keys)]
    fn object_keys(value: &JsValue) -> Result<Array, JsValue>;
}

/// The maximum number of UTF-16 code units of text, keys included, copied
/// into the wasm memory from one argument. A string past it is described
/// instead of copied. Otherwise one 5 MB string repeated in 1,000 serials
/// would need 5 GB, more than wasm32 can address, and running out of memory traps.
///
/// NOTE: the API documents no such limit. This is the package's own bound.
pub const MAX_ARGUMENT_CHARS: u32 = 4 * 1024 * 1024;

const TOO_LONG: &str = "a string beyond the 4194304 characters of text the package reads from one argument";
const TOO_LONG_NAME: &str = "a value whose name goes beyond the 4194304 characters of text the package reads from one argument";
/// The number of UTF-16 code units of a name too long to read shown in error keys.
const NAME_EXCERPT_UNITS: u32 = 40;

/// Converts a caller's value. `depth` is how many levels of arrays and
/// objects are read; deeper ones are described without being read.
pub fn read_value(value: &JsValue, depth: u8) -> Value {
    let mut budget = MAX_ARGUMENT_CHARS;
    read_within(value, depth, &mut budget)
}

/// Converts a value, counting its strings' lengths against `budget`.
fn read_within(value: &JsValue, depth: u8, budget: &mut u32) -> Value {
    // One call classifies the value, because every crossing into JavaScript costs time.
    match value_tag(value) {
        10 => Value::Undefined,
        11 => Value::Null,
        12 => Value::Bool(value.is_truthy()),
        13 => value.as_f64().map_or(Value::Unreadable, Value::Number),
        14 => read_string(value, budget),
        15 => Value::Unsupported("a BigInt"),
        16 => Value::Unsupported("a symbol"),
        17 => Value::Unsupported("a function"),
        1 if depth == 0 => Value::Unsupported("an array"),
        1 => read_array(value, depth - 1, budget),
        0 if depth == 0 => Value::Unsupported("an object"),
        0 => read_object(value, depth, budget),
        -1 => Value::Unreadable,
        tag => Value::Unsupported(describe_tag(tag)),
    }
}

fn read_string(value: &JsValue, budget: &mut u32) -> Value {
    let Some(units) = value.dyn_ref::<JsString>().map(JsString::length) else {
        return Value::Unreadable;
    };
    // Checked before the copy, which needs up to 3 bytes of wasm memory per unit.
    if units > *budget {
        return Value::Unsupported(TOO_LONG);
    }
    *budget -= units;
    let Some(text) = value.as_string() else {
        return Value::Unreadable;
    };
    // Decoding replaces an unpaired surrogate with U+FFFD, so only then is the
    // slower check needed to tell a real U+FFFD from lost data.
    if find_text(&text, "\u{FFFD}").is_some() && !JsString::from(value.clone()).is_valid_utf16() {
        return Value::InvalidUnicode;
    }
    Value::String(text)
}

fn read_array(array: &JsValue, depth: u8, budget: &mut u32) -> Value {
    let length = array_length(array);
    if length < 0.0 {
        return Value::Unreadable;
    }
    // One item past the limit is enough for validation to reject the array.
    let length = length.min((MAX_ITEMS + 1) as f64) as u32;
    let items = (0..length)
        .map(|index| Reflect::get_u32(array, index).map_or(Value::Unreadable, |item| read_within(&item, depth, budget)))
        .collect();
    Value::Array(items)
}

fn read_object(object: &JsValue, depth: u8, budget: &mut u32) -> Value {
    let Ok(keys) = object_keys(object) else {
        return Value::Unreadable;
    };
    let entries = keys
        .iter()
        .take(MAX_ITEMS + 1)
        .map(|key| match read_string(&key, budget) {
            Value::String(name) => {
                let value = Reflect::get(object, &key).map_or(Value::Unreadable, |value| read_within(&value, depth - 1, budget));
                (name, value)
            }
            // Only the start of a name too long to read is kept, and its value is never read or sent.
            Value::Unsupported(_) => {
                let start = key.dyn_ref::<JsString>().map(|key| key.slice(0, NAME_EXCERPT_UNITS)).and_then(|start| start.as_string());
                (text!(start.unwrap_or_default(), "…"), Value::Unsupported(TOO_LONG_NAME))
            }
            // A name with an unpaired surrogate has no UTF-8 form: reported, never silently renamed.
            _ => (key.as_string().unwrap_or_default(), Value::InvalidUnicode),
        })
        .collect();
    Value::Object(entries)
}

/// Describes the built-in types `valueTag` distinguishes.
fn describe_tag(tag: i32) -> &'static str {
    match tag {
        2 => "a Date",
        3 => "a Map",
        4 => "a Set",
        5 => "a regular expression",
        6 => "a Promise",
        7 => "an Error",
        8 => "a boxed primitive",
        _ => "an object that is not a plain object",
    }
}

/// Reads a property of a caller's object, `undefined` when it throws or
/// `object` is not an object.
pub fn read_property(object: &JsValue, key: &str) -> JsValue {
    if !object.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// Converts field errors to `{ [key]: string[] }`.
pub fn field_errors_to_js(errors: &FieldErrors) -> Object {
    let object = Object::new();
    for (key, messages) in errors.iter() {
        let list: Array = messages.iter().map(|message| JsValue::from_str(message)).collect();
        set_own(&object, key, &list);
    }
    object
}

/// Reads a server's `errors` object, keeping the string messages of each key.
pub fn field_errors_from_js(value: &JsValue) -> Option<FieldErrors> {
    let Value::Object(entries) = read_value(value, 2) else {
        return None;
    };
    let mut errors = FieldErrors::default();
    for (key, messages) in entries {
        match messages {
            Value::String(message) => errors.add(key, message),
            Value::Array(items) => {
                for item in items {
                    if let Value::String(message) = item {
                        errors.add(key.clone(), message);
                    }
                }
            }
            _ => {}
        }
    }
    Some(errors)
}

/// Builds the `ValidationResult` of `validateIncomingEvent` and `validateWorkflowRun`.
pub fn validation_result(errors: Option<&FieldErrors>) -> JsValue {
    match errors {
        None => valid_result(),
        Some(errors) => invalid_result(&errors.summary(), &field_errors_to_js(errors)),
    }
}

/// Extra JavaScript values that go with a core error.
#[derive(Default)]
pub struct ErrorExtras {
    /// The parsed JSON error body, or a short text excerpt.
    pub body: Option<JsValue>,
    /// The value fetch rejected with.
    pub cause: Option<JsValue>,
}

/// Creates the `StampedeError` for a core error.
pub fn to_js_error(error: &Error, extras: ErrorExtras) -> JsValue {
    let optional = |value: Option<JsValue>| value.unwrap_or(JsValue::UNDEFINED);
    new_error(
        error.kind.as_str(),
        &error.message,
        error.attempts,
        optional(error.status.map(JsValue::from)),
        optional(error.errors.as_ref().map(|errors| field_errors_to_js(errors).into())),
        optional(error.retry_after_ms.map(|wait| JsValue::from(wait as f64))),
        optional(extras.body),
        optional(extras.cause),
    )
}
