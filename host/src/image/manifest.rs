//! The registry's manifest (or index) bytes: which one the reference's
//! digest names, and what it says the image's config is.

use super::BindingError;
use super::layout::{self, IndexEntry, ManifestDocument};
use super::reference::ImageRef;
use sha2::{Digest, Sha256};

/// What the binding needs from an image manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformManifest {
    pub digest: [u8; 32],
    pub config_digest: [u8; 32],
    pub layer_count: usize,
}

/// The image the reference names, for this architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Manifest(PlatformManifest),
    /// The reference is an index whose entry for the architecture points at
    /// a manifest not given as a file: the archive must carry it as a blob
    /// (`blobs/sha256/<digest>`, as newer `docker save` writes).
    InArchive {
        manifest_digest: [u8; 32],
    },
}

/// `sha256:<hex>` as 32 bytes.
pub fn parse_digest(text: &str) -> Option<[u8; 32]> {
    let hex_digest = text.strip_prefix("sha256:")?;
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut bytes).ok()?;
    Some(bytes)
}

/// One spelling per architecture: Docker and OCI say `arm64`/`amd64`,
/// uname says `aarch64`/`x86_64`.
pub fn normalize_architecture(architecture: &str) -> String {
    match architecture.to_ascii_lowercase().as_str() {
        "aarch64" => "arm64".into(),
        "x86_64" | "x86-64" => "amd64".into(),
        other => other.into(),
    }
}

fn parse(bytes: &[u8], what: &str) -> Result<ManifestDocument, BindingError> {
    layout::parse(bytes)
        .map_err(|err| BindingError::new(format!("{what} is not a JSON image manifest: {err}")))
}

/// Reads an image manifest (not an index) whose bytes hash to `digest`.
pub fn platform_manifest(bytes: &[u8], what: &str) -> Result<PlatformManifest, BindingError> {
    let document = parse(bytes, what)?;
    let config = document
        .config
        .ok_or_else(|| BindingError::new(format!("{what} is not an image manifest (no config)")))?;
    let config_digest = parse_digest(&config.digest).ok_or_else(|| {
        BindingError::new(format!(
            "{what} names its config by {:?}, not by a sha256 digest",
            config.digest
        ))
    })?;
    Ok(PlatformManifest {
        digest: Sha256::digest(bytes).into(),
        config_digest,
        layer_count: document.layers.map_or(0, |layers| layers.len()),
    })
}

/// Finds among `files` the manifest the reference names and, for an index,
/// the entry for `architecture` (attestation entries, `unknown/unknown`,
/// are not images and are skipped).
pub fn resolve(
    reference: &ImageRef,
    files: &[Vec<u8>],
    architecture: Option<&str>,
) -> Result<Resolved, BindingError> {
    let by_digest = |digest: &[u8; 32]| {
        files
            .iter()
            .find(|bytes| Sha256::digest(bytes).as_slice() == digest)
    };
    let top = by_digest(&reference.digest).ok_or_else(|| {
        let got: Vec<String> = files
            .iter()
            .map(|bytes| format!("sha256:{}", hex::encode(Sha256::digest(bytes))))
            .collect();
        BindingError::new(format!(
            "the image manifest has {}, not the digest sha256:{} of --image-ref",
            got.join(", "),
            reference.digest_hex()
        ))
    })?;
    let Some(entries) = parse(top, "the image manifest")?.manifests else {
        return platform_manifest(top, "the image manifest").map(Resolved::Manifest);
    };
    let architecture = architecture.map(normalize_architecture).ok_or_else(|| {
        BindingError::new("the image manifest is an index: the architecture picks its entry")
    })?;
    let images: Vec<&IndexEntry> = entries
        .iter()
        .filter(|entry| {
            entry
                .platform
                .as_ref()
                .is_some_and(|p| !(p.os == "unknown" && p.architecture == "unknown"))
        })
        .collect();
    let matching: Vec<&&IndexEntry> = images
        .iter()
        .filter(|entry| {
            let platform = entry.platform.as_ref().expect("filtered above");
            platform.os == "linux" && normalize_architecture(&platform.architecture) == architecture
        })
        .collect();
    let entry = match matching.as_slice() {
        [one] => one,
        [] => {
            let platforms: Vec<String> = images
                .iter()
                .filter_map(|entry| entry.platform.as_ref())
                .map(|p| format!("{}/{}", p.os, p.architecture))
                .collect();
            return Err(BindingError::new(format!(
                "the image index has no manifest for linux/{architecture} (it has: {})",
                if platforms.is_empty() {
                    "none".into()
                } else {
                    platforms.join(", ")
                }
            )));
        }
        _ => {
            return Err(BindingError::new(format!(
                "the image index has {} manifests for linux/{architecture}; it must have one",
                matching.len()
            )));
        }
    };
    let manifest_digest = parse_digest(&entry.digest).ok_or_else(|| {
        BindingError::new(format!(
            "the image index names {:?}, not a sha256 digest",
            entry.digest
        ))
    })?;
    match by_digest(&manifest_digest) {
        Some(bytes) => platform_manifest(bytes, "the platform manifest").map(Resolved::Manifest),
        None => Ok(Resolved::InArchive { manifest_digest }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(bytes: &[u8]) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
    }

    fn reference_to(bytes: &[u8]) -> ImageRef {
        ImageRef::parse(&format!("r/x@{}", digest(bytes))).unwrap()
    }

    #[test]
    fn a_manifest_is_taken_only_under_its_digest() {
        let config = format!("sha256:{}", "cd".repeat(32));
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "config": {"digest": config}, "layers": [{"digest": config}]
        }))
        .unwrap();
        let resolved = resolve(
            &reference_to(&manifest),
            std::slice::from_ref(&manifest),
            None,
        )
        .unwrap();
        let Resolved::Manifest(m) = resolved else {
            panic!()
        };
        assert_eq!((m.config_digest, m.layer_count), ([0xcd; 32], 1));
        let mut other = manifest.clone();
        other.push(b'\n');
        let refusal = resolve(&reference_to(&other), &[manifest], None).unwrap_err();
        assert!(refusal.to_string().contains("not the digest"), "{refusal}");
    }

    #[test]
    fn an_index_picks_the_architecture_and_skips_attestations() {
        let child = |n: u8| format!("sha256:{}", hex::encode([n; 32]));
        let index = serde_json::to_vec(&serde_json::json!({
            "manifests": [
                {"digest": child(1), "platform": {"os": "linux", "architecture": "amd64"}},
                {"digest": child(2), "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
                {"digest": child(3), "platform": {"os": "unknown", "architecture": "unknown"}},
            ]
        }))
        .unwrap();
        let r = reference_to(&index);
        let files = [index.clone()];
        assert_eq!(
            resolve(&r, &files, Some("aarch64")).unwrap(),
            Resolved::InArchive {
                manifest_digest: [2; 32]
            }
        );
        let refusal = resolve(&r, &files, Some("riscv64"))
            .unwrap_err()
            .to_string();
        assert!(
            refusal.contains("linux/amd64, linux/arm64") && !refusal.contains("unknown"),
            "{refusal}"
        );
        assert!(resolve(&r, &files, None).is_err());
    }
}
