//! Gunzip in bounded steps: gzip bytes in, at most about `OUTPUT_STEP`
//! bytes of plaintext out per call, however well the data compressed (a
//! megabyte of deflate can stand for a gigabyte of zeros).

use crate::error::Error;
use std::io::Write;

/// Plaintext returned by one `push`, give or take the decoder's 32 KiB
/// buffer.
pub const OUTPUT_STEP: usize = 1 << 20;

pub struct Inflater {
    gunzip: flate2::write::GzDecoder<Vec<u8>>,
    /// Gzip bytes pushed and not yet decoded: `held[taken..]`.
    held: Vec<u8>,
    taken: usize,
    plaintext_length: u64,
}

impl Default for Inflater {
    fn default() -> Self {
        Self::new()
    }
}

impl Inflater {
    pub fn new() -> Self {
        Self {
            gunzip: flate2::write::GzDecoder::new(Vec::new()),
            held: Vec::new(),
            taken: 0,
            plaintext_length: 0,
        }
    }

    /// Takes `gzip` and decodes what it holds until `OUTPUT_STEP` bytes of
    /// plaintext are ready or the input is used up; returns that plaintext.
    /// An empty return means every byte pushed so far is decoded; until
    /// then, push nothing to get the rest.
    pub fn push(&mut self, gzip: &[u8]) -> Result<Vec<u8>, Error> {
        if self.taken == self.held.len() {
            self.held.clear();
            self.taken = 0;
        }
        self.held.extend_from_slice(gzip);
        while self.taken < self.held.len() && self.gunzip.get_ref().len() < OUTPUT_STEP {
            match self.gunzip.write(&self.held[self.taken..]) {
                // flate2's writer takes nothing after the member's trailer.
                Ok(0) => return Err(Error::TrailingData),
                Ok(n) => self.taken += n,
                Err(err) => return Err(gzip_error(&err)),
            }
        }
        if self.taken == self.held.len() {
            // Out of the decoder's own buffer too, so that an empty return
            // means nothing is left behind.
            self.gunzip.flush().map_err(|err| gzip_error(&err))?;
        }
        let plaintext = std::mem::take(self.gunzip.get_mut());
        self.plaintext_length += plaintext.len() as u64;
        Ok(plaintext)
    }

    /// Decodes whatever is still held, checks the trailer and returns the
    /// last plaintext with the length of all of it. (A caller that bounds
    /// its memory pushes nothing until `push` returns empty first.)
    pub fn finish(mut self) -> Result<(Vec<u8>, u64), Error> {
        let mut tail = Vec::new();
        loop {
            let plaintext = self.push(&[])?;
            if plaintext.is_empty() {
                break;
            }
            tail.extend(plaintext);
        }
        self.gunzip.try_finish().map_err(|err| gzip_error(&err))?;
        let rest = std::mem::take(self.gunzip.get_mut());
        self.plaintext_length += rest.len() as u64;
        tail.extend(rest);
        Ok((tail, self.plaintext_length))
    }
}

fn gzip_error(err: &std::io::Error) -> Error {
    match err.kind() {
        std::io::ErrorKind::UnexpectedEof => Error::TruncatedGzip,
        _ => Error::CorruptGzip(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};

    fn gzip(plaintext: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::new(6));
        encoder.write_all(plaintext).unwrap();
        encoder.finish().unwrap()
    }

    /// Pushes in `chunk`-sized pieces, draining after each; returns the
    /// plaintext and the largest single return.
    fn inflate(stream: &[u8], chunk: usize) -> Result<(Vec<u8>, usize), Error> {
        let mut inflater = Inflater::new();
        let (mut plaintext, mut largest) = (Vec::new(), 0);
        for piece in stream.chunks(chunk) {
            let mut out = inflater.push(piece)?;
            while !out.is_empty() {
                largest = largest.max(out.len());
                plaintext.extend(out);
                out = inflater.push(&[])?;
            }
        }
        let (tail, length) = inflater.finish()?;
        plaintext.extend(tail);
        assert_eq!(length, plaintext.len() as u64);
        Ok((plaintext, largest))
    }

    #[test]
    fn a_highly_compressed_stream_comes_out_in_bounded_steps() {
        let zeros = vec![0u8; 64 << 20];
        let stream = gzip(&zeros);
        assert!(stream.len() < 1 << 20, "one push holds all of it");
        let (plaintext, largest) = inflate(&stream, 1 << 20).unwrap();
        assert!(plaintext == zeros);
        assert!(
            largest <= OUTPUT_STEP + (64 << 10),
            "{largest} bytes at once"
        );
    }

    #[test]
    fn any_chunking_gives_the_plaintext() {
        let plaintext: Vec<u8> = (0..300_000u32)
            .map(|i| (i.wrapping_mul(i) >> 7) as u8)
            .collect();
        let stream = gzip(&plaintext);
        for chunk in [1, 10, 4096, stream.len()] {
            assert_eq!(
                inflate(&stream, chunk).unwrap().0,
                plaintext,
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn damage_is_named() {
        let stream = gzip(b"some plaintext, long enough to be worth compressing");
        let truncated = &stream[..stream.len() / 2];
        assert_eq!(inflate(truncated, 7), Err(Error::TruncatedGzip));
        let mut trailing = stream.clone();
        trailing.push(0);
        assert_eq!(inflate(&trailing, 7), Err(Error::TrailingData));
        let mut corrupt = stream.clone();
        corrupt[12] ^= 0xff;
        assert!(matches!(inflate(&corrupt, 7), Err(Error::CorruptGzip(_))));
    }
}
