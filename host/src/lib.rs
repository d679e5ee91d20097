//! publish-artifact: seals a build artifact in a WebAssembly sandbox and
//! publishes it. The binary is `main.rs`; this library holds its modules so
//! that integration tests can reach the runtime and the sandbox.
//!
//! The modules by domain:
//! - `sealing/`: the guest component and the seal and open pipelines;
//! - `store/`: S3 (upload, preflight, cleanup) and downloads;
//! - `admin`: the registration at the admin API;
//! - `attest/`: provenance (in-toto statement, DSSE, signing, checking);
//! - `image/`: image tarballs bound to the pushed digest;
//! - `sbom/`: software bills of materials, one cataloger per ecosystem;
//! - `publishing/`: what publish and promote share to stay all or nothing;
//! - `commands/`: one module per subcommand, wiring the domains together;
//! - the rest is shared plumbing: command line, configuration, secrets,
//!   failure classes, output files, progress, logging, URLs fit to print
//!   and whom TLS trusts (`trust`).

pub mod admin;
pub mod attest;
pub mod cli;
pub mod commands;
pub mod config;
pub mod failure;
pub mod image;
pub mod interrupt;
pub mod logging;
pub mod output;
pub mod progress;
pub mod publishing;
pub mod redact;
pub mod sbom;
pub mod sealing;
pub mod secrets;
pub mod store;
pub mod trust;
