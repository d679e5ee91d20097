//! Helpers for the catalogers' unit tests: files handed over the way the
//! scan hands them, and damaged copies of real ones.

use super::catalog::{Cataloger, Content, Distro, FileMeta, Found, Take};
use super::package::Package;
use proptest::prelude::*;

/// A file kept whole, as the scan hands over a `Take::Whole` one.
pub fn found(path: &str, bytes: &[u8]) -> Found {
    Found {
        path: path.to_owned(),
        content: Content::Bytes(bytes.to_vec()),
    }
}

/// A file handed over as the cataloger asked for it: whole, or through its
/// sift in small uneven pieces (so a sift sees lines split across pieces).
pub fn taken(cataloger: &dyn Cataloger, path: &str, bytes: &[u8]) -> Found {
    let meta = FileMeta {
        path,
        size: bytes.len() as u64,
        mode: 0o644,
    };
    match cataloger.wants(&meta) {
        Some(Take::Whole { .. } | Take::Spool { .. }) => found(path, bytes),
        Some(Take::Sift) => {
            let mut sift = cataloger.sift(&meta);
            for piece in bytes.chunks(7) {
                sift.update(piece);
            }
            Found {
                path: path.to_owned(),
                content: sift.finish().unwrap_or(Content::Bytes(Vec::new())),
            }
        }
        None => panic!("{} does not want {path}", cataloger.name()),
    }
}

/// What a cataloger makes of files it reads without a problem.
pub fn cataloged(
    cataloger: &dyn Cataloger,
    files: &[Found],
    distro: Option<&Distro>,
) -> Vec<Package> {
    let mut problems = Vec::new();
    let packages = cataloger.catalog(files, distro, &mut problems);
    assert_eq!(problems, [], "{} had problems", cataloger.name());
    packages
}

/// The package of that name.
pub fn named<'a>(packages: &'a [Package], name: &str) -> &'a Package {
    packages
        .iter()
        .find(|package| package.name == name)
        .unwrap_or_else(|| panic!("no package {name}"))
}

/// The packages' purls, sorted, each once.
pub fn purls(packages: &[Package]) -> Vec<&str> {
    let mut purls: Vec<_> = packages
        .iter()
        .map(|package| package.purl.as_str())
        .collect();
    purls.sort_unstable();
    purls.dedup();
    purls
}

/// Catalogs `files` again and again with one of them damaged: cut short at
/// many lengths, and with bytes overwritten by a newline, a colon, a quote
/// and invalid UTF-8 at many offsets. Passes if nothing panics.
pub fn survives(cataloger: &dyn Cataloger, files: &[Found], distro: Option<&Distro>) {
    let originals: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|found| {
            (
                found.path.clone(),
                found.content.bytes().expect("test bytes").into_owned(),
            )
        })
        .collect();
    for (damaged, (_, bytes)) in originals.iter().enumerate() {
        let step = (bytes.len() / 97).max(1);
        let cuts = (0..bytes.len())
            .step_by(step)
            .map(|at| bytes[..at].to_vec());
        let overwrites = (0..bytes.len()).step_by(step).flat_map(|at| {
            [b'\n', b':', b'"', 0xff].map(|byte| {
                let mut copy = bytes.clone();
                copy[at] = byte;
                copy
            })
        });
        for variant in cuts.chain(overwrites) {
            let inputs: Vec<Found> = originals
                .iter()
                .enumerate()
                .map(|(index, (other, original))| {
                    taken(
                        cataloger,
                        other,
                        if index == damaged { &variant } else { original },
                    )
                })
                .collect();
            cataloger.catalog(&inputs, distro, &mut Vec::new());
        }
    }
}

/// A path each cataloger wants (and os-release), for arbitrary bytes.
const WANTED: [&str; 8] = [
    "var/lib/dpkg/status",
    "var/lib/dpkg/status.d/libc6",
    "usr/share/doc/libc6/copyright",
    "lib/apk/db/installed",
    "usr/lib/python3/site-packages/x-1.dist-info/METADATA",
    "usr/lib/python3/dist-packages/x.egg-info/PKG-INFO",
    "app/node_modules/x/package.json",
    "etc/os-release",
];

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096), which in 0..WANTED.len()) {
        let path = WANTED[which];
        let distro = super::distro::detect(&[found(path, &bytes)]);
        for cataloger in super::catalogers() {
            if cataloger.wants(&FileMeta { path, size: bytes.len() as u64, mode: 0o644 }).is_some() {
                let files = [taken(cataloger.as_ref(), path, &bytes)];
                cataloger.catalog(&files, distro.as_ref(), &mut Vec::new());
            }
        }
    }
}
