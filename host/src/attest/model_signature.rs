//! The OpenSSF model signature of a model (`{object_key}.model.sig`): what
//! `model_signing verify key --signature S --public_key P MODEL` (the
//! `model-signing` tool, 1.x) accepts for the decrypted model file, with
//! our key and no knowledge of this project.
//!
//! A Sigstore bundle v0.3 holding a DSSE envelope of an in-toto statement
//! whose predicate type is `https://model_signing/signature/v1.0`, as
//! model_signing writes it for a single file:
//! - one resource named `.` (the file's path relative to itself), its
//!   plain SHA-256 (serialization `files`, `hash_type` `sha256`);
//! - one subject named after the file, whose sha256 is the SHA-256 of the
//!   resources' digest bytes in name order (here: of the one digest);
//! - the bundle's `publicKey.hint`: hex SHA-256 of the public key's PEM
//!   text, as model_signing computes it (not the DSSE keyid).

use super::Refusal;
use super::bundle;
use super::dsse::Envelope;
use super::keys::{SigningKey, VerifyingKey};
use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";
const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// A public key's hint as model_signing computes it: hex SHA-256 of the
/// SubjectPublicKeyInfo PEM (64-column base64, `\n` line ends).
pub fn key_hint(spki_der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(spki_der);
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    hex::encode(Sha256::digest(pem.as_bytes()))
}

/// The statement model_signing writes for the single file `file_name` with
/// SHA-256 `sha256`.
fn statement(file_name: &str, sha256: &[u8; 32]) -> Value {
    json!({
        "_type": STATEMENT_TYPE,
        "subject": [{
            "name": file_name,
            "digest": {"sha256": hex::encode(Sha256::digest(sha256))},
        }],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "serialization": {
                "method": "files",
                "hash_type": "sha256",
                "allow_symlinks": false,
                "ignore_paths": [],
            },
            "resources": [{"name": ".", "algorithm": "sha256", "digest": hex::encode(sha256)}],
        },
    })
}

/// The `.model.sig` file for the model file `file_name` (its last path
/// segment is the model's name) with SHA-256 `sha256`.
pub fn for_model(file_name: &str, sha256: &[u8; 32], signer: &SigningKey) -> Vec<u8> {
    let name = file_name.rsplit('/').next().unwrap_or(file_name);
    let payload = serde_json::to_vec(&statement(name, sha256)).expect("plain data serializes");
    let envelope = Envelope::new(&payload, Some(signer));
    bundle::of_envelope_hinted(&envelope, &key_hint(signer.public_key_der()))
}

/// Checks a `.model.sig`: signed under `key`, of model_signing's predicate,
/// about one file whose SHA-256 is `model_sha256`.
pub fn check(bytes: &[u8], key: &VerifyingKey, model_sha256: &[u8; 32]) -> Result<(), Refusal> {
    let envelope = Envelope::parse(&bundle::envelope_of(bytes)?)?;
    let payload = envelope.payload()?;
    if !envelope.signed_by(key, &payload) {
        return Err(Refusal::new(format!(
            "no signature on it verifies under the public key (keyid {})",
            key.keyid()
        )));
    }
    let statement: Value = serde_json::from_slice(&payload)
        .map_err(|err| Refusal::new(format!("its payload is not JSON: {err}")))?;
    if statement["predicateType"] != PREDICATE_TYPE {
        return Err(Refusal::new(format!(
            "its predicateType is {}, not {PREDICATE_TYPE:?}",
            statement["predicateType"]
        )));
    }
    let expected = hex::encode(model_sha256);
    match statement["predicate"]["resources"]
        .as_array()
        .map(Vec::as_slice)
    {
        Some([resource]) if resource["name"] == "." && resource["digest"] == expected.as_str() => {
            Ok(())
        }
        _ => Err(Refusal::new(format!(
            "it does not sign the one model file with SHA-256 {expected} that the provenance \
             names as its input"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attest::keys::tests::key_pair_pem;

    #[test]
    fn the_hint_is_the_sha256_of_the_pem_text() {
        let (private, public) = key_pair_pem();
        let signer = SigningKey::from_pem(private.as_bytes()).unwrap();
        // key_pair_pem writes the PEM the way openssl and cryptography do.
        let expected = hex::encode(Sha256::digest(public.as_bytes()));
        assert_eq!(key_hint(signer.public_key_der()), expected);
    }

    #[test]
    fn a_model_signature_checks_and_refuses_another_file_or_key() {
        let (private, public) = key_pair_pem();
        let signer = SigningKey::from_pem(private.as_bytes()).unwrap();
        let key = VerifyingKey::from_pem(public.as_bytes()).unwrap();
        let signed = for_model("models/m.safetensors", &[7; 32], &signer);
        check(&signed, &key, &[7; 32]).unwrap();
        let parsed: Value = serde_json::from_slice(&signed).unwrap();
        let hint = &parsed["verificationMaterial"]["publicKey"]["hint"];
        assert_eq!(hint, &key_hint(signer.public_key_der()));
        let payload = base64::engine::general_purpose::STANDARD
            .decode(parsed["dsseEnvelope"]["payload"].as_str().unwrap())
            .unwrap();
        let statement: Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(statement["subject"][0]["name"], "m.safetensors");
        let root = hex::encode(Sha256::digest([7u8; 32]));
        assert_eq!(statement["subject"][0]["digest"]["sha256"], root.as_str());
        let other = check(&signed, &key, &[8; 32]).unwrap_err();
        assert!(other.to_string().contains("one model file"), "{other}");
        let (_, stranger) = key_pair_pem();
        let stranger = VerifyingKey::from_pem(stranger.as_bytes()).unwrap();
        assert!(check(&signed, &stranger, &[7; 32]).is_err());
    }
}
