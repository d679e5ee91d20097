//! The files beside an object (its provenance, verification summary,
//! signatures, SBOMs and their bundles), read for the policy from where the
//! object is: beside a local file, in the bucket, or beside its URL. Shared
//! by `attest verify` and `fetch --public-key`, so that both hand the policy
//! the same files.

use super::{denied, download_source, open_input, refused};
use crate::attest::Refusal;
use crate::attest::policy::{Measured, Placement, Policy, Verdict};
use crate::attest::registry::SidecarKind;
use crate::attest::verify::Trust;
use crate::failure::{Class, ClassExt, Failure};
use crate::store::download::{ResumingReader, Source};
use std::cell::RefCell;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Where the object and its statement come from.
pub enum Location {
    File(PathBuf),
    Remote(Source),
}

/// Where each file beside the object is read from, and how.
pub struct Beside<'a> {
    /// The object as a local file (`--file`); none for a remote object.
    file: Option<&'a Path>,
    /// The remote object's `--url` or `--object-key`, which the files
    /// beside it are named after.
    url: Option<&'a str>,
    object_key: Option<&'a str>,
    /// The URL's path, which shows where the object sits.
    url_path: Option<String>,
    /// `--statement` and `--vsa`: the only file of their kind read.
    statement: Option<&'a Path>,
    vsa: Option<&'a Path>,
    tokio: &'a tokio::runtime::Runtime,
    /// The bare kinds that were not there (their bundles were read).
    absent: RefCell<Vec<SidecarKind>>,
}

impl<'a> Beside<'a> {
    /// The files beside the local `file`, or beside the remote object
    /// named by `url` or `object_key` (whichever it was given by).
    pub fn new(
        file: Option<&'a Path>,
        (url, object_key): (Option<&'a str>, Option<&'a str>),
        (statement, vsa): (Option<&'a Path>, Option<&'a Path>),
        tokio: &'a tokio::runtime::Runtime,
    ) -> Self {
        Self {
            file,
            url,
            object_key,
            url_path: url.map(url_path),
            statement,
            vsa,
            tokio,
            absent: RefCell::new(Vec::new()),
        }
    }

    /// The file of `kind` next to the object, local or remote.
    fn location(&self, kind: SidecarKind) -> Result<Location, Failure> {
        match self.file {
            Some(path) => {
                let mut beside = path.as_os_str().to_owned();
                beside.push(kind.suffix());
                Ok(Location::File(beside.into()))
            }
            None => remote_beside(self.url, self.object_key, kind.suffix(), self.tokio),
        }
    }

    /// The policy's decision on the object, from the files beside it;
    /// `measure` gives the object's digest or size once the provenance passed.
    pub fn decide(
        &self,
        trust: &Trust,
        require_sbom: bool,
        measure: impl FnOnce() -> Result<Measured, Failure>,
    ) -> Result<Verdict, Failure> {
        let policy = Policy {
            trust,
            placement: self.placement(),
            promotion: None,
            require_sbom,
        };
        policy
            .decide(&mut |kind| self.read(kind), measure)
            .map_err(denied)
    }

    /// Where the file of `kind` that passed was read: `location`, or its
    /// bundle beside the object when that was not there.
    pub fn read_from(&self, kind: SidecarKind, location: Location) -> Result<Location, Failure> {
        match (self.absent.borrow().contains(&kind), kind.bundle()) {
            (true, Some(bundle)) => self.location(bundle),
            _ => Ok(location),
        }
    }

    /// `--statement`, or the envelope beside the object.
    pub fn statement(&self) -> Result<Location, Failure> {
        match self.statement {
            Some(path) => Ok(Location::File(path.to_path_buf())),
            None => self.location(SidecarKind::Statement),
        }
    }

    /// A local file's summary is only the one given; a remote object's
    /// sits beside it.
    pub fn summary(&self) -> Result<Option<Location>, Failure> {
        Ok(match (self.vsa, self.file) {
            (Some(path), _) => Some(Location::File(path.to_path_buf())),
            (None, None) => Some(self.location(SidecarKind::Summary)?),
            (None, Some(_)) => None,
        })
    }

    /// The policy's reader. A `--statement` or `--vsa` (in either form) is
    /// the only one of its kind read; otherwise the bare file, its bundle,
    /// or both beside the object will do.
    pub fn read(&self, kind: SidecarKind) -> Result<Option<Vec<u8>>, Failure> {
        let tokio = self.tokio;
        match kind {
            SidecarKind::Statement if self.statement.is_none() => {
                let bundle = self.location(SidecarKind::StatementBundle)?;
                let bare = statement_beside(&self.statement()?, &bundle, tokio)?;
                self.absent_if_none(kind, bare)
            }
            SidecarKind::Statement => read_limited(&self.statement()?, kind, tokio).map(Some),
            SidecarKind::StatementBundle if self.statement.is_none() => {
                read_if_present(&self.location(kind)?, kind, tokio)
            }
            SidecarKind::Summary => match self.summary()? {
                Some(location) if self.vsa.is_none() => {
                    self.absent_if_none(kind, read_if_present(&location, kind, tokio)?)
                }
                Some(location) => read_if_present(&location, kind, tokio),
                None => Ok(None),
            },
            SidecarKind::SummaryBundle => match (self.vsa, self.file) {
                (None, None) => read_if_present(&self.location(kind)?, kind, tokio),
                _ => Ok(None),
            },
            SidecarKind::ChecksumSignature
            | SidecarKind::ChecksumSignatureBundle
            | SidecarKind::CycloneDx
            | SidecarKind::Spdx
            | SidecarKind::CycloneDxStatement
            | SidecarKind::SpdxStatement
            | SidecarKind::CycloneDxStatementBundle
            | SidecarKind::SpdxStatementBundle
            | SidecarKind::ModelSignature => read_if_present(&self.location(kind)?, kind, tokio),
            // Rewritten from the provenance's facts, or only for promotion.
            SidecarKind::Checksum | SidecarKind::KeyWrap | SidecarKind::StatementBundle => Ok(None),
        }
    }

    /// Where the object sits: a local file, a key, or a URL's path.
    fn placement(&self) -> Placement<'_> {
        match (self.file, self.object_key, &self.url_path) {
            (Some(_), _, _) => Placement::File,
            (None, Some(key), _) => Placement::Key(key),
            (None, None, Some(path)) => Placement::UrlPath(path),
            (None, None, None) => unreachable!("clap requires --file, --url or --object-key"),
        }
    }

    fn absent_if_none(
        &self,
        kind: SidecarKind,
        file: Option<Vec<u8>>,
    ) -> Result<Option<Vec<u8>>, Failure> {
        if file.is_none() {
            self.absent.borrow_mut().push(kind);
        }
        Ok(file)
    }
}

/// The path of a URL (`/bucket/dev/x.enc`), or the text itself if it is
/// none (clap's value was already checked to parse).
fn url_path(url: &str) -> String {
    reqwest::Url::parse(url)
        .map(|url| url.path().to_string())
        .unwrap_or_else(|_| url.to_string())
}

/// The file `suffix` names beside the remote object (`--url` or
/// `--object-key`).
fn remote_beside(
    url: Option<&str>,
    object_key: Option<&str>,
    suffix: &str,
    tokio: &tokio::runtime::Runtime,
) -> Result<Location, Failure> {
    let url = url.map(|url| beside_url(url, suffix));
    let key = object_key.map(|key| format!("{key}{suffix}"));
    download_source(url.as_deref(), key.as_deref(), tokio).map(Location::Remote)
}

/// A file beside a URL: `suffix` appended to the path (not after a query
/// string, which a signed URL may carry).
fn beside_url(url: &str, suffix: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            let path = format!("{}{suffix}", parsed.path());
            parsed.set_path(&path);
            parsed.to_string()
        }
        Err(_) => format!("{url}{suffix}"),
    }
}

pub fn describe(location: &Location) -> String {
    match location {
        Location::File(path) => path.display().to_string(),
        Location::Remote(source) => source.describe(),
    }
}

/// A file beside the object, whole, up to its kind's size limit.
fn read_limited(
    location: &Location,
    kind: SidecarKind,
    tokio: &tokio::runtime::Runtime,
) -> Result<Vec<u8>, Failure> {
    let limit = kind.size_limit();
    let mut bytes = Vec::new();
    let read = match location {
        Location::File(path) => open_input(path)?.take(limit + 1).read_to_end(&mut bytes),
        Location::Remote(source) => ResumingReader::new(tokio, source)
            .take(limit + 1)
            .read_to_end(&mut bytes),
    };
    read.map_err(|err| anyhow::anyhow!("cannot read {}: {err}", describe(location)))
        .class(match location {
            Location::File(_) => Class::Input,
            Location::Remote(_) => Class::Storage,
        })?;
    if bytes.len() as u64 > limit {
        return Err(refused(Refusal::new(format!(
            "{} is larger than {} MiB: not a {} file",
            describe(location),
            limit >> 20,
            kind.suffix()
        ))));
    }
    Ok(bytes)
}

/// The provenance's envelope beside the object, or `None` when only its
/// bundle is there (the policy reads that next); when neither is, the
/// envelope's own read error, as for any file that must be there.
fn statement_beside(
    envelope: &Location,
    bundle: &Location,
    tokio: &tokio::runtime::Runtime,
) -> Result<Option<Vec<u8>>, Failure> {
    let kind = SidecarKind::Statement;
    if let Some(bytes) = read_if_present(envelope, kind, tokio)? {
        return Ok(Some(bytes));
    }
    match read_if_present(bundle, SidecarKind::StatementBundle, tokio)? {
        Some(_) => Ok(None),
        None => read_limited(envelope, kind, tokio).map(Some),
    }
}

/// A file that may be absent: `None` when it is not there.
fn read_if_present(
    location: &Location,
    kind: SidecarKind,
    tokio: &tokio::runtime::Runtime,
) -> Result<Option<Vec<u8>>, Failure> {
    match location {
        Location::File(path) if !path.exists() => Ok(None),
        Location::File(_) => read_limited(location, kind, tokio).map(Some),
        Location::Remote(source) => tokio
            .block_on(source.get_if_present(kind.size_limit()))
            .class(Class::Storage),
    }
}
