//! The wasm layer's tests in Node.js, the runner's default:
//! `cargo test --target wasm32-unknown-unknown --test wasm_node`.
#![cfg(target_arch = "wasm32")]

mod wasm_cases;
