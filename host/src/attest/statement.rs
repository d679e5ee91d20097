//! The in-toto Statement v1 with a SLSA Provenance v1 predicate that every
//! publish writes: what the object is (subjects) and how it was made
//! (build definition, run details). docs/provenance.md is the field guide.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// What "seal and publish" means, fixed for this version of the statement:
/// docs/provenance.md documents it under this very URI. A change to what the
/// parameters mean gets a new version.
pub const BUILD_TYPE: &str =
    "https://example.invalid/publish-artifact/buildtypes/seal-and-publish/v1";
/// The HMAC context of the key commitment.
pub const KEY_COMMITMENT_CONTEXT: &[u8] = b"publish-artifact/key-commitment/v1";

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
