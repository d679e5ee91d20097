//! Software bills of materials for what we publish (SPDX 2.3 and CycloneDX
//! 1.6 JSON), built from the one read of an image tarball that sealing
//! already makes.
//!
//! Laid out the way syft's catalogers are: one module per ecosystem behind
//! the small interface in `catalog` (which files it wants, and the packages
//! it makes of them), all fed by the one image scan, so a new ecosystem is
//! one new module and one line in `catalogers`; no other file changes.
//!
//! - `package`: what a cataloger finds (name, version, purl, supplier,
//!   licenses, where it was found);
//! - `catalog`: the cataloger interface and the files it is handed;
//! - `distro`: the image's OS, from os-release, for the OS packages' purls;
//! - `purl`: package URLs, escaped the way syft writes them;
//! - `control`: the RFC 822-style fields dpkg, apk and Python metadata use;
//! - the catalogers: `dpkg`, `apk`, `rpm`, `python`, `npm`, `golang`,
//!   `cargo_auditable` (`stream_search` finds markers in streamed binaries);
//! - `squash`: the layers as the image runs, fed to the catalogers by the
//!   one image scan;
//! - `image`: an image tarball's document: the scan, the squash, the root;
//! - `document`: what an SBOM says (subject, packages, problems, date);
//! - `model`: the ML-BOM of a file that is not an image;
//! - `cyclonedx`, `spdx`: the two formats, written from one document.

pub mod apk;
pub mod cargo_auditable;
pub mod catalog;
pub mod control;
pub mod cyclonedx;
pub mod distro;
pub mod document;
pub mod dpkg;
pub mod golang;
pub mod image;
pub mod model;
pub mod npm;
pub mod package;
pub mod purl;
pub mod python;
pub mod rpm;
pub mod spdx;
pub mod squash;
pub mod stream_search;

use catalog::Cataloger;

/// Every cataloger, in the order their packages are listed.
pub fn catalogers() -> Vec<Box<dyn Cataloger>> {
    vec![
        Box::new(dpkg::Dpkg),
        Box::new(apk::Apk),
        Box::new(rpm::Rpm),
        Box::new(python::Python),
        Box::new(npm::Npm),
        Box::new(golang::Golang),
        Box::new(cargo_auditable::CargoAuditable),
    ]
}

#[cfg(test)]
mod testing;
