//! The rpm header blob, as the package database stores it (rpm's
//! `headerExport` form, without the lead magic): two big-endian u32 counts
//! (index entries, data bytes), the index entries (tag, type, offset,
//! count; 16 bytes each), then the data store they point into.

/// The tags a package's SBOM entry needs (rpm's `rpmtag.h`).
pub mod tag {
    pub const NAME: u32 = 1000;
    pub const VERSION: u32 = 1001;
    pub const RELEASE: u32 = 1002;
    pub const EPOCH: u32 = 1003;
    pub const VENDOR: u32 = 1011;
    pub const LICENSE: u32 = 1014;
    pub const PACKAGER: u32 = 1015;
    pub const ARCH: u32 = 1022;
    pub const SOURCERPM: u32 = 1044;
}

const INT32: u32 = 4;
const STRING: u32 = 6;
const STRING_ARRAY: u32 = 8;
const I18NSTRING: u32 = 9;
const ENTRY_SIZE: usize = 16;

#[derive(Debug, Clone, Copy)]
struct Entry {
    tag: u32,
    kind: u32,
    offset: usize,
}

/// A parsed header: its index, and the data store the index points into.
#[derive(Debug)]
pub struct Header<'a> {
    entries: Vec<Entry>,
    store: &'a [u8],
}

impl<'a> Header<'a> {
    /// Checks the two counts against the blob before anything is
    /// allocated, so a damaged count cannot ask for more than the blob has.
    pub fn parse(blob: &'a [u8]) -> Result<Self, String> {
        let count = |at: usize| {
            blob.get(at..at + 4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        let (Some(index_count), Some(data_len)) = (count(0), count(4)) else {
            return Err(format!(
                "a header of {} bytes is shorter than its counts",
                blob.len()
            ));
        };
        let index_len = (index_count as usize).checked_mul(ENTRY_SIZE);
        let needed = index_len.and_then(|len| len.checked_add(8)?.checked_add(data_len as usize));
        let (Some(index_len), Some(needed)) = (index_len, needed) else {
            return Err("a header's counts overflow".into());
        };
        if needed > blob.len() {
            return Err(format!(
                "a header says it holds {index_count} entries and {data_len} data bytes, but has only {} bytes",
                blob.len()
            ));
        }
        let store = &blob[8 + index_len..needed];
        let entries = blob[8..8 + index_len]
            .chunks_exact(ENTRY_SIZE)
            .map(|raw| {
                let field = |at: usize| {
                    u32::from_be_bytes([raw[at], raw[at + 1], raw[at + 2], raw[at + 3]])
                };
                Entry {
                    tag: field(0),
                    kind: field(4),
                    offset: field(8) as usize,
                }
            })
            .collect();
        Ok(Self { entries, store })
    }

    fn entry(&self, tag: u32) -> Option<Entry> {
        self.entries.iter().copied().find(|entry| entry.tag == tag)
    }

    /// A string tag (the first string of an array or i18n table); none
    /// when absent, empty, or pointing outside the store.
    pub fn string(&self, tag: u32) -> Option<String> {
        let entry = self
            .entry(tag)
            .filter(|e| matches!(e.kind, STRING | STRING_ARRAY | I18NSTRING))?;
        let rest = self.store.get(entry.offset..)?;
        let end = rest.iter().position(|&byte| byte == 0)?;
        let text = String::from_utf8_lossy(&rest[..end]).trim().to_owned();
        (!text.is_empty()).then_some(text)
    }

    /// An INT32 tag's first value.
    pub fn int32(&self, tag: u32) -> Option<u32> {
        let entry = self.entry(tag).filter(|e| e.kind == INT32)?;
        let bytes = self.store.get(entry.offset..entry.offset.checked_add(4)?)?;
        Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header with NAME = "acme" and EPOCH = 2, built by hand.
    fn small() -> Vec<u8> {
        let store = b"acme\0\0\0\0\0\0\0\x02";
        let mut blob = Vec::new();
        blob.extend(2u32.to_be_bytes());
        blob.extend((store.len() as u32).to_be_bytes());
        for (tag, kind, offset) in [(tag::NAME, STRING, 0u32), (tag::EPOCH, INT32, 8)] {
            for field in [tag, kind, offset, 1] {
                blob.extend(field.to_be_bytes());
            }
        }
        blob.extend(store);
        blob
    }

    #[test]
    fn reads_strings_and_integers() {
        let blob = small();
        let header = Header::parse(&blob).unwrap();
        assert_eq!(header.string(tag::NAME).as_deref(), Some("acme"));
        assert_eq!(header.int32(tag::EPOCH), Some(2));
        assert_eq!(header.string(tag::VERSION), None);
        assert_eq!(header.string(tag::EPOCH), None, "an INT32 is not a string");
    }

    #[test]
    fn refuses_counts_larger_than_the_blob() {
        let mut blob = small();
        blob[0..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(Header::parse(&blob).unwrap_err().contains("entries"));
        assert!(Header::parse(&blob[..5]).is_err());
    }

    #[test]
    fn every_truncation_or_flipped_byte_is_an_error_or_a_header_never_a_panic() {
        let blob = small();
        for len in 0..blob.len() {
            let _ = Header::parse(&blob[..len]).map(|h| (h.string(tag::NAME), h.int32(tag::EPOCH)));
        }
        for at in 0..blob.len() {
            let mut damaged = blob.clone();
            damaged[at] ^= 0xff;
            let _ = Header::parse(&damaged).map(|h| (h.string(tag::NAME), h.int32(tag::EPOCH)));
        }
    }
}
