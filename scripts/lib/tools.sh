# Installs what a fresh machine lacks for building and testing. Sourced by
# the scripts in scripts/; each function is quick when its tool is present.

# The wasm32 target and the wasm-bindgen CLI of the exact version in Cargo.lock,
# because the CLI refuses glue from any other version of the crate.
ensure_rust_wasm() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    echo "==> rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi

  local wanted installed
  wanted=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
  installed=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
  if [ "$installed" != "$wanted" ]; then
    echo "==> cargo install wasm-bindgen-cli $wanted (found: ${installed:-none}; takes about 2 minutes)"
    cargo install --quiet --force wasm-bindgen-cli --version "$wanted"
  fi
}

# The npm tools of package-lock.json: binaryen (wasm-opt), esbuild, miniflare,
# playwright-core. npm ci runs again whenever the lock file changes.
ensure_node_modules() {
  local hash
  hash=$(sha256sum package-lock.json | cut -d" " -f1)
  if [ "$(cat node_modules/.lock-hash 2>/dev/null)" != "$hash" ]; then
    echo "==> npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$hash" >node_modules/.lock-hash
  fi
}

# Debian's Chromium and ChromeDriver for the browser tests, and strace and
# unshare, with which the runtime tests check where each process connects.
ensure_system_packages() {
  local missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
  command -v strace >/dev/null || missing+=(strace)
  command -v unshare >/dev/null || missing+=(util-linux)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}
