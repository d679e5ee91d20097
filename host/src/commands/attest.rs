//! `publish-artifact attest verify`: a consumer's check of an object
//! against its provenance. The statement is checked first (it is small),
//! then the object is hashed streaming; every refusal is one sentence and
//! exit 9. A promoted object's statement names the object it was published
//! as; its verification summary (`.vsa.intoto.json`) then vouches that this
//! object, under this key, is that one.

use super::{download_source, open_input, print_json, sha256_of};
use crate::attest::Refusal;
use crate::attest::keys::VerifyingKey;
use crate::attest::sidecars::STATEMENT_SUFFIX;
use crate::attest::statement::Statement;
use crate::attest::summary::{self, Expected, check_summary};
use crate::attest::verify::{self, Pins, Policy, Signed};
use crate::cli::{AttestCommand, AttestVerifyArgs};
use crate::failure::{Class, ClassExt, Failure};
use crate::store::download::{ResumingReader, Source};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::PathBuf;

/// A statement is a few KiB; anything far larger is not one.
const MAX_STATEMENT: u64 = 4 << 20;

pub fn run(command: &AttestCommand) -> Result<(), Failure> {
    match command {
        AttestCommand::Verify(args) => run_verify(args),
    }
}

fn refused(refusal: Refusal) -> Failure {
    Failure::new(Class::Attestation, refusal)
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
    let policy = Policy {
        public_key,
        allow_unsigned: args.allow_unsigned,
        pins: Pins::new(&args.pins, args.stage.clone()),
    };
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .class(Class::Internal)?;
    let object = match &args.object.file {
        Some(path) => Location::File(path.clone()),
        None => Location::Remote(download_source(
            args.object.url.as_deref(),
            args.object.object_key.as_deref(),
            &tokio,
        )?),
    };
    let statement_location = match (&args.statement, &object) {
        (Some(path), _) => Location::File(path.clone()),
        (None, Location::File(path)) => {
            let mut beside = path.clone().into_os_string();
            beside.push(STATEMENT_SUFFIX);
            Location::File(beside.into())
        }
        (None, Location::Remote(_)) => remote_beside(args, STATEMENT_SUFFIX, &tokio)?,
    };

    let envelope = read_statement(&statement_location, &tokio)?;
    let (statement, signed) = verify::check_envelope(&envelope, &policy).map_err(refused)?;
    let (sha256, size_bytes) = hash_object(&object, &tokio)?;
    // A file may have been renamed; a key or URL names the object itself.
    let object_key = match &object {
        Location::File(_) => None,
        Location::Remote(_) => Some(remote_object_key(args, &statement)),
    };
    let published_as = statement
        .object()
        .and_then(|s| s.name.clone())
        .unwrap_or_default();
    let summary_location = match (&args.vsa, &object_key) {
        (Some(path), _) => Some(Location::File(path.clone())),
        (None, Some(key)) if *key != published_as => {
            Some(remote_beside(args, summary::SUFFIX, &tokio)?)
        }
        (None, _) => None,
    };
    let promoted = match summary_location {
        None => {
            verify::check_object(&statement, &sha256, object_key.as_deref()).map_err(refused)?;
            None
        }
        Some(location) => {
            verify::check_object(&statement, &sha256, None).map_err(refused)?;
            let summary = check_promotion(
                &location,
                &envelope,
                &policy,
                object_key
                    .as_deref()
                    .map(|key| (key, args.object.url.is_some())),
                (&sha256, &published_as),
                &tokio,
            )?;
            Some(Promoted {
                vsa: describe(&location),
                published_as: published_as.clone(),
                verifier: summary.predicate.verifier.id,
                time_verified: summary.predicate.time_verified,
            })
        }
    };

    let signed_by = match &signed {
        Signed::By(keyid) => Some(keyid.as_str()),
        Signed::NotChecked => None,
    };
    let external = statement.external();
    eprintln!(
        "verified {}: its SHA-256 is the statement's subject {published_as}{}, {}",
        describe(&object),
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
    print_json(&Report {
        object: describe(&object),
        statement: describe(&statement_location),
        sha256: hex::encode(sha256),
        size_bytes,
        signed_by,
        object_key: statement.object().and_then(|s| s.name.as_deref()),
        dev_stage: &external.dev_stage,
        builder_id: &statement.predicate.run_details.builder.id,
        repository: external.repository.as_deref(),
        commit: statement.commit(),
        image: external.image_ref.as_deref(),
        promoted,
    });
    Ok(())
}

/// Checks the verification summary that makes a promoted object the one
/// its provenance names: signed under the same policy, about this object
/// key and digest, decided on this very statement. `object_key` is the key
/// given, or for a URL (`true`) its path, which must end with the summary's key.
fn check_promotion(
    location: &Location,
    envelope: &[u8],
    policy: &Policy,
    object_key: Option<(&str, bool)>,
    (sha256, published_as): (&[u8; 32], &str),
    tokio: &tokio::runtime::Runtime,
) -> Result<summary::Summary, Failure> {
    let bytes = read_statement(location, tokio).map_err(|failure| {
        refused(Refusal::new(format!(
            "the statement names {published_as}, and no verification summary of a promotion \
             vouches for this object ({:#})",
            failure.error
        )))
    })?;
    let expected = match object_key {
        Some((key, false)) => Expected::Key(key),
        Some((path, true)) => Expected::UrlPath(path),
        None => Expected::Any,
    };
    let statement_sha256: [u8; 32] = Sha256::digest(envelope).into();
    check_summary(&bytes, policy, expected, sha256, &statement_sha256)
        .map(|(summary, _)| summary)
        .map_err(refused)
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

/// The object key a remote object stands for: `--object-key`, or for a URL
/// the statement's subject when the URL's path ends with it.
fn remote_object_key(args: &AttestVerifyArgs, statement: &Statement) -> String {
    if let Some(key) = &args.object.object_key {
        return key.clone();
    }
    let subject = statement
        .object()
        .and_then(|s| s.name.clone())
        .unwrap_or_default();
    let path = args
        .object
        .url
        .as_deref()
        .and_then(|url| reqwest::Url::parse(url).ok())
        .map(|url| url.path().to_string())
        .unwrap_or_default();
    match path.ends_with(&format!("/{subject}")) {
        true => subject,
        false => path.trim_start_matches('/').to_string(),
    }
}

fn describe(location: &Location) -> String {
    match location {
        Location::File(path) => path.display().to_string(),
        Location::Remote(source) => source.describe(),
    }
}

fn read_statement(
    location: &Location,
    tokio: &tokio::runtime::Runtime,
) -> Result<Vec<u8>, Failure> {
    let mut bytes = Vec::new();
    let read = match location {
        Location::File(path) => open_input(path)?
            .take(MAX_STATEMENT + 1)
            .read_to_end(&mut bytes),
        Location::Remote(source) => ResumingReader::new(tokio, source)
            .take(MAX_STATEMENT + 1)
            .read_to_end(&mut bytes),
    };
    read.map_err(|err| anyhow::anyhow!("cannot read the statement {}: {err}", describe(location)))
        .class(match location {
            Location::File(_) => Class::Input,
            Location::Remote(_) => Class::Storage,
        })?;
    if bytes.len() as u64 > MAX_STATEMENT {
        return Err(refused(Refusal::new(format!(
            "{} is larger than {} MiB: not a statement",
            describe(location),
            MAX_STATEMENT >> 20
        ))));
    }
    Ok(bytes)
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
