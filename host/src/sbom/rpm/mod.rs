//! rpm: the package database of Red Hat-family images, in either of the
//! forms rpm has kept it: `rpmdb.sqlite` (rpm >= 4.16: RHEL 9, Fedora,
//! Amazon Linux 2023) and the BerkeleyDB `Packages` (RHEL/UBI 8, CentOS 7).
//! Both hold the same header blobs (`header`), read into packages whose
//! purls are syft's: `pkg:rpm/<distro>/NAME@VERSION-RELEASE?arch=..&distro=..&epoch=..&upstream=<source rpm>`.

mod bdb;
mod header;
mod sqlite;

use super::catalog::{Cataloger, Content, Distro, FileMeta, Found, Problem, Take};
use super::package::{Ecosystem, Package, merge_by_purl};
use super::purl::Purl;
use header::{Header, tag};
use std::io::{Cursor, Write};

/// Where rpm keeps its database, by release.
const DATABASE_FOLDERS: [&str; 3] = ["var/lib/rpm", "usr/lib/sysimage/rpm", "usr/share/rpm"];
/// A whole distribution's database is some hundreds of MB; it is spooled
/// to disk, never held in memory.
const DATABASE_LIMIT: u64 = 2 << 30;

pub struct Rpm;

#[derive(Clone, Copy)]
enum Form {
    Sqlite,
    BerkeleyDb,
}

fn form(path: &str) -> Option<Form> {
    let (folder, file) = path.rsplit_once('/')?;
    if !DATABASE_FOLDERS.contains(&folder) {
        return None;
    }
    match file {
        "rpmdb.sqlite" => Some(Form::Sqlite),
        "Packages" => Some(Form::BerkeleyDb),
        _ => None,
    }
}

impl Cataloger for Rpm {
    fn name(&self) -> &'static str {
        "rpm"
    }

    fn wants(&self, file: &FileMeta<'_>) -> Option<Take> {
        form(file.path).map(|_| Take::Spool {
            limit: DATABASE_LIMIT,
        })
    }

    fn catalog(
        &self,
        files: &[Found],
        distro: Option<&Distro>,
        problems: &mut Vec<Problem>,
    ) -> Vec<Package> {
        let mut packages: Vec<Package> = Vec::new();
        for found in files {
            let Some(form) = form(&found.path) else {
                continue;
            };
            let mut unreadable = 0;
            let mut each = |blob: &[u8]| match Header::parse(blob)
                .and_then(|h| package(&h, distro, &found.path))
            {
                Ok(package) => packages.push(package),
                Err(_) => unreadable += 1,
            };
            let read = match form {
                Form::Sqlite => read_sqlite(&found.content, &mut each),
                Form::BerkeleyDb => read_bdb(&found.content, &mut each),
            };
            match read {
                Err(error) => problems.push(Problem(format!(
                    "The rpm database {} could not be read: {error}.",
                    found.path
                ))),
                Ok(damaged) if damaged + unreadable > 0 => problems.push(Problem(format!(
                    "{} package headers in the rpm database {} are damaged and were skipped.",
                    damaged + unreadable,
                    found.path
                ))),
                Ok(_) => {}
            }
        }
        merge_by_purl(packages)
    }
}

fn read_sqlite(content: &Content, each: &mut dyn FnMut(&[u8])) -> Result<usize, String> {
    match content {
        Content::Spooled(file) => sqlite::headers(file.path(), each).map(|()| 0),
        // sqlite opens files only: one handed over in memory is spooled.
        Content::Bytes(bytes) => {
            let mut file =
                tempfile::NamedTempFile::new().map_err(|e| format!("no temporary file ({e})"))?;
            file.write_all(bytes)
                .map_err(|e| format!("no temporary file ({e})"))?;
            sqlite::headers(file.path(), each).map(|()| 0)
        }
    }
}

fn read_bdb(content: &Content, each: &mut dyn FnMut(&[u8])) -> Result<usize, String> {
    match content {
        Content::Spooled(file) => {
            let file = file
                .reopen()
                .map_err(|e| format!("it could not be reopened ({e})"))?;
            bdb::headers(std::io::BufReader::new(file), each)
        }
        Content::Bytes(bytes) => bdb::headers(Cursor::new(bytes), each),
    }
}

/// One package of a header; a header without a name or version is damaged.
fn package(header: &Header<'_>, distro: Option<&Distro>, path: &str) -> Result<Package, String> {
    let (Some(name), Some(version)) = (header.string(tag::NAME), header.string(tag::VERSION))
    else {
        return Err("a header without a name or version".into());
    };
    let version = match header.string(tag::RELEASE) {
        Some(release) => format!("{version}-{release}"),
        None => version,
    };
    let epoch = header.int32(tag::EPOCH);
    let namespace = distro
        .map(|d| {
            if d.id == "rhel" {
                "redhat"
            } else {
                d.id.as_str()
            }
        })
        .unwrap_or("");
    let distro_qualifier = distro
        .map(|d| match &d.version_id {
            Some(version_id) => format!("{}-{version_id}", d.id),
            None => d.id.clone(),
        })
        .unwrap_or_default();
    let purl = Purl {
        kind: Ecosystem::Rpm.purl_type(),
        namespace,
        name: &name,
        version: &version,
        qualifiers: vec![
            ("arch", header.string(tag::ARCH).unwrap_or_default()),
            ("distro", distro_qualifier),
            ("epoch", epoch.map(|e| e.to_string()).unwrap_or_default()),
            (
                "upstream",
                header.string(tag::SOURCERPM).unwrap_or_default(),
            ),
        ],
        subpath: "",
    }
    .to_string();
    Ok(Package {
        ecosystem: Ecosystem::Rpm,
        purl,
        // As syft's version field: the epoch in front when there is one.
        version: epoch.map_or(version.clone(), |e| format!("{e}:{version}")),
        name,
        supplier: header
            .string(tag::VENDOR)
            .or_else(|| header.string(tag::PACKAGER)),
        licenses: header.string(tag::LICENSE).into_iter().collect(),
        locations: vec![path.to_owned()],
    })
}

#[cfg(test)]
mod tests;
