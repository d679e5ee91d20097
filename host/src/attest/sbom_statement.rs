//! The in-toto statement that signs an SBOM: its subjects are the object
//! and, for a bound image, the image manifest pushed; its predicate is the
//! SBOM document itself (as `cosign attest --type cyclonedx|spdxjson`
//! writes it), so a verifier that trusts the statement trusts every byte
//! of the bare `.cdx.json` / `.spdx.json` that equals its predicate.
//!
//! The object subject is named by the object's file name, without the
//! stage folder: the statement is as true under `stage/` as under `dev/`,
//! so promotion carries it unchanged.

use super::Refusal;
use super::registry::SbomFormat;
use super::statement::{ResourceDescriptor, STATEMENT_TYPE, Statement, sha256_digest};
use super::verify::{Signed, Trust, open_envelope};
use crate::image::BoundImage;
use serde_json::Value;

/// The statement for one SBOM document of the object `object_key`.
pub fn for_sbom(
    format: SbomFormat,
    document: &[u8],
    object_key: &str,
    object_sha256: &[u8; 32],
    image: Option<&BoundImage>,
) -> Statement<Value> {
    let object = ResourceDescriptor {
        name: Some(file_name(object_key).to_string()),
        digest: sha256_digest(hex::encode(object_sha256)),
        ..Default::default()
    };
    let manifest = image.map(|image| ResourceDescriptor {
        name: Some(image.repository.clone()),
        digest: sha256_digest(image.manifest_sha256_hex()),
        ..Default::default()
    });
    Statement {
        statement_type: STATEMENT_TYPE.into(),
        subject: std::iter::once(object).chain(manifest).collect(),
        predicate_type: format.predicate_type().into(),
        predicate: serde_json::from_slice(document).expect("the SBOM writers write JSON"),
    }
}

fn file_name(object_key: &str) -> &str {
    object_key.rsplit('/').next().unwrap_or(object_key)
}

/// Checks the statement `envelope` against `trust` and that it signs
/// `document` as the `format` SBOM of the object with `object_sha256`.
pub fn check_sbom(
    format: SbomFormat,
    envelope: &[u8],
    document: &[u8],
    trust: &Trust,
    object_sha256: &[u8; 32],
) -> Result<Signed, Refusal> {
    let (payload, signed) = open_envelope(envelope, trust)?;
    let statement: Statement<Value> = serde_json::from_slice(&payload)
        .map_err(|err| Refusal::new(format!("the payload is not an in-toto statement: {err}")))?;
    for (what, got, want) in [
        ("_type", &statement.statement_type, STATEMENT_TYPE),
        (
            "predicateType",
            &statement.predicate_type,
            format.predicate_type(),
        ),
    ] {
        if got != want {
            return Err(Refusal::new(format!(
                "the statement's {what} is {got:?}, not {want:?}"
            )));
        }
    }
    let actual = hex::encode(object_sha256);
    match statement
        .object()
        .and_then(|subject| subject.digest.get("sha256"))
    {
        Some(recorded) if *recorded == actual => {}
        Some(recorded) => {
            return Err(Refusal::new(format!(
                "the statement is about an object with SHA-256 {recorded}, not this one ({actual})"
            )));
        }
        None => {
            return Err(Refusal::new(
                "the statement's first subject has no sha256 digest",
            ));
        }
    }
    let bare: Value = serde_json::from_slice(document).map_err(|err| {
        Refusal::new(format!("the {} document is not JSON: {err}", format.name()))
    })?;
    if bare != statement.predicate {
        return Err(Refusal::new(format!(
            "the {} document is not the one the statement signs",
            format.name()
        )));
    }
    Ok(signed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attest::dsse::Envelope;
    use crate::attest::keys::tests::key_pair_pem;
    use crate::attest::keys::{SigningKey, VerifyingKey};
    use crate::attest::verify::Pins;

    const KEY: &str = "dev/loader-arm64-7.enc";
    const DOCUMENT: &[u8] = br#"{"bomFormat": "CycloneDX", "components": [{"name": "zlib"}]}"#;

    fn signed(statement: &Statement<Value>, signer: &SigningKey) -> Vec<u8> {
        let payload = serde_json::to_vec(statement).unwrap();
        serde_json::to_vec(&Envelope::new(&payload, Some(signer))).unwrap()
    }

    fn trust(public: &str) -> Trust {
        Trust {
            public_key: Some(VerifyingKey::from_pem(public.as_bytes()).unwrap()),
            allow_unsigned: false,
            pins: Pins::default(),
        }
    }

    #[test]
    fn the_statement_names_the_object_by_file_and_the_image_by_digest() {
        let image = BoundImage {
            repository: "registry.example/acme/loader".into(),
            tag: Some("7".into()),
            digest: [0x11; 32],
            config_digest: String::new(),
        };
        let statement = for_sbom(SbomFormat::Spdx, DOCUMENT, KEY, &[0xaa; 32], Some(&image));
        let value = serde_json::to_value(&statement).unwrap();
        assert_eq!(value["predicateType"], "https://spdx.dev/Document");
        assert_eq!(value["subject"][0]["name"], "loader-arm64-7.enc");
        assert_eq!(value["subject"][0]["digest"]["sha256"], "aa".repeat(32));
        assert_eq!(value["subject"][1]["name"], image.repository);
        assert_eq!(value["subject"][1]["digest"]["sha256"], "11".repeat(32));
        assert_eq!(value["predicate"]["components"][0]["name"], "zlib");
    }

    #[test]
    fn only_the_signed_document_of_this_object_in_this_format_passes() {
        let (private, public) = key_pair_pem();
        let signer = SigningKey::from_pem(private.as_bytes()).unwrap();
        let trust = trust(&public);
        let format = SbomFormat::CycloneDx;
        let statement = for_sbom(format, DOCUMENT, KEY, &[0xaa; 32], None);
        let envelope = signed(&statement, &signer);
        let check = |envelope: &[u8], document: &[u8], sha256: &[u8; 32], format| {
            check_sbom(format, envelope, document, &trust, sha256).map_err(|r| r.to_string())
        };
        assert!(matches!(
            check(&envelope, DOCUMENT, &[0xaa; 32], format),
            Ok(Signed::By(_))
        ));
        // The same JSON, laid out otherwise, is the same document.
        let spaced = serde_json::to_vec_pretty(&statement.predicate).unwrap();
        assert!(check(&envelope, &spaced, &[0xaa; 32], format).is_ok());
        let other = br#"{"bomFormat": "CycloneDX", "components": []}"#;
        let err = check(&envelope, other, &[0xaa; 32], format).unwrap_err();
        assert!(err.contains("not the one the statement signs"), "{err}");
        let err = check(&envelope, DOCUMENT, &[0xbb; 32], format).unwrap_err();
        assert!(err.contains("not this one"), "{err}");
        let err = check(&envelope, DOCUMENT, &[0xaa; 32], SbomFormat::Spdx).unwrap_err();
        assert!(err.contains("predicateType"), "{err}");
        let (other_private, _) = key_pair_pem();
        let forged = signed(
            &statement,
            &SigningKey::from_pem(other_private.as_bytes()).unwrap(),
        );
        let err = check(&forged, DOCUMENT, &[0xaa; 32], format).unwrap_err();
        assert!(err.contains("no signature"), "{err}");
    }
}
