//! A real binary: a crate depending on hex 0.4.3, with cfg-if 1.0.5 as a
//! build dependency, built by `cargo auditable build --release`
//! (cargo-auditable 0.6.6), stripped; syft 1.18.1 finds
//! `pkg:cargo/audited-hello@0.3.0` and `pkg:cargo/hex@0.4.3` in it (the
//! build dependency is listed in the section, but not by syft).

use super::*;
use std::collections::BTreeSet;

const AUDITED: &[u8] = include_bytes!("../testdata/cargo-auditable-hello");

fn sifted(bytes: &[u8], piece: usize) -> Option<Content> {
    let mut sift = CargoAuditable.sift(&FileMeta {
        path: "usr/bin/audited-hello",
        size: bytes.len() as u64,
        mode: 0o755,
    });
    for piece in bytes.chunks(piece) {
        sift.update(piece);
    }
    sift.finish()
}

fn catalog(bytes: &[u8], piece: usize) -> (Vec<Package>, Vec<Problem>) {
    let found: Vec<Found> = sifted(bytes, piece)
        .map(|content| Found {
            path: "usr/bin/audited-hello".into(),
            content,
        })
        .into_iter()
        .collect();
    let mut problems = Vec::new();
    (
        CargoAuditable.catalog(&found, None, &mut problems),
        problems,
    )
}

#[test]
fn the_audited_binary_gives_syfts_crates_whatever_the_pieces() {
    for piece in [1, 7, 64, 4096, 1 << 20] {
        let (packages, problems) = catalog(AUDITED, piece);
        assert_eq!(problems, [], "pieces of {piece}");
        let purls: BTreeSet<_> = packages.iter().map(|p| p.purl.as_str()).collect();
        assert_eq!(
            purls,
            BTreeSet::from(["pkg:cargo/audited-hello@0.3.0", "pkg:cargo/hex@0.4.3"]),
            "pieces of {piece}"
        );
    }
}

#[test]
fn other_files_keep_nothing() {
    assert_eq!(
        CargoAuditable.wants(&FileMeta {
            path: "a",
            size: 4096,
            mode: 0o644
        }),
        None
    );
    let mut not_elf = AUDITED.to_vec();
    not_elf[0] = b'#';
    assert!(sifted(&not_elf, 4096).is_none());
    assert!(
        sifted(&AUDITED[..AUDITED.len() / 4], 4096).is_none(),
        "the section is past the first quarter"
    );
}

#[test]
fn a_stream_that_inflates_without_end_is_cut_at_its_bound() {
    let json = [JSON_START, &vec![b' '; 3 * JSON_LIMIT]].concat();
    let mut compressed =
        flate2::write::ZlibEncoder::new(b"\x7fELF".to_vec(), flate2::Compression::best());
    std::io::Write::write_all(&mut compressed, &json).unwrap();
    let (packages, problems) = catalog(&compressed.finish().unwrap(), 1 << 16);
    assert!(packages.is_empty());
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].0.contains("inflates past 8 MiB"),
        "{problems:?}"
    );
}

#[test]
fn damaged_binaries_never_panic() {
    let section = find_section(AUDITED);
    for len in (section..section + 140).chain([0, 3, 64]) {
        catalog(&AUDITED[..len.min(AUDITED.len())], 4096);
    }
    for at in section..section + 120 {
        for value in [0x00, 0x5a, 0xff] {
            let mut damaged = AUDITED.to_vec();
            damaged[at] = value;
            catalog(&damaged, 4096);
        }
    }
}

/// Where the compressed section begins: the one candidate that inflates.
fn find_section(bytes: &[u8]) -> usize {
    (0..bytes.len() - TRIAL)
        .find(|&at| {
            is_zlib_header(bytes[at], bytes[at + 1])
                && start_inflating(&bytes[at..at + TRIAL]).is_some()
        })
        .unwrap()
}
