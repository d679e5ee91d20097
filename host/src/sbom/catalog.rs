//! The interface every cataloger implements.
//!
//! A squasher, the image scan's layer visitor (`crate::image::scan`),
//! squashes the layers as the image runs (whiteouts, opaque directories,
//! links) and asks each cataloger, file by file, whether it wants that
//! file; at the end of the stream each cataloger gets the
//! visible files it asked for and turns them into packages. A cataloger
//! never reads the archive itself.

use super::package::Package;
use std::io;

/// A file of the image's filesystem, as the scan meets it.
#[derive(Debug, Clone, Copy)]
pub struct FileMeta<'a> {
    /// The path in the image, normalized, without a leading `/`.
    pub path: &'a str,
    pub size: u64,
    /// The Unix mode bits from the layer (0o755 for an executable, say).
    pub mode: u32,
}

/// How a cataloger wants a file's bytes. The squasher, a
/// `crate::image::LayerVisitor`, asks the scan for them accordingly:
/// `Whole` is `Want::Keep(limit)`; `Spool` and `Sift` are `Want::Stream`,
/// the chunks written to the file or handed to the sift (a file over a
/// `Spool` limit is known by its size before any byte is read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// In memory, up to `limit` bytes; a larger file is a problem reported
    /// in the SBOM, not read.
    Whole { limit: u64 },
    /// Written to a private temporary file (mode 0600, removed when
    /// dropped), up to `limit` bytes: for databases that are large or must
    /// be opened as files (`rpmdb.sqlite`).
    Spool { limit: u64 },
    /// Streamed through the cataloger's `Sift`, which keeps only what it
    /// needs (a Go binary's build information, say).
    Sift,
}

/// Keeps what a cataloger needs of a streamed file, in bounded memory.
pub trait Sift: Send {
    /// The next bytes of the file, in order.
    fn update(&mut self, bytes: &[u8]);
    /// What was kept when the file ended, if anything.
    fn finish(self: Box<Self>) -> Option<Content>;
}

/// The bytes a cataloger is handed for one file.
#[derive(Debug)]
pub enum Content {
    Bytes(Vec<u8>),
    Spooled(tempfile::NamedTempFile),
}

impl Content {
    /// The content in memory (a spooled file is read back whole).
    pub fn bytes(&self) -> io::Result<std::borrow::Cow<'_, [u8]>> {
        match self {
            Self::Bytes(bytes) => Ok(bytes.as_slice().into()),
            Self::Spooled(file) => std::fs::read(file.path()).map(Into::into),
        }
    }
}

/// A wanted file that is visible in the squashed image.
#[derive(Debug)]
pub struct Found {
    /// The path in the image, without a leading `/`.
    pub path: String,
    pub content: Content,
}

/// The operating system of the image, from `etc/os-release` (or
/// `usr/lib/os-release`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Distro {
    /// `ID` (`debian`, `alpine`, `rhel`, ...).
    pub id: String,
    /// `VERSION_ID` (`12`, `3.20.3`, `9.4`).
    pub version_id: Option<String>,
    /// `ID_LIKE`, split on spaces.
    pub id_like: Vec<String>,
    pub pretty_name: Option<String>,
}

/// What a cataloger could not read: one sentence, written into the SBOM
/// as an annotation and printed as a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem(pub String);

pub trait Cataloger: Send + Sync {
    /// Its name in warnings and counts (`dpkg`, `rpm`, `python`, ...).
    fn name(&self) -> &'static str;
    /// Whether, and how, it wants this file.
    fn wants(&self, file: &FileMeta<'_>) -> Option<Take>;
    /// The sift for a file it wanted with `Take::Sift`.
    fn sift(&self, _file: &FileMeta<'_>) -> Box<dyn Sift> {
        unimplemented!("{} never asks for Take::Sift", self.name())
    }
    /// The packages its visible files hold. Never panics on bad bytes:
    /// what it cannot read goes into `problems`.
    fn catalog(
        &self,
        files: &[Found],
        distro: Option<&Distro>,
        problems: &mut Vec<Problem>,
    ) -> Vec<Package>;
}

/// What a cataloger does with its files, said once: each file `wanted`
/// takes is read as text (invalid UTF-8 replaced) and turned into packages
/// by `read`. What `read` could not use becomes a problem naming the
/// cataloger and the file: the whole file (`Err`), or a part of it that it
/// skipped (pushed to its `skipped`). The packages come back sorted.
pub fn read_each(
    cataloger: &str,
    files: &[Found],
    wanted: impl Fn(&str) -> bool,
    mut read: impl FnMut(&Found, &str, &mut Vec<String>) -> Result<Vec<Package>, String>,
    problems: &mut Vec<Problem>,
) -> Vec<Package> {
    let mut packages = Vec::new();
    for found in files.iter().filter(|found| wanted(&found.path)) {
        let mut skipped = Vec::new();
        let read = match found.content.bytes() {
            Ok(bytes) => read(found, &String::from_utf8_lossy(&bytes), &mut skipped),
            Err(error) => Err(format!("could not be read ({error})")),
        };
        match read {
            Ok(found) => packages.extend(found),
            Err(why) => skipped.push(why),
        }
        let path = &found.path;
        problems.extend(
            skipped
                .into_iter()
                .map(|why| Problem(format!("{cataloger}: /{path}: {why}; it was skipped."))),
        );
    }
    packages.sort();
    packages
}
