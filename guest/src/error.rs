//! The guest's error type, mirroring the WIT `error` variant so that the
//! logic modules stay free of generated bindings and test natively.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    InvalidKeyLength(usize),
    InvalidIvLength(usize),
    InvalidLevel(u8),
    InvalidDigestLength(usize),
    InvalidDictionaryLength(usize),
    InvalidBlockLength(usize),
    Finished,
    BlockOrder,
    InvalidObjectLength(u64),
    DigestMismatch,
    BadPadding,
    CorruptGzip(String),
    TruncatedGzip,
    TrailingData,
}

/// Checks that a slice has the exact length a fixed-size parameter needs.
pub fn exact<const N: usize>(bytes: &[u8], err: fn(usize) -> Error) -> Result<[u8; N], Error> {
    bytes.try_into().map_err(|_| err(bytes.len()))
}
