//! Sealing: gzip framing, padding, AES-256-CBC and SHA-256 over blocks
//! compressed by `deflate::compress_block`.

use crate::cbc_stream::{self, Encryptor};
use crate::deflate::{self, BLOCK_SIZE, DICTIONARY_SIZE, DeflateBlock, GzipFramer};
use crate::error::{Error, exact};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealSummary {
    pub object_sha256: [u8; 32],
    pub object_length: u64,
    pub plaintext_length: u64,
    pub compressed_length: u64,
}

/// Takes compressed blocks in order and produces the object.
pub struct BlockSealer {
    /// Sent before the first ciphertext, then cleared.
    iv: Option<[u8; cbc_stream::BLOCK]>,
    framer: GzipFramer,
    encryptor: Encryptor,
    hasher: Sha256,
    compressed_length: u64,
    object_length: u64,
    gzip: Vec<u8>,
}

impl BlockSealer {
    pub fn new(key: &[u8], iv: &[u8]) -> Result<Self, Error> {
        let key = zeroize::Zeroizing::new(exact::<32>(key, Error::InvalidKeyLength)?);
        let iv = exact::<16>(iv, Error::InvalidIvLength)?;
        Ok(Self {
            iv: Some(iv),
            framer: GzipFramer::default(),
            encryptor: Encryptor::new(&key, &iv),
            hasher: Sha256::new(),
            compressed_length: 0,
            object_length: 0,
            gzip: Vec::new(),
        })
    }

    pub fn push(&mut self, block: &DeflateBlock) -> Result<Vec<u8>, Error> {
        self.gzip.clear();
        self.framer.push(block, &mut self.gzip)?;
        Ok(self.emit())
    }

    pub fn finish(mut self) -> Result<(Vec<u8>, SealSummary), Error> {
        self.gzip.clear();
        self.framer.finish(&mut self.gzip)?;
        let mut tail = self.emit();
        let start = tail.len();
        self.encryptor.finish(&mut tail);
        self.account(&tail[start..]);
        let summary = SealSummary {
            object_sha256: self.hasher.finalize().into(),
            object_length: self.object_length,
            plaintext_length: self.framer.plaintext_length(),
            compressed_length: self.compressed_length,
        };
        Ok((tail, summary))
    }

    /// Encrypts what `gzip` holds and returns the object bytes it completes.
    fn emit(&mut self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.gzip.len() + 2 * cbc_stream::BLOCK);
        if let Some(iv) = self.iv.take() {
            out.extend_from_slice(&iv);
        }
        self.compressed_length += self.gzip.len() as u64;
        self.encryptor.update(&self.gzip, &mut out);
        self.account(&out);
        out
    }

    fn account(&mut self, object_bytes: &[u8]) {
        self.hasher.update(object_bytes);
        self.object_length += object_bytes.len() as u64;
    }
}

/// The whole seal over plaintext chunks of any size: cuts the plaintext into
/// `BLOCK_SIZE` blocks exactly as a parallel host would, so both give the
/// same bytes.
pub struct Sealer {
    level: u8,
    sealer: BlockSealer,
    /// Plaintext not yet compressed. A full block stays here until more
    /// plaintext or `finish` says whether it is the last one.
    pending: Vec<u8>,
    dictionary: Vec<u8>,
}

impl Sealer {
    pub fn new(key: &[u8], iv: &[u8], level: u8) -> Result<Self, Error> {
        deflate::check_level(level)?;
        Ok(Self {
            level,
            sealer: BlockSealer::new(key, iv)?,
            pending: Vec::new(),
            dictionary: Vec::new(),
        })
    }

    pub fn push(&mut self, mut plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        while self.pending.len() + plaintext.len() > BLOCK_SIZE {
            let take = BLOCK_SIZE - self.pending.len();
            self.pending.extend_from_slice(&plaintext[..take]);
            plaintext = &plaintext[take..];
            out.extend(self.compress_pending(false)?);
        }
        self.pending.extend_from_slice(plaintext);
        Ok(out)
    }

    pub fn finish(mut self) -> Result<(Vec<u8>, SealSummary), Error> {
        let mut out = self.compress_pending(true)?;
        let (tail, summary) = self.sealer.finish()?;
        out.extend(tail);
        Ok((out, summary))
    }

    fn compress_pending(&mut self, last: bool) -> Result<Vec<u8>, Error> {
        let block = deflate::compress_block(self.level, &self.dictionary, &self.pending, last)?;
        let keep = self.pending.len().min(DICTIONARY_SIZE);
        self.dictionary.clear();
        self.dictionary
            .extend_from_slice(&self.pending[self.pending.len() - keep..]);
        self.pending.clear();
        self.sealer.push(&block)
    }
}
