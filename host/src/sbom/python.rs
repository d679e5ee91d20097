//! Installed Python packages: the core metadata of a wheel install
//! (`NAME-VERSION.dist-info/METADATA`) and of a setuptools one
//! (`NAME.egg-info/PKG-INFO`, or a lone `NAME.egg-info` file), wherever
//! they lie (site-packages, dist-packages, virtual environments), as syft's
//! python-installed-package-cataloger finds them.
//!
//! The format is e-mail headers (the Python Packaging User Guide, "Core
//! metadata specifications"): the header block ends at the first empty
//! line, the long description follows it and is not read.

use super::catalog::{Cataloger, Content, Distro, FileMeta, Found, Problem, Sift, Take, read_each};
use super::control::{Fields, Paragraph};
use super::package::{Ecosystem, Package};
use super::purl;

/// A real header block is a few KiB; past this it is not one.
const HEADER_LIMIT: usize = 256 * 1024;

pub struct Python;

impl Cataloger for Python {
    fn name(&self) -> &'static str {
        "python"
    }

    fn wants(&self, file: &FileMeta<'_>) -> Option<Take> {
        is_metadata(file.path).then_some(Take::Sift)
    }

    fn sift(&self, _file: &FileMeta<'_>) -> Box<dyn Sift> {
        Box::<HeaderBlock>::default()
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
            is_metadata,
            |found, text, _| read(found, text).map(|package| vec![package]),
            problems,
        )
    }
}

fn is_metadata(path: &str) -> bool {
    let (folder, file) = path.rsplit_once('/').unwrap_or(("", path));
    (file == "METADATA" && folder.ends_with(".dist-info"))
        || (file == "PKG-INFO" && folder.ends_with(".egg-info"))
        || (file.ends_with(".egg-info") && file.len() > ".egg-info".len())
}

fn read(found: &Found, text: &str) -> Result<Package, String> {
    let fields = Fields::parse(&headers(text))?;
    let name = fields.get("Name").ok_or("it has no Name field")?;
    let version = fields.get("Version").unwrap_or_default();
    Ok(Package {
        ecosystem: Ecosystem::Python,
        // As in METADATA, not normalized (`acme-legacy`, `PyYAML`): syft
        // 1.18.1 writes the name so (tests/SBOM_ORACLE.md, "Python").
        purl: purl::format(Ecosystem::Python.purl_type(), "", name, version, &[]),
        name: name.to_owned(),
        version: version.to_owned(),
        supplier: supplier(&fields),
        licenses: licenses(&fields),
        locations: vec![found.path.clone()],
    })
}

/// The header block: up to the first empty line. Not `control::paragraphs`,
/// which also ends a paragraph at a line of spaces: setuptools indents the
/// blank lines of a multi-line `Description:` header with eight spaces,
/// and the headers after it (`Classifier:`) still belong to the block.
fn headers(text: &str) -> Paragraph<'_> {
    let lines = text
        .lines()
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .take_while(|line| !line.is_empty())
        .filter(|line| !line.trim().is_empty())
        .collect();
    Paragraph { line: 1, lines }
}

/// Keeps a metadata file's header block and drops the long description
/// after it, most of a METADATA's bytes (the project's README): an image
/// with a thousand packages installed costs their headers only.
#[derive(Default)]
struct HeaderBlock {
    kept: Vec<u8>,
    done: bool,
}

impl Sift for HeaderBlock {
    fn update(&mut self, bytes: &[u8]) {
        if self.done {
            return;
        }
        // An empty line may straddle two pieces: look again from just before.
        let from = self.kept.len().saturating_sub(2);
        let room = HEADER_LIMIT - self.kept.len();
        self.kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
        let tail = &self.kept[from..];
        let blank = [&b"\n\n"[..], b"\n\r\n"]
            .iter()
            .filter_map(|end| tail.windows(end.len()).position(|window| window == *end))
            .min();
        if let Some(at) = blank {
            self.kept.truncate(from + at + 1);
            self.done = true;
        } else if self.kept.len() == HEADER_LIMIT {
            // Not headers past here; keep whole lines only.
            let last_line = self
                .kept
                .iter()
                .rposition(|&byte| byte == b'\n')
                .map_or(0, |at| at + 1);
            self.kept.truncate(last_line);
            self.done = true;
        }
    }

    fn finish(self: Box<Self>) -> Option<Content> {
        Some(Content::Bytes(self.kept))
    }
}

/// Who made it: the author (with their address), else the maintainer.
fn supplier(fields: &Fields) -> Option<String> {
    let person = |name: &str, email: &str| match (fields.get(name), fields.get(email)) {
        (Some(name), Some(email)) if !email.contains(name) => Some(format!("{name} <{email}>")),
        (Some(name), None) => Some(name.to_owned()),
        (_, email) => email.map(str::to_owned),
    };
    person("Author", "Author-email").or_else(|| person("Maintainer", "Maintainer-email"))
}

/// `License-Expression` (metadata 2.4), else `License` unless it says
/// nothing, else the `License :: ... :: NAME` classifiers.
fn licenses(fields: &Fields) -> Vec<String> {
    if let Some(expression) = fields.get("License-Expression") {
        return vec![expression.to_owned()];
    }
    if let Some(license) = fields
        .get("License")
        .filter(|license| !license.eq_ignore_ascii_case("UNKNOWN"))
    {
        return vec![license.to_owned()];
    }
    fields
        .all("Classifier")
        .filter(|classifier| classifier.starts_with("License ::"))
        .filter_map(|classifier| classifier.rsplit("::").next())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::testing::{cataloged, found, named, purls, survives, taken};

    const SIX: &str = "usr/lib/python3/site-packages/six-1.16.0.dist-info/METADATA";
    const INICONFIG: &str = "usr/lib/python3/site-packages/iniconfig-2.0.0.dist-info/METADATA";
    const LEGACY: &str = "usr/lib/python3/dist-packages/acme_legacy-0.3.1.egg-info/PKG-INFO";

    fn tree() -> Vec<Found> {
        vec![
            found(SIX, include_bytes!("testdata/python/six.METADATA")),
            found(
                INICONFIG,
                include_bytes!("testdata/python/iniconfig.METADATA"),
            ),
            found(
                LEGACY,
                include_bytes!("testdata/python/acme_legacy.PKG-INFO"),
            ),
        ]
    }

    #[test]
    fn what_pip_and_setuptools_wrote() {
        let sifted: Vec<_> = tree()
            .iter()
            .map(|raw| taken(&Python, &raw.path, &raw.content.bytes().unwrap()))
            .collect();
        let packages = cataloged(&Python, &sifted, None);
        // tests/SBOM_ORACLE.md, `dir:` python (= syft_oracle.PYTHON).
        assert_eq!(
            purls(&packages),
            [
                "pkg:pypi/acme-legacy@0.3.1",
                "pkg:pypi/iniconfig@2.0.0",
                "pkg:pypi/six@1.16.0"
            ]
        );
        assert_eq!(
            named(&packages, "six").supplier.as_deref(),
            Some("Benjamin Peterson <benjamin@python.org>")
        );
        assert_eq!(named(&packages, "six").licenses, ["MIT"]);
        assert_eq!(named(&packages, "six").locations, [SIX]);
        assert_eq!(
            named(&packages, "iniconfig").supplier.as_deref(),
            Some(
                "Ronny Pfannschmidt <opensource@ronnypfannschmidt.de>, Holger Krekel <holger.krekel@gmail.com>"
            )
        );
        assert_eq!(named(&packages, "iniconfig").licenses, ["MIT"]);
        assert_eq!(named(&packages, "acme-legacy").licenses, ["BSD-3-Clause"]);
        assert_eq!(
            named(&packages, "acme-legacy").supplier.as_deref(),
            Some("Acme Developers <dev@acme.example>")
        );
    }

    #[test]
    fn only_the_header_block_is_kept() {
        let six = taken(&Python, SIX, include_bytes!("testdata/python/six.METADATA"));
        let kept = six.content.bytes().unwrap();
        assert!(kept.ends_with(b"Requires-Python: >=2.7, !=3.0.*, !=3.1.*, !=3.2.*\n"));
        assert_eq!(
            read(&six, &String::from_utf8_lossy(&kept)).unwrap().version,
            "1.16.0"
        );
        let endless = "Classifier: x\n".repeat(HEADER_LIMIT / 8);
        let kept = taken(&Python, SIX, endless.as_bytes())
            .content
            .bytes()
            .unwrap()
            .into_owned();
        assert!(kept.len() <= HEADER_LIMIT && kept.ends_with(b"Classifier: x\n"));
    }

    #[test]
    fn wants_metadata_wherever_it_lies_and_nothing_else() {
        let wants = |path| {
            Python
                .wants(&FileMeta {
                    path,
                    size: 100,
                    mode: 0o644,
                })
                .is_some()
        };
        assert!(wants(SIX) && wants(LEGACY));
        assert!(wants(
            "opt/venv/lib/python3.12/site-packages/pip-24.0.dist-info/METADATA"
        ));
        assert!(wants("usr/lib/python3/dist-packages/foo-1.0.egg-info"));
        assert!(!wants(
            "usr/lib/python3/site-packages/six-1.16.0.dist-info/RECORD"
        ));
        assert!(!wants("srv/METADATA") && !wants(".egg-info"));
    }

    #[test]
    fn classifiers_after_a_long_description_still_count() {
        let text = "Name: old\nVersion: 1\nDescription: first\n        \n        second\nClassifier: License :: OSI Approved :: MIT License\n\nbody\n";
        let package = read(&found(LEGACY, text.as_bytes()), text).unwrap();
        assert_eq!(package.licenses, ["MIT License"]);
        assert_eq!(package.supplier, None);
    }

    #[test]
    fn a_metadata_without_a_name_is_a_problem() {
        let mut problems = Vec::new();
        let mut files = tree();
        files.push(found("x/bad-1.dist-info/METADATA", b"Version: 1\n"));
        assert_eq!(Python.catalog(&files, None, &mut problems).len(), 3);
        assert_eq!(
            problems,
            [Problem(
                "python: /x/bad-1.dist-info/METADATA: it has no Name field; it was skipped.".into()
            )]
        );
    }

    #[test]
    fn damaged_input_never_panics() {
        survives(&Python, &tree(), None);
    }
}
