# The wasm layer's wasm-bindgen tests: tests/wasm_node.rs in Node.js and
# tests/wasm_browser.rs in headless Chromium. Both include tests/wasm_cases/.
# Sourced by scripts/test. Needs the wasm32 target, wasm-bindgen-test-runner
# (ensure_rust_wasm), Node, and Debian's chromium and chromedriver
# (ensure_system_packages), all from scripts/lib/tools.sh.
#
# .cargo/config.toml makes wasm-bindgen-test-runner the runner for wasm32.
# For the browser suite the runner starts chromedriver, which starts Chromium
# with the arguments of tests/webdriver.json: headless, and without the
# sandbox, which Chromium refuses to use as root. No display is needed.

WASM_TESTS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Runs both suites, even when the first fails, and fails when either does.
run_wasm_tests() {
  local chromedriver=${CHROMEDRIVER:-/usr/bin/chromedriver}
  local status=0

  echo "--> wasm-bindgen-test in Node"
  (cd "$WASM_TESTS_ROOT" && timeout 900 cargo test --target wasm32-unknown-unknown --test wasm_node) || status=1

  echo "--> wasm-bindgen-test in headless Chromium"
  if [ ! -x "$chromedriver" ]; then
    echo "chromedriver not found at $chromedriver; install chromium and chromium-driver (ensure_system_packages)" >&2
    return 1
  fi
  # WASM_BINDGEN_TEST_TIMEOUT bounds the whole browser run, page load included.
  (
    cd "$WASM_TESTS_ROOT" &&
      CHROMEDRIVER="$chromedriver" \
        WASM_BINDGEN_TEST_WEBDRIVER_JSON="$WASM_TESTS_ROOT/tests/webdriver.json" \
        WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-120} \
        timeout 900 cargo test --target wasm32-unknown-unknown --test wasm_browser
  ) || status=1

  return "$status"
}
