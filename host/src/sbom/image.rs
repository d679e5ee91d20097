//! The SBOM of a docker-archive tarball: one scan feeds the squash (and
//! whatever else reads through it), then manifest.json orders the layers
//! and names the image.

use super::catalogers;
use super::document::{Bom, ImageFacts, Subject};
use super::squash::Squasher;
use crate::image::BoundImage;
use crate::image::layout::{self, ArchiveImage, ImageConfig};
use crate::image::scan::{Scanned, normalize};
use crate::image::{Limits, Scan};
use std::io::Read;
use std::time::SystemTime;

/// A tar stream's first header says `ustar` at byte 257.
pub fn looks_like_tar(head: &[u8]) -> bool {
    head.get(257..262) == Some(b"ustar")
}

/// Reads `input` once, through the scan; `None` when it is a tar without
/// manifest.json (not an image).
pub fn scan(input: impl Read + Send, created: SystemTime) -> Result<Option<Bom>, String> {
    let mut scan = Scan::with_visitor(input, Squasher::new(catalogers()), Limits::default());
    std::io::copy(&mut scan, &mut std::io::sink())
        .map_err(|err| format!("cannot be read: {err}"))?;
    let scanned = scan.finish().map_err(|err| err.to_string())?;
    bom_of(scanned, None, created)
}

/// The document of a finished scan; `None` when the tar has no
/// manifest.json. A `bound` image (publish `--image-ref`) names the
/// subject by its repository and the manifest digest pushed.
pub fn bom_of(
    scanned: Scanned<Squasher>,
    bound: Option<&BoundImage>,
    created: SystemTime,
) -> Result<Option<Bom>, String> {
    let contents = &scanned.contents;
    let Some(manifest) = contents
        .file("manifest.json")
        .and_then(|m| m.content.as_deref())
    else {
        return Ok(None);
    };
    let images: Vec<ArchiveImage> =
        layout::parse(manifest).map_err(|why| format!("has a manifest.json that {why}"))?;
    let Some(image) = images.first() else {
        return Err("has a manifest.json that lists no image".into());
    };
    let order: Vec<String> = image.layers.iter().map(|layer| normalize(layer)).collect();
    let squasher = scanned.visitor.ok_or("was not scanned for its layers")?;
    let squashed = squasher.finish(&order);
    let config = contents.file(&image.config);
    let platform = config
        .and_then(|member| member.content.as_deref())
        .and_then(|bytes| layout::parse::<ImageConfig>(bytes).ok())
        .map(|config| format!("{}/{}", config.os, config.architecture));
    let tags = image.repo_tags.clone().unwrap_or_default();
    let name = match bound {
        Some(image) => image.repository.clone(),
        None => tags
            .first()
            .map(|tag| repository(tag))
            .unwrap_or_else(|| "image".into()),
    };
    let facts = ImageFacts {
        name,
        tags,
        manifest_digest: bound.map(|image| format!("sha256:{}", image.manifest_sha256_hex())),
        config_digest: format!(
            "sha256:{}",
            hex::encode(config.map(|m| m.sha256).unwrap_or_default())
        ),
        platform,
    };
    let mut bom = Bom::new(Subject::Image(facts), squashed.packages, created);
    bom.problems = squashed.problems;
    Ok(Some(bom))
}

/// `registry:5000/acme/loader:7` -> `registry:5000/acme/loader`: the tag is
/// after the last colon that follows the last slash.
fn repository(reference: &str) -> String {
    let slash = reference.rfind('/').map_or(0, |at| at + 1);
    match reference[slash..].rfind(':') {
        Some(colon) => reference[..slash + colon].to_string(),
        None => reference.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_is_the_reference_without_its_tag() {
        assert_eq!(
            repository("registry:5000/acme/loader:7"),
            "registry:5000/acme/loader"
        );
        assert_eq!(
            repository("registry:5000/acme/loader"),
            "registry:5000/acme/loader"
        );
        assert_eq!(repository("debian:12"), "debian");
    }
}
