//! A package as catalogers report it and the SBOM formats write it.

/// The ecosystem a package belongs to; it names the purl type and the
/// receipt's per-ecosystem counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ecosystem {
    Deb,
    Apk,
    Rpm,
    Python,
    Npm,
    Go,
    Cargo,
}

impl Ecosystem {
    /// The purl type (`pkg:<type>/...`).
    pub fn purl_type(self) -> &'static str {
        match self {
            Self::Deb => "deb",
            Self::Apk => "apk",
            Self::Rpm => "rpm",
            Self::Python => "pypi",
            Self::Npm => "npm",
            Self::Go => "golang",
            Self::Cargo => "cargo",
        }
    }
}

/// One package found in an image (or a binary in it). Ordered field by
/// field, so a cataloger sorts what it found into a deterministic order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Package {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
    /// The package URL, as syft writes it for this ecosystem.
    pub purl: String,
    /// Maintainer, vendor, packager or author, as the database states it.
    pub supplier: Option<String>,
    /// License expressions or names, as the database states them.
    pub licenses: Vec<String>,
    /// Where in the image's filesystem it was found (no leading `/`).
    pub locations: Vec<String>,
}

/// The same package found twice (a database reached by two paths, the
/// same Go module in two binaries) listed once with all its locations,
/// sorted by purl so the order never depends on the input's.
pub fn merge_by_purl(mut packages: Vec<Package>) -> Vec<Package> {
    packages.sort_by(|a, b| {
        a.purl
            .cmp(&b.purl)
            .then_with(|| a.locations.cmp(&b.locations))
    });
    let mut merged: Vec<Package> = Vec::with_capacity(packages.len());
    for package in packages {
        match merged.last_mut() {
            Some(last) if last.purl == package.purl => {
                for location in package.locations {
                    if !last.locations.contains(&location) {
                        last.locations.push(location);
                    }
                }
            }
            _ => merged.push(package),
        }
    }
    merged
}
