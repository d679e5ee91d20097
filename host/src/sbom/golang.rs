//! Go binaries: the module build information every Go binary since 1.13
//! carries (what `go version -m` prints), read as the binary streams past.
//!
//! Two things are kept, each bounded: the build-info header after the
//! `\xff Go buildinf:` magic (pointer size, flags and, since Go 1.18, the
//! toolchain version inline as a varint-prefixed string), and the module
//! list between the sentinels the linker wraps it in, which both the
//! inline form and the older pointer form (Go < 1.18) contain. The older
//! form points at the toolchain version from elsewhere in the file, which
//! a single forward read cannot follow: those binaries get no `stdlib`
//! package, and the SBOM says so.
//!
//! Packages as syft's: the main module (`(devel)` when built from a work
//! tree, unless the link flags or the VCS stamp say more: `main_version`), each dependency (its replacement when there is one: a local
//! folder gives `./greet@(devel)`), and `stdlib` at the toolchain version.

use super::catalog::{Cataloger, Content, Distro, FileMeta, Found, Problem, Sift, Take};
use super::package::{Ecosystem, Package, merge_by_purl};
use super::purl::Purl;
use super::stream_search::{ELF_MAGIC, Finder, Prefix, executable};

const MAGIC: &[u8] = b"\xff Go buildinf:";
const MODINFO_START: &[u8] = b"\x30\x77\xaf\x0c\x92\x74\x08\x02\x41\xe1\xc1\x07\xe6\xd6\x18\xe6";
const MODINFO_END: &[u8] = b"\xf9\x32\x43\x31\x86\x18\x20\x72\x00\x82\x42\x10\x41\x16\xd8\xf2";
/// The header's bytes after the magic (pointer size, flags, padding) and
/// room for an inline version string.
const HEADER_KEPT: usize = 18 + 10 + 118;
/// The module list of a large program (Kubernetes) is some 40 KB.
const MODINFO_LIMIT: usize = 1 << 20;
const FLAG_VERSION_INLINE: u8 = 2;
pub struct Golang;

impl Cataloger for Golang {
    fn name(&self) -> &'static str {
        "go"
    }

    fn wants(&self, file: &FileMeta<'_>) -> Option<Take> {
        executable(file)
    }

    fn sift(&self, _file: &FileMeta<'_>) -> Box<dyn Sift> {
        Box::new(BuildInfoSift::default())
    }

    fn catalog(
        &self,
        files: &[Found],
        _distro: Option<&Distro>,
        problems: &mut Vec<Problem>,
    ) -> Vec<Package> {
        let mut packages = Vec::new();
        for found in files {
            match found
                .content
                .bytes()
                .map_err(|e| e.to_string())
                .and_then(|kept| parse(&kept))
            {
                Ok(info) => {
                    problems.extend(info.shortfall(&found.path));
                    packages.extend(info.packages(&found.path));
                }
                Err(error) => problems.push(Problem(format!(
                    "The Go build information of {} could not be read: {error}.",
                    found.path
                ))),
            }
        }
        merge_by_purl(packages)
    }
}

/// Keeps the header and the module list of a streamed binary.
#[derive(Debug)]
struct BuildInfoSift {
    elf: Prefix,
    /// Where in the file the next piece begins.
    offset: u64,
    magic: Finder,
    /// The header's bytes after the magic, once it was found.
    header: Option<Vec<u8>>,
    start: Finder,
    end: Finder,
    /// The module list, from its start sentinel on.
    modinfo: Option<Vec<u8>>,
    modinfo_done: bool,
}

impl Default for BuildInfoSift {
    fn default() -> Self {
        Self {
            elf: Prefix::default(),
            offset: 0,
            magic: Finder::new(MAGIC),
            header: None,
            start: Finder::new(MODINFO_START),
            end: Finder::new(MODINFO_END),
            modinfo: None,
            modinfo_done: false,
        }
    }
}

impl BuildInfoSift {
    fn keep_header(&mut self, piece: &[u8]) {
        match &mut self.header {
            Some(header) => {
                let room = HEADER_KEPT - header.len();
                header.extend_from_slice(&piece[..piece.len().min(room)]);
            }
            None => {
                // The linker aligns the header to 16 bytes; the magic
                // anywhere else is a string in the program (one that reads
                // build information itself), and the search goes on.
                let mut rest = piece;
                while let Some(end) = self.magic.find(rest) {
                    let at =
                        self.offset + (piece.len() - rest.len() + end) as u64 - MAGIC.len() as u64;
                    rest = &rest[end..];
                    if at.is_multiple_of(16) {
                        self.header = Some(Vec::with_capacity(HEADER_KEPT));
                        return self.keep_header(rest);
                    }
                }
            }
        }
    }

    fn keep_modinfo(&mut self, piece: &[u8]) {
        if self.modinfo_done {
            return;
        }
        let piece = match &self.modinfo {
            Some(_) => piece,
            None => match self.start.find(piece) {
                Some(end) => {
                    self.modinfo = Some(Vec::new());
                    &piece[end..]
                }
                None => return,
            },
        };
        let modinfo = self.modinfo.as_mut().expect("set above");
        let taken = match self.end.find(piece) {
            Some(end) => {
                self.modinfo_done = true;
                &piece[..end]
            }
            None => piece,
        };
        let room = MODINFO_LIMIT + MODINFO_END.len() - modinfo.len();
        modinfo.extend_from_slice(&taken[..taken.len().min(room)]);
        if modinfo.len() >= MODINFO_LIMIT + MODINFO_END.len() {
            self.modinfo_done = true;
        }
    }
}

impl Sift for BuildInfoSift {
    fn update(&mut self, bytes: &[u8]) {
        if self.elf.update(ELF_MAGIC, bytes) == Some(true) {
            self.keep_header(bytes);
            self.keep_modinfo(bytes);
        }
        self.offset += bytes.len() as u64;
    }

    /// Kept: the header's length (one byte), the header, then the module
    /// list; nothing for a file without build information.
    fn finish(self: Box<Self>) -> Option<Content> {
        let header = self.header?;
        let mut kept = vec![header.len() as u8];
        kept.extend(header);
        kept.extend(self.modinfo.unwrap_or_default());
        Some(Content::Bytes(kept))
    }
}

/// A module path and version (`(devel)` when built from a work tree).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Module {
    path: String,
    version: String,
}

#[derive(Debug, Default)]
struct BuildInfo {
    /// `go1.19.8`; none in the pointer form.
    go_version: Option<String>,
    main: Option<Module>,
    deps: Vec<Module>,
    /// `build` lines: `-ldflags`, `vcs.revision`, ...
    settings: Vec<(String, String)>,
    /// The module list overran its bound and was cut.
    truncated: bool,
}

fn parse(kept: &[u8]) -> Result<BuildInfo, String> {
    let (&header_len, rest) = kept.split_first().ok_or("nothing was kept")?;
    let header = rest
        .get(..usize::from(header_len))
        .ok_or("the kept header is cut short")?;
    let modinfo = &rest[usize::from(header_len)..];
    let (Some(&pointer_size), Some(&flags)) = (header.first(), header.get(1)) else {
        return Err("its header is cut short".into());
    };
    if !matches!(pointer_size, 4 | 8) {
        return Err(format!(
            "its header gives a pointer size of {pointer_size} bytes"
        ));
    }
    let go_version = if flags & FLAG_VERSION_INLINE != 0 {
        Some(
            inline_string(header.get(18..).unwrap_or_default())
                .ok_or("its inline version is damaged")?,
        )
    } else {
        None
    };
    let (list, truncated) = match modinfo.strip_suffix(MODINFO_END) {
        Some(list) => (list, false),
        None => (modinfo, !modinfo.is_empty()),
    };
    let mut info = BuildInfo {
        go_version,
        truncated,
        ..BuildInfo::default()
    };
    read_modules(&String::from_utf8_lossy(list), &mut info);
    Ok(info)
}

/// A Go 1.18+ inline string: its length as a uvarint, then its bytes.
fn inline_string(bytes: &[u8]) -> Option<String> {
    let (mut length, mut shift, mut used) = (0u64, 0u32, 0usize);
    for &byte in bytes.iter().take(10) {
        used += 1;
        length |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            let text = bytes.get(used..used.checked_add(usize::try_from(length).ok()?)?)?;
            return Some(String::from_utf8_lossy(text).into_owned());
        }
        shift += 7;
    }
    None
}

/// `mod`, `dep` and `=>` lines, as `go version -m` prints them; a `=>`
/// line replaces the module on the line before it.
fn read_modules(list: &str, info: &mut BuildInfo) {
    for line in list.lines() {
        let mut fields = line.split('\t');
        let (Some(kind), Some(path)) = (fields.next(), fields.next()) else {
            continue;
        };
        let module = Module {
            path: path.to_owned(),
            version: fields.next().unwrap_or_default().to_owned(),
        };
        match kind {
            "mod" => info.main = Some(module),
            "dep" => info.deps.push(module),
            "build" => {
                if let Some((key, value)) = path.split_once('=') {
                    info.settings
                        .push((key.to_owned(), main_version::unquote(value)));
                }
            }
            "=>" => {
                let replaced = if info.deps.is_empty() {
                    info.main.as_mut()
                } else {
                    info.deps.last_mut()
                };
                if let Some(replaced) = replaced {
                    *replaced = module;
                }
            }
            _ => {}
        }
    }
}

impl BuildInfo {
    /// What of the binary's build information was not read.
    fn shortfall(&self, location: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.go_version.is_none() {
            problems.push(Problem(format!(
                "The Go binary {location} keeps its build information in the form before Go 1.18, whose toolchain version is not read: its stdlib is not listed."
            )));
        }
        if self.truncated {
            problems.push(Problem(format!(
                "The module list of the Go binary {location} is longer than {} KiB: only its start was read.",
                MODINFO_LIMIT >> 10
            )));
        }
        problems
    }

    fn packages(&self, location: &str) -> Vec<Package> {
        let stdlib = self.go_version.as_deref().map(|v| Module {
            path: "stdlib".into(),
            // `go1.22.0 X:boringcrypto` names the toolchain `go1.22.0`.
            version: v
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .trim_start_matches("go")
                .to_owned(),
        });
        let main = self.main.as_ref().map(|m| Module {
            path: m.path.clone(),
            version: main_version::of(m, &self.settings),
        });
        let modules = main.iter().chain(&self.deps).chain(&stdlib);
        modules
            .filter(|m| !m.path.is_empty())
            .map(|m| package(m, location))
            .collect()
    }
}

/// Namespace, name and subpath as syft splits a module path: a path of
/// more than three segments is a repository (`host/owner/name`) and a
/// subpath in it (`github.com/moby/sys` `#user`).
fn purl_parts(path: &str) -> (&str, &str, &str) {
    let mut cuts = path.match_indices('/').map(|(at, _)| at);
    match (cuts.next(), cuts.next(), cuts.next()) {
        (Some(_), Some(second), Some(third)) => (
            &path[..second],
            &path[second + 1..third],
            &path[third + 1..],
        ),
        _ => match path.rsplit_once('/') {
            Some((namespace, name)) => (namespace, name, ""),
            None => ("", path, ""),
        },
    }
}

fn package(module: &Module, location: &str) -> Package {
    let version = if module.version.is_empty() {
        "(devel)"
    } else {
        &module.version
    };
    let (namespace, name, subpath) = purl_parts(&module.path);
    let purl = Purl {
        kind: Ecosystem::Go.purl_type(),
        namespace,
        name,
        version,
        qualifiers: vec![],
        subpath,
    };
    Package {
        ecosystem: Ecosystem::Go,
        name: module.path.clone(),
        version: version.to_owned(),
        purl: purl.to_string(),
        supplier: None,
        licenses: if module.path == "stdlib" {
            vec!["BSD-3-Clause".into()]
        } else {
            vec![]
        },
        locations: vec![location.to_owned()],
    }
}

mod main_version;
#[cfg(test)]
mod tests;
