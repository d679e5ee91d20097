//! Image tarballs bound to the digest that was pushed and tested.
//!
//! CI pushes an image, reads its digest and raw manifest from the registry,
//! and hands a `docker-archive` tarball of it to publish. The binding checks,
//! in the one read of the tarball that sealing makes, that the tarball is
//! that image: see `binding` for the chain of digests.
//!
//! - `reference`: `REPO[:TAG]@sha256:D`;
//! - `layout`: the JSON documents (manifest, index, manifest.json, config);
//! - `manifest`: the registry's manifest or index, and the entry for the
//!   architecture;
//! - `scan`: the one pass over the tarball as it streams past (bounded
//!   memory): every member hashed, small ones kept, and each layer's
//!   entries offered to a `LayerVisitor` (an SBOM's catalogers);
//! - `visit`: what a visitor sees and answers, and the scan's bounds;
//! - `layer`: one member read to its end, inflated and walked if a layer;
//! - `oci_layout`: an OCI image layout directory as the tar stream the
//!   scan reads, and the images its index.json names;
//! - `tar_walk`: tar headers read within bounds (long names, pax headers);
//! - `binding`: the checks, and the `Read` wrapper publish reads through,
//!   the scan's first user.
//!
//! Nothing here depends on `attest`: a failed check is a `BindingError`,
//! which the commands turn into their exit class.

pub mod binding;
mod layer;
pub mod layout;
pub mod manifest;
pub mod oci_layout;
pub mod reference;
pub mod scan;
mod tar_walk;
pub mod visit;

pub use binding::{BindingReader, Expectation};
pub use reference::ImageRef;
pub use scan::{LayerEnd, LayerEntry, LayerVisitor, Limits, Scan, Want};
pub use visit::Kind;

/// Why a tarball or a manifest is not the image expected: one sentence,
/// meant for the person who has to act on it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BindingError(String);

impl BindingError {
    pub fn new(sentence: impl Into<String>) -> Self {
        Self(sentence.into())
    }
}

impl From<scan::ScanError> for BindingError {
    fn from(error: scan::ScanError) -> Self {
        Self(error.to_string())
    }
}

/// The image a tarball was shown to be; it goes into the provenance's
/// resolved dependencies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundImage {
    pub repository: String,
    pub tag: Option<String>,
    /// The digest of the reference: the manifest (or index) pushed.
    pub digest: [u8; 32],
    /// `sha256:<hex>` of the image config.
    pub config_digest: String,
}

impl BoundImage {
    /// `REPO@sha256:D`.
    pub fn reference(&self) -> String {
        format!("{}@sha256:{}", self.repository, self.manifest_sha256_hex())
    }

    pub fn manifest_sha256_hex(&self) -> String {
        hex::encode(self.digest)
    }
}
