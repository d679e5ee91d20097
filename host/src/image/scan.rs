//! One pass over a docker-archive tarball, open to visitors.
//!
//! A `Read` wrapper hands a copy of every chunk to a thread that walks the
//! tar stream, so the tarball is read once, by whoever reads through the
//! wrapper. The thread hashes every member and keeps small ones (the
//! archive's `Contents`: manifest.json, configs, index.json), and reads each
//! member that is a layer (a tar, or a gzip of one) down to its entries,
//! which a `LayerVisitor` may ask for.
//!
//! Which member is a layer is only known from manifest.json, which may come
//! after the blobs (Docker 25+ writes `blobs/sha256/<hex>` first), so every
//! member is sniffed: gzip magic, or a valid tar header. The visitor sees
//! each layer under its member path and digest and orders them later, by
//! manifest.json; a member sniffed as a layer that is not one is simply a
//! layer nobody lists.

use super::layer;
use super::tar_walk::TarWalk;
use super::visit::Kind;
pub use super::visit::{
    LayerEnd, LayerEntry, LayerVisitor, Limits, Member, NoLayers, TooLarge, Want, drain, normalize,
};
use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Chunks go to the parser this big (fewer hand-overs than raw reads).
const CHUNK: usize = 256 * 1024;
/// Chunks in flight between the reader and the parser: bounds the memory.
const QUEUE: usize = 4;
/// Entries up to this size are kept in memory (manifests, configs).
const KEEP_ENTRY: u64 = 1 << 20;
/// All kept entries together stay below this.
const KEEP_TOTAL: u64 = 16 << 20;
/// Symlink hops followed before giving up (a loop).
const MAX_LINK_HOPS: usize = 8;

/// Why the archive itself could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ScanError(String);

/// Every regular file and link of the archive, by normalized path.
#[derive(Debug, Default)]
pub struct Contents {
    members: HashMap<String, Member>,
}

impl Contents {
    /// The file at `path`, following links.
    pub fn file(&self, path: &str) -> Option<&Member> {
        let mut path = normalize(path);
        for _ in 0..MAX_LINK_HOPS {
            let member = self.members.get(&path)?;
            match &member.link {
                Some(target) => path = target.clone(),
                None => return Some(member),
            }
        }
        None
    }
}

/// What a finished scan saw.
pub struct Scanned<V> {
    pub contents: Contents,
    pub visitor: Option<V>,
}

/// A symlink's target is relative to the link's own folder.
fn symlink_target(link_path: &str, target: &str) -> String {
    match link_path.rsplit_once('/') {
        Some((folder, _)) if !target.starts_with('/') => normalize(&format!("{folder}/{target}")),
        _ => normalize(target),
    }
}

/// Passes `inner`'s bytes through unchanged and scans a copy of them.
pub struct Scan<R, V = NoLayers> {
    inner: R,
    pending: Vec<u8>,
    sender: Option<SyncSender<Vec<u8>>>,
    parser: JoinHandle<Result<Scanned<V>, String>>,
}

impl<R: Read> Scan<R> {
    /// Hashes the members, reads no layer down to its entries.
    pub fn new(inner: R) -> Self {
        Self::start(inner, None, Limits::default())
    }
}

impl<R: Read, V: LayerVisitor> Scan<R, V> {
    /// Also hands every layer's entries to `visitor`.
    pub fn with_visitor(inner: R, visitor: V, limits: Limits) -> Self {
        Self::start(inner, Some(visitor), limits)
    }

    /// Hands every layer's entries to `visitor` when there is one; without
    /// it, only hashes the members (a `Scan<R, V>` either way, for a caller
    /// that decides at run time).
    pub fn start(inner: R, visitor: Option<V>, limits: Limits) -> Self {
        let (sender, receiver) = sync_channel(QUEUE);
        let parser =
            std::thread::spawn(move || scan(ChannelReader::new(receiver), visitor, limits));
        Self {
            inner,
            pending: Vec::with_capacity(CHUNK),
            sender: Some(sender),
            parser,
        }
    }

    /// Hands the pending bytes to the parser. A parser that stopped (a bad
    /// archive) says why in `finish`; the bytes still pass through.
    fn hand_over(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let chunk = std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK));
        if let Some(sender) = &self.sender
            && sender.send(chunk).is_err()
        {
            self.sender = None;
        }
    }

    /// Ends the stream and returns what the parser saw. Call it after the
    /// reader got end of file; an archive cut short is refused.
    pub fn finish(mut self) -> Result<Scanned<V>, ScanError> {
        self.hand_over();
        drop(self.sender.take());
        self.parser
            .join()
            .map_err(|_| ScanError("the archive parser failed".into()))?
            .map_err(ScanError)
    }
}

impl<R: Read, V: LayerVisitor> Read for Scan<R, V> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pending.extend_from_slice(&buf[..n]);
        if self.pending.len() >= CHUNK || n == 0 {
            self.hand_over();
        }
        Ok(n)
    }
}

/// The parser's side of the queue; the end of the queue is end of file.
struct ChannelReader {
    receiver: Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
}

impl ChannelReader {
    fn new(receiver: Receiver<Vec<u8>>) -> Self {
        Self {
            receiver,
            chunk: Vec::new(),
            at: 0,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.receiver.recv() {
                Ok(chunk) => (self.chunk, self.at) = (chunk, 0),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn scan<V: LayerVisitor>(
    reader: ChannelReader,
    mut visitor: Option<V>,
    limits: Limits,
) -> Result<Scanned<V>, String> {
    let bad = |err: io::Error| format!("the archive is not a readable tar file: {err}");
    let mut walk = TarWalk::new(reader, limits.members, limits.path);
    let mut contents = Contents::default();
    let mut kept = 0u64;
    while let Some(header) = walk.next_member().map_err(bad)? {
        let path = normalize(&header.path);
        let member = match header.kind {
            Kind::Symlink | Kind::HardLink => {
                let target = header
                    .link
                    .filter(|target| !target.is_empty())
                    .ok_or_else(|| format!("the archive's link {path} has no target"))?;
                Member {
                    link: Some(match header.kind {
                        Kind::Symlink => symlink_target(&path, &target),
                        _ => normalize(&target),
                    }),
                    ..Member::default()
                }
            }
            Kind::File => {
                let keep = header.size <= KEEP_ENTRY && kept + header.size <= KEEP_TOTAL;
                let member = layer::read_member(&mut walk, &path, keep, visitor.as_mut(), &limits)
                    .map_err(bad)?;
                kept += member.content.as_ref().map_or(0, |c| c.len() as u64);
                member
            }
            Kind::Directory | Kind::Other => continue,
        };
        contents.members.insert(path, member);
    }
    Ok(Scanned { contents, visitor })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use sha2::{Digest, Sha256};
    use std::io::Write;

    /// A tar made by the `tar` crate's own writer: (path, bytes) files and
    /// (path, target) symlinks.
    pub fn tarball(files: &[(&str, &[u8])], symlinks: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, bytes) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            builder.append_data(&mut header, path, *bytes).unwrap();
        }
        for (path, target) in symlinks {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            builder.append_link(&mut header, path, target).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// Reads `bytes` through `scan` in small reads, as a pipeline's reader
    /// may make them; returns the bytes that came through and the result.
    fn read_all<V: LayerVisitor>(
        mut scan: Scan<&[u8], V>,
    ) -> (Vec<u8>, Result<Scanned<V>, ScanError>) {
        let mut copy = Vec::new();
        let mut buffer = [0u8; 1000];
        loop {
            let n = scan.read(&mut buffer).unwrap();
            if n == 0 {
                break;
            }
            copy.extend_from_slice(&buffer[..n]);
        }
        (copy, scan.finish())
    }

    pub fn read_through(bytes: &[u8]) -> (Vec<u8>, Result<Contents, ScanError>) {
        let (copy, scanned) = read_all(Scan::new(bytes));
        (copy, scanned.map(|scanned| scanned.contents))
    }

    fn visit(bytes: &[u8], limits: Limits) -> (Contents, Recorder) {
        let (copy, scanned) = read_all(Scan::with_visitor(bytes, Recorder::default(), limits));
        assert_eq!(copy, bytes);
        let scanned = scanned.unwrap();
        (scanned.contents, scanned.visitor.unwrap())
    }

    /// Keeps `etc/os-release`, streams `usr/bin/tool`, notes every layer.
    #[derive(Default)]
    struct Recorder {
        layer: String,
        stream: Option<(Sha256, usize)>,
        kept: Vec<(String, String, Result<Vec<u8>, TooLarge>)>,
        streamed: Vec<(String, String, usize)>,
        ends: Vec<(String, String, Option<String>, Option<String>)>,
    }

    impl LayerVisitor for Recorder {
        fn layer(&mut self, member: &str) {
            self.layer = member.into();
        }
        fn entry(&mut self, entry: &LayerEntry<'_>) -> Want {
            match entry.path {
                "etc/os-release" => Want::Keep(1024),
                "usr/bin/tool" => {
                    self.stream = Some((Sha256::new(), 0));
                    Want::Stream
                }
                "big" => Want::Keep(10),
                _ => Want::Skip,
            }
        }
        fn chunk(&mut self, _: &LayerEntry<'_>, bytes: &[u8]) {
            let (hasher, chunks) = self.stream.as_mut().unwrap();
            hasher.update(bytes);
            *chunks += 1;
        }
        fn streamed(&mut self, entry: &LayerEntry<'_>) {
            let (hasher, chunks) = self.stream.take().unwrap();
            let digest = hex::encode(hasher.finalize());
            self.streamed
                .push((format!("{}:{}", self.layer, entry.path), digest, chunks));
        }
        fn kept(&mut self, entry: &LayerEntry<'_>, content: Result<Vec<u8>, TooLarge>) {
            let layer = self.layer.clone();
            self.kept.push((layer, entry.path.into(), content));
        }
        fn layer_end(&mut self, end: &LayerEnd<'_>) {
            assert_eq!(end.member, self.layer);
            self.ends.push((
                end.member.into(),
                hex::encode(end.digest),
                end.diff_id.map(hex::encode),
                end.problem.map(Into::into),
            ));
        }
    }

    const CLASSIC: &[u8] = include_bytes!("../../../tests/fixtures/image/classic.tar");
    const OCI: &[u8] = include_bytes!("../../../tests/fixtures/image/oci.tar");
    /// Computed by hashlib in make_archives.py, not by this code.
    const DIGESTS: &str = include_str!("../../../tests/fixtures/image/digests.json");
    const OS_RELEASE: &[u8] =
        b"ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n";

    #[test]
    fn a_visitor_keeps_and_streams_files_of_gzip_layers_in_both_layouts() {
        let digests: serde_json::Value = serde_json::from_str(DIGESTS).unwrap();
        let tool = digests["usr/bin/tool"].as_str().unwrap();
        for (name, archive) in [("classic.tar", CLASSIC), ("oci.tar", OCI)] {
            let (contents, recorder) = visit(archive, Limits::default());
            let expected = digests[name].as_object().unwrap();
            let gzip_layer = expected
                .iter()
                .find(|(_, d)| d["digest"] != d["diff_id"])
                .map(|(member, _)| member.as_str())
                .unwrap();
            // The layers end with the digests hashlib computed, in archive order.
            let mut seen: Vec<&str> = Vec::new();
            for (member, digest, diff_id, problem) in &recorder.ends {
                assert_eq!(digest, &expected[member]["digest"], "{name} {member}");
                assert_eq!(diff_id.as_deref(), expected[member]["diff_id"].as_str());
                assert_eq!(problem, &None);
                let diff_id = contents.file(member).unwrap().diff_id.map(hex::encode);
                assert_eq!(diff_id.as_deref(), expected[member]["diff_id"].as_str());
                seen.push(member);
            }
            seen.sort();
            assert_eq!(
                seen,
                expected.keys().map(String::as_str).collect::<Vec<_>>()
            );
            // os-release kept whole; the tool streamed in several chunks.
            assert_eq!(recorder.kept.len(), 1, "{name}");
            let (layer, path, content) = &recorder.kept[0];
            assert_eq!(
                (layer.as_str(), path.as_str()),
                (gzip_layer, "etc/os-release")
            );
            assert_eq!(content.as_deref().unwrap(), OS_RELEASE);
            let [(file, digest, chunks)] = recorder.streamed.as_slice() else {
                panic!("{:?}", recorder.streamed)
            };
            assert_eq!(file, &format!("{gzip_layer}:usr/bin/tool"));
            assert_eq!((digest.as_str(), *chunks > 1), (tool, true));
            assert!(contents.file("manifest.json").unwrap().content.is_some());
        }
    }

    /// An archive of one gzip layer (a tar of `files`) and a manifest.json
    /// after it.
    fn one_layer_archive(layer: &[u8]) -> Vec<u8> {
        tarball(&[("blobs/sha256/l", layer), ("manifest.json", b"[]")], &[])
    }

    fn the_end(recorder: &Recorder) -> (Option<String>, String) {
        let [(_, _, diff_id, problem)] = recorder.ends.as_slice() else {
            panic!("{:?}", recorder.ends)
        };
        (diff_id.clone(), problem.clone().unwrap_or_default())
    }

    #[test]
    fn a_decompression_bomb_stops_at_the_bound() {
        let zeros = vec![0u8; 8 << 20];
        let layer = gzip(&tarball(&[("usr/bin/tool", &zeros)], &[]));
        assert!(layer.len() < 100 << 10);
        let limits = Limits {
            inflated_layer: 1 << 20,
            ..Limits::default()
        };
        let (contents, recorder) = visit(&one_layer_archive(&layer), limits);
        let (diff_id, problem) = the_end(&recorder);
        assert_eq!(diff_id, None);
        assert!(problem.contains("more than 1048576 bytes"), "{problem}");
        // The member is still hashed whole, and the scan goes on after it.
        let member = contents.file("blobs/sha256/l").unwrap();
        assert_eq!(member.sha256, <[u8; 32]>::from(Sha256::digest(&layer)));
        assert_eq!(member.problem.as_deref(), Some(problem.as_str()));
        assert!(contents.file("manifest.json").is_some());
    }

    #[test]
    fn a_corrupt_gzip_layer_is_a_problem_not_a_failure() {
        let mut layer = gzip(&tarball(&[("etc/os-release", OS_RELEASE)], &[]));
        let middle = layer.len() / 2;
        layer[middle] ^= 0x55;
        let (contents, recorder) = visit(&one_layer_archive(&layer), Limits::default());
        let (diff_id, problem) = the_end(&recorder);
        assert_eq!(diff_id, None);
        assert!(problem.contains("gzip"), "{problem}");
        assert!(contents.file("manifest.json").unwrap().content.is_some());
    }

    #[test]
    fn entries_paths_and_kept_sizes_are_bounded() {
        let files: Vec<(String, Vec<u8>)> = (0..10).map(|n| (format!("f{n}"), vec![])).collect();
        let files: Vec<(&str, &[u8])> = files.iter().map(|(p, b)| (p.as_str(), &b[..])).collect();
        let limits = Limits {
            layer_entries: 5,
            ..Limits::default()
        };
        let (_, recorder) = visit(&one_layer_archive(&gzip(&tarball(&files, &[]))), limits);
        let (diff_id, problem) = the_end(&recorder);
        // The tar is refused past the bound; the layer still has its diff_id.
        assert!(
            diff_id.is_some() && problem.contains("more than 5 members"),
            "{problem}"
        );

        let long = "d/".repeat(100) + "f";
        let limits = Limits {
            path: 100,
            ..Limits::default()
        };
        let layer = gzip(&tarball(&[(&long, b"x"), ("big", &[1u8; 11])], &[]));
        let (_, recorder) = visit(&one_layer_archive(&layer), limits);
        assert!(the_end(&recorder).1.contains("longer than 100 bytes"));
        let (_, recorder) = visit(&one_layer_archive(&layer), Limits::default());
        let (_, path, content) = &recorder.kept[0];
        assert_eq!(path, "big");
        assert_eq!(
            content,
            &Err(TooLarge {
                size: 11,
                limit: 10
            })
        );
    }

    #[test]
    fn bytes_pass_unchanged_and_every_entry_is_hashed() {
        let big = vec![7u8; 3 << 20];
        let archive = tarball(
            &[("manifest.json", b"[]"), ("abc/layer.tar", &big)],
            &[("def/layer.tar", "../abc/layer.tar")],
        );
        let (copy, contents) = read_through(&archive);
        assert_eq!(copy, archive);
        let contents = contents.unwrap();
        let layer = contents.file("./def/layer.tar").unwrap();
        assert_eq!(layer.sha256, <[u8; 32]>::from(Sha256::digest(&big)));
        assert!(layer.content.is_none(), "3 MiB is not kept");
        assert_eq!(
            contents.file("manifest.json").unwrap().content.as_deref(),
            Some(&b"[]"[..])
        );
    }

    #[test]
    fn gzip_entries_are_also_hashed_gunzipped() {
        let plain = b"layer bytes".repeat(1000);
        let gz = gzip(&plain);
        let (_, contents) = read_through(&tarball(&[("blobs/sha256/x", &gz)], &[]));
        let entry = contents.unwrap().members.remove("blobs/sha256/x").unwrap();
        assert_eq!(entry.diff_id, Some(Sha256::digest(&plain).into()));
    }

    #[test]
    fn a_file_that_is_no_tar_is_refused() {
        let (copy, contents) = read_through(&[0x55u8; 5000]);
        assert_eq!(copy.len(), 5000);
        assert!(contents.unwrap_err().to_string().contains("tar"));
    }
}
