//! Cases for the wasm layer, shared by `tests/wasm_node.rs` (Node) and
//! `tests/wasm_browser.rs` (headless Chromium).
//!
//! Nothing here touches the network: every send gets a `fetch` option, a
//! JavaScript function built with `js_sys::Function`, that records each call
//! and responds with `new Response(...)`, rejects, or never settles. The base
//! URL is a loopback address that is never contacted. Every promise is
//! awaited through `settle`, which gives up after a few seconds, so a hung
//! call fails its test instead of stalling the suite.

use js_sys::{Array, Function, Object, Promise, Reflect, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

use stampede_workflows::wasm::{
    send_incoming_event_js, store_workflow_run_js, validate_incoming_event_js, validate_workflow_run_js, StampedeClient,
};

const ORG: &str = "a1b2c3d4-e5f6-7890-abcd-ef1234567890";
/// Contains "/" so a server that escapes it as "\/" (PHP's json_encode does so by default) can be tested.
const TOKEN: &str = "stw_Q9x/7Lk2PzR8mN4v";
/// A loopback base URL with a path prefix, as a relay would have. Never contacted.
const BASE: &str = "http://127.0.0.1:9/relay";
const EVENT_URL: &str = "http://127.0.0.1:9/relay/v1/workflows/incoming-event";
/// Maximum time a call may take before its test fails.
const SETTLE_LIMIT_MS: u32 = 5_000;

// ---------------------------------------------------------------------------
// Helpers

/// Evaluates a JavaScript expression in strict mode.
fn js(expression: &str) -> JsValue {
    Function::new_no_args(&format!("'use strict'; return ({expression});"))
        .call0(&JsValue::UNDEFINED)
        .unwrap_or_else(|error| panic!("evaluating {expression} threw {error:?}"))
}

/// Calls a strict JavaScript function of one argument `v`.
fn js_with(body: &str, value: &JsValue) -> JsValue {
    Function::new_with_args("v", &format!("'use strict'; {body}"))
        .call1(&JsValue::UNDEFINED, value)
        .unwrap_or_else(|error| panic!("running {body} threw {error:?}"))
}

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(key)).unwrap_or_else(|error| panic!("reading {key} threw {error:?}"))
}

fn text(value: &JsValue, key: &str) -> String {
    get(value, key).as_string().unwrap_or_else(|| panic!("{key} is not a string in {}", stringify(value)))
}

fn number(value: &JsValue, key: &str) -> f64 {
    get(value, key).as_f64().unwrap_or_else(|| panic!("{key} is not a number in {}", stringify(value)))
}

fn stringify(value: &JsValue) -> String {
    JSON::stringify(value).ok().and_then(|text| text.as_string()).unwrap_or_else(|| format!("{value:?}"))
}

fn keys(value: &JsValue) -> Vec<String> {
    Object::keys(value.unchecked_ref::<Object>()).iter().filter_map(|key| key.as_string()).collect()
}

/// Returns a valid event with every field set.
fn good_event() -> JsValue {
    js(&format!("{{ organisation_registration_id: '{ORG}', serials: ['VENUE-0001'], parameters: {{ source: 'till', amount: 12.5, member: true }} }}"))
}

/// Returns a valid workflow run request.
fn good_run() -> JsValue {
    js(&format!("{{ org_reg_id: '{ORG}' }}"))
}

/// Fetch stand-in that records every call and responds through `respond`, a
/// function body with `url`, `init`, `n` (1 for the first call), `ctx` and
/// `reply(status, body, headers)`, which builds a JSON `Response`, in scope.
struct Mock {
    fetch: Function,
    calls: Array,
}

impl Mock {
    fn new(respond: &str) -> Mock {
        Mock::with_context(respond, &JsValue::UNDEFINED)
    }

    fn with_context(respond: &str, ctx: &JsValue) -> Mock {
        let factory = Function::new_with_args(
            "calls, ctx",
            &format!(
                "'use strict';
                 const reply = (status, body, headers) =>
                   new Response(body, {{ status, headers: Object.assign({{ 'content-type': 'application/json' }}, headers) }});
                 return function (url, init) {{
                   'use strict';
                   const n = calls.push({{
                     url,
                     init,
                     thisIsUndefined: this === undefined,
                     argumentCount: arguments.length,
                     headers: Object.fromEntries(new Headers(init && init.headers)),
                   }});
                   {respond}
                 }};"
            ),
        );
        let calls = Array::new();
        let fetch = factory.call2(&JsValue::UNDEFINED, &calls, ctx).expect("the mock factory runs").unchecked_into();
        Mock { fetch, calls }
    }

    /// Creates a mock that replies to every call with `status` and `body`, a JavaScript expression.
    fn replying(status: u16, body: &str) -> Mock {
        Mock::new(&format!("return reply({status}, {body});"))
    }

    fn count(&self) -> u32 {
        self.calls.length()
    }

    fn call(&self, index: u32) -> JsValue {
        assert!(index < self.count(), "fetch was called {} times, not {}", self.count(), index + 1);
        self.calls.get(index)
    }
}

/// Builds options with the test token, the loopback base URL and the mock's fetch,
/// plus the fields of `extra` (a JavaScript object expression).
/// A field that `extra` defines itself, even as a getter, is left as it is.
fn options(mock: &Mock, extra: &str) -> JsValue {
    js_with(
        &format!(
            "const options = ({extra});
             const defaults = {{ accessToken: '{TOKEN}', baseUrl: '{BASE}', fetch: v }};
             for (const [key, value] of Object.entries(defaults)) {{
               if (!Object.prototype.hasOwnProperty.call(options, key)) options[key] = value;
             }}
             return options;"
        ),
        &mock.fetch,
    )
}

enum Settled {
    Fulfilled(JsValue),
    Rejected(JsValue),
    Pending,
}

/// Waits for `promise`, or for SETTLE_LIMIT_MS when it never settles.
async fn settle(promise: Promise) -> Settled {
    let race = Function::new_with_args(
        "p, ms",
        "'use strict';
         let timer;
         const late = new Promise(resolve => { timer = setTimeout(() => resolve({ state: 'pending' }), ms); });
         const done = Promise.resolve(p).then(value => ({ state: 'fulfilled', value }), value => ({ state: 'rejected', value }));
         return Promise.race([done, late]).finally(() => clearTimeout(timer));",
    );
    let raced = race.call2(&JsValue::UNDEFINED, &promise, &JsValue::from(SETTLE_LIMIT_MS)).expect("the race starts");
    let outcome = JsFuture::from(raced.unchecked_into::<Promise>()).await.expect("the race never rejects");
    let value = get(&outcome, "value");
    match text(&outcome, "state").as_str() {
        "fulfilled" => Settled::Fulfilled(value),
        "rejected" => Settled::Rejected(value),
        _ => Settled::Pending,
    }
}

async fn resolves(promise: Promise) -> JsValue {
    match settle(promise).await {
        Settled::Fulfilled(value) => value,
        Settled::Rejected(error) => panic!("expected a result, got the rejection {}", describe_error(&error)),
        Settled::Pending => panic!("the call did not settle within {SETTLE_LIMIT_MS} ms"),
    }
}

/// Waits for a rejection and checks what every rejection must be: a
/// StampedeError of `kind` that never shows the token.
async fn rejects(promise: Promise, kind: &str) -> JsValue {
    let error = match settle(promise).await {
        Settled::Rejected(error) => error,
        Settled::Fulfilled(value) => panic!("expected a {kind} rejection, got the result {}", stringify(&value)),
        Settled::Pending => panic!("expected a {kind} rejection, but the call did not settle within {SETTLE_LIMIT_MS} ms"),
    };
    check_stampede_error(&error, kind);
    error
}

fn describe_error(error: &JsValue) -> String {
    format!("{} ({})", js_with("return String(v);", error).as_string().unwrap_or_default(), stringify(error))
}

fn check_stampede_error(error: &JsValue, kind: &str) {
    assert!(error.is_instance_of::<js_sys::Error>(), "not an Error: {error:?}");
    assert_eq!(text(error, "name"), "StampedeError", "{}", describe_error(error));
    assert_eq!(text(error, "kind"), kind, "{}", describe_error(error));
    assert!(!text(error, "message").is_empty(), "empty message: {}", describe_error(error));
    assert!(get(error, "attempts").as_f64().is_some(), "attempts missing: {}", describe_error(error));
    assert_no_token(error);
}

/// Checks that the token is in neither the message, String(error) nor JSON.stringify(error).
fn assert_no_token(error: &JsValue) {
    let rendered = [
        ("message", text(error, "message")),
        ("String(error)", js_with("return String(v);", error).as_string().unwrap()),
        ("JSON.stringify(error)", stringify(error)),
    ];
    for (place, rendering) in rendered {
        assert!(!rendering.contains(TOKEN), "{place} shows the token: {rendering}");
        assert!(!rendering.contains(&TOKEN.replace('/', "\\/")), "{place} shows the escaped token: {rendering}");
    }
}

fn field_errors(result: &JsValue) -> Vec<String> {
    keys(&get(result, "errors"))
}

/// Checks a `{ valid: false, message, errors }` result with an error under `key`.
fn assert_invalid(result: &JsValue, key: &str, case: &str) {
    assert_eq!(get(result, "valid"), JsValue::FALSE, "{case}: {}", stringify(result));
    assert!(!text(result, "message").is_empty(), "{case}: empty message");
    let messages = get(&get(result, "errors"), key);
    assert!(Array::is_array(&messages), "{case}: no errors.{key} in {}", stringify(result));
    let messages: Array = messages.unchecked_into();
    assert!(messages.length() > 0, "{case}: errors.{key} is empty");
    assert!(messages.iter().all(|message| message.as_string().is_some_and(|m| !m.is_empty())), "{case}: {}", stringify(result));
}

fn assert_valid(result: &JsValue, case: &str) {
    assert_eq!(stringify(result), r#"{"valid":true}"#, "{case}");
}

// ---------------------------------------------------------------------------
// Validation results

#[wasm_bindgen_test]
fn valid_event_gives_valid_true() {
    assert_valid(&validate_incoming_event_js(good_event()), "full event");
    assert_valid(&validate_incoming_event_js(js(&format!("{{ organisation_registration_id: '{ORG}' }}"))), "id only");
    let absent = js(&format!("{{ organisation_registration_id: '{}', serials: undefined, parameters: null }}", ORG.to_uppercase()));
    assert_valid(&validate_incoming_event_js(absent), "absent optional fields, upper-case id");
}

#[wasm_bindgen_test]
fn invalid_event_lists_dotted_keys() {
    let event = js("{
        organisation_registration_id: 'a1b2c3d4e5f67890abcdef1234567890',
        serials: ['', 'ABCDEFGHIJKLM', 'ok', 7],
        parameters: { source: '', empty: null, list: [1], nested: { a: 1 } },
        extra: 1,
    }");
    let result = validate_incoming_event_js(event);
    let mut found = field_errors(&result);
    found.sort();
    let mut expected = [
        "extra",
        "organisation_registration_id",
        "parameters.empty",
        "parameters.list",
        "parameters.nested",
        "parameters.source",
        "serials.0",
        "serials.1",
        "serials.3",
    ]
    .map(String::from)
    .to_vec();
    expected.sort();
    assert_eq!(found, expected, "{}", stringify(&result));
    assert_eq!(keys(&result), ["valid", "message", "errors"]);
    assert!(text(&result, "message").ends_with("(and 8 more errors)"), "{}", text(&result, "message"));
    let id_message = get(&get(&result, "errors"), "organisation_registration_id");
    assert!(stringify(&id_message).contains("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"), "{}", stringify(&id_message));
}

#[wasm_bindgen_test]
fn serial_length_counts_code_points() {
    // Twelve emoji are 24 UTF-16 units but 12 characters.
    let event = js(&format!("{{ organisation_registration_id: '{ORG}', serials: ['\\u{{1F600}}'.repeat(12)] }}"));
    assert_valid(&validate_incoming_event_js(event), "twelve emoji");
}

#[wasm_bindgen_test]
fn non_object_event_is_invalid() {
    for (case, value) in [("undefined", "undefined"), ("null", "null"), ("string", "'event'"), ("array", "[1]"), ("number", "1")] {
        assert_invalid(&validate_incoming_event_js(js(value)), "event", case);
    }
}

#[wasm_bindgen_test]
fn workflow_run_validation() {
    assert_valid(&validate_workflow_run_js("wf_123".into(), good_run()), "plain id");
    assert_valid(&validate_workflow_run_js("wf 1?#%".into(), good_run()), "id with characters to encode");

    let result = validate_workflow_run_js("a/b".into(), js(&format!("{{ org_reg_id: '{{{ORG}}}' }}")));
    assert_invalid(&result, "workflowId", "slash in id");
    assert_invalid(&result, "org_reg_id", "braced uuid");

    for (case, id) in [("empty", "''"), ("dot", "'.'"), ("dot dot", "'..'"), ("number", "42"), ("undefined", "undefined")] {
        assert_invalid(&validate_workflow_run_js(js(id), good_run()), "workflowId", case);
    }
    assert_invalid(&validate_workflow_run_js("wf".into(), JsValue::UNDEFINED), "org_reg_id", "missing request");
    assert_invalid(&validate_workflow_run_js("wf".into(), js("{ org_reg_id: ' a1b2c3d4-e5f6-7890-abcd-ef1234567890' }")), "org_reg_id", "leading space");
    assert_invalid(&validate_workflow_run_js("wf".into(), js(&format!("{{ org_reg_id: 'urn:uuid:{ORG}' }}"))), "org_reg_id", "urn form");
}

// ---------------------------------------------------------------------------
// Values only JavaScript has: each gives a validation result, never a trap

/// (case, event expression, key of the expected error)
const ODD_EVENTS: &[(&str, &str, &str)] = &[
    ("BigInt parameter", "{ organisation_registration_id: ORG, parameters: { v: 10n } }", "parameters.v"),
    ("Symbol parameter", "{ organisation_registration_id: ORG, parameters: { v: Symbol('s') } }", "parameters.v"),
    ("function parameter", "{ organisation_registration_id: ORG, parameters: { v: () => 1 } }", "parameters.v"),
    ("Date parameter", "{ organisation_registration_id: ORG, parameters: { v: new Date(0) } }", "parameters.v"),
    ("Map parameter", "{ organisation_registration_id: ORG, parameters: { v: new Map([[1, 2]]) } }", "parameters.v"),
    ("NaN parameter", "{ organisation_registration_id: ORG, parameters: { v: NaN } }", "parameters.v"),
    ("Infinity parameter", "{ organisation_registration_id: ORG, parameters: { v: -Infinity } }", "parameters.v"),
    ("BigInt id", "{ organisation_registration_id: 1n }", "organisation_registration_id"),
    ("Symbol serial", "{ organisation_registration_id: ORG, serials: [Symbol('s')] }", "serials.0"),
    ("Map as parameters", "{ organisation_registration_id: ORG, parameters: new Map([['source', 'x']]) }", "parameters"),
    ("Date as event", "new Date(0)", "event"),
    ("function as event", "function () {}", "event"),
    ("throwing getter", "{ organisation_registration_id: ORG, get serials() { throw new Error('getter failed'); } }", "serials"),
    (
        "throwing getter in parameters",
        "{ organisation_registration_id: ORG, parameters: { get v() { throw new Error('getter failed'); } } }",
        "parameters.v",
    ),
    ("Proxy whose ownKeys throws", "new Proxy({}, { ownKeys() { throw new Error('no keys'); } })", "event"),
    (
        "Proxy parameters whose ownKeys throws",
        "{ organisation_registration_id: ORG, parameters: new Proxy({}, { ownKeys() { throw new Error('no keys'); } }) }",
        "parameters",
    ),
    ("revoked Proxy", "(() => { const r = Proxy.revocable({}, {}); r.revoke(); return r.proxy; })()", "event"),
    (
        "revoked Proxy as serials",
        "{ organisation_registration_id: ORG, serials: (() => { const r = Proxy.revocable([], {}); r.revoke(); return r.proxy; })() }",
        "serials",
    ),
    ("unpaired surrogate in a serial", "{ organisation_registration_id: ORG, serials: ['ab\\uD800'] }", "serials.0"),
    ("unpaired surrogate in the id", "{ organisation_registration_id: ORG.slice(0, 35) + '\\uDC00' }", "organisation_registration_id"),
    ("unpaired surrogate in a parameter", "{ organisation_registration_id: ORG, parameters: { v: '\\uDBFF' } }", "parameters.v"),
    ("sparse array of length 2**32-1", "{ organisation_registration_id: ORG, serials: new Array(2 ** 32 - 1) }", "serials"),
    ("sparse array as event", "new Array(2 ** 32 - 1)", "event"),
];

fn odd_event(expression: &str) -> JsValue {
    js_with(&format!("const ORG = v; return ({expression});"), &JsValue::from_str(ORG))
}

#[wasm_bindgen_test]
fn js_only_event_values_give_errors() {
    for (case, expression, key) in ODD_EVENTS {
        let result = validate_incoming_event_js(odd_event(expression));
        assert_invalid(&result, key, case);
        assert_valid(&validate_incoming_event_js(good_event()), &format!("the call after {case}"));
    }
}

#[wasm_bindgen_test]
fn js_only_run_values_give_errors() {
    let cases: &[(&str, &str, &str, &str)] = &[
        ("Symbol id", "Symbol('wf')", "{ org_reg_id: ORG }", "workflowId"),
        ("BigInt id", "1n", "{ org_reg_id: ORG }", "workflowId"),
        ("unpaired surrogate id", "'wf\\uD800'", "{ org_reg_id: ORG }", "workflowId"),
        ("Date org_reg_id", "'wf'", "{ org_reg_id: new Date(0) }", "org_reg_id"),
        ("throwing getter", "'wf'", "{ get org_reg_id() { throw new Error('getter failed'); } }", "org_reg_id"),
        ("revoked Proxy request", "'wf'", "(() => { const r = Proxy.revocable({}, {}); r.revoke(); return r.proxy; })()", "request"),
        ("Proxy whose ownKeys throws", "'wf'", "new Proxy({}, { ownKeys() { throw new Error('no keys'); } })", "request"),
    ];
    for (case, id, request, key) in cases {
        let result = validate_workflow_run_js(odd_event(id), odd_event(request));
        assert_invalid(&result, key, case);
        assert_valid(&validate_workflow_run_js("wf".into(), good_run()), &format!("the call after {case}"));
    }
}

#[wasm_bindgen_test]
fn surrogate_parameter_name_is_rejected() {
    // A name that has no UTF-8 form must be rejected, not sent under another name.
    let result = validate_incoming_event_js(odd_event("{ organisation_registration_id: ORG, parameters: { ['k\\uD800']: 'v' } }"));
    assert_eq!(get(&result, "valid"), JsValue::FALSE, "{}", stringify(&result));
}

// ---------------------------------------------------------------------------
// What the fetch receives, and what a 2xx gives back

#[wasm_bindgen_test]
async fn event_request_is_json_post() {
    let mock = Mock::new("return reply(200, JSON.stringify({ message: 'Event received', event: { id: 'ev_1', serials: ['VENUE-0001'] } }));");
    let result = resolves(send_incoming_event_js(good_event(), options(&mock, "{ headers: { 'X-Request-Id': 'req-1' } }"))).await;

    assert_eq!(mock.count(), 1);
    let call = mock.call(0);
    assert_eq!(text(&call, "url"), EVENT_URL);
    assert_eq!(get(&call, "thisIsUndefined"), JsValue::TRUE, "fetch was called with a this");
    assert_eq!(number(&call, "argumentCount"), 2.0);
    let init = get(&call, "init");
    assert_eq!(text(&init, "method"), "POST");
    for field in ["mode", "credentials", "cache", "referrer", "referrerPolicy", "integrity", "keepalive"] {
        assert!(!Reflect::has(&init, &field.into()).unwrap(), "the init sets {field}: {:?}", keys(&init));
    }
    // A redirected POST would lose its body or go elsewhere, so redirects are not followed.
    assert_eq!(text(&init, "redirect"), "manual");
    assert!(get(&init, "signal").is_instance_of::<web_sys::AbortSignal>(), "the init has no AbortSignal");

    let headers = get(&call, "headers");
    assert_eq!(text(&headers, "content-type"), "application/json");
    assert_eq!(text(&headers, "accept"), "application/json");
    assert_eq!(text(&headers, "authorization"), format!("Bearer {TOKEN}"));
    assert_eq!(text(&headers, "x-request-id"), "req-1");
    assert_eq!(keys(&headers).len(), 4, "unexpected headers: {}", stringify(&headers));

    let body = JSON::parse(&text(&init, "body")).expect("the body is JSON");
    assert_eq!(
        stringify(&body),
        format!(r#"{{"organisation_registration_id":"{ORG}","serials":["VENUE-0001"],"parameters":{{"source":"till","amount":12.5,"member":true}}}}"#)
    );

    assert_eq!(stringify(&result), r#"{"message":"Event received","event":{"id":"ev_1","serials":["VENUE-0001"]}}"#);
}

#[wasm_bindgen_test]
async fn absent_fields_left_out_of_body() {
    let mock = Mock::replying(200, "'{\"message\":\"ok\",\"event\":{}}'");
    let event = js(&format!("{{ organisation_registration_id: '{ORG}', serials: null, parameters: undefined }}"));
    resolves(send_incoming_event_js(event, options(&mock, "{}"))).await;
    assert_eq!(text(&get(&mock.call(0), "init"), "body"), format!(r#"{{"organisation_registration_id":"{ORG}"}}"#));
}

#[wasm_bindgen_test]
async fn bearer_prefix_not_doubled() {
    let mock = Mock::replying(200, "'{\"message\":\"ok\",\"event\":{}}'");
    let options = options(&mock, &format!("{{ accessToken: 'Bearer {TOKEN}' }}"));
    resolves(send_incoming_event_js(good_event(), options)).await;
    assert_eq!(text(&get(&mock.call(0), "headers"), "authorization"), format!("Bearer {TOKEN}"));
}

#[wasm_bindgen_test]
async fn workflow_id_encoded_as_one_segment() {
    let mock = Mock::new(
        "return reply(200, JSON.stringify({ data: { id: 'run_1', org_reg_id: JSON.parse(init.body).org_reg_id, status: 'pending', \
         profile: {}, trigger: 'api', event: { triggered_by: 'api' }, nodes_processed: null, created_at: 'c', updated_at: 'u', future_field: [1] } }));",
    );
    let result = resolves(store_workflow_run_js("wf 1?#%.x".into(), good_run(), options(&mock, "{}"))).await;
    let call = mock.call(0);
    assert_eq!(text(&call, "url"), "http://127.0.0.1:9/relay/v1/workflows/wf%201%3F%23%25.x/workflow-runs");
    assert_eq!(text(&get(&call, "init"), "method"), "POST");
    assert_eq!(text(&get(&call, "init"), "body"), format!(r#"{{"org_reg_id":"{ORG}"}}"#));
    let data = get(&result, "data");
    assert_eq!(text(&data, "org_reg_id"), ORG);
    assert!(get(&data, "nodes_processed").is_null());
    assert_eq!(stringify(&get(&data, "future_field")), "[1]", "unknown fields are kept");
}

#[wasm_bindgen_test]
async fn success_body_is_plain_object() {
    let mock = Mock::replying(200, "'{\"message\":\"ok\",\"event\":{\"big\":12345678901234567890,\"list\":[1,{\"a\":null}],\"when\":\"2024-01-01T00:00:00Z\"}}'");
    let result = resolves(send_incoming_event_js(good_event(), options(&mock, "{}"))).await;
    let is_plain = |value: &JsValue| js_with("return Object.getPrototypeOf(v) === Object.prototype;", value);
    assert_eq!(is_plain(&result), JsValue::TRUE, "the result is not a plain object");
    assert_eq!(is_plain(&get(&result, "event")), JsValue::TRUE, "the nested object is not a plain object");
    let event = get(&result, "event");
    assert!(Array::is_array(&get(&event, "list")), "list is not an array");
    assert!(get(&event, "big").as_f64().is_some(), "a large number is not a number");
    assert!(get(&event, "when").is_string(), "a date string is not kept as a string");
    assert_eq!(
        stringify(&result),
        r#"{"message":"ok","event":{"big":12345678901234567000,"list":[1,{"a":null}],"when":"2024-01-01T00:00:00Z"}}"#
    );
}

#[wasm_bindgen_test]
async fn client_options_apply_to_both_endpoints() {
    let mock = Mock::new(
        "return url.endsWith('/incoming-event')
           ? reply(200, '{\"message\":\"ok\",\"event\":{}}')
           : reply(200, '{\"data\":{\"id\":\"run_1\"}}');",
    );
    let client = StampedeClient::new(options(&mock, "{ headers: { 'X-Tenant': 't1' } }")).expect("valid client options");
    let sent = resolves(client.send_incoming_event(good_event(), JsValue::UNDEFINED)).await;
    let stored = resolves(client.store_workflow_run("wf_9".into(), good_run(), js("{ timeoutMs: 1000 }"))).await;
    assert_eq!(text(&sent, "message"), "ok");
    assert_eq!(text(&get(&stored, "data"), "id"), "run_1");
    assert_eq!(mock.count(), 2);
    for index in 0..2 {
        let headers = get(&mock.call(index), "headers");
        assert_eq!(text(&headers, "authorization"), format!("Bearer {TOKEN}"));
        assert_eq!(text(&headers, "x-tenant"), "t1");
    }
    assert_eq!(text(&mock.call(1), "url"), "http://127.0.0.1:9/relay/v1/workflows/wf_9/workflow-runs");
}

#[wasm_bindgen_test]
async fn non_object_2xx_body_is_invalid_response() {
    // (status, body expression, the error's body as JSON)
    let cases: &[(u16, &str, &str)] = &[
        (200, "'[1,2]'", "[1,2]"),
        (200, "'\"text\"'", "\"text\""),
        (200, "'null'", "null"),
        (200, "'42'", "42"),
        (200, "''", "\"\""),
        (201, "'<html>ok</html>'", "\"<html>ok</html>\""),
        (204, "null", "\"\""),
    ];
    for (status, body, shown) in cases {
        let mock = Mock::replying(*status, body);
        let error = rejects(send_incoming_event_js(good_event(), options(&mock, "{}")), "invalid_response").await;
        assert_eq!(number(&error, "status"), f64::from(*status), "body {body}");
        assert_eq!(number(&error, "attempts"), 1.0, "body {body}");
        assert_eq!(stringify(&get(&error, "body")), *shown, "body {body}");
        assert_eq!(mock.count(), 1, "an invalid body is not retried");
    }
}

// ---------------------------------------------------------------------------
// Error statuses

#[wasm_bindgen_test]
async fn each_error_status_gives_its_kind() {
    // (status, kind, body expression, Retry-After header)
    let cases: &[(u16, &str, &str, Option<&str>)] = &[
        (400, "bad_request", "'{\"message\":\"Malformed JSON.\"}'", None),
        (401, "unauthorized", "'{\"message\":\"Unauthenticated.\"}'", None),
        (403, "forbidden", "'{\"message\":\"This action is unauthorized.\"}'", None),
        (404, "not_found", "'{\"message\":\"Workflow not found.\"}'", None),
        (405, "http", "'{\"message\":\"Method not allowed.\"}'", None),
        (418, "http", "'short and stout'", None),
        (423, "locked", "'{\"message\":\"The user is in the waiting period.\"}'", None),
        (429, "rate_limited", "'{\"message\":\"Too Many Attempts.\"}'", Some("120")),
        (500, "server", "'{\"message\":\"Server Error\"}'", None),
        (502, "server", "'<html><body>Bad gateway</body></html>'", None),
        (503, "server", "'{\"message\":\"Maintenance.\"}'", Some("3600")),
        (504, "server", "'<html>Gateway timeout</html>'", None),
    ];
    for (status, kind, body, retry_after) in cases {
        let header = retry_after.map(|value| format!("{{ 'retry-after': '{value}' }}")).unwrap_or_else(|| "{}".into());
        let mock = Mock::new(&format!("return reply({status}, {body}, {header});"));
        let error = rejects(store_workflow_run_js("wf_1".into(), good_run(), options(&mock, "{}")), kind).await;
        let case = describe_error(&error);
        assert_eq!(number(&error, "status"), f64::from(*status), "{case}");
        assert_eq!(number(&error, "attempts"), 1.0, "{case}");
        assert_eq!(mock.count(), 1, "{case}: retried");
        assert!(text(&error, "message").contains(&status.to_string()), "{case}: the message does not name the status");
        assert!(get(&error, "errors").is_undefined(), "{case}: errors set");

        let expected_body = js_with("try { return JSON.parse(v); } catch { return v; }", &js(body));
        assert_eq!(stringify(&get(&error, "body")), stringify(&expected_body), "{case}");
        if let Some(message) = Some(&expected_body).filter(|body| body.is_object()).and_then(|body| get(body, "message").as_string()) {
            assert!(text(&error, "message").contains(&message), "{case}: the server's message is not quoted");
        }
        match retry_after {
            Some(seconds) => assert_eq!(number(&error, "retryAfterMs"), seconds.parse::<f64>().unwrap() * 1000.0, "{case}"),
            None => assert!(get(&error, "retryAfterMs").is_undefined(), "{case}"),
        }
    }
}

#[wasm_bindgen_test]
async fn unprocessable_keeps_server_field_errors() {
    let mock = Mock::replying(
        422,
        "JSON.stringify({ message: 'The serials.0 field must not be greater than 12 characters. (and 1 more error)', \
         errors: { 'serials.0': ['The serials.0 field must not be greater than 12 characters.'], 'parameters.source': ['Unknown source.', 'Second.'] } })",
    );
    let error = rejects(send_incoming_event_js(good_event(), options(&mock, "{}")), "unprocessable").await;
    assert_eq!(number(&error, "status"), 422.0);
    assert_eq!(
        stringify(&get(&error, "errors")),
        r#"{"serials.0":["The serials.0 field must not be greater than 12 characters."],"parameters.source":["Unknown source.","Second."]}"#
    );
    assert!(text(&error, "message").contains("serials.0"), "{}", text(&error, "message"));
    assert_eq!(mock.count(), 1);
}

#[wasm_bindgen_test]
async fn retry_after_date_gives_milliseconds() {
    let mock = Mock::new("return reply(429, '{}', { 'retry-after': new Date(Date.now() + 3600e3).toUTCString() });");
    let error = rejects(send_incoming_event_js(good_event(), options(&mock, "{}")), "rate_limited").await;
    let wait = number(&error, "retryAfterMs");
    assert!((3_590_000.0..=3_600_000.0).contains(&wait), "retryAfterMs {wait}");
    assert_eq!(mock.count(), 1, "a wait beyond the cap ends the retries");
}

// ---------------------------------------------------------------------------
// Retries

#[wasm_bindgen_test]
async fn unavailable_retried_up_to_max_retries() {
    for (max_retries, expected) in [(None, 3u32), (Some(0), 1), (Some(1), 2), (Some(4), 5)] {
        let mock = Mock::new("return reply(503, '{\"message\":\"busy\"}', { 'retry-after': '0' });");
        let extra = max_retries.map(|n| format!("{{ maxRetries: {n} }}")).unwrap_or_else(|| "{}".into());
        let error = rejects(send_incoming_event_js(good_event(), options(&mock, &extra)), "server").await;
        assert_eq!(mock.count(), expected, "maxRetries {max_retries:?}");
        assert_eq!(number(&error, "attempts"), f64::from(expected), "maxRetries {max_retries:?}");
        assert_eq!(number(&error, "retryAfterMs"), 0.0);
        assert_eq!(number(&error, "status"), 503.0);
    }
}

#[wasm_bindgen_test]
async fn successful_retry_resolves() {
    let mock = Mock::new(
        "return n < 3
           ? reply(n === 1 ? 503 : 429, '{}', { 'retry-after': '0' })
           : reply(200, '{\"message\":\"ok\",\"event\":{}}');",
    );
    let result = resolves(send_incoming_event_js(good_event(), options(&mock, "{}"))).await;
    assert_eq!(text(&result, "message"), "ok");
    assert_eq!(mock.count(), 3);
    let first = text(&get(&mock.call(0), "init"), "body");
    assert_eq!(text(&get(&mock.call(2), "init"), "body"), first, "each attempt sends the same body");
}

#[wasm_bindgen_test]
async fn internal_server_error_is_not_retried() {
    let mock = Mock::new("return reply(500, '{\"message\":\"Server Error\"}', { 'retry-after': '0' });");
    let error = rejects(send_incoming_event_js(good_event(), options(&mock, "{ maxRetries: 5, retryAmbiguous: true }")), "server").await;
    assert_eq!(mock.count(), 1);
    assert_eq!(number(&error, "attempts"), 1.0);
}

#[wasm_bindgen_test]
async fn bad_gateway_retried_only_if_ambiguous() {
    let mock = Mock::new("return reply(502, 'proxy error', { 'retry-after': '0' });");
    rejects(send_incoming_event_js(good_event(), options(&mock, "{}")), "server").await;
    assert_eq!(mock.count(), 1, "default policy");

    let mock = Mock::new("return reply(502, 'proxy error', { 'retry-after': '0' });");
    let error = rejects(send_incoming_event_js(good_event(), options(&mock, "{ retryAmbiguous: true, maxRetries: 2 }")), "server").await;
    assert_eq!(mock.count(), 3, "retryAmbiguous");
    assert_eq!(number(&error, "attempts"), 3.0);
}

#[wasm_bindgen_test]
async fn request_options_override_client_options() {
    let mock = Mock::new("return reply(503, '{}', { 'retry-after': '0' });");
    let client = StampedeClient::new(options(&mock, "{ maxRetries: 0 }")).expect("valid client options");
    rejects(client.send_incoming_event(good_event(), JsValue::UNDEFINED), "server").await;
    assert_eq!(mock.count(), 1, "the client's maxRetries");
    let error = rejects(client.send_incoming_event(good_event(), js("{ maxRetries: 2 }")), "server").await;
    assert_eq!(mock.count(), 4, "the call's maxRetries");
    assert_eq!(number(&error, "attempts"), 3.0);
}

// ---------------------------------------------------------------------------
// Failures without a response

#[wasm_bindgen_test]
async fn rejected_fetch_gives_network() {
    let mock = Mock::new("return Promise.reject(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }));");
    let error = rejects(send_incoming_event_js(good_event(), options(&mock, "{}")), "network").await;
    assert_eq!(mock.count(), 1, "a network failure is not retried by default");
    assert_eq!(number(&error, "attempts"), 1.0);
    assert!(get(&error, "status").is_undefined());
    assert!(text(&error, "message").contains("ECONNREFUSED"), "{}", text(&error, "message"));
    assert!(get(&error, "cause").is_instance_of::<js_sys::TypeError>(), "the cause is kept");
}

#[wasm_bindgen_test]
async fn network_failure_retried_if_ambiguous() {
    let mock = Mock::new("return n === 1 ? Promise.reject(new TypeError('fetch failed')) : reply(200, '{\"message\":\"ok\",\"event\":{}}');");
    let result = resolves(send_incoming_event_js(good_event(), options(&mock, "{ retryAmbiguous: true }"))).await;
    assert_eq!(text(&result, "message"), "ok");
    assert_eq!(mock.count(), 2);
}

#[wasm_bindgen_test]
async fn broken_fetch_gives_network() {
    let cases = [
        ("throws", "throw new Error('broken fetch');"),
        ("returns a non-response", "return { hello: 'world' };"),
        ("returns undefined", "return undefined;"),
    ];
    for (case, respond) in cases {
        let mock = Mock::new(respond);
        let error = rejects(send_incoming_event_js(good_event(), options(&mock, "{}")), "network").await;
        assert_eq!(number(&error, "attempts"), 1.0, "{case}");
        assert_eq!(mock.count(), 1, "{case}");
    }
}

#[wasm_bindgen_test]
async fn signal_honouring_fetch_times_out() {
    let mock = Mock::new("return new Promise((_, reject) => init.signal.addEventListener('abort', () => reject(init.signal.reason)));");
    let error = rejects(send_incoming_event_js(good_event(), options(&mock, "{ timeoutMs: 30 }")), "timeout").await;
    assert_eq!(number(&error, "attempts"), 1.0);
    assert_eq!(mock.count(), 1, "a timeout is not retried by default");
    assert_eq!(get(&get(&get(&mock.call(0), "init"), "signal"), "aborted"), JsValue::TRUE);
}

#[wasm_bindgen_test]
async fn fetch_that_never_settles_times_out() {
    let mock = Mock::new("return new Promise(() => {});");
    let error = rejects(send_incoming_event_js(good_event(), options(&mock, "{ timeoutMs: 30 }")), "timeout").await;
    assert_eq!(number(&error, "attempts"), 1.0);
    assert_eq!(mock.count(), 1);
}

#[wasm_bindgen_test]
async fn body_that_never_ends_times_out() {
    let mock = Mock::new("return { status: 200, headers: new Headers(), text: () => new Promise(() => {}) };");
    rejects(send_incoming_event_js(good_event(), options(&mock, "{ timeoutMs: 30 }")), "timeout").await;
}

#[wasm_bindgen_test]
async fn timeout_retried_if_ambiguous() {
    let mock = Mock::new(
        "return n === 1
           ? new Promise((_, reject) => init.signal.addEventListener('abort', () => reject(init.signal.reason)))
           : reply(200, '{\"message\":\"ok\",\"event\":{}}');",
    );
    let result = resolves(send_incoming_event_js(good_event(), options(&mock, "{ timeoutMs: 30, retryAmbiguous: true }"))).await;
    assert_eq!(text(&result, "message"), "ok");
    assert_eq!(mock.count(), 2);
}

// ---------------------------------------------------------------------------
// The caller's AbortSignal

#[wasm_bindgen_test]
async fn aborted_signal_skips_fetch() {
    let mock = Mock::replying(200, "'{\"message\":\"ok\",\"event\":{}}'");
    let signal = js("AbortSignal.abort()");
    let options = options(&mock, "{}");
    Reflect::set(&options, &"signal".into(), &signal).unwrap();
    let error = rejects(send_incoming_event_js(good_event(), options), "aborted").await;
    assert_eq!(number(&error, "attempts"), 0.0);
    assert_eq!(mock.count(), 0);

    let client = StampedeClient::new(self::options(&mock, "{}")).unwrap();
    let request_options = Object::new();
    Reflect::set(&request_options, &"signal".into(), &signal).unwrap();
    rejects(client.store_workflow_run("wf".into(), good_run(), request_options.into()), "aborted").await;
    assert_eq!(mock.count(), 0);
}

#[wasm_bindgen_test]
async fn abort_during_fetch_gives_aborted() {
    let controller = web_sys::AbortController::new().unwrap();
    let mock = Mock::with_context(
        "return new Promise((_, reject) => {
           init.signal.addEventListener('abort', () => reject(init.signal.reason));
           setTimeout(() => ctx.abort(), 10);
         });",
        &controller,
    );
    let options = options(&mock, "{ retryAmbiguous: true }");
    Reflect::set(&options, &"signal".into(), &controller.signal()).unwrap();
    let error = rejects(send_incoming_event_js(good_event(), options), "aborted").await;
    assert_eq!(number(&error, "attempts"), 1.0);
    assert_eq!(mock.count(), 1, "an aborted call is not retried");
}

#[wasm_bindgen_test]
async fn abort_ends_signal_ignoring_fetch() {
    let controller = web_sys::AbortController::new().unwrap();
    let mock = Mock::with_context("setTimeout(() => ctx.abort(), 10); return new Promise(() => {});", &controller);
    let options = options(&mock, "{}");
    Reflect::set(&options, &"signal".into(), &controller.signal()).unwrap();
    rejects(send_incoming_event_js(good_event(), options), "aborted").await;
}

#[wasm_bindgen_test]
async fn abort_ends_retry_wait() {
    let controller = web_sys::AbortController::new().unwrap();
    // Retry-After 20 s is under the 30 s cap, so without the abort the call would wait 20 s.
    let mock = Mock::with_context("setTimeout(() => ctx.abort(), 20); return reply(503, '{}', { 'retry-after': '20' });", &controller);
    let options = options(&mock, "{}");
    Reflect::set(&options, &"signal".into(), &controller.signal()).unwrap();
    let error = rejects(send_incoming_event_js(good_event(), options), "aborted").await;
    assert_eq!(mock.count(), 1);
    assert_eq!(number(&error, "attempts"), 1.0);
}

// ---------------------------------------------------------------------------
// Validation failures reject before anything is sent

#[wasm_bindgen_test]
async fn invalid_input_rejects_before_fetch() {
    let mock = Mock::replying(200, "'{\"message\":\"ok\",\"event\":{}}'");
    let bad_event = js(&format!("{{ organisation_registration_id: '{ORG}', serials: ['ABCDEFGHIJKLM'], parameters: {{ v: 1n }} }}"));
    let error = rejects(send_incoming_event_js(bad_event, options(&mock, "{}")), "validation").await;
    assert_eq!(number(&error, "attempts"), 0.0);
    assert_eq!(field_errors(&error), ["serials.0", "parameters.v"]);
    assert!(get(&error, "status").is_undefined());

    let error = rejects(store_workflow_run_js("..".into(), js("{ org_reg_id: 'nope' }"), options(&mock, "{}")), "validation").await;
    assert_eq!(field_errors(&error), ["workflowId", "org_reg_id"]);
    assert_eq!(number(&error, "attempts"), 0.0);

    let client = StampedeClient::new(options(&mock, "{}")).unwrap();
    let error = rejects(client.store_workflow_run("wf/1".into(), good_run(), JsValue::UNDEFINED), "validation").await;
    assert_eq!(field_errors(&error), ["workflowId"]);
    assert_eq!(mock.count(), 0);
}

#[wasm_bindgen_test]
async fn invalid_options_reject_before_fetch() {
    let mock = Mock::replying(200, "'{\"message\":\"ok\",\"event\":{}}'");
    // (case, options expression merged over the defaults, expected key)
    let cases = [
        ("NaN timeout", "{ timeoutMs: NaN }", "timeoutMs"),
        ("zero timeout", "{ timeoutMs: 0 }", "timeoutMs"),
        ("BigInt retries", "{ maxRetries: 1n }", "maxRetries"),
        ("string flag", "{ retryAmbiguous: 'yes' }", "retryAmbiguous"),
        ("header with a newline", "{ headers: { 'X-A': 'a\\r\\nX-B: b' } }", "headers.X-A"),
        ("replacing Authorization", "{ headers: { authorization: 'Basic abc' } }", "headers.authorization"),
        ("token with a newline", "{ accessToken: 'abc\\ndef' }", "accessToken"),
        ("unknown option", "{ retries: 3 }", "retries"),
        ("fetch that is not a function", "{ fetch: 'fetch' }", "fetch"),
        ("signal that is not a signal", "{ signal: {} }", "signal"),
        ("ftp base URL", "{ baseUrl: 'ftp://127.0.0.1/' }", "baseUrl"),
        ("base URL with a query", "{ baseUrl: 'http://127.0.0.1:9/?a=1' }", "baseUrl"),
        ("headers getter that throws", "{ get headers() { throw new Error('getter failed'); } }", "headers"),
    ];
    for (case, extra, key) in cases {
        let error = rejects(send_incoming_event_js(good_event(), options(&mock, extra)), "validation").await;
        assert!(field_errors(&error).contains(&key.to_string()), "{case}: {}", stringify(&error));
        assert_eq!(number(&error, "attempts"), 0.0, "{case}");
    }
    assert_eq!(mock.count(), 0);
}

#[wasm_bindgen_test]
async fn request_options_reject_client_options() {
    let mock = Mock::replying(200, "'{\"message\":\"ok\",\"event\":{}}'");
    let client = StampedeClient::new(options(&mock, "{}")).unwrap();
    let error = rejects(client.send_incoming_event(good_event(), js("{ baseUrl: 'http://127.0.0.1:1' }")), "validation").await;
    assert_eq!(field_errors(&error), ["baseUrl"]);
    assert_eq!(mock.count(), 0);
}

#[wasm_bindgen_test]
async fn default_host_requires_token() {
    // No baseUrl: the default is the Stampede host, which needs a token. The
    // mock fetch makes sure nothing could leave the machine even so.
    let mock = Mock::replying(200, "'{\"message\":\"ok\",\"event\":{}}'");
    let options = Object::new();
    Reflect::set(&options, &"fetch".into(), &mock.fetch).unwrap();
    let error = rejects(send_incoming_event_js(good_event(), options.into()), "validation").await;
    assert_eq!(field_errors(&error), ["accessToken"]);
    assert_eq!(mock.count(), 0);
}

// ---------------------------------------------------------------------------
// The error class and the token

#[wasm_bindgen_test]
async fn rejection_is_a_stampede_error() {
    let mock = Mock::replying(404, "'{\"message\":\"Workflow not found.\"}'");
    let error = rejects(store_workflow_run_js("wf_x".into(), good_run(), options(&mock, "{}")), "not_found").await;
    assert!(error.is_instance_of::<js_sys::Error>(), "not instanceof Error");
    assert_eq!(text(&error, "name"), "StampedeError");
    assert_eq!(text(&get(&error, "constructor"), "name"), "StampedeError");
    let parent = js_with("return Object.getPrototypeOf(Object.getPrototypeOf(v)) === Error.prototype;", &error);
    assert_eq!(parent, JsValue::TRUE, "StampedeError does not extend Error directly");
    let string = js_with("return String(v);", &error).as_string().unwrap();
    assert!(string.starts_with("StampedeError: The server returned 404"), "{string}");
    assert!(get(&error, "stack").is_string(), "no stack");
    let json = JSON::parse(&stringify(&error)).unwrap();
    assert_eq!(text(&json, "name"), "StampedeError");
    assert_eq!(text(&json, "kind"), "not_found");
    assert_eq!(text(&json, "message"), text(&error, "message"));
    assert_eq!(number(&json, "status"), 404.0);
}

#[wasm_bindgen_test]
async fn echoed_token_absent_from_errors() {
    let plain = TOKEN;
    let php = TOKEN.replace('/', "\\\\/");
    let cases = [
        ("401 message", format!("return reply(401, JSON.stringify({{ message: 'Bad token {plain}', token: '{plain}' }}));"), "unauthorized"),
        ("401 with PHP escaping", format!("return reply(401, '{{\"message\":\"Bad token {php}\",\"token\":\"{php}\"}}');"), "unauthorized"),
        (
            "422 errors",
            format!("return reply(422, JSON.stringify({{ message: 'Invalid', errors: {{ token: ['Token {plain} is wrong'] }} }}));"),
            "unprocessable",
        ),
        ("HTML 500", format!("return reply(500, '<html>Authorization: Bearer {plain}</html>');"), "server"),
        ("2xx array", format!("return reply(200, JSON.stringify(['{plain}']));"), "invalid_response"),
        ("2xx text", format!("return reply(200, 'token={plain}');"), "invalid_response"),
        (
            "rejection that quotes the header",
            "return Promise.reject(new TypeError('failed with ' + new Headers(init.headers).get('authorization')));".to_string(),
            "network",
        ),
        (
            "rejection whose cause quotes the header",
            "return Promise.reject(new TypeError('fetch failed', { cause: { message: new Headers(init.headers).get('authorization') } }));".to_string(),
            "network",
        ),
    ];
    for (case, respond, kind) in &cases {
        let mock = Mock::new(respond);
        // `rejects` checks message, String(error) and JSON.stringify(error).
        let error = rejects(send_incoming_event_js(good_event(), options(&mock, "{}")), kind).await;
        assert!(!stringify(&get(&error, "body")).contains(TOKEN), "{case}: body {}", stringify(&get(&error, "body")));
        assert!(!stringify(&get(&error, "errors")).contains(TOKEN), "{case}: errors");
    }
}

#[wasm_bindgen_test]
async fn json_escaped_token_is_redacted() {
    // A quote, a slash and a backslash: JSON escapes all three when it echoes them.
    let token = r#"Q"7/k\x"#;
    let mock = Mock::with_context(
        r"return reply(401, JSON.stringify({ message: 'Bad token ' + ctx, token: ctx }).replace(/\//g, '\\/'));",
        &JsValue::from_str(token),
    );
    let options = options(&mock, "{}");
    Reflect::set(&options, &"accessToken".into(), &JsValue::from_str(token)).unwrap();
    let error = rejects(send_incoming_event_js(good_event(), options), "unauthorized").await;
    assert_eq!(text(&get(&mock.call(0), "headers"), "authorization"), format!("Bearer {token}"));
    let body = get(&error, "body");
    assert!(body.is_object(), "the JSON body is kept parsed: {}", stringify(&body));
    for rendered in [text(&error, "message"), text(&body, "message"), text(&body, "token"), stringify(&error)] {
        assert!(!rendered.contains(token), "the token is shown: {rendered}");
    }
}

#[wasm_bindgen_test]
async fn echoed_token_redacted_in_success_body() {
    // Plain, "\/"-escaped and JSON-escaped echoes, each read as a stream and with a Content-Length,
    // of a token with JSON punctuation and of one without.
    let bodies = [
        "JSON.stringify({ echo: ctx })",
        "JSON.stringify({ echo: ctx }).replace(/\\//g, '\\\\/')",
        "JSON.stringify({ nested: { echo: 'token ' + ctx + '.' } })",
    ];
    for token in [r#"Q"7/k\x"#, TOKEN] {
        for body in bodies {
            for length in [false, true] {
                let headers = if length { "{ 'content-length': String(new TextEncoder().encode(body).length) }" } else { "{}" };
                let mock = Mock::with_context(&format!("const body = {body}; return reply(200, body, {headers});"), &JsValue::from_str(token));
                let options = options(&mock, "{}");
                Reflect::set(&options, &"accessToken".into(), &JsValue::from_str(token)).unwrap();
                let result = resolves(send_incoming_event_js(good_event(), options)).await;
                let rendered = stringify(&result);
                let case = format!("{token} in {body} (content-length {length})");
                assert!(!rendered.contains("7/k"), "{case}: the first token is shown: {rendered}");
                assert!(!rendered.contains(TOKEN), "{case}: the second token is shown: {rendered}");
                assert!(rendered.contains("[redacted]"), "{case}: no marker in {rendered}");
            }
        }
    }
}

#[wasm_bindgen_test]
async fn clean_success_body_kept_whole() {
    let mock = Mock::replying(200, "JSON.stringify({ message: 'Event received.', list: [1, 'two', null], 'quote\"': '\\\\' })");
    let result = resolves(send_incoming_event_js(good_event(), options(&mock, "{}"))).await;
    assert_eq!(stringify(&result), r#"{"message":"Event received.","list":[1,"two",null],"quote\"":"\\"}"#);
}

#[wasm_bindgen_test]
async fn invalid_token_not_quoted() {
    let mock = Mock::replying(200, "'{}'");
    let bad = format!("{TOKEN}\\r\\n");
    let options = options(&mock, &format!("{{ accessToken: '{bad}' }}"));
    let error = rejects(send_incoming_event_js(good_event(), options.clone()), "validation").await;
    assert_eq!(field_errors(&error), ["accessToken"]);
    match StampedeClient::new(options) {
        Ok(_) => panic!("a token with CR LF was accepted"),
        Err(error) => check_stampede_error(&error, "validation"),
    }
    assert_eq!(mock.count(), 0);
}

#[wasm_bindgen_test]
fn client_without_token_throws() {
    for (case, options) in [("empty object", js("{}")), ("undefined", JsValue::UNDEFINED)] {
        let error = match StampedeClient::new(options) {
            Ok(_) => panic!("{case}: the client was created without a token"),
            Err(error) => error,
        };
        check_stampede_error(&error, "validation");
        assert_eq!(field_errors(&error), ["accessToken"], "{case}");
        assert_eq!(number(&error, "attempts"), 0.0, "{case}");
    }
}

#[wasm_bindgen_test]
fn client_rejects_request_only_options() {
    let mock = Mock::replying(200, "'{}'");
    let options = options(&mock, "{ signal: AbortSignal.abort() }");
    let error = StampedeClient::new(options).err().expect("signal is a per-call option");
    check_stampede_error(&error, "validation");
    assert_eq!(field_errors(&error), ["signal"]);
}

// ---------------------------------------------------------------------------
// Concurrency

#[wasm_bindgen_test]
async fn hundred_concurrent_client_calls_resolve() {
    // Each reply echoes the request after a short, varying delay, so the
    // calls overlap and finish out of order.
    let mock = Mock::new(
        "return new Promise(resolve => setTimeout(() => resolve(
           url.endsWith('/incoming-event')
             ? reply(200, JSON.stringify({ message: 'ok', event: JSON.parse(init.body) }))
             : reply(200, JSON.stringify({ data: { url } }))), (n * 7) % 13));",
    );
    let client = StampedeClient::new(options(&mock, "{}")).unwrap();
    let calls = Array::new();
    for index in 0..100u32 {
        let promise = if index % 2 == 0 {
            let event = js(&format!("{{ organisation_registration_id: '{ORG}', serials: ['S{index}'] }}"));
            client.send_incoming_event(event, JsValue::UNDEFINED)
        } else {
            client.store_workflow_run(format!("wf_{index}").into(), good_run(), JsValue::UNDEFINED)
        };
        calls.push(&promise);
    }
    // The calls hold their own copies of the settings, so they outlive the client.
    drop(client);

    let results: Array = resolves(Promise::all(&calls)).await.unchecked_into();
    assert_eq!(results.length(), 100);
    assert_eq!(mock.count(), 100);
    for (index, result) in results.iter().enumerate() {
        if index % 2 == 0 {
            assert_eq!(stringify(&get(&get(&result, "event"), "serials")), format!("[\"S{index}\"]"));
        } else {
            assert!(text(&get(&result, "data"), "url").ends_with(&format!("/wf_{index}/workflow-runs")), "{}", stringify(&result));
        }
    }
}
