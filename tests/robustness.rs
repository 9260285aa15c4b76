#![cfg(not(target_arch = "wasm32"))]
//! Arbitrary text through every public function that reads caller or server input:
//! none may panic, and every body must read back as the JSON it was built from.

mod common;
use common::*;

use serde_json::{json, Value as Json};
use stampede_workflows::{
    encode_path_segment, excerpt, incoming_event_request, is_hyphenated_uuid, is_loopback, parse_base_url, parse_http_date,
    parse_retry_after, parse_settings, redact, validate_incoming_event, validate_workflow_run, workflow_run_request, Scope, Value,
};

const CASES: usize = 5_000;

/// Pieces that sit on the boundaries the parsers check: prefixes, separators,
/// multi-byte characters and control characters.
const PIECES: [&str; 40] = [
    "a", "F", "0", "9", "-", ".", "..", "/", "\\", ":", "@", "?", "#", "%", "%2e", "%2F", "[", "]", "{", "}", " ", "\t", "\n", "\r",
    "\0", "\u{7f}", "é", "😀", "\u{301}", "\u{a0}", "\"", "https://", "http://", "urn:uuid:", "Bearer ", "localhost", "127.0.0.1",
    "GMT", "Nov", ID,
];

/// A seeded linear congruential generator, so every run tests the same strings.
struct TextGenerator(u64);

impl TextGenerator {
    fn next_below(&mut self, bound: usize) -> usize {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % bound
    }

    fn text(&mut self) -> String {
        let pieces = self.next_below(8);
        (0..pieces).map(|_| PIECES[self.next_below(PIECES.len())]).collect()
    }
}

#[test]
fn handles_arbitrary_text_without_panic() {
    let mut random = TextGenerator(7);
    for _ in 0..CASES {
        let text = random.text();

        let _ = is_hyphenated_uuid(&text);
        let _ = is_loopback(&text);
        let _ = parse_base_url(&text);
        let _ = parse_http_date(&text);
        let _ = parse_retry_after(&text, 0);
        let _ = parse_retry_after(&text, u64::MAX);
        let _ = excerpt(&text, random.next_below(10));
        let _ = redact(&text, Some(&random.text()));
        let _ = validate_workflow_run(&Value::from(text.as_str()), &[("org_reg_id", Value::from(text.as_str()))].into_iter().collect());

        let options: Value = [
            ("accessToken", Value::from(text.as_str())),
            ("baseUrl", Value::from(text.as_str())),
            ("headers", [(text.as_str(), Value::from(text.as_str()))].into_iter().collect()),
        ]
        .into_iter()
        .collect();
        let _ = parse_settings(&options, Scope::OneOff);
    }
}

#[test]
fn round_trips_arbitrary_text_through_body() {
    let settings = match parse_settings(&[("accessToken", Value::from("t"))].into_iter().collect(), Scope::OneOff) {
        Ok(settings) => settings,
        Err(errors) => panic!("expected valid options, got {errors:?}"),
    };
    let mut random = TextGenerator(11);
    for _ in 0..CASES {
        let name = random.text();
        let value = random.text();
        let serial: String = random.text().chars().take(12).collect();
        let event: Value = [
            ("organisation_registration_id", Value::from(ID)),
            ("serials", Value::Array(vec![Value::from(serial.as_str()), Value::from("S")])),
            ("parameters", [(name.as_str(), Value::from(value.as_str()))].into_iter().collect()),
        ]
        .into_iter()
        .collect();

        let Ok(valid) = validate_incoming_event(&event) else {
            // An empty serial or an empty source is rejected, which the validation tests cover.
            continue;
        };
        let request = incoming_event_request(&settings, &valid);
        let parsed: Json = match serde_json::from_str(&request.body) {
            Ok(json) => json,
            Err(error) => panic!("invalid JSON ({error}): {}", request.body),
        };

        assert_eq!(
            parsed,
            json!({ "organisation_registration_id": ID, "serials": [serial, "S"], "parameters": { name: value } }),
            "{}",
            request.body
        );
    }
}

#[test]
fn keeps_arbitrary_workflow_id_in_one_segment() {
    let settings = match parse_settings(&[("accessToken", Value::from("t"))].into_iter().collect(), Scope::OneOff) {
        Ok(settings) => settings,
        Err(errors) => panic!("expected valid options, got {errors:?}"),
    };
    let mut random = TextGenerator(13);
    for _ in 0..CASES {
        let id = random.text();
        let request: Value = [("org_reg_id", Value::from(ID))].into_iter().collect();

        let Ok(run) = validate_workflow_run(&Value::from(id.as_str()), &request) else {
            continue;
        };
        let url = workflow_run_request(&settings, &run).url;

        let segment = encode_path_segment(&id);
        assert_eq!(url, format!("https://global.stampede.ai/v1/workflows/{segment}/workflow-runs"));
        assert!(segment.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)), "{segment}");
        assert_ne!(segment, ".", "{id:?}");
        assert_ne!(segment, "..", "{id:?}");
    }
}
