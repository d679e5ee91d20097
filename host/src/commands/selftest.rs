//! `publish-artifact selftest`: known answers through the embedded guest, so
//! that anyone can check the binary they installed, on any architecture.
//!
//! The vectors come from `tests/fixtures/kat/make_vectors.py`, which builds
//! them with Python's zlib and `cryptography`, independently of our code.

use crate::failure::{Class, ClassExt, Failure};
use crate::sealing::embedded::{GUEST_SHA256, WIT_PACKAGE};
use crate::sealing::guest::{DeflateBlock, GuestError};
use crate::sealing::pipeline::{self, SealOptions};
use crate::sealing::runtime::{Runtime, bindings};
use crate::secrets::Key;
use serde::Deserialize;
use std::sync::atomic::AtomicU64;

const VECTORS: &str = include_str!("../../../tests/fixtures/kat/vectors.json");

#[derive(Deserialize)]
struct Vectors {
    frame: Vec<FrameVector>,
    open: Vec<OpenVector>,
}

/// A deflate stream from zlib and the exact object the format makes of it.
#[derive(Deserialize, Clone)]
struct FrameVector {
    name: String,
    key: String,
    iv: String,
    deflate: String,
    crc32: u32,
    plaintext_length: u32,
    object: String,
    sha256: String,
}

/// An object and what opening it must give.
#[derive(Deserialize)]
struct OpenVector {
    name: String,
    key: String,
    sha256: String,
    object: String,
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum Expect {
    Plaintext(String),
    Error(String),
}

type Check = Result<(), String>;

pub fn run() -> Result<(), Failure> {
    let runtime = Runtime::load().class(Class::Internal)?;
    let results = check_all(&runtime);
    let failed: Vec<&str> = results
        .iter()
        .filter_map(|(name, result)| {
            if let Err(why) = result {
                eprintln!("FAIL {name}: {why}");
                Some(name.as_str())
            } else {
                eprintln!("ok   {name}");
                None
            }
        })
        .collect();
    let identity = format!(
        "guest {WIT_PACKAGE}, sha256 {GUEST_SHA256}, {}",
        std::env::consts::ARCH
    );
    if failed.is_empty() {
        println!(
            "selftest: {} of {} checks passed ({identity})",
            results.len(),
            results.len()
        );
        Ok(())
    } else {
        Err(Failure::new(
            Class::Internal,
            anyhow::anyhow!(
                "selftest: {} of {} checks failed ({identity}): {}",
                failed.len(),
                results.len(),
                failed.join(", ")
            ),
        ))
    }
}

fn check_all(runtime: &Runtime) -> Vec<(String, Check)> {
    let vectors: Vectors = serde_json::from_str(VECTORS).expect("the embedded vectors parse");
    let mut results = Vec::new();
    for vector in &vectors.frame {
        results.push((
            format!("frame/{}", vector.name),
            check_frame(runtime, vector),
        ));
    }
    for vector in &vectors.open {
        results.push((format!("open/{}", vector.name), check_open(runtime, vector)));
    }
    results.push((
        "round-trip/sealer-equals-pipeline".into(),
        check_round_trip(runtime),
    ));
    results.push(("refusals/bad-arguments".into(), check_refusals(runtime)));
    results
}

fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).expect("the embedded vectors are hex")
}

fn key(text: &str) -> Key {
    Key::from_hex(text).expect("the embedded keys are valid")
}

fn check_frame(runtime: &Runtime, vector: &FrameVector) -> Check {
    let mut guest = runtime.instantiate().map_err(|err| format!("{err:#}"))?;
    let iv: [u8; 16] = unhex(&vector.iv).try_into().expect("a 16-byte IV");
    let mut sealer = guest
        .block_sealer(&key(&vector.key), &iv)
        .map_err(describe)?;
    let block = DeflateBlock {
        data: unhex(&vector.deflate),
        crc32: vector.crc32,
        plaintext_length: vector.plaintext_length,
        last: true,
    };
    let mut object = sealer.push(&block).map_err(describe)?;
    let (tail, summary) = sealer.finish().map_err(describe)?;
    object.extend(tail);
    if hex::encode(&object) != vector.object {
        return Err("object bytes differ from the known answer".into());
    }
    if hex::encode(&summary.object_sha256) != vector.sha256 {
        return Err("reported SHA-256 differs from the known answer".into());
    }
    if summary.object_length != object.len() as u64 {
        return Err("reported length differs from the object".into());
    }
    Ok(())
}

fn check_open(runtime: &Runtime, vector: &OpenVector) -> Check {
    let mut guest = runtime.instantiate().map_err(|err| format!("{err:#}"))?;
    let sha256: [u8; 32] = unhex(&vector.sha256).try_into().expect("a 32-byte digest");
    let mut opener = guest.opener(&key(&vector.key), &sha256).map_err(describe)?;
    let object = unhex(&vector.object);
    // Odd-sized pushes exercise the carrying of partial blocks.
    let mut plaintext = Vec::new();
    let mut outcome = Ok(());
    for chunk in object.chunks(7) {
        match opener.push(chunk) {
            Ok(bytes) => plaintext.extend(bytes),
            Err(err) => {
                outcome = Err(err);
                break;
            }
        }
    }
    let outcome = outcome.and_then(|()| opener.finish()).map(|(tail, _)| {
        plaintext.extend(tail);
        plaintext
    });
    match (&vector.expect, outcome) {
        (Expect::Plaintext(expected), Ok(got)) if hex::encode(&got) == *expected => Ok(()),
        (Expect::Plaintext(_), Ok(_)) => Err("plaintext differs from the known answer".into()),
        (Expect::Error(kind), Err(err)) if err.refusal().map(error_kind) == Some(kind) => Ok(()),
        (expect, got) => Err(format!(
            "expected {}, got {}",
            match expect {
                Expect::Plaintext(_) => "the plaintext".to_string(),
                Expect::Error(kind) => format!("error {kind}"),
            },
            match got {
                Ok(_) => "the plaintext".to_string(),
                Err(err) => format!("{err}"),
            }
        )),
    }
}

/// The in-guest sealer and the parallel host pipeline must give the same
/// bytes; opening them must give the plaintext back.
fn check_round_trip(runtime: &Runtime) -> Check {
    let plaintext = sample(2 * (1 << 20) + 12345);
    let key = Key::from_bytes([0x5a; 32]);
    let iv = [0xa5; 16];
    let mut guest = runtime.instantiate().map_err(|err| format!("{err:#}"))?;
    let mut sealer = guest.sealer(&key, &iv, 6).map_err(describe)?;
    let mut by_sealer = Vec::new();
    for chunk in plaintext.chunks(300_001) {
        by_sealer.extend(sealer.push(chunk).map_err(describe)?);
    }
    let (tail, summary) = sealer.finish().map_err(describe)?;
    by_sealer.extend(tail);

    let mut by_pipeline = Vec::new();
    let options = SealOptions::new(6, 3);
    pipeline::seal(
        runtime,
        &mut plaintext.as_slice(),
        &key,
        &iv,
        &options,
        &AtomicU64::new(0),
        &mut |bytes| {
            by_pipeline.extend_from_slice(bytes);
            Ok(())
        },
    )
    .map_err(|err| err.to_string())?;
    if by_sealer != by_pipeline {
        return Err("the sealer and the parallel pipeline made different objects".into());
    }
    let sha256: [u8; 32] = summary.object_sha256.try_into().expect("32 bytes");
    let mut opened = Vec::new();
    crate::sealing::opening::open(
        runtime,
        &mut by_sealer.as_slice(),
        &key,
        &sha256,
        &AtomicU64::new(0),
        &mut |bytes| {
            opened.extend_from_slice(bytes);
            Ok(())
        },
    )
    .map_err(|err| err.to_string())?;
    if opened != plaintext {
        return Err("opening did not give the plaintext back".into());
    }
    Ok(())
}

fn check_refusals(runtime: &Runtime) -> Check {
    let mut guest = runtime.instantiate().map_err(|err| format!("{err:#}"))?;
    let key = Key::from_bytes([1; 32]);
    match guest.sealer(&key, &[0; 16], 10).map(drop) {
        Err(GuestError::Refused(
            bindings::exports::publish_artifact::seal::types::Error::InvalidLevel(10),
        )) => {}
        other => return Err(format!("level 10 was not refused as invalid: {other:?}")),
    }
    match guest.compress_block(6, &[0; 32769], &[], true) {
        Err(err) if err.refusal().map(error_kind) == Some("invalid-dictionary-length") => Ok(()),
        other => Err(format!(
            "an oversized dictionary was not refused: {other:?}"
        )),
    }
}

/// Deterministic sample data: text runs and pseudo-random runs.
fn sample(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        if state >> 63 == 0 {
            out.extend_from_slice(b"layer weights tensor model ");
        } else {
            out.extend_from_slice(&state.to_le_bytes());
        }
    }
    out.truncate(len);
    out
}

fn describe(err: GuestError) -> String {
    err.to_string()
}

/// The WIT case name of a guest error, as the vectors name them.
fn error_kind(err: &bindings::exports::publish_artifact::seal::types::Error) -> &'static str {
    use bindings::exports::publish_artifact::seal::types::Error as E;
    match err {
        E::InvalidKeyLength(_) => "invalid-key-length",
        E::InvalidIvLength(_) => "invalid-iv-length",
        E::InvalidLevel(_) => "invalid-level",
        E::InvalidDigestLength(_) => "invalid-digest-length",
        E::InvalidDictionaryLength(_) => "invalid-dictionary-length",
        E::InvalidBlockLength(_) => "invalid-block-length",
        E::Finished => "finished",
        E::BlockOrder => "block-order",
        E::InvalidObjectLength(_) => "invalid-object-length",
        E::DigestMismatch => "digest-mismatch",
        E::BadPadding => "bad-padding",
        E::CorruptGzip(_) => "corrupt-gzip",
        E::TruncatedGzip => "truncated-gzip",
        E::TrailingData => "trailing-data",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_checks_pass() {
        let runtime = Runtime::load().unwrap();
        for (name, result) in check_all(&runtime) {
            assert_eq!(result, Ok(()), "{name}");
        }
    }

    #[test]
    fn a_wrong_known_answer_fails() {
        let runtime = Runtime::load().unwrap();
        let vectors: Vectors = serde_json::from_str(VECTORS).unwrap();
        let mut vector = vectors.frame[3].clone();
        let mut object = unhex(&vector.object);
        object[20] ^= 1;
        vector.object = hex::encode(object);
        assert!(check_frame(&runtime, &vector).is_err());
    }
}
