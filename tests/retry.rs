#![cfg(not(target_arch = "wasm32"))]
//! The retry policy, the backoff delays and `Retry-After` parsing.

use stampede_workflows::{
    backoff_ms, invalid_body_error, parse_http_date, parse_retry_after, status_error, Error, ErrorKind, ErrorResponse, FieldErrors,
    RetryPolicy, BASE_DELAY_MS, MAX_BACKOFF_MS, MAX_RETRY_AFTER_MS,
};

/// 1994-11-06 08:49:37 UTC, the example date of RFC 9110, in milliseconds since the epoch.
const EXAMPLE_DATE_MS: u64 = 784_111_777_000;

/// The largest jitter below 1 that an f64 can hold.
const JITTER_NEAR_ONE: f64 = 1.0 - f64::EPSILON / 2.0;

const AMBIGUOUS: RetryPolicy = RetryPolicy {
    max_retries: 2,
    retry_ambiguous: true,
};

fn status(status: u16) -> Error {
    status_error(ErrorResponse { status, ..ErrorResponse::default() }, 1)
}

fn status_with_retry_after(status: u16, retry_after_ms: u64) -> Error {
    let response = ErrorResponse {
        status,
        retry_after_ms: Some(retry_after_ms),
        ..ErrorResponse::default()
    };
    status_error(response, 1)
}

fn failure(kind: ErrorKind) -> Error {
    let mut error = Error::new(kind, "The request failed.");
    error.attempts = 1;
    error
}

/// Returns the errors that are never retried, whatever the policy.
fn final_errors() -> Vec<(String, Error)> {
    let mut errors: Vec<(String, Error)> = [400, 401, 403, 404, 405, 409, 410, 418, 422, 423, 500, 501, 505, 599, 302]
        .into_iter()
        .map(|code| (code.to_string(), status(code)))
        .collect();
    errors.push(("aborted".into(), failure(ErrorKind::Aborted)));
    errors.push(("invalid_response".into(), invalid_body_error(200, 1)));
    errors.push(("validation".into(), Error::validation(FieldErrors::default())));
    errors
}

// Which failures are retried

#[test]
fn defaults_to_two_safe_retries() {
    assert_eq!(RetryPolicy::DEFAULT, RetryPolicy { max_retries: 2, retry_ambiguous: false });
    assert_eq!(RetryPolicy::default(), RetryPolicy::DEFAULT);
}

#[test]
fn retries_unprocessed_statuses_by_default() {
    for code in [408, 429, 503] {
        let error = status(code);

        assert!(RetryPolicy::DEFAULT.is_retryable(&error), "{code} by default");
        assert!(AMBIGUOUS.is_retryable(&error), "{code} with retryAmbiguous");
    }
}

#[test]
fn retries_ambiguous_failures_only_when_allowed() {
    let cases = [
        ("502", status(502)),
        ("504", status(504)),
        ("network", failure(ErrorKind::Network)),
        ("timeout", failure(ErrorKind::Timeout)),
    ];
    for (case, error) in cases {
        assert!(!RetryPolicy::DEFAULT.is_retryable(&error), "{case} by default");
        assert!(AMBIGUOUS.is_retryable(&error), "{case} with retryAmbiguous");
        assert_eq!(RetryPolicy::DEFAULT.delay_ms(&error, 0, 0.0), None, "{case} delay by default");
        assert!(AMBIGUOUS.delay_ms(&error, 0, 0.0).is_some(), "{case} delay with retryAmbiguous");
    }
}

#[test]
fn never_retries_final_failures() {
    for (case, error) in final_errors() {
        assert!(!RetryPolicy::DEFAULT.is_retryable(&error), "{case} by default");
        assert!(!AMBIGUOUS.is_retryable(&error), "{case} with retryAmbiguous");
        assert_eq!(AMBIGUOUS.delay_ms(&error, 0, 0.5), None, "{case} delay");
    }
}

#[test]
fn judges_timeouts_after_status_by_it() {
    // A status that arrived before the attempt timed out shows whether the server processed the request.
    let timed_out = |code| {
        let mut error = failure(ErrorKind::Timeout);
        error.status = Some(code);
        error
    };

    assert!(!AMBIGUOUS.is_retryable(&timed_out(200)), "a 200 was processed");
    assert!(RetryPolicy::DEFAULT.is_retryable(&timed_out(503)), "a 503 was not processed");
    assert!(!RetryPolicy::DEFAULT.is_retryable(&timed_out(504)), "a 504 only with retryAmbiguous");
    assert!(AMBIGUOUS.is_retryable(&timed_out(504)), "a 504 with retryAmbiguous");
}

#[test]
fn never_retries_aborted_calls_after_status() {
    for code in [200, 408, 429, 502, 503, 504] {
        let mut error = failure(ErrorKind::Aborted);
        error.status = Some(code);

        assert!(!AMBIGUOUS.is_retryable(&error), "{code}");
    }
}

#[test]
fn never_retries_final_status_with_retry_after() {
    for code in [400, 401, 403, 404, 422, 423, 500] {
        let error = status_with_retry_after(code, 1000);

        assert_eq!(AMBIGUOUS.delay_ms(&error, 0, 0.5), None, "{code}");
    }
}

#[test]
fn stops_after_max_retries() {
    let error = status(503);
    let cases = [(0, 0), (1, 1), (2, 2), (10, 10)];
    for (max_retries, expected_retries) in cases {
        let policy = RetryPolicy { max_retries, retry_ambiguous: false };

        let retries = (0..=max_retries + 1).take_while(|&done| policy.delay_ms(&error, done, 0.5).is_some()).count();

        assert_eq!(retries, expected_retries, "max_retries {max_retries}");
        assert_eq!(policy.delay_ms(&error, max_retries, 0.5), None, "retry after the last one");
    }
}

#[test]
fn sends_three_attempts_for_persistent_503() {
    let policy = RetryPolicy::DEFAULT;
    let mut attempts = 0;
    let mut waited_ms = 0;

    for retries_done in 0..100 {
        attempts += 1;
        match policy.delay_ms(&status(503), retries_done, 0.0) {
            Some(delay) => waited_ms += delay,
            None => break,
        }
    }

    assert_eq!(attempts, 3);
    assert_eq!(waited_ms, 125 + 250);
}

// Backoff

#[test]
fn bounds_backoff_for_each_retry() {
    let cases = [(1, 250), (2, 500), (3, 1000), (4, 2000), (5, 4000), (6, 8000), (7, 8000), (10, 8000), (100, 8000), (u32::MAX, 8000)];
    for (retry, step) in cases {
        let lowest = backoff_ms(retry, 0.0);
        let middle = backoff_ms(retry, 0.5);
        let highest = backoff_ms(retry, JITTER_NEAR_ONE);

        assert_eq!(lowest, step / 2, "retry {retry} with jitter 0");
        assert_eq!(middle, step * 3 / 4, "retry {retry} with jitter 0.5");
        assert!(highest < step, "retry {retry} near 1 gives {highest}, not below {step}");
        assert!(highest >= step - 1, "retry {retry} near 1 gives {highest}");
    }
}

#[test]
fn keeps_backoff_within_documented_limits() {
    for retry in 1..=20 {
        for step in 0..=100 {
            let jitter = f64::from(step) / 100.0;

            let delay = backoff_ms(retry, jitter);

            assert!(delay >= BASE_DELAY_MS / 2, "retry {retry} jitter {jitter}: {delay}");
            assert!(delay < MAX_BACKOFF_MS, "retry {retry} jitter {jitter}: {delay}");
        }
    }
}

#[test]
fn grows_backoff_with_each_retry() {
    for retry in 1..6 {
        assert!(backoff_ms(retry + 1, 0.0) > backoff_ms(retry, 0.0), "retry {retry}");
    }
}

#[test]
fn clamps_jitter_outside_unit_range() {
    let cases = [
        (-1.0, 125),
        (f64::NAN, 125),
        (f64::NEG_INFINITY, 125),
        (f64::INFINITY, 125),
        (1.0, 249),
        (7.5, 249),
    ];
    for (jitter, expected) in cases {
        assert_eq!(backoff_ms(1, jitter), expected, "jitter {jitter}");
    }
}

#[test]
fn treats_retry_zero_as_first() {
    assert_eq!(backoff_ms(0, 0.0), backoff_ms(1, 0.0));
}

#[test]
fn uses_backoff_for_next_retry_number() {
    let error = status(429);

    assert_eq!(AMBIGUOUS.delay_ms(&error, 0, 0.0), Some(125));
    assert_eq!(AMBIGUOUS.delay_ms(&error, 1, 0.0), Some(250));
    assert_eq!(AMBIGUOUS.delay_ms(&error, 1, JITTER_NEAR_ONE), Some(499));
}

// Retry-After in the policy

#[test]
fn honours_retry_after_up_to_cap() {
    let cases = [0, 1, 1500, 29_999, MAX_RETRY_AFTER_MS];
    for wait in cases {
        for code in [408, 429, 503] {
            let error = status_with_retry_after(code, wait);

            assert_eq!(RetryPolicy::DEFAULT.delay_ms(&error, 0, 0.0), Some(wait), "{code} asking {wait} ms");
            assert_eq!(RetryPolicy::DEFAULT.delay_ms(&error, 1, JITTER_NEAR_ONE), Some(wait), "{code} asking {wait} ms, second retry");
        }
    }
}

#[test]
fn stops_when_retry_after_exceeds_cap() {
    for wait in [MAX_RETRY_AFTER_MS + 1, 60_000, u64::MAX] {
        let error = status_with_retry_after(429, wait);

        assert_eq!(RetryPolicy::DEFAULT.delay_ms(&error, 0, 0.0), None, "{wait} ms");
        assert_eq!(error.retry_after_ms, Some(wait), "the caller still learns the delay");
    }
}

#[test]
fn ambiguous_retry_after_needs_opt_in() {
    let error = status_with_retry_after(502, 2000);

    assert_eq!(RetryPolicy::DEFAULT.delay_ms(&error, 0, 0.0), None);
    assert_eq!(AMBIGUOUS.delay_ms(&error, 0, 0.0), Some(2000));
}

#[test]
fn ignores_retry_after_once_retries_are_spent() {
    let error = status_with_retry_after(503, 1000);

    assert_eq!(RetryPolicy::DEFAULT.delay_ms(&error, 2, 0.0), None);
}

// Retry-After parsing

#[test]
fn parses_retry_after_seconds() {
    let cases = [
        ("0", 0),
        ("1", 1000),
        ("120", 120_000),
        (" 5 ", 5000),
        ("\t30\r\n", 30_000),
        ("007", 7000),
        ("18446744073709551", 18_446_744_073_709_551_000),
    ];
    for (value, expected) in cases {
        assert_eq!(parse_retry_after(value, EXAMPLE_DATE_MS), Some(expected), "{value:?}");
    }
}

#[test]
fn saturates_huge_retry_after() {
    let cases = ["18446744073709552", "18446744073709551615", "99999999999999999999999999999999999999"];
    for value in cases {
        assert_eq!(parse_retry_after(value, 0), Some(u64::MAX), "{value}");
    }
}

#[test]
fn rejects_garbage_retry_after() {
    let cases = ["", " ", "-1", "+1", "1.5", "1e3", "0x10", "soon", "5 seconds", "5s", "١٢", "1 2", "Sun, 06 Nov 1994"];
    for value in cases {
        assert_eq!(parse_retry_after(value, EXAMPLE_DATE_MS), None, "{value:?}");
    }
}

#[test]
fn parses_all_three_http_date_forms() {
    let cases = [
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
        "Sun Nov 06 08:49:37 1994",
        "  Sun, 06 Nov 1994 08:49:37 GMT  ",
    ];
    for value in cases {
        assert_eq!(parse_http_date(value), Some(EXAMPLE_DATE_MS), "{value:?}");
    }
}

#[test]
fn converts_http_dates_to_epoch_ms() {
    let cases = [
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0),
        ("Sat, 01 Jan 2000 00:00:00 GMT", 946_684_800_000),
        ("Tue, 29 Feb 2000 12:00:00 GMT", 951_825_600_000),
        ("Thu, 29 Feb 2024 00:00:00 GMT", 1_709_164_800_000),
        ("Sat, 01 Mar 2025 00:00:00 GMT", 1_740_787_200_000),
        ("Sat, 31 Dec 2016 23:59:59 GMT", 1_483_228_799_000),
        ("Sat, 31 Dec 2016 23:59:60 GMT", 1_483_228_800_000),
        ("Fri, 31 Dec 9999 23:59:59 GMT", 253_402_300_799_000),
        ("Thursday, 01-Jan-70 00:00:00 GMT", 0),
        ("Saturday, 01-Jan-00 00:00:00 GMT", 946_684_800_000),
        ("Tuesday, 01-Jan-69 00:00:00 GMT", 3_124_224_000_000),
        ("Sunday, 06-Nov-1994 08:49:37 GMT", EXAMPLE_DATE_MS),
        ("Thu Jan  1 00:00:00 1970", 0),
        ("Thu Feb 29 00:00:00 2024", 1_709_164_800_000),
    ];
    for (value, expected) in cases {
        assert_eq!(parse_http_date(value), Some(expected), "{value:?}");
    }
}

#[test]
fn counts_retry_after_date_from_now() {
    let future = parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", EXAMPLE_DATE_MS - 30_000);
    let asctime = parse_retry_after("Sun Nov  6 08:49:37 1994", EXAMPLE_DATE_MS - 1500);
    let rfc850 = parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", EXAMPLE_DATE_MS - 90_000);

    assert_eq!(future, Some(30_000));
    assert_eq!(asctime, Some(1500));
    assert_eq!(rfc850, Some(90_000));
}

#[test]
fn reads_past_or_current_date_as_zero() {
    let cases = [EXAMPLE_DATE_MS, EXAMPLE_DATE_MS + 1, EXAMPLE_DATE_MS + 86_400_000, u64::MAX];
    for now_ms in cases {
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now_ms), Some(0), "now {now_ms}");
    }
}

#[test]
fn rejects_invalid_http_dates() {
    let cases = [
        "",
        "GMT",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 06 November 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 32 Nov 1994 08:49:37 GMT",
        "Sun, 31 Nov 1994 08:49:37 GMT",
        "Sat, 29 Feb 2025 00:00:00 GMT",
        "Thu, 30 Feb 2024 00:00:00 GMT",
        "Mon, 29 Feb 1900 00:00:00 GMT",
        "Sun, 06 Nov 1969 08:49:37 GMT",
        "Sun, 06 Nov 10000 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 06 Nov 1994 08:49 GMT",
        "Sun, 06 Nov 1994 08:49:37:00 GMT",
        "Sun, 06 Nov 1994 08:49:-1 GMT",
        "Sun, +6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov +1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 +8:49:37 GMT",
        "Sun, 06 Nov 1994 08::37 GMT",
        "Sun, 6.5 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov 08:49:37 GMT",
        "Sunday, 06-Nov-94-01 08:49:37 GMT",
        "Sunday, 06-Nov-194 08:49:37 GMT",
        "Sunday, 06-Nov-+9 08:49:37 GMT",
        "Sunday, 31-Apr-94 08:49:37 GMT",
        "Sun Nov 31 08:49:37 1994",
        "Sun Nov  6 08:49:37",
        "Sun Nov  6 08:49:37 1994 GMT extra",
        "😀😀😀 😀 😀 😀",
        "Sun, 99999999999999999999 Nov 1994 08:49:37 GMT",
    ];
    for value in cases {
        assert_eq!(parse_http_date(value), None, "{value:?}");
        assert_eq!(parse_retry_after(value, 0), None, "{value:?} as Retry-After");
    }
}
