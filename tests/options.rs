#![cfg(not(target_arch = "wasm32"))]
//! Client and request options: keys, scopes, the base URL, the token, limits and headers.

mod common;
use common::*;

use stampede_workflows::{
    is_loopback, parse_base_url, parse_overrides, parse_settings, FieldErrors, Overrides, RetryPolicy, Scope, Settings, Value,
    DEFAULT_BASE_URL, DEFAULT_TIMEOUT_MS, MAX_RETRIES_LIMIT, MAX_TIMEOUT_MS,
};

const RELAY: &str = "https://relay.example.com";

fn settings(options: Value, scope: Scope) -> Settings {
    match parse_settings(&options, scope) {
        Ok(settings) => settings,
        Err(errors) => panic!("expected valid options, got {errors:?}"),
    }
}

fn settings_errors(options: Value, scope: Scope) -> FieldErrors {
    match parse_settings(&options, scope) {
        Ok(settings) => panic!("expected option errors, but got {settings:?}"),
        Err(errors) => errors,
    }
}

/// Builds options for a relay host, which needs no token, plus one more option.
fn relay_with(key: &str, value: Value) -> Value {
    object(vec![("baseUrl", text(RELAY)), (key, value)])
}

fn all_messages(errors: &FieldErrors) -> String {
    errors.iter().flat_map(|(_, messages)| messages.iter().cloned()).collect::<Vec<_>>().join("\n")
}

// Defaults and scopes

#[test]
fn fills_in_defaults() {
    let parsed = settings(object(vec![("accessToken", text(TOKEN))]), Scope::Client);

    assert_eq!(parsed.base_url, DEFAULT_BASE_URL);
    assert_eq!(parsed.access_token.as_deref(), Some(TOKEN));
    assert_eq!(parsed.headers, Vec::<(String, String)>::new());
    assert_eq!(parsed.timeout_ms, DEFAULT_TIMEOUT_MS);
    assert_eq!(parsed.retry, RetryPolicy::DEFAULT);
    assert_eq!(parsed.retry.max_retries, 2);
    assert!(!parsed.retry.retry_ambiguous);
}

#[test]
fn requires_token_for_default_host() {
    for options in [Value::Undefined, Value::Null, object(vec![])] {
        let errors = settings_errors(options, Scope::OneOff);

        assert_single(&errors, "accessToken", "The accessToken option is required when baseUrl is the Stampede API", "no token");
    }
}

#[test]
fn rejects_options_that_are_not_object() {
    let cases = [(text("token"), "a string"), (Value::Array(Vec::new()), "an array"), (Value::Bool(true), "a boolean")];
    for (options, described) in cases {
        let settings = settings_errors(options.clone(), Scope::Client);
        let overrides = parse_overrides(&options);

        let message = format!("The options argument must be an object, but it is {described}.");
        assert_single(&settings, "options", &message, described);
        assert_eq!(overrides.map_err(|errors| errors.get("options").to_vec()), Err(vec![message]));
    }
}

#[test]
fn rejects_unknown_option_naming_known_ones() {
    let errors = settings_errors(relay_with("timeout", Value::Number(5.0)), Scope::Client);
    let one_off = settings_errors(relay_with("base_url", text(RELAY)), Scope::OneOff);
    let request = parse_overrides(&object(vec![("retries", Value::Number(1.0))]));

    assert_single(
        &errors,
        "timeout",
        "The timeout option is not recognised; the options are accessToken, baseUrl, fetch, headers, maxRetries, retryAmbiguous, timeoutMs, totalTimeoutMs.",
        "client",
    );
    assert_single(
        &one_off,
        "base_url",
        "the options are accessToken, baseUrl, fetch, headers, maxRetries, retryAmbiguous, signal, timeoutMs, totalTimeoutMs.",
        "one-off",
    );
    assert_eq!(
        request.map_err(|errors| errors.get("retries").to_vec()),
        Err(vec!["The retries option is not recognised; the options are maxRetries, retryAmbiguous, signal, timeoutMs, totalTimeoutMs.".to_string()])
    );
}

#[test]
fn rejects_request_option_on_client() {
    let errors = settings_errors(relay_with("signal", Value::Unsupported("an AbortSignal")), Scope::Client);

    assert_single(&errors, "signal", "The signal option can only be passed to a single call, not to the StampedeClient.", "signal");
}

#[test]
fn rejects_client_options_on_request() {
    let client_only = ["accessToken", "baseUrl", "fetch", "headers"];
    for key in client_only {
        let errors = parse_overrides(&object(vec![(key, text("x"))]));

        let expected = format!("The {key} option can only be set when the StampedeClient is created.");
        assert_eq!(errors.map_err(|errors| errors.get(key).to_vec()), Err(vec![expected]), "{key}");
    }
}

#[test]
fn accepts_every_option_in_one_off_scope() {
    let options = object(vec![
        ("accessToken", text(TOKEN)),
        ("baseUrl", text(RELAY)),
        ("timeoutMs", Value::Number(5000.0)),
        ("maxRetries", Value::Number(4.0)),
        ("retryAmbiguous", Value::Bool(true)),
        ("fetch", Value::Unsupported("a function")),
        ("headers", object(vec![("X-Request-Id", text("42"))])),
        ("signal", Value::Unsupported("an AbortSignal")),
    ]);

    let parsed = settings(options, Scope::OneOff);

    assert_eq!(parsed.base_url, RELAY);
    assert_eq!(parsed.timeout_ms, 5000);
    assert_eq!(parsed.retry, RetryPolicy { max_retries: 4, retry_ambiguous: true });
    assert_eq!(parsed.headers, vec![("X-Request-Id".to_string(), "42".to_string())]);
}

#[test]
fn reports_every_option_error_at_once() {
    let options = object(vec![
        ("baseUrl", text("http://example.com")),
        ("accessToken", text("a b")),
        ("timeoutMs", Value::Number(0.0)),
        ("maxRetries", Value::Number(-1.0)),
        ("retryAmbiguous", text("yes")),
        ("headers", object(vec![("Accept", text("text/html"))])),
        ("colour", text("red")),
    ]);

    let errors = settings_errors(options, Scope::Client);

    assert_eq!(keys(&errors), vec!["colour", "baseUrl", "accessToken", "headers.Accept", "timeoutMs", "maxRetries", "retryAmbiguous"]);
}

// Request overrides

#[test]
fn parses_request_overrides() {
    let options = object(vec![
        ("timeoutMs", Value::Number(1000.0)),
        ("maxRetries", Value::Number(0.0)),
        ("retryAmbiguous", Value::Bool(false)),
        ("totalTimeoutMs", Value::Number(5000.0)),
        ("signal", Value::Unsupported("an AbortSignal")),
    ]);

    let overrides = parse_overrides(&options);

    assert_eq!(
        overrides,
        Ok(Overrides {
            timeout_ms: Some(1000),
            total_timeout_ms: Some(5000),
            max_retries: Some(0),
            retry_ambiguous: Some(false),
        })
    );
}

#[test]
fn treats_absent_overrides_as_none() {
    for options in [Value::Undefined, Value::Null, object(vec![]), object(vec![("timeoutMs", Value::Null)])] {
        assert_eq!(parse_overrides(&options), Ok(Overrides::default()), "{options:?}");
    }
}

#[test]
fn applies_overrides_to_settings() {
    let client = settings(object(vec![("accessToken", text(TOKEN))]), Scope::Client);
    let overrides = Overrides {
        timeout_ms: Some(10),
        total_timeout_ms: Some(100),
        max_retries: Some(7),
        retry_ambiguous: Some(true),
    };

    let changed = client.with_overrides(overrides);
    let unchanged = client.with_overrides(Overrides::default());

    assert_eq!(changed.timeout_ms, 10);
    assert_eq!(changed.total_timeout_ms, Some(100));
    assert_eq!(changed.retry, RetryPolicy { max_retries: 7, retry_ambiguous: true });
    assert_eq!(changed.access_token, client.access_token);
    assert_eq!(changed.base_url, client.base_url);
    assert_eq!(unchanged, client);
}

#[test]
fn accepts_timeout_in_range() {
    let cases = [(1.0, 1), (30_000.0, 30_000), (f64::from(MAX_TIMEOUT_MS), MAX_TIMEOUT_MS)];
    for (given, expected) in cases {
        let parsed = settings(relay_with("timeoutMs", Value::Number(given)), Scope::Client);

        assert_eq!(parsed.timeout_ms, expected, "timeoutMs {given}");
    }
}

#[test]
fn rejects_timeout_out_of_range_or_type() {
    let cases = [
        (Value::Number(0.0), "but it is 0."),
        (Value::Number(-1.0), "but it is -1."),
        (Value::Number(1.5), "but it is not a whole number."),
        (Value::Number(f64::from(MAX_TIMEOUT_MS) + 1.0), "but it is 2147483648."),
        (Value::Number(1e21), "but it is far outside that range."),
        (Value::Number(f64::NAN), "but it is NaN."),
        (Value::Number(f64::INFINITY), "but it is an infinite number."),
        (text("1000"), "but it is a string."),
        (Value::Bool(true), "but it is a boolean."),
    ];
    for (value, fragment) in cases {
        let errors = settings_errors(relay_with("timeoutMs", value.clone()), Scope::Client);
        let overrides = parse_overrides(&object(vec![("timeoutMs", value)])).map_err(|errors| errors.get("timeoutMs").to_vec());

        assert_single(&errors, "timeoutMs", "The timeoutMs option must be a whole number of milliseconds from 1 to 2147483647", fragment);
        assert_single(&errors, "timeoutMs", fragment, fragment);
        assert_eq!(overrides, Err(errors.get("timeoutMs").to_vec()), "{fragment}");
    }
}

#[test]
fn accepts_max_retries_in_range() {
    let cases = [(0.0, 0), (-0.0, 0), (1.0, 1), (f64::from(MAX_RETRIES_LIMIT), MAX_RETRIES_LIMIT)];
    for (given, expected) in cases {
        let parsed = settings(relay_with("maxRetries", Value::Number(given)), Scope::Client);

        assert_eq!(parsed.retry.max_retries, expected, "maxRetries {given}");
    }
}

#[test]
fn rejects_max_retries_out_of_range_or_type() {
    let cases = [
        (Value::Number(-1.0), "but it is -1."),
        (Value::Number(11.0), "but it is 11."),
        (Value::Number(2.5), "but it is not a whole number."),
        (Value::Number(f64::NAN), "but it is NaN."),
        (Value::Number(f64::NEG_INFINITY), "but it is an infinite number."),
        (text("2"), "but it is a string."),
        (Value::Unsupported("a BigInt"), "but it is a BigInt."),
    ];
    for (value, fragment) in cases {
        let errors = settings_errors(relay_with("maxRetries", value.clone()), Scope::Client);
        let overrides = parse_overrides(&object(vec![("maxRetries", value)])).map_err(|errors| errors.get("maxRetries").to_vec());

        assert_single(&errors, "maxRetries", "The maxRetries option must be a whole number from 0 to 10", fragment);
        assert_single(&errors, "maxRetries", fragment, fragment);
        assert_eq!(overrides, Err(errors.get("maxRetries").to_vec()), "{fragment}");
    }
}

#[test]
fn rejects_retry_ambiguous_that_is_not_boolean() {
    let cases = [(text("true"), "a string"), (Value::Number(1.0), "a number"), (object(vec![]), "an object")];
    for (value, described) in cases {
        let errors = settings_errors(relay_with("retryAmbiguous", value), Scope::Client);

        assert_single(&errors, "retryAmbiguous", &format!("The retryAmbiguous option must be a boolean, but it is {described}."), described);
    }
}

// Access token

#[test]
fn strips_bearer_prefix_from_token() {
    let cases = [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("BEARER abc", "abc"),
        ("Bearerabc", "Bearerabc"),
        ("abc.def-ghi_jkl~", "abc.def-ghi_jkl~"),
        ("Bearer Bearer", "Bearer"),
    ];
    for (given, stored) in cases {
        let parsed = settings(relay_with("accessToken", text(given)), Scope::Client);

        assert_eq!(parsed.access_token.as_deref(), Some(stored), "token {given:?}");
    }
}

#[test]
fn rejects_token_with_whitespace_or_control_chars() {
    let cases = [
        "SECRET token",
        "SECRET\ttoken",
        "SECRET\ntoken",
        "SECRET\rtoken",
        "SECRET\0token",
        "SECRET\u{7f}token",
        " SECRETtoken",
        "SECRETtoken ",
        "SECRETtoken\n",
        "Bearer  SECRETtoken",
        "Bearer\tSECRETtoken",
        "SECRETtökén",
        "SECRET\u{a0}token",
    ];
    for token in cases {
        let errors = settings_errors(relay_with("accessToken", text(token)), Scope::Client);

        assert_single(&errors, "accessToken", "must contain only visible ASCII characters, without whitespace or control characters", token);
        assert!(!all_messages(&errors).contains("SECRET"), "message quotes the token {token:?}");
    }
}

#[test]
fn rejects_empty_token() {
    for token in ["", "Bearer ", "bearer "] {
        let errors = settings_errors(relay_with("accessToken", text(token)), Scope::Client);

        assert_single(&errors, "accessToken", "The accessToken option must not be empty.", token);
    }
}

#[test]
fn rejects_token_that_is_not_string() {
    let cases = [(Value::Number(123.0), "a number"), (Value::Bool(true), "a boolean"), (object(vec![]), "an object")];
    for (value, described) in cases {
        let errors = settings_errors(relay_with("accessToken", value), Scope::Client);

        assert_single(&errors, "accessToken", &format!("The accessToken option must be a string, but it is {described}."), described);
    }
}

#[test]
fn reports_bad_token_once_for_stampede_host() {
    let errors = settings_errors(object(vec![("accessToken", text("a b"))]), Scope::Client);

    assert_single(&errors, "accessToken", "visible ASCII", "bad token on the default host");
}

#[test]
fn requires_token_only_for_stampede_hosts() {
    let needs_token = [
        "https://global.stampede.ai",
        "https://stampede.ai",
        "https://api.stampede.ai/prefix",
        "https://GLOBAL.Stampede.AI",
        "https://global.stampede.ai:443",
        "https://global.stampede.ai.",
    ];
    let no_token = [
        "https://relay.example.com",
        "https://notstampede.ai",
        "https://stampede.ai.example.com",
        "https://stampede.aix",
        "http://localhost:8080",
    ];
    for url in needs_token {
        let errors = settings_errors(object(vec![("baseUrl", text(url))]), Scope::Client);

        assert_single(&errors, "accessToken", "is required when baseUrl is the Stampede API", url);
    }
    for url in no_token {
        let parsed = settings(object(vec![("baseUrl", text(url))]), Scope::Client);

        assert_eq!(parsed.access_token, None, "{url}");
    }
}

#[test]
fn hides_token_in_settings_debug() {
    for token in [TOKEN, "Bearer sk_live_SECRET123"] {
        let parsed = settings(object(vec![("accessToken", text(token))]), Scope::Client);

        let compact = format!("{parsed:?}");
        let pretty = format!("{parsed:#?}");

        assert!(!compact.contains("SECRET"), "{compact}");
        assert!(!pretty.contains("SECRET"), "{pretty}");
        assert!(compact.contains("[redacted]"), "{compact}");
        assert!(compact.contains(DEFAULT_BASE_URL), "{compact}");
    }
}

// Base URL

#[test]
fn accepts_and_normalises_base_urls() {
    let cases = [
        ("https://global.stampede.ai", "https://global.stampede.ai"),
        ("https://global.stampede.ai/", "https://global.stampede.ai"),
        ("https://relay.example.com/stampede", "https://relay.example.com/stampede"),
        ("https://relay.example.com/stampede/", "https://relay.example.com/stampede"),
        ("https://relay.example.com/a/b///", "https://relay.example.com/a/b"),
        ("https://relay.example.com//", "https://relay.example.com"),
        ("HTTPS://Relay.Example.COM/Path", "https://relay.example.com/Path"),
        ("https://relay.example.com:8443/api", "https://relay.example.com:8443/api"),
        ("https://relay.example.com:65535", "https://relay.example.com:65535"),
        ("https://relay.example.com:1", "https://relay.example.com:1"),
        ("https://my_relay-1.example.com", "https://my_relay-1.example.com"),
        ("https://relay.example.com/...", "https://relay.example.com/..."),
        ("https://relay.example.com/.well-known", "https://relay.example.com/.well-known"),
        ("https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443"),
        ("https://10.0.0.1", "https://10.0.0.1"),
        ("http://localhost", "http://localhost"),
        ("http://LOCALHOST:3000/api/", "http://localhost:3000/api"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.255.255.254", "http://127.255.255.254"),
        ("http://127.0.0.01", "http://127.0.0.01"),
        ("http://[::1]", "http://[::1]"),
        ("http://[::1]:9000/relay", "http://[::1]:9000/relay"),
        ("http://[0:0:0:0:0:0:0:1]", "http://[0:0:0:0:0:0:0:1]"),
        ("HTTP://localhost", "http://localhost"),
    ];
    for (given, expected) in cases {
        let parsed = parse_base_url(given).map(|base| base.url);
        let via_options = settings(object(vec![("baseUrl", text(given)), ("accessToken", text(TOKEN))]), Scope::Client);

        assert_eq!(parsed.as_deref(), Ok(expected), "{given}");
        assert_eq!(via_options.base_url, expected, "{given} via options");
    }
}

#[test]
fn flags_stampede_host() {
    let cases = [
        ("https://global.stampede.ai", true),
        ("https://stampede.ai/v2", true),
        ("https://x.y.stampede.ai", true),
        ("https://global.stampede.ai.", true),
        ("https://global.stampede.ai.:443/", true),
        ("https://evilstampede.ai", false),
        ("https://stampede.ai.evil.com", false),
        ("https://relay.example.com", false),
    ];
    for (url, expected) in cases {
        assert_eq!(parse_base_url(url).map(|base| base.is_stampede_host), Ok(expected), "{url}");
    }
}

#[test]
fn rejects_invalid_base_urls() {
    let cases = [
        ("", "must be an absolute http or https URL"),
        ("global.stampede.ai", "must be an absolute http or https URL, such as https://global.stampede.ai."),
        ("ftp://example.com", "must be an absolute http or https URL"),
        ("//example.com", "must be an absolute http or https URL"),
        ("https:/example.com", "must be an absolute http or https URL"),
        ("https:example.com", "must be an absolute http or https URL"),
        ("javascript://alert(1)", "must be an absolute http or https URL"),
        ("http://example.com", "must use https unless the host is loopback"),
        ("http://global.stampede.ai", "must use https unless the host is loopback"),
        ("http://10.0.0.1", "must use https unless the host is loopback"),
        ("http://128.0.0.1", "must use https unless the host is loopback"),
        ("http://127.0.0.256", "must use https unless the host is loopback"),
        ("http://127.0.0.1.example.com", "must use https unless the host is loopback"),
        ("http://localhost.example.com", "must use https unless the host is loopback"),
        ("http://[::2]", "must use https unless the host is loopback"),
        ("https://global.stampede.ai/v1", "must not end in /v1"),
        ("https://relay.example.com/stampede/V1/", "must not end in /v1"),
        ("https://example.com?x=1", "must not contain a query or a fragment"),
        ("https://example.com/?", "must not contain a query or a fragment"),
        ("https://example.com/#top", "must not contain a query or a fragment"),
        ("https://example.com#", "must not contain a query or a fragment"),
        ("https://user:pass@example.com", "must not contain a user name or password"),
        ("https://user@example.com", "must not contain a user name or password"),
        ("https://@example.com", "must not contain a user name or password"),
        ("https://example.com\\@evil.com", "must not contain a backslash"),
        ("https://example.com/a\\b", "must not contain a backslash"),
        ("https://example.com/a/../b", "must not contain \".\" or \"..\" path segments"),
        ("https://example.com/a/./b", "must not contain \".\" or \"..\" path segments"),
        ("https://example.com/..", "must not contain \".\" or \"..\" path segments"),
        ("https://example.com/%2e%2e/x", "must not contain \".\" or \"..\" path segments"),
        ("https://example.com/%2E/x", "must not contain \".\" or \"..\" path segments"),
        ("https://example.com/.%2E", "must not contain \".\" or \"..\" path segments"),
        ("https://example.com:0", "has an invalid host or port"),
        ("https://example.com:65536", "has an invalid host or port"),
        ("https://example.com:123456", "has an invalid host or port"),
        ("https://example.com:", "has an invalid host or port"),
        ("https://example.com:abc", "has an invalid host or port"),
        ("https://example.com:-1", "has an invalid host or port"),
        ("https://example.com:80:80", "has an invalid host or port"),
        ("https://", "has an invalid host or port"),
        ("https:///path", "has an invalid host or port"),
        ("https://.example.com", "has an invalid host or port"),
        ("https://a..b", "has an invalid host or port"),
        ("https://ex%41mple.com", "has an invalid host or port"),
        ("https://[::1", "has an invalid host or port"),
        ("https://[]", "has an invalid host or port"),
        ("https://[::1]x", "has an invalid host or port"),
        ("https://[zz::1]", "has an invalid host or port"),
        ("https://::1", "has an invalid host or port"),
        ("https://exa mple.com", "without spaces, control characters or non-ASCII characters"),
        ("https://exämple.com", "without spaces, control characters or non-ASCII characters"),
        ("https://example.com\n", "without spaces, control characters or non-ASCII characters"),
        (" https://example.com", "without spaces, control characters or non-ASCII characters"),
    ];
    for (url, fragment) in cases {
        let parsed = parse_base_url(url);
        let errors = settings_errors(object(vec![("baseUrl", text(url)), ("accessToken", text(TOKEN))]), Scope::Client);

        assert!(parsed.as_ref().is_err_and(|problem| problem.contains(fragment)), "{url}: {parsed:?}");
        assert_single(&errors, "baseUrl", "The baseUrl option ", url);
        assert_single(&errors, "baseUrl", fragment, url);
    }
}

#[test]
fn rejects_base_url_that_is_not_string() {
    let cases = [(Value::Number(1.0), "a number"), (Value::Bool(true), "a boolean"), (object(vec![]), "an object")];
    for (value, described) in cases {
        let errors = settings_errors(object(vec![("baseUrl", value), ("accessToken", text(TOKEN))]), Scope::Client);

        assert_single(&errors, "baseUrl", &format!("The baseUrl option must be a URL string, but it is {described}."), described);
    }
}

#[test]
fn uses_default_base_url_when_null() {
    let parsed = settings(object(vec![("baseUrl", Value::Null), ("accessToken", text(TOKEN))]), Scope::Client);

    assert_eq!(parsed.base_url, DEFAULT_BASE_URL);
}

#[test]
fn recognises_loopback_hosts() {
    let loopback = ["localhost", "127.0.0.1", "127.0.0.0", "127.1.2.3", "127.255.255.255", "[::1]", "[0:0:0:0:0:0:0:1]"];
    let not_loopback = [
        "",
        "localhost.",
        "localhost.example.com",
        "127.0.0",
        "127.0.0.1.1",
        "127.0.0.256",
        "127.0.0.1000",
        "127..0.1",
        "127.0.0.+1",
        "128.0.0.1",
        "0.0.0.0",
        "::1",
        "[::2]",
        "example.com",
    ];
    for host in loopback {
        assert!(is_loopback(host), "{host} should be loopback");
    }
    for host in not_loopback {
        assert!(!is_loopback(host), "{host} should not be loopback");
    }
}

// Headers

#[test]
fn keeps_custom_headers_in_order() {
    let headers = object(vec![
        ("X-Request-Id", text("42")),
        ("x-trace", text("a b  c")),
        ("X-Empty", text("")),
        ("X-Symbols", text("!#$%&'*+-.^_`|~\"(),/:;<=>?@[\\]{}")),
    ]);

    let parsed = settings(relay_with("headers", headers), Scope::Client);

    let expected: Vec<(String, String)> = [
        ("X-Request-Id", "42"),
        ("x-trace", "a b  c"),
        ("X-Empty", ""),
        ("X-Symbols", "!#$%&'*+-.^_`|~\"(),/:;<=>?@[\\]{}"),
    ]
    .iter()
    .map(|(name, value)| (name.to_string(), value.to_string()))
    .collect();
    assert_eq!(parsed.headers, expected);
}

#[test]
fn rejects_reserved_header_names() {
    let cases = ["Authorization", "authorization", "AUTHORIZATION", "Content-Type", "content-type", "Accept", "ACCEPT", "Content-Length", "Host"];
    for name in cases {
        let errors = settings_errors(relay_with("headers", object(vec![(name, text("x"))])), Scope::Client);

        let key = format!("headers.{name}");
        assert_single(&errors, &key, &format!("The {name} header is set by the package and cannot be replaced"), name);
    }
}

#[test]
fn points_authorization_header_to_token_option() {
    let errors = settings_errors(relay_with("headers", object(vec![("Authorization", text("Bearer x"))])), Scope::Client);

    assert_single(&errors, "headers.Authorization", "pass the token as the accessToken option", "Authorization");
    assert!(!all_messages(&errors).contains("Bearer x"));
}

#[test]
fn rejects_control_chars_in_header_values() {
    let cases = ["a\rb", "a\nb", "a\0b", "a\r\nX-Injected: 1", "a\tb", "a\u{7f}", "café", " padded", "padded "];
    for value in cases {
        let errors = settings_errors(relay_with("headers", object(vec![("X-Custom", text(value))])), Scope::Client);

        assert_single(&errors, "headers.X-Custom", "without CR, LF or other control characters", value);
        assert!(!all_messages(&errors).contains(value), "message quotes the value {value:?}");
    }
}

#[test]
fn rejects_header_names_differing_only_in_case() {
    let headers = object(vec![("X-Trace", text("1")), ("x-trace", text("2")), ("X-TRACE", text("3"))]);

    let errors = settings_errors(relay_with("headers", headers), Scope::Client);

    assert_eq!(keys(&errors), vec!["headers.x-trace", "headers.X-TRACE"]);
    assert_eq!(errors.get("headers.x-trace"), ["The x-trace header is given twice with different letter case."]);
}

#[test]
fn rejects_invalid_header_names() {
    let cases = ["", "X Y", "X:Y", "Xé", "X\nY", "(X)", "X/Y"];
    for name in cases {
        let errors = settings_errors(relay_with("headers", object(vec![(name, text("v"))])), Scope::Client);

        let key = format!("headers.{name}");
        assert_single(&errors, &key, "is invalid; a header name is a non-empty token such as X-Request-Id.", name);
    }
}

#[test]
fn rejects_header_value_that_is_not_string() {
    let cases = [(Value::Number(1.0), "a number"), (Value::Null, "null"), (Value::Bool(true), "a boolean")];
    for (value, described) in cases {
        let errors = settings_errors(relay_with("headers", object(vec![("X-Count", value)])), Scope::Client);

        assert_single(&errors, "headers.X-Count", &format!("The X-Count header value must be a string, but it is {described}."), described);
    }
}

#[test]
fn rejects_headers_that_are_not_object() {
    let cases = [(text("X-A: 1"), "a string"), (Value::Array(vec![text("X-A")]), "an array")];
    for (value, described) in cases {
        let errors = settings_errors(relay_with("headers", value), Scope::Client);

        assert_single(&errors, "headers", &format!("but it is {described}."), described);
    }
}

#[test]
fn treats_null_headers_as_none() {
    let parsed = settings(relay_with("headers", Value::Null), Scope::Client);

    assert!(parsed.headers.is_empty());
}
