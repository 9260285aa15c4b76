//! The caller's input as the core reads it: a JSON-like tree that also keeps
//! the values JSON cannot carry, so validation can name them.

use crate::prelude::*;

/// One input value, converted from the caller's runtime value.
///
/// Collections keep their order. `Unsupported` carries a description with
/// its article ("a BigInt", "a function"), used in error messages.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// JavaScript `undefined`, or a field that is not present.
    Undefined,
    Null,
    Bool(bool),
    /// Any number, including NaN and the infinities, which validation rejects.
    Number(f64),
    String(String),
    Array(Vec<Value>),
    /// An object's own enumerable string keys with their values, in order.
    Object(Vec<(String, Value)>),
    /// A value the API cannot take, such as a BigInt, a Date or a function.
    Unsupported(&'static str),
    /// A string with an unpaired UTF-16 surrogate, which has no UTF-8 form.
    InvalidUnicode,
    /// A value whose reading failed, such as a getter or a Proxy trap that threw.
    Unreadable,
}

impl Value {
    /// Returns the value of `key` in an object, or `Undefined` when the key is
    /// absent or `self` is not an object.
    pub fn get(&self, key: &str) -> &Value {
        match self {
            Value::Object(entries) => entries
                .iter()
                .find(|(name, _)| name == key)
                .map_or(&Value::Undefined, |(_, value)| value),
            _ => &Value::Undefined,
        }
    }

    /// Returns true for `undefined` and `null`, which optional fields treat as absent.
    pub fn is_absent(&self) -> bool {
        matches!(self, Value::Undefined | Value::Null)
    }

    /// Describes the value's type with an article, for error messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Value::Undefined => "undefined",
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(n) if n.is_nan() => "NaN",
            Value::Number(n) if n.is_infinite() => "an infinite number",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
            Value::Unsupported(description) => description,
            Value::InvalidUnicode => "a string with an unpaired surrogate",
            Value::Unreadable => "a value that could not be read",
        }
    }
}

/// Builds an object value from pairs, for tests and native callers.
impl<K: Into<String>> FromIterator<(K, Value)> for Value {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(pairs: I) -> Self {
        Value::Object(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Value::String(text.to_owned())
    }
}

impl From<f64> for Value {
    fn from(number: f64) -> Self {
        Value::Number(number)
    }
}

impl From<bool> for Value {
    fn from(flag: bool) -> Self {
        Value::Bool(flag)
    }
}

/// Returns true for a finite number without a fraction. `f64::fract` needs
/// std, which the wasm build does not link.
pub(crate) fn is_whole(number: f64) -> bool {
    // From 2^52 up, every f64 is a whole number.
    const WHOLE_FROM: f64 = 4_503_599_627_370_496.0;
    number.is_finite() && (number.abs() >= WHOLE_FROM || number == number as i64 as f64)
}

#[cfg(test)]
mod tests {
    use super::is_whole;

    #[test]
    fn whole_numbers_are_finite_numbers_without_a_fraction() {
        for number in [0.0, -0.0, 3.0, -42.0, 4_503_599_627_370_495.0, 9_007_199_254_740_993.0, 1e300, -1e300, f64::MAX] {
            assert!(is_whole(number), "{number}");
        }
        for number in [0.5, -0.5, 1e-300, 4_503_599_627_370_495.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(!is_whole(number), "{number}");
        }
    }
}
