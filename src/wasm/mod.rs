//! The JavaScript interface: wasm-bindgen exports that convert their
//! arguments, call the core and convert back. Every rejection is a
//! `StampedeError`; nothing here panics on the caller's input.

use crate::prelude::*;

mod convert;
mod heap;
mod transport;

pub use heap::Heap;

#[global_allocator]
static HEAP: Heap = Heap::new();

use alloc::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;

use crate::{
    incoming_event_request_with, parse_overrides, parse_settings, validate_incoming_event, validate_workflow_run,
    workflow_run_request, Error, FieldErrors, HttpRequest, IncomingEvent, Scope, Settings,
};
use convert::{read_property, read_value, to_js_error, validation_result, ErrorExtras};
use transport::Call;

/// Levels of nesting read from an event or options object: the object,
/// then `serials`, `parameters` or `headers`, then their values.
const INPUT_DEPTH: u8 = 2;

/// Checks an incoming event without sending it.
#[wasm_bindgen(js_name = validateIncomingEvent, skip_typescript)]
pub fn validate_incoming_event_js(event: JsValue) -> JsValue {
    validation_result(validate_incoming_event(&read_value(&event, INPUT_DEPTH)).err().as_ref())
}

/// Checks a workflow id and a workflow run request without sending them.
#[wasm_bindgen(js_name = validateWorkflowRun, skip_typescript)]
pub fn validate_workflow_run_js(workflow_id: JsValue, request: JsValue) -> JsValue {
    let result = validate_workflow_run(&read_value(&workflow_id, 0), &read_value(&request, INPUT_DEPTH));
    validation_result(result.err().as_ref())
}

/// Sends an incoming event with one-off options.
#[wasm_bindgen(js_name = sendIncomingEvent, skip_typescript)]
pub fn send_incoming_event_js(event: JsValue, options: JsValue) -> Promise {
    let client = ClientOptions::read(&options, Scope::OneOff);
    start(build_incoming_event(&event, client, &options))
}

/// Stores a workflow run with one-off options.
#[wasm_bindgen(js_name = storeWorkflowRun, skip_typescript)]
pub fn store_workflow_run_js(workflow_id: JsValue, request: JsValue, options: JsValue) -> Promise {
    let client = ClientOptions::read(&options, Scope::OneOff);
    start(build_workflow_run(&workflow_id, &request, client, &options))
}

/// Reusable settings for many calls. Each call copies what it needs, so
/// calls run concurrently and outlive nothing borrowed from the client.
///
/// The package exports it wrapped in a JavaScript `StampedeClient` without
/// `free()`, so a freed client cannot be called; garbage collection frees it.
#[wasm_bindgen(js_name = WasmClient, skip_typescript)]
pub struct StampedeClient {
    options: Rc<ClientOptions>,
}

#[wasm_bindgen(js_class = WasmClient)]
impl StampedeClient {
    /// Validates the options; an invalid one throws a `validation` StampedeError.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<StampedeClient, JsValue> {
        match ClientOptions::read(&options, Scope::Client) {
            Ok(options) => Ok(StampedeClient { options: Rc::new(options) }),
            Err(errors) => Err(to_js_error(&Error::validation(errors), ErrorExtras::default())),
        }
    }

    #[wasm_bindgen(js_name = sendIncomingEvent)]
    pub fn send_incoming_event(&self, event: JsValue, options: JsValue) -> Promise {
        let client = self.with_request_options(&options);
        start(build_incoming_event(&event, client, &options))
    }

    #[wasm_bindgen(js_name = storeWorkflowRun)]
    pub fn store_workflow_run(&self, workflow_id: JsValue, request: JsValue, options: JsValue) -> Promise {
        let client = self.with_request_options(&options);
        start(build_workflow_run(&workflow_id, &request, client, &options))
    }

    fn with_request_options(&self, options: &JsValue) -> Result<ClientOptions, FieldErrors> {
        let overrides = parse_overrides(&read_value(options, INPUT_DEPTH))?;
        Ok(ClientOptions {
            settings: self.options.settings.with_overrides(overrides),
            fetch: self.options.fetch.clone(),
        })
    }
}

/// Validated client options with the JavaScript-only ones kept aside.
struct ClientOptions {
    settings: Settings,
    /// The caller's fetch, or `None` to look up the global one at each call.
    fetch: Option<Function>,
}

impl ClientOptions {
    fn read(options: &JsValue, scope: Scope) -> Result<ClientOptions, FieldErrors> {
        let settings = parse_settings(&read_value(options, INPUT_DEPTH), scope);
        let fetch = read_property(options, "fetch");
        let mut errors = FieldErrors::default();
        let fetch = match fetch.dyn_into::<Function>() {
            Ok(fetch) => Some(fetch),
            Err(value) if value.is_undefined() || value.is_null() => None,
            Err(value) => {
                errors.add(
                    "fetch",
                    text!("The fetch option must be a function such as globalThis.fetch, but it is ", read_value(&value, 0).describe(), "."),
                );
                None
            }
        };
        match settings {
            Ok(settings) if errors.is_empty() => Ok(ClientOptions { settings, fetch }),
            Ok(_) => Err(errors),
            Err(mut settings_errors) => {
                settings_errors.merge(errors);
                Err(settings_errors)
            }
        }
    }
}

/// Validates an incoming event and its options together, so every problem is reported at once.
fn build_incoming_event(event: &JsValue, client: Result<ClientOptions, FieldErrors>, options: &JsValue) -> Result<Call, Error> {
    let input = validate_incoming_event(&read_value(event, INPUT_DEPTH));
    build_call(input, client, options, |settings: &Settings, event: &IncomingEvent| {
        incoming_event_request_with(settings, event, write_js_number)
    })
}

fn build_workflow_run(
    workflow_id: &JsValue,
    request: &JsValue,
    client: Result<ClientOptions, FieldErrors>,
    options: &JsValue,
) -> Result<Call, Error> {
    let input = validate_workflow_run(&read_value(workflow_id, 0), &read_value(request, INPUT_DEPTH));
    build_call(input, client, options, workflow_run_request)
}

fn build_call<T>(
    input: Result<T, FieldErrors>,
    client: Result<ClientOptions, FieldErrors>,
    options: &JsValue,
    build: fn(&Settings, &T) -> HttpRequest,
) -> Result<Call, Error> {
    let mut errors = FieldErrors::default();
    let signal = read_property(options, "signal");
    let signal = if signal.is_undefined() || signal.is_null() {
        None
    } else if is_abort_signal(&signal) {
        Some(signal)
    } else {
        errors.add("signal", text!("The signal option must be an AbortSignal, but it is ", read_value(&signal, 0).describe(), "."));
        None
    };

    let fetch = match &client {
        Ok(ClientOptions { fetch: Some(fetch), .. }) => Some(fetch.clone()),
        _ => global_fetch(),
    };
    if fetch.is_none() {
        errors.add("fetch", "No global fetch function is available in this runtime; pass one as the fetch option.");
    }

    match (input, client, fetch) {
        (Ok(input), Ok(client), Some(fetch)) if errors.is_empty() => Ok(Call {
            request: build(&client.settings, &input),
            settings: client.settings,
            fetch,
            signal,
        }),
        (input, client, _) => {
            let mut all = input.err().unwrap_or_default();
            all.merge(client.err().unwrap_or_default());
            all.merge(errors);
            Err(Error::validation(all))
        }
    }
}

/// Writes a number as JSON.stringify does, so the wasm needs no float formatting of its own.
fn write_js_number(number: f64, out: &mut String) {
    // JSON.stringify returns text for every finite number, and validation lets only finite ones through.
    let text = js_sys::JSON::stringify(&JsValue::from_f64(number)).ok().and_then(|text| text.as_string());
    out.push_str(text.as_deref().unwrap_or("null"));
}

fn global_fetch() -> Option<Function> {
    read_property(&js_sys::global(), "fetch").dyn_into::<Function>().ok()
}

/// Accepts any object with a boolean `aborted` and an `addEventListener`
/// method, so a signal from another realm or a polyfill works too.
fn is_abort_signal(value: &JsValue) -> bool {
    read_property(value, "aborted").as_bool().is_some() && read_property(value, "addEventListener").is_function()
}

/// Runs a call, or rejects at once with its validation error.
fn start(call: Result<Call, Error>) -> Promise {
    match call {
        Ok(call) => transport::send(call),
        Err(error) => Promise::reject(&to_js_error(&error, ErrorExtras::default())),
    }
}
