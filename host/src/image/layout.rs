//! The JSON documents of an image, as the registry serves them and as a
//! docker-archive tarball holds them: the manifest or index (an OCI
//! layout's `index.json` is an index too), the tarball's `manifest.json`,
//! and the image config. Only the fields the checks read; each parsed from
//! a bounded number of bytes.

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Registries refuse manifests over 4 MiB; configs and manifest.json are
/// far smaller.
const MAX_DOCUMENT: usize = 4 << 20;

/// A document, or why it is not one (serde's sentence).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    if bytes.len() > MAX_DOCUMENT {
        return Err(format!(
            "it is {} bytes, more than the {MAX_DOCUMENT} an image document may be",
            bytes.len()
        ));
    }
    serde_json::from_slice(bytes).map_err(|err| err.to_string())
}

/// An image manifest or an image index (OCI or Docker media types).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestDocument {
    /// Present in an index.
    #[serde(default)]
    pub manifests: Option<Vec<IndexEntry>>,
    /// Present in an image manifest.
    #[serde(default)]
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Option<Vec<Descriptor>>,
}

#[derive(Deserialize)]
pub struct Descriptor {
    pub digest: String,
}

#[derive(Deserialize)]
pub struct IndexEntry {
    pub digest: String,
    #[serde(default)]
    pub platform: Option<Platform>,
    /// An OCI layout's names for the image (`org.opencontainers.image.ref.name`).
    #[serde(default)]
    pub annotations: Option<std::collections::HashMap<String, String>>,
}

#[derive(Deserialize)]
pub struct Platform {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
}

/// One image of the tarball's `manifest.json` (a list of them). Paths are
/// archive members: `<id>.json` and `<id>/layer.tar`, or
/// `blobs/sha256/<hex>` in the Docker 25+ layout.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArchiveImage {
    pub config: String,
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    /// In order, base layer first.
    pub layers: Vec<String>,
}

/// The image config.
#[derive(Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    pub rootfs: RootFs,
}

#[derive(Deserialize)]
pub struct RootFs {
    /// `sha256:<hex>` of each uncompressed layer tar, in order.
    pub diff_ids: Vec<String>,
}
