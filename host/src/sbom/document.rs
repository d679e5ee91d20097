//! What an SBOM says, before it is written in a format: the subject (an
//! image or a model), the packages found in it, and what could not be
//! read. `cyclonedx` and `spdx` write the same document two ways.

use super::catalog::Problem;
use super::package::Package;
use std::time::SystemTime;

/// The thing the SBOM is about: the root of both documents.
#[derive(Debug, Clone)]
pub enum Subject {
    Image(ImageFacts),
    Model(ModelFacts),
}

/// An image, as its tarball (and the registry, when bound) shows it.
#[derive(Debug, Clone, Default)]
pub struct ImageFacts {
    /// `REPO` without tag or digest; the tarball's first tag otherwise.
    pub name: String,
    pub tags: Vec<String>,
    /// `sha256:<hex>` of the manifest pushed, when the image was bound.
    pub manifest_digest: Option<String>,
    /// `sha256:<hex>` of the image config.
    pub config_digest: String,
    /// `os/architecture` from the config.
    pub platform: Option<String>,
}

/// A model file (or any file that is not an image).
#[derive(Debug, Clone)]
pub struct ModelFacts {
    /// The file's name, without its directory.
    pub name: String,
    pub version: Option<String>,
    pub sha256: [u8; 32],
    pub size: u64,
    /// The registration names, as properties: `resource_name`,
    /// `architecture`, `dev_stage`.
    pub properties: Vec<(&'static str, String)>,
    /// A CycloneDX `modelCard` object the training service wrote.
    pub model_card: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone)]
pub struct Bom {
    pub subject: Subject,
    /// Who supplies the subject (`--supplier`; in CI the repository).
    pub supplier: Option<String>,
    /// Sorted by purl, then location: the same input gives the same bytes.
    pub packages: Vec<Package>,
    pub problems: Vec<Problem>,
    /// `SOURCE_DATE_EPOCH`, or the time of the publish.
    pub created: SystemTime,
}

impl Bom {
    pub fn new(subject: Subject, mut packages: Vec<Package>, created: SystemTime) -> Self {
        packages.sort_by(|a, b| (&a.purl, &a.locations).cmp(&(&b.purl, &b.locations)));
        Self {
            subject,
            supplier: None,
            packages,
            problems: Vec::new(),
            created,
        }
    }

    /// The digest that names the subject: the image manifest (or config,
    /// unbound), or the model file's SHA-256. Serial numbers derive from it.
    pub fn subject_digest(&self) -> String {
        match &self.subject {
            Subject::Image(image) => image
                .manifest_digest
                .clone()
                .unwrap_or_else(|| image.config_digest.clone()),
            Subject::Model(model) => format!("sha256:{}", hex::encode(model.sha256)),
        }
    }

    /// A UUID (version 5, RFC 9562) named by the subject's digest and the
    /// format: the same subject always gets the same serial number.
    pub fn serial(&self, format: &str) -> String {
        uuid_v5(&format!(
            "publish-artifact:sbom:{format}:{}",
            self.subject_digest()
        ))
    }

    /// The subject's display name: the image name or the model file name.
    pub fn subject_name(&self) -> &str {
        match &self.subject {
            Subject::Image(image) => &image.name,
            Subject::Model(model) => &model.name,
        }
    }
}

/// The time a document is dated: `SOURCE_DATE_EPOCH` (reproducible builds'
/// variable, seconds since 1970) when set, otherwise `now`.
pub fn creation_time(
    lookup: impl Fn(&str) -> Option<String>,
    now: SystemTime,
) -> Result<SystemTime, String> {
    match lookup("SOURCE_DATE_EPOCH") {
        None => Ok(now),
        Some(text) => text
            .trim()
            .parse::<u64>()
            .map(|seconds| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(seconds))
            .map_err(|_| format!("SOURCE_DATE_EPOCH={text:?} is not a number of seconds")),
    }
}

/// RFC 9562's name-based UUID, version 5, in the URL namespace.
fn uuid_v5(name: &str) -> String {
    use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};
    /// RFC 9562's namespace ID for URLs (6ba7b811-...).
    const URL_NAMESPACE: [u8; 16] = [
        0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30,
        0xc8,
    ];
    let input = [URL_NAMESPACE.as_slice(), name.as_bytes()].concat();
    let hash = digest(&SHA1_FOR_LEGACY_USE_ONLY, &input);
    let mut bytes: [u8; 16] = hash.as_ref()[..16].try_into().expect("SHA-1 is 20 bytes");
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_v5_matches_rfc_9562s_example_shape_and_pythons_uuid() {
        // Python: str(uuid.uuid5(uuid.NAMESPACE_URL, "https://example.com"))
        assert_eq!(
            uuid_v5("https://example.com"),
            "4fd35a71-71ef-5a55-a9d9-aa75c889a6d0"
        );
    }

    #[test]
    fn source_date_epoch_dates_the_document() {
        let now = SystemTime::now();
        assert_eq!(creation_time(|_| None, now), Ok(now));
        let epoch = creation_time(|_| Some("1700000000".into()), now).unwrap();
        assert_eq!(
            epoch,
            SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000)
        );
        assert!(creation_time(|_| Some("yesterday".into()), now).is_err());
    }
}
