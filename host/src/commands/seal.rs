//! `publish-artifact seal`: a local, offline seal.

use super::{human_bytes, mib_per_second, open_artifact};
use crate::cli::SealArgs;
use crate::failure::{Class, ClassExt, Failure, pipeline_class};
use crate::output::AtomicOutput;
use crate::sealing::pipeline::{self, SealOptions};
use crate::sealing::runtime::Runtime;
use crate::secrets::{Key, KeyFile, generate_iv};
use serde::Serialize;
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
    seconds: f64,
}

pub fn run(args: &SealArgs) -> Result<(), Failure> {
    refuse_existing_out(args)?;
    let mut input = open_artifact(&args.file)?;
    let (key, iv, reserved) = match (&args.key_file, args.iv, &args.key_out) {
        (Some(path), Some(iv), _) => (Key::read_file(path).class(Class::Input)?, iv, None),
        (None, None, Some(path)) => {
            let reserved = KeyFile::reserve(path).class(Class::Output)?;
            let key = Key::generate().class(Class::Internal)?;
            (key, generate_iv().class(Class::Internal)?, Some(reserved))
        }
        _ => unreachable!("clap requires --key-out, or --key-file with --iv"),
    };
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
        seconds: report.elapsed.as_secs_f64(),
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&json).expect("plain data serializes")
    );
    Ok(())
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
