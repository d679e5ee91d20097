//! Typed access to one guest instance: its three resources and the pure
//! block compressor, with WIT errors turned into messages a user can act on.

use crate::sealing::runtime::bindings::Sealing;
use crate::sealing::runtime::bindings::exports::publish_artifact::seal::types as wit;
use crate::sealing::runtime::{Runtime, Sandbox};
use crate::secrets::Key;
use wasmtime::Store;
use wasmtime::component::ResourceAny;

pub use wit::{DeflateBlock, Error as Rejection, SealSummary};

/// A failed guest call: either the guest refused (bad input, failed check)
/// or it trapped, which is a bug in the guest or an exhausted limit.
#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    #[error("{}", describe(.0))]
    Refused(wit::Error),
    #[error("the sealing component failed unexpectedly: {0:#}")]
    Trapped(wasmtime::Error),
}

impl GuestError {
    pub fn refusal(&self) -> Option<&wit::Error> {
        match self {
            Self::Refused(err) => Some(err),
            Self::Trapped(_) => None,
        }
    }
}

fn describe(err: &wit::Error) -> String {
    use wit::Error as E;
    match err {
        E::InvalidKeyLength(n) => format!("the key must be 32 bytes, not {n}"),
        E::InvalidIvLength(n) => format!("the IV must be 16 bytes, not {n}"),
        E::InvalidLevel(level) => format!("the gzip level must be 0 to 9, not {level}"),
        E::InvalidDigestLength(n) => format!("a SHA-256 is 32 bytes, not {n}"),
        E::InvalidDictionaryLength(n) => format!("a dictionary is at most 32768 bytes, not {n}"),
        E::InvalidBlockLength(n) => format!("a block is at most 1 MiB, not {n} bytes"),
        E::Finished => "the sealing resource was already finished".into(),
        E::BlockOrder => "compressed blocks arrived out of order".into(),
        E::InvalidObjectLength(n) => format!(
            "a sealed object is a 16-byte IV plus whole 16-byte blocks (at least 32 bytes); \
             this one is {n} bytes, so it is truncated or not a sealed object"
        ),
        E::DigestMismatch => "the object's SHA-256 is not the expected one: \
                              it was altered or truncated, or the wrong SHA-256 was given"
            .into(),
        E::BadPadding => "decryption failed (bad padding): the key is wrong".into(),
        E::CorruptGzip(message) => format!(
            "the decrypted data is not a valid gzip stream ({message}): the key is wrong \
             or the object was not made by this format"
        ),
        E::TruncatedGzip => "the gzip stream inside the object ends early".into(),
        E::TrailingData => "bytes follow the end of the gzip stream inside the object".into(),
    }
}

type Outcome<T> = Result<T, GuestError>;

fn flatten<T>(result: wasmtime::Result<Result<T, wit::Error>>) -> Outcome<T> {
    result
        .map_err(GuestError::Trapped)?
        .map_err(GuestError::Refused)
}

pub struct Guest {
    store: Store<Sandbox>,
    exports: Sealing,
}

impl Runtime {
    /// A fresh guest in a fresh sandboxed store. Written here, beside
    /// `Guest`, so that the runtime never needs the typed calls: the
    /// imports go one way, guest -> runtime.
    pub fn instantiate(&self) -> wasmtime::Result<Guest> {
        let (store, exports) = self.instance()?;
        Ok(Guest { store, exports })
    }
}

impl Guest {
    pub fn block_size(&mut self) -> Outcome<usize> {
        let seal = self.exports.publish_artifact_seal_seal();
        let size = seal
            .call_block_size(&mut self.store)
            .map_err(GuestError::Trapped)?;
        Ok(size as usize)
    }

    pub fn compress_block(
        &mut self,
        level: u8,
        dictionary: &[u8],
        plaintext: &[u8],
        last: bool,
    ) -> Outcome<DeflateBlock> {
        let seal = self.exports.publish_artifact_seal_seal();
        flatten(seal.call_compress_block(&mut self.store, level, dictionary, plaintext, last))
    }

    pub fn block_sealer(&mut self, key: &Key, iv: &[u8; 16]) -> Outcome<BlockSealer<'_>> {
        let seal = self.exports.publish_artifact_seal_seal();
        let handle = flatten(
            seal.block_sealer()
                .call_create(&mut self.store, key.as_bytes(), iv),
        )?;
        Ok(BlockSealer(Handle {
            guest: self,
            handle,
        }))
    }

    pub fn sealer(&mut self, key: &Key, iv: &[u8; 16], level: u8) -> Outcome<Sealer<'_>> {
        let seal = self.exports.publish_artifact_seal_seal();
        let handle =
            flatten(
                seal.sealer()
                    .call_create(&mut self.store, key.as_bytes(), iv, level),
            )?;
        Ok(Sealer(Handle {
            guest: self,
            handle,
        }))
    }

    pub fn opener(&mut self, key: &Key, expected_sha256: &[u8; 32]) -> Outcome<Opener<'_>> {
        let open = self.exports.publish_artifact_seal_open();
        let handle = flatten(open.opener().call_create(
            &mut self.store,
            key.as_bytes(),
            expected_sha256,
        ))?;
        Ok(Opener(Handle {
            guest: self,
            handle,
        }))
    }

    /// Decryption alone (see `open::decryptor` in wit/seal.wit).
    pub fn decryptor(&mut self, key: &Key, iv: &[u8; 16]) -> Outcome<Decryptor<'_>> {
        let open = self.exports.publish_artifact_seal_open();
        let handle = flatten(
            open.decryptor()
                .call_create(&mut self.store, key.as_bytes(), iv),
        )?;
        Ok(Decryptor(Handle {
            guest: self,
            handle,
        }))
    }

    /// Gunzip alone, with bounded output (see `open::inflater`).
    pub fn inflater(&mut self) -> Outcome<Inflater<'_>> {
        let open = self.exports.publish_artifact_seal_open();
        let handle = open
            .inflater()
            .call_constructor(&mut self.store)
            .map_err(GuestError::Trapped)?;
        Ok(Inflater(Handle {
            guest: self,
            handle,
        }))
    }
}

/// An owned guest resource, dropped in the guest when the wrapper goes.
struct Handle<'g> {
    guest: &'g mut Guest,
    handle: ResourceAny,
}

impl Drop for Handle<'_> {
    fn drop(&mut self) {
        // A failure here leaves a resource behind in a store that is about
        // to be dropped as a whole; there is nothing better to do with it.
        let _ = self.handle.resource_drop(&mut self.guest.store);
    }
}

impl Handle<'_> {
    fn parts(&mut self) -> (&mut Store<Sandbox>, &Sealing, ResourceAny) {
        (&mut self.guest.store, &self.guest.exports, self.handle)
    }
}

pub struct BlockSealer<'g>(Handle<'g>);

impl BlockSealer<'_> {
    pub fn push(&mut self, block: &DeflateBlock) -> Outcome<Vec<u8>> {
        let (store, exports, handle) = self.0.parts();
        let api = exports.publish_artifact_seal_seal().block_sealer();
        flatten(api.call_push(store, handle, block))
    }

    pub fn finish(mut self) -> Outcome<(Vec<u8>, SealSummary)> {
        let (store, exports, handle) = self.0.parts();
        let api = exports.publish_artifact_seal_seal().block_sealer();
        let end = flatten(api.call_finish(store, handle))?;
        Ok((end.tail, end.summary))
    }
}

pub struct Sealer<'g>(Handle<'g>);

impl Sealer<'_> {
    pub fn push(&mut self, plaintext: &[u8]) -> Outcome<Vec<u8>> {
        let (store, exports, handle) = self.0.parts();
        let api = exports.publish_artifact_seal_seal().sealer();
        flatten(api.call_push(store, handle, plaintext))
    }

    pub fn finish(mut self) -> Outcome<(Vec<u8>, SealSummary)> {
        let (store, exports, handle) = self.0.parts();
        let api = exports.publish_artifact_seal_seal().sealer();
        let end = flatten(api.call_finish(store, handle))?;
        Ok((end.tail, end.summary))
    }
}

pub struct Opener<'g>(Handle<'g>);

impl Opener<'_> {
    /// Plaintext is provisional until `finish` succeeds.
    pub fn push(&mut self, object: &[u8]) -> Outcome<Vec<u8>> {
        let (store, exports, handle) = self.0.parts();
        let api = exports.publish_artifact_seal_open().opener();
        flatten(api.call_push(store, handle, object))
    }

    /// Returns the last plaintext and the plaintext length.
    pub fn finish(mut self) -> Outcome<(Vec<u8>, u64)> {
        let (store, exports, handle) = self.0.parts();
        let api = exports.publish_artifact_seal_open().opener();
        let end = flatten(api.call_finish(store, handle))?;
        Ok((end.tail, end.summary.plaintext_length))
    }
}

pub struct Decryptor<'g>(Handle<'g>);

impl Decryptor<'_> {
    /// Ciphertext in, the gzip bytes of every block that cannot be the last
    /// out.
    pub fn push(&mut self, ciphertext: &[u8]) -> Outcome<Vec<u8>> {
        let (store, exports, handle) = self.0.parts();
        let api = exports.publish_artifact_seal_open().decryptor();
        flatten(api.call_push(store, handle, ciphertext))
    }

    /// Checks the padding; returns the last gzip bytes.
    pub fn finish(mut self) -> Outcome<Vec<u8>> {
        let (store, exports, handle) = self.0.parts();
        let api = exports.publish_artifact_seal_open().decryptor();
        flatten(api.call_finish(store, handle))
    }
}

pub struct Inflater<'g>(Handle<'g>);

impl Inflater<'_> {
    /// Gzip in, at most about 1 MiB of plaintext out; empty once all the
    /// gzip pushed is decoded (push nothing to get the rest before that).
    pub fn push(&mut self, gzip: &[u8]) -> Outcome<Vec<u8>> {
        let (store, exports, handle) = self.0.parts();
        let api = exports.publish_artifact_seal_open().inflater();
        flatten(api.call_push(store, handle, gzip))
    }

    /// Checks the gzip trailer; returns the last plaintext and the
    /// plaintext length.
    pub fn finish(mut self) -> Outcome<(Vec<u8>, u64)> {
        let (store, exports, handle) = self.0.parts();
        let api = exports.publish_artifact_seal_open().inflater();
        let end = flatten(api.call_finish(store, handle))?;
        Ok((end.tail, end.plaintext_length))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sealing::runtime::{GUEST_MEMORY_LIMIT, Runtime};

    #[test]
    fn calls_after_finish_are_refusals_not_traps() {
        let runtime = Runtime::load().unwrap();
        let mut guest = runtime.instantiate().unwrap();
        let mut sealer = guest
            .sealer(&Key::from_bytes([3; 32]), &[0; 16], 6)
            .unwrap();
        let (store, exports, handle) = sealer.0.parts();
        let api = exports.publish_artifact_seal_seal().sealer();
        flatten(api.call_finish(&mut *store, handle)).unwrap();
        let pushed = flatten(api.call_push(&mut *store, handle, b"more"));
        assert!(matches!(
            pushed,
            Err(GuestError::Refused(wit::Error::Finished))
        ));
        let finished = flatten(api.call_finish(&mut *store, handle));
        assert!(matches!(
            finished,
            Err(GuestError::Refused(wit::Error::Finished))
        ));
    }

    #[test]
    fn a_failed_resource_refuses_further_calls() {
        let runtime = Runtime::load().unwrap();
        let mut guest = runtime.instantiate().unwrap();
        let mut sealer = guest
            .block_sealer(&Key::from_bytes([3; 32]), &[0; 16])
            .unwrap();
        // `finish` before the last block is a refusal, and retires the resource.
        let (store, exports, handle) = sealer.0.parts();
        let api = exports.publish_artifact_seal_seal().block_sealer();
        let early = flatten(api.call_finish(&mut *store, handle));
        assert!(matches!(
            early,
            Err(GuestError::Refused(wit::Error::BlockOrder))
        ));
        let block = guest_block(b"late");
        let late = sealer.push(&block);
        assert!(matches!(
            late,
            Err(GuestError::Refused(wit::Error::Finished))
        ));
    }

    fn guest_block(plaintext: &[u8]) -> DeflateBlock {
        let runtime = Runtime::load().unwrap();
        let mut guest = runtime.instantiate().unwrap();
        guest.compress_block(6, &[], plaintext, true).unwrap()
    }

    #[test]
    fn the_memory_limit_turns_a_runaway_into_an_error() {
        let runtime = Runtime::load().unwrap();
        let mut guest = runtime.instantiate().unwrap();
        let mut sealer = guest
            .sealer(&Key::from_bytes([3; 32]), &[0; 16], 6)
            .unwrap();
        // One chunk larger than the whole memory limit cannot even be copied in.
        let runaway = vec![0u8; GUEST_MEMORY_LIMIT + (1 << 20)];
        assert!(matches!(sealer.push(&runaway), Err(GuestError::Trapped(_))));
    }
}
