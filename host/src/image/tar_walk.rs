//! A tar stream walked header by header, in bounded memory.
//!
//! The `tar` crate reads a GNU long name or a pax extended header into
//! memory whole, however large the header says it is: inside a gzip layer a
//! few bytes can claim gigabytes. This walk reads those headers only up to
//! a bound, counts the members, and refuses overlong paths, so a hostile
//! tarball costs at most the bounds. Header fields are still parsed by the
//! `tar` crate's `Header`.

use super::visit::Kind;
use std::io::{self, Read};
use tar::{EntryType, PaxExtensions};

const BLOCK: u64 = 512;
/// A pax or GNU long-name header holds a path, a link and a few numbers.
const EXTENSION_BYTES: u64 = 64 * 1024;

/// One member's header, extensions applied.
#[derive(Debug)]
pub struct Header {
    /// As written (not normalized).
    pub path: String,
    pub kind: Kind,
    pub size: u64,
    pub mode: u32,
    /// A link's target, as written.
    pub link: Option<String>,
}

/// The walk over `reader`; between two `next` calls, the walk reads the
/// current member's data (`Read`), and `next` skips what was not read.
pub struct TarWalk<R> {
    reader: R,
    /// Data bytes of the current member not read yet, and its padding.
    unread: u64,
    padding: u64,
    headers: u64,
    max_headers: u64,
    max_path: usize,
    ended: bool,
}

/// What pax and GNU headers say about the member that follows them.
#[derive(Default)]
struct Extensions {
    path: Option<Vec<u8>>,
    link: Option<Vec<u8>>,
    size: Option<u64>,
}

fn bad(sentence: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, sentence.into())
}

fn cut_short() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "the tar stream is cut short")
}

impl<R: Read> TarWalk<R> {
    /// At most `max_headers` headers (extensions included) and paths and
    /// link targets of at most `max_path` bytes.
    pub fn new(reader: R, max_headers: u64, max_path: usize) -> Self {
        Self {
            reader,
            unread: 0,
            padding: 0,
            headers: 0,
            max_headers,
            max_path,
            ended: false,
        }
    }

    /// The next member, or `None` at the end of the archive.
    pub fn next_member(&mut self) -> io::Result<Option<Header>> {
        if self.ended {
            return Ok(None);
        }
        self.skip(self.unread + self.padding)?;
        (self.unread, self.padding) = (0, 0);
        let mut extensions = Extensions::default();
        loop {
            let Some(block) = self.block()? else {
                self.ended = true;
                return Ok(None);
            };
            self.headers += 1;
            if self.headers > self.max_headers {
                return Err(bad(format!(
                    "it has more than {} members",
                    self.max_headers
                )));
            }
            let header = tar::Header::from_byte_slice(&block);
            if header.cksum()? != checksum(&block) {
                return Err(bad("a header's checksum does not match"));
            }
            let kind = header.entry_type();
            if kind.is_pax_local_extensions()
                || kind.is_pax_global_extensions()
                || kind.is_gnu_longname()
                || kind.is_gnu_longlink()
            {
                let data = self.extension(header.entry_size()?)?;
                extensions.absorb(kind, data)?;
                continue;
            }
            if kind.is_gnu_sparse() {
                return Err(bad("it holds a GNU sparse file, which is not supported"));
            }
            let member = self.member(header, extensions)?;
            self.unread = member.size;
            self.padding = padding(member.size);
            return Ok(Some(member));
        }
    }

    fn member(&self, header: &tar::Header, extensions: Extensions) -> io::Result<Header> {
        let path = extensions
            .path
            .unwrap_or_else(|| header.path_bytes().into_owned());
        let link = extensions
            .link
            .or_else(|| header.link_name_bytes().map(|bytes| bytes.into_owned()));
        if path.len() > self.max_path || link.as_ref().is_some_and(|l| l.len() > self.max_path) {
            return Err(bad(format!(
                "it has a path or link target longer than {} bytes",
                self.max_path
            )));
        }
        let kind = match header.entry_type() {
            EntryType::Regular | EntryType::Continuous => Kind::File,
            EntryType::Directory => Kind::Directory,
            EntryType::Symlink => Kind::Symlink,
            EntryType::Link => Kind::HardLink,
            _ => Kind::Other,
        };
        Ok(Header {
            path: String::from_utf8_lossy(&path).into_owned(),
            kind,
            size: extensions.size.map_or_else(|| header.entry_size(), Ok)?,
            // Some writers leave a link's mode blank.
            mode: header.mode().unwrap_or(0),
            link: link.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
        })
    }

    /// The next header block; `None` at a zero block or at end of file.
    fn block(&mut self) -> io::Result<Option<[u8; BLOCK as usize]>> {
        let mut block = [0u8; BLOCK as usize];
        let mut filled = 0;
        while filled < block.len() {
            match self.reader.read(&mut block[filled..]) {
                Ok(0) if filled == 0 => return Ok(None),
                Ok(0) => return Err(cut_short()),
                Ok(n) => filled += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        Ok(block.iter().any(|&b| b != 0).then_some(block))
    }

    /// An extension header's data, bounded.
    fn extension(&mut self, size: u64) -> io::Result<Vec<u8>> {
        if size > EXTENSION_BYTES {
            return Err(bad(format!(
                "it has an extended header of {size} bytes (at most {EXTENSION_BYTES})"
            )));
        }
        let mut data = Vec::with_capacity(size as usize);
        (&mut self.reader).take(size).read_to_end(&mut data)?;
        if data.len() as u64 != size {
            return Err(cut_short());
        }
        self.skip(padding(size))?;
        Ok(data)
    }

    fn skip(&mut self, bytes: u64) -> io::Result<()> {
        if bytes < BLOCK {
            // Padding: no buffer to allocate.
            let mut padding = [0u8; BLOCK as usize];
            return self
                .reader
                .read_exact(&mut padding[..bytes as usize])
                .map_err(|err| match err.kind() {
                    io::ErrorKind::UnexpectedEof => cut_short(),
                    _ => err,
                });
        }
        match super::visit::drain(&mut (&mut self.reader).take(bytes))? {
            read if read == bytes => Ok(()),
            _ => Err(cut_short()),
        }
    }
}

/// The current member's data; end of file at its end.
impl<R: Read> Read for TarWalk<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(self.unread).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.reader.read(&mut buf[..want])?;
        if n == 0 {
            return Err(cut_short());
        }
        self.unread -= n as u64;
        Ok(n)
    }
}

impl Extensions {
    fn absorb(&mut self, kind: EntryType, data: Vec<u8>) -> io::Result<()> {
        if kind.is_gnu_longname() {
            self.path = Some(without_trailing_nuls(data));
        } else if kind.is_gnu_longlink() {
            self.link = Some(without_trailing_nuls(data));
        } else if kind.is_pax_local_extensions() {
            for extension in PaxExtensions::new(&data) {
                let extension = extension.map_err(|_| bad("a pax header is malformed"))?;
                match extension.key_bytes() {
                    b"path" => self.path = Some(extension.value_bytes().to_vec()),
                    b"linkpath" => self.link = Some(extension.value_bytes().to_vec()),
                    b"size" => {
                        let size = extension.value().ok().and_then(|v| v.parse().ok());
                        self.size = Some(size.ok_or_else(|| bad("a pax size is not a number"))?);
                    }
                    _ => {}
                }
            }
        }
        // A global pax header (`g`) sets defaults nobody here reads.
        Ok(())
    }
}

fn without_trailing_nuls(mut bytes: Vec<u8>) -> Vec<u8> {
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    bytes
}

fn padding(size: u64) -> u64 {
    (BLOCK - size % BLOCK) % BLOCK
}

/// The header checksum: the bytes summed, the checksum field as spaces.
pub(super) fn checksum(block: &[u8; BLOCK as usize]) -> u32 {
    let field = 148..156;
    block
        .iter()
        .enumerate()
        .map(|(at, &b)| if field.contains(&at) { b' ' } else { b } as u32)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk_all(bytes: &[u8], max_path: usize) -> io::Result<Vec<(Header, Vec<u8>)>> {
        let mut walk = TarWalk::new(bytes, 100, max_path);
        let mut members = Vec::new();
        while let Some(header) = walk.next_member()? {
            let mut data = Vec::new();
            walk.read_to_end(&mut data)?;
            members.push((header, data));
        }
        Ok(members)
    }

    #[test]
    fn long_names_links_and_data_come_through() {
        let long = format!("{}/file", "d".repeat(300));
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(5);
        header.set_mode(0o755);
        builder
            .append_data(&mut header, &long, &b"hello"[..])
            .unwrap();
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(EntryType::Symlink);
        header.set_size(0);
        builder.append_link(&mut header, "short", &long).unwrap();
        let members = walk_all(&builder.into_inner().unwrap(), 4096).unwrap();
        assert_eq!(members.len(), 2);
        let (file, data) = &members[0];
        assert_eq!(
            (file.path.as_str(), file.kind, file.mode),
            (long.as_str(), Kind::File, 0o755)
        );
        assert_eq!(data, b"hello");
        let (link, _) = &members[1];
        assert_eq!(
            (link.kind, link.link.as_deref()),
            (Kind::Symlink, Some(long.as_str()))
        );
        assert!(
            walk_all(&tarball_with_path(&long), 100)
                .is_err_and(|e| e.to_string().contains("longer"))
        );
    }

    fn tarball_with_path(path: &str) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(0);
        builder.append_data(&mut header, path, &b""[..]).unwrap();
        builder.into_inner().unwrap()
    }

    #[test]
    fn a_huge_extended_header_is_refused_without_reading_it() {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(EntryType::XHeader);
        header.set_size(1 << 40);
        header.set_cksum();
        let error = walk_all(header.as_bytes(), 4096).unwrap_err();
        assert!(error.to_string().contains("extended header"), "{error}");
    }
}
