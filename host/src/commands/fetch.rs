//! `publish-artifact fetch`: the loader's side. Download (resuming after a
//! dropped connection), check the SHA-256, decrypt, gunzip; the plaintext
//! appears at `--out` only once all of it checked out.
//!
//! With `--public-key`, the object's provenance is checked first, by the
//! same policy as `attest verify`: it must be signed by one of those keys
//! and attest `--sha256`, which the download is then held to; until it
//! passes, not a byte of the object is read and no output file exists.

use super::beside::Beside;
use super::{download_source, human_bytes, key_ring, open_object, print_json, usage};
use crate::attest::policy::{self, Measured, Verdict};
use crate::attest::verify::{Pins, Signed, Trust};
use crate::cli::FetchArgs;
use crate::failure::{Class, ClassExt, Failure};
use crate::output::AtomicOutput;
use crate::progress::Progress;
use crate::secrets::Key;
use crate::store::download::ResumingReader;

pub fn run(args: &FetchArgs) -> Result<(), Failure> {
    let key = Key::from_file_or_env(args.key.key_file.as_deref())?;
    let trust = trust_of(args)?;
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .class(Class::Internal)?;
    let source = download_source(
        args.source.url.as_deref(),
        args.source.object_key.as_deref(),
        &tokio,
    )?;
    let verdict = match &trust {
        Some(trust) => Some(checked_provenance(args, trust, &tokio)?),
        None => None,
    };
    let mut out = AtomicOutput::create(&args.out).class(Class::Output)?;
    let mut reader = ResumingReader::new(&tokio, &source);
    let progress = Progress::start(0, args.progress, "fetching");
    let opened = open_object(
        &mut reader,
        source.describe(),
        &key,
        &args.sha256,
        Class::Storage,
        progress.counter(),
        &mut |bytes| out.write(bytes),
    );
    drop(progress);
    let mut summary = opened?;
    out.commit().class(Class::Output)?;
    eprintln!(
        "fetched {} ({}{}): SHA-256, padding and gzip check out{}; {} written to {}",
        source.describe(),
        human_bytes(summary.size_bytes),
        match reader.resumes {
            0 => String::new(),
            n => format!(", resumed {n} time{}", if n == 1 { "" } else { "s" }),
        },
        match verdict.as_ref().map(|verdict| &verdict.signed) {
            Some(Signed::By(keyid)) => format!(", its provenance signed by key {}", &keyid[..16]),
            _ => String::new(),
        },
        human_bytes(summary.plaintext_size_bytes),
        args.out.display(),
    );
    summary.plaintext = Some(args.out.clone());
    summary.signed_by = verdict.and_then(|verdict| match verdict.signed {
        Signed::By(keyid) => Some(keyid),
        Signed::NotChecked => None,
    });
    print_json(&summary);
    Ok(())
}

/// The keys of `--public-key` and `--vsa-public-key`, as the policy takes
/// them; none without `--public-key` (nothing is checked then).
fn trust_of(args: &FetchArgs) -> Result<Option<Trust>, Failure> {
    let summary_keys = key_ring(&args.vsa_keys.vsa_public_key, "--vsa-public-key")?;
    if args.public_key.is_empty() {
        return match summary_keys.is_empty() {
            true => Ok(None),
            false => Err(usage(
                "--vsa-public-key checks a promoted object's verification summary, which \
                 vouches for its provenance: give --public-key too",
            )),
        };
    }
    let keys = key_ring(&args.public_key, "--public-key")?;
    policy::verifier_trust(keys, summary_keys, false, Pins::default())
        .map(Some)
        .map_err(usage)
}

/// The policy's verdict on the object's provenance, before the object is
/// read: the provenance must attest `--sha256`, the digest the download is
/// checked against, so that what is written is the attested object.
fn checked_provenance(
    args: &FetchArgs,
    trust: &Trust,
    tokio: &tokio::runtime::Runtime,
) -> Result<Verdict, Failure> {
    let beside = Beside::new(
        None,
        (
            args.source.url.as_deref(),
            args.source.object_key.as_deref(),
        ),
        (None, None),
        tokio,
    );
    let measured = Measured {
        sha256: Some(args.sha256),
        size: 0,
    };
    beside.decide(trust, args.require_sbom, || Ok(measured))
}
