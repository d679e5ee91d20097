//! The artifact being sealed, read once, and checked not to have changed
//! while it was read.
//!
//! A `docker save` still writing its tarball, or a model being overwritten
//! by the next training step, would otherwise be sealed half old, half new,
//! and published with a digest nobody can reproduce. So the file's size and
//! modification time are taken when it is opened and compared, on the open
//! descriptor, when the read reaches its end; the byte count must match too.
//! A change fails the read, which fails the seal before anything counts as
//! published.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::PathBuf;
use std::time::SystemTime;

/// The input changed between open and end of read.
#[derive(Debug, thiserror::Error)]
#[error("{path} changed while it was read ({what}); publish it once it is complete")]
pub struct InputChanged {
    path: String,
    what: String,
}

pub struct StableInput {
    file: File,
    path: PathBuf,
    length: u64,
    modified: Option<SystemTime>,
    read: u64,
}

impl StableInput {
    pub fn new(file: File, path: PathBuf) -> io::Result<Self> {
        let metadata = file.metadata()?;
        Ok(Self {
            length: metadata.len(),
            modified: metadata.modified().ok(),
            file,
            path,
            read: 0,
        })
    }

    /// The size the file had when it was opened.
    pub fn length(&self) -> u64 {
        self.length
    }

    fn changed(&self, now: &Metadata) -> Option<String> {
        if now.len() != self.length {
            return Some(format!("{} bytes at the start, {} now", self.length, now.len()));
        }
        if self.read != self.length {
            return Some(format!("{} bytes expected, {} read", self.length, self.read));
        }
        if now.modified().ok() != self.modified {
            return Some("its modification time moved".into());
        }
        None
    }
}

impl Read for StableInput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        self.read += n as u64;
        if n == 0 && !buf.is_empty() {
            let now = self.file.metadata()?;
            if let Some(what) = self.changed(&now) {
                return Err(io::Error::other(InputChanged {
                    path: self.path.display().to_string(),
                    what,
                }));
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn stable(path: &std::path::Path) -> StableInput {
        StableInput::new(File::open(path).unwrap(), path.to_path_buf()).unwrap()
    }

    #[test]
    fn an_unchanged_file_reads_to_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a");
        std::fs::write(&path, b"hello").unwrap();
        let mut read = Vec::new();
        stable(&path).read_to_end(&mut read).unwrap();
        assert_eq!(read, b"hello");
    }

    #[test]
    fn growing_shrinking_or_rewriting_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a");
        type Change = fn(&std::path::Path);
        let changes: [(&str, Change); 3] = [
            ("grown", |p| {
                let mut f = std::fs::OpenOptions::new().append(true).open(p).unwrap();
                f.write_all(b" world").unwrap();
            }),
            ("shrunk", |p| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(p)
                    .unwrap()
                    .set_len(2)
                    .unwrap();
            }),
            ("rewritten", |p| {
                let f = std::fs::OpenOptions::new().write(true).open(p).unwrap();
                let later = SystemTime::now() + std::time::Duration::from_secs(5);
                f.set_modified(later).unwrap();
            }),
        ];
        for (what, change) in changes {
            std::fs::write(&path, b"hello").unwrap();
            let mut input = stable(&path);
            let mut first = [0u8; 1];
            input.read_exact(&mut first).unwrap();
            change(&path);
            let err = input.read_to_end(&mut Vec::new()).unwrap_err();
            let inner = err.get_ref().expect("an InputChanged").to_string();
            assert!(inner.contains("changed while it was read"), "{what}: {inner}");
        }
    }
}
