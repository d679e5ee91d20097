//! What a visitor of the image scan sees and answers: per entry of each
//! layer, `Want`; at each layer's end, `LayerEnd`; and the bounds every
//! scan keeps. `scan` drives the pass and `layer` reads one member; both
//! speak this interface, so neither imports the other's internals.

use std::io::{self, Read};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Directory,
    Symlink,
    HardLink,
    /// Devices, fifos and the like: skipped by every reader here.
    Other,
}

/// How a visitor wants one entry of a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Skip,
    /// Its bytes in order, in chunks (`LayerVisitor::chunk`), then
    /// `LayerVisitor::streamed`.
    Stream,
    /// Its whole content at once (`LayerVisitor::kept`), if it is at most
    /// this many bytes.
    Keep(u64),
}

/// An entry of a layer's tar, as the scan meets it.
#[derive(Debug, Clone, Copy)]
pub struct LayerEntry<'a> {
    /// Normalized, without a leading `/` (whiteouts keep their `.wh.` names).
    pub path: &'a str,
    pub kind: Kind,
    pub size: u64,
    /// The Unix mode bits (0o755 for an executable, say).
    pub mode: u32,
    /// A link's target, as written.
    pub link: Option<&'a str>,
}

/// A layer's end: what it is, and whether it could be read to its end.
#[derive(Debug, Clone, Copy)]
pub struct LayerEnd<'a> {
    /// Its path in the archive (`<id>/layer.tar`, `blobs/sha256/<hex>`).
    pub member: &'a str,
    /// SHA-256 of the member's bytes (the blob digest).
    pub digest: [u8; 32],
    /// SHA-256 of the uncompressed tar: the config's `rootfs.diff_ids`
    /// entry. `None` when the member could not be inflated to its end.
    pub diff_id: Option<[u8; 32]>,
    /// Why the layer could not be read to its end, if it could not: the
    /// entries seen before it were delivered.
    pub problem: Option<&'a str>,
}

/// A `Keep` entry larger than its limit: not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge {
    pub size: u64,
    pub limit: u64,
}

/// What reads the layers' entries (an SBOM's catalogers, say). It hears,
/// per layer member: `layer`, then for each entry `entry` and, as it asked,
/// its bytes, then `layer_end`.
pub trait LayerVisitor: Send + 'static {
    /// A member that is a layer begins.
    fn layer(&mut self, _member: &str) {}
    fn entry(&mut self, entry: &LayerEntry<'_>) -> Want;
    /// The next bytes of an entry it asked to stream.
    fn chunk(&mut self, _entry: &LayerEntry<'_>, _bytes: &[u8]) {}
    /// An entry it streamed ended; every byte was passed. (An entry cut
    /// short ends with the layer's problem instead.)
    fn streamed(&mut self, _entry: &LayerEntry<'_>) {}
    /// The content of an entry it asked to keep.
    fn kept(&mut self, _entry: &LayerEntry<'_>, _content: Result<Vec<u8>, TooLarge>) {}
    fn layer_end(&mut self, end: &LayerEnd<'_>);
}

/// No layer visitor: layers are hashed, not read down to their entries.
pub enum NoLayers {}

impl LayerVisitor for NoLayers {
    fn entry(&mut self, _: &LayerEntry<'_>) -> Want {
        match *self {}
    }
    fn layer_end(&mut self, _: &LayerEnd<'_>) {
        match *self {}
    }
}

/// The bounds a hostile tarball runs into: each is reported as a problem
/// of the archive or of the layer, never a panic or an unbounded wait.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Members of the archive itself (docker save writes a few per layer).
    pub members: u64,
    /// Entries of one layer.
    pub layer_entries: u64,
    /// Bytes one gzip layer may inflate to: a decompression bomb stops here.
    pub inflated_layer: u64,
    /// Bytes of a path or a link target, in the archive or a layer.
    pub path: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            members: 1 << 16,
            // node_modules-heavy layers hold a few hundred thousand files.
            layer_entries: 1 << 22,
            // The largest real layers (CUDA, models) inflate to tens of GiB.
            inflated_layer: 256 << 30,
            path: 4096,
        }
    }
}

/// One member of the archive, as seen streaming.
#[derive(Debug, Default)]
pub struct Member {
    pub sha256: [u8; 32],
    /// For a member that is a layer: SHA-256 of the uncompressed tar (the
    /// member's own digest when it is not compressed).
    pub diff_id: Option<[u8; 32]>,
    /// Why a layer member could not be read to its end.
    pub problem: Option<String>,
    /// The bytes, when the member is small enough to keep.
    pub content: Option<Vec<u8>>,
    /// For a symlink or hard link: the archive path it points at.
    pub link: Option<String>,
}

/// `a/./b/../c` -> `a/c`; leading `/` and `./` dropped.
pub fn normalize(path: &str) -> String {
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

/// Reads `reader` to its end, discarding the bytes (hashing readers below
/// see them); returns how many there were.
pub fn drain(reader: &mut impl Read) -> io::Result<u64> {
    let mut buffer = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n as u64,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}
