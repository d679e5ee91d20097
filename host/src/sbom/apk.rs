//! Alpine packages: apk's database `lib/apk/db/installed`
//! (<https://wiki.alpinelinux.org/wiki/Apk_spec>): a stanza per package,
//! blank lines between them, each line a one-letter key, `:`, the value.
//! Read: `P` name, `V` version, `A` architecture, `L` licence, `o` origin
//! (the source package), `m` maintainer; the rest (files, checksums,
//! dependencies) is not needed for the SBOM.

use super::catalog::{Cataloger, Distro, FileMeta, Found, Problem, Take, read_each};
use super::control::paragraphs;
use super::package::{Ecosystem, Package};
use super::purl;

const INSTALLED: &str = "lib/apk/db/installed";

/// A large Alpine image's database is a few MiB (it lists every file).
const LIMIT: u64 = 64 << 20;

pub struct Apk;

impl Cataloger for Apk {
    fn name(&self) -> &'static str {
        "apk"
    }

    fn wants(&self, file: &FileMeta<'_>) -> Option<Take> {
        (file.path == INSTALLED).then_some(Take::Whole { limit: LIMIT })
    }

    fn catalog(
        &self,
        files: &[Found],
        distro: Option<&Distro>,
        problems: &mut Vec<Problem>,
    ) -> Vec<Package> {
        let is_db = |path: &str| path == INSTALLED;
        read_each(
            self.name(),
            files,
            is_db,
            |_, text, skipped| {
                let mut packages = Vec::new();
                for stanza in paragraphs(text) {
                    match Entry::parse(&stanza.lines) {
                        Some(entry) => packages.push(entry.package(distro)),
                        None => skipped.push(format!(
                            "the stanza at line {} has no P: (name) or V: (version)",
                            stanza.line
                        )),
                    }
                }
                Ok(packages)
            },
            problems,
        )
    }
}

#[derive(Default)]
struct Entry<'a> {
    name: &'a str,
    version: &'a str,
    arch: &'a str,
    license: &'a str,
    origin: &'a str,
    maintainer: &'a str,
}

impl<'a> Entry<'a> {
    /// The entry, if it names a package and its version; lines that are not
    /// `K:value` are ignored, as apk does with keys it does not know.
    fn parse(lines: &[&'a str]) -> Option<Self> {
        let mut entry = Self::default();
        for line in lines {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let slot = match key {
                "P" => &mut entry.name,
                "V" => &mut entry.version,
                "A" => &mut entry.arch,
                "L" => &mut entry.license,
                "o" => &mut entry.origin,
                "m" => &mut entry.maintainer,
                _ => continue,
            };
            *slot = value.trim();
        }
        (!entry.name.is_empty() && !entry.version.is_empty()).then_some(entry)
    }

    /// `pkg:apk/<ID>/NAME@VERSION?arch=..&distro=<ID>-<VERSION_ID>&upstream=ORIGIN`,
    /// `upstream` only when the origin is another package (syft's rule).
    /// Without os-release the namespace is `alpine` and there is no distro
    /// (syft writes no purl then).
    fn package(&self, distro: Option<&Distro>) -> Package {
        let namespace = distro.map_or("alpine", |distro| distro.id.as_str());
        let upstream = if self.origin == self.name {
            ""
        } else {
            self.origin
        };
        let purl = purl::format(
            Ecosystem::Apk.purl_type(),
            namespace,
            self.name,
            self.version,
            &[
                ("arch", self.arch),
                ("distro", &purl::distro_qualifier(distro)),
                ("upstream", upstream),
            ],
        );
        Package {
            ecosystem: Ecosystem::Apk,
            name: self.name.to_owned(),
            version: self.version.to_owned(),
            purl,
            supplier: Some(self.maintainer.to_owned()).filter(|maintainer| !maintainer.is_empty()),
            licenses: licenses(self.license),
            locations: vec![INSTALLED.to_owned()],
        }
    }
}

/// `L:` holds an SPDX expression (`MIT AND BSD-2-Clause`) or, in older
/// packages, names separated by spaces (`MIT BSD GPL2+`): an expression is
/// kept whole, a list split, as syft does.
fn licenses(field: &str) -> Vec<String> {
    let is_expression = [" AND ", " OR ", " WITH "]
        .iter()
        .any(|operator| field.contains(operator));
    if is_expression {
        vec![field.to_owned()]
    } else {
        field.split_whitespace().map(str::to_owned).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::testing::{cataloged, found, named, purls, survives};

    fn alpine() -> Distro {
        super::super::distro::parse(include_str!("testdata/alpine/os-release"))
    }

    #[test]
    fn the_database_written_to_the_apk_spec() {
        let files = [found(
            INSTALLED,
            include_bytes!("testdata/alpine/installed"),
        )];
        let packages = cataloged(&Apk, &files, Some(&alpine()));
        // tests/SBOM_ORACLE.md, `dir:` alpine (= syft_oracle.IN_TREES["alpine"]).
        assert_eq!(
            purls(&packages),
            [
                "pkg:apk/alpine/busybox@1.36.1-r29?arch=x86_64&distro=alpine-3.20.3",
                "pkg:apk/alpine/libcrypto3@3.3.2-r0?arch=x86_64&distro=alpine-3.20.3&upstream=openssl",
                "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.3",
                "pkg:apk/alpine/ssl_client@1.36.1-r29?arch=x86_64&distro=alpine-3.20.3&upstream=busybox",
            ]
        );
        let musl = named(&packages, "musl");
        assert_eq!(
            musl.supplier.as_deref(),
            Some("Timo Teräs <timo.teras@iki.fi>")
        );
        assert_eq!(musl.licenses, ["MIT"]);
        assert_eq!(musl.locations, [INSTALLED]);
    }

    #[test]
    fn a_stanza_without_a_name_is_a_problem_and_the_rest_is_read() {
        let text = "P:one\nV:1-r0\ngarbage\n\nV:2\n\nP:three\nV:3-r1\nL:MIT BSD\n";
        let mut problems = Vec::new();
        let packages = Apk.catalog(&[found(INSTALLED, text.as_bytes())], None, &mut problems);
        assert_eq!(
            purls(&packages),
            ["pkg:apk/alpine/one@1-r0", "pkg:apk/alpine/three@3-r1"]
        );
        assert_eq!(packages[1].licenses, ["MIT", "BSD"]);
        assert_eq!(
            problems,
            [Problem(
                "apk: /lib/apk/db/installed: the stanza at line 5 has no P: (name) or V: (version); it was skipped."
                    .into()
            )]
        );
    }

    #[test]
    fn expressions_stay_whole() {
        assert_eq!(licenses("MIT AND BSD-2-Clause"), ["MIT AND BSD-2-Clause"]);
        assert_eq!(licenses(""), Vec::<String>::new());
    }

    #[test]
    fn damaged_input_never_panics() {
        survives(
            &Apk,
            &[found(
                INSTALLED,
                include_bytes!("testdata/alpine/installed"),
            )],
            Some(&alpine()),
        );
    }
}
