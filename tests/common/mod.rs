//! Helpers shared by the native test files.
#![allow(dead_code)]

use stampede_workflows::{FieldErrors, Value};

/// A valid organisation registration id.
pub const ID: &str = "a1b2c3d4-e5f6-7890-abcd-ef1234567890";
/// An access token that must never appear in output.
pub const TOKEN: &str = "sk_live_SECRET123";

pub fn object(pairs: Vec<(&str, Value)>) -> Value {
    pairs.into_iter().collect()
}

pub fn text(value: &str) -> Value {
    Value::from(value)
}

pub fn keys(errors: &FieldErrors) -> Vec<&str> {
    errors.iter().map(|(key, _)| key).collect()
}

/// Asserts that `errors` has exactly one key, `key`, with one message containing `fragment`.
pub fn assert_single(errors: &FieldErrors, key: &str, fragment: &str, case: &str) {
    assert_eq!(keys(errors), vec![key], "keys for {case}");
    let messages = errors.get(key);
    assert_eq!(messages.len(), 1, "message count for {case}: {messages:?}");
    assert!(messages[0].contains(fragment), "message for {case} lacks {fragment:?}: {:?}", messages[0]);
}
