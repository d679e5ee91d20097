//! The files published next to an object: `{object_key}.sha256`,
//! `{object_key}.intoto.json` and, with a signing key,
//! `{object_key}.sha256.sig`.

use super::dsse::Envelope;
use super::keys::SigningKey;
use super::keywrap::{self, WrappingKey};
use super::statement::{
    BUILD_TYPE, BuildDefinition, BuildMetadata, Builder, ExternalParameters, InternalParameters,
    KEY_COMMITMENT_CONTEXT, PREDICATE_TYPE, Provenance, ResourceDescriptor, RunDetails,
    STATEMENT_TYPE, Statement, sha256_digest,
};
use crate::config::Names;
use crate::image::BoundImage;
use crate::secrets::Key;
use aws_lc_rs::hmac;
use base64::Engine;
use serde_json::{Map, Value, json};
use std::time::SystemTime;

/// One file to upload as `{object_key}{suffix}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sidecar {
    pub suffix: &'static str,
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
}

impl Sidecar {
    /// `.sha256`: the object's line in `sha256sum` format.
    pub fn checksum(object_key: &str, object_sha256: &[u8; 32]) -> Self {
        Self::text(
            SHA256_SUFFIX,
            sha256_line(object_key, object_sha256).into_bytes(),
        )
    }

    /// `.sha256.sig`: cosign's blob signature of the `.sha256` file.
    pub fn checksum_signature(base64_der: Vec<u8>) -> Self {
        Self::text(SIGNATURE_SUFFIX, base64_der)
    }

    /// `.intoto.json`: the DSSE envelope of the provenance.
    pub fn statement(envelope: Vec<u8>) -> Self {
        Self::envelope(STATEMENT_SUFFIX, envelope)
    }

    /// `.vsa.intoto.json`: the DSSE envelope of a promotion's summary.
    pub fn summary(envelope: Vec<u8>) -> Self {
        Self::envelope(super::summary::SUFFIX, envelope)
    }

    /// `.keywrap`: the data key, wrapped for the promotion key.
    pub fn key_wrap(wrapped: Vec<u8>) -> Self {
        Self {
            suffix: keywrap::SUFFIX,
            bytes: wrapped,
            content_type: "application/octet-stream",
        }
    }

    fn text(suffix: &'static str, bytes: Vec<u8>) -> Self {
        Self {
            suffix,
            bytes,
            content_type: "text/plain; charset=utf-8",
        }
    }

    fn envelope(suffix: &'static str, bytes: Vec<u8>) -> Self {
        Self {
            suffix,
            bytes,
            content_type: "application/vnd.dsse.envelope.v1+json",
        }
    }
}

pub const SHA256_SUFFIX: &str = ".sha256";
pub const STATEMENT_SUFFIX: &str = ".intoto.json";
pub const SIGNATURE_SUFFIX: &str = ".sha256.sig";
/// Every file that may sit beside a published object, whichever command
/// wrote it: what a `--replace` keeps aside, puts back or removes.
pub const SIDECAR_SUFFIXES: [&str; 5] = [
    SHA256_SUFFIX,
    STATEMENT_SUFFIX,
    SIGNATURE_SUFFIX,
    keywrap::SUFFIX,
    super::summary::SUFFIX,
];
/// The object subject's annotation naming the promotion key, when wrapped.
pub const KEY_WRAP_ANNOTATION: &str = "key_wrap";

/// Builder id outside CI when no `--builder-id` is given.
pub const LOCAL_BUILDER: &str = "urn:publish-artifact:builder:local";

/// The object as sealed and uploaded.
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

/// The `.sha256` file: one `sha256sum` line naming the object's file name,
/// so `sha256sum -c` works in the folder the object was downloaded to.
pub fn sha256_line(object_key: &str, object_sha256: &[u8; 32]) -> String {
    let file_name = object_key.rsplit('/').next().unwrap_or(object_key);
    format!("{}  {file_name}\n", hex::encode(object_sha256))
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

/// The builder (or verifier) id CI's variables give: `CI_SYSTEM_URL#<platform>`.
pub fn ci_builder_id(lookup: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    Ci::read(lookup).builder_id()
}

/// The CI variables the statement records (Woodpecker's names).
struct Ci {
    repository: Option<String>,
    clone_url: Option<String>,
    git_ref: Option<String>,
    event: Option<String>,
    workflow: Option<String>,
    commit: Option<String>,
    system_url: Option<String>,
    platform: Option<String>,
    pipeline_url: Option<String>,
}

impl Ci {
    fn read(lookup: &dyn Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|value| !value.is_empty());
        Self {
            repository: get("CI_REPO_URL").or_else(|| get("CI_REPO")),
            clone_url: get("CI_REPO_CLONE_URL").or_else(|| get("CI_REPO_URL")),
            git_ref: get("CI_COMMIT_REF"),
            event: get("CI_PIPELINE_EVENT"),
            workflow: get("CI_WORKFLOW_NAME"),
            commit: get("CI_COMMIT_SHA"),
            system_url: get("CI_SYSTEM_URL"),
            platform: get("CI_SYSTEM_PLATFORM"),
            pipeline_url: get("CI_PIPELINE_URL"),
        }
    }

    /// `CI_SYSTEM_URL#<platform>`: the CI server and the kind of agent the
    /// step ran on (`CI_SYSTEM_PLATFORM`, else this process's os/arch).
    fn builder_id(&self) -> Option<String> {
        let platform = self
            .platform
            .clone()
            .unwrap_or_else(|| format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH));
        self.system_url
            .as_ref()
            .map(|url| format!("{}#{platform}", url.trim_end_matches('/')))
    }

    fn commit_dependency(&self) -> Option<ResourceDescriptor> {
        let commit = self.commit.clone()?;
        let uri = self.clone_url.as_ref().map(|url| match &self.git_ref {
            Some(git_ref) => format!("git+{url}@{git_ref}"),
            None => format!("git+{url}"),
        });
        Some(ResourceDescriptor {
            uri,
            digest: [("gitCommit".to_string(), commit)].into(),
            ..Default::default()
        })
    }
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

/// The statement for one publish.
pub fn statement(facts: &PublishFacts<'_>, ci: &dyn Fn(&str) -> Option<String>) -> Statement {
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
    let resolved_dependencies = ci
        .commit_dependency()
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

/// The sidecar files of one publish, in upload order; `.sha256.sig` only
/// when a signing key is given, `.keywrap` only with a promotion key.
pub fn sidecars(
    facts: &PublishFacts<'_>,
    ci: &dyn Fn(&str) -> Option<String>,
    signer: Option<&SigningKey>,
) -> Vec<Sidecar> {
    let checksum = Sidecar::checksum(facts.sealed.object_key, &facts.sealed.object_sha256);
    // cosign's blob signature of the `.sha256` file: base64 of the DER
    // signature over its SHA-256, no newline (as `cosign sign-blob` writes).
    let signature = signer.map(|signer| {
        Sidecar::checksum_signature(
            base64::engine::general_purpose::STANDARD
                .encode(signer.sign(&checksum.bytes))
                .into_bytes(),
        )
    });
    let payload = serde_json::to_vec(&statement(facts, ci)).expect("plain data serializes");
    let envelope = Envelope::new(&payload, signer);
    let mut files = vec![
        checksum,
        Sidecar::statement(serde_json::to_vec_pretty(&envelope).expect("plain data serializes")),
    ];
    files.extend(signature);
    if let Some(wrapping) = facts.key_wrap {
        files.push(Sidecar::key_wrap(
            wrapping.wrap(facts.sealed.data_key, &facts.sealed.object_sha256),
        ));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attest::dsse::pae;
    use crate::attest::keys::VerifyingKey;
    use crate::attest::keys::tests::key_pair_pem;
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

    fn with_facts<T>(
        ci: &[(&str, &str)],
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
            key_wrap: None,
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
        let value = with_facts(&ci, |facts, lookup| {
            serde_json::to_value(statement(facts, lookup)).unwrap()
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
        let local = with_facts(&[], |facts, lookup| {
            serde_json::to_value(statement(facts, lookup)).unwrap()
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

    #[test]
    fn signed_sidecars_verify_and_unsigned_ones_have_no_signature() {
        let (private, public) = key_pair_pem();
        let signer = SigningKey::from_pem(private.as_bytes()).unwrap();
        let key = VerifyingKey::from_pem(public.as_bytes()).unwrap();
        let files = with_facts(&[], |facts, lookup| sidecars(facts, lookup, Some(&signer)));
        let suffixes: Vec<_> = files.iter().map(|f| f.suffix).collect();
        assert_eq!(suffixes, [".sha256", ".intoto.json", ".sha256.sig"]);
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
        let unsigned = with_facts(&[], |facts, lookup| sidecars(facts, lookup, None));
        assert_eq!(unsigned.len(), 2);
        assert!(
            Envelope::parse(&unsigned[1].bytes)
                .unwrap()
                .signatures
                .is_empty()
        );
    }
}
