//! `REPO[:TAG]@sha256:DIGEST`: the image as the registry knows it.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `registry.example.com/acme/loader`, as written.
    pub repository: String,
    pub tag: Option<String>,
    /// SHA-256 of the manifest (or index) bytes the registry serves.
    pub digest: [u8; 32],
}

impl ImageRef {
    /// Parses `REPO@sha256:<64 hex>` or `REPO:TAG@sha256:<64 hex>`; a
    /// reference by tag alone is refused: tags move, digests do not.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (name, digest) = text.split_once('@').ok_or_else(|| {
            format!("--image-ref {text:?} has no @sha256:<digest>; tags move, so the image is named by digest")
        })?;
        let hex_digest = digest
            .strip_prefix("sha256:")
            .ok_or_else(|| format!("--image-ref {text:?}: only sha256 digests are supported"))?;
        let mut bytes = [0u8; 32];
        if hex_digest.len() != 64
            || hex_digest.bytes().any(|b| b.is_ascii_uppercase())
            || hex::decode_to_slice(hex_digest, &mut bytes).is_err()
        {
            return Err(format!(
                "--image-ref {text:?}: the digest is not 64 lowercase hex digits"
            ));
        }
        // A ':' after the last '/' starts the tag; one before it is a port.
        let last_slash = name.rfind('/').map_or(0, |at| at + 1);
        let (repository, tag) = match name[last_slash..].find(':') {
            Some(at) => (
                &name[..last_slash + at],
                Some(name[last_slash + at + 1..].to_string()),
            ),
            None => (name, None),
        };
        if repository.is_empty() || tag.as_deref() == Some("") {
            return Err(format!(
                "--image-ref {text:?} names no repository or an empty tag"
            ));
        }
        Ok(Self {
            repository: repository.to_string(),
            tag,
            digest: bytes,
        })
    }

    pub fn digest_hex(&self) -> String {
        hex::encode(self.digest)
    }
}

/// `REPO@sha256:DIGEST`, without the tag: the immutable name.
impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@sha256:{}", self.repository, self.digest_hex())
    }
}

/// Docker's short names: `loader` and `docker.io/library/loader` are one
/// repository, as `docker save` writes them into RepoTags.
pub fn normalize_repository(repository: &str) -> &str {
    let short = repository.strip_prefix("docker.io/").unwrap_or(repository);
    short.strip_prefix("library/").unwrap_or(short)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_repository_tag_and_digest() {
        let d = "ab".repeat(32);
        let r = ImageRef::parse(&format!(
            "registry.example.com:5000/acme/loader:7-abc@sha256:{d}"
        ))
        .unwrap();
        assert_eq!(r.repository, "registry.example.com:5000/acme/loader");
        assert_eq!(r.tag.as_deref(), Some("7-abc"));
        assert_eq!(
            r.to_string(),
            format!("registry.example.com:5000/acme/loader@sha256:{d}")
        );
        let r = ImageRef::parse(&format!("localhost:5000/loader@sha256:{d}")).unwrap();
        assert_eq!(
            (r.repository.as_str(), r.tag),
            ("localhost:5000/loader", None)
        );
        for bad in [
            "loader:latest".to_string(),
            format!("loader@sha512:{d}"),
            format!("loader@sha256:{}", "AB".repeat(32)),
            format!("loader@sha256:{}", &d[1..]),
            format!("@sha256:{d}"),
            format!("loader:@sha256:{d}"),
        ] {
            assert!(ImageRef::parse(&bad).is_err(), "{bad}");
        }
        assert_eq!(normalize_repository("docker.io/library/loader"), "loader");
    }
}
