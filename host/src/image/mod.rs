//! Image tarballs bound to the digest that was pushed and tested.
//!
//! CI pushes an image, reads its digest and raw manifest from the registry,
//! and hands a `docker-archive` tarball of it to publish. The binding checks,
//! in the one read of the tarball that sealing makes, that the tarball is
//! that image: see `binding` for the chain of digests.
//!
//! - `reference`: `REPO[:TAG]@sha256:D`;
//! - `manifest`: the registry's manifest or index, and the entry for the
//!   architecture;
//! - `archive`: the tar stream parsed as it passes (bounded memory);
//! - `binding`: the checks, and the `Read` wrapper publish reads through.

pub mod archive;
pub mod binding;
pub mod manifest;
pub mod reference;

pub use binding::{BindingReader, Expectation};
pub use reference::ImageRef;

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
