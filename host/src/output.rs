//! Output files that appear whole or not at all.

use anyhow::{Context, Result};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

/// Bytes go to a temporary file beside the destination; `commit` syncs it
/// and renames it into place. Dropped uncommitted, it leaves nothing.
pub struct AtomicOutput {
    writer: BufWriter<NamedTempFile>,
    destination: PathBuf,
}

impl AtomicOutput {
    pub fn create(destination: &Path) -> Result<Self> {
        let dir = match destination.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let name = destination
            .file_name()
            .with_context(|| format!("{} names no file", destination.display()))?;
        if destination.is_dir() {
            anyhow::bail!("{} is a directory", destination.display());
        }
        let mut prefix = std::ffi::OsString::from(".");
        prefix.push(name);
        prefix.push(".partial-");
        let temp = tempfile::Builder::new()
            .prefix(&prefix)
            .tempfile_in(dir)
            .with_context(|| format!("creating a file in {}", dir.display()))?;
        Ok(Self {
            writer: BufWriter::with_capacity(1 << 20, temp),
            destination: destination.to_path_buf(),
        })
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.writer
            .write_all(bytes)
            .with_context(|| format!("writing {}", self.destination.display()))
    }

    pub fn commit(self) -> Result<()> {
        let destination = self.destination;
        let temp = self
            .writer
            .into_inner()
            .map_err(|err| err.into_error())
            .with_context(|| format!("writing {}", destination.display()))?;
        temp.as_file()
            .sync_all()
            .with_context(|| format!("syncing {}", destination.display()))?;
        temp.persist(&destination).with_context(|| {
            format!("moving the output into place at {}", destination.display())
        })?;
        Ok(())
    }
}
