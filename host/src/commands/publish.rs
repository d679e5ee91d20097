//! `publish-artifact [publish]`: seal, upload, register; all or nothing.
//!
//! 1. Every flag, variable and name is checked before the file is read or a
//!    connection opened.
//! 2. The bucket is asked for (wrong credentials, a missing bucket or a dead
//!    endpoint stop us here), and so is the object key: a published version
//!    is immutable, so an existing one stops us too (exit 8), unless
//!    `--replace`, which copies it aside first.
//! 3. The file is sealed straight into the upload (no temporary file,
//!    bounded memory), written only if the key is still free
//!    (`If-None-Match: *`, so a racing publish cannot be overwritten).
//! 4. The stored object's size is checked, the provenance sidecars are put
//!    beside it (`{key}.sha256`, `{key}.intoto.json`, `{key}.sha256.sig`;
//!    see docs/provenance.md) with the SBOMs made in the same read
//!    (`{key}.cdx.json`, `{key}.spdx.json` and their signed statements; see
//!    docs/sbom.md), then the row is registered.
//!
//! Any failure, or a signal, undoes what was done (`store::staged`): an
//! upload is aborted, an object deleted, a replaced object put back. Only a
//! registration whose answer was lost leaves the object, and says so.

use super::{file_name, human_bytes, mib_per_second, open_artifact, print_json, usage};
use crate::admin::{self, Registration};
use crate::attest::ci::Ci;
use crate::attest::statement::SbomDocuments;
use crate::attest::statement::Sealed;
use crate::cli::PublishArgs;
use crate::config::{self, Environment, Names};
use crate::failure::{Class, ClassExt, Failure, pipeline_class};
use crate::image::BoundImage;
use crate::image::scan::Scanned;
use crate::interrupt::{self, Checked};
use crate::progress::Progress;
use crate::publishing::input::{Finished, Input};
use crate::publishing::provenance::{Provenance, ProvenanceReceipt};
use crate::publishing::sbom::{self, Plaintext, SbomReceipt};
use crate::publishing::staging::{claim, not_interrupted, put_sidecars, settle, stoppable, undo};
use crate::publishing::{AsyncRuntime, async_runtime};
use crate::sbom::squash::Squasher;
use crate::sealing::input::StableInput;
use crate::sealing::pipeline::{self, PipelineError, SealOptions, SealReport};
use crate::sealing::runtime::Runtime;
use crate::secrets::{Key, generate_iv};
use crate::store::s3::{AlreadyExists, Bucket};
use crate::store::staged::Staged;
use crate::store::upload::{self, PartWriter, UploadReport};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;
use tokio::sync::mpsc;

/// What a publish whose version is taken could do instead of `--replace`.
const INSTEAD: &str = ", or publish under a new --version";

/// The receipt `--json` prints. It never holds the key.
#[derive(Serialize)]
struct Receipt<'a> {
    object_key: &'a str,
    bucket: &'a str,
    cdn_url: &'a str,
    sha256: String,
    size_bytes: u64,
    plaintext_sha256: String,
    plaintext_size_bytes: u64,
    compressed_size_bytes: u64,
    level: u8,
    upload: &'a UploadReport,
    /// An object published before under this key was replaced (`--replace`).
    replaced: bool,
    registration_attempts: u32,
    provenance: ProvenanceReceipt,
    /// The SBOMs beside the object; absent with `--sbom off`.
    #[serde(skip_serializing_if = "Option::is_none")]
    sbom: Option<SbomReceipt>,
    durations: Durations,
}

#[derive(Serialize)]
struct Durations {
    seal_and_upload_seconds: f64,
    registration_seconds: f64,
    total_seconds: f64,
}

impl Durations {
    fn until_now(started: Instant, sealed_at: Instant) -> Self {
        let finished = Instant::now();
        Self {
            seal_and_upload_seconds: (sealed_at - started).as_secs_f64(),
            registration_seconds: (finished - sealed_at).as_secs_f64(),
            total_seconds: (finished - started).as_secs_f64(),
        }
    }
}

/// The flags, all present and every name safe for an object key.
fn checked_flags(args: &PublishArgs) -> Result<(PathBuf, Names), Failure> {
    let version = args.version.clone().flatten();
    let fields = [
        ("file", args.file.as_ref().map(|p| p.display().to_string())),
        ("resource-name", args.resource_name.clone()),
        ("dev-stage", args.dev_stage.clone()),
        ("architecture", args.architecture.clone()),
        ("version", version.clone()),
    ];
    let missing: Vec<String> = fields
        .iter()
        .filter(|(_, value)| value.is_none())
        .map(|(flag, _)| format!("--{flag}"))
        .collect();
    if !missing.is_empty() {
        return Err(usage(format!(
            "missing {}: publishing needs --file, --resource-name, --dev-stage, --architecture \
             and --version (or their PLUGIN_* settings); see --help",
            missing.join(", ")
        )));
    }
    let names = Names {
        resource_name: args.resource_name.clone().unwrap_or_default(),
        dev_stage: args.dev_stage.clone().unwrap_or_default(),
        architecture: args.architecture.clone().unwrap_or_default(),
        version: version.unwrap_or_default(),
    }
    .checked()
    .map_err(usage)?;
    Ok((args.file.clone().expect("checked above"), names))
}

pub fn run(args: &PublishArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let (file, names) = checked_flags(args)?;
    let env = Environment::load(config::lookup).map_err(usage)?;
    let mut provenance = Provenance::prepare(&args.provenance, &names)?;
    let (input, plaintext_length) = open_through(&mut provenance, &file)?;

    let runtime = Runtime::load().class(Class::Internal)?;
    let tokio = async_runtime()?;
    let bucket = Bucket::new(&env.s3);
    let http = admin::client().class(Class::Internal)?;
    let publish_id = admin::idempotency_key().class(Class::Internal)?;
    let object_key = names.object_key();

    let key = Key::generate().class(Class::Internal)?;
    let place = (&tokio, &runtime, &bucket);
    let sealing = (object_key.as_str(), publish_id.as_str(), plaintext_length);
    let (mut staged, mut stored) = claim_and_seal(place, sealing, args, input, &key)?;
    let sealed_at = Instant::now();
    let name = file_name(&file);
    let (sboms, sbom_receipt) = sboms_of(&provenance, &mut stored, &names, &name).unzip();
    let (summary, object_sha256) = (&stored.report.summary, stored.object_sha256);
    let sealed = facts(&names, &object_key, &stored, &key, &name, args.tuning.level);
    let files = provenance.sidecars(sealed, stored.image.as_ref(), sboms.as_ref());
    let sidecar_keys = match put_sidecars(
        &tokio,
        &bucket,
        &mut staged,
        &object_key,
        files,
        args.replace,
    ) {
        Ok(keys) => keys,
        Err(err) => return Err(undo(&tokio, staged, upload_failure(err))),
    };

    let cdn_url = env.cdn_url(&object_key);
    let row = Registration::of(
        &names,
        &cdn_url,
        &key,
        &object_sha256,
        summary.object_length,
    );
    let (attempts, replaced) = register(&tokio, &http, &env, row, staged, &publish_id)?;
    drop(key);
    let receipt = Receipt {
        object_key: &object_key,
        bucket: bucket.name(),
        cdn_url: &cdn_url,
        sha256: hex::encode(object_sha256),
        size_bytes: summary.object_length,
        plaintext_sha256: hex::encode(stored.report.plaintext_sha256),
        plaintext_size_bytes: summary.plaintext_length,
        compressed_size_bytes: summary.compressed_length,
        level: args.tuning.level,
        upload: &stored.upload,
        replaced,
        registration_attempts: attempts,
        provenance: provenance.receipt(sidecar_keys, stored.image.as_ref()),
        sbom: sbom_receipt,
        durations: Durations::until_now(started, sealed_at),
    };
    say_published(
        &file,
        &receipt,
        mib_per_second(summary.plaintext_length, stored.report.elapsed),
    );
    if let Some(note) = env.cdn_url_note(&cdn_url) {
        eprintln!("{note}");
    }
    if args.json {
        print_json(&receipt);
    }
    Ok(())
}

/// The input file and its length, to be read through what the provenance
/// and the SBOM need to see of it.
fn open_through(
    provenance: &mut Provenance,
    file: &std::path::Path,
) -> Result<(Input<Checked<StableInput>>, u64), Failure> {
    let input = open_artifact(file)?;
    let length = input.0.length();
    let input = provenance
        .input(input)
        .map_err(|err| anyhow::anyhow!("cannot read the input file {}: {err}", file.display()))
        .class(Class::Input)?;
    Ok((input, length))
}

/// What the seal left in the bucket, checked.
struct Stored {
    report: SealReport,
    object_sha256: [u8; 32],
    upload: UploadReport,
    image: Option<BoundImage>,
    /// The scan of a tar's layers, until its SBOM is made.
    scanned: Option<Result<Scanned<Squasher>, String>>,
}

/// The SBOM documents of the sealed input, unless `--sbom off`: made from
/// the scan of the one read (an image), or from the plaintext's digest (a
/// model). The supplier is the repository CI built from.
fn sboms_of(
    provenance: &Provenance,
    stored: &mut Stored,
    names: &Names,
    file_name: &str,
) -> Option<(SbomDocuments, SbomReceipt)> {
    let created = provenance.sbom_created()?;
    let plaintext = Plaintext {
        names: Some(names),
        file_name,
        sha256: stored.report.plaintext_sha256,
        size: stored.report.summary.plaintext_length,
    };
    let supplier = Ci::read(&|name| std::env::var(name).ok()).repository;
    let scanned = stored.scanned.take();
    Some(sbom::documents(
        scanned,
        stored.image.as_ref(),
        plaintext,
        created,
        supplier,
    ))
}

/// Claims the object key, then seals into it; on a failure, undoes what
/// was staged.
fn claim_and_seal<'b, I: std::io::Read + Send>(
    (tokio, runtime, bucket): (&AsyncRuntime, &Runtime, &'b Bucket),
    (object_key, publish_id, plaintext_length): (&str, &str, u64),
    args: &PublishArgs,
    input: Input<I>,
    key: &Key,
) -> Result<(Staged<'b>, Stored), Failure> {
    let mut staged = claim(tokio, bucket, object_key, args.replace, publish_id, INSTEAD)?;
    let options = SealOptions::new(args.tuning.level, args.tuning.threads());
    let sealed = seal_checked(
        (tokio, runtime, bucket),
        input,
        key,
        &options,
        object_key,
        (!args.replace, plaintext_length, args.progress),
        &mut staged,
    );
    match sealed {
        Ok(stored) => Ok((staged, stored)),
        Err(failure) => Err(undo(tokio, staged, failure)),
    }
}

/// What the provenance says of the sealed object.
fn facts<'a>(
    names: &'a Names,
    object_key: &'a str,
    stored: &Stored,
    key: &'a Key,
    input_name: &'a str,
    level: u8,
) -> Sealed<'a> {
    Sealed {
        names,
        object_key,
        object_sha256: stored.object_sha256,
        object_size: stored.report.summary.object_length,
        data_key: key,
        input_name,
        input_sha256: stored.report.plaintext_sha256,
        level,
    }
}

/// Seals the input into the upload, then checks what was stored and the
/// image binding's verdict (the tarball was read whole by then). On an
/// error the caller undoes `staged`.
fn seal_checked<I: std::io::Read + Send>(
    (tokio, runtime, bucket): (&AsyncRuntime, &Runtime, &Bucket),
    mut input: Input<I>,
    key: &Key,
    options: &SealOptions,
    object_key: &str,
    (if_absent, plaintext_length, show_progress): (bool, u64, bool),
    staged: &mut Staged<'_>,
) -> Result<Stored, Failure> {
    let (report, upload) = seal_and_upload(
        tokio,
        runtime,
        &mut input,
        key,
        options,
        bucket,
        object_key,
        if_absent,
        (plaintext_length, show_progress),
    )?;
    staged.uploaded();
    let object_sha256: [u8; 32] = report
        .summary
        .object_sha256
        .as_slice()
        .try_into()
        .class(Class::Internal)?;
    check_stored(tokio, bucket, object_key, report.summary.object_length).class(Class::Storage)?;
    let Finished { image, scanned } = input.finish()?;
    Ok(Stored {
        report,
        object_sha256,
        upload,
        image,
        scanned,
    })
}

/// Registers the row and settles what was staged by the answer. A signal
/// that came while the registration was in flight waited for its answer.
fn register(
    tokio: &AsyncRuntime,
    http: &reqwest::Client,
    env: &Environment,
    row: Registration<'_>,
    staged: Staged<'_>,
    publish_id: &str,
) -> Result<(u32, bool), Failure> {
    let registered = tokio.block_on(admin::register(http, &env.admin, &row, publish_id));
    drop(row);
    let settled = settle(tokio, staged, registered)?;
    if let Some(signal) = interrupt::received() {
        eprintln!(
            "{} came during the registration, which completed: the publish stands",
            signal.name()
        );
    }
    Ok(settled)
}

/// The bytes the server stored must be the bytes we hashed: every body
/// went up with its Content-MD5, and the whole must have the length we
/// sent. A signal that came meanwhile stops us before the row exists.
fn check_stored(
    tokio: &AsyncRuntime,
    bucket: &Bucket,
    object_key: &str,
    sent: u64,
) -> anyhow::Result<()> {
    tokio
        .block_on(stoppable(async {
            match bucket.head(object_key).await? {
                Some(info) if info.size == sent => Ok(()),
                Some(info) => anyhow::bail!(
                    "the stored object is {} bytes, but {sent} were sent",
                    info.size
                ),
                None => anyhow::bail!("the uploaded object is not in the bucket"),
            }
        }))
        .and_then(|()| not_interrupted())
}

/// The one-line summary on stderr.
fn say_published(file: &std::path::Path, receipt: &Receipt<'_>, mib_per_second: f64) {
    eprintln!(
        "published {} ({}) as s3://{}/{} ({}, sha256 {}) in {:.1} s ({:.1} MiB/s), \
         registered at the admin API{}",
        file.display(),
        human_bytes(receipt.plaintext_size_bytes),
        receipt.bucket,
        receipt.object_key,
        human_bytes(receipt.size_bytes),
        &receipt.sha256[..16],
        receipt.durations.total_seconds,
        mib_per_second,
        if receipt.replaced {
            ", replacing the previous object"
        } else {
            ""
        },
    );
}

/// The class of an upload's failure: a conditional write that lost is
/// "exists", anything else "storage" (a signal's code replaces it in `main`).
fn upload_failure(err: anyhow::Error) -> Failure {
    match err.downcast_ref::<AlreadyExists>() {
        Some(_) => Failure::new(
            Class::Exists,
            err.context("another publish of this version won the race"),
        ),
        None => Failure::new(Class::Storage, err),
    }
}

/// Seals the input straight into the upload: the pipeline on this thread
/// hands parts to the uploader on the async runtime. A seal that fails
/// never sends `End`, so the uploader abandons (aborts) the upload; an
/// upload that fails closes its channel, which stops the pipeline.
#[allow(clippy::too_many_arguments)]
fn seal_and_upload(
    tokio: &AsyncRuntime,
    runtime: &Runtime,
    input: &mut (dyn std::io::Read + Send),
    key: &Key,
    options: &SealOptions,
    bucket: &Bucket,
    object_key: &str,
    if_absent: bool,
    (plaintext_length, show_progress): (u64, bool),
) -> Result<(SealReport, UploadReport), Failure> {
    let iv = generate_iv().class(Class::Internal)?;
    let (parts_tx, parts_rx) = mpsc::channel(1);
    let uploading = tokio.spawn({
        let (bucket, object_key) = (bucket.clone(), object_key.to_string());
        async move { upload::upload(&bucket, &object_key, if_absent, parts_rx).await }
    });
    let progress = Progress::start(plaintext_length, show_progress, "publishing");
    let mut parts = PartWriter::new(upload::part_size(plaintext_length), parts_tx);
    let sealed = pipeline::seal(
        runtime,
        input,
        key,
        &iv,
        options,
        progress.counter(),
        &mut |bytes| parts.write(bytes),
    )
    .and_then(|report| {
        parts.finish().map_err(PipelineError::Sink)?;
        Ok(report)
    });
    drop(progress);
    let uploaded = tokio
        .block_on(uploading)
        .map_err(|err| anyhow::anyhow!("the upload task failed: {err}"))
        .class(Class::Internal)?;
    match (sealed, uploaded) {
        (Ok(report), Ok(upload)) => Ok((report, upload)),
        // The sealer only stops on its own sink when the upload failed:
        // the upload's error is the cause.
        (Err(PipelineError::Sink(_)) | Ok(_), Err(err)) => Err(upload_failure(err)),
        (Err(err), _) => {
            let class = pipeline_class(&err, Class::Internal, Class::Storage);
            Err(Failure::new(class, err))
        }
    }
}
