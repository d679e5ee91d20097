//! JavaScript packages: every `package.json` in the image with a name and
//! a version, as syft's javascript-package-cataloger reads an image. Not
//! only `node_modules/**`: the project an image runs (`/app/package.json`,
//! `"private": true` or not) is a package too, and syft lists it
//! (tests/SBOM_ORACLE.md, "npm, folder vs image"). A `package.json`
//! without a name or a version (a folder marking `"type": "module"`, say)
//! is no package and is passed over silently; lock files are not read, so
//! a package hidden by a whiteout stays hidden.

use super::catalog::{Cataloger, Distro, FileMeta, Found, Problem, Take, read_each};
use super::package::{Ecosystem, Package};
use super::purl;
use serde_json::Value;

/// A package.json is a few KiB; a generated one may be larger.
const LIMIT: u64 = 1 << 20;

pub struct Npm;

impl Cataloger for Npm {
    fn name(&self) -> &'static str {
        "npm"
    }

    fn wants(&self, file: &FileMeta<'_>) -> Option<Take> {
        is_manifest(file.path).then_some(Take::Whole { limit: LIMIT })
    }

    fn catalog(
        &self,
        files: &[Found],
        _distro: Option<&Distro>,
        problems: &mut Vec<Problem>,
    ) -> Vec<Package> {
        read_each(
            self.name(),
            files,
            is_manifest,
            |found, text, _| read(found, text).map(Vec::from_iter),
            problems,
        )
    }
}

fn is_manifest(path: &str) -> bool {
    path == "package.json" || path.ends_with("/package.json")
}

fn read(found: &Found, text: &str) -> Result<Option<Package>, String> {
    let manifest: Value =
        serde_json::from_str(text).map_err(|error| format!("is not JSON ({error})"))?;
    let text = |key: &str| {
        manifest
            .get(key)
            .and_then(Value::as_str)
            .filter(|value| !value.is_empty())
    };
    let (Some(full_name), Some(version)) = (text("name"), text("version")) else {
        return Ok(None);
    };
    // `@scope/name`: the scope is the purl's namespace (`pkg:npm/%40scope/name@1`).
    let (scope, name) = full_name.split_once('/').unwrap_or(("", full_name));
    Ok(Some(Package {
        ecosystem: Ecosystem::Npm,
        name: full_name.to_owned(),
        version: version.to_owned(),
        purl: purl::format(Ecosystem::Npm.purl_type(), scope, name, version, &[]),
        supplier: manifest.get("author").and_then(person),
        licenses: licenses(&manifest),
        locations: vec![found.path.clone()],
    }))
}

/// `"author": "Name <email> (url)"`, or `{"name", "email", "url"}` written
/// out the same way.
fn person(author: &Value) -> Option<String> {
    if let Some(text) = author.as_str() {
        return Some(text.trim().to_owned()).filter(|text| !text.is_empty());
    }
    let part = |key: &str| {
        author
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|part| !part.is_empty())
    };
    let mut written: Vec<String> = part("name").map(str::to_owned).into_iter().collect();
    written.extend(part("email").map(|email| format!("<{email}>")));
    written.extend(part("url").map(|url| format!("({url})")));
    (!written.is_empty()).then(|| written.join(" "))
}

/// `"license": "MIT"` (an SPDX expression), the older `{"type": "MIT"}`, or
/// `"licenses": [...]` of either form.
fn licenses(manifest: &Value) -> Vec<String> {
    let name = |value: &Value| {
        value
            .as_str()
            .or_else(|| value.get("type").and_then(Value::as_str))
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
    };
    match (manifest.get("license"), manifest.get("licenses")) {
        (Some(license), _) => name(license).into_iter().collect(),
        (None, Some(Value::Array(list))) => list.iter().filter_map(name).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::testing::{cataloged, found, named, purls, survives};

    fn tree() -> Vec<Found> {
        vec![
            found(
                "app/package.json",
                include_bytes!("testdata/npm/acme-web.package.json"),
            ),
            found(
                "app/node_modules/ms/package.json",
                include_bytes!("testdata/npm/ms.package.json"),
            ),
            found(
                "app/node_modules/is-number/package.json",
                include_bytes!("testdata/npm/is-number.package.json"),
            ),
        ]
    }

    #[test]
    fn what_npm_install_wrote_root_project_included() {
        let packages = cataloged(&Npm, &tree(), None);
        // tests/SBOM_ORACLE.md, `dir:` npm (= syft_oracle.NPM): the private
        // root project acme-web is listed too.
        assert_eq!(
            purls(&packages),
            [
                "pkg:npm/acme-web@1.0.0",
                "pkg:npm/is-number@7.0.0",
                "pkg:npm/ms@2.1.3"
            ]
        );
        assert_eq!(named(&packages, "ms").licenses, ["MIT"]);
        assert_eq!(named(&packages, "ms").supplier, None);
        assert_eq!(
            named(&packages, "is-number").supplier.as_deref(),
            Some("Jon Schlinkert (https://github.com/jonschlinkert)")
        );
        assert_eq!(named(&packages, "acme-web").licenses, Vec::<String>::new());
        assert_eq!(
            named(&packages, "ms").locations,
            ["app/node_modules/ms/package.json"]
        );
    }

    #[test]
    fn scoped_names_object_authors_and_old_licence_lists() {
        let manifest = r#"{"name": "@types/node", "version": "20.1.0",
            "author": {"name": "DT", "email": "dt@example.org", "url": "https://dt.example"},
            "licenses": [{"type": "MIT"}, "Apache-2.0"]}"#;
        let path = "node_modules/@types/node/package.json";
        let package = read(&found(path, manifest.as_bytes()), manifest)
            .unwrap()
            .unwrap();
        assert_eq!(package.purl, "pkg:npm/%40types/node@20.1.0");
        assert_eq!(package.name, "@types/node");
        assert_eq!(
            package.supplier.as_deref(),
            Some("DT <dt@example.org> (https://dt.example)")
        );
        assert_eq!(package.licenses, ["MIT", "Apache-2.0"]);
    }

    #[test]
    fn no_name_or_version_is_no_package_and_bad_json_a_problem() {
        let mut problems = Vec::new();
        let files = [
            found("app/dist/package.json", br#"{"type": "module"}"#),
            found("app/broken/package.json", b"{\"name\": "),
        ];
        assert_eq!(Npm.catalog(&files, None, &mut problems), []);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0]
                .0
                .starts_with("npm: /app/broken/package.json: is not JSON ("),
            "{problems:?}"
        );
    }

    #[test]
    fn damaged_input_never_panics() {
        survives(&Npm, &tree(), None);
    }
}
