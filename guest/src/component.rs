//! The component's exports: `wit/seal.wit` mapped onto the logic modules.

use crate::{cbc_stream, deflate, error, inflate, open, seal};
use std::cell::RefCell;

wit_bindgen::generate!({
    path: "../wit",
    world: "sealing",
});

use exports::publish_artifact::seal::open as wit_open;
use exports::publish_artifact::seal::seal as wit_seal;
use exports::publish_artifact::seal::types as wit;

struct Component;

export!(Component);

impl From<error::Error> for wit::Error {
    fn from(err: error::Error) -> Self {
        use error::Error as E;
        // Lengths in the WIT are u32: anything larger saturates, which keeps
        // the message true ("too long") without a trap.
        let len = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        match err {
            E::InvalidKeyLength(n) => Self::InvalidKeyLength(len(n)),
            E::InvalidIvLength(n) => Self::InvalidIvLength(len(n)),
            E::InvalidLevel(level) => Self::InvalidLevel(level),
            E::InvalidDigestLength(n) => Self::InvalidDigestLength(len(n)),
            E::InvalidDictionaryLength(n) => Self::InvalidDictionaryLength(len(n)),
            E::InvalidBlockLength(n) => Self::InvalidBlockLength(len(n)),
            E::Finished => Self::Finished,
            E::BlockOrder => Self::BlockOrder,
            E::InvalidObjectLength(n) => Self::InvalidObjectLength(n),
            E::DigestMismatch => Self::DigestMismatch,
            E::BadPadding => Self::BadPadding,
            E::CorruptGzip(message) => Self::CorruptGzip(message),
            E::TruncatedGzip => Self::TruncatedGzip,
            E::TrailingData => Self::TrailingData,
        }
    }
}

/// The state behind a resource. Any failure, and `finish`, retire it, so a
/// later call gets `finished` instead of working on a half-updated state.
struct Slot<T>(RefCell<Option<T>>);

impl<T> Slot<T> {
    fn new(state: T) -> Self {
        Self(RefCell::new(Some(state)))
    }

    fn update<R>(
        &self,
        f: impl FnOnce(&mut T) -> Result<R, error::Error>,
    ) -> Result<R, wit::Error> {
        let mut slot = self.0.borrow_mut();
        let state = slot.as_mut().ok_or(wit::Error::Finished)?;
        f(state).map_err(|err| {
            *slot = None;
            err.into()
        })
    }

    fn retire<R>(&self, f: impl FnOnce(T) -> Result<R, error::Error>) -> Result<R, wit::Error> {
        let state = self.0.borrow_mut().take().ok_or(wit::Error::Finished)?;
        f(state).map_err(Into::into)
    }
}

fn seal_end((tail, summary): (Vec<u8>, seal::SealSummary)) -> wit::SealEnd {
    wit::SealEnd {
        tail,
        summary: wit::SealSummary {
            object_sha256: summary.object_sha256.to_vec(),
            object_length: summary.object_length,
            plaintext_length: summary.plaintext_length,
            compressed_length: summary.compressed_length,
        },
    }
}

impl From<wit::DeflateBlock> for deflate::DeflateBlock {
    fn from(block: wit::DeflateBlock) -> Self {
        Self {
            data: block.data,
            crc32: block.crc32,
            plaintext_length: block.plaintext_length,
            last: block.last,
        }
    }
}

struct BlockSealer(Slot<seal::BlockSealer>);
struct Sealer(Slot<seal::Sealer>);
struct Opener(Slot<open::Opener>);
struct Decryptor(Slot<cbc_stream::Decryptor>);
struct Inflater(Slot<inflate::Inflater>);

impl wit_seal::Guest for Component {
    type BlockSealer = BlockSealer;
    type Sealer = Sealer;

    fn block_size() -> u32 {
        deflate::BLOCK_SIZE as u32
    }

    fn compress_block(
        level: u8,
        dictionary: Vec<u8>,
        plaintext: Vec<u8>,
        last: bool,
    ) -> Result<wit::DeflateBlock, wit::Error> {
        let block = deflate::compress_block(level, &dictionary, &plaintext, last)?;
        Ok(wit::DeflateBlock {
            data: block.data,
            crc32: block.crc32,
            plaintext_length: block.plaintext_length,
            last: block.last,
        })
    }
}

impl wit_seal::GuestBlockSealer for BlockSealer {
    fn create(key: Vec<u8>, iv: Vec<u8>) -> Result<wit_seal::BlockSealer, wit::Error> {
        let state = seal::BlockSealer::new(&key, &iv)?;
        Ok(wit_seal::BlockSealer::new(Self(Slot::new(state))))
    }

    fn push(&self, block: wit::DeflateBlock) -> Result<Vec<u8>, wit::Error> {
        let block = block.into();
        self.0.update(|sealer| sealer.push(&block))
    }

    fn finish(&self) -> Result<wit::SealEnd, wit::Error> {
        self.0.retire(seal::BlockSealer::finish).map(seal_end)
    }
}

impl wit_seal::GuestSealer for Sealer {
    fn create(key: Vec<u8>, iv: Vec<u8>, level: u8) -> Result<wit_seal::Sealer, wit::Error> {
        let state = seal::Sealer::new(&key, &iv, level)?;
        Ok(wit_seal::Sealer::new(Self(Slot::new(state))))
    }

    fn push(&self, plaintext: Vec<u8>) -> Result<Vec<u8>, wit::Error> {
        self.0.update(|sealer| sealer.push(&plaintext))
    }

    fn finish(&self) -> Result<wit::SealEnd, wit::Error> {
        self.0.retire(seal::Sealer::finish).map(seal_end)
    }
}

impl wit_open::Guest for Component {
    type Opener = Opener;
    type Decryptor = Decryptor;
    type Inflater = Inflater;
}

impl wit_open::GuestOpener for Opener {
    fn create(key: Vec<u8>, expected_sha256: Vec<u8>) -> Result<wit_open::Opener, wit::Error> {
        let state = open::Opener::new(&key, &expected_sha256)?;
        Ok(wit_open::Opener::new(Self(Slot::new(state))))
    }

    fn push(&self, object: Vec<u8>) -> Result<Vec<u8>, wit::Error> {
        self.0.update(|opener| opener.push(&object))
    }

    fn finish(&self) -> Result<wit_open::OpenEnd, wit::Error> {
        let (tail, summary) = self.0.retire(open::Opener::finish)?;
        Ok(wit_open::OpenEnd {
            tail,
            summary: wit_open::OpenSummary {
                object_length: summary.object_length,
                plaintext_length: summary.plaintext_length,
            },
        })
    }
}

impl wit_open::GuestDecryptor for Decryptor {
    fn create(key: Vec<u8>, iv: Vec<u8>) -> Result<wit_open::Decryptor, wit::Error> {
        let state = open::decryptor(&key, &iv)?;
        Ok(wit_open::Decryptor::new(Self(Slot::new(state))))
    }

    fn push(&self, ciphertext: Vec<u8>) -> Result<Vec<u8>, wit::Error> {
        self.0.update(|decryptor| {
            let mut gzip = Vec::with_capacity(ciphertext.len());
            decryptor.update(&ciphertext, &mut gzip);
            Ok(gzip)
        })
    }

    fn finish(&self) -> Result<Vec<u8>, wit::Error> {
        self.0.retire(|decryptor| {
            let mut gzip = Vec::with_capacity(cbc_stream::BLOCK);
            decryptor.finish(&mut gzip)?;
            Ok(gzip)
        })
    }
}

impl wit_open::GuestInflater for Inflater {
    fn new() -> Self {
        Self(Slot::new(inflate::Inflater::new()))
    }

    fn push(&self, gzip: Vec<u8>) -> Result<Vec<u8>, wit::Error> {
        self.0.update(|inflater| inflater.push(&gzip))
    }

    fn finish(&self) -> Result<wit_open::InflaterEnd, wit::Error> {
        let (tail, plaintext_length) = self.0.retire(inflate::Inflater::finish)?;
        Ok(wit_open::InflaterEnd {
            tail,
            plaintext_length,
        })
    }
}
