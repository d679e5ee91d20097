//! The image's filesystem as it runs, for the catalogers, from the one
//! scan of the tarball: a `LayerVisitor` that keeps, per layer, only the
//! files some cataloger (or the os-release reader) asked for, with the
//! layer's whiteouts and opaque directories; at the end the layers are
//! stacked in manifest.json's order and each cataloger gets what is
//! visible.
//!
//! The archive's members may come in any order (Docker 25+ writes the
//! blobs before manifest.json), so nothing is stacked until the end.
//! What is kept is bounded by the catalogers' own limits. One file may
//! have several askers (an executable is read for Go build information
//! and for cargo-auditable's section): each gets its own copy.

use super::catalog::{Cataloger, Content, FileMeta, Found, Problem, Sift, Take};
use super::distro;
use super::package::Package;
use crate::image::Kind;
use crate::image::visit::{LayerEnd, LayerEntry, LayerVisitor, TooLarge, Want, normalize};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;

const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// Who asked for a file: a cataloger (by index) or the os-release reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Asker {
    Distro,
    Cataloger(usize),
}

/// One asker's copy of a file.
struct Kept {
    asker: Asker,
    content: Content,
}

/// What one layer contributes to the filesystem.
#[derive(Default)]
struct Layer {
    /// Per path, a copy for each asker.
    files: BTreeMap<String, Vec<Kept>>,
    /// Paths a `.wh.NAME` entry removes from the layers below.
    whiteouts: Vec<String>,
    /// Directories whose lower contents a `.wh..wh..opq` entry hides.
    opaque: Vec<String>,
}

/// A streamed entry, as one asker reads it.
enum Reading {
    Sifting(Box<dyn Sift>),
    /// A whole-file asker of a file others stream; `None` once too large.
    Collecting(Option<Vec<u8>>, u64),
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
    /// The askers of the entry being streamed, each with its reading.
    reading: Vec<(Asker, Reading)>,
    /// Each layer by its archive member path.
    layers: HashMap<String, Layer>,
    problems: Vec<Problem>,
}

/// What the squashed image holds.
pub struct Squashed {
    pub packages: Vec<Package>,
    pub problems: Vec<Problem>,
}

impl Squasher {
    pub fn new(catalogers: Vec<Box<dyn Cataloger>>) -> Self {
        Self {
            catalogers,
            current: Layer::default(),
            reading: Vec::new(),
            layers: HashMap::new(),
            problems: Vec::new(),
        }
    }

    /// Everyone who wants the file, and how.
    fn askers(&self, file: &FileMeta<'_>) -> Vec<(Asker, Take)> {
        let distro = distro::wants(file).map(|take| (Asker::Distro, take));
        let catalogers = self.catalogers.iter().enumerate();
        let wanted = catalogers.filter_map(|(index, cataloger)| {
            cataloger
                .wants(file)
                .map(|take| (Asker::Cataloger(index), take))
        });
        distro.into_iter().chain(wanted).collect()
    }

    /// How one asker reads a streamed entry.
    fn reading(&mut self, file: &FileMeta<'_>, asker: Asker, take: Take) -> Option<Reading> {
        match (take, asker) {
            (Take::Whole { limit }, _) => Some(Reading::Collecting(Some(Vec::new()), limit)),
            (Take::Sift, Asker::Cataloger(index)) => {
                Some(Reading::Sifting(self.catalogers[index].sift(file)))
            }
            (Take::Sift, Asker::Distro) => unreachable!("os-release is read whole"),
            (Take::Spool { limit }, _) => match tempfile::NamedTempFile::new() {
                Ok(spool) => Some(Reading::Spooling {
                    file: spool,
                    written: 0,
                    limit,
                    failed: false,
                }),
                Err(err) => {
                    self.problem(format!(
                        "/{}: no temporary file to spool it to: {err}",
                        file.path
                    ));
                    None
                }
            },
        }
    }

    fn keep(&mut self, path: &str, asker: Asker, content: Content) {
        let copies = self.current.files.entry(path.to_string()).or_default();
        copies.push(Kept { asker, content });
    }

    fn problem(&mut self, sentence: String) {
        self.problems.push(Problem(sentence));
    }

    fn too_large(&mut self, path: &str, size: u64, limit: u64) {
        self.problem(format!(
            "/{path} is {size} bytes, more than the {limit} read of it"
        ));
    }

    /// Stacks the layers in `order` (manifest.json's, base first) and
    /// catalogs what is visible.
    pub fn finish(mut self, order: &[String]) -> Squashed {
        let mut visible: BTreeMap<String, Vec<Kept>> = BTreeMap::new();
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
        for (path, copies) in visible {
            for kept in copies {
                let found = Found {
                    path: path.clone(),
                    content: kept.content,
                };
                by_asker.entry(kept.asker).or_default().push(found);
            }
        }
        let distro = by_asker
            .remove(&Asker::Distro)
            .and_then(|files| distro::detect(&files));
        let mut packages = Vec::new();
        for (index, cataloger) in self.catalogers.iter().enumerate() {
            if let Some(files) = by_asker.remove(&Asker::Cataloger(index)) {
                packages.extend(cataloger.catalog(&files, distro.as_ref(), &mut self.problems));
            }
        }
        Squashed {
            packages,
            problems: self.problems,
        }
    }

    /// A hard link to a file this layer already kept: the same content
    /// under the link's path, for each asker that has a copy in memory
    /// (the apk database is sometimes one).
    fn hard_link(&mut self, entry: &LayerEntry<'_>, askers: &[(Asker, Take)]) {
        let target = entry.link.map(normalize).unwrap_or_default();
        let copies: Vec<(Asker, Vec<u8>)> = self
            .current
            .files
            .get(&target)
            .into_iter()
            .flatten()
            .filter(|kept| askers.iter().any(|(asker, _)| *asker == kept.asker))
            .filter_map(|kept| match &kept.content {
                Content::Bytes(bytes) => Some((kept.asker, bytes.clone())),
                Content::Spooled(_) => None,
            })
            .collect();
        if copies.is_empty() {
            self.problem(format!(
                "/{} is a hard link to /{target}, which was not read: it is not catalogued",
                entry.path
            ));
        }
        for (asker, bytes) in copies {
            self.keep(entry.path, asker, Content::Bytes(bytes));
        }
    }
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
    let join = |name: &str| match dir {
        "" => name.to_string(),
        _ => format!("{dir}/{name}"),
    };
    match name {
        OPAQUE => Some(Marker::Opaque(dir.to_string())),
        _ => name
            .strip_prefix(WHITEOUT)
            .map(|gone| Marker::Whiteout(join(gone))),
    }
}

fn meta<'a>(entry: &LayerEntry<'a>) -> FileMeta<'a> {
    FileMeta {
        path: entry.path,
        size: entry.size,
        mode: entry.mode,
    }
}

impl LayerVisitor for Squasher {
    fn layer(&mut self, _member: &str) {
        self.current = Layer::default();
    }

    fn entry(&mut self, entry: &LayerEntry<'_>) -> Want {
        match marker(entry.path) {
            Some(Marker::Whiteout(path)) => self.current.whiteouts.push(path),
            Some(Marker::Opaque(dir)) => self.current.opaque.push(dir),
            None => return self.wanted(entry),
        }
        Want::Skip
    }

    fn chunk(&mut self, _entry: &LayerEntry<'_>, bytes: &[u8]) {
        for (_, reading) in &mut self.reading {
            match reading {
                Reading::Sifting(sift) => sift.update(bytes),
                Reading::Collecting(kept, limit) => {
                    let fits = kept
                        .as_ref()
                        .is_some_and(|kept| (kept.len() + bytes.len()) as u64 <= *limit);
                    match (fits, kept.as_mut()) {
                        (true, Some(kept)) => kept.extend_from_slice(bytes),
                        _ => *kept = None,
                    }
                }
                Reading::Spooling {
                    file,
                    written,
                    limit,
                    failed,
                } => {
                    *written += bytes.len() as u64;
                    *failed = *failed || *written > *limit || file.write_all(bytes).is_err();
                }
            }
        }
    }

    fn streamed(&mut self, entry: &LayerEntry<'_>) {
        for (asker, reading) in std::mem::take(&mut self.reading) {
            let content = match reading {
                Reading::Sifting(sift) => sift.finish(),
                Reading::Collecting(Some(bytes), _) => Some(Content::Bytes(bytes)),
                Reading::Collecting(None, limit) => {
                    self.too_large(entry.path, entry.size, limit);
                    None
                }
                Reading::Spooling {
                    failed: false,
                    file,
                    ..
                } => Some(Content::Spooled(file)),
                Reading::Spooling { written, limit, .. } => {
                    match written > limit {
                        true => self.too_large(entry.path, written, limit),
                        false => self.problem(format!(
                            "/{}: the temporary file could not be written",
                            entry.path
                        )),
                    }
                    None
                }
            };
            if let Some(content) = content {
                self.keep(entry.path, asker, content);
            }
        }
    }

    fn kept(&mut self, entry: &LayerEntry<'_>, content: Result<Vec<u8>, TooLarge>) {
        let bytes = match content {
            Ok(bytes) => bytes,
            Err(TooLarge { size, limit }) => return self.too_large(entry.path, size, limit),
        };
        for (asker, take) in self.askers(&meta(entry)) {
            match take {
                Take::Whole { limit } if bytes.len() as u64 > limit => {
                    self.too_large(entry.path, bytes.len() as u64, limit)
                }
                _ => self.keep(entry.path, asker, Content::Bytes(bytes.clone())),
            }
        }
    }

    fn layer_end(&mut self, end: &LayerEnd<'_>) {
        // An entry cut short by the layer's end is dropped, not half-read.
        self.reading.clear();
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
    /// A file (not a whiteout): how its askers want it. Whole files alone
    /// are kept by the scan; when anyone streams, a whole-file asker beside
    /// it collects the stream.
    fn wanted(&mut self, entry: &LayerEntry<'_>) -> Want {
        let file = meta(entry);
        let askers = self.askers(&file);
        if askers.is_empty() {
            return Want::Skip;
        }
        match entry.kind {
            Kind::File => {}
            Kind::HardLink => {
                self.hard_link(entry, &askers);
                return Want::Skip;
            }
            _ => return Want::Skip,
        }
        let wholes: Option<Vec<u64>> = askers
            .iter()
            .map(|(_, take)| match take {
                Take::Whole { limit } => Some(*limit),
                _ => None,
            })
            .collect();
        if let Some(limits) = wholes {
            return Want::Keep(limits.into_iter().max().unwrap_or_default());
        }
        for (asker, take) in askers {
            if let Some(reading) = self.reading(&file, asker, take) {
                self.reading.push((asker, reading));
            }
        }
        Want::Stream
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::catalog::Distro;

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

    /// Counts the bytes of every executable it is handed: a stand-in for
    /// the Go and cargo-auditable catalogers, which both sift executables.
    struct Counter(&'static str);

    struct Count(u64);

    impl Sift for Count {
        fn update(&mut self, bytes: &[u8]) {
            self.0 += bytes.len() as u64;
        }
        fn finish(self: Box<Self>) -> Option<Content> {
            Some(Content::Bytes(self.0.to_string().into_bytes()))
        }
    }

    impl Cataloger for Counter {
        fn name(&self) -> &'static str {
            self.0
        }
        fn wants(&self, file: &FileMeta<'_>) -> Option<Take> {
            (file.mode & 0o111 != 0).then_some(Take::Sift)
        }
        fn sift(&self, _: &FileMeta<'_>) -> Box<dyn Sift> {
            Box::new(Count(0))
        }
        fn catalog(
            &self,
            files: &[Found],
            _: Option<&Distro>,
            _: &mut Vec<Problem>,
        ) -> Vec<Package> {
            files
                .iter()
                .map(|found| Package {
                    ecosystem: crate::sbom::package::Ecosystem::Go,
                    name: format!("{}:{}", self.0, found.path),
                    version: String::from_utf8(found.content.bytes().unwrap().into_owned())
                        .unwrap(),
                    purl: String::new(),
                    supplier: None,
                    licenses: Vec::new(),
                    locations: Vec::new(),
                })
                .collect()
        }
    }

    fn entry<'a>(path: &'a str, kind: Kind, mode: u32) -> LayerEntry<'a> {
        LayerEntry {
            path,
            kind,
            size: 6,
            mode,
            link: None,
        }
    }

    fn end(member: &str) -> LayerEnd<'_> {
        LayerEnd {
            member,
            digest: [0; 32],
            diff_id: Some([0; 32]),
            problem: None,
        }
    }

    #[test]
    fn every_asker_of_a_file_gets_it_and_later_layers_win() {
        let mut squasher = Squasher::new(vec![Box::new(Counter("go")), Box::new(Counter("cargo"))]);
        squasher.layer("base");
        for path in ["usr/bin/tool", "usr/bin/gone", "opt/app/run"] {
            let file = entry(path, Kind::File, 0o755);
            assert_eq!(squasher.entry(&file), Want::Stream);
            squasher.chunk(&file, b"abc");
            squasher.chunk(&file, b"def");
            squasher.streamed(&file);
        }
        squasher.layer_end(&end("base"));
        squasher.layer("top");
        assert_eq!(
            squasher.entry(&entry("usr/bin/.wh.gone", Kind::File, 0)),
            Want::Skip
        );
        assert_eq!(
            squasher.entry(&entry("opt/.wh..wh..opq", Kind::File, 0)),
            Want::Skip
        );
        let newer = entry("usr/bin/tool", Kind::File, 0o755);
        assert_eq!(squasher.entry(&newer), Want::Stream);
        squasher.chunk(&newer, b"abcdefgh");
        squasher.streamed(&newer);
        squasher.layer_end(&end("top"));
        let mut names: Vec<_> = squasher
            .finish(&["base".into(), "top".into()])
            .packages
            .into_iter()
            .map(|p| format!("{}={}", p.name, p.version))
            .collect();
        names.sort();
        assert_eq!(names, ["cargo:usr/bin/tool=8", "go:usr/bin/tool=8"]);
    }
}
