//! Sigstore bundles (v0.3) of our signatures, key-based: the public key is
//! named by its hint (the DSSE `keyid`), there is no certificate and no
//! transparency log entry, so they verify offline with the public key as
//! the only trust material (cosign 3, sigstore-go, sigstore-js).
//!
//! Two contents, as protobuf-specs' `Bundle` has them:
//! - `dsseEnvelope`: a signed statement's DSSE envelope, field for field;
//! - `messageSignature`: a blob signature with the SHA-256 of the blob
//!   (`messageDigest`, which sigstore-go and sigstore-js require).
//!
//! Only fields protobuf-specs defines are written (sigstore-go's protojson
//! rejects unknown ones); reading ignores what this project does not use
//! (a transparency log entry is not checked: the key decides).

use super::Refusal;
use super::dsse::Envelope;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The media type of a v0.3 bundle.
pub const MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The same version as protobuf-specs first named it; still read.
const LEGACY_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle+json;version=0.3";
/// protobuf-specs' `HashAlgorithm` for SHA-256, as protobuf JSON names it.
const SHA2_256: &str = "SHA2_256";

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bundle {
    media_type: String,
    verification_material: VerificationMaterial,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dsse_envelope: Option<Envelope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message_signature: Option<MessageSignature>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerificationMaterial {
    /// Absent when the bundle carries a certificate instead (read only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    public_key: Option<PublicKeyIdentifier>,
    /// Always written, empty: these bundles are not logged.
    #[serde(default)]
    tlog_entries: Vec<serde_json::Value>,
}

#[derive(Debug, Serialize, Deserialize)]
struct PublicKeyIdentifier {
    hint: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageSignature {
    message_digest: HashOutput,
    /// Base64 of the ASN.1 DER signature over the blob.
    signature: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct HashOutput {
    algorithm: String,
    /// Base64 of the digest bytes.
    digest: String,
}

fn written(content: Bundle) -> Vec<u8> {
    serde_json::to_vec_pretty(&content).expect("plain data serializes")
}

fn material(hint: &str) -> VerificationMaterial {
    VerificationMaterial {
        public_key: Some(PublicKeyIdentifier { hint: hint.into() }),
        tlog_entries: Vec::new(),
    }
}

/// The bundle of a signed DSSE envelope (the bytes of a `.intoto.json`
/// file), hinting at the key of its signature; `None` for an unsigned one
/// (a bundle holds exactly one signature).
pub fn of_envelope(envelope: &[u8]) -> Option<Vec<u8>> {
    let envelope = Envelope::parse(envelope).ok()?;
    let [signature] = envelope.signatures.as_slice() else {
        return None;
    };
    Some(written(Bundle {
        media_type: MEDIA_TYPE.into(),
        verification_material: material(&signature.keyid),
        dsse_envelope: Some(envelope.clone()),
        message_signature: None,
    }))
}

/// The bundle of a signed envelope under another hint than its keyid
/// (model_signing's own: see `model_signature`).
pub fn of_envelope_hinted(envelope: &Envelope, hint: &str) -> Vec<u8> {
    written(Bundle {
        media_type: MEDIA_TYPE.into(),
        verification_material: material(hint),
        dsse_envelope: Some(envelope.clone()),
        message_signature: None,
    })
}

/// The bundle of a blob signature (`signature`: base64 of the DER, as a
/// `.sig` file holds it) over `message`, by the key with `keyid`.
pub fn of_blob_signature(message: &[u8], signature: &[u8], keyid: &str) -> Vec<u8> {
    written(Bundle {
        media_type: MEDIA_TYPE.into(),
        verification_material: material(keyid),
        dsse_envelope: None,
        message_signature: Some(MessageSignature {
            message_digest: HashOutput {
                algorithm: SHA2_256.into(),
                digest: BASE64.encode(Sha256::digest(message)),
            },
            signature: String::from_utf8_lossy(signature.trim_ascii()).into_owned(),
        }),
    })
}

/// Whether `bytes` are a Sigstore bundle rather than a bare envelope or
/// signature: a JSON object with a bundle's media type.
pub fn is_bundle(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Typed {
        media_type: Option<String>,
    }
    serde_json::from_slice::<Typed>(bytes)
        .ok()
        .and_then(|typed| typed.media_type)
        .is_some_and(|media_type| media_type.starts_with("application/vnd.dev.sigstore.bundle"))
}

fn parse(bytes: &[u8]) -> Result<Bundle, Refusal> {
    let bundle: Bundle = serde_json::from_slice(bytes)
        .map_err(|err| Refusal::new(format!("it is not a Sigstore bundle: {err}")))?;
    if bundle.media_type != MEDIA_TYPE && bundle.media_type != LEGACY_MEDIA_TYPE {
        return Err(Refusal::new(format!(
            "its mediaType is {:?}, not {MEDIA_TYPE:?}",
            bundle.media_type
        )));
    }
    Ok(bundle)
}

/// The DSSE envelope a bundle holds, as the bytes of the `.intoto.json`
/// file a publish writes beside it.
pub fn envelope_of(bytes: &[u8]) -> Result<Vec<u8>, Refusal> {
    let Some(envelope) = parse(bytes)?.dsse_envelope else {
        return Err(Refusal::new("it holds no dsseEnvelope"));
    };
    Ok(serde_json::to_vec_pretty(&envelope).expect("plain data serializes"))
}

/// The blob signature a bundle holds (base64 of the DER, as a `.sig` file
/// holds it), once its digest is shown to be `message`'s.
pub fn blob_signature_of(bytes: &[u8], message: &[u8]) -> Result<Vec<u8>, Refusal> {
    let Some(signed) = parse(bytes)?.message_signature else {
        return Err(Refusal::new("it holds no messageSignature"));
    };
    let digest = &signed.message_digest;
    if digest.algorithm != SHA2_256 {
        return Err(Refusal::new(format!(
            "its messageDigest is {}, not {SHA2_256}",
            digest.algorithm
        )));
    }
    if BASE64.decode(&digest.digest).ok().as_deref() != Some(Sha256::digest(message).as_slice()) {
        return Err(Refusal::new(
            "its messageDigest is not the SHA-256 of the file it signs",
        ));
    }
    Ok(signed.signature.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attest::keys::tests::key_pair_pem;
    use crate::attest::keys::{SigningKey, VerifyingKey};
    use serde_json::{Value, json};

    fn signer() -> SigningKey {
        SigningKey::from_pem(key_pair_pem().0.as_bytes()).unwrap()
    }

    fn pair() -> (SigningKey, VerifyingKey) {
        let (private, public) = key_pair_pem();
        (
            SigningKey::from_pem(private.as_bytes()).unwrap(),
            VerifyingKey::from_pem(public.as_bytes()).unwrap(),
        )
    }

    #[test]
    fn an_envelope_bundle_is_the_envelope_with_its_key_hint_and_nothing_else() {
        let signer = signer();
        let envelope =
            serde_json::to_vec_pretty(&Envelope::new(b"{\"a\":1}", Some(&signer))).unwrap();
        let bundle = of_envelope(&envelope).unwrap();
        let parsed: Value = serde_json::from_slice(&bundle).unwrap();
        let bare: Value = serde_json::from_slice(&envelope).unwrap();
        assert_eq!(
            parsed,
            json!({
                "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                "verificationMaterial": {
                    "publicKey": {"hint": signer.keyid()},
                    "tlogEntries": [],
                },
                "dsseEnvelope": bare,
            })
        );
        assert!(is_bundle(&bundle) && !is_bundle(&envelope));
        assert_eq!(envelope_of(&bundle).unwrap(), envelope);
        assert!(blob_signature_of(&bundle, b"").is_err());
        // An unsigned envelope has no bundle.
        let unsigned = serde_json::to_vec(&Envelope::new(b"{}", None)).unwrap();
        assert_eq!(of_envelope(&unsigned), None);
    }

    #[test]
    fn a_message_bundle_holds_the_signature_and_the_digest_it_signs() {
        let (signer, public) = pair();
        let message = b"aa  x.enc\n";
        let signature = BASE64.encode(signer.sign(message));
        let bundle = of_blob_signature(message, signature.as_bytes(), signer.keyid());
        let parsed: Value = serde_json::from_slice(&bundle).unwrap();
        assert_eq!(
            parsed,
            json!({
                "mediaType": MEDIA_TYPE,
                "verificationMaterial": {
                    "publicKey": {"hint": signer.keyid()},
                    "tlogEntries": [],
                },
                "messageSignature": {
                    "messageDigest": {
                        "algorithm": "SHA2_256",
                        "digest": BASE64.encode(Sha256::digest(message)),
                    },
                    "signature": signature,
                },
            })
        );
        let held = blob_signature_of(&bundle, message).unwrap();
        let der = BASE64.decode(held).unwrap();
        assert!(public.verifies(message, &der));
        let digest = blob_signature_of(&bundle, b"ab  x.enc\n").unwrap_err();
        assert!(digest.to_string().contains("messageDigest"), "{digest}");
        assert!(envelope_of(&bundle).is_err());
    }

    #[test]
    fn a_bundle_of_another_version_or_form_is_refused() {
        let signer = signer();
        let envelope = serde_json::to_vec(&Envelope::new(b"{}", Some(&signer))).unwrap();
        let bundle = of_envelope(&envelope).unwrap();
        let text = String::from_utf8(bundle).unwrap();
        let old = text.replace("bundle.v0.3+json", "bundle.v0.2+json");
        let refusal = envelope_of(old.as_bytes()).unwrap_err();
        assert!(refusal.to_string().contains("mediaType"), "{refusal}");
        let legacy = text.replace(MEDIA_TYPE, LEGACY_MEDIA_TYPE);
        assert!(envelope_of(legacy.as_bytes()).is_ok());
        assert!(envelope_of(b"[]").is_err());
    }
}
