//! The error every failed call ends in, with kinds that mirror the package's
//! `StampedeErrorKind` one to one.

use crate::prelude::*;

use core::fmt;

/// The reason a call failed. The names match the JavaScript `kind` strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input or options were rejected before anything was sent.
    Validation,
    /// 400: the server could not read the request.
    BadRequest,
    /// 401: the access token is missing or wrong.
    Unauthorized,
    /// 403: the token may not do this.
    Forbidden,
    /// 404: for a workflow run, usually an unknown workflow id.
    NotFound,
    /// 422: the server's own validation rejected a field.
    Unprocessable,
    /// 423: the user is in the waiting period of this workflow.
    Locked,
    /// 429: too many requests.
    RateLimited,
    /// Any 5xx status.
    Server,
    /// Any other status that is not 2xx.
    Http,
    /// fetch failed without a response.
    Network,
    /// An attempt took longer than its timeout.
    Timeout,
    /// The caller's AbortSignal fired.
    Aborted,
    /// A 2xx response whose body is not a JSON object.
    InvalidResponse,
}

impl ErrorKind {
    /// Returns the `kind` string JavaScript callers see.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Validation => "validation",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Unprocessable => "unprocessable",
            ErrorKind::Locked => "locked",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Server => "server",
            ErrorKind::Http => "http",
            ErrorKind::Network => "network",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Aborted => "aborted",
            ErrorKind::InvalidResponse => "invalid_response",
        }
    }
}

/// Field errors keyed by Laravel's dotted paths (`serials.0`,
/// `parameters.source`), in the order they were found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldErrors {
    entries: Vec<(String, Vec<String>)>,
}

impl FieldErrors {
    /// Adds `message` under `key`, after any message already there.
    pub fn add(&mut self, key: impl Into<String>, message: impl Into<String>) {
        let key = key.into();
        let message = message.into();
        match self.entries.iter_mut().find(|(name, _)| *name == key) {
            Some((_, messages)) => messages.push(message),
            None => self.entries.push((key, vec![message])),
        }
    }

    /// Moves every error of `other` into `self`.
    pub fn merge(&mut self, other: FieldErrors) {
        for (key, messages) in other.entries {
            for message in messages {
                self.add(key.clone(), message);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Returns the messages under `key`, empty when there are none.
    pub fn get(&self, key: &str) -> &[String] {
        self.entries
            .iter()
            .find(|(name, _)| name == key)
            .map_or(&[], |(_, messages)| messages.as_slice())
    }

    /// Iterates over the keys and their messages in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.entries.iter().map(|(key, messages)| (key.as_str(), messages.as_slice()))
    }

    /// Returns the summary Laravel gives a 422: the first message, then
    /// "(and N more error[s])" when there are more.
    pub fn summary(&self) -> String {
        let mut messages = self.entries.iter().flat_map(|(_, messages)| messages);
        let Some(first) = messages.next() else {
            return String::from("The input is invalid.");
        };
        match messages.count() {
            0 => first.clone(),
            1 => text!(first, " (and 1 more error)"),
            more => text!(first, " (and ", more, " more errors)"),
        }
    }

    /// Returns `Ok(value)` when there are no errors, else the validation error.
    pub fn into_result<T>(self, value: T) -> Result<T, Error> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(Error::validation(self))
        }
    }
}

/// A failed call: its kind, a sentence for people, and what is known of the
/// response. It never contains the access token.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// Field errors, for `Validation` (from the package) and `Unprocessable` (from the server).
    pub errors: Option<FieldErrors>,
    /// The delay the server asked for in `Retry-After`, in milliseconds.
    pub retry_after_ms: Option<u64>,
    /// Requests actually sent, 0 for `Validation`.
    pub attempts: u32,
}

impl Error {
    /// Creates an error of `kind` with no response details and no attempts.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            status: None,
            errors: None,
            retry_after_ms: None,
            attempts: 0,
        }
    }

    /// Creates a `Validation` error whose message summarises `errors`.
    pub fn validation(errors: FieldErrors) -> Self {
        let mut error = Error::new(ErrorKind::Validation, errors.summary());
        error.errors = Some(errors);
        error
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl core::error::Error for Error {}
