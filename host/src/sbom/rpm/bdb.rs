//! The BerkeleyDB hash database `Packages` (rpm < 4.16: CentOS 7, RHEL 8):
//! read page by page, as go-rpmdb does, without BerkeleyDB itself.
//!
//! Page 0 is the hash metadata (magic, page size, last page); each hash
//! page holds key/value item pairs, and a value too large for its page
//! (every rpm header) is an off-page reference to a chain of overflow
//! pages. Keys are header instance numbers; key 0 holds rpm's next
//! instance number, not a header. Memory stays one page plus one header,
//! and every page number and length is checked against the file first.

use std::io::{Read, Seek, SeekFrom};

const HASH_MAGIC: u32 = 0x0006_1561;
const PAGE_HEADER: usize = 26;
const HASH_META: u8 = 8;
const HASH_UNSORTED: u8 = 2;
const HASH: u8 = 13;
const OVERFLOW: u8 = 7;
const KEY_DATA: u8 = 1;
const OFF_PAGE: u8 = 3;
const OFF_PAGE_SIZE: usize = 12;

/// How the file's numbers read: BerkeleyDB writes the host's byte order.
#[derive(Clone, Copy)]
struct Layout {
    little_endian: bool,
    page_size: usize,
    pages: u32,
}

impl Layout {
    fn u16(self, bytes: &[u8], at: usize) -> Option<usize> {
        let b: [u8; 2] = bytes.get(at..at + 2)?.try_into().ok()?;
        Some(usize::from(if self.little_endian {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }))
    }
    fn u32(self, bytes: &[u8], at: usize) -> Option<u32> {
        let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if self.little_endian {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }
}

/// Calls `each` with every header blob, in page order; returns how many
/// values were damaged and skipped.
pub fn headers<F: Read + Seek>(mut file: F, each: &mut dyn FnMut(&[u8])) -> Result<usize, String> {
    let layout = layout(&mut file)?;
    let mut page = vec![0; layout.page_size];
    let mut damaged = 0;
    for number in 1..layout.pages {
        read_page(&mut file, layout, number, &mut page)?;
        if !matches!(page[25], HASH | HASH_UNSORTED) {
            continue;
        }
        let items = layout.u16(&page, 20).unwrap_or(0);
        for pair in (0..items.saturating_sub(1)).step_by(2) {
            if is_next_instance_key(layout, &page, pair) {
                continue;
            }
            match value(&mut file, layout, &page, pair + 1) {
                Some(Ok(blob)) => each(&blob),
                Some(Err(())) => damaged += 1,
                None => {}
            }
        }
    }
    Ok(damaged)
}

fn layout<F: Read + Seek>(file: &mut F) -> Result<Layout, String> {
    let mut meta = [0; 72];
    file.read_exact(&mut meta)
        .map_err(|_| "it is too short for a BerkeleyDB file".to_owned())?;
    let little_endian = match meta[12..16].try_into().map(u32::from_le_bytes) {
        Ok(HASH_MAGIC) => true,
        _ if meta[12..16] == HASH_MAGIC.to_be_bytes() => false,
        _ => return Err("it is not a BerkeleyDB hash database (wrong magic)".into()),
    };
    let probe = Layout {
        little_endian,
        page_size: 0,
        pages: 0,
    };
    let page_size = probe.u32(&meta, 20).unwrap_or(0);
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() || meta[25] != HASH_META
    {
        return Err(format!(
            "its metadata page is damaged (page size {page_size})"
        ));
    }
    if meta[24] != 0 {
        return Err("it is encrypted".into());
    }
    let length = file
        .seek(SeekFrom::End(0))
        .map_err(|e| format!("it could not be read ({e})"))?;
    let last_page = probe.u32(&meta, 32).unwrap_or(0);
    let in_file = length / u64::from(page_size);
    let pages = u32::try_from(in_file.min(u64::from(last_page) + 1)).unwrap_or(u32::MAX);
    Ok(Layout {
        little_endian,
        page_size: page_size as usize,
        pages,
    })
}

fn read_page<F: Read + Seek>(
    file: &mut F,
    layout: Layout,
    number: u32,
    page: &mut [u8],
) -> Result<(), String> {
    let at = u64::from(number) * layout.page_size as u64;
    file.seek(SeekFrom::Start(at))
        .and_then(|_| file.read_exact(page))
        .map_err(|e| format!("page {number} could not be read ({e})"))
}

/// An item's bytes: items are laid from the end of the page down, so one
/// ends where the item before it in the index begins.
fn item(layout: Layout, page: &[u8], index: usize) -> Option<&[u8]> {
    let start = layout.u16(page, PAGE_HEADER + 2 * index)?;
    let end = if index == 0 {
        page.len()
    } else {
        layout.u16(page, PAGE_HEADER + 2 * (index - 1))?
    };
    page.get(start..end).filter(|item| !item.is_empty())
}

fn is_next_instance_key(layout: Layout, page: &[u8], index: usize) -> bool {
    item(layout, page, index).is_some_and(|key| key[0] == KEY_DATA && key[1..] == [0, 0, 0, 0])
}

/// A value in full: kept in the page, or gathered from its overflow
/// chain. None for item kinds rpm never writes (duplicates).
fn value<F: Read + Seek>(
    file: &mut F,
    layout: Layout,
    page: &[u8],
    index: usize,
) -> Option<Result<Vec<u8>, ()>> {
    let Some(item) = item(layout, page, index) else {
        return Some(Err(()));
    };
    match item[0] {
        KEY_DATA => Some(Ok(item[1..].to_vec())),
        OFF_PAGE if item.len() >= OFF_PAGE_SIZE => {
            let first = layout.u32(item, 4)?;
            let length = layout.u32(item, 8)? as usize;
            Some(overflow(file, layout, first, length).ok_or(()))
        }
        OFF_PAGE => Some(Err(())),
        _ => None,
    }
}

/// Follows an overflow chain of at most as many pages as the file has,
/// collecting at most `length` bytes, which cannot exceed the file.
fn overflow<F: Read + Seek>(
    file: &mut F,
    layout: Layout,
    first: u32,
    length: usize,
) -> Option<Vec<u8>> {
    let room = (layout.page_size - PAGE_HEADER) * layout.pages as usize;
    if length > room {
        return None;
    }
    let mut blob = Vec::with_capacity(length);
    let mut page = vec![0; layout.page_size];
    let mut number = first;
    for _ in 0..layout.pages {
        if number == 0 || number >= layout.pages || blob.len() >= length {
            break;
        }
        read_page(file, layout, number, &mut page).ok()?;
        if page[25] != OVERFLOW {
            return None;
        }
        let used = layout.u16(&page, 22)?.min(layout.page_size - PAGE_HEADER);
        let take = used.min(length - blob.len());
        blob.extend_from_slice(&page[PAGE_HEADER..PAGE_HEADER + take]);
        number = layout.u32(&page, 16)?;
    }
    (blob.len() == length).then_some(blob)
}
