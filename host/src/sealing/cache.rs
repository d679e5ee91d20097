//! A cache of the guest compiled for this machine.
//!
//! Cranelift takes about 0.4 s to compile the guest (2 cores); loading the
//! compiled form takes under 1 ms. The cache file is named by the
//! guest's SHA-256 and by wasmtime's precompile compatibility hash (wasmtime
//! version, engine settings, CPU features), so a new guest, a new wasmtime
//! or another CPU simply miss. Anything wrong with the cache (missing, stale, unreadable,
//! unwritable, untrusted) means compiling in memory, never an error, and
//! one warning line.
//!
//! The location: `PUBLISH_ARTIFACT_CACHE_DIR`, else
//! `$XDG_CACHE_HOME/publish-artifact`, else `~/.cache/publish-artifact`,
//! else `publish-artifact-<uid>` in the temporary directory. The last is for
//! a process given only a few variables and no HOME (the Python API's
//! `env=` is the tool's whole environment); the temporary directory is
//! shared with every user, so that one must be a real directory, not a
//! symbolic link, in a parent that nobody else can rename it out of.

use crate::sealing::embedded::{GUEST_SHA256, GUEST_WASM};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::Result;
use wasmtime::component::Component;
use wasmtime::error::Context;

/// Where the cache lives; `none` (or an empty value) turns it off.
pub const CACHE_DIR_VAR: &str = "PUBLISH_ARTIFACT_CACHE_DIR";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheOutcome {
    /// Loaded the compiled guest from the cache.
    Hit,
    /// Compiled, and stored for next time.
    Stored,
    /// Compiled in memory only (cache off, untrusted or unwritable).
    Uncached,
}

impl std::fmt::Display for CacheOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Hit => "hit",
            Self::Stored => "stored",
            Self::Uncached => "uncached",
        })
    }
}

pub fn load_guest(engine: &Engine) -> Result<(Component, CacheOutcome)> {
    let Some(CacheDir { path: dir, shared }) = cache_dir() else {
        return compile_in_memory(engine);
    };
    if let Err(reason) = prepare_dir(&dir, shared) {
        tracing::warn!(
            "not caching the compiled guest in {}: {reason}",
            dir.display()
        );
        return compile_in_memory(engine);
    }
    let path = dir.join(file_name(engine));
    if path.exists() {
        // SAFETY: wasmtime runs deserialized code as is. The file was written
        // by this program, atomically, into a directory that `prepare_dir`
        // checked is ours and closed to others; wasmtime itself checks that
        // it was made by this wasmtime version for this engine and CPU.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => return Ok((component, CacheOutcome::Hit)),
            Err(err) => tracing::debug!("recompiling the guest: cache entry unusable: {err:#}"),
        }
    }
    let compiled = engine
        .precompile_component(GUEST_WASM)
        .context("compiling the guest component")?;
    let outcome = match store(&dir, &path, &compiled) {
        Ok(()) => CacheOutcome::Stored,
        Err(err) => {
            tracing::warn!("could not cache the compiled guest: {err:#}");
            CacheOutcome::Uncached
        }
    };
    // SAFETY: `compiled` was produced by `precompile_component` on this very
    // engine a moment ago.
    let component = unsafe { Component::deserialize(engine, &compiled) }
        .context("loading the freshly compiled guest")?;
    Ok((component, outcome))
}

fn compile_in_memory(engine: &Engine) -> Result<(Component, CacheOutcome)> {
    let component = Component::new(engine, GUEST_WASM).context("compiling the guest component")?;
    Ok((component, CacheOutcome::Uncached))
}

/// A cache location, and whether it lies in a directory other users share.
struct CacheDir {
    path: PathBuf,
    shared: bool,
}

/// Where the cache is (see the module's documentation); `None` when it is
/// turned off.
fn cache_dir() -> Option<CacheDir> {
    let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    if let Some(dir) = std::env::var_os(CACHE_DIR_VAR) {
        return (!dir.is_empty() && dir != "none").then(|| CacheDir {
            path: PathBuf::from(dir),
            shared: false,
        });
    }
    let own = var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .map(|base| CacheDir {
            path: base.join("publish-artifact"),
            shared: false,
        });
    Some(own.unwrap_or_else(|| CacheDir {
        path: std::env::temp_dir().join(format!("publish-artifact-{}", our_uid())),
        shared: true,
    }))
}

fn our_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Creates the directory (mode 0700) and checks that nobody else can plant
/// code in it: owned by us and writable by nobody else. In a `shared`
/// parent (the temporary directory) it must also be no symbolic link (whose
/// target its owner could change at any time), and the parent must be
/// sticky if others may write it, so that nobody else can rename our
/// directory and put theirs in its place.
fn prepare_dir(dir: &Path, shared: bool) -> Result<(), String> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|err| err.to_string())?;
    let meta = match shared {
        true => std::fs::symlink_metadata(dir),
        false => std::fs::metadata(dir),
    }
    .map_err(|err| err.to_string())?;
    if meta.file_type().is_symlink() {
        return Err("a symbolic link, which its owner can point elsewhere at any time".into());
    }
    if !meta.is_dir() {
        return Err("not a directory".into());
    }
    let uid = our_uid();
    if meta.uid() != uid {
        return Err(format!(
            "owned by uid {}, not by us (uid {uid})",
            meta.uid()
        ));
    }
    if meta.permissions().mode() & 0o022 != 0 {
        return Err("writable by group or others".into());
    }
    if shared {
        check_shared_parent(dir)?;
    }
    Ok(())
}

/// A shared parent must be root's or ours, and sticky if others may write
/// it (like /tmp): then only we and root can rename what we made in it.
fn check_shared_parent(dir: &Path) -> Result<(), String> {
    let parent = dir.parent().ok_or("a directory without a parent")?;
    let meta = std::fs::metadata(parent).map_err(|err| err.to_string())?;
    if meta.uid() != 0 && meta.uid() != our_uid() {
        return Err(format!(
            "{} is owned by uid {}",
            parent.display(),
            meta.uid()
        ));
    }
    let mode = meta.permissions().mode();
    if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        return Err(format!(
            "{} is writable by others and not sticky",
            parent.display()
        ));
    }
    Ok(())
}

fn file_name(engine: &Engine) -> String {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!(
        "guest-{}-{:016x}.cwasm",
        &GUEST_SHA256[..16],
        hasher.finish()
    )
}

/// Writes atomically: a reader sees the old file, the whole new one, or none.
fn store(dir: &Path, path: &Path, compiled: &[u8]) -> Result<()> {
    let mut file = tempfile::Builder::new()
        .prefix(".guest-")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)
        .context("creating a cache file")?;
    file.write_all(compiled).context("writing the cache file")?;
    file.persist(path).context("renaming the cache file")?;
    Ok(())
}
