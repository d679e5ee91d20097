//! `publish-artifact attest verify`: a consumer's check of an object
//! against its provenance. The statement is checked first (it is small),
//! then the object is hashed streaming; every refusal is one sentence and
//! exit 9. A promoted object's statement names the object it was published
//! as; its verification summary (`.vsa.intoto.json`) then vouches that this
//! object, under this key, is that one.

use super::beside::{Beside, Location, describe};
use super::{download_source, key_ring, open_input, print_json, sha256_of, usage};
use crate::attest::policy::{self, Measured, Verdict};
use crate::attest::registry::SidecarKind;
use crate::attest::verify::{Pins, Signed, Trust};
use crate::cli::{AttestCommand, AttestVerifyArgs};
use crate::failure::{Class, ClassExt, Failure};
use crate::store::download::ResumingReader;
use serde::Serialize;

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
    promoted: Option<Promoted<'a>>,
}

#[derive(Serialize)]
struct Promoted<'a> {
    vsa: String,
    /// The keyid of the summary key that verified it.
    signed_by: Option<&'a str>,
    /// The object key the provenance names: where it was published.
    published_as: String,
    verifier: String,
    time_verified: String,
}

fn run_verify(args: &AttestVerifyArgs) -> Result<(), Failure> {
    let trust = trust_of(args)?;
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .class(Class::Internal)?;
    let object = object_of(args, &tokio)?;
    let beside = Beside::new(
        args.object.file.as_deref(),
        (
            args.object.url.as_deref(),
            args.object.object_key.as_deref(),
        ),
        (args.statement.as_deref(), args.vsa.as_deref()),
        &tokio,
    );
    let statement_location = beside.statement()?;
    let summary_location = beside.summary()?;
    let measure = || {
        hash_object(&object, &tokio).map(|(sha256, size)| Measured {
            sha256: Some(sha256),
            size,
        })
    };
    let verdict = beside.decide(&trust, args.require_sbom, measure)?;
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

/// The trusted keys from `--public-key` and `--vsa-public-key`, as the
/// policy takes them; none with `--allow-unsigned`.
fn trust_of(args: &AttestVerifyArgs) -> Result<Trust, Failure> {
    if args.public_key.is_empty() && !args.allow_unsigned {
        return Err(Failure::new(
            Class::Usage,
            anyhow::anyhow!(
                "give --public-key PEM (or --allow-unsigned to skip the signature check)"
            ),
        ));
    }
    let keys = key_ring(&args.public_key, "--public-key")?;
    let summary_keys = key_ring(&args.vsa_keys.vsa_public_key, "--vsa-public-key")?;
    let pins = Pins::new(&args.pins, args.stage.clone());
    policy::verifier_trust(keys, summary_keys, args.allow_unsigned, pins).map_err(usage)
}

/// The summary line on stderr and the `--json` report on stdout.
fn report(verdict: &Verdict, object: String, statement_at: String, vsa: Option<String>) {
    let statement = &verdict.statement;
    let published_as = verdict.attested.name.clone();
    fn keyid(signed: &Signed) -> Option<&str> {
        match signed {
            Signed::By(keyid) => Some(keyid.as_str()),
            Signed::NotChecked => None,
        }
    }
    let promoted = verdict.summary.as_ref().map(|vouched| Promoted {
        vsa: vsa.unwrap_or_default(),
        signed_by: keyid(&vouched.signed),
        published_as: published_as.clone(),
        verifier: vouched.summary.predicate.verifier.id.clone(),
        time_verified: vouched.summary.predicate.time_verified.clone(),
    });
    let signed_by = keyid(&verdict.signed);
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
