//! The publish-artifact guest: the sealing format as a WebAssembly component.
//!
//! The logic lives in plain Rust modules that know nothing of the component
//! model, so they are unit tested natively; `component` only maps them onto
//! the interfaces of `wit/seal.wit`, and exists only in the wasm build.

// Compiled natively only for its tests: the native build never encrypts or
// decrypts with it.
#[cfg(any(test, target_arch = "wasm32"))]
pub mod aes_vperm;
pub mod cbc_stream;
pub mod deflate;
pub mod error;
pub mod inflate;
pub mod open;
pub mod seal;

#[cfg(target_arch = "wasm32")]
mod component;
