//! `publish-artifact open`: verify and decrypt a sealed object.

use super::{human_bytes, open_input};
use crate::cli::OpenArgs;
use crate::failure::{Class, ClassExt, Failure, pipeline_class};
use crate::output::AtomicOutput;
use crate::pipeline;
use crate::runtime::Runtime;
use crate::secrets::Key;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::atomic::AtomicU64;

#[derive(Serialize)]
struct Summary<'a> {
    plaintext: &'a std::path::Path,
    plaintext_sha256: String,
    plaintext_size_bytes: u64,
    sha256: String,
    size_bytes: u64,
    seconds: f64,
}

pub fn run(args: &OpenArgs) -> Result<(), Failure> {
    let key = Key::read_file(&args.key_file).class(Class::Input)?;
    let mut input = open_input(&args.file)?;
    let runtime = Runtime::load().class(Class::Internal)?;
    let mut out = AtomicOutput::create(&args.out).class(Class::Output)?;
    let mut plaintext_hash = Sha256::new();
    let progress = AtomicU64::new(0);
    let report = pipeline::open(
        &runtime,
        &mut input,
        &key,
        &args.sha256,
        &progress,
        &mut |bytes| {
            plaintext_hash.update(bytes);
            out.write(bytes)
        },
    )
    .map_err(|err| {
        let class = pipeline_class(&err, Class::Integrity, Class::Output);
        let err = anyhow::Error::new(err).context(format!("cannot open {}", args.file.display()));
        Failure::new(class, err)
    })?;
    out.commit().class(Class::Output)?;

    eprintln!(
        "opened {} ({}): SHA-256, padding and gzip trailer check out; {} written to {}",
        args.file.display(),
        human_bytes(report.object_length),
        human_bytes(report.plaintext_length),
        args.out.display(),
    );
    let json = Summary {
        plaintext: &args.out,
        plaintext_sha256: hex::encode(plaintext_hash.finalize()),
        plaintext_size_bytes: report.plaintext_length,
        sha256: hex::encode(args.sha256),
        size_bytes: report.object_length,
        seconds: report.elapsed.as_secs_f64(),
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&json).expect("plain data serializes")
    );
    Ok(())
}
