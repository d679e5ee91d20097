//! Software bills of materials for what we publish (SPDX 2.3 and CycloneDX
//! 1.6 JSON), built from the one read of an image tarball that sealing
//! already makes.
//!
//! Laid out the way syft's catalogers are: one module per ecosystem behind
//! the small interface in `catalog` (which files it wants, and the packages
//! it makes of them), all fed by the one image scan, so a new ecosystem is
//! one new module and one line in the list of catalogers; no other file
//! changes.
//!
//! - `package`: what a cataloger finds (name, version, purl, supplier,
//!   licenses, where it was found);
//! - `catalog`: the cataloger interface and the files it is handed.

pub mod cargo_auditable;
pub mod catalog;
pub mod golang;
pub mod package;
pub mod purl;
pub mod rpm;
pub mod stream_search;
