//! The wasm layer's tests in a headless browser (Chromium through
//! chromedriver); `scripts/lib/wasm-tests.sh` sets up the driver.
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod wasm_cases;
