//! A client for the Stampede Workflows API: send an incoming event, or push
//! one user through one workflow.
//!
//! The core modules know nothing of JavaScript: they validate input, build
//! requests, classify responses and decide retries, and they are tested
//! natively. The `wasm` module, compiled only for `wasm32`, puts them behind
//! the npm package's JavaScript interface and sends requests with `fetch`.
//!
//! ```
//! use stampede_workflows::{parse_settings, validate_incoming_event, incoming_event_request, Scope, Value};
//!
//! let options: Value = [("accessToken", Value::from("secret"))].into_iter().collect();
//! let settings = parse_settings(&options, Scope::OneOff).unwrap();
//! let event: Value = [("organisation_registration_id", Value::from("a1b2c3d4-e5f6-7890-abcd-ef1234567890"))]
//!     .into_iter()
//!     .collect();
//! let request = incoming_event_request(&settings, &validate_incoming_event(&event).unwrap());
//! assert_eq!(request.url, "https://global.stampede.ai/v1/workflows/incoming-event");
//! ```
//!
//! On `wasm32` the crate uses only `core` and `alloc`: the standard library's
//! panic and formatting code would be most of the package's download. The
//! `standalone` feature, which the package's build enables, adds the panic
//! handler that std would otherwise give.

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

/// The `alloc` names that std's prelude gives on other targets.
mod prelude {
    pub use alloc::borrow::ToOwned;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec;
    pub use alloc::vec::Vec;
}

#[macro_use]
mod text;

mod error;
mod options;
mod request;
mod response;
mod retry;
mod validate;
mod value;

/// The wasm-bindgen exports behind the npm package, public for the wasm tests.
#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use error::{Error, ErrorKind, FieldErrors};
pub use options::{
    is_loopback, parse_base_url, parse_overrides, parse_settings, BaseUrl, Overrides, Scope, Settings, DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT_MS, MAX_RETRIES_LIMIT, MAX_TIMEOUT_MS,
};
pub use request::{
    encode_path_segment, incoming_event_request, incoming_event_request_with, workflow_run_request, write_number, HttpRequest,
    NumberWriter,
};
pub use response::{
    excerpt, invalid_body_error, kind_for_status, oversized_body_error, redact, status_error, ErrorResponse, BODY_EXCERPT_CHARS,
    MAX_RESPONSE_BYTES,
};
pub use retry::{backoff_ms, parse_http_date, parse_retry_after, RetryPolicy, BASE_DELAY_MS, MAX_BACKOFF_MS, MAX_RETRY_AFTER_MS};
pub use validate::{is_hyphenated_uuid, validate_incoming_event, validate_workflow_run, IncomingEvent, Scalar, WorkflowRun, MAX_ITEMS, MAX_SERIAL_CHARS};
pub use value::Value;

/// Traps the wasm, so the caller sees a `RuntimeError`. No input can reach a
/// panic; this handler only replaces the one std would give.
#[cfg(all(target_arch = "wasm32", feature = "standalone"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}
