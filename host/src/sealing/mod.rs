//! Sealing and opening: the embedded WebAssembly component and the pipelines
//! that run file bytes through it.
//!
//! - `runtime`: the one wasmtime engine per process, the capability-free
//!   sandbox each guest instance runs in, and the pre-linked component;
//! - `embedded`: the component's bytes, digest and WIT package;
//! - `cache`: the component compiled for this machine, kept between runs;
//! - `guest`: typed calls into one instance, WIT errors made readable;
//! - `input`: the artifact, read once and checked not to change meanwhile;
//! - `pipeline`: reader, compressors and sealer on threads, joined by
//!   bounded queues that every stage sees close;
//! - `opening`: reader, decryptor and inflater, the same way.

pub mod cache;
pub mod embedded;
pub mod guest;
pub mod input;
pub mod opening;
pub mod pipeline;
pub mod runtime;
