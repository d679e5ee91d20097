//! One module per subcommand, plus what they share.

pub mod open;
pub mod publish;
pub mod seal;
pub mod selftest;

use crate::failure::{Class, ClassExt, Failure};
use std::fs::File;
use std::path::Path;

/// Opens the input, with an error that says what is wrong with it.
pub fn open_input(path: &Path) -> Result<File, Failure> {
    let meta = std::fs::metadata(path)
        .with_context_path(path, "cannot read the input file")
        .class(Class::Input)?;
    if !meta.is_file() {
        return Err(Failure::new(
            Class::Input,
            anyhow::anyhow!("{} is not a regular file", path.display()),
        ));
    }
    File::open(path)
        .with_context_path(path, "cannot open the input file")
        .class(Class::Input)
}

trait PathContext<T> {
    fn with_context_path(self, path: &Path, what: &str) -> anyhow::Result<T>;
}

impl<T> PathContext<T> for std::io::Result<T> {
    fn with_context_path(self, path: &Path, what: &str) -> anyhow::Result<T> {
        self.map_err(|err| anyhow::anyhow!("{what} {}: {err}", path.display()))
    }
}

/// `1234567` -> `1.2 MiB`, for human summaries.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{bytes} bytes"),
        _ => format!("{value:.1} {}", UNITS[unit]),
    }
}

/// MiB per second, for human summaries and receipts.
pub fn mib_per_second(bytes: u64, elapsed: std::time::Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / elapsed.as_secs_f64().max(1e-9)
}
