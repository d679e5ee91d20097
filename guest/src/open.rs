//! Opening: SHA-256 check, AES-256-CBC decryption, padding check and gunzip.

use crate::cbc_stream::{self, Decryptor};
use crate::error::{Error, exact};
use sha2::{Digest, Sha256};
use std::io::Write;
use zeroize::Zeroizing;

const IV_LENGTH: usize = cbc_stream::BLOCK;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenSummary {
    pub object_length: u64,
    pub plaintext_length: u64,
}

pub struct Opener {
    key: Zeroizing<[u8; 32]>,
    expected_sha256: [u8; 32],
    hasher: Sha256,
    object_length: u64,
    /// The IV as it arrives; the decryptor starts once it is complete.
    iv: Vec<u8>,
    decryptor: Option<Decryptor>,
    gunzip: flate2::write::GzDecoder<Vec<u8>>,
    plaintext_length: u64,
    /// The first decoding failure; after it only the hash goes on.
    failure: Option<Error>,
}

impl Opener {
    pub fn new(key: &[u8], expected_sha256: &[u8]) -> Result<Self, Error> {
        Ok(Self {
            key: Zeroizing::new(exact::<32>(key, Error::InvalidKeyLength)?),
            expected_sha256: exact::<32>(expected_sha256, Error::InvalidDigestLength)?,
            hasher: Sha256::new(),
            object_length: 0,
            iv: Vec::with_capacity(IV_LENGTH),
            decryptor: None,
            gunzip: flate2::write::GzDecoder::new(Vec::new()),
            plaintext_length: 0,
            failure: None,
        })
    }

    pub fn push(&mut self, mut object: &[u8]) -> Result<Vec<u8>, Error> {
        self.hasher.update(object);
        self.object_length += object.len() as u64;
        if self.decryptor.is_none() {
            let take = (IV_LENGTH - self.iv.len()).min(object.len());
            self.iv.extend_from_slice(&object[..take]);
            object = &object[take..];
            if self.iv.len() < IV_LENGTH {
                return Ok(Vec::new());
            }
            let iv: [u8; IV_LENGTH] = self.iv.as_slice().try_into().expect("IV is complete");
            self.decryptor = Some(Decryptor::new(&self.key, &iv));
        }
        let mut gzip = Vec::with_capacity(object.len());
        if let Some(decryptor) = self.decryptor.as_mut() {
            decryptor.update(object, &mut gzip);
        }
        Ok(self.inflate(&gzip))
    }

    pub fn finish(mut self) -> Result<(Vec<u8>, OpenSummary), Error> {
        let ciphertext_length = self.object_length.saturating_sub(IV_LENGTH as u64);
        if self.object_length < 2 * IV_LENGTH as u64 || !ciphertext_length.is_multiple_of(16) {
            return Err(Error::InvalidObjectLength(self.object_length));
        }
        let digest: [u8; 32] = self.hasher.finalize_reset().into();
        if digest != self.expected_sha256 {
            return Err(Error::DigestMismatch);
        }
        let mut gzip = Vec::with_capacity(cbc_stream::BLOCK);
        self.decryptor
            .take()
            .expect("a whole object has an IV")
            .finish(&mut gzip)?;
        let mut tail = self.inflate(&gzip);
        if let Some(failure) = self.failure.take() {
            return Err(failure);
        }
        if let Err(err) = self.gunzip.try_finish() {
            return Err(gzip_error(&err));
        }
        let rest = std::mem::take(self.gunzip.get_mut());
        self.plaintext_length += rest.len() as u64;
        tail.extend(rest);
        let summary = OpenSummary {
            object_length: self.object_length,
            plaintext_length: self.plaintext_length,
        };
        Ok((tail, summary))
    }

    /// Feeds gzip bytes to the decoder and returns the plaintext it gives.
    fn inflate(&mut self, gzip: &[u8]) -> Vec<u8> {
        if self.failure.is_some() || gzip.is_empty() {
            return Vec::new();
        }
        if let Err(err) = self.gunzip.write_all(gzip) {
            self.failure = Some(gzip_error(&err));
            return Vec::new();
        }
        let plaintext = std::mem::take(self.gunzip.get_mut());
        self.plaintext_length += plaintext.len() as u64;
        plaintext
    }
}

fn gzip_error(err: &std::io::Error) -> Error {
    match err.kind() {
        // flate2's writer accepts nothing after the member's trailer.
        std::io::ErrorKind::WriteZero => Error::TrailingData,
        std::io::ErrorKind::UnexpectedEof => Error::TruncatedGzip,
        _ => Error::CorruptGzip(err.to_string()),
    }
}
