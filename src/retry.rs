//! The retry policy: which failures are sent again, and after how long.
//!
//! # Limitations
//!
//! A network failure, a timeout, a 502 or a 504 can follow a request that the
//! server did process. Retrying those (`retry_ambiguous`) gives at-least-once
//! delivery: an incoming event may trigger its automations twice.

use crate::prelude::*;

use crate::error::{Error, ErrorKind};

/// The first backoff delay; each later retry doubles it.
pub const BASE_DELAY_MS: u64 = 250;
/// The maximum backoff delay before jitter.
pub const MAX_BACKOFF_MS: u64 = 8_000;
/// The maximum `Retry-After` the package waits for. A longer one ends the
/// retries, and the error's `retryAfterMs` gives the caller the delay to wait.
pub const MAX_RETRY_AFTER_MS: u64 = 30_000;

/// How many times, and after which failures, a request is sent again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Also retry failures after which the request may have been processed.
    pub retry_ambiguous: bool,
}

impl RetryPolicy {
    pub const DEFAULT: RetryPolicy = RetryPolicy {
        max_retries: 2,
        retry_ambiguous: false,
    };

    /// Returns how long to wait before sending again after `error`, or `None`
    /// when the error is final. `retries_done` counts the retries already
    /// sent; `jitter` is a random number in [0, 1).
    pub fn delay_ms(&self, error: &Error, retries_done: u32, jitter: f64) -> Option<u64> {
        if retries_done >= self.max_retries || !self.is_retryable(error) {
            return None;
        }
        match error.retry_after_ms {
            Some(wait) if wait <= MAX_RETRY_AFTER_MS => Some(wait),
            Some(_) => None,
            None => Some(backoff_ms(retries_done + 1, jitter)),
        }
    }

    /// Returns true when `error` may be retried under this policy.
    pub fn is_retryable(&self, error: &Error) -> bool {
        match (error.kind, error.status) {
            // The caller ended the call, whatever status had arrived.
            (ErrorKind::Aborted, _) => false,
            // The status means the server did not process the request.
            (_, Some(408 | 429 | 503)) => true,
            // A gateway failed: the upstream may or may not have processed it.
            (_, Some(502 | 504)) => self.retry_ambiguous,
            // No response: the request may have arrived before the failure.
            (ErrorKind::Network | ErrorKind::Timeout, None) => self.retry_ambiguous,
            // 400, 401, 403, 404, 422, 423, 500 and the rest: sending again gets the same response.
            _ => false,
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::DEFAULT
    }
}

/// Returns the delay before retry number `retry` (1 for the first retry):
/// `min(BASE_DELAY_MS * 2^(retry-1), MAX_BACKOFF_MS)`, scaled by a jitter
/// factor in [0.5, 1.0), so the delay is at least half the step and below it.
pub fn backoff_ms(retry: u32, jitter: f64) -> u64 {
    let doublings = retry.saturating_sub(1).min(16);
    let step = BASE_DELAY_MS.saturating_mul(1 << doublings).min(MAX_BACKOFF_MS);
    let jitter = if jitter.is_finite() { jitter.clamp(0.0, 1.0) } else { 0.0 };
    let half = step / 2;
    (half + (half as f64 * jitter) as u64).min(step - 1)
}

/// Parses `Retry-After` as delay-seconds or an HTTP-date into milliseconds
/// from `now_ms` (milliseconds since the Unix epoch). A date in the past gives 0.
pub fn parse_retry_after(value: &str, now_ms: u64) -> Option<u64> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Saturates, so a huge number reads as "very long", which ends the retries.
        let seconds = value.bytes().fold(0u64, |n, b| n.saturating_mul(10).saturating_add(u64::from(b - b'0')));
        return Some(seconds.saturating_mul(1000));
    }
    let at_ms = parse_http_date(value)?;
    Some(at_ms.saturating_sub(now_ms))
}

/// Parses the three HTTP-date forms of RFC 9110 into milliseconds since the epoch:
///
/// ```text
/// Sun, 06 Nov 1994 08:49:37 GMT    IMF-fixdate
/// Sunday, 06-Nov-94 08:49:37 GMT   RFC 850 (two-digit years, or four)
/// Sun Nov  6 08:49:37 1994         asctime
/// ```
pub fn parse_http_date(value: &str) -> Option<u64> {
    let words: Vec<&str> = value.split_whitespace().collect();
    let (day, month, year, time) = match words.as_slice() {
        [_, day, month, year, time, "GMT"] => (parse_digits(day)?, *month, parse_digits(year)?, *time),
        [_, date, time, "GMT"] => {
            let mut parts = date.split('-');
            let day = parse_digits(parts.next()?)?;
            let month = parts.next()?;
            let year_text = parts.next()?;
            if parts.next().is_some() {
                return None;
            }
            let year = match (year_text.len(), parse_digits(year_text)?) {
                // A fixed window from 1970 to 2069. RFC 9110 picks the century from today's date instead,
                // which gives another year only for dates from 2070 on.
                (2, short_year) if short_year < 70 => 2000 + short_year,
                (2, short_year) => 1900 + short_year,
                // Some servers write four digits in this form. Taken as written, not as 1900 + year.
                (4, year) => year,
                _ => return None,
            };
            (day, month, year, *time)
        }
        [_, month, day, time, year] => (parse_digits(day)?, *month, parse_digits(year)?, *time),
        _ => return None,
    };

    let month = 1 + ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .iter()
        .position(|name| *name == month)? as u64;
    let mut clock = time.split(':').map(parse_digits);
    let (hour, minute, second) = (clock.next()??, clock.next()??, clock.next()??);
    if clock.next().is_some() || !(1970..=9999).contains(&year) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    if day == 0 || day > days_in_month(year, month) {
        return None;
    }

    let days = days_since_epoch(year, month, day);
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000)
}

/// Parses ASCII digits only, because `str::parse` also accepts a leading `+`.
fn parse_digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn days_in_month(year: u64, month: u64) -> u64 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Counts the days from 1970-01-01 to a date of the proleptic Gregorian
/// calendar, for years from 1970 on.
fn days_since_epoch(year: u64, month: u64, day: u64) -> u64 {
    // Counting years from March puts the leap day last.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year % 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}
