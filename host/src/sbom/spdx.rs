//! SPDX 2.3 JSON: the document DESCRIBES the subject, which CONTAINS every
//! package; each package names its supplier, its declared license (a
//! valid SPDX expression, or a `LicenseRef-` that keeps the database's own
//! words) and its purl. Checked in the tests with spdx-tools and the NTIA
//! minimum elements checker.

use super::document::{Bom, Subject};
use super::package::Package;
use crate::attest::statement::rfc3339;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const MEDIA_TYPE: &str = "application/spdx+json";
const DOCUMENT_ID: &str = "SPDXRef-DOCUMENT";
const SUBJECT_ID: &str = "SPDXRef-Subject";
const NOASSERTION: &str = "NOASSERTION";

pub fn write(bom: &Bom) -> Vec<u8> {
    let mut licenses = LicenseRefs::default();
    let mut packages = vec![subject_package(bom)];
    let mut relationships = vec![relationship(DOCUMENT_ID, "DESCRIBES", SUBJECT_ID)];
    for (index, package) in bom.packages.iter().enumerate() {
        let id = format!("SPDXRef-Package-{}", index + 1);
        packages.push(package_entry(
            package,
            &id,
            bom.supplier.as_deref(),
            &mut licenses,
        ));
        relationships.push(relationship(SUBJECT_ID, "CONTAINS", &id));
    }
    let created = rfc3339(bom.created);
    let mut document = Map::new();
    document.insert("spdxVersion".into(), json!("SPDX-2.3"));
    document.insert("dataLicense".into(), json!("CC0-1.0"));
    document.insert("SPDXID".into(), json!(DOCUMENT_ID));
    document.insert("name".into(), json!(bom.subject_name()));
    document.insert(
        "documentNamespace".into(),
        json!(format!(
            "https://example.invalid/publish-artifact/spdx/{}",
            bom.serial("spdx")
        )),
    );
    document.insert(
        "creationInfo".into(),
        json!({
            "created": created,
            "creators": [format!("Tool: publish-artifact-{}", env!("CARGO_PKG_VERSION"))],
        }),
    );
    document.insert("packages".into(), Value::Array(packages));
    document.insert("relationships".into(), Value::Array(relationships));
    if !licenses.0.is_empty() {
        document.insert("hasExtractedLicensingInfos".into(), licenses.infos());
    }
    if !bom.problems.is_empty() {
        let annotations: Vec<Value> = bom
            .problems
            .iter()
            .map(|problem| {
                json!({
                    "annotationDate": created,
                    "annotationType": "OTHER",
                    "annotator": format!("Tool: publish-artifact-{}", env!("CARGO_PKG_VERSION")),
                    "comment": problem.0,
                })
            })
            .collect();
        document.insert("annotations".into(), Value::Array(annotations));
    }
    let mut bytes =
        serde_json::to_vec_pretty(&Value::Object(document)).expect("JSON values serialize");
    bytes.push(b'\n');
    bytes
}

fn relationship(from: &str, kind: &str, to: &str) -> Value {
    json!({"spdxElementId": from, "relationshipType": kind, "relatedSpdxElement": to})
}

fn subject_package(bom: &Bom) -> Value {
    let (version, sha256, purpose) = match &bom.subject {
        Subject::Image(image) => {
            let digest = image
                .manifest_digest
                .as_deref()
                .unwrap_or(&image.config_digest);
            (
                digest.to_string(),
                digest.trim_start_matches("sha256:").to_string(),
                "CONTAINER",
            )
        }
        Subject::Model(model) => (
            model.version.clone().unwrap_or_else(|| NOASSERTION.into()),
            hex::encode(model.sha256),
            "OTHER",
        ),
    };
    json!({
        "SPDXID": SUBJECT_ID,
        "name": bom.subject_name(),
        "versionInfo": version,
        "supplier": bom.supplier.as_deref().map_or_else(|| NOASSERTION.into(), supplier),
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": false,
        "checksums": [{"algorithm": "SHA256", "checksumValue": sha256}],
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": NOASSERTION,
        "copyrightText": NOASSERTION,
        "primaryPackagePurpose": purpose,
    })
}

/// A package; its supplier is the one its database states or, when it
/// states none, the subject's: SPDX's supplier is the actual distribution
/// source, and a package found in an image came from whoever supplies
/// the image.
fn package_entry(
    package: &Package,
    id: &str,
    subject_supplier: Option<&str>,
    licenses: &mut LicenseRefs,
) -> Value {
    let stated = package.supplier.as_deref().or(subject_supplier);
    json!({
        "SPDXID": id,
        "name": package.name,
        "versionInfo": package.version,
        "supplier": stated.map_or_else(|| NOASSERTION.into(), supplier),
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": false,
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": licenses.declared(&package.licenses),
        "copyrightText": NOASSERTION,
        "externalRefs": [{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": package.purl,
        }],
    })
}

/// SPDX's supplier field: `Person: NAME (EMAIL)` when the database names
/// one person with a mail address, `Organization: NAME` otherwise.
fn supplier(stated: &str) -> String {
    match stated.split_once('<') {
        Some((name, rest)) if rest.trim_end().ends_with('>') && !name.trim().is_empty() => {
            let email = rest.trim_end().trim_end_matches('>');
            format!("Person: {} ({email})", name.trim())
        }
        _ => format!("Organization: {}", stated.trim()),
    }
}

/// Licenses that are not valid SPDX expressions, kept as `LicenseRef-`s
/// with the database's words as their text.
#[derive(Default)]
struct LicenseRefs(BTreeMap<String, String>);

impl LicenseRefs {
    /// One expression for the package's licenses (`AND` of each), or
    /// NOASSERTION when the database states none.
    fn declared(&mut self, stated: &[String]) -> String {
        let terms: Vec<String> = stated.iter().map(|text| self.term(text)).collect();
        match terms.len() {
            0 => NOASSERTION.into(),
            1 => terms.into_iter().next().expect("one"),
            _ => terms
                .iter()
                .map(|term| format!("({term})"))
                .collect::<Vec<_>>()
                .join(" AND "),
        }
    }

    fn term(&mut self, text: &str) -> String {
        if spdx::Expression::parse(text).is_ok() {
            return text.to_string();
        }
        // The id is named by the text's digest: stable, and any bytes fit.
        let digest = Sha256::digest(text.as_bytes());
        let id = format!("LicenseRef-{}", &hex::encode(digest)[..16]);
        self.0.insert(id.clone(), text.to_string());
        id
    }

    fn infos(&self) -> Value {
        self.0
            .iter()
            .map(|(id, text)| json!({"licenseId": id, "extractedText": text, "name": text}))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suppliers_are_people_with_mail_or_organizations() {
        assert_eq!(
            supplier("Mark Brown <broonie@debian.org>"),
            "Person: Mark Brown (broonie@debian.org)"
        );
        assert_eq!(supplier("Red Hat, Inc."), "Organization: Red Hat, Inc.");
    }

    #[test]
    fn licenses_that_are_not_spdx_become_license_refs() {
        let mut refs = LicenseRefs::default();
        assert_eq!(refs.declared(&[]), NOASSERTION);
        assert_eq!(
            refs.declared(&["MIT OR Apache-2.0".into()]),
            "MIT OR Apache-2.0"
        );
        let mixed = refs.declared(&["GPL-2+".into(), "Zlib".into()]);
        assert!(
            mixed.starts_with("(LicenseRef-") && mixed.ends_with(" AND (Zlib)"),
            "{mixed}"
        );
        assert_eq!(refs.0.values().collect::<Vec<_>>(), ["GPL-2+"]);
    }
}
