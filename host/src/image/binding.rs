//! The chain from the pushed digest to the tarball's bytes:
//!
//! ```text
//! sha256(manifest) = D  ->  manifest.config.digest = sha256(tarball config)
//!                       ->  config.rootfs.diff_ids[i] = sha256(tarball layer i)
//! ```
//!
//! plus the tarball's `RepoTags` naming the expected tag and the config's
//! platform being the architecture published. The tarball may be either
//! docker-archive layout: the legacy one (`<id>/layer.tar`, `<hex>.json`)
//! or the OCI-style one newer `docker save` writes (`blobs/sha256/<hex>`,
//! layers possibly gzip-compressed).

use super::layout::{self, ArchiveImage, ImageConfig};
use super::manifest::{self, Resolved, normalize_architecture};
use super::reference::{ImageRef, normalize_repository};
use super::scan::{Contents, Scan};
use super::{BindingError, BoundImage};
use std::io::{self, Read};

/// What the tarball must turn out to be.
#[derive(Debug)]
pub struct Expectation {
    reference: ImageRef,
    tag: Option<String>,
    architecture: Option<String>,
    resolved: Resolved,
}

impl Expectation {
    /// Checks the manifest files against the reference before any tarball
    /// byte is read. The tag is `tag` or the reference's own.
    pub fn new(
        reference: ImageRef,
        manifests: &[Vec<u8>],
        tag: Option<String>,
        architecture: Option<&str>,
    ) -> Result<Self, BindingError> {
        let resolved = manifest::resolve(&reference, manifests, architecture)?;
        Ok(Self {
            tag: tag.or_else(|| reference.tag.clone()),
            reference,
            architecture: architecture.map(normalize_architecture),
            resolved,
        })
    }

    /// Wraps the tarball's reader; read it to the end, then `finish`.
    pub fn reader<R: Read>(self, tarball: R) -> BindingReader<R> {
        BindingReader {
            scan: Scan::new(tarball),
            expectation: self,
        }
    }

    /// The bound image, or why the archive is not it.
    pub fn check(&self, contents: &Contents) -> Result<BoundImage, BindingError> {
        let manifest = match &self.resolved {
            Resolved::Manifest(manifest) => manifest.clone(),
            Resolved::InArchive { manifest_digest } => {
                let hex_digest = hex::encode(manifest_digest);
                let bytes = contents
                    .file(&format!("blobs/sha256/{hex_digest}"))
                    .filter(|entry| entry.sha256 == *manifest_digest)
                    .and_then(|entry| entry.content.as_deref())
                    .ok_or_else(|| {
                        BindingError::new(format!(
                            "the image index points at manifest sha256:{hex_digest}, which neither \
                             the archive nor a second --image-manifest holds"
                        ))
                    })?;
                manifest::platform_manifest(bytes, "the platform manifest")?
            }
        };
        let config_hex = hex::encode(manifest.config_digest);
        let images: Vec<ArchiveImage> = contents
            .file("manifest.json")
            .and_then(|entry| entry.content.as_deref())
            .ok_or_else(|| {
                BindingError::new(
                    "the archive has no manifest.json: it is not a docker-archive tarball \
                     (docker save, skopeo docker-archive:)",
                )
            })
            .and_then(|bytes| {
                layout::parse(bytes).map_err(|err| {
                    BindingError::new(format!(
                        "the archive's manifest.json is not readable: {err}"
                    ))
                })
            })?;
        let image = images
            .iter()
            .find(|image| {
                contents
                    .file(&image.config)
                    .is_some_and(|entry| entry.sha256 == manifest.config_digest)
            })
            .ok_or_else(|| {
                let found: Vec<String> = images
                    .iter()
                    .map(|image| match contents.file(&image.config) {
                        Some(entry) => format!("{} (sha256:{})", image.config, hex::encode(entry.sha256)),
                        None => format!("{} (missing)", image.config),
                    })
                    .collect();
                BindingError::new(format!(
                    "the archive's image config is {}, not the pushed manifest's config sha256:{config_hex}",
                    if found.is_empty() { "absent".into() } else { found.join(", ") }
                ))
            })?;
        let config: ImageConfig = contents
            .file(&image.config)
            .and_then(|entry| entry.content.as_deref())
            .ok_or_else(|| {
                BindingError::new(format!(
                    "the image config {} is too large to check",
                    image.config
                ))
            })
            .and_then(|bytes| {
                layout::parse(bytes).map_err(|err| {
                    BindingError::new(format!(
                        "the image config {} is not readable: {err}",
                        image.config
                    ))
                })
            })?;
        self.check_platform(&config)?;
        check_layers(contents, image, &config, manifest.layer_count)?;
        self.check_tag(image)?;
        Ok(BoundImage {
            repository: self.reference.repository.clone(),
            tag: self.tag.clone(),
            digest: self.reference.digest,
            config_digest: format!("sha256:{config_hex}"),
        })
    }

    fn check_platform(&self, config: &ImageConfig) -> Result<(), BindingError> {
        let Some(expected) = &self.architecture else {
            return Ok(());
        };
        if normalize_architecture(&config.architecture) != *expected || config.os != "linux" {
            return Err(BindingError::new(format!(
                "the image is for {}/{}, not linux/{expected}",
                config.os, config.architecture
            )));
        }
        Ok(())
    }

    fn check_tag(&self, image: &ArchiveImage) -> Result<(), BindingError> {
        let repository = normalize_repository(&self.reference.repository);
        let tags = image.repo_tags.as_deref().unwrap_or_default();
        let names_it = |repo_tag: &String| {
            let (repo, tag) = repo_tag.rsplit_once(':').unwrap_or((repo_tag, ""));
            normalize_repository(repo) == repository
                && self.tag.as_deref().is_none_or(|wanted| wanted == tag)
        };
        if tags.iter().any(names_it) {
            return Ok(());
        }
        let wanted = match &self.tag {
            Some(tag) => format!("{repository}:{tag}"),
            None => format!("a tag of {repository}"),
        };
        Err(BindingError::new(format!(
            "the archive's RepoTags {tags:?} do not include {wanted}"
        )))
    }
}

fn check_layers(
    contents: &Contents,
    image: &ArchiveImage,
    config: &ImageConfig,
    pushed_layers: usize,
) -> Result<(), BindingError> {
    let diff_ids = &config.rootfs.diff_ids;
    if image.layers.len() != diff_ids.len() || pushed_layers != diff_ids.len() {
        return Err(BindingError::new(format!(
            "the archive has {} layers, the pushed manifest {pushed_layers}, the config {} diff_ids",
            image.layers.len(),
            diff_ids.len()
        )));
    }
    for (number, (path, diff_id)) in image.layers.iter().zip(diff_ids).enumerate() {
        let member = contents
            .file(path)
            .ok_or_else(|| BindingError::new(format!("the archive lacks layer {path}")))?;
        let expected = manifest::parse_digest(diff_id);
        if expected.is_none_or(|d| d != member.sha256 && Some(d) != member.diff_id) {
            let why = member.problem.as_ref().map(|p| format!(" ({p})"));
            return Err(BindingError::new(format!(
                "layer {} ({path}) has sha256:{}, not the config's diff_id {diff_id}{}",
                number + 1,
                hex::encode(member.diff_id.unwrap_or(member.sha256)),
                why.unwrap_or_default()
            )));
        }
    }
    Ok(())
}

/// The tarball's reader, passing its bytes through while checking them.
pub struct BindingReader<R> {
    scan: Scan<R>,
    expectation: Expectation,
}

impl<R: Read> Read for BindingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.scan.read(buf)
    }
}

impl<R: Read> BindingReader<R> {
    /// After end of file: the bound image, or a refusal.
    pub fn finish(self) -> Result<BoundImage, BindingError> {
        let scanned = self.scan.finish()?;
        self.expectation.check(&scanned.contents)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::scan::tests::{read_through, tarball};
    use sha2::{Digest, Sha256};
    use std::io::Write;

    fn sha(bytes: &[u8]) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
    }

    struct Image {
        manifest: Vec<u8>,
        config: Vec<u8>,
        layers: Vec<Vec<u8>>,
    }

    fn image(architecture: &str) -> Image {
        let layers = vec![b"first layer".repeat(100), b"second".repeat(3000)];
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": architecture, "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| sha(l)).collect::<Vec<_>>()}
        }))
        .unwrap();
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "config": {"digest": sha(&config)},
            "layers": layers.iter().map(|l| serde_json::json!({"digest": sha(l)})).collect::<Vec<_>>()
        }))
        .unwrap();
        Image {
            manifest,
            config,
            layers,
        }
    }

    /// The legacy layout, with layer folders as symlinks (as skopeo writes).
    fn legacy(image: &Image, tag: &str) -> Vec<u8> {
        let config_name = format!("{}.json", &sha(&image.config)[7..]);
        let manifest = serde_json::to_vec(&serde_json::json!([{
            "Config": config_name, "RepoTags": [tag],
            "Layers": ["aaa/layer.tar", "bbb/layer.tar"]
        }]))
        .unwrap();
        tarball(
            &[
                ("l1.tar", &image.layers[0]),
                ("l2.tar", &image.layers[1]),
                (&config_name, &image.config),
                ("manifest.json", &manifest),
            ],
            &[
                ("aaa/layer.tar", "../l1.tar"),
                ("bbb/layer.tar", "../l2.tar"),
            ],
        )
    }

    fn expect(
        image: &Image,
        reference: &str,
        architecture: &str,
    ) -> Result<Expectation, BindingError> {
        let reference = ImageRef::parse(&format!("{reference}@{}", sha(&image.manifest))).unwrap();
        Expectation::new(
            reference,
            std::slice::from_ref(&image.manifest),
            None,
            Some(architecture),
        )
    }

    #[test]
    fn the_legacy_layout_binds_and_a_changed_layer_does_not() {
        let image = image("arm64");
        let archive = legacy(&image, "registry.example/loader:7-abc");
        let (_, contents) = read_through(&archive);
        let bound = expect(&image, "registry.example/loader:7-abc", "aarch64")
            .unwrap()
            .check(&contents.unwrap())
            .unwrap();
        assert_eq!(bound.config_digest, sha(&image.config));

        let mut tampered = image.layers[1].clone();
        tampered[10] ^= 1;
        let bad = Image {
            layers: vec![image.layers[0].clone(), tampered],
            ..image
        };
        let (_, contents) = read_through(&legacy(&bad, "registry.example/loader:7-abc"));
        let image = self::image("arm64");
        let refusal = expect(&image, "registry.example/loader", "arm64")
            .unwrap()
            .check(&contents.unwrap());
        assert!(refusal.unwrap_err().to_string().contains("layer 2"));
    }

    #[test]
    fn wrong_tag_and_wrong_architecture_are_refused() {
        let image = image("amd64");
        let (_, contents) = read_through(&legacy(&image, "registry.example/loader:other"));
        let contents = contents.unwrap();
        let refusal = expect(&image, "registry.example/loader:7-abc", "amd64")
            .unwrap()
            .check(&contents);
        assert!(refusal.unwrap_err().to_string().contains("RepoTags"));
        let refusal = expect(&image, "registry.example/loader:other", "arm64")
            .unwrap()
            .check(&contents);
        assert!(refusal.unwrap_err().to_string().contains("not linux/arm64"));
        // Without a tag, any tag of the repository will do.
        expect(&image, "registry.example/loader", "amd64")
            .unwrap()
            .check(&contents)
            .unwrap();
    }

    #[test]
    fn the_oci_layout_with_gzip_layers_and_an_index_binds() {
        let image = image("arm64");
        let gz = |bytes: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(bytes).unwrap();
            e.finish().unwrap()
        };
        let blob = |bytes: &[u8]| format!("blobs/sha256/{}", &sha(bytes)[7..]);
        let compressed: Vec<Vec<u8>> = image.layers.iter().map(|l| gz(l)).collect();
        let index = serde_json::to_vec(&serde_json::json!({"manifests": [
            {"digest": sha(&image.manifest), "platform": {"os": "linux", "architecture": "arm64"}},
            {"digest": sha(b"att"), "platform": {"os": "unknown", "architecture": "unknown"}}
        ]}))
        .unwrap();
        let manifest_json = serde_json::to_vec(&serde_json::json!([{
            "Config": blob(&image.config), "RepoTags": ["loader:1"],
            "Layers": compressed.iter().map(|l| blob(l)).collect::<Vec<_>>()
        }]))
        .unwrap();
        let names: Vec<String> = [
            &compressed[0],
            &compressed[1],
            &image.config,
            &image.manifest,
        ]
        .iter()
        .map(|b| blob(b))
        .collect();
        let archive = tarball(
            &[
                (&names[0], &compressed[0]),
                (&names[1], &compressed[1]),
                (&names[2], &image.config),
                (&names[3], &image.manifest),
                ("manifest.json", &manifest_json),
            ],
            &[],
        );
        let index_digest = sha(&index);
        let reference =
            ImageRef::parse(&format!("docker.io/library/loader:1@{index_digest}")).unwrap();
        let expectation = Expectation::new(reference, &[index], None, Some("arm64")).unwrap();
        let mut reader = expectation.reader(&archive[..]);
        std::io::copy(&mut reader, &mut std::io::sink()).unwrap();
        let bound = reader.finish().unwrap();
        // The binding names the index the registry serves, not the child.
        assert_eq!(
            bound.reference(),
            format!("docker.io/library/loader@{index_digest}")
        );
        assert_eq!(bound.config_digest, sha(&image.config));
    }
}
