//! `publish-artifact verify`: every check `open` makes, writing nothing;
//! optionally the plaintext compared with the original, byte for byte.

use super::{human_bytes, open_input, open_object, print_json};
use crate::cli::VerifyArgs;
use crate::failure::{Class, ClassExt, Failure};
use crate::secrets::Key;
use std::io::Read;
use std::sync::atomic::AtomicU64;

pub fn run(args: &VerifyArgs) -> Result<(), Failure> {
    let key = Key::from_file_or_env(args.key.key_file.as_deref())?;
    let mut input = open_input(&args.file)?;
    let mut original = args.against.as_deref().map(open_input).transpose()?;
    let mut compared = 0u64;
    let mut buffer = Vec::new();
    let summary = open_object(
        &mut input,
        args.file.display().to_string(),
        &key,
        &args.sha256,
        Class::Input,
        &AtomicU64::new(0),
        &mut |bytes| {
            let Some(original) = original.as_mut() else {
                return Ok(());
            };
            buffer.resize(bytes.len(), 0);
            let got = read_up_to(original, &mut buffer)?;
            if let Some(at) = (0..got).find(|&i| buffer[i] != bytes[i]) {
                anyhow::bail!(
                    "the plaintext differs from the original at byte {}",
                    compared + at as u64
                );
            }
            if got < bytes.len() {
                anyhow::bail!(
                    "the plaintext is longer than the original ({} bytes)",
                    compared + got as u64
                );
            }
            compared += got as u64;
            Ok(())
        },
    )
    .map_err(|failure| match failure.class {
        // A mismatch with the original surfaces through the sink.
        Class::Output => Failure::new(Class::Integrity, failure.error),
        _ => failure,
    })?;
    if let (Some(original), Some(path)) = (original.as_mut(), &args.against) {
        let mut extra = [0u8; 1];
        if read_up_to(original, &mut extra).class(Class::Input)? > 0 {
            return Err(Failure::new(
                Class::Integrity,
                anyhow::anyhow!(
                    "the original {} is longer than the plaintext",
                    path.display()
                ),
            ));
        }
    }
    eprintln!(
        "verified {} ({}): SHA-256, padding and gzip check out; plaintext {}{}",
        args.file.display(),
        human_bytes(summary.size_bytes),
        human_bytes(summary.plaintext_size_bytes),
        match &args.against {
            Some(path) => format!(", identical to {}", path.display()),
            None => String::new(),
        }
    );
    print_json(&summary);
    Ok(())
}

/// Fills `buffer` as far as the file goes; returns how much it read.
fn read_up_to(file: &mut std::fs::File, buffer: &mut [u8]) -> anyhow::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}
