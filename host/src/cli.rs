//! The command line.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\nguest: ",
    env!("WIT_PACKAGE"),
    ", sha256 ",
    env!("GUEST_SHA256"),
);

#[derive(Debug, Parser)]
#[command(
    name = "publish-artifact",
    version = VERSION,
    about = "Seal a build artifact (gzip, AES-256-CBC, SHA-256) and publish it",
    long_about = None,
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Seal a file locally, offline: the object, its key file and a JSON summary.
    Seal(SealArgs),
    /// Open a sealed object: check its SHA-256, decrypt and gunzip it.
    Open(OpenArgs),
    /// Run known-answer tests through the embedded sealing component.
    Selftest,
}

#[derive(Debug, Args)]
pub struct SealArgs {
    /// The file to seal.
    #[arg(long, value_name = "PATH")]
    pub file: PathBuf,
    /// Where the sealed object goes (written whole or not at all).
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// New file for the fresh key, as 64 hex digits (mode 0600, never overwritten).
    #[arg(long, value_name = "PATH", required_unless_present = "key_file")]
    pub key_out: Option<PathBuf>,
    /// Reuse the key in this file instead of a fresh one, with --iv: makes the
    /// output reproducible, for comparing hosts. Never publish with a reused key.
    #[arg(long, value_name = "PATH", conflicts_with = "key_out", requires = "iv")]
    pub key_file: Option<PathBuf>,
    /// The IV (32 hex digits) to go with --key-file.
    #[arg(long, value_name = "HEX", requires = "key_file", value_parser = parse_iv)]
    pub iv: Option<[u8; 16]>,
    #[command(flatten)]
    pub tuning: Tuning,
}

#[derive(Debug, Args)]
pub struct Tuning {
    /// gzip level: 0 (store) to 9 (smallest).
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u8).range(0..=9))]
    pub level: u8,
    /// Compression threads [default: the number of CPUs]. The output does not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
}

impl Tuning {
    pub fn threads(&self) -> usize {
        self.threads.map(usize::from).unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        })
    }
}

#[derive(Debug, Args)]
pub struct OpenArgs {
    /// The sealed object.
    #[arg(long, value_name = "PATH")]
    pub file: PathBuf,
    /// The key file (64 hex digits).
    #[arg(long, value_name = "PATH")]
    pub key_file: PathBuf,
    /// The object's expected SHA-256 (64 hex digits).
    #[arg(long, value_name = "HEX", value_parser = parse_sha256)]
    pub sha256: [u8; 32],
    /// Where the plaintext goes; it appears only once every check passed.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
}

fn parse_hex<const N: usize>(text: &str, what: &str) -> Result<[u8; N], String> {
    let mut bytes = [0; N];
    if text.len() != 2 * N {
        return Err(format!(
            "{what} is {} hex digits, not {}",
            2 * N,
            text.len()
        ));
    }
    hex::decode_to_slice(text, &mut bytes).map_err(|_| format!("{what} is hex digits only"))?;
    Ok(bytes)
}

pub fn parse_sha256(text: &str) -> Result<[u8; 32], String> {
    parse_hex(text, "a SHA-256")
}

fn parse_iv(text: &str) -> Result<[u8; 16], String> {
    parse_hex(text, "an IV")
}
