//! CycloneDX 1.6 JSON: the subject as `metadata.component`, every package a
//! component that the subject depends on, and what could not be read as
//! annotations. Checked against the official schema in the tests
//! (cyclonedx-python-lib's strict validator).

use super::document::{Bom, ImageFacts, ModelFacts, Subject};
use super::package::Package;
use crate::attest::statement::rfc3339;
use serde_json::{Map, Value, json};

pub const MEDIA_TYPE: &str = "application/vnd.cyclonedx+json";
const SUBJECT_REF: &str = "subject";

/// The document's bytes (pretty JSON, keys in a fixed order).
pub fn write(bom: &Bom) -> Vec<u8> {
    let refs = package_refs(&bom.packages);
    let timestamp = rfc3339(bom.created);
    let mut document = Map::new();
    document.insert(
        "$schema".into(),
        json!("http://cyclonedx.org/schema/bom-1.6.schema.json"),
    );
    document.insert("bomFormat".into(), json!("CycloneDX"));
    document.insert("specVersion".into(), json!("1.6"));
    document.insert(
        "serialNumber".into(),
        json!(format!("urn:uuid:{}", bom.serial("cyclonedx"))),
    );
    document.insert("version".into(), json!(1));
    document.insert(
        "metadata".into(),
        json!({
            "timestamp": timestamp,
            "tools": {"components": [tool()]},
            "component": subject(bom),
        }),
    );
    let components: Vec<Value> = bom
        .packages
        .iter()
        .zip(&refs)
        .map(|(package, bom_ref)| component(package, bom_ref))
        .collect();
    document.insert("components".into(), Value::Array(components));
    document.insert(
        "dependencies".into(),
        json!([{"ref": SUBJECT_REF, "dependsOn": refs}]),
    );
    if !bom.problems.is_empty() {
        let annotations: Vec<Value> = bom
            .problems
            .iter()
            .map(|problem| {
                json!({
                    "subjects": [SUBJECT_REF],
                    "annotator": {"component": tool()},
                    "timestamp": timestamp,
                    "text": problem.0,
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

fn tool() -> Value {
    json!({"type": "application", "name": "publish-artifact", "version": env!("CARGO_PKG_VERSION")})
}

/// A `bom-ref` per package: its purl, with `#2`, `#3`... when the same
/// package sits in more than one place (bom-refs must be unique).
fn package_refs(packages: &[Package]) -> Vec<String> {
    let mut seen = std::collections::HashMap::<&str, usize>::new();
    packages
        .iter()
        .map(|package| {
            let count = seen.entry(&package.purl).or_default();
            *count += 1;
            match count {
                1 => package.purl.clone(),
                n => format!("{}#{n}", package.purl),
            }
        })
        .collect()
}

fn component(package: &Package, bom_ref: &str) -> Value {
    let mut component = Map::new();
    component.insert("bom-ref".into(), json!(bom_ref));
    component.insert("type".into(), json!("library"));
    if let Some(supplier) = &package.supplier {
        component.insert("supplier".into(), json!({"name": supplier}));
    }
    component.insert("name".into(), json!(package.name));
    component.insert("version".into(), json!(package.version));
    if !package.licenses.is_empty() {
        let licenses: Vec<Value> = package
            .licenses
            .iter()
            .map(|name| json!({"license": {"name": name}}))
            .collect();
        component.insert("licenses".into(), Value::Array(licenses));
    }
    component.insert("purl".into(), json!(package.purl));
    let locations: Vec<Value> = package
        .locations
        .iter()
        .map(|path| json!({"name": "publish-artifact:location", "value": format!("/{path}")}))
        .collect();
    if !locations.is_empty() {
        component.insert("properties".into(), Value::Array(locations));
    }
    Value::Object(component)
}

fn subject(bom: &Bom) -> Value {
    let mut component = match &bom.subject {
        Subject::Image(image) => image_component(image),
        Subject::Model(model) => model_component(model),
    };
    if let Some(supplier) = &bom.supplier {
        component["supplier"] = json!({"name": supplier});
    }
    component
}

fn image_component(image: &ImageFacts) -> Value {
    let mut properties =
        vec![json!({"name": "publish-artifact:image:config_digest", "value": image.config_digest})];
    properties.extend(
        image
            .tags
            .iter()
            .map(|tag| json!({"name": "publish-artifact:image:tag", "value": tag})),
    );
    if let Some(platform) = &image.platform {
        properties.push(json!({"name": "publish-artifact:image:platform", "value": platform}));
    }
    let digest = image
        .manifest_digest
        .as_deref()
        .unwrap_or(&image.config_digest);
    let mut component = json!({
        "bom-ref": SUBJECT_REF,
        "type": "container",
        "name": image.name,
        "version": digest,
        "hashes": [{"alg": "SHA-256", "content": digest.trim_start_matches("sha256:")}],
        "properties": properties,
    });
    if let Some(manifest) = &image.manifest_digest {
        component["purl"] = json!(oci_purl(&image.name, manifest));
    }
    component
}

/// `pkg:oci/NAME@sha256%3A...?repository_url=REPO`, the purl spec's form
/// for an image pushed to a registry.
fn oci_purl(repository: &str, digest: &str) -> String {
    let name = repository
        .rsplit('/')
        .next()
        .unwrap_or(repository)
        .to_ascii_lowercase();
    format!(
        "pkg:oci/{name}@{}?repository_url={}",
        digest.replace(':', "%3A"),
        repository.replace('@', "%40")
    )
}

fn model_component(model: &ModelFacts) -> Value {
    let mut properties =
        vec![json!({"name": "publish-artifact:size_bytes", "value": model.size.to_string()})];
    properties.extend(
        model.properties.iter().map(
            |(name, value)| json!({"name": format!("publish-artifact:{name}"), "value": value}),
        ),
    );
    let mut component = json!({
        "bom-ref": SUBJECT_REF,
        "type": "machine-learning-model",
        "name": model.name,
        "hashes": [{"alg": "SHA-256", "content": hex::encode(model.sha256)}],
        "properties": properties,
    });
    if let Some(version) = &model.version {
        component["version"] = json!(version);
    }
    if let Some(card) = &model.model_card {
        component["modelCard"] = Value::Object(card.clone());
    }
    component
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::package::Ecosystem;

    fn package(purl: &str, location: &str) -> Package {
        Package {
            ecosystem: Ecosystem::Deb,
            name: "zlib1g".into(),
            version: "1:1.2.13".into(),
            purl: purl.into(),
            supplier: Some("Mark Brown <broonie@debian.org>".into()),
            licenses: vec!["Zlib".into()],
            locations: vec![location.into()],
        }
    }

    #[test]
    fn the_same_package_twice_gets_two_refs_and_the_subject_depends_on_both() {
        let purl = "pkg:deb/debian/zlib1g@1:1.2.13?arch=amd64";
        let image = ImageFacts {
            name: "registry.example/acme/loader".into(),
            manifest_digest: Some(format!("sha256:{}", "ab".repeat(32))),
            config_digest: format!("sha256:{}", "cd".repeat(32)),
            ..Default::default()
        };
        let bom = Bom::new(
            Subject::Image(image),
            vec![package(purl, "b"), package(purl, "a")],
            std::time::SystemTime::UNIX_EPOCH,
        );
        let value: Value = serde_json::from_slice(&write(&bom)).unwrap();
        let refs: Vec<_> = value["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["bom-ref"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(refs, [purl.to_string(), format!("{purl}#2")]);
        assert_eq!(value["dependencies"][0]["dependsOn"], json!(refs));
        assert_eq!(
            value["metadata"]["component"]["purl"],
            format!(
                "pkg:oci/loader@sha256%3A{}?repository_url=registry.example/acme/loader",
                "ab".repeat(32)
            )
        );
        assert_eq!(value["metadata"]["timestamp"], "1970-01-01T00:00:00Z");
        // Deterministic: the same input, the same bytes.
        assert_eq!(write(&bom), write(&bom.clone()));
    }
}
