//! One member of the archive read to its end: hashed (and kept, if small)
//! and, when it is a layer (a tar, or a gzip or zstd of one), inflated for its
//! diff_id and, for a visitor, walked entry by entry. Every byte of the
//! member passes the member's hash exactly once, whatever the layer's tar
//! or gzip stream turns out to hold.

use super::tar_walk::{TarWalk, checksum};
use super::visit::{
    LayerEnd, LayerEntry, LayerVisitor, Limits, Member, TooLarge, Want, drain, normalize,
};
use sha2::{Digest, Sha256};
use std::io::{self, Read};

/// A visitor's streamed entries arrive in chunks this big.
const CHUNK: usize = 64 * 1024;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// RFC 8878's frame magic, little-endian 0xFD2FB528.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// What a member's first bytes say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sniffed {
    GzipLayer,
    ZstdLayer,
    TarLayer,
    Other,
}

/// Reads the member in `data` (the archive walk's current member) to its
/// end. An error is the archive's (cut short); a layer's own problems go
/// into the member and to the visitor.
pub fn read_member<V: LayerVisitor>(
    data: &mut impl Read,
    path: &str,
    keep: bool,
    mut visitor: Option<&mut V>,
    limits: &Limits,
) -> io::Result<Member> {
    let mut raw = Digesting::new(data, u64::MAX, keep, "it is unreadable");
    let head = read_head(&mut raw)?;
    let sniffed = sniff(&head);
    if sniffed != Sniffed::Other
        && let Some(visitor) = visitor.as_mut()
    {
        visitor.layer(path);
    }
    let mut body = io::Cursor::new(head).chain(&mut raw);
    // A gzip layer's diff_id is known when it was inflated; a tar's, once
    // the member is hashed.
    let (inflated_diff_id, problem) = match sniffed {
        Sniffed::Other => (None, None),
        Sniffed::TarLayer => {
            let problem = visitor
                .as_deref_mut()
                .and_then(|v| walk(&mut body, v, limits).err());
            (None, problem)
        }
        Sniffed::GzipLayer => inflate(
            flate2::read::MultiGzDecoder::new(&mut body),
            "its gzip stream is unreadable",
            visitor.as_deref_mut(),
            limits,
        ),
        // Every frame in turn: a layer may be several (zstd:chunked).
        Sniffed::ZstdLayer => match zstd::stream::read::Decoder::new(&mut body) {
            Ok(decoder) => inflate(
                decoder,
                "its zstd stream is unreadable",
                visitor.as_deref_mut(),
                limits,
            ),
            Err(err) => (None, Some(format!("its zstd stream is unreadable: {err}"))),
        },
    };
    drain(&mut body)?;
    drop(body);
    let (sha256, content) = raw.finish();
    let diff_id = match sniffed {
        Sniffed::Other => None,
        Sniffed::TarLayer => Some(sha256),
        Sniffed::GzipLayer | Sniffed::ZstdLayer => inflated_diff_id,
    };
    if sniffed != Sniffed::Other
        && let Some(visitor) = visitor
    {
        visitor.layer_end(&LayerEnd {
            member: path,
            digest: sha256,
            diff_id,
            problem: problem.as_deref(),
        });
    }
    Ok(Member {
        sha256,
        diff_id,
        problem,
        content,
        link: None,
    })
}

/// Up to one tar block: enough to tell a gzip stream or a tar header.
fn read_head(reader: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    reader.take(512).read_to_end(&mut head)?;
    Ok(head)
}

fn sniff(head: &[u8]) -> Sniffed {
    if head.starts_with(&GZIP_MAGIC) {
        return Sniffed::GzipLayer;
    }
    if head.starts_with(&ZSTD_MAGIC) {
        return Sniffed::ZstdLayer;
    }
    let Ok(block) = <&[u8; 512]>::try_from(head) else {
        return Sniffed::Other;
    };
    // An empty layer is the end-of-archive zero blocks alone.
    let is_tar = block.iter().all(|&b| b == 0)
        || tar::Header::from_byte_slice(block).cksum().ok() == Some(checksum(block));
    match is_tar {
        true => Sniffed::TarLayer,
        false => Sniffed::Other,
    }
}

/// A compressed layer's diff_id (`None` if it could not be inflated to its
/// end) and its problem, walking it for the visitor on the way.
fn inflate<V: LayerVisitor>(
    decoder: impl Read,
    unreadable: &'static str,
    visitor: Option<&mut V>,
    limits: &Limits,
) -> (Option<[u8; 32]>, Option<String>) {
    let mut inflated = Digesting::new(decoder, limits.inflated_layer, false, unreadable);
    let problem = visitor.and_then(|visitor| walk(&mut inflated, visitor, limits).err());
    // The end-of-archive blocks and any padding after them count too.
    let _ = drain(&mut inflated);
    match inflated.failure.take() {
        Some(why) => (None, Some(why)),
        None => (Some(inflated.finish().0), problem),
    }
}

/// Hands the layer's entries to the visitor, as it asks for them.
fn walk<V: LayerVisitor>(layer: impl Read, visitor: &mut V, limits: &Limits) -> Result<(), String> {
    let unreadable = |err: io::Error| format!("its tar is unreadable: {err}");
    let mut walk = TarWalk::new(layer, limits.layer_entries, limits.path);
    let mut buffer = vec![0u8; CHUNK];
    while let Some(header) = walk.next_member().map_err(unreadable)? {
        let path = normalize(&header.path);
        let entry = LayerEntry {
            path: &path,
            kind: header.kind,
            size: header.size,
            mode: header.mode,
            link: header.link.as_deref(),
        };
        match visitor.entry(&entry) {
            Want::Skip => {}
            Want::Stream => {
                loop {
                    match walk.read(&mut buffer) {
                        Ok(0) => break,
                        Ok(n) => visitor.chunk(&entry, &buffer[..n]),
                        Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                        Err(err) => return Err(unreadable(err)),
                    }
                }
                visitor.streamed(&entry);
            }
            Want::Keep(limit) if entry.size > limit => {
                let too_large = TooLarge {
                    size: entry.size,
                    limit,
                };
                visitor.kept(&entry, Err(too_large));
            }
            Want::Keep(_) => {
                let mut content = Vec::with_capacity(entry.size as usize);
                walk.read_to_end(&mut content).map_err(unreadable)?;
                visitor.kept(&entry, Ok(content));
            }
        }
    }
    Ok(())
}

/// Hashes (and may keep) what is read through it; past `limit` bytes, or
/// once its source failed, every read fails with the same sentence.
struct Digesting<R> {
    inner: R,
    hasher: Sha256,
    read: u64,
    limit: u64,
    content: Option<Vec<u8>>,
    /// Says what failed when the source did.
    what: &'static str,
    failure: Option<String>,
}

impl<R: Read> Digesting<R> {
    fn new(inner: R, limit: u64, keep: bool, what: &'static str) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            read: 0,
            limit,
            content: keep.then(Vec::new),
            what,
            failure: None,
        }
    }

    fn finish(self) -> ([u8; 32], Option<Vec<u8>>) {
        (self.hasher.finalize().into(), self.content)
    }

    fn fail(&mut self, why: String) -> io::Error {
        self.failure = Some(why.clone());
        io::Error::new(io::ErrorKind::InvalidData, why)
    }
}

impl<R: Read> Read for Digesting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(why) = &self.failure {
            return Err(io::Error::new(io::ErrorKind::InvalidData, why.clone()));
        }
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => return Err(err),
            Err(err) => return Err(self.fail(format!("{}: {err}", self.what))),
        };
        if self.read + n as u64 > self.limit {
            return Err(self.fail(format!("it inflates to more than {} bytes", self.limit)));
        }
        self.read += n as u64;
        self.hasher.update(&buf[..n]);
        if let Some(content) = self.content.as_mut() {
            content.extend_from_slice(&buf[..n]);
        }
        Ok(n)
    }
}
