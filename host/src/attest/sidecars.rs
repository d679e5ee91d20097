//! The files a publish puts next to its object: `{object_key}.sha256`,
//! `{object_key}.intoto.json` and, with a signing key,
//! `{object_key}.sha256.sig`; with a promotion key, `{object_key}.keywrap`;
//! with an SBOM, `.cdx.json`, `.spdx.json` and their statements; with a
//! signing key, each signature also as a Sigstore bundle and, for a model
//! (an input that is not a bound image), its OpenSSF model signature.
//! Which kinds exist, and their suffixes, is `registry`'s.

use super::bundle;
use super::dsse::Envelope;
use super::keys::SigningKey;
use super::model_signature;
use super::registry::{SbomFormat, SidecarKind};
use super::sbom_statement;
use super::statement::{self, PublishFacts};
use base64::Engine;

/// One file to upload as `{object_key}{suffix}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sidecar {
    pub kind: SidecarKind,
    pub bytes: Vec<u8>,
}

impl Sidecar {
    pub fn new(kind: SidecarKind, bytes: Vec<u8>) -> Self {
        Self { kind, bytes }
    }

    /// `.sha256`: the object's line in `sha256sum` format.
    pub fn checksum(object_key: &str, object_sha256: &[u8; 32]) -> Self {
        Self::new(
            SidecarKind::Checksum,
            sha256_line(object_key, object_sha256).into_bytes(),
        )
    }
}

/// The `.sha256` file: one `sha256sum` line naming the object's file name,
/// so `sha256sum -c` works in the folder the object was downloaded to.
pub fn sha256_line(object_key: &str, object_sha256: &[u8; 32]) -> String {
    let file_name = object_key.rsplit('/').next().unwrap_or(object_key);
    format!("{}  {file_name}\n", hex::encode(object_sha256))
}

/// cosign's blob signature of a file: base64 of the DER signature over its
/// SHA-256, no newline (as `cosign sign-blob` writes).
fn blob_signature(signer: &SigningKey, bytes: &[u8]) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .encode(signer.sign(bytes))
        .into_bytes()
}

/// A statement in its DSSE envelope, signed when a key is given.
fn enveloped(statement: &impl serde::Serialize, signer: Option<&SigningKey>) -> Vec<u8> {
    let payload = serde_json::to_vec(statement).expect("plain data serializes");
    serde_json::to_vec_pretty(&Envelope::new(&payload, signer)).expect("plain data serializes")
}

/// The Sigstore bundle of a signed file of `kind` among `files` (which
/// holds what comes before the bundle in upload order): `None` when the
/// file is not there or not signed.
pub fn bundle_of(kind: SidecarKind, files: &[Sidecar], keyid: &str) -> Option<Vec<u8>> {
    let file = |kind| files.iter().find(|file| file.kind == kind);
    let bare = file(kind.bundled()?)?;
    match bare.kind {
        SidecarKind::ChecksumSignature => {
            let checksum = file(SidecarKind::Checksum)?;
            Some(bundle::of_blob_signature(
                &checksum.bytes,
                &bare.bytes,
                keyid,
            ))
        }
        _ => bundle::of_envelope(&bare.bytes),
    }
}

/// The sidecar files of one publish, in upload order; `.sha256.sig` and
/// the Sigstore bundles only when a signing key is given, `.keywrap` only
/// with a promotion key, the SBOMs only when the publish made them.
pub fn sidecars(
    facts: &PublishFacts<'_>,
    ci: &dyn Fn(&str) -> Option<String>,
    signer: Option<&SigningKey>,
) -> Vec<Sidecar> {
    let sealed = &facts.sealed;
    let checksum = Sidecar::checksum(sealed.object_key, &sealed.object_sha256).bytes;
    let document = |format: SbomFormat| facts.sboms.map(|sboms| sboms.document(format).to_vec());
    let sbom_statement = |format: SbomFormat| {
        facts.sboms.map(|sboms| {
            let statement = sbom_statement::for_sbom(
                format,
                sboms.document(format),
                sealed.object_key,
                &sealed.object_sha256,
                facts.image,
            );
            enveloped(&statement, signer)
        })
    };
    let mut files: Vec<Sidecar> = Vec::new();
    for kind in SidecarKind::ALL {
        let bytes = match kind {
            SidecarKind::Checksum => Some(checksum.clone()),
            SidecarKind::Statement => Some(enveloped(&statement::for_publish(facts, ci), signer)),
            SidecarKind::ChecksumSignature => {
                signer.map(|signer| blob_signature(signer, &checksum))
            }
            SidecarKind::KeyWrap => facts
                .key_wrap
                .map(|wrapping| wrapping.wrap(sealed.data_key, &sealed.object_sha256)),
            SidecarKind::CycloneDx => document(SbomFormat::CycloneDx),
            SidecarKind::Spdx => document(SbomFormat::Spdx),
            SidecarKind::CycloneDxStatement => sbom_statement(SbomFormat::CycloneDx),
            SidecarKind::SpdxStatement => sbom_statement(SbomFormat::Spdx),
            SidecarKind::StatementBundle
            | SidecarKind::ChecksumSignatureBundle
            | SidecarKind::CycloneDxStatementBundle
            | SidecarKind::SpdxStatementBundle => {
                signer.and_then(|signer| bundle_of(kind, &files, signer.keyid()))
            }
            // A model, not an image: signed as model_signing does.
            SidecarKind::ModelSignature => signer.filter(|_| facts.image.is_none()).map(|key| {
                model_signature::for_model(sealed.input_name, &sealed.input_sha256, key)
            }),
            // Only a promotion vouches for an object with a summary.
            SidecarKind::Summary | SidecarKind::SummaryBundle => None,
        };
        files.extend(bytes.map(|bytes| Sidecar::new(kind, bytes)));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attest::dsse::pae;
    use crate::attest::keys::VerifyingKey;
    use crate::attest::keys::tests::key_pair_pem;
    use crate::attest::registry::OnPromotion;
    use crate::attest::statement::SbomDocuments;
    use crate::attest::statement::tests::with_facts;
    use crate::attest::verify::{Pins, Trust};

    fn line_of(files: &[Sidecar]) -> &[u8] {
        &files[0].bytes
    }

    #[test]
    fn signed_sidecars_verify_and_unsigned_ones_have_no_signature() {
        let (private, public) = key_pair_pem();
        let signer = SigningKey::from_pem(private.as_bytes()).unwrap();
        let key = VerifyingKey::from_pem(public.as_bytes()).unwrap();
        let files = with_facts(&[], None, |facts, lookup| {
            sidecars(facts, lookup, Some(&signer))
        });
        let suffixes: Vec<_> = files.iter().map(|f| f.kind.suffix()).collect();
        assert_eq!(
            suffixes,
            [
                ".sha256",
                ".intoto.json",
                ".sha256.sig",
                ".intoto.sigstore.json",
                ".sha256.sigstore.json",
                ".model.sig"
            ]
        );
        // Not a bound image: the input is signed as a model, by its digest.
        model_signature::check(&files[5].bytes, &key, &[0xbb; 32]).unwrap();
        // The bundles hold exactly the bare files' signatures.
        let bundled = bundle::envelope_of(&files[3].bytes).unwrap();
        assert_eq!(bundled, files[1].bytes);
        let signature = bundle::blob_signature_of(&files[4].bytes, line_of(&files)).unwrap();
        assert_eq!(signature, files[2].bytes);
        let line = format!("{}  loader-arm64-7-0123456789ab.enc\n", "aa".repeat(32));
        assert_eq!(files[0].bytes, line.as_bytes());
        let signature = base64::engine::general_purpose::STANDARD
            .decode(&files[2].bytes)
            .unwrap();
        assert!(key.verifies(line.as_bytes(), &signature));
        let envelope = Envelope::parse(&files[1].bytes).unwrap();
        let payload = envelope.payload().unwrap();
        assert!(
            key.verifies(
                &pae(&envelope.payload_type, &payload),
                &base64::engine::general_purpose::STANDARD
                    .decode(&envelope.signatures[0].sig)
                    .unwrap()
            )
        );
        let unsigned = with_facts(&[], None, |facts, lookup| sidecars(facts, lookup, None));
        assert_eq!(unsigned.len(), 2);
        assert!(
            Envelope::parse(&unsigned[1].bytes)
                .unwrap()
                .signatures
                .is_empty()
        );
    }

    #[test]
    fn a_publish_with_both_keys_writes_every_kind_but_the_summarys() {
        let (private, _) = key_pair_pem();
        let signer = SigningKey::from_pem(private.as_bytes()).unwrap();
        let (_, rsa_public) = crate::attest::keywrap::tests::pair(aws_lc_rs::rsa::KeySize::Rsa3072);
        let wrapping =
            crate::attest::keywrap::WrappingKey::from_pem(rsa_public.as_bytes()).unwrap();
        let files = with_facts(&[], Some(&wrapping), |facts, lookup| {
            sidecars(facts, lookup, Some(&signer))
        });
        let kinds: Vec<_> = files.iter().map(|file| file.kind).collect();
        // Without SBOMs made, none of their kinds is written.
        let expected: Vec<_> = SidecarKind::ALL
            .into_iter()
            .filter(|kind| kind.on_promotion() != OnPromotion::Made && kind.sbom().is_none())
            .collect();
        assert_eq!(kinds, expected);
    }

    #[test]
    fn each_sbom_goes_beside_the_object_with_its_signed_statement() {
        let (private, public) = key_pair_pem();
        let signer = SigningKey::from_pem(private.as_bytes()).unwrap();
        let sboms = SbomDocuments {
            cyclonedx: br#"{"bomFormat": "CycloneDX"}"#.to_vec(),
            spdx: br#"{"spdxVersion": "SPDX-2.3"}"#.to_vec(),
        };
        let files = with_facts(&[], None, |facts, lookup| {
            let facts = PublishFacts {
                sboms: Some(&sboms),
                ..*facts
            };
            sidecars(&facts, lookup, Some(&signer))
        });
        let file = |kind| &files.iter().find(|file| file.kind == kind).unwrap().bytes;
        let trust = Trust {
            public_key: Some(VerifyingKey::from_pem(public.as_bytes()).unwrap()),
            allow_unsigned: false,
            pins: Pins::default(),
        };
        for format in SbomFormat::ALL {
            let document = file(format.document());
            assert_eq!(document, sboms.document(format));
            let statement = file(format.statement());
            sbom_statement::check_sbom(format, statement, document, &trust, &[0xaa; 32]).unwrap();
            let bundled = file(format.statement().bundle().unwrap());
            assert_eq!(&bundle::envelope_of(bundled).unwrap(), statement);
        }
        assert_eq!(files.len(), 6 + 3 * SbomFormat::ALL.len());
    }
}
