#![cfg(not(target_arch = "wasm32"))]
//! Property tests: generated input through every public function of the core
//! that reads caller or server input. A panic here would be a trap in the
//! wasm, which breaks every later call. So each property first runs the
//! function, and its assertions then check the documented results.
//!
//! Each property runs `PROPTEST_CASES` cases (default `DEFAULT_CASES`, sized
//! for CI) and prints "property NAME: N cases passed" (shown with
//! `--nocapture`), which `scripts/fuzz` adds up. The generator seed is
//! `PROPTEST_RNG_SEED` (default 0) mixed with the property's name, so a run
//! with the same seed and count generates the same inputs. A failure prints
//! both, with the smallest failing input proptest could shrink to.

mod common;
use common::*;

use std::cell::Cell;
use std::fmt::Debug;
use std::sync::OnceLock;
use std::time::Instant;

use proptest::collection::vec;
use proptest::option::weighted;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, RngSeed, TestCaseResult, TestRunner};
use serde_json::Value as Json;
use stampede_workflows::{
    backoff_ms, encode_path_segment, excerpt, incoming_event_request, is_loopback, kind_for_status, parse_base_url, parse_http_date,
    parse_overrides, parse_retry_after, parse_settings, redact, status_error, validate_incoming_event, validate_workflow_run,
    workflow_run_request, Error, ErrorKind, ErrorResponse, FieldErrors, RetryPolicy, Scalar, Scope, Settings, Value, BASE_DELAY_MS,
    DEFAULT_BASE_URL, DEFAULT_TIMEOUT_MS, MAX_BACKOFF_MS, MAX_ITEMS, MAX_RETRIES_LIMIT, MAX_RETRY_AFTER_MS, MAX_SERIAL_CHARS,
    MAX_TIMEOUT_MS,
};

/// Cases per property when `PROPTEST_CASES` is not set: enough to reach every
/// generator branch many times, small enough for `cargo test` in CI.
const DEFAULT_CASES: u32 = 1_000;

// ---------------------------------------------------------------------------
// The runner

fn cases() -> u32 {
    match std::env::var("PROPTEST_CASES") {
        Ok(text) => text.trim().parse().unwrap_or_else(|_| panic!("PROPTEST_CASES must be a whole number, got {text:?}")),
        Err(_) => DEFAULT_CASES,
    }
}

fn base_seed() -> u64 {
    match std::env::var("PROPTEST_RNG_SEED") {
        Ok(text) => text.trim().parse().unwrap_or_else(|_| panic!("PROPTEST_RNG_SEED must be a whole number, got {text:?}")),
        Err(_) => 0,
    }
}

/// FNV-1a, so each property gets its own stream from one base seed.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Runs `test` on generated inputs, prints how many ran, and fails with the
/// smallest failing input. A panic inside `test` counts as a failure.
fn check<S>(name: &str, strategy: S, test: impl Fn(S::Value) -> TestCaseResult)
where
    S: Strategy,
    S::Value: Debug,
{
    let seed = base_seed();
    let cases = cases();
    let config = Config {
        cases,
        rng_seed: RngSeed::Fixed(seed ^ name_hash(name)),
        failure_persistence: None,
        // Shrinking is bounded, so a failure ends in minutes, not hours.
        max_shrink_iters: 20_000,
        max_shrink_time: 120_000,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let ran = Cell::new(0u64);
    let started = Instant::now();
    let result = runner.run(&strategy, |input| {
        ran.set(ran.get() + 1);
        test(input)
    });
    match result {
        Ok(()) => println!("property {name}: {} cases passed in {:.1} s", ran.get(), started.elapsed().as_secs_f64()),
        Err(failure) => panic!("property {name} failed (PROPTEST_RNG_SEED={seed} PROPTEST_CASES={cases}): {failure}"),
    }
}

// ---------------------------------------------------------------------------
// Generators

/// Pieces on the boundaries the parsers check: prefixes, separators,
/// multi-byte and combining characters, control characters, escapes.
const PIECES: [&str; 62] = [
    "a", "F", "z", "0", "9", "-", "_", ".", "..", "~", "/", "\\", ":", "@", "?", "#", "%", "%2e", "%2E", "%2F", "%00", "%zz", "[",
    "]", "{", "}", " ", "\t", "\n", "\r", "\0", "\u{7f}", "\u{85}", "\u{a0}", "é", "ß", "İ", "\u{212a}", "\u{301}", "\u{200b}",
    "\u{feff}", "\u{fffd}", "\u{10ffff}", "😀", "\"", "'", "<", "https://", "http://", "urn:uuid:", "Bearer ", "localhost",
    "127.0.0.1", "[::1]", "stampede.ai", "GMT", "Nov", "06", ID, "[redacted]", "redacted", "sk_live_SECRET123",
];

/// Keys that the validators and option parsers look up, and some that trip
/// up JavaScript objects.
const KEYS: [&str; 24] = [
    "organisation_registration_id", "serials", "parameters", "org_reg_id", "source", "accessToken", "baseUrl", "timeoutMs",
    "totalTimeoutMs", "maxRetries", "retryAmbiguous", "fetch", "headers", "signal", "__proto__", "constructor", "toString", "",
    "0", "Authorization", "content-type", "X-Request-Id", "amount", "serials.0",
];

/// Every description `src/wasm/convert.rs` gives a value it cannot convert.
const UNSUPPORTED: [&str; 13] = [
    "a BigInt", "a symbol", "a function", "an array", "an object", "a Date", "a Map", "a Set", "a regular expression", "a Promise",
    "an Error", "a boxed primitive", "an object that is not a plain object",
];

/// Numbers at every edge the parsers compare against.
const EDGE_NUMBERS: [f64; 36] = [
    0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 2.0, 10.0, 11.0, 12.0, 0.1, 1e-7, 1e21, 1e300, -1e300, f64::MIN_POSITIVE, 5e-324, -5e-324,
    f64::MAX, f64::MIN, f64::EPSILON, 9_007_199_254_740_991.0, 9_007_199_254_740_992.0, 9_007_199_254_740_993.0,
    -9_007_199_254_740_991.0, 2_147_483_647.0, 2_147_483_648.0, 2_147_483_646.5, 4_294_967_295.0, 4_294_967_296.0,
    18_446_744_073_709_551_615.0, 1000.0, 1001.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY,
];

fn number() -> impl Strategy<Value = f64> + Clone {
    prop_oneof![
        3 => select(&EDGE_NUMBERS[..]),
        // Normal, subnormal, zero, infinite and NaN, of both signs.
        3 => any::<f64>(),
        2 => (-5i64..40).prop_map(|n| n as f64),
        1 => any::<i64>().prop_map(|n| n as f64),
        1 => any::<u32>().prop_map(f64::from),
    ]
}

/// Generates a string short enough to use anywhere in a tree.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => vec(select(&PIECES[..]), 0..8).prop_map(|pieces| pieces.concat()),
        // Any Unicode scalar values, including combining marks, RTL and private-use characters.
        3 => any::<String>(),
        2 => "[ -~]{0,24}",
        1 => uuid_like(),
    ]
    .boxed()
}

/// Generates a string of 1 KiB to 2 MiB, its length spread evenly over the
/// powers of two. It repeats one piece, so the time goes into the code under
/// test rather than into generation.
fn long_text() -> impl Strategy<Value = String> + Clone {
    (select(&PIECES[..]), 10u32..21, 0usize..1024).prop_map(|(piece, power, fraction)| {
        let bytes = (1usize << power) + ((1usize << power) / 1024) * fraction;
        piece.repeat(bytes / piece.len().max(1) + 1)
    })
}

/// Generates mostly short strings, and now and then a very long one.
fn any_text() -> BoxedStrategy<String> {
    prop_oneof![40 => text(), 1 => long_text()].boxed()
}

/// Generates UUIDs and the near misses the validator names: braces, a urn
/// prefix, no hyphens, whitespace, a wrong length, a non-hex or a non-ASCII digit.
fn uuid_like() -> BoxedStrategy<String> {
    let uuid = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
    prop_oneof![
        6 => uuid.prop_map(|id| id),
        1 => uuid.prop_map(|id| format!("{{{id}}}")),
        1 => uuid.prop_map(|id| format!("urn:uuid:{id}")),
        1 => uuid.prop_map(|id| id.replace('-', "")),
        1 => (uuid, select(&[" ", "\t", "\n", "\u{a0}"][..])).prop_map(|(id, space)| format!("{space}{id}")),
        1 => (uuid, 0usize..36, "[^0-9a-fA-F-]").prop_map(|(id, at, other)| {
            let mut chars: Vec<char> = id.chars().collect();
            chars[at] = other.chars().next().unwrap_or('g');
            chars.into_iter().collect()
        }),
        1 => "[0-9a-f-]{30,40}",
    ]
    .boxed()
}

fn key() -> BoxedStrategy<String> {
    prop_oneof![3 => select(&KEYS[..]).prop_map(String::from), 1 => text()].boxed()
}

/// Keeps the first entry of each key, as a JavaScript object has each key once.
fn unique(entries: Vec<(String, Value)>) -> Vec<(String, Value)> {
    let mut kept: Vec<(String, Value)> = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        if !kept.iter().any(|(other, _)| *other == name) {
            kept.push((name, value));
        }
    }
    kept
}

fn leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        2 => Just(Value::Undefined),
        2 => Just(Value::Null),
        2 => any::<bool>().prop_map(Value::Bool),
        4 => number().prop_map(Value::Number),
        6 => text().prop_map(Value::String),
        2 => select(&UNSUPPORTED[..]).prop_map(Value::Unsupported),
        1 => Just(Value::InvalidUnicode),
        1 => Just(Value::Unreadable),
    ]
    .boxed()
}

/// Generates any value: every variant, nested a few levels, and now and then
/// very long, very wide or very deep.
fn value() -> BoxedStrategy<Value> {
    let tree = leaf().prop_recursive(5, 96, 12, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..12).prop_map(Value::Array),
            vec((key(), inner), 0..12).prop_map(|entries| Value::Object(unique(entries))),
        ]
    });
    prop_oneof![
        60 => tree,
        1 => long_text().prop_map(Value::String),
        1 => deep(),
        1 => (MAX_ITEMS - 2..MAX_ITEMS + 3, leaf()).prop_map(|(count, item)| Value::Array(vec![item; count])),
    ]
    .boxed()
}

/// Generates arrays and objects nested up to 1,000 levels around one leaf.
fn deep() -> impl Strategy<Value = Value> + Clone {
    (1usize..1_000, any::<bool>(), leaf()).prop_map(|(levels, arrays, innermost)| {
        (0..levels).fold(innermost, |inner, level| {
            if arrays || level % 2 == 0 {
                Value::Array(vec![inner])
            } else {
                Value::Object(vec![("parameters".to_string(), inner)])
            }
        })
    })
}

/// Generates an object of `fields`, each present with its own probability, in a random order.
fn object_of(fields: Vec<(&'static str, f64, BoxedStrategy<Value>)>) -> BoxedStrategy<Value> {
    let present: Vec<BoxedStrategy<Option<(String, Value)>>> = fields
        .into_iter()
        .map(|(name, probability, strategy)| weighted(probability, strategy.prop_map(move |value| (name.to_string(), value))).boxed())
        .collect();
    let extra = weighted(0.1, (key(), value()));
    (present, extra)
        .prop_map(|(present, extra)| present.into_iter().flatten().chain(extra).collect::<Vec<_>>())
        .prop_shuffle()
        .prop_map(|entries| Value::Object(unique(entries)))
        .boxed()
}

fn uuid_value() -> BoxedStrategy<Value> {
    prop_oneof![
        8 => "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}".prop_map(|id| Value::String(id)),
        2 => uuid_like().prop_map(Value::String),
        1 => value(),
    ]
    .boxed()
}

fn serial() -> BoxedStrategy<Value> {
    prop_oneof![
        8 => "\\PC{1,12}".prop_map(Value::String),
        2 => "[A-Z0-9]{10,14}".prop_map(Value::String),
        1 => Just(Value::String(String::new())),
        1 => any_text().prop_map(Value::String),
        1 => leaf(),
    ]
    .boxed()
}

fn serials() -> BoxedStrategy<Value> {
    prop_oneof![
        8 => vec(serial(), 0..16).prop_map(Value::Array),
        1 => (MAX_ITEMS - 1..MAX_ITEMS + 2).prop_map(|count| Value::Array(vec![Value::from("S"); count])),
        2 => value(),
    ]
    .boxed()
}

fn scalar() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => any_text().prop_map(Value::String),
        3 => number().prop_map(Value::Number),
        2 => any::<bool>().prop_map(Value::Bool),
        1 => Just(Value::Undefined),
        1 => value(),
    ]
    .boxed()
}

fn parameters() -> BoxedStrategy<Value> {
    prop_oneof![
        8 => vec((key(), scalar()), 0..12).prop_map(|entries| Value::Object(unique(entries))),
        1 => (MAX_ITEMS - 1..MAX_ITEMS + 2)
            .prop_map(|count| Value::Object((0..count).map(|i| (format!("p{i}"), Value::Number(i as f64))).collect())),
        2 => value(),
    ]
    .boxed()
}

/// Generates incoming events, most of them close enough to valid to reach request building.
fn event() -> BoxedStrategy<Value> {
    prop_oneof![
        1 => value(),
        4 => object_of(vec![
            ("organisation_registration_id", 0.95, uuid_value()),
            ("serials", 0.6, serials()),
            ("parameters", 0.6, parameters()),
        ]),
    ]
    .boxed()
}

fn workflow_id() -> BoxedStrategy<Value> {
    prop_oneof![
        6 => any_text().prop_map(Value::String),
        2 => select(&["welcome-journey", ".", "..", "...", "a/b", "/", "%2F", "a b?c#d%e\\f", "%2e%2e", "~", "é"][..]).prop_map(Value::from),
        1 => leaf(),
    ]
    .boxed()
}

fn run_request() -> BoxedStrategy<Value> {
    prop_oneof![4 => object_of(vec![("org_reg_id", 0.95, uuid_value())]), 1 => value()].boxed()
}

const URL_SCHEMES: [&str; 8] = ["https", "http", "HTTPS", "HtTp", "ftp", "", "https:", "javascript"];
const URL_HOSTS: [&str; 22] = [
    "localhost", "LOCALHOST", "127.0.0.1", "127.255.255.255", "127.0.0.256", "127.1", "[::1]", "[0:0:0:0:0:0:0:1]", "[::1",
    "[]", "[zz]", "example.com", "example.com.", "a..b", "-x-", "global.stampede.ai", "Global.Stampede.AI.", "stampede.ai",
    "evilstampede.ai", "stampede.ai.evil.com", "user@localhost", "",
];
const URL_PORTS: [&str; 9] = ["", ":0", ":1", ":443", ":65535", ":65536", ":99999", ":", ":8x"];
const URL_PATHS: [&str; 19] = [
    "", "/", "//", "/api", "/v1", "/V1/", "/v1x", "/v2/", "/.", "/..", "/%2e", "/%2E%2e", "/a.b", "/a b", "/é", "/?q", "/#f", "\\", "/@x",
];

/// Generates base URLs from scheme, host, port and path pieces, or any text.
fn base_url_text() -> BoxedStrategy<String> {
    let assembled = (select(&URL_SCHEMES[..]), select(&["://", ":/", ":", "//"][..]), select(&URL_HOSTS[..]), select(&URL_PORTS[..]), vec(select(&URL_PATHS[..]), 0..4))
        .prop_map(|(scheme, separator, host, port, path)| format!("{scheme}{separator}{host}{port}{}", path.concat()));
    let fuzzed = (select(&URL_SCHEMES[..]), text(), text()).prop_map(|(scheme, host, path)| format!("{scheme}://{host}{path}"));
    prop_oneof![6 => assembled, 2 => fuzzed, 1 => any_text()].boxed()
}

/// Generates a token that no other generated text contains by chance.
fn secret() -> impl Strategy<Value = String> + Clone {
    "sk_[A-Za-z0-9]{16,40}"
}

fn token_value() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => secret().prop_map(Value::String),
        2 => (select(&["Bearer ", "bearer ", "BEARER ", "Bearer  ", "Bearer"][..]), secret()).prop_map(|(prefix, token)| Value::String(format!("{prefix}{token}"))),
        2 => "[ -~]{0,12}".prop_map(Value::String),
        1 => any_text().prop_map(Value::String),
        1 => leaf(),
    ]
    .boxed()
}

fn header_name() -> BoxedStrategy<String> {
    const NAMES: [&str; 14] = [
        "X-Request-Id", "x-request-id", "X-REQUEST-ID", "Accept", "authorization", "Host", "Content-Length", "content-type", "",
        "X Y", "X:Y", "é", "X-Trace", "!#$%&'*+-.^_`|~",
    ];
    prop_oneof![3 => select(&NAMES[..]).prop_map(String::from), 1 => "[!-~]{1,12}", 1 => text()].boxed()
}

fn headers() -> BoxedStrategy<Value> {
    let header_value = prop_oneof![
        4 => "[!-~]([ -~]{0,20}[!-~])?".prop_map(Value::String),
        2 => text().prop_map(Value::String),
        1 => long_text().prop_map(Value::String),
        1 => leaf(),
    ];
    prop_oneof![
        4 => vec((header_name(), header_value), 0..5).prop_map(|entries| Value::Object(unique(entries))),
        1 => value(),
    ]
    .boxed()
}

fn option_number() -> BoxedStrategy<Value> {
    prop_oneof![6 => number().prop_map(Value::Number), 1 => leaf()].boxed()
}

fn option_flag() -> BoxedStrategy<Value> {
    prop_oneof![4 => any::<bool>().prop_map(Value::Bool), 1 => leaf()].boxed()
}

/// Generates client and request options: each known key now and then, sometimes an unknown one.
fn options() -> BoxedStrategy<Value> {
    prop_oneof![
        1 => value(),
        5 => object_of(vec![
            ("accessToken", 0.7, token_value()),
            ("baseUrl", 0.7, base_url_text().prop_map(Value::String).boxed()),
            ("timeoutMs", 0.3, option_number()),
            ("totalTimeoutMs", 0.3, option_number()),
            ("maxRetries", 0.3, option_number()),
            ("retryAmbiguous", 0.3, option_flag()),
            ("fetch", 0.2, leaf()),
            ("headers", 0.3, headers()),
            ("signal", 0.15, leaf()),
        ]),
    ]
    .boxed()
}

fn request_options() -> BoxedStrategy<Value> {
    prop_oneof![
        1 => value(),
        5 => object_of(vec![
            ("timeoutMs", 0.4, option_number()),
            ("totalTimeoutMs", 0.4, option_number()),
            ("maxRetries", 0.4, option_number()),
            ("retryAmbiguous", 0.4, option_flag()),
            ("signal", 0.3, leaf()),
            ("accessToken", 0.05, token_value()),
        ]),
    ]
    .boxed()
}

fn scope() -> impl Strategy<Value = Scope> + Clone {
    select(&[Scope::Client, Scope::Request, Scope::OneOff][..])
}

// ---------------------------------------------------------------------------
// Checks shared by several properties

/// Checks that every message is a sentence starting with "The ", and that the summary is not empty.
fn check_messages(errors: &FieldErrors) -> TestCaseResult {
    prop_assert!(!errors.is_empty(), "an error result without errors");
    for (key, messages) in errors.iter() {
        prop_assert!(!messages.is_empty(), "no messages under {key:?}");
        for message in messages {
            prop_assert!(message.starts_with("The "), "message under {key:?}: {message:?}");
        }
    }
    prop_assert!(!errors.summary().is_empty());
    Ok(())
}

/// Applies the rule of `is_hyphenated_uuid`, written out again for the oracles.
fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(group, len)| group.len() == len && group.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Decides whether an incoming event is valid from the documented rules alone.
fn event_is_valid(event: &Value) -> bool {
    let Value::Object(fields) = event else { return false };
    let known = ["organisation_registration_id", "serials", "parameters"];
    if !fields.iter().all(|(name, _)| known.contains(&name.as_str())) {
        return false;
    }
    let id_ok = matches!(event.get("organisation_registration_id"), Value::String(id) if is_uuid(id));
    let serials_ok = match event.get("serials") {
        Value::Undefined | Value::Null => true,
        Value::Array(items) => {
            items.len() <= MAX_ITEMS
                && items.iter().all(|item| matches!(item, Value::String(s) if (1..=MAX_SERIAL_CHARS).contains(&s.chars().count())))
        }
        _ => false,
    };
    let parameters_ok = match event.get("parameters") {
        Value::Undefined | Value::Null => true,
        Value::Object(entries) => {
            entries.len() <= MAX_ITEMS
                && entries.iter().all(|(name, value)| match value {
                    Value::Undefined => true,
                    _ if name.is_empty() => false,
                    Value::String(text) => name != "source" || !text.is_empty(),
                    Value::Bool(_) => name != "source",
                    Value::Number(n) => name != "source" && n.is_finite(),
                    _ => false,
                })
        }
        _ => false,
    };
    id_ok && serials_ok && parameters_ok
}

fn settings_with_token() -> Settings {
    let options: Value = [("accessToken", Value::from(TOKEN))].into_iter().collect();
    match parse_settings(&options, Scope::OneOff) {
        Ok(settings) => settings,
        Err(errors) => panic!("expected valid options, got {errors:?}"),
    }
}

fn parse_json(body: &str) -> Result<Json, TestCaseError> {
    serde_json::from_str(body).map_err(|error| TestCaseError::fail(format!("the body is not JSON ({error}): {body:.200}")))
}

/// Compares JSON with numbers as f64, since 0 and 0.0 parse differently.
fn same_number(json: &Json, number: f64) -> bool {
    json.as_f64().map_or(false, |parsed| parsed == number)
}

/// Decodes %XX escapes to bytes; `None` for a malformed escape.
fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = std::str::from_utf8(bytes.get(at + 1..at + 3)?).ok()?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            at += 3;
        } else {
            decoded.push(bytes[at]);
            at += 1;
        }
    }
    Some(decoded)
}

// ---------------------------------------------------------------------------
// Validation and request building

#[test]
fn incoming_event_validation_and_body() {
    let settings = settings_with_token();
    check("incoming_event", event(), |event| {
        let result = validate_incoming_event(&event);
        prop_assert_eq!(result.is_ok(), event_is_valid(&event), "validity of {:?}: {:?}", event, result);
        let valid = match result {
            Ok(valid) => valid,
            Err(errors) => return check_messages(&errors),
        };

        // The validated event is the input, less undefined parameters.
        prop_assert_eq!(Value::from(valid.organisation_registration_id.as_str()), event.get("organisation_registration_id").clone());
        let serials: Option<Vec<Value>> = valid.serials.as_ref().map(|list| list.iter().map(|s| Value::from(s.as_str())).collect());
        match event.get("serials") {
            Value::Array(items) => prop_assert_eq!(serials.as_ref(), Some(items)),
            _ => prop_assert!(serials.is_none()),
        }
        let kept: Option<Vec<(String, Value)>> = match event.get("parameters") {
            Value::Object(entries) => Some(entries.iter().filter(|(_, v)| *v != Value::Undefined).cloned().collect()),
            _ => None,
        };
        let parameters: Option<Vec<(String, Value)>> = valid.parameters.as_ref().map(|list| {
            list.iter()
                .map(|(name, scalar)| {
                    let value = match scalar {
                        Scalar::String(text) => Value::String(text.clone()),
                        Scalar::Number(n) => Value::Number(*n),
                        Scalar::Bool(flag) => Value::Bool(*flag),
                    };
                    (name.clone(), value)
                })
                .collect()
        });
        prop_assert_eq!(parameters, kept);

        // The body parses back with every field and every value.
        let request = incoming_event_request(&settings, &valid);
        prop_assert_eq!(request.url.as_str(), "https://global.stampede.ai/v1/workflows/incoming-event");
        let body = parse_json(&request.body)?;
        let object = body.as_object().ok_or_else(|| TestCaseError::fail("the body is not an object"))?;
        let expected_fields = 1 + usize::from(valid.serials.is_some()) + usize::from(valid.parameters.is_some());
        prop_assert_eq!(object.len(), expected_fields, "fields of {}", request.body);
        prop_assert_eq!(&body["organisation_registration_id"], &Json::from(valid.organisation_registration_id.as_str()));
        if let Some(serials) = &valid.serials {
            prop_assert_eq!(&body["serials"], &Json::from(serials.clone()));
        }
        if let Some(parameters) = &valid.parameters {
            let sent = body["parameters"].as_object().ok_or_else(|| TestCaseError::fail("parameters is not an object"))?;
            prop_assert_eq!(sent.len(), parameters.len());
            for (name, scalar) in parameters {
                let json = &sent[name.as_str()];
                let same = match scalar {
                    Scalar::String(text) => json.as_str() == Some(text.as_str()),
                    Scalar::Number(n) => same_number(json, *n),
                    Scalar::Bool(flag) => json.as_bool() == Some(*flag),
                };
                prop_assert!(same, "parameters.{} sent as {} for {:?}", name, json, scalar);
            }
        }
        Ok(())
    });
}

#[test]
fn workflow_run_validation_and_url() {
    let settings = settings_with_token();
    check("workflow_run", (workflow_id(), run_request()), |(workflow_id, request)| {
        let result = validate_workflow_run(&workflow_id, &request);
        let id_ok = matches!(&workflow_id, Value::String(id)
            if !id.is_empty() && id != "." && id != ".." && !id.contains('/') && id.trim() == id && !id.chars().any(char::is_control));
        let request_ok = matches!(&request, Value::Object(fields) if fields.iter().all(|(name, _)| name == "org_reg_id"))
            && matches!(request.get("org_reg_id"), Value::String(id) if is_uuid(id));
        prop_assert_eq!(result.is_ok(), id_ok && request_ok, "validity: {:?}", result);
        let run = match result {
            Ok(run) => run,
            Err(errors) => return check_messages(&errors),
        };
        prop_assert_eq!(Value::from(run.workflow_id.as_str()), workflow_id);
        prop_assert_eq!(Value::from(run.org_reg_id.as_str()), request.get("org_reg_id").clone());

        let built = workflow_run_request(&settings, &run);
        let segment = built
            .url
            .strip_prefix("https://global.stampede.ai/v1/workflows/")
            .and_then(|rest| rest.strip_suffix("/workflow-runs"))
            .ok_or_else(|| TestCaseError::fail(format!("unexpected URL {:.200}", built.url)))?;
        prop_assert!(!segment.contains(['/', '?', '#']), "{:.200}", segment);
        prop_assert_eq!(percent_decode(segment), Some(run.workflow_id.as_bytes().to_vec()));
        let body = parse_json(&built.body)?;
        prop_assert_eq!(body, serde_json::json!({ "org_reg_id": run.org_reg_id }));
        Ok(())
    });
}

#[test]
fn path_segment_decodes_back() {
    check("encode_path_segment", any_text(), |text| {
        let segment = encode_path_segment(&text);
        let bytes = segment.as_bytes();
        for (at, &b) in bytes.iter().enumerate() {
            let allowed = b.is_ascii_alphanumeric()
                || b"-._~".contains(&b)
                || (b == b'%' && bytes.get(at + 1..at + 3).map_or(false, |hex| hex.iter().all(|h| h.is_ascii_digit() || (b'A'..=b'F').contains(h))))
                || (at >= 1 && bytes[at - 1] == b'%')
                || (at >= 2 && bytes[at - 2] == b'%');
            prop_assert!(allowed, "byte {} of {:.200}", at, segment);
        }
        prop_assert!(!segment.contains(['/', '?', '#', '\\']));
        prop_assert_eq!(percent_decode(&segment), Some(text.as_bytes().to_vec()));
        if text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)) {
            prop_assert_eq!(segment, text);
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------
// Options

#[test]
fn parsed_settings_are_valid() {
    let event = validate_incoming_event(&[("organisation_registration_id", Value::from(ID))].into_iter().collect())
        .expect("a valid event");
    check("parse_settings", (options(), scope()), |(options, scope)| {
        let token = match options.get("accessToken") {
            Value::String(token) => Some(token.clone()),
            _ => None,
        };
        match parse_settings(&options, scope) {
            Err(errors) => {
                check_messages(&errors)?;
                // No message quotes the token, unless some other option contains the same text.
                if let Some(token) = token.filter(|t| t.rsplit(' ').next().map_or(false, |secret| secret.len() >= 12)) {
                    let elsewhere = match &options {
                        Value::Object(fields) => fields.iter().any(|(name, value)| name != "accessToken" && format!("{name:?}{value:?}").contains(&token)),
                        _ => false,
                    };
                    let secret = token.rsplit(' ').next().unwrap_or(&token);
                    for (key, messages) in errors.iter() {
                        for message in messages {
                            prop_assert!(elsewhere || !message.contains(secret), "the token is in {key}: {message}");
                        }
                    }
                }
                Ok(())
            }
            Ok(settings) => check_settings(&options, scope, &settings, token.as_deref(), &event),
        }
    });
}

fn check_settings(
    options: &Value,
    scope: Scope,
    settings: &Settings,
    token: Option<&str>,
    event: &stampede_workflows::IncomingEvent,
) -> TestCaseResult {
    const CLIENT: [&str; 8] = ["accessToken", "baseUrl", "timeoutMs", "totalTimeoutMs", "maxRetries", "retryAmbiguous", "fetch", "headers"];
    const REQUEST: [&str; 5] = ["signal", "timeoutMs", "totalTimeoutMs", "maxRetries", "retryAmbiguous"];
    if let Value::Object(fields) = options {
        for (name, _) in fields {
            let accepted = match scope {
                Scope::Client => CLIENT.contains(&name.as_str()),
                Scope::Request => REQUEST.contains(&name.as_str()),
                Scope::OneOff => CLIENT.contains(&name.as_str()) || REQUEST.contains(&name.as_str()),
            };
            prop_assert!(accepted, "{:?} accepted for {:?}", name, scope);
        }
    } else {
        prop_assert!(options.is_absent(), "options {:?} accepted", options);
    }

    // The base URL is the one given, normalised, or the default.
    let given = match options.get("baseUrl") {
        Value::String(url) => url.as_str(),
        _ => DEFAULT_BASE_URL,
    };
    let parsed = parse_base_url(given).map_err(|problem| TestCaseError::fail(format!("baseUrl accepted, then {problem}")))?;
    prop_assert_eq!(&settings.base_url, &parsed.url);
    if parsed.is_stampede_host {
        prop_assert!(settings.access_token.is_some(), "the Stampede API without a token");
    }

    match (token, &settings.access_token) {
        (Some(given), Some(kept)) => {
            let stripped = match given.get(..7) {
                Some(prefix) if prefix.eq_ignore_ascii_case("bearer ") => &given[7..],
                _ => given,
            };
            prop_assert_eq!(stripped, kept.as_str());
            prop_assert!(!kept.is_empty() && kept.bytes().all(|b| b.is_ascii_graphic()), "token kept: {:?}", kept);
            if kept.len() >= 12 {
                // The token may also be the text of another option, but the Debug output never adds it.
                let elsewhere = format!("{:?}{:?}", settings.base_url, settings.headers).matches(kept.as_str()).count();
                prop_assert!(format!("{settings:?}").matches(kept.as_str()).count() <= elsewhere, "the token is in the Debug output");
            }
        }
        (None, None) => {}
        (given, kept) => prop_assert!(false, "token given {:?}, kept {:?}", given, kept.is_some()),
    }

    let whole = |key: &str, min: u32, max: u32| -> Result<Option<u32>, TestCaseError> {
        match options.get(key) {
            Value::Undefined | Value::Null => Ok(None),
            Value::Number(n) if n.fract() == 0.0 && *n >= f64::from(min) && *n <= f64::from(max) => Ok(Some(*n as u32)),
            other => Err(TestCaseError::fail(format!("{key} = {other:?} accepted"))),
        }
    };
    prop_assert_eq!(settings.timeout_ms, whole("timeoutMs", 1, MAX_TIMEOUT_MS)?.unwrap_or(DEFAULT_TIMEOUT_MS));
    prop_assert_eq!(settings.total_timeout_ms, whole("totalTimeoutMs", 1, MAX_TIMEOUT_MS)?);
    prop_assert_eq!(settings.retry.max_retries, whole("maxRetries", 0, MAX_RETRIES_LIMIT)?.unwrap_or(RetryPolicy::DEFAULT.max_retries));
    let ambiguous = match options.get("retryAmbiguous") {
        Value::Bool(flag) => *flag,
        Value::Undefined | Value::Null => RetryPolicy::DEFAULT.retry_ambiguous,
        other => return Err(TestCaseError::fail(format!("retryAmbiguous = {other:?} accepted"))),
    };
    prop_assert_eq!(settings.retry.retry_ambiguous, ambiguous);

    // Headers: exactly the ones given, each a token name and a clean value, none reserved.
    let given_headers: Vec<(String, String)> = match options.get("headers") {
        Value::Object(entries) => entries
            .iter()
            .map(|(name, value)| match value {
                Value::String(text) => Ok((name.clone(), text.clone())),
                other => Err(TestCaseError::fail(format!("header {name:?} = {other:?} accepted"))),
            })
            .collect::<Result<_, _>>()?,
        Value::Undefined | Value::Null => Vec::new(),
        other => return Err(TestCaseError::fail(format!("headers = {other:?} accepted"))),
    };
    prop_assert_eq!(&settings.headers, &given_headers);
    for (at, (name, value)) in settings.headers.iter().enumerate() {
        prop_assert!(!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)), "{:?}", name);
        let lower = name.to_ascii_lowercase();
        prop_assert!(!["accept", "authorization", "content-length", "content-type", "host"].contains(&lower.as_str()), "{:?}", name);
        prop_assert!(value.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) && !value.starts_with(' ') && !value.ends_with(' '), "{:?}", value);
        prop_assert!(!settings.headers[..at].iter().any(|(other, _)| other.eq_ignore_ascii_case(name)), "{:?} twice", name);
    }

    // A request built with these settings carries them.
    let request = incoming_event_request(settings, event);
    prop_assert_eq!(&request.url, &format!("{}/v1/workflows/incoming-event", settings.base_url));
    let mut expected = settings.headers.clone();
    expected.push(("Content-Type".into(), "application/json".into()));
    expected.push(("Accept".into(), "application/json".into()));
    if let Some(kept) = &settings.access_token {
        expected.push(("Authorization".into(), format!("Bearer {kept}")));
        if kept.len() >= 12 {
            let others: Vec<_> = request.headers.iter().filter(|(name, _)| name != "Authorization").collect();
            let elsewhere = format!("{:?}{:?}{:?}", request.url, request.body, others).matches(kept.as_str()).count();
            prop_assert!(format!("{request:?}").matches(kept.as_str()).count() <= elsewhere, "the token is in the request's Debug output");
        }
    }
    prop_assert_eq!(&request.headers, &expected);
    Ok(())
}

#[test]
fn parsed_overrides_are_in_range() {
    let base = settings_with_token();
    check("parse_overrides", request_options(), |options| {
        let overrides = match parse_overrides(&options) {
            Ok(overrides) => overrides,
            Err(errors) => return check_messages(&errors),
        };
        let whole = |key: &str| match options.get(key) {
            Value::Number(n) => Some(*n),
            _ => None,
        };
        prop_assert_eq!(overrides.timeout_ms.map(f64::from), whole("timeoutMs"));
        prop_assert_eq!(overrides.total_timeout_ms.map(f64::from), whole("totalTimeoutMs"));
        prop_assert_eq!(overrides.max_retries.map(f64::from), whole("maxRetries"));
        prop_assert!(overrides.timeout_ms.map_or(true, |n| (1..=MAX_TIMEOUT_MS).contains(&n)));
        prop_assert!(overrides.total_timeout_ms.map_or(true, |n| (1..=MAX_TIMEOUT_MS).contains(&n)));
        prop_assert!(overrides.max_retries.map_or(true, |n| n <= MAX_RETRIES_LIMIT));
        prop_assert!(overrides.retry_ambiguous.is_some() == matches!(options.get("retryAmbiguous"), Value::Bool(_)));

        let applied = base.with_overrides(overrides);
        prop_assert_eq!(applied.timeout_ms, overrides.timeout_ms.unwrap_or(base.timeout_ms));
        prop_assert_eq!(applied.total_timeout_ms, overrides.total_timeout_ms.or(base.total_timeout_ms));
        prop_assert_eq!(applied.retry.max_retries, overrides.max_retries.unwrap_or(base.retry.max_retries));
        prop_assert_eq!(applied.retry.retry_ambiguous, overrides.retry_ambiguous.unwrap_or(base.retry.retry_ambiguous));
        prop_assert_eq!(&applied.base_url, &base.base_url);
        prop_assert_eq!(&applied.access_token, &base.access_token);
        Ok(())
    });
}

#[test]
fn base_url_normalised_or_rejected() {
    check("parse_base_url", base_url_text(), |text| match parse_base_url(&text) {
        Err(problem) => {
            prop_assert!(problem.starts_with("must") || problem.starts_with("has"), "{}", problem);
            prop_assert!(problem.ends_with('.'), "{}", problem);
            Ok(())
        }
        Ok(base) => {
            let url = base.url.as_str();
            let rest = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"))
                .ok_or_else(|| TestCaseError::fail(format!("no http(s) scheme: {url}")))?;
            prop_assert!(url.bytes().all(|b| b.is_ascii_graphic()), "{}", url);
            prop_assert!(!url.contains(['?', '#', '\\']), "{}", url);
            prop_assert!(!url.ends_with('/'), "{}", url);
            // Only the scheme and host change case, and only trailing slashes go.
            prop_assert!(url.eq_ignore_ascii_case(text.trim_end_matches('/')), "{} from {}", url, text);
            let (authority, path) = rest.find('/').map_or((rest, ""), |at| rest.split_at(at));
            prop_assert!(!authority.contains('@'), "user info in {}", url);
            prop_assert!(text.trim_end_matches('/').ends_with(path), "path {} of {}", path, text);
            let dot_segment = path.split('/').any(|segment| {
                let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
                decoded == "." || decoded == ".."
            });
            prop_assert!(!dot_segment, "dot segment in {}", url);
            // The package appends /v1/workflows/ itself.
            prop_assert!(!path.rsplit('/').next().unwrap_or("").eq_ignore_ascii_case("v1"), "{} ends in /v1", url);
            let host = if authority.starts_with('[') {
                &authority[..authority.find(']').map_or(authority.len(), |end| end + 1)]
            } else {
                authority.split(':').next().unwrap_or("")
            };
            prop_assert_eq!(host.to_ascii_lowercase(), host);
            if url.starts_with("http://") {
                prop_assert!(is_loopback(host), "clear text to {}", host);
            }
            let bare = host.strip_suffix('.').unwrap_or(host);
            prop_assert_eq!(base.is_stampede_host, bare == "stampede.ai" || bare.ends_with(".stampede.ai"), "{}", url);
            // Normalising is idempotent.
            prop_assert_eq!(parse_base_url(url), Ok(base.clone()));
            Ok(())
        }
    });
}

// ---------------------------------------------------------------------------
// Responses

/// Returns the documented kind of a status, written out as a table.
fn expected_kind(status: u16) -> Option<ErrorKind> {
    match status {
        200..=299 => None,
        400 => Some(ErrorKind::BadRequest),
        401 => Some(ErrorKind::Unauthorized),
        403 => Some(ErrorKind::Forbidden),
        404 => Some(ErrorKind::NotFound),
        422 => Some(ErrorKind::Unprocessable),
        423 => Some(ErrorKind::Locked),
        429 => Some(ErrorKind::RateLimited),
        500..=599 => Some(ErrorKind::Server),
        _ => Some(ErrorKind::Http),
    }
}

/// Every u16, with and without a server message: 65,536 statuses.
#[test]
fn every_status_kind_and_message() {
    let mut errors = FieldErrors::default();
    errors.add("org_reg_id", "The org reg id field is required.");
    for status in 0..=u16::MAX {
        assert_eq!(kind_for_status(status), expected_kind(status), "status {status}");
        let message = if status % 2 == 0 { Some("  The workflow is locked.  ") } else { None };
        let response = ErrorResponse { status, server_message: message, errors: Some(errors.clone()), retry_after_ms: Some(u64::from(status)) };
        let error = status_error(response, u32::from(status));
        assert_eq!(error.kind, expected_kind(status).unwrap_or(ErrorKind::Http), "status {status}");
        assert_eq!(error.status, Some(status));
        assert_eq!(error.attempts, u32::from(status));
        assert_eq!(error.retry_after_ms, Some(u64::from(status)));
        assert_eq!(error.errors.is_some(), status == 422, "errors kept for {status}");
        assert!(error.message.starts_with(&format!("The server returned {status}")), "{}", error.message);
        // A redirect's, a 401's and a 404's message end with advice, checked on its own.
        if (300..=399).contains(&status) {
            assert!(error.message.ends_with("set baseUrl to the final address."), "{}", error.message);
            continue;
        }
        if status == 401 || status == 404 {
            assert!(error.message.ends_with(" option: the server did not accept the access token.") || error.message.ends_with(" the workflowId."), "{}", error.message);
            continue;
        }
        match message {
            Some(_) => assert!(error.message.ends_with(": The workflow is locked."), "{}", error.message),
            None => assert!(error.message.ends_with('.') && !error.message.contains(':'), "{}", error.message),
        }
    }
    println!("property every_status: 65536 cases passed");
}

#[test]
fn status_error_quotes_bounded_excerpt() {
    let strategy = (any::<u16>(), weighted(0.8, any_text()), any::<u32>(), weighted(0.5, any::<u64>()));
    check("status_error", strategy, |(status, server_message, attempts, retry_after_ms)| {
        let response = ErrorResponse { status, server_message: server_message.as_deref(), errors: None, retry_after_ms };
        let error = status_error(response, attempts);
        prop_assert_eq!(error.kind, expected_kind(status).unwrap_or(ErrorKind::Http));
        prop_assert_eq!(error.status, Some(status));
        prop_assert_eq!(error.retry_after_ms, retry_after_ms);
        let prefix = format!("The server returned {status}");
        prop_assert!(error.message.starts_with(&prefix), "{:.200}", error.message);
        // A redirect, a 401 and a 404 get one sentence of advice after the message, at most 160 characters.
        let advised = (300..=399).contains(&status) || status == 401 || status == 404;
        let advice_chars = if advised { 1 + 160 } else { 0 };
        // The prefix, a reason phrase, ": " and at most 300 characters with "…".
        let count = error.message.chars().count();
        prop_assert!(count <= prefix.len() + 40 + 2 + 301 + advice_chars, "{} characters", count);
        if advised {
            if let Some(text) = server_message.as_deref().map(str::trim).filter(|text| !text.is_empty()) {
                let quoted = excerpt(text, 300);
                prop_assert!(error.message.contains(quoted.trim_end_matches('.')), "{:.200}", error.message);
            }
            return Ok(());
        }
        // A message that only repeats the reason phrase is left out.
        let reason = error.message[prefix.len()..].trim_start().split(':').next().unwrap_or("").trim_end_matches('.').to_string();
        match server_message.as_deref().map(str::trim).filter(|text| !text.is_empty() && (reason.is_empty() || !text.eq_ignore_ascii_case(&reason))) {
            Some(text) => prop_assert!(error.message.ends_with(&format!(": {}", excerpt(text, 300))), "{:.200}", error.message),
            None => prop_assert!(error.message.ends_with('.') && !error.message.contains(':'), "{:.200}", error.message),
        }
        Ok(())
    });
}

#[test]
fn excerpt_stays_within_limit() {
    let limit = prop_oneof![8 => 0usize..600, 1 => any::<usize>()];
    check("excerpt", (any_text(), limit), |(text, limit)| {
        let cut = excerpt(&text, limit);
        let count = text.chars().count();
        // A cut text ends in "…", which counts as one of the characters.
        if count <= limit {
            prop_assert_eq!(cut, text);
        } else {
            let kept: String = text.chars().take(limit.saturating_sub(1)).collect();
            prop_assert_eq!(cut, format!("{kept}…"));
        }
        Ok(())
    });
}

/// Generates a token, and a text where it occurs alone, inside words and next to itself.
fn redact_case() -> impl Strategy<Value = (String, Option<String>)> {
    let token = prop_oneof![
        4 => "[A-Za-z0-9_.-]{1,40}",
        2 => "[!-~]{1,20}",
        1 => "\\PC{1,10}",
        1 => select(&["t", "a-a", "aa", "sk_live_SECRET123", "d]d]d]d]", "redacted", "[redacted]", ""][..]).prop_map(String::from),
    ];
    (token, any::<bool>()).prop_flat_map(|(token, present)| {
        let piece = prop_oneof![
            3 => Just(token.clone()),
            1 => select(&[" ", "a", "0", "-", "\"", "\\", "[", "]", "é", "[redacted]"][..]).prop_map(String::from),
            2 => text(),
        ];
        (vec(piece, 0..12).prop_map(|pieces| pieces.concat()), Just(if present || token.is_empty() { Some(token) } else { None }))
    })
}

#[test]
fn redact_removes_only_the_token() {
    check("redact", redact_case(), |(text, token)| {
        let redacted = redact(&text, token.as_deref());
        let Some(token) = token.filter(|token| !token.is_empty() && text.contains(token.as_str())) else {
            prop_assert_eq!(redacted, text);
            return Ok(());
        };
        // A long token that "[redacted]" contains gets the "[hidden]" marker instead.
        let marker = if token.len() >= 8 && "[redacted]".contains(token.as_str()) { "[hidden]" } else { "[redacted]" };
        // Markers are the only change: putting the token back gives the text.
        // Checked where neither contains a bracket, so every marker is one.
        if !text.contains(['[', ']']) && !token.contains(['[', ']']) {
            prop_assert_eq!(redacted.replace(marker, &token), text.clone());
        }
        // A token of 8 bytes or more is gone wherever it was. Not checked for
        // tokens with a bracket, which can be formed anew from a marker and the
        // text beside it more often than the bounded passes undo.
        if token.len() >= 8 && !token.contains(['[', ']']) {
            prop_assert!(!redacted.contains(token.as_str()), "{:?} left in {:?}", token, redacted);
        }
        // A shorter token is replaced only where no letter or digit is next to it.
        if token.len() < 8 {
            for (at, _) in redacted.match_indices("[redacted]") {
                let before = redacted[..at].bytes().last();
                let after = redacted.as_bytes().get(at + "[redacted]".len()).copied();
                let is_word = |b: Option<u8>| b.map_or(false, |b| b.is_ascii_alphanumeric());
                if !text.contains("[redacted]") {
                    prop_assert!(!is_word(before) && !is_word(after), "marker inside a word in {:?}", redacted);
                }
            }
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------
// Retries

/// Days from 1970-01-01 to the first of each year up to 10000, counted one
/// year at a time: an independent check of the date arithmetic.
fn year_starts() -> &'static [u64] {
    static STARTS: OnceLock<Vec<u64>> = OnceLock::new();
    STARTS.get_or_init(|| {
        let mut starts = vec![0; 10_001];
        for year in 1970..10_000 {
            starts[year + 1] = starts[year] + if is_leap(year as u64) { 366 } else { 365 };
        }
        starts
    })
}

fn is_leap(year: u64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn month_days(year: u64, month: u64) -> u64 {
    [31, if is_leap(year) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][(month - 1) as usize]
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

#[derive(Clone, Debug)]
struct DateParts {
    weekday: &'static str,
    year: u64,
    /// 1 to 12 name a month; 0 and 13 give a name that is not one.
    month: u64,
    day: u64,
    hour: u64,
    minute: u64,
    second: u64,
    form: u8,
}

impl DateParts {
    fn expected_ms(&self) -> Option<u64> {
        let valid = (1970..=9999).contains(&self.year)
            && (1..=12).contains(&self.month)
            && (1..=month_days(self.year, self.month)).contains(&self.day)
            && self.hour <= 23
            && self.minute <= 59
            && self.second <= 60
            && (self.form != 1 || self.year < 2070);
        if !valid {
            return None;
        }
        let days = year_starts()[self.year as usize] + (1..self.month).map(|m| month_days(self.year, m)).sum::<u64>() + self.day - 1;
        Some((days * 86_400 + self.hour * 3_600 + self.minute * 60 + self.second) * 1_000)
    }

    fn text(&self) -> String {
        let month = match self.month {
            1..=12 => MONTHS[(self.month - 1) as usize],
            0 => "Foo",
            _ => "nov",
        };
        let (w, d, y, h, mi, s) = (self.weekday, self.day, self.year, self.hour, self.minute, self.second);
        match self.form {
            // IMF-fixdate
            0 => format!("{w}, {d:02} {month} {y:04} {h:02}:{mi:02}:{s:02} GMT"),
            // RFC 850 with a two-digit year
            1 => format!("{w}, {d:02}-{month}-{:02} {h:02}:{mi:02}:{s:02} GMT", y % 100),
            // RFC 850 with four digits
            2 => format!("{w}, {d:02}-{month}-{y:04} {h:02}:{mi:02}:{s:02} GMT"),
            // asctime
            _ => format!("{w} {month} {d:>2} {h:02}:{mi:02}:{s:02} {y}"),
        }
    }
}

fn date_parts() -> impl Strategy<Value = DateParts> {
    const WEEKDAYS: [&str; 5] = ["Sun", "Mon", "Sunday", "Xyz", "Thu,"];
    let year = prop_oneof![6 => 1970u64..2100, 2 => 0u64..10_100, 1 => select(&[1969u64, 1970, 2069, 2070, 9999, 10_000][..])];
    (select(&WEEKDAYS[..]), year, 0u64..14, 0u64..33, 0u64..26, 0u64..62, 0u64..62, 0u8..4).prop_map(
        |(weekday, year, month, day, hour, minute, second, form)| {
            // RFC 850's two-digit year reads as 1970 to 2069.
            let year = if form == 1 && (1970..2070).contains(&year) { year } else if form == 1 { 1970 + year % 100 } else { year };
            DateParts { weekday, year, month, day, hour, minute, second, form }
        },
    )
}

#[test]
fn http_date_parses_exact_instant() {
    check("parse_http_date", (date_parts(), any::<u64>()), |(parts, now)| {
        let text = parts.text();
        let expected = parts.expected_ms();
        prop_assert_eq!(parse_http_date(&text), expected, "{}", text);
        prop_assert_eq!(parse_retry_after(&text, now), expected.map(|at| at.saturating_sub(now)), "{}", text);
        Ok(())
    });
}

/// Generates `Retry-After` values: any text, digits of every length, and dates.
fn retry_after_text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => any_text(),
        2 => "[0-9]{1,30}",
        1 => (select(&[" ", "\t", ""][..]), "[0-9]{1,8}", select(&[" ", "\n", "", "s", ".5", "e3"][..])).prop_map(|(a, n, b)| format!("{a}{n}{b}")),
        1 => "[+-][0-9]{1,5}",
        2 => (date_parts(), vec(select(&PIECES[..]), 0..3)).prop_map(|(parts, noise)| format!("{}{}", parts.text(), noise.concat())),
    ]
    .boxed()
}

#[test]
fn retry_after_seconds_or_date() {
    let now = prop_oneof![2 => any::<u64>(), 2 => 0u64..4_102_444_800_000, 1 => select(&[0u64, u64::MAX][..])];
    check("parse_retry_after", (retry_after_text(), now), |(text, now)| {
        let result = parse_retry_after(&text, now);
        let trimmed = text.trim();
        if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            let expected = trimmed.parse::<u64>().ok().and_then(|seconds| seconds.checked_mul(1_000)).unwrap_or(u64::MAX);
            prop_assert_eq!(result, Some(expected));
        } else {
            prop_assert_eq!(result, parse_http_date(trimmed).map(|at| at.saturating_sub(now)));
        }
        let _ = parse_http_date(&text);
        Ok(())
    });
}

/// Returns the documented step before jitter: 250 ms, doubling per retry, at most 8 s.
fn step_ms(retry: u32) -> u64 {
    let mut step = BASE_DELAY_MS;
    for _ in 1..retry.min(64) {
        step = (step * 2).min(MAX_BACKOFF_MS);
    }
    step
}

fn jitter() -> impl Strategy<Value = f64> + Clone {
    prop_oneof![4 => 0.0f64..1.0, 2 => number(), 1 => select(&[0.0, 0.999_999_999_999_999_9, 1.0, -0.0, 1.0 - f64::EPSILON][..])]
}

#[test]
fn backoff_stays_within_bounds() {
    let retry = prop_oneof![4 => 0u32..40, 1 => any::<u32>()];
    check("backoff_ms", (retry, jitter(), jitter()), |(retry, a, b)| {
        let step = step_ms(retry);
        let delay = backoff_ms(retry, a);
        prop_assert!(delay >= step / 2 && delay < step, "retry {} jitter {}: {} not in [{}, {})", retry, a, delay, step / 2, step);
        if !(a.is_finite() && a > 0.0) {
            prop_assert_eq!(delay, step / 2, "jitter {}", a);
        }
        // More jitter never waits less.
        if a.is_finite() && b.is_finite() && a <= b {
            prop_assert!(delay <= backoff_ms(retry, b), "jitter {} waits longer than {}", a, b);
        }
        Ok(())
    });
}

const KINDS: [ErrorKind; 14] = [
    ErrorKind::Validation, ErrorKind::BadRequest, ErrorKind::Unauthorized, ErrorKind::Forbidden, ErrorKind::NotFound,
    ErrorKind::Unprocessable, ErrorKind::Locked, ErrorKind::RateLimited, ErrorKind::Server, ErrorKind::Http, ErrorKind::Network,
    ErrorKind::Timeout, ErrorKind::Aborted, ErrorKind::InvalidResponse,
];

#[test]
fn retry_delay_follows_policy() {
    let policy = (prop_oneof![4 => 0u32..12, 1 => any::<u32>()], any::<bool>())
        .prop_map(|(max_retries, retry_ambiguous)| RetryPolicy { max_retries, retry_ambiguous });
    let status = prop_oneof![
        2 => Just(None),
        3 => select(&[400u16, 401, 403, 404, 408, 422, 423, 429, 500, 502, 503, 504, 200, 0][..]).prop_map(Some),
        1 => any::<u16>().prop_map(Some),
    ];
    let retry_after = prop_oneof![
        2 => Just(None),
        2 => (0u64..60_000).prop_map(Some),
        1 => select(&[MAX_RETRY_AFTER_MS, MAX_RETRY_AFTER_MS + 1, u64::MAX][..]).prop_map(Some),
        1 => any::<u64>().prop_map(Some),
    ];
    let error = (select(&KINDS[..]), status, retry_after).prop_map(|(kind, status, retry_after_ms)| {
        let mut error = Error::new(kind, "failed");
        error.status = status;
        error.retry_after_ms = retry_after_ms;
        error
    });
    let retries_done = prop_oneof![4 => 0u32..12, 1 => any::<u32>(), 1 => select(&[u32::MAX - 1, u32::MAX][..])];
    check("delay_ms", (policy, error, retries_done, jitter()), |(policy, error, retries_done, jitter)| {
        let retryable = match (error.kind, error.status) {
            (ErrorKind::Aborted, _) => false,
            (_, Some(408 | 429 | 503)) => true,
            (_, Some(502 | 504)) => policy.retry_ambiguous,
            (ErrorKind::Network | ErrorKind::Timeout, None) => policy.retry_ambiguous,
            _ => false,
        };
        prop_assert_eq!(policy.is_retryable(&error), retryable);
        let delay = policy.delay_ms(&error, retries_done, jitter);
        if retries_done >= policy.max_retries || !retryable {
            prop_assert_eq!(delay, None);
            return Ok(());
        }
        match error.retry_after_ms {
            Some(wait) if wait <= MAX_RETRY_AFTER_MS => prop_assert_eq!(delay, Some(wait)),
            Some(_) => prop_assert_eq!(delay, None),
            None => {
                let step = step_ms(retries_done + 1);
                let delay = delay.ok_or_else(|| TestCaseError::fail("no delay for a retryable error"))?;
                prop_assert!(delay >= step / 2 && delay < step, "{} not in [{}, {})", delay, step / 2, step);
            }
        }
        Ok(())
    });
}
