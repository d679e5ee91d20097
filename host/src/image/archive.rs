//! A docker-archive tarball read as it streams past: a `Read` wrapper hands
//! a copy of every chunk to a thread that walks the tar stream, hashing each
//! entry and keeping only small ones (manifest.json, configs), so the
//! tarball is read once, by whoever reads through the wrapper.

use crate::attest::Refusal;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{self, Read, Write};
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

/// One entry of the archive, as seen streaming.
#[derive(Debug, Default)]
pub struct Entry {
    pub sha256: [u8; 32],
    /// SHA-256 of the gunzipped content, for a gzip entry (a compressed
    /// layer blob, whose diff_id is the digest of the uncompressed tar).
    pub gunzipped_sha256: Option<[u8; 32]>,
    /// The bytes, when the entry is small enough to keep.
    pub content: Option<Vec<u8>>,
    /// For a symlink or hard link: the archive path it points at.
    pub link: Option<String>,
}

/// Every regular file and link of the archive, by normalized path.
#[derive(Debug, Default)]
pub struct Contents {
    entries: HashMap<String, Entry>,
}

impl Contents {
    /// The file at `path`, following links.
    pub fn file(&self, path: &str) -> Option<&Entry> {
        let mut path = normalize(path);
        for _ in 0..MAX_LINK_HOPS {
            let entry = self.entries.get(&path)?;
            match &entry.link {
                Some(target) => path = target.clone(),
                None => return Some(entry),
            }
        }
        None
    }
}

/// `a/./b/../c` -> `a/c`; leading `/` and `./` dropped.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// A symlink's target is relative to the link's own folder.
fn symlink_target(link_path: &str, target: &str) -> String {
    match link_path.rsplit_once('/') {
        Some((folder, _)) if !target.starts_with('/') => normalize(&format!("{folder}/{target}")),
        _ => normalize(target),
    }
}

/// Passes `inner`'s bytes through unchanged and parses a copy of them.
pub struct ArchiveTee<R> {
    inner: R,
    pending: Vec<u8>,
    sender: Option<SyncSender<Vec<u8>>>,
    parser: JoinHandle<Result<Contents, String>>,
}

impl<R: Read> ArchiveTee<R> {
    pub fn new(inner: R) -> Self {
        let (sender, receiver) = sync_channel(QUEUE);
        let parser = std::thread::spawn(move || parse(ChannelReader::new(receiver)));
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
    pub fn finish(mut self) -> Result<Contents, Refusal> {
        self.hand_over();
        drop(self.sender.take());
        self.parser
            .join()
            .map_err(|_| Refusal::new("the archive parser failed"))?
            .map_err(Refusal::new)
    }
}

impl<R: Read> Read for ArchiveTee<R> {
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

fn parse(reader: ChannelReader) -> Result<Contents, String> {
    let bad = |err: io::Error| format!("the archive is not a readable tar file: {err}");
    let mut archive = tar::Archive::new(reader);
    let mut contents = Contents::default();
    let mut kept = 0u64;
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let path = normalize(&entry.path().map_err(bad)?.to_string_lossy());
        let kind = entry.header().entry_type();
        let record = if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name()
                .map_err(bad)?
                .ok_or_else(|| format!("the archive's link {path} has no target"))?;
            let target = target.to_string_lossy();
            Entry {
                link: Some(match kind.is_symlink() {
                    true => symlink_target(&path, &target),
                    false => normalize(&target),
                }),
                ..Entry::default()
            }
        } else if kind.is_file() || kind.is_contiguous() {
            let keep = entry.size() <= KEEP_ENTRY && kept + entry.size() <= KEEP_TOTAL;
            let record = hash_entry(&mut entry, keep).map_err(bad)?;
            kept += record.content.as_ref().map_or(0, |c| c.len() as u64);
            record
        } else {
            continue;
        };
        contents.entries.insert(path, record);
    }
    Ok(contents)
}

/// Hashes an entry streaming; a gzip entry is also hashed gunzipped.
fn hash_entry(entry: &mut impl Read, keep: bool) -> io::Result<Entry> {
    let mut hasher = Sha256::new();
    let mut gunzip: Option<flate2::write::MultiGzDecoder<Sha256>> = None;
    let mut gzip_broken = false;
    let mut content = keep.then(Vec::new);
    let mut buffer = vec![0u8; 64 * 1024];
    let mut first = true;
    loop {
        let n = match entry.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        let bytes = &buffer[..n];
        if first && bytes.starts_with(&[0x1f, 0x8b]) {
            gunzip = Some(flate2::write::MultiGzDecoder::new(Sha256::new()));
        }
        first = false;
        hasher.update(bytes);
        if let Some(decoder) = gunzip.as_mut().filter(|_| !gzip_broken) {
            gzip_broken = decoder.write_all(bytes).is_err();
        }
        if let Some(content) = content.as_mut() {
            content.extend_from_slice(bytes);
        }
    }
    let gunzipped_sha256 = match gunzip {
        Some(decoder) if !gzip_broken => decoder.finish().ok().map(|h| h.finalize().into()),
        _ => None,
    };
    Ok(Entry {
        sha256: hasher.finalize().into(),
        gunzipped_sha256,
        content,
        link: None,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

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

    pub fn read_through(bytes: &[u8]) -> (Vec<u8>, Result<Contents, Refusal>) {
        let mut tee = ArchiveTee::new(bytes);
        let mut copy = Vec::new();
        // Small reads, as a pipeline's reader may make them.
        let mut buffer = [0u8; 1000];
        loop {
            let n = tee.read(&mut buffer).unwrap();
            if n == 0 {
                break;
            }
            copy.extend_from_slice(&buffer[..n]);
        }
        (copy, tee.finish())
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
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&plain).unwrap();
        let gz = encoder.finish().unwrap();
        let (_, contents) = read_through(&tarball(&[("blobs/sha256/x", &gz)], &[]));
        let entry = contents.unwrap().entries.remove("blobs/sha256/x").unwrap();
        assert_eq!(entry.gunzipped_sha256, Some(Sha256::digest(&plain).into()));
    }

    #[test]
    fn a_file_that_is_no_tar_is_refused() {
        let (copy, contents) = read_through(&[0x55u8; 5000]);
        assert_eq!(copy.len(), 5000);
        assert!(contents.unwrap_err().to_string().contains("tar"));
    }
}
