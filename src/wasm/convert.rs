//! Conversions between JavaScript values and the core's types. Every read
//! of a caller's value can throw (getters, Proxies), so each one is caught.

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::prelude::*;
use crate::{Error, FieldErrors, Value, MAX_ITEMS};

#[wasm_bindgen(module = "/src/wasm/stampede-error.js")]
extern "C" {
    /// Writes `value` as text for `InputReader`: `depth` levels of arrays and
    /// objects, at most `budget` UTF-16 code units of strings, at most
    /// `max_items` items an array or object.
    #[wasm_bindgen(js_name = readInput)]
    fn read_input(value: &JsValue, depth: u8, budget: u32, max_items: u32) -> String;

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

/// The maximum number of UTF-16 code units of text, keys included, copied
/// into the wasm memory from one argument. A string past it is described
/// instead of copied. Otherwise one 5 MB string repeated in 1,000 serials
/// would need 5 GB, more than wasm32 can address, and running out of memory traps.
///
/// NOTE: the API documents no such limit. This is the package's own bound.
pub const MAX_ARGUMENT_CHARS: u32 = 4 * 1024 * 1024;

const TOO_LONG: &str = "a string beyond the 4194304 characters of text the package reads from one argument";
const TOO_LONG_NAME: &str = "a value whose name goes beyond the 4194304 characters of text the package reads from one argument";

/// Converts a caller's value. `depth` is how many levels of arrays and
/// objects are read; deeper ones are described without being read.
pub fn read_value(value: &JsValue, depth: u8) -> Value {
    // One call writes the whole value as text, because every crossing into JavaScript costs time.
    let text = read_input(value, depth, MAX_ARGUMENT_CHARS, (MAX_ITEMS + 1) as u32);
    InputReader { text: &text, at: 0 }.value()
}

/// Parses the text of `readInput` in stampede-error.js, whose comment gives
/// the format. Text that breaks the format gives `Value::Unreadable`.
struct InputReader<'a> {
    text: &'a str,
    at: usize,
}

impl InputReader<'_> {
    /// Returns the next byte, or 0 past the end, and moves past it.
    fn letter(&mut self) -> u8 {
        let letter = self.text.as_bytes().get(self.at).copied().unwrap_or(0);
        self.at += 1;
        letter
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    /// Reads text up to its NUL, where NUL SOH stands for a NUL inside it.
    fn string(&mut self) -> String {
        let mut out = String::new();
        loop {
            let rest = self.text.get(self.at..).unwrap_or_default();
            let Some(end) = rest.bytes().position(|byte| byte == 0) else {
                out.push_str(rest);
                self.at = self.text.len();
                return out;
            };
            out.push_str(rest.get(..end).unwrap_or_default());
            self.at += end + 1;
            if self.peek() != Some(1) {
                return out;
            }
            out.push('\0');
            self.at += 1;
        }
    }

    /// Reads the 16 hex digits of a number's bits.
    fn number(&mut self) -> Value {
        let digits = self.text.get(self.at..self.at + 16);
        self.at += 16;
        digits
            .and_then(|digits| u64::from_str_radix(digits, 16).ok())
            .map_or(Value::Unreadable, |bits| Value::Number(f64::from_bits(bits)))
    }

    fn value(&mut self) -> Value {
        match self.letter() {
            b'u' => Value::Undefined,
            b'n' => Value::Null,
            b't' => Value::Bool(true),
            b'f' => Value::Bool(false),
            b'd' => self.number(),
            b's' => Value::String(self.string()),
            b'I' => Value::InvalidUnicode,
            b'L' => Value::Unsupported(TOO_LONG),
            b'r' => Value::Unreadable,
            b'A' => Value::Unsupported("an array"),
            b'O' => Value::Unsupported("an object"),
            b'[' => {
                let mut items = Vec::new();
                while self.peek().is_some_and(|letter| letter != b']') {
                    items.push(self.value());
                }
                self.at += 1;
                Value::Array(items)
            }
            b'{' => {
                let mut entries = Vec::new();
                loop {
                    let entry = match self.letter() {
                        b'}' => return Value::Object(entries),
                        b's' => {
                            let name = self.string();
                            (name, self.value())
                        }
                        // A name with an unpaired surrogate has no UTF-8 form: reported, never silently renamed.
                        b'I' => (self.string(), Value::InvalidUnicode),
                        // Only the start of a name too long to read is kept, and its value is never read or sent.
                        b'K' => (text!(self.string(), "…"), Value::Unsupported(TOO_LONG_NAME)),
                        _ => return Value::Unreadable,
                    };
                    entries.push(entry);
                }
            }
            b'b' => Value::Unsupported("a BigInt"),
            b'y' => Value::Unsupported("a symbol"),
            b'F' => Value::Unsupported("a function"),
            b'2' => Value::Unsupported("a Date"),
            b'3' => Value::Unsupported("a Map"),
            b'4' => Value::Unsupported("a Set"),
            b'5' => Value::Unsupported("a regular expression"),
            b'6' => Value::Unsupported("a Promise"),
            b'7' => Value::Unsupported("an Error"),
            b'8' => Value::Unsupported("a boxed primitive"),
            b'9' => Value::Unsupported("an object that is not a plain object"),
            _ => Value::Unreadable,
        }
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
