//! `publish-artifact seal`: a local, offline seal; with `--sbom on`, the
//! input's SBOMs from the same read, beside the object.

use super::{file_name, human_bytes, mib_per_second, open_artifact};
use crate::attest::registry::SbomFormat;
use crate::cli::SealArgs;
use crate::config;
use crate::failure::{Class, ClassExt, Failure, pipeline_class};
use crate::output::AtomicOutput;
use crate::publishing::input::Input;
use crate::publishing::sbom::{self, Plaintext};
use crate::sbom::document::creation_time;
use crate::sealing::pipeline::{self, SealOptions, SealReport};
use crate::sealing::runtime::Runtime;
use crate::secrets::{Key, KeyFile, generate_iv};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;

/// The summary on stdout. It never holds the key.
#[derive(Serialize)]
struct Summary<'a> {
    object: &'a std::path::Path,
    sha256: String,
    size_bytes: u64,
    plaintext_sha256: String,
    plaintext_size_bytes: u64,
    compressed_size_bytes: u64,
    level: u8,
    key_file: &'a std::path::Path,
    /// The SBOM files written (`--sbom on`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sboms: Vec<PathBuf>,
    seconds: f64,
}

pub fn run(args: &SealArgs) -> Result<(), Failure> {
    refuse_existing_out(args)?;
    let created = args
        .sbom
        .then(|| creation_time(config::lookup, std::time::SystemTime::now()))
        .transpose()
        .map_err(super::usage)?;
    let mut input = Input::new(open_artifact(&args.file)?, None, args.sbom)
        .map_err(|err| anyhow::anyhow!("cannot read the input file {}: {err}", args.file.display()))
        .class(Class::Input)?;
    let (key, iv, reserved) = key_of(args)?;
    let runtime = Runtime::load().class(Class::Internal)?;
    let mut out = AtomicOutput::create(&args.out).class(Class::Output)?;
    let options = SealOptions::new(args.tuning.level, args.tuning.threads());
    let progress = AtomicU64::new(0);
    let report = pipeline::seal(
        &runtime,
        &mut input,
        &key,
        &iv,
        &options,
        &progress,
        &mut |bytes| out.write(bytes),
    )
    .map_err(|err| Failure::new(pipeline_class(&err, Class::Internal, Class::Output), err))?;

    let key_path = match reserved {
        Some(reserved) => {
            reserved.commit(&key).class(Class::Output)?;
            args.key_out.as_deref()
        }
        None => args.key_file.as_deref(),
    }
    .expect("one of the two is set");
    if let Err(err) = out.commit() {
        if args.key_out.is_some() {
            let _ = std::fs::remove_file(key_path);
        }
        return Err(Failure::new(Class::Output, err));
    }
    let sboms = match created {
        Some(created) => write_sboms(args, input, &report, created)?,
        None => Vec::new(),
    };

    let summary = &report.summary;
    eprintln!(
        "sealed {} ({}) into {} ({}) in {:.2} s, {:.1} MiB/s; key in {}",
        args.file.display(),
        human_bytes(summary.plaintext_length),
        args.out.display(),
        human_bytes(summary.object_length),
        report.elapsed.as_secs_f64(),
        mib_per_second(summary.plaintext_length, report.elapsed),
        key_path.display(),
    );
    let json = Summary {
        object: &args.out,
        sha256: hex::encode(&summary.object_sha256),
        size_bytes: summary.object_length,
        plaintext_sha256: hex::encode(report.plaintext_sha256),
        plaintext_size_bytes: summary.plaintext_length,
        compressed_size_bytes: summary.compressed_length,
        level: options.level,
        key_file: key_path,
        sboms,
        seconds: report.elapsed.as_secs_f64(),
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&json).expect("plain data serializes")
    );
    Ok(())
}

/// The key and IV given (`--key-file`, `--iv`), or fresh ones with the new
/// key file reserved (`--key-out`).
fn key_of(args: &SealArgs) -> Result<(Key, [u8; 16], Option<KeyFile<'_>>), Failure> {
    Ok(match (&args.key_file, args.iv, &args.key_out) {
        (Some(path), Some(iv), _) => (Key::read_file(path).class(Class::Input)?, iv, None),
        (None, None, Some(path)) => {
            let reserved = KeyFile::reserve(path).class(Class::Output)?;
            let key = Key::generate().class(Class::Internal)?;
            (key, generate_iv().class(Class::Internal)?, Some(reserved))
        }
        _ => unreachable!("clap requires --key-out, or --key-file with --iv"),
    })
}

/// The SBOMs of what was sealed, each beside `--out` (written whole or not
/// at all): an image's packages from the scan, or a file's ML-BOM.
fn write_sboms(
    args: &SealArgs,
    input: Input<impl std::io::Read>,
    report: &SealReport,
    created: std::time::SystemTime,
) -> Result<Vec<PathBuf>, Failure> {
    let scanned = input.finish()?.scanned;
    let name = file_name(&args.file);
    let plaintext = Plaintext {
        names: None,
        file_name: &name,
        sha256: report.plaintext_sha256,
        size: report.summary.plaintext_length,
    };
    let (documents, _) = sbom::documents(scanned, None, plaintext, created, None);
    SbomFormat::ALL
        .into_iter()
        .map(|format| {
            let path = sbom_path(&args.out, format);
            let mut file = AtomicOutput::create(&path).class(Class::Output)?;
            file.write(documents.document(format))
                .class(Class::Output)?;
            file.commit().class(Class::Output)?;
            Ok(path)
        })
        .collect()
}

/// `OUT.cdx.json`, `OUT.spdx.json`: the suffixes the published files have.
fn sbom_path(out: &std::path::Path, format: SbomFormat) -> PathBuf {
    let mut path = out.as_os_str().to_owned();
    path.push(format.document().suffix());
    path.into()
}

/// An object already at `--out` pairs with a key somewhere: replacing it
/// silently would leave that key opening nothing (exit 7 before anything is
/// read, unless `--force`).
fn refuse_existing_out(args: &SealArgs) -> Result<(), Failure> {
    if args.force || std::fs::symlink_metadata(&args.out).is_err() {
        return Ok(());
    }
    Err(Failure::new(
        Class::Output,
        anyhow::anyhow!(
            "{} already exists: pass --force to replace it, or choose another --out",
            args.out.display()
        ),
    ))
}
