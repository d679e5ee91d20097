//! `publish-artifact [publish]`: seal, upload, register; all or nothing.
//!
//! Every flag, variable and name is checked before the file is read or a
//! connection opened. Then the bucket is asked for (wrong credentials, a
//! missing bucket or a dead endpoint stop us here), the file is sealed
//! straight into a multipart upload (no temporary file, bounded memory), and
//! the object is registered. An upload that fails is aborted; an object
//! whose registration fails is deleted again.

use super::{human_bytes, mib_per_second, open_input};
use crate::admin::{self, Registration};
use crate::cli::PublishArgs;
use crate::config::{self, Environment, Names};
use crate::failure::{Class, ClassExt, Failure, pipeline_class};
use crate::progress::Progress;
use crate::sealing::pipeline::{self, PipelineError, SealOptions, SealReport};
use crate::sealing::runtime::Runtime;
use crate::secrets::{IV_LENGTH, Key, generate_iv};
use crate::store::s3::{self as storage, Chunk, UploadReport};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;
use tokio::sync::mpsc;

/// The receipt `--json` prints. It never holds the key.
#[derive(Serialize)]
struct Receipt<'a> {
    object_key: &'a str,
    bucket: &'a str,
    cdn_url: &'a str,
    sha256: &'a str,
    size_bytes: u64,
    plaintext_sha256: String,
    plaintext_size_bytes: u64,
    compressed_size_bytes: u64,
    level: u8,
    upload: &'a UploadReport,
    registration_attempts: u32,
    durations: Durations,
}

#[derive(Serialize)]
struct Durations {
    seal_and_upload_seconds: f64,
    registration_seconds: f64,
    total_seconds: f64,
}

fn usage(message: impl Into<String>) -> Failure {
    Failure::new(Class::Usage, anyhow::anyhow!(message.into()))
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
    let names = Names::new([
        (
            "resource-name",
            args.resource_name.clone().unwrap_or_default(),
        ),
        ("dev-stage", args.dev_stage.clone().unwrap_or_default()),
        (
            "architecture",
            args.architecture.clone().unwrap_or_default(),
        ),
        ("version", version.unwrap_or_default()),
    ])
    .map_err(usage)?;
    Ok((args.file.clone().expect("checked above"), names))
}

pub fn run(args: &PublishArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let (file, names) = checked_flags(args)?;
    let env = Arc::new(Environment::load(config::lookup).map_err(usage)?);
    let mut input = open_input(&file)?;
    let plaintext_length = input.metadata().map(|m| m.len()).unwrap_or(0);

    let runtime = Runtime::load().class(Class::Internal)?;
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .class(Class::Internal)?;
    let s3 = tokio.block_on(async { storage::client(&env.s3) });
    let http = admin::client().class(Class::Internal)?;
    tokio
        .block_on(storage::preflight(&s3, &env.s3))
        .class(Class::Storage)?;

    let object_key = names.object_key();
    let key = Key::generate().class(Class::Internal)?;
    let iv = generate_iv().class(Class::Internal)?;
    let options = SealOptions {
        level: args.tuning.level,
        threads: args.tuning.threads(),
    };
    let (parts_tx, parts_rx) = mpsc::channel(1);
    let upload = tokio.spawn({
        let (s3, env, object_key) = (s3.clone(), Arc::clone(&env), object_key.clone());
        async move { storage::upload(s3, &env.s3, &object_key, parts_rx).await }
    });
    let progress = Progress::start(plaintext_length, args.progress, "publishing");
    let sealed = seal_into_parts(
        &runtime,
        &mut input,
        &key,
        &iv,
        &options,
        progress.counter(),
        storage::part_size(plaintext_length),
        parts_tx,
    );
    drop(progress);
    let uploaded = tokio
        .block_on(upload)
        .map_err(|err| anyhow::anyhow!("the upload task failed: {err}"))
        .class(Class::Internal)?;
    let (report, upload) = match (sealed, uploaded) {
        (Ok(report), Ok(upload)) => (report, upload),
        // The sealer only stops on its own sink when the upload failed:
        // the upload's error is the cause.
        (Err(PipelineError::Sink(_)) | Ok(_), Err(err)) => {
            return Err(Failure::new(Class::Storage, err));
        }
        (Err(err), _) => {
            let class = pipeline_class(&err, Class::Internal, Class::Storage);
            return Err(Failure::new(class, err));
        }
    };
    let sealed_at = Instant::now();

    let sha256 = hex::encode(&report.summary.object_sha256);
    let cdn_url = env.cdn_url(&object_key);
    let key_hex = key.to_hex();
    let registration = Registration {
        resource_name: &names.resource_name,
        dev_stage: &names.dev_stage,
        architecture: &names.architecture,
        version: &names.version,
        cdn_url: &cdn_url,
        sha256: &sha256,
        encryption_key: &key_hex,
        size_bytes: report.summary.object_length,
    };
    let registered = tokio.block_on(admin::register(&http, &env.admin, &registration));
    drop(key_hex);
    drop(key);
    let attempts = match registered {
        Ok(attempts) => attempts,
        Err(err) => {
            let deleted = tokio.block_on(storage::delete(&s3, &env.s3, &object_key));
            let outcome = match deleted {
                Ok(()) => format!(
                    "{err}; the uploaded object {object_key} was deleted again, so nothing is published"
                ),
                Err(delete_err) => format!(
                    "{err}; deleting the uploaded object failed too ({delete_err:#}): \
                     an operator must remove s3://{}/{object_key}",
                    env.s3.bucket
                ),
            };
            return Err(Failure::new(Class::Registration, anyhow::anyhow!(outcome)));
        }
    };
    let finished = Instant::now();

    let summary = &report.summary;
    eprintln!(
        "published {} ({}) as s3://{}/{} ({}, sha256 {}) in {:.1} s ({:.1} MiB/s), \
         registered at the admin API",
        file.display(),
        human_bytes(summary.plaintext_length),
        env.s3.bucket,
        object_key,
        human_bytes(summary.object_length),
        &sha256[..16],
        (finished - started).as_secs_f64(),
        mib_per_second(summary.plaintext_length, report.elapsed),
    );
    if args.json {
        let receipt = Receipt {
            object_key: &object_key,
            bucket: &env.s3.bucket,
            cdn_url: &cdn_url,
            sha256: &sha256,
            size_bytes: summary.object_length,
            plaintext_sha256: hex::encode(report.plaintext_sha256),
            plaintext_size_bytes: summary.plaintext_length,
            compressed_size_bytes: summary.compressed_length,
            level: options.level,
            upload: &upload,
            registration_attempts: attempts,
            durations: Durations {
                seal_and_upload_seconds: (sealed_at - started).as_secs_f64(),
                registration_seconds: (finished - sealed_at).as_secs_f64(),
                total_seconds: (finished - started).as_secs_f64(),
            },
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&receipt).expect("plain data serializes")
        );
    }
    Ok(())
}

/// Seals into parts of `part_size` bytes handed to the uploader; `End`
/// follows only a complete seal.
#[allow(clippy::too_many_arguments)]
fn seal_into_parts(
    runtime: &Runtime,
    input: &mut std::fs::File,
    key: &Key,
    iv: &[u8; IV_LENGTH],
    options: &SealOptions,
    progress: &AtomicU64,
    part_size: usize,
    parts: mpsc::Sender<Chunk>,
) -> Result<SealReport, PipelineError> {
    let send = |part: Vec<u8>| {
        parts
            .blocking_send(Chunk::Part(part.into()))
            .map_err(|_| anyhow::anyhow!("the upload stopped"))
    };
    let mut part = Vec::with_capacity(part_size);
    let report = pipeline::seal(
        runtime,
        input,
        key,
        iv,
        options,
        progress,
        &mut |mut bytes| {
            while !bytes.is_empty() {
                let take = (part_size - part.len()).min(bytes.len());
                part.extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
                if part.len() == part_size {
                    send(std::mem::replace(&mut part, Vec::with_capacity(part_size)))?;
                }
            }
            Ok(())
        },
    )?;
    if !part.is_empty() {
        send(part).map_err(PipelineError::Sink)?;
    }
    parts
        .blocking_send(Chunk::End)
        .map_err(|_| PipelineError::Sink(anyhow::anyhow!("the upload stopped")))?;
    Ok(report)
}
