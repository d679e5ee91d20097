//! `publish-artifact open`: verify and decrypt a sealed object.

use super::{human_bytes, open_input, open_object, print_json};
use crate::cli::OpenArgs;
use crate::failure::{Class, ClassExt, Failure};
use crate::output::AtomicOutput;
use crate::secrets::Key;
use std::sync::atomic::AtomicU64;

pub fn run(args: &OpenArgs) -> Result<(), Failure> {
    let key = Key::from_file_or_env(args.key.key_file.as_deref())?;
    let mut input = open_input(&args.file)?;
    let mut out = AtomicOutput::create(&args.out).class(Class::Output)?;
    let source = args.file.display().to_string();
    let mut summary = open_object(
        &mut input,
        source,
        &key,
        &args.sha256,
        Class::Input,
        &AtomicU64::new(0),
        &mut |bytes| out.write(bytes),
    )?;
    out.commit().class(Class::Output)?;
    eprintln!(
        "opened {} ({}): SHA-256, padding and gzip trailer check out; {} written to {}",
        args.file.display(),
        human_bytes(summary.size_bytes),
        human_bytes(summary.plaintext_size_bytes),
        args.out.display(),
    );
    summary.plaintext = Some(args.out.clone());
    print_json(&summary);
    Ok(())
}
