//! publish-artifact: seals a build artifact in a WebAssembly sandbox and
//! publishes it. The binary is `main.rs`; this library holds its modules so
//! that integration tests can reach the runtime and the sandbox.

pub mod admin;
pub mod cache;
pub mod cli;
pub mod commands;
pub mod config;
pub mod download;
pub mod failure;
pub mod guest;
pub mod logging;
pub mod output;
pub mod pipeline;
pub mod progress;
pub mod runtime;
pub mod secrets;
pub mod storage;
