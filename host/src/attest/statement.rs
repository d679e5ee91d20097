//! The in-toto Statement v1 with a SLSA Provenance v1 predicate that every
//! publish writes: what the object is (subjects) and how it was made
//! (build definition, run details). docs/provenance.md is the field guide.

use super::ci::Ci;
use super::keywrap::{self, WrappingKey};
use super::registry::SbomFormat;
use crate::config::Names;
use crate::image::BoundImage;
use crate::secrets::Key;
use aws_lc_rs::hmac;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::time::SystemTime;

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// What "seal and publish" means, fixed for this version of the statement:
/// docs/provenance.md documents it under this very URI. A change to what the
/// parameters mean gets a new version.
pub const BUILD_TYPE: &str =
    "https://example.invalid/publish-artifact/buildtypes/seal-and-publish/v1";
/// The HMAC context of the key commitment.
pub const KEY_COMMITMENT_CONTEXT: &[u8] = b"publish-artifact/key-commitment/v1";
/// The object subject's annotation naming the promotion key, when wrapped.
pub const KEY_WRAP_ANNOTATION: &str = "key_wrap";
/// Builder id outside CI when no `--builder-id` is given.
pub const LOCAL_BUILDER: &str = "urn:publish-artifact:builder:local";

/// An in-toto Statement v1 around a predicate: SLSA Provenance by default,
/// a SLSA Verification Summary for promotions (`attest::summary`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Statement<P = Provenance> {
    #[serde(rename = "_type")]
    pub statement_type: String,
    pub subject: Vec<ResourceDescriptor>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: P,
}

/// in-toto's ResourceDescriptor: the fields this tool writes and reads.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ResourceDescriptor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub annotations: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    pub build_definition: BuildDefinition,
    pub run_details: RunDetails,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildDefinition {
    pub build_type: String,
    pub external_parameters: ExternalParameters,
    pub internal_parameters: InternalParameters,
    #[serde(default)]
    pub resolved_dependencies: Vec<ResourceDescriptor>,
}

/// The names of the registration row, and where in CI the publish ran.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExternalParameters {
    pub resource_name: String,
    pub dev_stage: String,
    pub architecture: String,
    pub version: String,
    /// The input file's name (no directory: CI paths say nothing useful).
    pub input: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InternalParameters {
    /// SHA-256 of the WebAssembly component that sealed the object.
    pub sealing_component_sha256: String,
    pub gzip_level: u8,
    pub tool_version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDetails {
    pub builder: Builder,
    pub metadata: BuildMetadata,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Builder {
    pub id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_id: Option<String>,
    pub started_on: String,
    pub finished_on: String,
}

impl<P> Statement<P> {
    /// The object's subject: always the first.
    pub fn object(&self) -> Option<&ResourceDescriptor> {
        self.subject.first()
    }
}

impl Statement {
    pub fn external(&self) -> &ExternalParameters {
        &self.predicate.build_definition.external_parameters
    }

    /// The git commit among the resolved dependencies, if any.
    pub fn commit(&self) -> Option<&str> {
        self.predicate
            .build_definition
            .resolved_dependencies
            .iter()
            .find_map(|dependency| dependency.digest.get("gitCommit"))
            .map(String::as_str)
    }
}

/// A `{"sha256": hex}` digest set.
pub fn sha256_digest(hex: String) -> BTreeMap<String, String> {
    BTreeMap::from([("sha256".to_string(), hex)])
}

/// The object as sealed and uploaded.
#[derive(Clone, Copy)]
pub struct Sealed<'a> {
    pub names: &'a Names,
    pub object_key: &'a str,
    pub object_sha256: [u8; 32],
    pub object_size: u64,
    /// The data key, only for the key commitment: it never enters a file.
    pub data_key: &'a Key,
    pub input_name: &'a str,
    pub input_sha256: [u8; 32],
    pub level: u8,
}

/// What one publish knows once the object is sealed.
#[derive(Clone, Copy)]
pub struct PublishFacts<'a> {
    pub sealed: Sealed<'a>,
    pub sealing_component_sha256: &'a str,
    pub started: SystemTime,
    pub finished: SystemTime,
    /// `--builder-id`; otherwise derived from the CI variables.
    pub builder_id: Option<&'a str>,
    pub image: Option<&'a BoundImage>,
    /// The promotion pipeline's key: with it, the data key is wrapped
    /// into `{object_key}.keywrap` (see `keywrap`).
    pub key_wrap: Option<&'a WrappingKey>,
    /// The input's SBOM in each format, unless the publish skipped it.
    pub sboms: Option<&'a SbomDocuments>,
}

/// An SBOM document in each format, as published beside the object.
#[derive(Debug, Clone)]
pub struct SbomDocuments {
    pub cyclonedx: Vec<u8>,
    pub spdx: Vec<u8>,
}

impl SbomDocuments {
    pub fn document(&self, format: SbomFormat) -> &[u8] {
        match format {
            SbomFormat::CycloneDx => &self.cyclonedx,
            SbomFormat::Spdx => &self.spdx,
        }
    }
}

/// HMAC-SHA256(data key, "publish-artifact/key-commitment/v1" || object
/// digest): whoever holds the key can show it is this object's, and the
/// statement reveals nothing about the key.
pub fn key_commitment(key: &Key, object_sha256: &[u8; 32]) -> [u8; 32] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
    let mut context = hmac::Context::with_key(&key);
    context.update(KEY_COMMITMENT_CONTEXT);
    context.update(object_sha256);
    context
        .sign()
        .as_ref()
        .try_into()
        .expect("HMAC-SHA256 is 32 bytes")
}

/// RFC 3339 in UTC to the second, as SLSA's timestamps are written.
pub fn rfc3339(time: SystemTime) -> String {
    // aws-smithy's DateTime (already linked for S3) formats RFC 3339; the
    // `time` crate would need a feature that rebuilds the whole AWS stack.
    use aws_sdk_s3::primitives::{DateTime, DateTimeFormat};
    let seconds = DateTime::from(time).secs();
    DateTime::from_secs(seconds)
        .fmt(DateTimeFormat::DateTime)
        .expect("a time after 1970 formats")
}

/// The statement for one publish.
pub fn for_publish(facts: &PublishFacts<'_>, ci: &dyn Fn(&str) -> Option<String>) -> Statement {
    let ci = Ci::read(ci);
    let sealed = &facts.sealed;
    let commitment = key_commitment(sealed.data_key, &sealed.object_sha256);
    let mut annotations = Map::from_iter([
        ("size_bytes".to_string(), json!(sealed.object_size)),
        (
            "key_commitment".to_string(),
            json!({
                "algorithm": "hmac-sha256",
                "context": std::str::from_utf8(KEY_COMMITMENT_CONTEXT).expect("ASCII"),
                "value": hex::encode(commitment),
            }),
        ),
    ]);
    if let Some(wrapping) = facts.key_wrap {
        annotations.insert(
            KEY_WRAP_ANNOTATION.to_string(),
            json!({
                "algorithm": keywrap::ALGORITHM,
                "label": keywrap::label(&sealed.object_sha256),
                "public_key_sha256": wrapping.public_key_sha256(),
            }),
        );
    }
    let object = ResourceDescriptor {
        name: Some(sealed.object_key.to_string()),
        digest: sha256_digest(hex::encode(sealed.object_sha256)),
        annotations,
        ..Default::default()
    };
    let input = ResourceDescriptor {
        name: Some(sealed.input_name.to_string()),
        digest: sha256_digest(hex::encode(sealed.input_sha256)),
        annotations: Map::from_iter([("role".to_string(), Value::from("input"))]),
        ..Default::default()
    };
    let names = sealed.names;
    let resolved_dependencies = commit_dependency(&ci)
        .into_iter()
        .chain(facts.image.map(image_dependency))
        .collect();
    Statement {
        statement_type: STATEMENT_TYPE.into(),
        subject: vec![object, input],
        predicate_type: PREDICATE_TYPE.into(),
        predicate: Provenance {
            build_definition: BuildDefinition {
                build_type: BUILD_TYPE.into(),
                external_parameters: ExternalParameters {
                    resource_name: names.resource_name.clone(),
                    dev_stage: names.dev_stage.clone(),
                    architecture: names.architecture.clone(),
                    version: names.version.clone(),
                    input: sealed.input_name.to_string(),
                    image_ref: facts.image.map(BoundImage::reference),
                    repository: ci.repository.clone(),
                    git_ref: ci.git_ref.clone(),
                    event: ci.event.clone(),
                    workflow: ci.workflow.clone(),
                },
                internal_parameters: InternalParameters {
                    sealing_component_sha256: facts.sealing_component_sha256.to_string(),
                    gzip_level: sealed.level,
                    tool_version: env!("CARGO_PKG_VERSION").to_string(),
                },
                resolved_dependencies,
            },
            run_details: RunDetails {
                builder: Builder {
                    id: facts
                        .builder_id
                        .map(str::to_string)
                        .or_else(|| ci.builder_id())
                        .unwrap_or_else(|| LOCAL_BUILDER.into()),
                },
                metadata: BuildMetadata {
                    invocation_id: ci.pipeline_url.clone(),
                    started_on: rfc3339(facts.started),
                    finished_on: rfc3339(facts.finished),
                },
            },
        },
    }
}

/// The commit the run built, as a resolved dependency.
fn commit_dependency(ci: &Ci) -> Option<ResourceDescriptor> {
    Some(ResourceDescriptor {
        uri: ci.commit_uri(),
        digest: [("gitCommit".to_string(), ci.commit.clone()?)].into(),
        ..Default::default()
    })
}

fn image_dependency(image: &BoundImage) -> ResourceDescriptor {
    let mut annotations = Map::new();
    annotations.insert("config_digest".into(), json!(image.config_digest));
    if let Some(tag) = &image.tag {
        annotations.insert("tag".into(), json!(tag));
    }
    ResourceDescriptor {
        name: Some("image".into()),
        uri: Some(image.reference()),
        digest: sha256_digest(image.manifest_sha256_hex()),
        annotations,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::time::Duration;

    fn names() -> Names {
        Names {
            resource_name: "loader".into(),
            dev_stage: "dev".into(),
            architecture: "arm64".into(),
            version: "7-0123456789ab".into(),
        }
        .checked()
        .unwrap()
    }

    pub(crate) fn with_facts<T>(
        ci: &[(&str, &str)],
        key_wrap: Option<&WrappingKey>,
        check: impl FnOnce(&PublishFacts<'_>, &dyn Fn(&str) -> Option<String>) -> T,
    ) -> T {
        let names = names();
        let key = Key::from_bytes([0x42; 32]);
        let object_key = names.object_key();
        let facts = PublishFacts {
            sealed: Sealed {
                names: &names,
                object_key: &object_key,
                object_sha256: [0xaa; 32],
                object_size: 1234,
                data_key: &key,
                input_name: "image.tar",
                input_sha256: [0xbb; 32],
                level: 6,
            },
            sealing_component_sha256: "cc",
            started: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            finished: SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_005_500),
            builder_id: None,
            image: None,
            key_wrap,
            sboms: None,
        };
        let ci: Vec<(String, String)> = ci
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |name: &str| ci.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        check(&facts, &lookup)
    }

    #[test]
    fn the_statement_carries_names_commitment_and_ci() {
        let ci = [
            ("CI_REPO_URL", "https://git.example/acme/loader"),
            ("CI_COMMIT_SHA", "0123456789abcdef0123456789abcdef01234567"),
            ("CI_COMMIT_REF", "refs/heads/dev"),
            ("CI_SYSTEM_URL", "https://ci.example/"),
            ("CI_SYSTEM_PLATFORM", "linux/arm64"),
            ("CI_PIPELINE_URL", "https://ci.example/repos/1/pipeline/7"),
        ];
        let value = with_facts(&ci, None, |facts, lookup| {
            serde_json::to_value(for_publish(facts, lookup)).unwrap()
        });
        assert_eq!(
            value["subject"][0]["name"],
            "dev/loader-arm64-7-0123456789ab.enc"
        );
        assert_eq!(value["subject"][0]["annotations"]["size_bytes"], 1234);
        assert_eq!(value["subject"][1]["digest"]["sha256"], "bb".repeat(32));
        let predicate = &value["predicate"];
        assert_eq!(predicate["buildDefinition"]["buildType"], BUILD_TYPE);
        assert_eq!(
            predicate["buildDefinition"]["externalParameters"]["repository"],
            ci[0].1
        );
        let commit = &predicate["buildDefinition"]["resolvedDependencies"][0];
        assert_eq!(commit["digest"]["gitCommit"], ci[1].1);
        assert_eq!(
            commit["uri"],
            "git+https://git.example/acme/loader@refs/heads/dev"
        );
        assert_eq!(
            predicate["runDetails"]["builder"]["id"],
            "https://ci.example#linux/arm64"
        );
        assert_eq!(
            predicate["runDetails"]["metadata"]["startedOn"],
            "2027-01-15T08:00:00Z"
        );
        assert_eq!(
            predicate["runDetails"]["metadata"]["finishedOn"],
            "2027-01-15T08:00:05Z"
        );
        // Outside CI: no commit, the local builder, no invocation.
        let local = with_facts(&[], None, |facts, lookup| {
            serde_json::to_value(for_publish(facts, lookup)).unwrap()
        });
        assert_eq!(
            local["predicate"]["runDetails"]["builder"]["id"],
            LOCAL_BUILDER
        );
        assert!(
            local["predicate"]["buildDefinition"]["resolvedDependencies"]
                .as_array()
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn the_commitment_is_hmac_over_context_and_digest() {
        // RFC 4231-style check against a second implementation: HMAC from
        // its definition with SHA-256.
        use sha2::{Digest, Sha256};
        let key = [0x42u8; 32];
        let digest = [0xaa; 32];
        let block = |pad: u8| -> Vec<u8> {
            let mut b = key.to_vec();
            b.resize(64, 0);
            b.iter().map(|k| k ^ pad).collect()
        };
        let inner = Sha256::new()
            .chain_update(block(0x36))
            .chain_update(KEY_COMMITMENT_CONTEXT)
            .chain_update(digest)
            .finalize();
        let outer = Sha256::new()
            .chain_update(block(0x5c))
            .chain_update(inner)
            .finalize();
        assert_eq!(
            key_commitment(&Key::from_bytes(key), &digest),
            outer.as_slice()
        );
    }
}
