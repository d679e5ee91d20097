//! The encryption key: drawn from the OS, kept in zeroized memory, never
//! printed. Key files are created owner-only and never overwritten.

use crate::failure::{Class, ClassExt, Failure, usage};
use anyhow::{Context, Result, bail};
use std::fmt;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use zeroize::Zeroizing;

pub const KEY_LENGTH: usize = 32;
pub const IV_LENGTH: usize = 16;

/// An AES-256 key. It has no `Display`, its `Debug` hides it, and its bytes
/// are wiped when it is dropped.
pub struct Key(Zeroizing<[u8; KEY_LENGTH]>);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

impl Key {
    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self> {
        let mut key = Zeroizing::new([0u8; KEY_LENGTH]);
        getrandom::fill(key.as_mut()).context("drawing a random key from the OS")?;
        Ok(Self(key))
    }

    pub fn from_bytes(bytes: [u8; KEY_LENGTH]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Parses 64 hex digits (surrounding whitespace allowed). The error never
    /// quotes the input, which may be a near-miss of a real key.
    pub fn from_hex(text: &str) -> Result<Self> {
        let text = text.trim();
        if text.len() != 2 * KEY_LENGTH {
            bail!(
                "a key is {} hex digits, this one has {} characters",
                2 * KEY_LENGTH,
                text.len()
            );
        }
        let mut key = Zeroizing::new([0u8; KEY_LENGTH]);
        hex::decode_to_slice(text, key.as_mut())
            .map_err(|_| anyhow::anyhow!("a key is hex digits only (0-9, a-f)"))?;
        Ok(Self(key))
    }

    pub fn as_bytes(&self) -> &[u8; KEY_LENGTH] {
        &self.0
    }

    /// Lowercase hex, as the registration body and key files carry it.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0.as_ref()))
    }

    /// Reads a key file; warns when others may read it.
    pub fn read_file(path: &Path) -> Result<Self> {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading the key file {}", path.display()))?,
        );
        warn_if_others_may_read(path, "key file");
        Self::from_hex(&text).with_context(|| format!("the key file {}", path.display()))
    }
}

/// Warns when a file holding a secret may be read by others than its
/// owner; `what` names it ("key file", "ATTESTATION_SIGNING_KEY_FILE").
pub fn warn_if_others_may_read(path: &Path, what: &str) {
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            "{what} {} is readable by others (mode {:o}); chmod 600 it",
            path.display(),
            meta.permissions().mode() & 0o777
        );
    }
}

/// The variable `open`, `fetch` and `verify` read the key from when no key
/// file is given: keys never go on a command line.
pub const KEY_VAR: &str = "PUBLISH_ARTIFACT_KEY";

impl Key {
    /// From `--key-file` when given, else from `PUBLISH_ARTIFACT_KEY`. A key
    /// file that cannot be read or holds no key is an input failure (exit 3);
    /// no key at all, or a variable that holds none, is a bad environment
    /// (exit 2), like any other variable of ours with a bad value.
    pub fn from_file_or_env(path: Option<&Path>) -> Result<Self, Failure> {
        if let Some(path) = path {
            return Self::read_file(path).class(Class::Input);
        }
        let value = match std::env::var(KEY_VAR) {
            Ok(value) => Zeroizing::new(value),
            Err(std::env::VarError::NotPresent) => Zeroizing::new(String::new()),
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(usage(format!("{KEY_VAR} is not 64 hex digits")));
            }
        };
        if value.is_empty() {
            return Err(usage(format!(
                "no key: give --key-file FILE or set {KEY_VAR} (64 hex digits)"
            )));
        }
        Self::from_hex(&value)
            .with_context(|| format!("the key in {KEY_VAR}"))
            .class(Class::Usage)
    }
}

/// A fresh IV from the operating system's CSPRNG.
pub fn generate_iv() -> Result<[u8; IV_LENGTH]> {
    let mut iv = [0u8; IV_LENGTH];
    getrandom::fill(&mut iv).context("drawing a random IV from the OS")?;
    Ok(iv)
}

/// A key file reserved before the work starts (so an existing file stops us
/// before anything is done) and removed again unless `commit` is called.
pub struct KeyFile<'a> {
    path: &'a Path,
    file: Option<std::fs::File>,
}

impl<'a> KeyFile<'a> {
    /// Creates `path` with mode 0600; refuses if anything is there already.
    pub fn reserve(path: &'a Path) -> Result<Self> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .with_context(|| match path.exists() {
                true => format!("{} exists; a key file is never overwritten", path.display()),
                false => format!("creating the key file {}", path.display()),
            })?;
        Ok(Self {
            path,
            file: Some(file),
        })
    }

    /// Writes the key as hex plus a newline and syncs it to disk.
    pub fn commit(mut self, key: &Key) -> Result<()> {
        let mut file = self.file.take().expect("committed once");
        let mut line = key.to_hex();
        line.push('\n');
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("writing the key file {}", self.path.display()))
    }
}

impl Drop for KeyFile<'_> {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_key() {
        let key = Key::from_bytes([0xab; KEY_LENGTH]);
        assert!(!format!("{key:?}").contains("ab"));
    }

    #[test]
    fn hex_errors_do_not_quote_the_input() {
        let almost = "z".repeat(64);
        let err = Key::from_hex(&almost).unwrap_err();
        assert!(!format!("{err:#}").contains("zz"));
        assert!(Key::from_hex(&"a".repeat(63)).is_err());
        assert_eq!(
            Key::from_hex(&"0f".repeat(32)).unwrap().as_bytes(),
            &[0x0f; 32]
        );
    }

    #[test]
    fn key_file_is_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        let key = Key::from_bytes([7; KEY_LENGTH]);
        KeyFile::reserve(&path).unwrap().commit(&key).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(KeyFile::reserve(&path).is_err());
        assert_eq!(Key::read_file(&path).unwrap().as_bytes(), key.as_bytes());
        // An abandoned reservation leaves nothing behind.
        let other = dir.path().join("other");
        drop(KeyFile::reserve(&other).unwrap());
        assert!(!other.exists());
    }
}
