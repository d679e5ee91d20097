//! The fixtures' real databases (tests/sbom_fixtures.py: `rpm --root`
//! wrote the sqlite one, db5.3_load the BerkeleyDB one from the same
//! headers), against the purls syft 1.18.1 finds in them
//! (tests/syft_oracle.py).

use super::*;
use std::collections::BTreeSet;

const SQLITE: &[u8] = include_bytes!("../testdata/rpmdb.sqlite");
const BDB: &[u8] = include_bytes!("../testdata/rpm-bdb-Packages");

fn distro(id: &str, version_id: &str) -> Distro {
    Distro {
        id: id.into(),
        version_id: Some(version_id.into()),
        ..Distro::default()
    }
}

fn spooled(bytes: &[u8]) -> Content {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(bytes).unwrap();
    Content::Spooled(file)
}

fn catalog(path: &str, content: Content, distro: &Distro) -> (Vec<Package>, Vec<Problem>) {
    let mut problems = Vec::new();
    let found = [Found {
        path: path.into(),
        content,
    }];
    (Rpm.catalog(&found, Some(distro), &mut problems), problems)
}

fn purls(packages: &[Package]) -> BTreeSet<String> {
    packages.iter().map(|p| p.purl.clone()).collect()
}

/// syft_oracle.rpms(namespace, distro), as syft writes them.
fn oracle(namespace: &str, distro: &str) -> BTreeSet<String> {
    let q = format!("?arch=noarch&distro={distro}");
    [
        format!(
            "pkg:rpm/{namespace}/acme-tools@1.4.0-3{q}&epoch=2&upstream=acme-tools-1.4.0-3.src.rpm"
        ),
        format!("pkg:rpm/{namespace}/acme-libs@0.7-1{q}&upstream=acme-libs-0.7-1.src.rpm"),
        format!("pkg:rpm/{namespace}/acme-data@2026.1-5{q}&upstream=acme-data-2026.1-5.src.rpm"),
    ]
    .into()
}

#[test]
fn wants_the_databases_in_rpms_folders_only() {
    let meta = |path| FileMeta {
        path,
        size: 1,
        mode: 0o644,
    };
    for path in [
        "var/lib/rpm/rpmdb.sqlite",
        "usr/lib/sysimage/rpm/rpmdb.sqlite",
        "usr/share/rpm/Packages",
    ] {
        assert_eq!(
            Rpm.wants(&meta(path)),
            Some(Take::Spool {
                limit: DATABASE_LIMIT
            }),
            "{path}"
        );
    }
    for path in [
        "var/lib/rpm/rpmdb.sqlite-wal",
        "home/var/lib/rpm/Packages",
        "var/lib/rpm/Name",
        "Packages",
    ] {
        assert_eq!(Rpm.wants(&meta(path)), None, "{path}");
    }
}

#[test]
fn the_sqlite_database_gives_syfts_packages() {
    let (packages, problems) = catalog(
        "var/lib/rpm/rpmdb.sqlite",
        spooled(SQLITE),
        &distro("rhel", "9.4"),
    );
    assert_eq!(problems, []);
    assert_eq!(purls(&packages), oracle("redhat", "rhel-9.4"));
    let tools = packages.iter().find(|p| p.name == "acme-tools").unwrap();
    assert_eq!(tools.version, "2:1.4.0-3");
    assert_eq!(tools.supplier.as_deref(), Some("Acme Corp"));
    assert_eq!(tools.licenses, ["MIT AND Apache-2.0"]);
    let data = packages.iter().find(|p| p.name == "acme-data").unwrap();
    assert_eq!(
        data.supplier, None,
        "acme-data has neither vendor nor packager"
    );
}

#[test]
fn a_database_handed_over_in_memory_reads_the_same() {
    let fedora = distro("fedora", "40");
    let (packages, _) = catalog(
        "usr/lib/sysimage/rpm/rpmdb.sqlite",
        Content::Bytes(SQLITE.to_vec()),
        &fedora,
    );
    assert_eq!(purls(&packages), oracle("fedora", "fedora-40"));
}

#[test]
fn the_berkeleydb_database_gives_syfts_packages() {
    let centos = distro("centos", "7");
    for content in [spooled(BDB), Content::Bytes(BDB.to_vec())] {
        let (packages, problems) = catalog("var/lib/rpm/Packages", content, &centos);
        assert_eq!(problems, []);
        assert_eq!(purls(&packages), oracle("centos", "centos-7"));
    }
}

#[test]
fn one_database_reached_by_two_paths_lists_each_package_once() {
    let mut problems = Vec::new();
    let found = [
        "var/lib/rpm/rpmdb.sqlite",
        "usr/lib/sysimage/rpm/rpmdb.sqlite",
    ]
    .map(|path| Found {
        path: path.into(),
        content: Content::Bytes(SQLITE.to_vec()),
    });
    let packages = Rpm.catalog(&found, Some(&distro("fedora", "40")), &mut problems);
    assert_eq!(packages.len(), 3);
    assert!(packages.iter().all(|p| p.locations.len() == 2));
}

#[test]
fn a_file_that_is_no_database_is_one_problem() {
    let (packages, problems) = catalog(
        "var/lib/rpm/Packages",
        Content::Bytes(b"not a database".to_vec()),
        &distro("centos", "7"),
    );
    assert!(packages.is_empty());
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0]
            .0
            .starts_with("The rpm database var/lib/rpm/Packages could not be read: "),
        "{problems:?}"
    );
    let (_, problems) = catalog(
        "var/lib/rpm/rpmdb.sqlite",
        Content::Bytes(b"not sqlite".to_vec()),
        &distro("rhel", "9"),
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
}

/// Truncated and garbled copies of the BerkeleyDB file: packages or
/// problems, never a panic, never an allocation past the file (every
/// length is checked against it first; a chain longer than the file has
/// pages is cut).
#[test]
fn damaged_berkeleydb_files_never_panic() {
    let centos = distro("centos", "7");
    for len in (0..BDB.len()).step_by(97) {
        catalog(
            "var/lib/rpm/Packages",
            Content::Bytes(BDB[..len].to_vec()),
            &centos,
        );
    }
    let mut state = 0x2545_f491_u32;
    for _ in 0..3000 {
        let mut damaged = BDB.to_vec();
        for _ in 0..4 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            damaged[state as usize % BDB.len()] = (state >> 24) as u8;
        }
        catalog("var/lib/rpm/Packages", Content::Bytes(damaged), &centos);
    }
}

#[test]
fn damaged_sqlite_files_never_panic() {
    let rhel = distro("rhel", "9.4");
    for len in [0, 100, 4096, 50_000, SQLITE.len() - 1] {
        catalog(
            "var/lib/rpm/rpmdb.sqlite",
            Content::Bytes(SQLITE[..len].to_vec()),
            &rhel,
        );
    }
    for at in (0..SQLITE.len()).step_by(4099) {
        let mut damaged = SQLITE.to_vec();
        damaged[at..at + 64.min(SQLITE.len() - at)].fill(0xa5);
        catalog("var/lib/rpm/rpmdb.sqlite", Content::Bytes(damaged), &rhel);
    }
}
