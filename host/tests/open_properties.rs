//! Bad objects never crash the opener.
//!
//! `open`, `verify` and `fetch` run through their real code paths (the
//! command, the open pipeline, the guest; `fetch` from a loopback HTTP
//! server) on objects made here by an independent implementation: the `aes`,
//! `cbc`, `flate2` and `sha2` crates, not the guest's vector-permute AES nor
//! its block-wise gzip framing. The objects are then damaged: arbitrary
//! bytes, truncations at every boundary class, bit flips in the IV, the body
//! and the padding block, wrong keys, wrong digests, and digests that match
//! the damaged bytes, so that decryption, the padding check and gunzip have
//! to catch what the SHA-256 check let through. The outcome is always an
//! integrity failure (exit 6) with nothing left in the output directory:
//! never a panic, never a guest trap (internal, exit 70). Damage the format
//! cannot see (a flipped bit in the gzip header's flags, mtime, xfl or os
//! fields, or a padding bit in deflate's bitstream) may open, and must then
//! give the original plaintext, byte for byte.
//!
//! The runs are the same on every machine: a fixed seed, and no failure
//! persistence file. A fixed seed finds a failure again by itself, and a
//! failure found is kept as a named regression test, which says what it
//! guards, rather than as an opaque seed in a `proptest-regressions` file.

use cbc::cipher::generic_array::GenericArray;
use cbc::cipher::{BlockEncryptMut, KeyIvInit};
use flate2::Compression;
use flate2::write::GzEncoder;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{RngSeed, TestCaseError};
use publish_artifact::cli::{FetchArgs, FetchSource, KeySource, OpenArgs, VerifyArgs, VsaKeyArgs};
use publish_artifact::commands::{fetch, open, verify};
use publish_artifact::failure::{Class, Failure};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

const BLOCK: usize = 16;
/// gzip's fixed header: magic (2), CM, FLG, MTIME (4), XFL, OS.
const GZIP_HEADER: usize = 10;
/// gzip's trailer: CRC-32 and ISIZE.
const GZIP_TRAILER: usize = 8;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(14),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------
// Objects, made independently of the guest.

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn gzip(plaintext: &[u8], level: u32) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::new(level));
    encoder.write_all(plaintext).unwrap();
    encoder.finish().unwrap()
}

/// PKCS#7: 1 to 16 bytes, each holding the count.
fn pkcs7(mut data: Vec<u8>) -> Vec<u8> {
    let pad = BLOCK - data.len() % BLOCK;
    data.resize(data.len() + pad, pad as u8);
    data
}

/// IV || AES-256-CBC of `padded`, which must be whole blocks: whatever
/// they hold, valid padding or not.
fn encrypt(key: &[u8; 32], iv: &[u8; 16], padded: &[u8]) -> Vec<u8> {
    assert_eq!(padded.len() % BLOCK, 0, "whole blocks only");
    let mut cipher = cbc::Encryptor::<aes::Aes256>::new(key.into(), iv.into());
    let mut object = iv.to_vec();
    for chunk in padded.chunks(BLOCK) {
        let mut block = GenericArray::clone_from_slice(chunk);
        cipher.encrypt_block_mut(&mut block);
        object.extend_from_slice(&block);
    }
    object
}

#[derive(Clone)]
struct Sealed {
    plaintext: Vec<u8>,
    gzip: Vec<u8>,
    key: [u8; 32],
    iv: [u8; 16],
    object: Vec<u8>,
}

impl Sealed {
    fn new(plaintext: Vec<u8>, key: [u8; 32], iv: [u8; 16], level: u32) -> Self {
        let gzip = gzip(&plaintext, level);
        let object = encrypt(&key, &iv, &pkcs7(gzip.clone()));
        Self {
            plaintext,
            gzip,
            key,
            iv,
            object,
        }
    }

    /// The object of `gzip`'s bytes as they are, padded by the caller.
    fn encrypting(&self, padded: &[u8]) -> Vec<u8> {
        encrypt(&self.key, &self.iv, padded)
    }
}

/// Short: proptest prints the failing case, and a plaintext can be long.
impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Sealed {{ plaintext: {} bytes, gzip: {} bytes, object: {} bytes, key: {}, iv: {} }}",
            self.plaintext.len(),
            self.gzip.len(),
            self.object.len(),
            hex::encode(self.key),
            hex::encode(self.iv),
        )
    }
}

fn plaintexts() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Incompressible: deflate's stored blocks.
        vec(any::<u8>(), 0..1500),
        // One byte repeated: long matches, a tiny object.
        (any::<u8>(), 0..40_000usize).prop_map(|(byte, n)| vec![byte; n]),
        // Text-like: Huffman codes and matches.
        vec(prop::sample::select(b"abc de\n".to_vec()), 0..6000),
    ]
}

fn sealed() -> impl Strategy<Value = Sealed> {
    (plaintexts(), any::<[u8; 32]>(), any::<[u8; 16]>(), 0u32..=9)
        .prop_map(|(plaintext, key, iv, level)| Sealed::new(plaintext, key, iv, level))
}

/// The digest the opener is told to expect.
#[derive(Debug, Clone, Copy)]
enum Expected {
    /// The registered one, of the object before it was damaged.
    Original,
    /// That of the damaged bytes: the SHA-256 check passes, and what comes
    /// after it has to catch the damage.
    OfDamaged,
}

fn expected() -> impl Strategy<Value = Expected> {
    prop_oneof![Just(Expected::Original), Just(Expected::OfDamaged)]
}

impl Expected {
    fn digest(self, sealed: &Sealed, damaged: &[u8]) -> [u8; 32] {
        match self {
            Self::Original => sha256(&sealed.object),
            Self::OfDamaged => sha256(damaged),
        }
    }
}

// ---------------------------------------------------------------------------
// Running the three commands.

/// A loopback HTTP server that answers every request with the object.
struct ObjectServer {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ObjectServer {
    fn start(object: Vec<u8>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    // A client that went away is the client's business.
                    let _ = answer(stream, &object);
                }
            }
        });
        Self {
            address,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}/object.enc", self.address)
    }
}

impl Drop for ObjectServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.address);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

fn answer(mut stream: TcpStream, object: &[u8]) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut request = Vec::new();
    let mut buffer = [0; 4096];
    while !request.windows(4).any(|window| window == b"\r\n\r\n") {
        match stream.read(&mut buffer)? {
            0 => return Ok(()),
            n => request.extend_from_slice(&buffer[..n]),
        }
    }
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        object.len()
    )?;
    stream.write_all(object)?;
    stream.flush()
}

#[derive(Debug, Clone, Copy)]
enum Command {
    Open,
    Verify,
    Fetch,
}

/// What a command did: refused, or opened (with the plaintext it wrote;
/// `verify` writes none).
type Outcome = Result<Option<Vec<u8>>, Failure>;

/// A directory with the key file and the object, and an empty one for the
/// output: after a refusal it must still be empty.
struct Workspace {
    _dir: tempfile::TempDir,
    key_file: PathBuf,
    object_file: PathBuf,
    out_dir: PathBuf,
}

impl Workspace {
    fn new(object: &[u8], key: &[u8; 32]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("key");
        std::fs::write(&key_file, hex::encode(key)).unwrap();
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let object_file = dir.path().join("object.enc");
        std::fs::write(&object_file, object).unwrap();
        let out_dir = dir.path().join("out");
        std::fs::create_dir(&out_dir).unwrap();
        Self {
            _dir: dir,
            key_file,
            object_file,
            out_dir,
        }
    }

    fn key_source(&self) -> KeySource {
        KeySource {
            key_file: Some(self.key_file.clone()),
        }
    }

    fn run(&self, command: Command, object: &[u8], sha256: [u8; 32]) -> Outcome {
        let out = self.out_dir.join("plaintext");
        let result = match command {
            Command::Open => open::run(&OpenArgs {
                file: self.object_file.clone(),
                key: self.key_source(),
                sha256,
                out: out.clone(),
            }),
            Command::Verify => verify::run(&VerifyArgs {
                file: self.object_file.clone(),
                sha256,
                key: self.key_source(),
                against: None,
            }),
            Command::Fetch => {
                let server = ObjectServer::start(object.to_vec());
                fetch::run(&FetchArgs {
                    source: FetchSource {
                        url: Some(server.url()),
                        object_key: None,
                    },
                    sha256,
                    key: self.key_source(),
                    out: out.clone(),
                    progress: false,
                    public_key: Vec::new(),
                    vsa_keys: VsaKeyArgs {
                        vsa_public_key: Vec::new(),
                    },
                    require_sbom: false,
                })
            }
        };
        result.map(|()| match command {
            Command::Verify => None,
            Command::Open | Command::Fetch => {
                let plaintext = std::fs::read(&out).unwrap();
                std::fs::remove_file(&out).unwrap();
                Some(plaintext)
            }
        })
    }

    fn leftovers(&self) -> Vec<String> {
        std::fs::read_dir(&self.out_dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }
}

/// What the commands may do with a damaged object.
#[derive(Debug, Clone, Copy, PartialEq)]
enum May {
    /// Only refuse it, as an integrity failure.
    Refuse,
    /// Refuse it, or give back exactly this plaintext.
    RefuseOrRestore,
}

/// Runs `open`, `verify` and `fetch` on `object` and holds each to `may`.
fn check(
    object: &[u8],
    key: &[u8; 32],
    sha256: [u8; 32],
    may: May,
    plaintext: &[u8],
) -> Result<(), TestCaseError> {
    let workspace = Workspace::new(object, key);
    for command in [Command::Open, Command::Verify, Command::Fetch] {
        let outcome = workspace.run(command, object, sha256);
        let leftovers = workspace.leftovers();
        prop_assert!(
            leftovers.is_empty(),
            "{command:?} left {leftovers:?} (outcome {outcome:?})"
        );
        match outcome {
            Err(failure) => {
                prop_assert_eq!(
                    failure.class,
                    Class::Integrity,
                    "{:?} failed as {:?}, not integrity: {:?}",
                    command,
                    failure.class,
                    failure
                );
                let message = failure.to_string();
                prop_assert!(
                    !repeats_itself(&message),
                    "{command:?} says it twice: {message}"
                );
            }
            Ok(restored) => {
                prop_assert!(
                    may == May::RefuseOrRestore,
                    "{command:?} opened a damaged object"
                );
                if let Some(restored) = restored {
                    prop_assert!(
                        restored == plaintext,
                        "{command:?} opened a damaged object to another plaintext"
                    );
                }
            }
        }
    }
    Ok(())
}

/// Whether an error chain ends in the same words twice ("A: B: A: B"), as
/// when an error is both another's message and its source.
fn repeats_itself(message: &str) -> bool {
    message
        .match_indices(": ")
        .any(|(at, _)| message[..at].ends_with(&message[at + 2..]))
}

// ---------------------------------------------------------------------------
// The damage.

/// Where a truncated object ends.
#[derive(Debug, Clone)]
enum Cut {
    Empty,
    InsideIv(Index),
    IvOnly,
    IvAndPartialBlock(Index),
    /// After a whole number of ciphertext blocks, from none to all but one.
    BlockBoundary(Index),
    /// The padding block gone.
    LastBlockDropped,
    /// Inside the padding block.
    InsideLastBlock(Index),
    OneByteShort,
    Anywhere(Index),
}

impl Cut {
    fn length(&self, object: usize) -> usize {
        let blocks = (object - BLOCK) / BLOCK;
        match self {
            Self::Empty => 0,
            Self::InsideIv(at) => 1 + at.index(BLOCK - 1),
            Self::IvOnly => BLOCK,
            Self::IvAndPartialBlock(at) => BLOCK + 1 + at.index(BLOCK - 1),
            Self::BlockBoundary(at) => BLOCK + BLOCK * at.index(blocks),
            Self::LastBlockDropped => object - BLOCK,
            Self::InsideLastBlock(at) => object - BLOCK + 1 + at.index(BLOCK - 1),
            Self::OneByteShort => object - 1,
            Self::Anywhere(at) => at.index(object),
        }
    }
}

fn cuts() -> impl Strategy<Value = Cut> {
    let at = any::<Index>;
    prop_oneof![
        Just(Cut::Empty),
        at().prop_map(Cut::InsideIv),
        Just(Cut::IvOnly),
        at().prop_map(Cut::IvAndPartialBlock),
        at().prop_map(Cut::BlockBoundary),
        Just(Cut::LastBlockDropped),
        at().prop_map(Cut::InsideLastBlock),
        Just(Cut::OneByteShort),
        at().prop_map(Cut::Anywhere),
    ]
}

/// Where a bit is flipped.
#[derive(Debug, Clone, Copy)]
enum Region {
    Iv,
    /// Any ciphertext block but the last.
    Body,
    /// The block before the last: CBC carries its flips, bit for bit, into
    /// the plaintext of the last block, which holds the padding.
    BeforePadding,
    PaddingBlock,
}

impl Region {
    fn byte(self, object: usize, at: &Index) -> usize {
        match self {
            Self::Iv => at.index(BLOCK),
            Self::Body => BLOCK + at.index(object - 2 * BLOCK),
            Self::BeforePadding => object - 2 * BLOCK + at.index(BLOCK),
            Self::PaddingBlock => object - BLOCK + at.index(BLOCK),
        }
    }
}

fn regions() -> impl Strategy<Value = Region> {
    prop_oneof![
        Just(Region::Iv),
        Just(Region::Body),
        Just(Region::BeforePadding),
        Just(Region::PaddingBlock),
    ]
}

/// A valid CBC encryption of a payload that is not a good gzip member, or
/// of a good one with bad padding: the SHA-256 check always passes.
#[derive(Debug, Clone)]
enum BadPayload {
    NotGzip(Vec<u8>),
    /// The gzip member cut short, down to nothing.
    TruncatedGzip(Index),
    TrailingGarbage(Vec<u8>),
    /// A second gzip member after the first: the format has exactly one.
    SecondMember,
    /// A bit flipped in the CRC-32 or ISIZE.
    WrongTrailer(Index, u8),
    /// The whole member, then a last block whose padding is not PKCS#7:
    /// `count` is its last byte, `filler` the bytes before it.
    BadPadding {
        count: u8,
        filler: [u8; BLOCK],
    },
}

fn bad_payloads() -> impl Strategy<Value = BadPayload> {
    prop_oneof![
        vec(any::<u8>(), 0..400).prop_map(BadPayload::NotGzip),
        any::<Index>().prop_map(BadPayload::TruncatedGzip),
        vec(any::<u8>(), 1..64).prop_map(BadPayload::TrailingGarbage),
        Just(BadPayload::SecondMember),
        (any::<Index>(), 0u8..8).prop_map(|(at, bit)| BadPayload::WrongTrailer(at, bit)),
        // Mostly counts that a lax check would believe.
        (
            prop_oneof![3 => 1u8..=16, 1 => any::<u8>()],
            any::<[u8; BLOCK]>()
        )
            .prop_map(|(count, filler)| BadPayload::BadPadding { count, filler }),
    ]
}

/// Whether `padded` ends in PKCS#7 padding, checked here independently.
fn pkcs7_valid(padded: &[u8]) -> bool {
    let count = usize::from(*padded.last().unwrap());
    (1..=BLOCK).contains(&count)
        && padded[padded.len() - count..]
            .iter()
            .all(|&b| b == count as u8)
}

impl BadPayload {
    /// The padded payload, or `None` where this draw happens to be good.
    fn padded(&self, sealed: &Sealed) -> Option<Vec<u8>> {
        let gzip = &sealed.gzip;
        let payload = match self {
            Self::NotGzip(bytes) => bytes.clone(),
            Self::TruncatedGzip(at) => gzip[..at.index(gzip.len())].to_vec(),
            Self::TrailingGarbage(garbage) => [gzip.as_slice(), garbage].concat(),
            Self::SecondMember => [gzip.as_slice(), gzip].concat(),
            Self::WrongTrailer(at, bit) => {
                let mut damaged = gzip.clone();
                let byte = gzip.len() - GZIP_TRAILER + at.index(GZIP_TRAILER);
                damaged[byte] ^= 1 << bit;
                damaged
            }
            Self::BadPadding { count, filler } => {
                let room = BLOCK - gzip.len() % BLOCK;
                let mut padded = gzip.clone();
                padded.extend_from_slice(&filler[..room - 1]);
                padded.push(*count);
                return (!pkcs7_valid(&padded)).then_some(padded);
            }
        };
        Some(pkcs7(payload))
    }
}

proptest! {
    #![proptest_config(config(32))]

    /// The control: intact objects open to their plaintext, so that the
    /// refusals below are the damage's doing, not the harness's.
    #[test]
    fn intact_objects_open(sealed in sealed()) {
        let workspace = Workspace::new(&sealed.object, &sealed.key);
        for command in [Command::Open, Command::Verify, Command::Fetch] {
            let restored = workspace
                .run(command, &sealed.object, sha256(&sealed.object))
                .map_err(|failure| {
                    TestCaseError::fail(format!("{command:?} refused an intact object: {failure:?}"))
                })?;
            prop_assert!(
                restored.is_none_or(|restored| restored == sealed.plaintext),
                "{command:?} gave another plaintext"
            );
        }
    }

}

// About 30 s in all in a release build on two busy cores.
proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn arbitrary_bytes_are_refused(
        bytes in prop_oneof![
            vec(any::<u8>(), 0..600),
            // Whole blocks, at least two: past the length check.
            (2usize..40).prop_flat_map(|blocks| vec(any::<u8>(), blocks * BLOCK)),
        ],
        key in any::<[u8; 32]>(),
        matching_digest in any::<bool>(),
        digest in any::<[u8; 32]>(),
    ) {
        let sha256 = if matching_digest { sha256(&bytes) } else { digest };
        check(&bytes, &key, sha256, May::Refuse, &[])?;
    }

    #[test]
    fn truncations_are_refused(sealed in sealed(), cut in cuts(), expected in expected()) {
        let damaged = &sealed.object[..cut.length(sealed.object.len())];
        let sha256 = expected.digest(&sealed, damaged);
        check(damaged, &sealed.key, sha256, May::Refuse, &sealed.plaintext)?;
    }

    #[test]
    fn bit_flips_are_refused(
        sealed in sealed(),
        region in regions(),
        at in any::<Index>(),
        bit in 0u8..8,
        expected in expected(),
    ) {
        let byte = region.byte(sealed.object.len(), &at);
        let mut damaged = sealed.object.clone();
        damaged[byte] ^= 1 << bit;
        let sha256 = expected.digest(&sealed, &damaged);
        // A flip in the IV flips the same bit of the first gzip block and
        // nothing else. Past the magic and CM, that can be a field nothing
        // checks (FLG's FTEXT, MTIME, XFL, OS) or a padding bit of a deflate
        // block header: the object may then open, to the same plaintext.
        let may = match (expected, region) {
            (Expected::OfDamaged, Region::Iv) if byte >= 3 => May::RefuseOrRestore,
            _ => May::Refuse,
        };
        check(&damaged, &sealed.key, sha256, may, &sealed.plaintext)?;
    }

    #[test]
    fn wrong_keys_and_digests_are_refused(
        sealed in sealed(),
        key_flips in any::<[u8; 32]>(),
        digest_flips in any::<[u8; 32]>(),
        wrong_key in any::<bool>(),
    ) {
        let (flips, mut key, mut digest) = (
            if wrong_key { key_flips } else { digest_flips },
            sealed.key,
            sha256(&sealed.object),
        );
        prop_assume!(flips != [0; 32]);
        let wrong = if wrong_key { &mut key } else { &mut digest };
        for (byte, flip) in wrong.iter_mut().zip(flips) {
            *byte ^= flip;
        }
        check(&sealed.object, &key, digest, May::Refuse, &sealed.plaintext)?;
    }

    /// The SHA-256 matches and the CBC is sound: the padding check and
    /// gunzip must catch it.
    #[test]
    fn valid_encryptions_of_bad_gzip_are_refused(sealed in sealed(), payload in bad_payloads()) {
        let padded = payload.padded(&sealed);
        prop_assume!(padded.is_some());
        let object = sealed.encrypting(&padded.unwrap());
        check(&object, &sealed.key, sha256(&object), May::Refuse, &sealed.plaintext)?;
    }
}

/// Regions and cuts have room in the smallest object there is: the gzip of
/// nothing, which pads to two blocks.
#[test]
fn the_smallest_object_has_every_region() {
    let sealed = Sealed::new(Vec::new(), [7; 32], [9; 16], 6);
    assert_eq!(sealed.object.len(), 3 * BLOCK);
    assert!(GZIP_HEADER + GZIP_TRAILER <= sealed.gzip.len());
}

/// Regression: the opener handed the guest up to 1 MiB of object per call,
/// and a call returns all the plaintext that chunk inflates to: at deflate's
/// ratio (up to 1032:1) near a gigabyte, past the guest's memory limit, so
/// a good object of 320 MiB of zeros trapped the guest (exit 70).
#[test]
fn a_highly_compressible_object_opens() {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    let zeros = vec![0; 1 << 20];
    for _ in 0..320 {
        encoder.write_all(&zeros).unwrap();
    }
    let (key, iv) = ([5; 32], [6; 16]);
    let object = encrypt(&key, &iv, &pkcs7(encoder.finish().unwrap()));
    let workspace = Workspace::new(&object, &key);
    let verified = workspace.run(Command::Verify, &object, sha256(&object));
    assert!(verified.is_ok(), "{verified:?}");
}
