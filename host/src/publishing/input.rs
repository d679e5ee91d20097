//! How publish reads its input: once. When the input is an image tarball
//! and something needs to see inside it (the image binding, the SBOM's
//! catalogers), sealing reads it through the one image scan; otherwise
//! sealing reads the file as it is. What the scan saw is decided on only
//! after sealing reached the end of the file.

use crate::failure::{Class, Failure};
use crate::image::scan::Scanned;
use crate::image::{BoundImage, Expectation, Limits, Scan};
use crate::sbom::catalogers;
use crate::sbom::image::looks_like_tar;
use crate::sbom::squash::Squasher;
use std::io::{self, Chain, Cursor, Read};

/// Bytes sniffed before sealing starts: a tar's first header.
const HEAD: u64 = 512;

/// The input with its first bytes read ahead and put back in front.
pub type Peeked<R> = Chain<Cursor<Vec<u8>>, R>;

/// The input file, read through the scan or not.
pub enum Input<R> {
    Plain(Peeked<R>),
    Scanned {
        scan: Box<Scan<Peeked<R>, Squasher>>,
        binding: Option<Expectation>,
    },
}

/// What the one read showed, once it reached the end of the input.
pub struct Finished {
    /// The image `--image-ref` named, shown to be this tarball.
    pub image: Option<BoundImage>,
    /// The scan of a tar's layers, for its SBOM, or why the tar could not
    /// be walked to its end; `None` when the layers were not read.
    pub scanned: Option<Result<Scanned<Squasher>, String>>,
}

impl<R: Read> Input<R> {
    /// Reads the first bytes of `input` to tell a tarball, then wraps it:
    /// through the scan when the binding is asked for (any input: one that
    /// is no image is refused in `finish`) or when `sbom` is on and the
    /// input is a tar; plain otherwise.
    pub fn new(mut input: R, binding: Option<Expectation>, sbom: bool) -> io::Result<Self> {
        let mut head = Vec::with_capacity(HEAD as usize);
        (&mut input).take(HEAD).read_to_end(&mut head)?;
        let catalog = sbom && looks_like_tar(&head);
        let input = Cursor::new(head).chain(input);
        if binding.is_none() && !catalog {
            return Ok(Self::Plain(input));
        }
        let squasher = catalog.then(|| Squasher::new(catalogers()));
        Ok(Self::Scanned {
            scan: Box::new(Scan::start(input, squasher, Limits::default())),
            binding,
        })
    }

    /// After the whole input was read: the bound image, or the binding's
    /// refusal (exit 9); and the scan for the SBOM. A tar the scan could
    /// not walk fails only a binding: the SBOM says so instead.
    pub fn finish(self) -> Result<Finished, Failure> {
        let (scan, binding) = match self {
            Self::Plain(_) => {
                return Ok(Finished {
                    image: None,
                    scanned: None,
                });
            }
            Self::Scanned { scan, binding } => (scan, binding),
        };
        let scanned = match (scan.finish(), &binding) {
            (Ok(scanned), _) => scanned,
            (Err(why), Some(_)) => return Err(not_the_image(why)),
            (Err(why), None) => {
                return Ok(Finished {
                    image: None,
                    scanned: Some(Err(format!("the input starts as a tar archive, but {why}"))),
                });
            }
        };
        let image = binding
            .map(|binding| binding.check(&scanned.contents))
            .transpose()
            .map_err(not_the_image)?;
        Ok(Finished {
            image,
            scanned: scanned.visitor.is_some().then_some(Ok(scanned)),
        })
    }
}

fn not_the_image(why: impl std::fmt::Display) -> Failure {
    Failure::new(
        Class::Attestation,
        anyhow::anyhow!("the input is not the image --image-ref names: {why}"),
    )
}

impl<R: Read> Read for Input<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(input) => input.read(buf),
            Self::Scanned { scan, .. } => scan.read(buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::scan::tests::tarball;
    use proptest::prelude::*;
    use std::io::Write;

    fn read_whole<R: Read>(mut input: Input<R>) -> (Vec<u8>, Result<Finished, Failure>) {
        let mut copy = Vec::new();
        input.read_to_end(&mut copy).unwrap();
        (copy, input.finish())
    }

    #[test]
    fn only_a_tar_is_scanned_for_its_sbom_and_every_byte_passes() {
        let model = b"TRT engine bytes ".repeat(100);
        let input = Input::new(&model[..], None, true).unwrap();
        assert!(matches!(input, Input::Plain(_)));
        let (copy, finished) = read_whole(input);
        assert_eq!(copy, model);
        assert!(finished.unwrap().scanned.is_none());

        let archive = tarball(&[("manifest.json", b"[]")], &[]);
        let input = Input::new(&archive[..], None, true).unwrap();
        assert!(matches!(input, Input::Scanned { .. }));
        let (copy, finished) = read_whole(input);
        assert_eq!(copy, archive);
        let scanned = finished.unwrap().scanned.unwrap().unwrap();
        assert!(scanned.contents.file("manifest.json").is_some());

        let off = Input::new(&archive[..], None, false).unwrap();
        assert!(matches!(off, Input::Plain(_)));
    }

    #[test]
    fn a_tar_cut_short_fails_only_a_binding() {
        let archive = tarball(&[("manifest.json", &[b'x'; 4096])], &[]);
        let cut = &archive[..2000];
        let (copy, finished) = read_whole(Input::new(cut, None, true).unwrap());
        assert_eq!(copy, cut);
        let why = finished.unwrap().scanned.unwrap().err().unwrap();
        assert!(
            why.starts_with("the input starts as a tar archive, but"),
            "{why}"
        );
    }

    const STATUS: &[u8] = include_bytes!("../sbom/testdata/debian/status");
    const OS_RELEASE: &[u8] = include_bytes!("../sbom/testdata/debian/os-release");

    /// An image of one gzip layer holding a dpkg database, manifest.json
    /// after the blob (as Docker 25+ writes it).
    fn debian_image() -> Vec<u8> {
        let layer = tarball(
            &[
                ("var/lib/dpkg/status", STATUS),
                ("etc/os-release", OS_RELEASE),
            ],
            &[],
        );
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gzip.write_all(&layer).unwrap();
        let manifest = br#"[{"Config": "blobs/sha256/c", "RepoTags": ["acme/app:1"], "Layers": ["blobs/sha256/l"]}]"#;
        let config = br#"{"os": "linux", "architecture": "amd64", "rootfs": {"diff_ids": []}}"#;
        tarball(
            &[
                ("blobs/sha256/l", &gzip.finish().unwrap()),
                ("blobs/sha256/c", config),
                ("manifest.json", manifest),
            ],
            &[],
        )
    }

    #[test]
    fn the_undamaged_image_is_catalogued() {
        let (_, finished) = read_whole(Input::new(&debian_image()[..], None, true).unwrap());
        let scanned = finished.unwrap().scanned.unwrap().unwrap();
        let bom = crate::sbom::image::bom_of(scanned, None, std::time::SystemTime::UNIX_EPOCH)
            .unwrap()
            .unwrap();
        assert!(bom.packages.len() >= 3, "{:?}", bom.packages);
    }

    proptest! {
        /// A damaged image (cut short, bytes overwritten) passes through
        /// unchanged, and the scan and the catalogers end without a panic.
        #[test]
        fn a_damaged_image_never_panics_the_one_read(
            cut in any::<prop::sample::Index>(),
            overwrites in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        ) {
            let mut image = debian_image();
            for (at, byte) in overwrites {
                let at = at.index(image.len());
                image[at] = byte;
            }
            image.truncate(cut.index(image.len()) + 1);
            let (copy, finished) = read_whole(Input::new(&image[..], None, true).unwrap());
            prop_assert_eq!(&copy, &image);
            let finished = finished.map_err(|failure| failure.error.to_string()).unwrap();
            if let Some(Ok(scanned)) = finished.scanned {
                let _ = crate::sbom::image::bom_of(scanned, None, std::time::SystemTime::UNIX_EPOCH);
            }
        }
    }
}
