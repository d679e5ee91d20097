//! The guest component carried inside the binary: its bytes, digest and
//! WIT package. Its own module so that the cache and the runtime, which
//! both need the bytes, need not import each other for them.

/// The guest component, built by `build.rs` and carried inside the binary.
pub const GUEST_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/guest.wasm"));
/// Lowercase hex SHA-256 of `GUEST_WASM`.
pub const GUEST_SHA256: &str = env!("GUEST_SHA256");
/// The WIT package the guest implements, e.g. `publish-artifact:seal@0.1.0`.
pub const WIT_PACKAGE: &str = env!("WIT_PACKAGE");
