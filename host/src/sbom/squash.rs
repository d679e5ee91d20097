//! The image's filesystem as it runs, for the catalogers, from the one
//! scan of the tarball: a `LayerVisitor` that keeps, per layer, only the
//! files some cataloger (or the os-release reader) asked for, with the
//! layer's whiteouts and opaque directories; at the end the layers are
//! stacked in manifest.json's order and each cataloger gets what is
//! visible.
//!
//! The archive's members may come in any order (Docker 25+ writes the
//! blobs before manifest.json), so nothing is stacked until the end.
//! What is kept is bounded by the catalogers' own limits.

use super::catalog::{Cataloger, Content, FileMeta, Found, Problem, Sift, Take};
use super::distro;
use super::package::Package;
use crate::image::Kind;
use crate::image::visit::{LayerEnd, LayerEntry, LayerVisitor, TooLarge, Want};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;

/// Who asked for a file: a cataloger (by index) or the os-release reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Asker {
    Distro,
    Cataloger(usize),
}

/// A file one layer holds that somebody asked for.
struct Kept {
    asker: Asker,
    content: Content,
}

/// What one layer contributes to the filesystem.
#[derive(Default)]
struct Layer {
    files: BTreeMap<String, Kept>,
    /// Paths a `.wh.NAME` entry removes from the layers below.
    whiteouts: Vec<String>,
    /// Directories whose lower contents a `.wh..wh..opq` entry hides.
    opaque: Vec<String>,
}

/// An entry being read, by stream, for its asker.
enum Reading {
    Sifting(Box<dyn Sift>),
    Spooling {
        file: tempfile::NamedTempFile,
        written: u64,
        limit: u64,
        failed: bool,
    },
}

pub struct Squasher {
    catalogers: Vec<Box<dyn Cataloger>>,
    current: Layer,
    reading: Option<(Asker, Reading)>,
    /// Each layer by its archive member path.
    layers: HashMap<String, Layer>,
    problems: Vec<Problem>,
}

const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

impl Squasher {
    pub fn new(catalogers: Vec<Box<dyn Cataloger>>) -> Self {
        Self {
            catalogers,
            current: Layer::default(),
            reading: None,
            layers: HashMap::new(),
            problems: Vec::new(),
        }
    }

    fn asker(&self, file: &FileMeta<'_>) -> Option<(Asker, Take)> {
        if let Some(take) = distro::wants(file) {
            return Some((Asker::Distro, take));
        }
        self.catalogers
            .iter()
            .enumerate()
            .find_map(|(index, cataloger)| {
                cataloger
                    .wants(file)
                    .map(|take| (Asker::Cataloger(index), take))
            })
    }

    fn problem(&mut self, sentence: String) {
        self.problems.push(Problem(sentence));
    }

    /// Stacks the layers in `order` (manifest.json's, base first) and
    /// catalogs what is visible.
    pub fn finish(mut self, order: &[String]) -> Squashed {
        let mut visible: BTreeMap<String, Kept> = BTreeMap::new();
        for member in order {
            let Some(layer) = self.layers.remove(member) else {
                self.problem(format!(
                    "the layer {member} that manifest.json lists is not in the archive"
                ));
                continue;
            };
            for dir in &layer.opaque {
                visible.retain(|path, _| !is_under(path, dir));
            }
            for gone in &layer.whiteouts {
                visible.retain(|path, _| path != gone && !is_under(path, gone));
            }
            visible.extend(layer.files);
        }
        let mut by_asker: HashMap<Asker, Vec<Found>> = HashMap::new();
        for (path, kept) in visible {
            by_asker.entry(kept.asker).or_default().push(Found {
                path,
                content: kept.content,
            });
        }
        let distro = by_asker
            .remove(&Asker::Distro)
            .and_then(|files| distro::detect(&files));
        let mut packages = Vec::new();
        for (index, cataloger) in self.catalogers.iter().enumerate() {
            let files = by_asker
                .remove(&Asker::Cataloger(index))
                .unwrap_or_default();
            if !files.is_empty() {
                packages.extend(cataloger.catalog(&files, distro.as_ref(), &mut self.problems));
            }
        }
        Squashed {
            packages,
            distro,
            problems: self.problems,
        }
    }
}

/// What the squashed image holds.
pub struct Squashed {
    pub packages: Vec<Package>,
    pub distro: Option<super::catalog::Distro>,
    pub problems: Vec<Problem>,
}

fn is_under(path: &str, dir: &str) -> bool {
    dir.is_empty()
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// `a/b/.wh.c` -> `a/b/c`; `a/.wh..wh..opq` -> the opaque `a`.
enum Marker {
    Whiteout(String),
    Opaque(String),
}

fn marker(path: &str) -> Option<Marker> {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    let join = |name: &str| {
        if dir.is_empty() {
            name.to_string()
        } else {
            format!("{dir}/{name}")
        }
    };
    match name {
        OPAQUE => Some(Marker::Opaque(dir.to_string())),
        _ => name
            .strip_prefix(WHITEOUT)
            .map(|gone| Marker::Whiteout(join(gone))),
    }
}

impl LayerVisitor for Squasher {
    fn layer(&mut self, _member: &str) {
        self.current = Layer::default();
    }

    fn entry(&mut self, entry: &LayerEntry<'_>) -> Want {
        if let Some(marker) = marker(entry.path) {
            match marker {
                Marker::Whiteout(path) => self.current.whiteouts.push(path),
                Marker::Opaque(dir) => self.current.opaque.push(dir),
            }
            return Want::Skip;
        }
        let file = FileMeta {
            path: entry.path,
            size: entry.size,
            mode: entry.mode,
        };
        let Some((asker, take)) = self.asker(&file) else {
            return Want::Skip;
        };
        match entry.kind {
            Kind::File => {}
            Kind::HardLink => {
                self.hard_link(entry, asker);
                return Want::Skip;
            }
            _ => return Want::Skip,
        }
        match take {
            Take::Whole { limit } => Want::Keep(limit),
            Take::Sift => {
                let sift = match asker {
                    Asker::Cataloger(index) => self.catalogers[index].sift(&file),
                    Asker::Distro => unreachable!("os-release is read whole"),
                };
                self.reading = Some((asker, Reading::Sifting(sift)));
                Want::Stream
            }
            Take::Spool { limit } => match tempfile::NamedTempFile::new() {
                Ok(file) => {
                    self.reading = Some((
                        asker,
                        Reading::Spooling {
                            file,
                            written: 0,
                            limit,
                            failed: false,
                        },
                    ));
                    Want::Stream
                }
                Err(err) => {
                    self.problem(format!(
                        "/{}: no temporary file to spool it to: {err}",
                        entry.path
                    ));
                    Want::Skip
                }
            },
        }
    }

    fn chunk(&mut self, entry: &LayerEntry<'_>, bytes: &[u8]) {
        let Some((_, reading)) = &mut self.reading else {
            return;
        };
        match reading {
            Reading::Sifting(sift) => sift.update(bytes),
            Reading::Spooling {
                file,
                written,
                limit,
                failed,
            } => {
                *written += bytes.len() as u64;
                if *failed || *written > *limit {
                    *failed = true;
                    return;
                }
                if file.write_all(bytes).is_err() {
                    *failed = true;
                    self.problems.push(Problem(format!(
                        "/{}: the temporary file could not be written",
                        entry.path
                    )));
                }
            }
        }
    }

    fn streamed(&mut self, entry: &LayerEntry<'_>) {
        let Some((asker, reading)) = self.reading.take() else {
            return;
        };
        let content = match reading {
            Reading::Sifting(sift) => sift.finish(),
            Reading::Spooling {
                failed: true,
                written,
                limit,
                ..
            } => {
                if written > limit {
                    self.problem(format!(
                        "/{} is {written} bytes, more than the {limit} read of it",
                        entry.path
                    ));
                }
                None
            }
            Reading::Spooling { file, .. } => Some(Content::Spooled(file)),
        };
        if let Some(content) = content {
            self.current
                .files
                .insert(entry.path.to_string(), Kept { asker, content });
        }
    }

    fn kept(&mut self, entry: &LayerEntry<'_>, content: Result<Vec<u8>, TooLarge>) {
        let Some((asker, _)) = self.asker(&FileMeta {
            path: entry.path,
            size: entry.size,
            mode: entry.mode,
        }) else {
            return;
        };
        match content {
            Ok(bytes) => {
                self.current.files.insert(
                    entry.path.to_string(),
                    Kept {
                        asker,
                        content: Content::Bytes(bytes),
                    },
                );
            }
            Err(TooLarge { size, limit }) => {
                self.problem(format!(
                    "/{} is {size} bytes, more than the {limit} read of it",
                    entry.path
                ));
            }
        }
    }

    fn layer_end(&mut self, end: &LayerEnd<'_>) {
        // An entry cut short by the layer's end is dropped, not half-read.
        self.reading = None;
        if let Some(problem) = end.problem {
            self.problem(format!(
                "the layer {} could not be read to its end: {problem}",
                end.member
            ));
        }
        let layer = std::mem::take(&mut self.current);
        self.layers.insert(end.member.to_string(), layer);
    }
}

impl Squasher {
    /// A hard link to a file this layer already kept: the same content
    /// under the link's path (the apk database is sometimes one).
    fn hard_link(&mut self, entry: &LayerEntry<'_>, asker: Asker) {
        let target = entry
            .link
            .map(crate::image::visit::normalize)
            .unwrap_or_default();
        let copy = match self.current.files.get(&target).map(|kept| &kept.content) {
            Some(Content::Bytes(bytes)) => Some(Content::Bytes(bytes.clone())),
            _ => None,
        };
        match copy {
            Some(content) => {
                self.current
                    .files
                    .insert(entry.path.to_string(), Kept { asker, content });
            }
            None => self.problem(format!(
                "/{} is a hard link to /{target}, which was not read: it is not catalogued",
                entry.path
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_name_what_they_remove() {
        assert!(matches!(marker("etc/.wh.passwd"), Some(Marker::Whiteout(p)) if p == "etc/passwd"));
        assert!(matches!(marker(".wh.tmp"), Some(Marker::Whiteout(p)) if p == "tmp"));
        assert!(
            matches!(marker("usr/lib/.wh..wh..opq"), Some(Marker::Opaque(d)) if d == "usr/lib")
        );
        assert!(marker("etc/passwd").is_none());
    }

    #[test]
    fn under_means_below_the_directory() {
        assert!(is_under("usr/lib/x", "usr/lib"));
        assert!(!is_under("usr/libx", "usr/lib"));
        assert!(!is_under("usr/lib", "usr/lib"));
        assert!(is_under("anything", ""));
    }
}
