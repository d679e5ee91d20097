//! Opening: SHA-256 check, AES-256-CBC decryption, padding check and gunzip,
//! all in one (`Opener`), or decryption alone (`decryptor`) for a caller that
//! inflates elsewhere (`crate::inflate`) and checks the SHA-256 itself.

use crate::cbc_stream::{self, Decryptor};
use crate::error::{Error, exact};
use crate::inflate::Inflater;
use sha2::{Digest, Sha256};
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
    gunzip: Inflater,
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
            gunzip: Inflater::new(),
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
        let mut plaintext = self.inflate(&gzip);
        if let Some(failure) = self.failure.take() {
            return Err(failure);
        }
        let (tail, plaintext_length) = self.gunzip.finish()?;
        plaintext.extend(tail);
        let summary = OpenSummary {
            object_length: self.object_length,
            plaintext_length,
        };
        Ok((plaintext, summary))
    }

    /// Feeds gzip bytes to the decoder and returns all the plaintext it
    /// gives (this resource's contract: one call in, everything out).
    fn inflate(&mut self, gzip: &[u8]) -> Vec<u8> {
        let mut plaintext = Vec::new();
        if self.failure.is_some() || gzip.is_empty() {
            return plaintext;
        }
        let mut input = gzip;
        loop {
            match self.gunzip.push(std::mem::take(&mut input)) {
                Ok(step) if step.is_empty() => return plaintext,
                Ok(step) => plaintext.extend(step),
                Err(err) => {
                    self.failure = Some(err);
                    return Vec::new();
                }
            }
        }
    }
}

/// Decryption alone: the ciphertext (the object after its IV) in, the gzip
/// stream out; its `finish` checks the padding.
pub fn decryptor(key: &[u8], iv: &[u8]) -> Result<Decryptor, Error> {
    let key = Zeroizing::new(exact::<32>(key, Error::InvalidKeyLength)?);
    let iv = exact::<IV_LENGTH>(iv, Error::InvalidIvLength)?;
    Ok(Decryptor::new(&key, &iv))
}
