//! Conversions between JavaScript values and the core's types. Every read
//! of a caller's value can throw (getters, Proxies), so each one is caught.

use js_sys::{Array, JsString, Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::{Error, FieldErrors, Value, MAX_ITEMS};

#[wasm_bindgen(module = "/src/wasm/stampede-error.js")]
extern "C" {
    #[wasm_bindgen(js_name = StampedeError)]
    type JsStampedeError;

    #[wasm_bindgen(constructor, js_class = "StampedeError")]
    fn new(kind: &str, message: &str, details: &Object) -> JsStampedeError;
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_namespace = Object, js_name = keys)]
    fn object_keys(value: &JsValue) -> Result<Array, JsValue>;

    #[wasm_bindgen(catch, js_namespace = Array, js_name = isArray)]
    fn is_array(value: &JsValue) -> Result<bool, JsValue>;

    /// `Object.prototype.toString`, which names an object's built-in type.
    #[wasm_bindgen(catch, js_namespace = ["Object", "prototype", "toString"], js_name = call)]
    fn object_tag(value: &JsValue) -> Result<String, JsValue>;
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
    if value.is_undefined() {
        return Value::Undefined;
    }
    if value.is_null() {
        return Value::Null;
    }
    if let Some(flag) = value.as_bool() {
        return Value::Bool(flag);
    }
    if let Some(number) = value.as_f64() {
        return Value::Number(number);
    }
    if value.is_string() {
        return read_string(value, budget);
    }
    if value.is_bigint() {
        return Value::Unsupported("a BigInt");
    }
    if value.is_symbol() {
        return Value::Unsupported("a symbol");
    }
    if value.is_function() {
        return Value::Unsupported("a function");
    }
    match is_array(value) {
        Ok(true) if depth == 0 => Value::Unsupported("an array"),
        Ok(true) => read_array(value, depth - 1, budget),
        Ok(false) => read_object(value, depth, budget),
        Err(_) => Value::Unreadable,
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
    if text.contains('\u{FFFD}') && !JsString::from(value.clone()).is_valid_utf16() {
        return Value::InvalidUnicode;
    }
    Value::String(text)
}

fn read_array(array: &JsValue, depth: u8, budget: &mut u32) -> Value {
    let Ok(length) = Reflect::get(array, &JsValue::from_str("length")) else {
        return Value::Unreadable;
    };
    // One item past the limit is enough for validation to reject the array.
    let length = length.as_f64().unwrap_or(0.0).min((MAX_ITEMS + 1) as f64) as u32;
    let items = (0..length)
        .map(|index| Reflect::get_u32(array, index).map_or(Value::Unreadable, |item| read_within(&item, depth, budget)))
        .collect();
    Value::Array(items)
}

fn read_object(object: &JsValue, depth: u8, budget: &mut u32) -> Value {
    let tag = match object_tag(object) {
        Ok(tag) => tag,
        Err(_) => return Value::Unreadable,
    };
    if tag != "[object Object]" {
        return Value::Unsupported(describe_tag(&tag));
    }
    if depth == 0 {
        return Value::Unsupported("an object");
    }
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
                (format!("{}…", start.unwrap_or_default()), Value::Unsupported(TOO_LONG_NAME))
            }
            // A name with an unpaired surrogate has no UTF-8 form: reported, never silently renamed.
            _ => (key.as_string().unwrap_or_default(), Value::InvalidUnicode),
        })
        .collect();
    Value::Object(entries)
}

fn describe_tag(tag: &str) -> &'static str {
    match tag {
        "[object Date]" => "a Date",
        "[object Map]" => "a Map",
        "[object Set]" => "a Set",
        "[object RegExp]" => "a regular expression",
        "[object Promise]" => "a Promise",
        "[object Error]" => "an Error",
        "[object String]" | "[object Number]" | "[object Boolean]" => "a boxed primitive",
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

/// Sets `key` as an own enumerable property, even for a key such as `__proto__`.
pub fn set_property(object: &Object, key: &str, value: &JsValue) {
    let descriptor = Object::new();
    let _ = Reflect::set(&descriptor, &"value".into(), value);
    let _ = Reflect::set(&descriptor, &"enumerable".into(), &JsValue::TRUE);
    let _ = Reflect::set(&descriptor, &"writable".into(), &JsValue::TRUE);
    let _ = Reflect::set(&descriptor, &"configurable".into(), &JsValue::TRUE);
    Object::define_property(object, &JsValue::from_str(key), &descriptor);
}

/// Converts field errors to `{ [key]: string[] }`.
pub fn field_errors_to_js(errors: &FieldErrors) -> Object {
    let object = Object::new();
    for (key, messages) in errors.iter() {
        let list: Array = messages.iter().map(|message| JsValue::from_str(message)).collect();
        set_property(&object, key, &list);
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
    let result = Object::new();
    match errors {
        None => {
            set_property(&result, "valid", &JsValue::TRUE);
        }
        Some(errors) => {
            set_property(&result, "valid", &JsValue::FALSE);
            set_property(&result, "message", &JsValue::from_str(&errors.summary()));
            set_property(&result, "errors", &field_errors_to_js(errors));
        }
    }
    result.into()
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
    let details = Object::new();
    set_property(&details, "attempts", &JsValue::from(error.attempts));
    if let Some(status) = error.status {
        set_property(&details, "status", &JsValue::from(status));
    }
    if let Some(errors) = &error.errors {
        set_property(&details, "errors", &field_errors_to_js(errors));
    }
    if let Some(wait) = error.retry_after_ms {
        set_property(&details, "retryAfterMs", &JsValue::from(wait as f64));
    }
    if let Some(body) = extras.body {
        set_property(&details, "body", &body);
    }
    if let Some(cause) = extras.cause {
        set_property(&details, "cause", &cause);
    }
    JsStampedeError::new(error.kind.as_str(), &error.message, &details).into()
}
