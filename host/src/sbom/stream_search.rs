//! Finding a marker (or a leading magic) in a file that streams past in pieces of any size,
//! keeping only the marker's length of bytes between pieces: what the
//! binary catalogers' sifts are built on.

/// Finds `marker` across pieces; after a match it keeps looking for the
/// next occurrence only when asked again.
#[derive(Debug)]
pub struct Finder {
    marker: &'static [u8],
    /// The last `marker.len() - 1` bytes seen, for a marker cut in two.
    carry: Vec<u8>,
}

impl Finder {
    pub fn new(marker: &'static [u8]) -> Self {
        Self {
            marker,
            carry: Vec::with_capacity(marker.len()),
        }
    }

    /// Where in `piece` the first marker ending in it ends, if one does.
    pub fn find(&mut self, piece: &[u8]) -> Option<usize> {
        let keep = self.marker.len() - 1;
        let found = self.across_the_cut(piece).or_else(|| {
            memchr::memmem::find(piece, self.marker).map(|start| start + self.marker.len())
        });
        match found {
            Some(_) => self.carry.clear(),
            None => {
                self.carry
                    .extend_from_slice(&piece[piece.len().saturating_sub(keep)..]);
                let excess = self.carry.len().saturating_sub(keep);
                self.carry.drain(..excess);
            }
        }
        found
    }

    /// A marker that began in an earlier piece and ends in this one.
    fn across_the_cut(&self, piece: &[u8]) -> Option<usize> {
        if self.carry.is_empty() {
            return None;
        }
        let mut joined = self.carry.clone();
        joined.extend_from_slice(&piece[..piece.len().min(self.marker.len() - 1)]);
        let start = memchr::memmem::find(&joined, self.marker)?;
        Some(start + self.marker.len() - self.carry.len())
    }
}

use super::catalog::{FileMeta, Take};

/// Every ELF file begins with it.
pub const ELF_MAGIC: &[u8] = b"\x7fELF";

/// What the binary catalogers (Go, cargo-auditable) ask for: every
/// executable longer than an ELF header could be, sifted as it streams;
/// their sifts keep nothing of a file that turns out not to be ELF.
pub fn executable(file: &FileMeta<'_>) -> Option<Take> {
    (file.mode & 0o111 != 0 && file.size > 64).then_some(Take::Sift)
}

/// Tells from a stream's first bytes whether it begins with a magic
/// (an ELF file's, say).
#[derive(Debug, Default)]
pub struct Prefix {
    head: Vec<u8>,
    verdict: Option<bool>,
}

impl Prefix {
    /// None until `magic.len()` bytes were seen; then whether they were it.
    pub fn update(&mut self, magic: &[u8], bytes: &[u8]) -> Option<bool> {
        if self.verdict.is_none() {
            let wanted = magic.len() - self.head.len();
            self.head
                .extend_from_slice(&bytes[..bytes.len().min(wanted)]);
            if self.head.len() == magic.len() {
                self.verdict = Some(self.head == magic);
            }
        }
        self.verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_marker_wherever_the_pieces_cut_it() {
        let text = b"....\xff Go buildinf:tail";
        for size in 1..text.len() {
            let mut finder = Finder::new(b"\xff Go buildinf:");
            let mut offset = 0;
            let mut end = None;
            for piece in text.chunks(size) {
                if let Some(at) = finder.find(piece) {
                    end = Some(offset + at);
                    break;
                }
                offset += piece.len();
            }
            assert_eq!(end, Some(text.len() - 4), "pieces of {size}");
        }
    }

    #[test]
    fn finds_nothing_in_a_stream_without_it() {
        let mut finder = Finder::new(b"marker");
        assert_eq!(finder.find(b"mark"), None);
        assert_eq!(finder.find(b"ed, not a mar"), None);
        assert_eq!(finder.find(b"ke"), None);
        assert_eq!(finder.find(b"r"), Some(1));
    }
}
