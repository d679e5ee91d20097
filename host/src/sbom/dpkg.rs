//! Debian packages: dpkg's database `var/lib/dpkg/status`, or the
//! distroless layout's `var/lib/dpkg/status.d/NAME` (one control file per
//! package, no `Status:`; the `NAME.md5sums` beside them are not stanzas),
//! with the licences named in `usr/share/doc/NAME/copyright`.
//!
//! Which stanzas count: dpkg's own view (deb-control's `Status: want flag
//! state`): a package is in the image unless its state is `not-installed`
//! or `config-files` (removed, only its conffiles left). syft 1.18.1 lists
//! every stanza (so also a removed `config-files` one), syft 1.37 drops any
//! whose want is `deinstall` (so also a package still installed but
//! selected for removal): both are wrong about what the image holds
//! (tests/SBOM_ORACLE.md, "dpkg states").

use super::catalog::{Cataloger, Content, Distro, FileMeta, Found, Problem, Sift, Take, read_each};
use super::control::{Fields, paragraphs};
use super::package::{Ecosystem, Package};
use super::purl;
use std::collections::{BTreeMap, BTreeSet};

const STATUS: &str = "var/lib/dpkg/status";
const STATUS_D: &str = "var/lib/dpkg/status.d/";
const DOC: &str = "usr/share/doc/";

/// A full Ubuntu desktop's status file is some 5 MiB.
const STATUS_LIMIT: u64 = 64 << 20;
/// One package's control file in `status.d`: a few KiB.
const STANZA_FILE_LIMIT: u64 = 1 << 20;

pub struct Dpkg;

impl Cataloger for Dpkg {
    fn name(&self) -> &'static str {
        "dpkg"
    }

    fn wants(&self, file: &FileMeta<'_>) -> Option<Take> {
        if file.path == STATUS {
            Some(Take::Whole {
                limit: STATUS_LIMIT,
            })
        } else if is_status_d_stanza(file.path) {
            Some(Take::Whole {
                limit: STANZA_FILE_LIMIT,
            })
        } else {
            copyright_owner(file.path).map(|_| Take::Sift)
        }
    }

    fn sift(&self, _file: &FileMeta<'_>) -> Box<dyn Sift> {
        Box::<CopyrightLicenses>::default()
    }

    fn catalog(
        &self,
        files: &[Found],
        distro: Option<&Distro>,
        problems: &mut Vec<Problem>,
    ) -> Vec<Package> {
        let copyrights = copyrights(files);
        let is_db = |path: &str| path == STATUS || is_status_d_stanza(path);
        read_each(
            self.name(),
            files,
            is_db,
            |found, text, skipped| {
                let mut packages = Vec::new();
                for paragraph in paragraphs(text) {
                    match Fields::parse(&paragraph) {
                        Ok(fields) if fields.get("Package").is_none() => skipped.push(format!(
                            "the stanza at line {} has no Package field",
                            paragraph.line
                        )),
                        Ok(fields) if is_installed(&fields) => {
                            packages.push(package(&fields, &found.path, &copyrights, distro))
                        }
                        Ok(_) => {}
                        Err(why) => skipped.push(why),
                    }
                }
                Ok(packages)
            },
            problems,
        )
    }
}

/// `status.d/NAME` but not `status.d/NAME.md5sums` (nor anything deeper).
fn is_status_d_stanza(path: &str) -> bool {
    path.strip_prefix(STATUS_D)
        .is_some_and(|name| !name.is_empty() && !name.contains('/') && !name.ends_with(".md5sums"))
}

/// The package whose `usr/share/doc/NAME/copyright` this is.
fn copyright_owner(path: &str) -> Option<&str> {
    let name = path.strip_prefix(DOC)?.strip_suffix("/copyright")?;
    (!name.is_empty() && !name.contains('/')).then_some(name)
}

/// Each package's licences, by name, with the copyright file's path.
fn copyrights(files: &[Found]) -> BTreeMap<&str, (&str, Vec<String>)> {
    files
        .iter()
        .filter_map(|found| {
            let owner = copyright_owner(&found.path)?;
            let bytes = found.content.bytes().ok()?;
            let licenses = String::from_utf8_lossy(&bytes)
                .lines()
                .map(str::to_owned)
                .collect();
            Some((owner, (found.path.as_str(), licenses)))
        })
        .collect()
}

fn is_installed(fields: &Fields) -> bool {
    let state = fields
        .get("Status")
        .and_then(|status| status.split_whitespace().nth(2));
    !matches!(state, Some("not-installed" | "config-files"))
}

fn package(
    fields: &Fields,
    db: &str,
    copyrights: &BTreeMap<&str, (&str, Vec<String>)>,
    distro: Option<&Distro>,
) -> Package {
    let name = fields.get("Package").unwrap_or_default().to_owned();
    let version = fields.get("Version").unwrap_or_default().to_owned();
    let mut locations = vec![db.to_owned()];
    let mut licenses = Vec::new();
    if let Some((path, names)) = copyrights.get(name.as_str()) {
        locations.push((*path).to_owned());
        licenses.clone_from(names);
    }
    Package {
        ecosystem: Ecosystem::Deb,
        purl: deb_purl(fields, &name, &version, distro),
        supplier: fields.get("Maintainer").map(str::to_owned),
        name,
        version,
        licenses,
        locations,
    }
}

/// `pkg:deb/<ID>/NAME@VERSION?arch=..&distro=<ID>-<VERSION_ID>&upstream=SRC@SRCVERSION`,
/// the epoch left in the version. syft writes no purl at all for a distro
/// that is neither Debian nor like it (nor for an image without
/// os-release); we write the `debian` namespace without a distro instead,
/// so the package still has an identity.
fn deb_purl(fields: &Fields, name: &str, version: &str, distro: Option<&Distro>) -> String {
    let debian_like =
        distro.filter(|d| d.id == "debian" || d.id_like.iter().any(|like| like == "debian"));
    let namespace = debian_like.map_or("debian", |distro| distro.id.as_str());
    let upstream = match fields.get("Source").map(source) {
        Some((source, Some(source_version))) => format!("{source}@{source_version}"),
        Some((source, None)) => source.to_owned(),
        None => String::new(),
    };
    let arch = fields.get("Architecture").unwrap_or_default();
    let distro = purl::distro_qualifier(debian_like);
    purl::format(
        Ecosystem::Deb.purl_type(),
        namespace,
        name,
        version,
        &[("arch", arch), ("distro", &distro), ("upstream", &upstream)],
    )
}

/// `Source: NAME` or `Source: NAME (VERSION)`, when the binary package's
/// version differs from its source's.
fn source(field: &str) -> (&str, Option<&str>) {
    match field.split_once(" (") {
        Some((name, rest)) => (
            name.trim(),
            rest.strip_suffix(')')
                .map(str::trim)
                .filter(|v| !v.is_empty()),
        ),
        None => (field.trim(), None),
    }
}

/// Keeps, of a copyright file streaming past, only the licence names it
/// states, as syft reads them: the word after `License: ` at the start of
/// a line (the machine-readable format), and any
/// `/usr/share/common-licenses/NAME` it points to; a trailing `.` dropped,
/// `none` ignored. Hands them on sorted, one per line.
#[derive(Default)]
struct CopyrightLicenses {
    line: Vec<u8>,
    /// The current line outgrew `MAX_LINE`: the rest of it is skipped.
    overlong: bool,
    names: BTreeSet<String>,
}

/// Longer lines are prose, not a `License:` field.
const MAX_LINE: usize = 4096;
/// A copyright file naming more licences than this is not listing them.
const MAX_NAMES: usize = 256;
const COMMON_LICENSES: &str = "/usr/share/common-licenses/";

impl CopyrightLicenses {
    fn end_line(&mut self) {
        if !self.overlong {
            let line = String::from_utf8_lossy(&self.line).into_owned();
            let field = line
                .strip_prefix("License: ")
                .and_then(|rest| rest.split_whitespace().next());
            let pointed = line.find(COMMON_LICENSES).map(|at| {
                let rest = &line[at + COMMON_LICENSES.len()..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
                    .unwrap_or(rest.len());
                &rest[..end]
            });
            for name in [field, pointed].into_iter().flatten() {
                let name = name.strip_suffix('.').unwrap_or(name);
                if !name.is_empty()
                    && !name.eq_ignore_ascii_case("none")
                    && self.names.len() < MAX_NAMES
                {
                    self.names.insert(name.to_owned());
                }
            }
        }
        self.line.clear();
        self.overlong = false;
    }
}

impl Sift for CopyrightLicenses {
    fn update(&mut self, bytes: &[u8]) {
        for part in bytes.split_inclusive(|&byte| byte == b'\n') {
            let (text, ends) = match part.strip_suffix(b"\n") {
                Some(text) => (text, true),
                None => (part, false),
            };
            if self.line.len() + text.len() > MAX_LINE {
                self.overlong = true;
            } else if !self.overlong {
                self.line.extend_from_slice(text);
            }
            if ends {
                self.end_line();
            }
        }
    }

    fn finish(mut self: Box<Self>) -> Option<Content> {
        self.end_line();
        let names: Vec<_> = std::mem::take(&mut self.names).into_iter().collect();
        Some(Content::Bytes(names.join("\n").into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::testing::{cataloged, found, named, purls, survives, taken};

    const HELLO_COPYRIGHT: &str = "usr/share/doc/hello-acme/copyright";

    fn debian() -> Distro {
        super::super::distro::parse(include_str!("testdata/debian/os-release"))
    }

    fn copyrights() -> Vec<Found> {
        [
            (
                "hello-acme",
                &include_bytes!("testdata/debian/hello-acme.copyright")[..],
            ),
            (
                "libacme1",
                include_bytes!("testdata/debian/libacme1.copyright"),
            ),
            (
                "acme-holdover",
                include_bytes!("testdata/debian/acme-holdover.copyright"),
            ),
        ]
        .into_iter()
        .map(|(name, bytes)| taken(&Dpkg, &format!("usr/share/doc/{name}/copyright"), bytes))
        .collect()
    }

    #[test]
    fn the_status_file_dpkg_wrote() {
        let mut files = vec![found(STATUS, include_bytes!("testdata/debian/status"))];
        files.extend(copyrights());
        let packages = cataloged(&Dpkg, &files, Some(&debian()));
        // tests/SBOM_ORACLE.md, `dir:` debian (raw, as syft 1.18.1 prints
        // them; decoded they are syft_oracle.IN_TREES["debian"]), without
        // oldtool: it is `deinstall ok config-files`, which dpkg does not
        // call installed (syft_oracle.NOT_INSTALLED).
        assert_eq!(
            purls(&packages),
            [
                "pkg:deb/debian/acme-holdover@5.2-1?arch=all&distro=debian-12",
                "pkg:deb/debian/hello-acme@1:2.10-3?arch=all&distro=debian-12&upstream=hello-src%402.10-3",
                "pkg:deb/debian/libacme1@0.9.1-1?arch=all&distro=debian-12",
            ]
        );
        let hello = named(&packages, "hello-acme");
        assert_eq!(hello.version, "1:2.10-3");
        assert_eq!(
            hello.supplier.as_deref(),
            Some("Acme Packagers <deb@acme.example>")
        );
        assert_eq!(hello.licenses, ["MIT"]);
        assert_eq!(
            hello.locations,
            [STATUS, "usr/share/doc/hello-acme/copyright"]
        );
        let holdover = named(&packages, "acme-holdover");
        assert_eq!(holdover.licenses, ["BSD-3-Clause"]);
    }

    #[test]
    fn the_distroless_layout() {
        let files = [
            found(
                "var/lib/dpkg/status.d/hello-acme",
                include_bytes!("testdata/distroless/hello-acme"),
            ),
            found(
                "var/lib/dpkg/status.d/libacme1",
                include_bytes!("testdata/distroless/libacme1"),
            ),
        ];
        let wanted = FileMeta {
            path: "var/lib/dpkg/status.d/hello-acme.md5sums",
            size: 80,
            mode: 0o644,
        };
        assert_eq!(Dpkg.wants(&wanted), None);
        let packages = cataloged(&Dpkg, &files, Some(&debian()));
        // SBOM_ORACLE.md, `dir:` distroless (= syft_oracle.IN_TREES["distroless"]).
        assert_eq!(
            purls(&packages),
            [
                "pkg:deb/debian/hello-acme@1:2.10-3?arch=all&distro=debian-12&upstream=hello-src%402.10-3",
                "pkg:deb/debian/libacme1@0.9.1-1?arch=all&distro=debian-12",
            ]
        );
    }

    #[test]
    fn a_malformed_stanza_is_a_problem_and_the_rest_is_read() {
        let status = "Package: good\nVersion: 1\nArchitecture: amd64\n\nbroken\n\nVersion: 2\n\n";
        let mut problems = Vec::new();
        let packages = Dpkg.catalog(&[found(STATUS, status.as_bytes())], None, &mut problems);
        assert_eq!(purls(&packages), ["pkg:deb/debian/good@1?arch=amd64"]);
        assert_eq!(
            problems,
            [
                Problem("dpkg: /var/lib/dpkg/status: line 5 is not a `Name: value` field; it was skipped.".into()),
                Problem("dpkg: /var/lib/dpkg/status: the stanza at line 7 has no Package field; it was skipped.".into()),
            ]
        );
    }

    #[test]
    fn ubuntu_is_debian_like_and_source_without_version() {
        let ubuntu = Distro {
            id: "ubuntu".into(),
            version_id: Some("24.04".into()),
            id_like: vec!["debian".into()],
            ..Distro::default()
        };
        let status = "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.39-0ubuntu8\n";
        let packages = Dpkg.catalog(
            &[found(STATUS, status.as_bytes())],
            Some(&ubuntu),
            &mut Vec::new(),
        );
        assert_eq!(
            purls(&packages),
            ["pkg:deb/ubuntu/libc6@2.39-0ubuntu8?arch=amd64&distro=ubuntu-24.04&upstream=glibc"]
        );
    }

    #[test]
    fn copyright_licences_as_syft_reads_them() {
        let text = "Format: x\n\nFiles: *\nLicense: GPL-2+\n text\nLicense: none\n\
                    See /usr/share/common-licenses/LGPL-2.1.\nLicense: Expat.";
        let found = taken(&Dpkg, "usr/share/doc/x/copyright", text.as_bytes());
        assert_eq!(
            found.content.bytes().unwrap().as_ref(),
            b"Expat\nGPL-2+\nLGPL-2.1"
        );
    }

    #[test]
    fn damaged_input_never_panics() {
        let copyright = include_bytes!("testdata/debian/hello-acme.copyright");
        let files = [
            found(STATUS, include_bytes!("testdata/debian/status")),
            found(HELLO_COPYRIGHT, copyright),
        ];
        survives(&Dpkg, &files, Some(&debian()));
        survives(
            &Dpkg,
            &[found(
                "var/lib/dpkg/status.d/hello-acme",
                include_bytes!("testdata/distroless/hello-acme"),
            )],
            None,
        );
    }
}
