//! Rust binaries built with `cargo auditable`: the dependency list it
//! embeds in the `.dep-v0` section (zlib-compressed JSON: packages with
//! name, version, source, kind, dependencies).
//!
//! The section table sits at the end of an ELF file, after the section it
//! would point to, so a single forward read cannot look the section up.
//! Instead the sift tries every place a zlib stream could begin (two
//! header bytes in 2^14) on a few dozen bytes, and keeps the one stream
//! that inflates to `{"packages":[`, inflating it as it streams past, up to
//! a bound. Purls as syft 1.18.1 writes them, `pkg:cargo/NAME@VERSION`,
//! the binary's own crate (`"root": true`, source `local`) among them,
//! build dependencies (`"kind": "build"`) not.

use super::catalog::{Cataloger, Content, Distro, FileMeta, Found, Problem, Sift, Take};
use super::package::{Ecosystem, Package, merge_by_purl};
use super::purl::Purl;
use super::stream_search::{ELF_MAGIC, Prefix, executable};
use flate2::{Decompress, FlushDecompress, Status};

const JSON_START: &[u8] = br#"{"packages":["#;
/// Compressed bytes tried at each candidate: enough to inflate the start.
const TRIAL: usize = 64;
/// The dependency list of a large program is some hundreds of KB.
const JSON_LIMIT: usize = 8 << 20;
pub struct CargoAuditable;

impl Cataloger for CargoAuditable {
    fn name(&self) -> &'static str {
        "cargo-auditable"
    }

    fn wants(&self, file: &FileMeta<'_>) -> Option<Take> {
        executable(file)
    }

    fn sift(&self, _file: &FileMeta<'_>) -> Box<dyn Sift> {
        Box::new(AuditSift::default())
    }

    fn catalog(
        &self,
        files: &[Found],
        _distro: Option<&Distro>,
        problems: &mut Vec<Problem>,
    ) -> Vec<Package> {
        let mut packages = Vec::new();
        for found in files {
            let listed = found
                .content
                .bytes()
                .map_err(|e| e.to_string())
                .and_then(|json| parse(&json));
            match listed {
                Ok(listed) => {
                    let shipped = listed
                        .into_iter()
                        .filter(|p| p.kind.as_deref() != Some("build"));
                    packages.extend(shipped.map(|p| package(p, &found.path)));
                }
                Err(error) => problems.push(Problem(format!(
                    "The cargo-auditable dependency list of {} could not be read: {error}.",
                    found.path
                ))),
            }
        }
        merge_by_purl(packages)
    }
}

#[derive(Default)]
struct AuditSift {
    elf: Prefix,
    /// The bytes not yet tried as a candidate's start (fewer than
    /// `TRIAL` are carried between pieces).
    window: Vec<u8>,
    /// The stream found, inflating.
    inflating: Option<Inflating>,
    /// Its JSON, once the stream ended or hit the bound.
    json: Option<Result<Vec<u8>, String>>,
}

struct Inflating {
    zlib: Decompress,
    json: Vec<u8>,
}

impl AuditSift {
    fn search(&mut self, piece: &[u8]) {
        self.window.extend_from_slice(piece);
        let tried = self.window.len().saturating_sub(TRIAL - 1);
        let starts = memchr::memchr_iter(0x78, &self.window[..tried]);
        let found = starts
            .filter(|&at| is_zlib_header(self.window[at], self.window[at + 1]))
            .find_map(|at| {
                let inflating = start_inflating(&self.window[at..at + TRIAL])?;
                Some((at, inflating))
            });
        match found {
            Some((at, inflating)) => {
                let rest = self.window.split_off(at);
                self.window.clear();
                self.inflating = Some(inflating);
                self.inflate(&rest);
            }
            None => drop(self.window.drain(..tried)),
        }
    }

    fn inflate(&mut self, mut input: &[u8]) {
        let Some(inflating) = &mut self.inflating else {
            return;
        };
        while !input.is_empty() {
            let before = (inflating.zlib.total_in(), inflating.json.len());
            inflating.json.reserve(
                input
                    .len()
                    .saturating_mul(4)
                    .min(JSON_LIMIT + 1 - inflating.json.len()),
            );
            let status =
                inflating
                    .zlib
                    .decompress_vec(input, &mut inflating.json, FlushDecompress::None);
            input = &input[(inflating.zlib.total_in() - before.0) as usize..];
            let ended = match status {
                Ok(Status::StreamEnd) => Some(Ok(())),
                Err(error) => Some(Err(format!("its compressed stream is damaged ({error})"))),
                _ if inflating.json.len() > JSON_LIMIT => {
                    Some(Err(format!("it inflates past {} MiB", JSON_LIMIT >> 20)))
                }
                // With input and room for output, inflating always moves.
                _ if (
                    inflating.zlib.total_in() - before.0,
                    inflating.json.len() - before.1,
                ) == (0, 0) =>
                {
                    Some(Err("its compressed stream stalls".into()))
                }
                _ => None,
            };
            if let Some(ended) = ended {
                let json = std::mem::take(&mut inflating.json);
                self.json = Some(ended.map(|()| json));
                self.inflating = None;
                return;
            }
        }
    }
}

/// The two bytes a zlib stream starts with: deflate, 32 KiB window, and a
/// check that makes them a multiple of 31.
fn is_zlib_header(method: u8, flags: u8) -> bool {
    method == 0x78 && (u16::from(method) << 8 | u16::from(flags)) % 31 == 0 && flags & 0x20 == 0
}

/// A decompressor already past the candidate's start, if it inflates to
/// the start of a cargo-auditable list; restarted so the caller feeds it
/// from the beginning.
fn start_inflating(trial: &[u8]) -> Option<Inflating> {
    let mut zlib = Decompress::new(true);
    let mut start = Vec::with_capacity(JSON_START.len() + 256);
    zlib.decompress_vec(trial, &mut start, FlushDecompress::None)
        .ok()?;
    if !start.starts_with(JSON_START) {
        return None;
    }
    zlib.reset(true);
    Some(Inflating {
        zlib,
        json: Vec::new(),
    })
}

impl Sift for AuditSift {
    fn update(&mut self, bytes: &[u8]) {
        if self.elf.update(ELF_MAGIC, bytes) != Some(true) || self.json.is_some() {
            return;
        }
        match self.inflating {
            Some(_) => self.inflate(bytes),
            None => self.search(bytes),
        }
    }

    fn finish(self: Box<Self>) -> Option<Content> {
        match (self.json, self.inflating) {
            (Some(Ok(json)), _) => Some(Content::Bytes(json)),
            // A damaged stream is handed on as bytes that are no JSON, for
            // the catalog to report.
            (Some(Err(error)), _) => Some(Content::Bytes(format!("\0{error}").into_bytes())),
            (None, Some(_)) => Some(Content::Bytes(
                b"\0the file ends inside its compressed stream".to_vec(),
            )),
            (None, None) => None,
        }
    }
}

#[derive(serde::Deserialize)]
struct Listed {
    packages: Vec<Listing>,
}

#[derive(serde::Deserialize)]
struct Listing {
    name: String,
    version: String,
    /// `build` for a build dependency, which is not in the binary: syft
    /// leaves those out.
    #[serde(default)]
    kind: Option<String>,
}

fn parse(json: &[u8]) -> Result<Vec<Listing>, String> {
    if let Some(error) = json.strip_prefix(b"\0") {
        return Err(String::from_utf8_lossy(error).into_owned());
    }
    serde_json::from_slice::<Listed>(json)
        .map(|l| l.packages)
        .map_err(|e| format!("its JSON is not a dependency list ({e})"))
}

fn package(listing: Listing, location: &str) -> Package {
    let purl = Purl {
        kind: Ecosystem::Cargo.purl_type(),
        name: &listing.name,
        version: &listing.version,
        ..Purl::default()
    };
    Package {
        ecosystem: Ecosystem::Cargo,
        purl: purl.to_string(),
        name: listing.name,
        version: listing.version,
        supplier: None,
        licenses: Vec::new(),
        locations: vec![location.to_owned()],
    }
}

#[cfg(test)]
mod tests;
