//! The SLSA Verification Summary (VSA) v1 that a promotion writes beside
//! the object it promoted, `{object_key}.vsa.intoto.json`: a signed record
//! that this object (by digest), at this URI, passed the promotion policy,
//! and which attestations that was decided on. The next promotion (stage to
//! main) requires it, and `attest verify` accepts a promoted object by it:
//! the provenance beside a promoted object still names the object it was
//! published as.

use super::Refusal;
use super::dsse::Envelope;
use super::keys::SigningKey;
use super::statement::{ResourceDescriptor, STATEMENT_TYPE, Statement, sha256_digest};
use super::verify::{Signed, Trust, open_envelope};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const PREDICATE_TYPE: &str = "https://slsa.dev/verification_summary/v1";
/// The promotion policy, documented in docs/promotion.md under this URI;
/// its parameters are in the descriptor's annotations, and their SHA-256
/// is its digest.
pub const POLICY_URI: &str = "https://example.invalid/publish-artifact/policies/promotion/v1";
/// The verifier id outside CI.
pub const LOCAL_VERIFIER: &str = "urn:publish-artifact:verifier:local";
const PASSED: &str = "PASSED";
/// What a promotion verifies: signed provenance of a build, not the build
/// platform's hardening (docs/promotion.md says why not level 2).
const VERIFIED_LEVEL: &str = "SLSA_BUILD_LEVEL_1";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub verifier: Verifier,
    pub time_verified: String,
    pub resource_uri: String,
    pub policy: ResourceDescriptor,
    #[serde(default)]
    pub input_attestations: Vec<ResourceDescriptor>,
    pub verification_result: String,
    #[serde(default)]
    pub verified_levels: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slsa_version: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verifier {
    pub id: String,
    #[serde(default)]
    pub version: BTreeMap<String, String>,
}

pub type Summary = Statement<Verification>;

/// The parameters a promotion decided by: recorded in the summary, and
/// hashed into its policy digest (fields in a fixed order, so the same
/// policy always has the same digest).
#[derive(Debug, Serialize)]
pub struct PromotionPolicy {
    pub from: String,
    pub to: String,
    pub stages: Vec<String>,
    pub require_summary_for: Vec<String>,
    /// Whether the source had to carry its signed SBOMs.
    pub require_sbom: bool,
    /// The key the provenance (and any earlier summary) had to be signed by.
    pub attestation_public_key_sha256: String,
    /// Pins on the provenance: builder id, repository, commit (when given).
    pub pins: BTreeMap<&'static str, String>,
}

/// One promotion that passed: what its summary says.
pub struct Promotion<'a> {
    pub object_key: &'a str,
    pub object_sha256: &'a [u8; 32],
    pub resource_uri: &'a str,
    pub policy: &'a PromotionPolicy,
    /// The attestations the decision rested on: the provenance, and the
    /// summary of the promotion before, if any.
    pub inputs: Vec<ResourceDescriptor>,
    pub verifier_id: String,
    pub time_verified: String,
}

/// A descriptor of an attestation file: where it is and its SHA-256.
pub fn input_attestation(uri: &str, bytes: &[u8]) -> ResourceDescriptor {
    ResourceDescriptor {
        uri: Some(uri.to_string()),
        digest: sha256_digest(hex::encode(Sha256::digest(bytes))),
        ..Default::default()
    }
}

/// The policy's parameters as the summary's `policy.annotations` hold them.
fn policy_parameters(policy: &PromotionPolicy) -> Map<String, Value> {
    match serde_json::to_value(policy).expect("plain data serializes") {
        Value::Object(map) => map,
        _ => unreachable!("a struct serializes to an object"),
    }
}

/// Hex SHA-256 of the parameters as compact JSON with every object's keys
/// sorted (what `jq -cS .predicate.policy.annotations` prints): anyone can
/// recompute it from the summary alone.
pub fn policy_digest(parameters: &Map<String, Value>) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, value)| (key.clone(), sorted(value)))
                    .collect::<BTreeMap<_, _>>()
                    .into_iter()
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    let canonical = serde_json::to_vec(&sorted(&Value::Object(parameters.clone())))
        .expect("plain data serializes");
    hex::encode(Sha256::digest(canonical))
}

/// The signed envelope of the summary for `promotion`, as the file's bytes.
pub fn signed_summary(promotion: &Promotion<'_>, signer: &SigningKey) -> Vec<u8> {
    let parameters = policy_parameters(promotion.policy);
    let summary = Summary {
        statement_type: STATEMENT_TYPE.into(),
        subject: vec![ResourceDescriptor {
            name: Some(promotion.object_key.to_string()),
            digest: sha256_digest(hex::encode(promotion.object_sha256)),
            ..Default::default()
        }],
        predicate_type: PREDICATE_TYPE.into(),
        predicate: Verification {
            verifier: Verifier {
                id: promotion.verifier_id.clone(),
                version: BTreeMap::from([(
                    "publish-artifact".to_string(),
                    env!("CARGO_PKG_VERSION").to_string(),
                )]),
            },
            time_verified: promotion.time_verified.clone(),
            resource_uri: promotion.resource_uri.to_string(),
            policy: ResourceDescriptor {
                uri: Some(POLICY_URI.into()),
                digest: sha256_digest(policy_digest(&parameters)),
                annotations: parameters,
                ..Default::default()
            },
            input_attestations: promotion.inputs.clone(),
            verification_result: PASSED.into(),
            verified_levels: vec![VERIFIED_LEVEL.into()],
            slsa_version: Some("1.0".into()),
        },
    };
    let payload = serde_json::to_vec(&summary).expect("plain data serializes");
    serde_json::to_vec_pretty(&Envelope::new(&payload, Some(signer)))
        .expect("plain data serializes")
}

/// The object key a summary must name.
#[derive(Clone, Copy)]
pub enum Expected<'a> {
    /// Exactly this key.
    Key(&'a str),
    /// The path of the URL the object was read from: it must end with the
    /// key (a path-style S3 URL puts the bucket before it, a CDN a prefix).
    UrlPath(&'a str),
    /// A local file: any key, the digest decides.
    Any,
}

impl Expected<'_> {
    fn admits(self, name: &str) -> bool {
        match self {
            Self::Key(key) => name == key,
            Self::UrlPath(path) => {
                !name.is_empty() && (path == name || path.ends_with(&format!("/{name}")))
            }
            Self::Any => true,
        }
    }
}

impl std::fmt::Display for Expected<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Key(key) => write!(f, "{key:?}"),
            Self::UrlPath(path) => write!(f, "the key at the end of the URL path {path:?}"),
            Self::Any => write!(f, "any object"),
        }
    }
}

/// Checks a summary the way the next promotion and `attest verify` must:
/// signed under the trusted key, a PASSED verification summary of exactly
/// `object_key` with `object_sha256`, decided on the attestation whose file
/// hashes to `input_sha256`.
pub fn check_summary(
    bytes: &[u8],
    trust: &Trust,
    object_key: Expected<'_>,
    object_sha256: &[u8; 32],
    input_sha256: &[u8; 32],
) -> Result<(Summary, Signed), Refusal> {
    let (payload, signed) = open_envelope(bytes, trust)
        .map_err(|refusal| Refusal::new(format!("the verification summary: {refusal}")))?;
    let summary: Summary = serde_json::from_slice(&payload).map_err(|err| {
        Refusal::new(format!(
            "the verification summary is not a SLSA verification summary: {err}"
        ))
    })?;
    if summary.statement_type != STATEMENT_TYPE || summary.predicate_type != PREDICATE_TYPE {
        return Err(Refusal::new(format!(
            "the verification summary's types are {:?} / {:?}, not {STATEMENT_TYPE:?} / \
             {PREDICATE_TYPE:?}",
            summary.statement_type, summary.predicate_type
        )));
    }
    let verification = &summary.predicate;
    if verification.verification_result != PASSED {
        return Err(Refusal::new(format!(
            "the verification summary's result is {:?}, not PASSED",
            verification.verification_result
        )));
    }
    let subject = summary.object();
    let name = subject.and_then(|s| s.name.as_deref()).unwrap_or_default();
    if !object_key.admits(name) {
        return Err(Refusal::new(format!(
            "the verification summary is about {name:?}, not {object_key}"
        )));
    }
    let digest = hex::encode(object_sha256);
    if subject.and_then(|s| s.digest.get("sha256")) != Some(&digest) {
        return Err(Refusal::new(format!(
            "the verification summary of {name} names another digest than the attested \
             {digest}"
        )));
    }
    let input = hex::encode(input_sha256);
    if !verification
        .input_attestations
        .iter()
        .any(|attestation| attestation.digest.get("sha256") == Some(&input))
    {
        return Err(Refusal::new(format!(
            "the verification summary of {name} was not decided on this provenance (no \
             input attestation has its SHA-256 {input})"
        )));
    }
    Ok((summary, signed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attest::keys::VerifyingKey;
    use crate::attest::keys::tests::key_pair_pem;
    use crate::attest::verify::Pins;

    #[test]
    fn a_summary_checks_out_only_for_its_object_input_and_signer() {
        let (private, public) = key_pair_pem();
        let signer = SigningKey::from_pem(private.as_bytes()).unwrap();
        let policy = PromotionPolicy {
            from: "dev".into(),
            to: "stage".into(),
            stages: vec!["dev".into(), "stage".into(), "main".into()],
            require_summary_for: vec!["main".into()],
            require_sbom: false,
            attestation_public_key_sha256: signer.keyid().into(),
            pins: BTreeMap::from([("commit", "c0ffee".to_string())]),
        };
        let provenance = b"{\"the\": \"dev statement\"}";
        let input_sha256: [u8; 32] = Sha256::digest(provenance).into();
        let bytes = signed_summary(
            &Promotion {
                object_key: "stage/a-arm64-1.enc",
                object_sha256: &[0xab; 32],
                resource_uri: "https://cdn.example/stage/a-arm64-1.enc",
                policy: &policy,
                inputs: vec![input_attestation(
                    "dev/a-arm64-1.enc.intoto.json",
                    provenance,
                )],
                verifier_id: LOCAL_VERIFIER.into(),
                time_verified: "2026-11-29T00:00:00Z".into(),
            },
            &signer,
        );
        let checking = |public: &str| Trust {
            public_key: Some(VerifyingKey::from_pem(public.as_bytes()).unwrap()),
            allow_unsigned: false,
            pins: Pins::default(),
        };
        let (summary, signed) = check_summary(
            &bytes,
            &checking(&public),
            Expected::Key("stage/a-arm64-1.enc"),
            &[0xab; 32],
            &input_sha256,
        )
        .unwrap();
        assert_eq!(signed, Signed::By(signer.keyid().into()));
        let value = serde_json::to_value(&summary).unwrap();
        assert_eq!(value["predicate"]["verificationResult"], "PASSED");
        assert_eq!(value["predicate"]["policy"]["annotations"]["from"], "dev");
        // The policy digest is SHA-256 of the annotations, keys sorted, compact.
        let sorted = r#"{"attestation_public_key_sha256":"KEYID","from":"dev","pins":{"commit":"c0ffee"},"require_sbom":false,"require_summary_for":["main"],"stages":["dev","stage","main"],"to":"stage"}"#
            .replace("KEYID", signer.keyid());
        let digest = hex::encode(Sha256::digest(sorted.as_bytes()));
        assert_eq!(value["predicate"]["policy"]["digest"]["sha256"], digest);

        let refuse = |key: &str, sha: [u8; 32], input: [u8; 32], public: &str| {
            check_summary(&bytes, &checking(public), Expected::Key(key), &sha, &input)
                .unwrap_err()
                .to_string()
        };
        assert!(refuse("main/a-arm64-1.enc", [0xab; 32], input_sha256, &public).contains("about"));
        assert!(
            refuse("stage/a-arm64-1.enc", [0xac; 32], input_sha256, &public).contains("digest")
        );
        assert!(refuse("stage/a-arm64-1.enc", [0xab; 32], [0; 32], &public).contains("input"));
        let (_, other) = key_pair_pem();
        assert!(
            refuse("stage/a-arm64-1.enc", [0xab; 32], input_sha256, &other).contains("signature")
        );
    }
}
