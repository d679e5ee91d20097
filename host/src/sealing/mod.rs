//! Sealing and opening: the embedded WebAssembly component and the pipelines
//! that run file bytes through it.
//!
//! - `runtime`: the one wasmtime engine per process, the capability-free
//!   sandbox each guest instance runs in, and the pre-linked component;
//! - `cache`: the component compiled for this machine, kept between runs;
//! - `guest`: typed calls into one instance, WIT errors made readable;
//! - `input`: the artifact, read once and checked not to change meanwhile;
//! - `pipeline`: reader, compressors and sealer (or opener) on threads,
//!   joined by bounded queues that every stage sees close.

pub mod cache;
pub mod guest;
pub mod input;
pub mod pipeline;
pub mod runtime;
