//! The open pipeline: an object through two guest instances to a sink.
//!
//! ```text
//! reader + SHA-256 --object--> decryptor --gzip--> inflater --plaintext--> sink (this thread)
//! ```
//!
//! The stages run on threads joined by bounded queues, so reading and
//! hashing, decryption, inflating and the sink overlap, and a fixed number of chunks
//! is in flight whatever the object's size. The decryptor and the inflater
//! are guest instances of their own (the WIT `open` interface's `decryptor`
//! and `inflater`); the SHA-256 of the object is computed natively by the
//! reader, where the sha2 crate uses the CPU's SHA extensions (it is the
//! slowest part of the guest's all-in-one `opener`, and a separate guest
//! instance for it would take a third core for work the host does in a
//! tenth of the time).
//!
//! Two ways a stage ends early:
//! - A fault (the input cannot be read, the sink refuses, a guest traps):
//!   the stage returns and its queue ends close, which the stages on both
//!   sides see (a send fails, or a receive finds the queue empty and closed),
//!   so every stage stops, whichever stopped first.
//! - A decoding refusal (bad padding, a broken gzip stream): the stage
//!   remembers it and goes on draining its queue, because the reader must
//!   hash the whole object: a wrong SHA-256 outranks them. Causes are ranked
//!   as the guest's `opener` ranks them: object length, SHA-256, padding,
//!   gzip.
//!
//! The plaintext handed to the sink is provisional until `open` returns
//! `Ok`; the caller writes it to a temporary file that only then becomes the
//! output.

use super::guest::{GuestError, Rejection};
use super::pipeline::{PipelineError, Sink};
use super::runtime::Runtime;
use crate::secrets::{IV_LENGTH, Key};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

/// Read size: large enough to keep guest calls rare.
const CHUNK: usize = 1 << 20;
/// Chunks waiting in each queue: enough to ride out a stage's hiccup.
const QUEUE: usize = 2;

type Result<T> = std::result::Result<T, PipelineError>;

#[derive(Debug)]
pub struct OpenReport {
    pub object_length: u64,
    pub plaintext_length: u64,
    pub elapsed: Duration,
}

/// What the reader saw, when it got to the end of the input.
struct ReadEnd {
    length: u64,
    sha256: [u8; 32],
}

/// Opens an object read from `input`, handing plaintext to `sink`. The
/// plaintext is only good if this returns `Ok`: the caller must discard
/// what the sink got otherwise.
pub fn open(
    runtime: &Runtime,
    input: &mut (dyn Read + Send),
    key: &Key,
    expected_sha256: &[u8; 32],
    progress: &AtomicU64,
    sink: &mut Sink<'_>,
) -> Result<OpenReport> {
    let started = Instant::now();
    std::thread::scope(|scope| {
        let (object_tx, object_rx) = sync_channel::<Vec<u8>>(QUEUE);
        let (gzip_tx, gzip_rx) = sync_channel::<Vec<u8>>(QUEUE);
        let (plaintext_tx, plaintext_rx) = sync_channel::<Vec<u8>>(QUEUE);
        let reader = scope.spawn(move || read_and_hash(input, progress, &object_tx));
        let decryptor = scope.spawn(move || decrypt(runtime, key, &object_rx, &gzip_tx));
        let inflater = scope.spawn(move || inflate(runtime, &gzip_rx, &plaintext_tx));
        // The sink (the caller's: a file, and often a hash of the plaintext)
        // runs here, off the inflater's thread, the pipeline's slowest.
        let written = write(&plaintext_rx, sink);
        // Whatever happened, closing our end stops the other stages.
        drop(plaintext_rx);
        let read = reader.join().expect("the reader thread does not panic");
        let decrypted = decryptor
            .join()
            .expect("the decryptor thread does not panic");
        let inflated = inflater.join().expect("the inflater thread does not panic");

        // Faults first, the reader's before the others: a read error also
        // ends the object early, which the later stages see as damage.
        let read = read?;
        written?;
        let decrypted = fault_or_rejection(decrypted)?;
        let inflated = fault_or_rejection(inflated)?;
        let Some(read) = read else {
            // The reader stops early only when a later stage stopped: on a
            // fault, handled above, or when the decryptor is refused.
            decrypted.map_err(rejected)?;
            unreachable!("the decryptor stopped the reader without a cause");
        };
        let ciphertext_length = read.length.saturating_sub(IV_LENGTH as u64);
        if read.length < 2 * IV_LENGTH as u64 || !ciphertext_length.is_multiple_of(16) {
            return Err(rejected(Rejection::InvalidObjectLength(read.length)));
        }
        if read.sha256 != *expected_sha256 {
            return Err(rejected(Rejection::DigestMismatch));
        }
        decrypted.map_err(rejected)?;
        let plaintext_length = inflated.map_err(rejected)?;
        Ok(OpenReport {
            object_length: read.length,
            plaintext_length,
            elapsed: started.elapsed(),
        })
    })
}

fn rejected(rejection: Rejection) -> PipelineError {
    PipelineError::Guest(GuestError::Refused(rejection))
}

/// A stage's result with its fault (`Err`) split from its refusal.
fn fault_or_rejection<T>(result: Result<T>) -> Result<std::result::Result<T, Rejection>> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(PipelineError::Guest(GuestError::Refused(refusal))) => Ok(Err(refusal)),
        Err(fault) => Err(fault),
    }
}

/// Reads the object in chunks, hashing it; `None` if a later stage stopped
/// before the end.
fn read_and_hash(
    input: &mut (dyn Read + Send),
    progress: &AtomicU64,
    object: &SyncSender<Vec<u8>>,
) -> Result<Option<ReadEnd>> {
    let mut hasher = Sha256::new();
    let mut length = 0;
    loop {
        let mut chunk = Vec::with_capacity(CHUNK);
        input
            .take(CHUNK as u64)
            .read_to_end(&mut chunk)
            .map_err(PipelineError::Input)?;
        if chunk.is_empty() {
            break;
        }
        hasher.update(&chunk);
        length += chunk.len() as u64;
        progress.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        if object.send(chunk).is_err() {
            return Ok(None);
        }
    }
    Ok(Some(ReadEnd {
        length,
        sha256: hasher.finalize().into(),
    }))
}

/// Decrypts the object after its IV, passing the gzip stream on. An object
/// shorter than an IV decrypts to nothing; the length check reports it.
fn decrypt(
    runtime: &Runtime,
    key: &Key,
    object: &Receiver<Vec<u8>>,
    gzip: &SyncSender<Vec<u8>>,
) -> Result<()> {
    let mut guest = runtime
        .instantiate()
        .map_err(|err| PipelineError::Runtime(err.into()))?;
    let mut iv = Vec::with_capacity(IV_LENGTH);
    // The chunk that completes the IV, and where its ciphertext starts.
    let (mut chunk, mut start) = (Vec::new(), 0);
    while iv.len() < IV_LENGTH {
        let Ok(next) = object.recv() else {
            return Ok(());
        };
        start = (IV_LENGTH - iv.len()).min(next.len());
        iv.extend_from_slice(&next[..start]);
        chunk = next;
    }
    let iv: [u8; IV_LENGTH] = iv.try_into().expect("the loop stops at a whole IV");
    let mut decryptor = guest.decryptor(key, &iv)?;
    loop {
        if gzip.send(decryptor.push(&chunk[start..])?).is_err() {
            return Ok(());
        }
        match object.recv() {
            Ok(next) => (chunk, start) = (next, 0),
            Err(_) => break,
        }
    }
    // A later stage that stopped has its own error to report.
    let _ = gzip.send(decryptor.finish()?);
    Ok(())
}

/// Inflates the gzip stream, passing plaintext on; returns its length.
fn inflate(
    runtime: &Runtime,
    gzip: &Receiver<Vec<u8>>,
    plaintext: &SyncSender<Vec<u8>>,
) -> Result<u64> {
    let mut guest = runtime
        .instantiate()
        .map_err(|err| PipelineError::Runtime(err.into()))?;
    let mut inflater = guest.inflater()?;
    let mut refusal = None;
    while let Ok(chunk) = gzip.recv() {
        if refusal.is_some() {
            continue;
        }
        let mut step = inflater.push(&chunk);
        loop {
            match step {
                Ok(out) if out.is_empty() => break,
                Ok(out) => {
                    if plaintext.send(out).is_err() {
                        // The sink failed; it reports why.
                        return Ok(0);
                    }
                    step = inflater.push(&[]);
                }
                Err(GuestError::Refused(err)) => {
                    refusal = Some(err);
                    break;
                }
                Err(fault) => return Err(fault.into()),
            }
        }
    }
    if let Some(refusal) = refusal {
        return Err(rejected(refusal));
    }
    let (tail, plaintext_length) = inflater.finish()?;
    // A sink that failed has its own error to report.
    let _ = plaintext.send(tail);
    Ok(plaintext_length)
}

/// Hands the plaintext to the sink.
fn write(plaintext: &Receiver<Vec<u8>>, sink: &mut Sink<'_>) -> Result<()> {
    while let Ok(chunk) = plaintext.recv() {
        sink(&chunk).map_err(PipelineError::Sink)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    /// The first bytes of an object, then zeros; an error once `limit`
    /// bytes were served, so that a reader nobody stops ends the test
    /// instead of hanging it.
    struct Source {
        prefix: Vec<u8>,
        served: usize,
        limit: usize,
    }

    impl Read for Source {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.served >= self.limit {
                return Err(io::Error::other("read past the limit"));
            }
            let n = buf.len().min(self.limit - self.served);
            for (i, byte) in buf[..n].iter_mut().enumerate() {
                *byte = self.prefix.get(self.served + i).copied().unwrap_or(0);
            }
            self.served += n;
            Ok(n)
        }
    }

    fn sealed(runtime: &Runtime, key: &Key) -> Vec<u8> {
        let plaintext: Vec<u8> = (0..3u32 << 20)
            .map(|i| (i.wrapping_mul(i) >> 9) as u8)
            .collect();
        let mut guest = runtime.instantiate().unwrap();
        let mut sealer = guest.sealer(key, &[1; 16], 1).unwrap();
        let mut object = sealer.push(&plaintext).unwrap();
        object.extend(sealer.finish().unwrap().0);
        object
    }

    fn open_from(source: &mut Source, key: &Key, sink: &mut Sink<'_>) -> Result<OpenReport> {
        let runtime = Runtime::load().unwrap();
        open(&runtime, source, key, &[0; 32], &AtomicU64::new(0), sink)
    }

    #[test]
    fn a_failing_sink_stops_the_reader() {
        let key = Key::from_bytes([5; 32]);
        let mut source = Source {
            prefix: sealed(&Runtime::load().unwrap(), &key),
            served: 0,
            limit: 1 << 30,
        };
        let opened = open_from(&mut source, &key, &mut |_| anyhow::bail!("disk full"));
        assert!(matches!(opened, Err(PipelineError::Sink(_))), "{opened:?}");
        assert!(source.served < 16 * CHUNK, "read {} bytes", source.served);
    }

    #[test]
    fn a_read_error_outranks_the_damage_it_causes() {
        let key = Key::from_bytes([5; 32]);
        let object = sealed(&Runtime::load().unwrap(), &key);
        let mut source = Source {
            limit: object.len() / 2,
            prefix: object,
            served: 0,
        };
        let opened = open_from(&mut source, &key, &mut |_| Ok(()));
        assert!(matches!(opened, Err(PipelineError::Input(_))), "{opened:?}");
    }
}
