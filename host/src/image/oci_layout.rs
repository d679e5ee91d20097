//! An OCI image layout (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`),
//! as a directory or inside an archive (skopeo's `oci-archive:`).
//!
//! - `DirectoryTar`: a layout directory as the tar stream the one scan
//!   reads, made as it is read: no copy of the image on disk or in memory,
//!   and everything the scan bounds (layer sizes, paths, links) stays
//!   bounded the same way;
//! - `images`: what index.json names, as the entries a docker-archive's
//!   manifest.json would list, so that layers are ordered in one way.

use super::layout::{self, ArchiveImage, IndexEntry, ManifestDocument};
use super::manifest::parse_digest;
use super::scan::Contents;
use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};

/// Blobs in one layout; an image has a few dozen, a big multi-platform
/// index a few hundred. Past this it is not an image layout.
const MAX_FILES: usize = 100_000;
/// An index pointing at an index (skopeo's multi-platform copies) is
/// followed this deep.
const MAX_NESTING: usize = 2;
/// containerd and Docker 25+ name the image here (`docker.io/library/x:1`);
/// skopeo and the OCI spec only put the tag in `ref.name`.
const IMAGE_NAME: &str = "io.containerd.image.name";
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// A layout directory, read as a tar of `oci-layout`, `index.json` and
/// every regular file under `blobs/` (sorted, so the stream is the same
/// for the same directory). Links and other files are left out: a blob
/// is a file named by its digest, and the scan checks each digest anyway.
pub struct DirectoryTar {
    files: std::vec::IntoIter<(String, PathBuf, u64)>,
    current: Box<dyn Read + Send>,
    ended: bool,
}

impl DirectoryTar {
    /// Lists the layout; `Ok(None)` when `root` has no `index.json` (a
    /// directory, but not an image layout).
    pub fn open(root: &Path) -> io::Result<Option<Self>> {
        if !is_file(&root.join("index.json"))? {
            return Ok(None);
        }
        let mut files = Vec::new();
        for name in ["oci-layout", "index.json"] {
            if is_file(&root.join(name))? {
                files.push(name.to_string());
            }
        }
        files.extend(blob_names(&root.join("blobs"))?);
        let mut listed = Vec::with_capacity(files.len());
        for name in files {
            let path = root.join(&name);
            let size = std::fs::symlink_metadata(&path)?.len();
            listed.push((name, path, size));
        }
        Ok(Some(Self {
            files: listed.into_iter(),
            current: Box::new(io::empty()),
            ended: false,
        }))
    }

    /// The next member's header, content and padding; the two zero
    /// blocks that end an archive after the last.
    fn next_member(&mut self) -> io::Result<Option<Box<dyn Read + Send>>> {
        let Some((name, path, size)) = self.files.next() else {
            if self.ended {
                return Ok(None);
            }
            self.ended = true;
            return Ok(Some(Box::new(Cursor::new(vec![0u8; 1024]))));
        };
        let mut header = tar::Header::new_ustar();
        header.set_path(&name)?;
        header.set_size(size);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        let padding = (512 - size % 512) % 512;
        let content = Exactly {
            file: File::open(&path)?,
            left: size,
            path,
        };
        Ok(Some(Box::new(
            Cursor::new(header.as_bytes().to_vec())
                .chain(content)
                .chain(Cursor::new(vec![0u8; padding as usize])),
        )))
    }
}

impl Read for DirectoryTar {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let read = self.current.read(buf)?;
            if read > 0 || buf.is_empty() {
                return Ok(read);
            }
            match self.next_member()? {
                Some(next) => self.current = next,
                None => return Ok(0),
            }
        }
    }
}

/// A file's first `left` bytes, and an error if it has fewer: a file that
/// shrinks while it is read would shift every header after it.
struct Exactly {
    file: File,
    left: u64,
    path: PathBuf,
}

impl Read for Exactly {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let read = self.file.read(&mut buf[..want])?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} became shorter while it was read", self.path.display()),
            ));
        }
        self.left -= read as u64;
        Ok(read)
    }
}

fn is_file(path: &Path) -> io::Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => Ok(meta.is_file()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err),
    }
}

/// `blobs/<alg>/<name>` of every regular file two levels down, sorted.
fn blob_names(blobs: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    if !std::fs::symlink_metadata(blobs).is_ok_and(|meta| meta.is_dir()) {
        return Ok(names);
    }
    for algorithm in std::fs::read_dir(blobs)? {
        let algorithm = algorithm?;
        if !algorithm.file_type()?.is_dir() {
            continue;
        }
        for blob in std::fs::read_dir(algorithm.path())? {
            let blob = blob?;
            if !blob.file_type()?.is_file() {
                continue;
            }
            let (Some(alg), Some(name)) = (
                algorithm.file_name().to_str().map(str::to_owned),
                blob.file_name().to_str().map(str::to_owned),
            ) else {
                continue;
            };
            names.push(format!("blobs/{alg}/{name}"));
            if names.len() > MAX_FILES {
                return Err(io::Error::other(format!(
                    "{} holds more than {MAX_FILES} files: not an image layout",
                    blobs.display()
                )));
            }
        }
    }
    names.sort();
    Ok(names)
}

/// An image that index.json names.
pub struct LayoutImage {
    pub image: ArchiveImage,
    /// `sha256:<hex>` of its manifest.
    pub manifest_digest: String,
    /// `os/architecture`, as the index says it.
    pub platform: Option<String>,
}

/// The images index.json names (through nested indexes, attestation
/// manifests left out); `Ok(None)` without an index.json.
pub fn images(contents: &Contents) -> Result<Option<Vec<LayoutImage>>, String> {
    let Some(index) = contents
        .file("index.json")
        .and_then(|member| member.content.as_deref())
    else {
        return Ok(None);
    };
    let index: ManifestDocument =
        layout::parse(index).map_err(|why| format!("has an index.json that {why}"))?;
    let mut found = Vec::new();
    for entry in index.manifests.unwrap_or_default() {
        collect(contents, &entry, None, 0, &mut found)?;
    }
    Ok(Some(found))
}

fn collect(
    contents: &Contents,
    entry: &IndexEntry,
    names: Option<&[String]>,
    depth: usize,
    found: &mut Vec<LayoutImage>,
) -> Result<(), String> {
    let platform = entry
        .platform
        .as_ref()
        .map(|p| format!("{}/{}", p.os, p.architecture));
    if platform.as_deref() == Some("unknown/unknown") {
        return Ok(()); // an attestation manifest (buildx), not an image
    }
    let document: ManifestDocument = layout::parse(blob(contents, &entry.digest)?)
        .map_err(|why| format!("has a manifest {} that {why}", entry.digest))?;
    let own_names = entry_names(entry);
    let names = if own_names.is_empty() {
        names.unwrap_or(&[])
    } else {
        &own_names
    };
    if let Some(entries) = document.manifests {
        if depth >= MAX_NESTING {
            return Err(format!(
                "nests indexes deeper than {MAX_NESTING} at {}",
                entry.digest
            ));
        }
        for inner in &entries {
            collect(contents, inner, Some(names), depth + 1, found)?;
        }
        return Ok(());
    }
    let config = document
        .config
        .ok_or_else(|| format!("has a manifest {} without a config", entry.digest))?;
    let layers = document.layers.unwrap_or_default();
    found.push(LayoutImage {
        image: ArchiveImage {
            config: blob_path(&config.digest)?,
            repo_tags: Some(names.to_vec()),
            layers: layers
                .iter()
                .map(|layer| blob_path(&layer.digest))
                .collect::<Result<_, _>>()?,
        },
        manifest_digest: entry.digest.clone(),
        platform,
    });
    Ok(())
}

/// The image's name as the index entry gives it: containerd's full
/// reference, else the OCI tag.
fn entry_names(entry: &IndexEntry) -> Vec<String> {
    let annotations = entry.annotations.as_ref();
    [IMAGE_NAME, REF_NAME]
        .iter()
        .find_map(|key| annotations.and_then(|a| a.get(*key)))
        .map(|name| vec![name.clone()])
        .unwrap_or_default()
}

fn blob_path(digest: &str) -> Result<String, String> {
    parse_digest(digest)
        .map(|bytes| format!("blobs/sha256/{}", hex::encode(bytes)))
        .ok_or_else(|| format!("names a blob by {digest:?}, not by a sha256 digest"))
}

/// A small blob, checked against its digest.
fn blob<'a>(contents: &'a Contents, digest: &str) -> Result<&'a [u8], String> {
    let path = blob_path(digest)?;
    let member = contents
        .file(&path)
        .ok_or_else(|| format!("has no blob {digest}, which index.json names"))?;
    if Some(member.sha256) != parse_digest(digest) {
        return Err(format!("has a blob {path} that is not {digest}"));
    }
    member
        .content
        .as_deref()
        .ok_or_else(|| format!("has a blob {digest} too large to be a manifest"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::scan::tests::read_through;
    use sha2::Digest;

    fn layout_dir(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        dir
    }

    fn tar_of(dir: &Path) -> Vec<u8> {
        let mut bytes = Vec::new();
        DirectoryTar::open(dir)
            .unwrap()
            .expect("a layout")
            .read_to_end(&mut bytes)
            .unwrap();
        bytes
    }

    #[test]
    fn a_directory_without_index_json_is_not_a_layout() {
        let dir = layout_dir(&[("blobs/sha256/ab", b"x")]);
        assert!(DirectoryTar::open(dir.path()).unwrap().is_none());
    }

    #[test]
    fn the_stream_is_a_tar_of_the_layout_files_in_order() {
        let dir = layout_dir(&[
            ("index.json", b"{}"),
            ("oci-layout", b"{\"imageLayoutVersion\":\"1.0.0\"}"),
            ("blobs/sha256/bb", &[7u8; 1000]),
            ("blobs/sha256/aa", b""),
            ("stray.txt", b"not listed"),
        ]);
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("blobs/sha256/cc")).unwrap();
        let bytes = tar_of(dir.path());
        let mut archive = tar::Archive::new(&bytes[..]);
        let members: Vec<(String, Vec<u8>)> = archive
            .entries()
            .unwrap()
            .map(|entry| {
                let mut entry = entry.unwrap();
                let mut content = Vec::new();
                entry.read_to_end(&mut content).unwrap();
                (entry.path().unwrap().to_str().unwrap().to_string(), content)
            })
            .collect();
        let names: Vec<&str> = members.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                "oci-layout",
                "index.json",
                "blobs/sha256/aa",
                "blobs/sha256/bb"
            ]
        );
        assert_eq!(members[3].1, vec![7u8; 1000]);
        assert_eq!(bytes.len() % 512, 0);
    }

    #[test]
    fn the_index_names_the_images_through_a_nested_index() {
        let config = br#"{"architecture":"arm64","os":"linux","rootfs":{"diff_ids":[]}}"#;
        let layer = b"layer";
        let digest = |bytes: &[u8]| format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)));
        let manifest = format!(
            r#"{{"config":{{"digest":"{}"}},"layers":[{{"digest":"{}"}}]}}"#,
            digest(config),
            digest(layer)
        );
        let inner = format!(
            r#"{{"manifests":[{{"digest":"{}","platform":{{"os":"linux","architecture":"arm64"}}}},
                {{"digest":"{}","platform":{{"os":"unknown","architecture":"unknown"}}}}]}}"#,
            digest(manifest.as_bytes()),
            digest(b"attestation")
        );
        let index = format!(
            r#"{{"manifests":[{{"digest":"{}","annotations":{{"{REF_NAME}":"7"}}}}]}}"#,
            digest(inner.as_bytes())
        );
        let blob = |bytes: &[u8]| format!("blobs/sha256/{}", &digest(bytes)[7..]);
        let dir = layout_dir(&[
            ("index.json", index.as_bytes()),
            (&blob(inner.as_bytes()), inner.as_bytes()),
            (&blob(manifest.as_bytes()), manifest.as_bytes()),
            (&blob(config), config),
            (&blob(layer), layer),
        ]);
        let (_, contents) = read_through(&tar_of(dir.path()));
        let found = images(&contents.unwrap()).unwrap().unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].manifest_digest, digest(manifest.as_bytes()));
        assert_eq!(found[0].platform.as_deref(), Some("linux/arm64"));
        assert_eq!(found[0].image.layers, [blob(layer)]);
        assert_eq!(found[0].image.config, blob(config));
        assert_eq!(
            found[0].image.repo_tags.as_deref(),
            Some(&["7".to_string()][..])
        );
    }

    #[test]
    fn a_blob_that_is_not_its_digest_is_refused() {
        let name = "0".repeat(64);
        let index = format!(r#"{{"manifests":[{{"digest":"sha256:{name}"}}]}}"#);
        let dir = layout_dir(&[
            ("index.json", index.as_bytes()),
            (&format!("blobs/sha256/{name}"), b"{}"),
        ]);
        let (_, contents) = read_through(&tar_of(dir.path()));
        let refused = images(&contents.unwrap()).err().unwrap();
        assert!(refused.contains("is not sha256:"), "{refused}");
    }
}
