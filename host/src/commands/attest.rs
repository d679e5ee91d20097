//! `publish-artifact attest verify`: a consumer's check of an object
//! against its provenance. The statement is checked first (it is small),
//! then the object is hashed streaming; every refusal is one sentence and
//! exit 9. A promoted object's statement names the object it was published
//! as; its verification summary (`.vsa.intoto.json`) then vouches that this
//! object, under this key, is that one.

use super::{denied, download_source, open_input, print_json, refused, sha256_of};
use crate::attest::Refusal;
use crate::attest::keys::VerifyingKey;
use crate::attest::policy::{Measured, Placement, Policy, Verdict};
use crate::attest::registry::SidecarKind;
use crate::attest::verify::{Pins, Signed, Trust};
use crate::cli::{AttestCommand, AttestVerifyArgs};
use crate::failure::{Class, ClassExt, Failure};
use crate::store::download::{ResumingReader, Source};
use serde::Serialize;
use std::cell::RefCell;
use std::io::Read;
use std::path::PathBuf;

pub fn run(command: &AttestCommand) -> Result<(), Failure> {
    match command {
        AttestCommand::Verify(args) => run_verify(args),
    }
}

#[derive(Serialize)]
struct Report<'a> {
    object: String,
    statement: String,
    sha256: String,
    size_bytes: u64,
    signed_by: Option<&'a str>,
    object_key: Option<&'a str>,
    dev_stage: &'a str,
    builder_id: &'a str,
    repository: Option<&'a str>,
    commit: Option<&'a str>,
    image: Option<&'a str>,
    /// How a promoted object was accepted: by its verification summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    promoted: Option<Promoted>,
}

#[derive(Serialize)]
struct Promoted {
    vsa: String,
    /// The object key the provenance names: where it was published.
    published_as: String,
    verifier: String,
    time_verified: String,
}

/// Where the object and its statement come from.
enum Location {
    File(PathBuf),
    Remote(Source),
}

fn run_verify(args: &AttestVerifyArgs) -> Result<(), Failure> {
    let trust = trust_of(args)?;
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .class(Class::Internal)?;
    let object = object_of(args, &tokio)?;
    let beside = Beside {
        args,
        object: &object,
        tokio: &tokio,
        absent: RefCell::new(Vec::new()),
    };
    let statement_location = beside.statement()?;
    let summary_location = beside.summary()?;
    let url_path = args.object.url.as_deref().map(url_path);
    let placement = placement_of(
        &object,
        args.object.object_key.as_deref(),
        url_path.as_deref(),
    );
    let mut read = |kind: SidecarKind| beside.read(kind);
    let measure = || {
        hash_object(&object, &tokio).map(|(sha256, size)| Measured {
            sha256: Some(sha256),
            size,
        })
    };
    let policy = Policy {
        trust: &trust,
        placement,
        promotion: None,
        require_sbom: args.require_sbom,
    };
    let verdict = policy.decide(&mut read, measure).map_err(denied)?;
    let vsa = match (&verdict.summary, summary_location) {
        (Some(_), Some(location)) => {
            Some(describe(&beside.read_from(SidecarKind::Summary, location)?))
        }
        _ => None,
    };
    let statement = beside.read_from(SidecarKind::Statement, statement_location)?;
    report(&verdict, describe(&object), describe(&statement), vsa);
    Ok(())
}

/// Where each file beside the object is read from, and how.
struct Beside<'a> {
    args: &'a AttestVerifyArgs,
    object: &'a Location,
    tokio: &'a tokio::runtime::Runtime,
    /// The bare kinds that were not there (their bundles were read).
    absent: RefCell<Vec<SidecarKind>>,
}

impl Beside<'_> {
    /// The file of `kind` next to the object, local or remote.
    fn location(&self, kind: SidecarKind) -> Result<Location, Failure> {
        match self.object {
            Location::File(path) => {
                let mut beside = path.clone().into_os_string();
                beside.push(kind.suffix());
                Ok(Location::File(beside.into()))
            }
            Location::Remote(_) => remote_beside(self.args, kind.suffix(), self.tokio),
        }
    }

    /// Where the file of `kind` that passed was read: `location`, or its
    /// bundle beside the object when that was not there.
    fn read_from(&self, kind: SidecarKind, location: Location) -> Result<Location, Failure> {
        match (self.absent.borrow().contains(&kind), kind.bundle()) {
            (true, Some(bundle)) => self.location(bundle),
            _ => Ok(location),
        }
    }

    /// `--statement`, or the envelope beside the object.
    fn statement(&self) -> Result<Location, Failure> {
        match &self.args.statement {
            Some(path) => Ok(Location::File(path.clone())),
            None => self.location(SidecarKind::Statement),
        }
    }

    /// A local file's summary is only the one given; a remote object's
    /// sits beside it.
    fn summary(&self) -> Result<Option<Location>, Failure> {
        Ok(match (&self.args.vsa, self.object) {
            (Some(path), _) => Some(Location::File(path.clone())),
            (None, Location::Remote(_)) => Some(self.location(SidecarKind::Summary)?),
            (None, Location::File(_)) => None,
        })
    }

    /// The policy's reader. A `--statement` or `--vsa` (in either form) is
    /// the only one of its kind read; otherwise the bare file, its bundle,
    /// or both beside the object will do.
    fn read(&self, kind: SidecarKind) -> Result<Option<Vec<u8>>, Failure> {
        let (args, tokio) = (self.args, self.tokio);
        match kind {
            SidecarKind::Statement if args.statement.is_none() => {
                let bundle = self.location(SidecarKind::StatementBundle)?;
                let bare = statement_beside(&self.statement()?, &bundle, tokio)?;
                self.absent_if_none(kind, bare)
            }
            SidecarKind::Statement => read_limited(&self.statement()?, kind, tokio).map(Some),
            SidecarKind::StatementBundle if args.statement.is_none() => {
                read_if_present(&self.location(kind)?, kind, tokio)
            }
            SidecarKind::Summary => match self.summary()? {
                Some(location) if args.vsa.is_none() => {
                    self.absent_if_none(kind, read_if_present(&location, kind, tokio)?)
                }
                Some(location) => read_if_present(&location, kind, tokio),
                None => Ok(None),
            },
            SidecarKind::SummaryBundle => match (&args.vsa, self.object) {
                (None, Location::Remote(_)) => read_if_present(&self.location(kind)?, kind, tokio),
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

/// The object: `--file`, or the download `--url` or `--object-key` names.
fn object_of(
    args: &AttestVerifyArgs,
    tokio: &tokio::runtime::Runtime,
) -> Result<Location, Failure> {
    Ok(match &args.object.file {
        Some(path) => Location::File(path.clone()),
        None => Location::Remote(download_source(
            args.object.url.as_deref(),
            args.object.object_key.as_deref(),
            tokio,
        )?),
    })
}

/// Where the object sits: a local file, a key, or a URL's path.
fn placement_of<'a>(
    object: &Location,
    object_key: Option<&'a str>,
    url_path: Option<&'a str>,
) -> Placement<'a> {
    match (object, object_key, url_path) {
        (Location::File(_), _, _) => Placement::File,
        (_, Some(key), _) => Placement::Key(key),
        (_, None, Some(path)) => Placement::UrlPath(path),
        (_, None, None) => unreachable!("clap requires --file, --url or --object-key"),
    }
}

/// The trusted key from `--public-key`, or none with `--allow-unsigned`.
fn trust_of(args: &AttestVerifyArgs) -> Result<Trust, Failure> {
    if args.public_key.is_none() && !args.allow_unsigned {
        return Err(Failure::new(
            Class::Usage,
            anyhow::anyhow!(
                "give --public-key PEM (or --allow-unsigned to skip the signature check)"
            ),
        ));
    }
    let public_key = args
        .public_key
        .as_deref()
        .map(|path| {
            let pem = std::fs::read(path)
                .map_err(|err| {
                    anyhow::anyhow!("cannot read --public-key {}: {err}", path.display())
                })
                .class(Class::Input)?;
            VerifyingKey::from_pem(&pem)
                .map_err(|why| anyhow::anyhow!("--public-key {} {why}", path.display()))
                .class(Class::Usage)
        })
        .transpose()?;
    Ok(Trust {
        public_key,
        allow_unsigned: args.allow_unsigned,
        pins: Pins::new(&args.pins, args.stage.clone()),
    })
}

/// The summary line on stderr and the `--json` report on stdout.
fn report(verdict: &Verdict, object: String, statement_at: String, vsa: Option<String>) {
    let statement = &verdict.statement;
    let published_as = verdict.attested.name.clone();
    let promoted = verdict.summary.as_ref().map(|(summary, _)| Promoted {
        vsa: vsa.unwrap_or_default(),
        published_as: published_as.clone(),
        verifier: summary.predicate.verifier.id.clone(),
        time_verified: summary.predicate.time_verified.clone(),
    });
    let signed_by = match &verdict.signed {
        Signed::By(keyid) => Some(keyid.as_str()),
        Signed::NotChecked => None,
    };
    eprintln!(
        "verified {object}: its SHA-256 is the statement's subject {published_as}{}, {}",
        match &promoted {
            Some(promoted) => format!(
                ", promoted as its verification summary {} says",
                promoted.vsa
            ),
            None => String::new(),
        },
        match signed_by {
            Some(keyid) => format!("signed by key {}", &keyid[..16]),
            None => "signature NOT checked (--allow-unsigned)".into(),
        }
    );
    let external = statement.external();
    print_json(&Report {
        object,
        statement: statement_at,
        sha256: hex::encode(verdict.attested.sha256),
        size_bytes: verdict.attested.size,
        signed_by,
        object_key: statement.object().and_then(|s| s.name.as_deref()),
        dev_stage: &external.dev_stage,
        builder_id: &statement.predicate.run_details.builder.id,
        repository: external.repository.as_deref(),
        commit: statement.commit(),
        image: external.image_ref.as_deref(),
        promoted,
    });
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
    args: &AttestVerifyArgs,
    suffix: &str,
    tokio: &tokio::runtime::Runtime,
) -> Result<Location, Failure> {
    let url = args
        .object
        .url
        .as_deref()
        .map(|url| beside_url(url, suffix));
    let key = args
        .object
        .object_key
        .as_ref()
        .map(|key| format!("{key}{suffix}"));
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

fn describe(location: &Location) -> String {
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

/// SHA-256 and length of the object, read streaming.
fn hash_object(
    location: &Location,
    tokio: &tokio::runtime::Runtime,
) -> Result<([u8; 32], u64), Failure> {
    let hashed = match location {
        Location::File(path) => sha256_of(&mut open_input(path)?),
        Location::Remote(source) => sha256_of(&mut ResumingReader::new(tokio, source)),
    };
    hashed
        .map_err(|err| anyhow::anyhow!("cannot read the object {}: {err}", describe(location)))
        .class(match location {
            Location::File(_) => Class::Input,
            Location::Remote(_) => Class::Storage,
        })
}
