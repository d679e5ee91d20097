//! The SBOM part of publish: from the one read of the input, the document
//! (an image's packages from the scan, or a model's ML-BOM from the
//! sealed plaintext's digest), written in both formats to go beside the
//! object with their signed statements (`attest::sbom_statement`).

use crate::attest::registry::SbomFormat;
use crate::attest::statement::SbomDocuments;
use crate::config::Names;
use crate::image::BoundImage;
use crate::image::scan::Scanned;
use crate::sbom::catalog::Problem;
use crate::sbom::document::{Bom, ModelFacts, Subject};
use crate::sbom::squash::Squasher;
use crate::sbom::{cyclonedx, image, model, spdx};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::SystemTime;

/// The sealed input, as a model's ML-BOM describes it; a publish also
/// names its version, resource, architecture and stage.
pub struct Plaintext<'a> {
    pub names: Option<&'a Names>,
    pub file_name: &'a str,
    pub sha256: [u8; 32],
    pub size: u64,
}

/// What the `--json` receipt says about the SBOMs.
#[derive(Debug, Serialize)]
pub struct SbomReceipt {
    /// `image` or `model`.
    pub subject: &'static str,
    /// `CycloneDX`, `SPDX`.
    pub formats: Vec<&'static str>,
    /// Packages found, by purl type (`deb`, `pypi`, ...).
    pub packages: BTreeMap<&'static str, usize>,
    /// What could not be read, also in the documents and on stderr.
    pub problems: Vec<String>,
}

/// Both documents of the input, and the receipt's account of them. A tar
/// that is no image (no manifest.json), or that could not be read as one,
/// is described as a file; why it could not be read is a problem the
/// documents record. Nothing here fails the publish.
pub fn documents(
    scanned: Option<Result<Scanned<Squasher>, String>>,
    bound: Option<&BoundImage>,
    plaintext: Plaintext<'_>,
    created: SystemTime,
    supplier: Option<String>,
) -> (SbomDocuments, SbomReceipt) {
    let image = scanned.map(|scanned| {
        scanned.and_then(|scanned| {
            image::bom_of(scanned, bound, created).map_err(|why| format!("the input image {why}"))
        })
    });
    let (image_bom, unread) = match image {
        Some(Ok(bom)) => (bom, None),
        Some(Err(why)) => (None, Some(Problem(format!("{why}: described as a file")))),
        None => (None, None),
    };
    let mut bom = image_bom.unwrap_or_else(|| model::model_bom(model_facts(plaintext), created));
    bom.problems.extend(unread);
    bom.supplier = supplier;
    for problem in &bom.problems {
        tracing::warn!("SBOM: {}", problem.0);
    }
    let documents = SbomDocuments {
        cyclonedx: cyclonedx::write(&bom),
        spdx: spdx::write(&bom),
    };
    (documents, receipt(&bom))
}

fn model_facts(plaintext: Plaintext<'_>) -> ModelFacts {
    let names = plaintext.names;
    let properties = names.map(|names| {
        vec![
            ("resource_name", names.resource_name.clone()),
            ("architecture", names.architecture.clone()),
            ("dev_stage", names.dev_stage.clone()),
        ]
    });
    ModelFacts {
        name: plaintext.file_name.to_string(),
        version: names.map(|names| names.version.clone()),
        sha256: plaintext.sha256,
        size: plaintext.size,
        properties: properties.unwrap_or_default(),
        model_card: None,
    }
}

fn receipt(bom: &Bom) -> SbomReceipt {
    let mut packages = BTreeMap::new();
    for package in &bom.packages {
        *packages.entry(package.ecosystem.purl_type()).or_default() += 1;
    }
    SbomReceipt {
        subject: match bom.subject {
            Subject::Image(_) => "image",
            Subject::Model(_) => "model",
        },
        formats: SbomFormat::ALL.map(SbomFormat::name).to_vec(),
        packages,
        problems: bom
            .problems
            .iter()
            .map(|problem| problem.0.clone())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_no_image_gets_the_ml_bom_of_its_plaintext() {
        let names = Names {
            resource_name: "detector".into(),
            dev_stage: "dev".into(),
            architecture: "arm64".into(),
            version: "7-0123456789ab".into(),
        };
        let plaintext = Plaintext {
            names: Some(&names),
            file_name: "detector.trt",
            sha256: [0x5a; 32],
            size: 4096,
        };
        let created = SystemTime::UNIX_EPOCH;
        let (documents, receipt) = documents(None, None, plaintext, created, None);
        assert_eq!(receipt.subject, "model");
        assert!(receipt.packages.is_empty());
        let cdx: serde_json::Value = serde_json::from_slice(&documents.cyclonedx).unwrap();
        let component = &cdx["metadata"]["component"];
        assert_eq!(component["type"], "machine-learning-model");
        assert_eq!(component["name"], "detector.trt");
        assert_eq!(component["version"], "7-0123456789ab");
        assert_eq!(component["hashes"][0]["content"], "5a".repeat(32));
        let spdx: serde_json::Value = serde_json::from_slice(&documents.spdx).unwrap();
        assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
    }
}
