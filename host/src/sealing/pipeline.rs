//! The seal pipeline: file bytes through guest instances to a sink (the open
//! pipeline, `super::opening`, shares its sink and errors).
//!
//! Sealing runs in stages on threads joined by bounded queues:
//!
//! ```text
//! reader --jobs--> compressor x N --blocks--> sealer (this thread) --> sink
//! ```
//!
//! The reader cuts the plaintext into the format's 1 MiB blocks and hashes
//! it; each compressor is a guest instance of its own running
//! `compress-block`; the sealer puts blocks back in order and runs them
//! through the guest's `block-sealer` (gzip framing, AES-256-CBC, SHA-256).
//! The cut points depend only on the block size, so the object's bytes do
//! not depend on N. A fixed number of blocks is in flight at any time, which
//! bounds memory whatever the file size.
//!
//! Every stage must see the others stop, whichever stops first and
//! whenever, or the process hangs: each channel end is owned by exactly one
//! stage (the job queue's receiver by the compressors alone, never by this
//! scope), so a stage that returns closes its ends, and every stage blocked
//! on a send or a receive wakes with an error. The tests stop the sink, the
//! reader and a compressor at every point and require each run to end.

use crate::sealing::guest::{DeflateBlock, GuestError, SealSummary};
use crate::sealing::runtime::Runtime;
use crate::secrets::{IV_LENGTH, Key};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where the object (or the plaintext, when opening) goes, chunk by chunk.
pub type Sink<'a> = dyn FnMut(&[u8]) -> anyhow::Result<()> + 'a;

/// The deflate window carried from one block into the next.
const DICTIONARY_SIZE: usize = 32 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    // The cause is in the message, not the source chain, so that `{:#}`
    // does not print it twice.
    #[error("reading the input: {0}")]
    Input(io::Error),
    // Transparent: with `#[error("{0}")]` the guest's error was both this
    // one's message and its source, and printed twice ("the key is wrong:
    // ... the key is wrong").
    #[error(transparent)]
    Guest(#[from] GuestError),
    #[error("{0:#}")]
    Sink(anyhow::Error),
    #[error("starting the sealing component: {0:#}")]
    Runtime(anyhow::Error),
}

type Result<T> = std::result::Result<T, PipelineError>;

#[derive(Debug, Clone)]
pub struct SealOptions {
    pub level: u8,
    /// Compressor threads, each with its own guest instance.
    pub threads: usize,
    /// Tests stop a compressor at this block to see the pipeline wind down.
    #[cfg(test)]
    fail_compressing: Option<u64>,
}

impl SealOptions {
    pub fn new(level: u8, threads: usize) -> Self {
        Self {
            level,
            threads,
            #[cfg(test)]
            fail_compressing: None,
        }
    }
}

#[derive(Debug)]
pub struct SealReport {
    pub summary: SealSummary,
    /// Computed natively by the reader, for provenance; not part of the
    /// sealed format.
    pub plaintext_sha256: [u8; 32],
    pub elapsed: Duration,
}

struct Job {
    index: u64,
    dictionary: Vec<u8>,
    plaintext: Vec<u8>,
    last: bool,
}

type Compressed = (u64, std::result::Result<DeflateBlock, GuestError>);

/// Seals `input` with `key` and `iv`, handing object bytes to `sink` in
/// order. `progress` counts plaintext bytes read.
pub fn seal(
    runtime: &Runtime,
    input: &mut (dyn Read + Send),
    key: &Key,
    iv: &[u8; IV_LENGTH],
    options: &SealOptions,
    progress: &AtomicU64,
    sink: &mut Sink<'_>,
) -> Result<SealReport> {
    let started = Instant::now();
    let threads = options.threads.max(1);
    let mut sealer_guest = runtime
        .instantiate()
        .map_err(|err| PipelineError::Runtime(err.into()))?;
    let block_size = sealer_guest.block_size()?;
    let in_flight = 2 * threads + 2;

    std::thread::scope(|scope| {
        let (job_tx, job_rx) = sync_channel::<Job>(threads);
        let (block_tx, block_rx) = sync_channel::<Compressed>(threads);
        // One token per block in flight: the reader takes one before it
        // reads a block, the sealer gives it back once the block is sealed.
        let (token_tx, token_rx) = sync_channel::<()>(in_flight);
        for _ in 0..in_flight {
            token_tx
                .send(())
                .expect("the channel has room for every token");
        }

        let reader =
            scope.spawn(move || read_blocks(input, block_size, &token_rx, &job_tx, progress));
        let job_rx = Arc::new(Mutex::new(job_rx));
        let compressors: Vec<_> = (0..threads)
            .map(|_| {
                let jobs = Arc::clone(&job_rx);
                let blocks = block_tx.clone();
                scope.spawn(move || compress(runtime, options, &jobs, &blocks))
            })
            .collect();
        // The compressors hold the only handles now: once they have all
        // stopped, the queue closes and a reader blocked on it wakes.
        drop(job_rx);
        drop(block_tx);

        let sealed = seal_in_order(&mut sealer_guest, key, iv, &block_rx, &token_tx, sink);
        // Whatever happened, closing our ends stops the other stages.
        drop(block_rx);
        drop(token_tx);
        let read = reader.join().expect("the reader thread does not panic");
        for compressor in compressors {
            compressor
                .join()
                .expect("a compressor thread does not panic")?;
        }
        // A read error ends the block stream early; report it rather than
        // the sealer's complaint about the missing last block.
        let plaintext_sha256 = read?;
        Ok(SealReport {
            summary: sealed?,
            plaintext_sha256,
            elapsed: started.elapsed(),
        })
    })
}

fn read_blocks(
    input: &mut (dyn Read + Send),
    block_size: usize,
    tokens: &Receiver<()>,
    jobs: &SyncSender<Job>,
    progress: &AtomicU64,
) -> Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let mut dictionary = Vec::new();
    // One block of read-ahead tells whether the current block is the last.
    let mut current = read_full(input, block_size)?;
    for index in 0.. {
        let next = if current.len() == block_size {
            read_full(input, block_size)?
        } else {
            Vec::new()
        };
        let last = next.is_empty();
        hasher.update(&current);
        progress.fetch_add(current.len() as u64, Ordering::Relaxed);
        let tail = current.len().saturating_sub(DICTIONARY_SIZE);
        let next_dictionary = current[tail..].to_vec();
        let job = Job {
            index,
            dictionary: std::mem::replace(&mut dictionary, next_dictionary),
            plaintext: std::mem::replace(&mut current, next),
            last,
        };
        // Either receiver gone means the sealer stopped; it reports why.
        if tokens.recv().is_err() || jobs.send(job).is_err() || last {
            break;
        }
    }
    Ok(hasher.finalize().into())
}

/// Reads until `size` bytes or end of file.
fn read_full(input: &mut (dyn Read + Send), size: usize) -> Result<Vec<u8>> {
    let mut block = Vec::with_capacity(size);
    input
        .take(size as u64)
        .read_to_end(&mut block)
        .map_err(PipelineError::Input)?;
    Ok(block)
}

fn compress(
    runtime: &Runtime,
    options: &SealOptions,
    jobs: &Mutex<Receiver<Job>>,
    blocks: &SyncSender<Compressed>,
) -> Result<()> {
    let mut guest = runtime
        .instantiate()
        .map_err(|err| PipelineError::Runtime(err.into()))?;
    loop {
        let job = jobs.lock().expect("no thread panics holding it").recv();
        let Ok(job) = job else { return Ok(()) };
        #[cfg(test)]
        if options.fail_compressing == Some(job.index) {
            return Err(PipelineError::Runtime(anyhow::anyhow!(
                "compressor stopped by the test"
            )));
        }
        let block = guest.compress_block(options.level, &job.dictionary, &job.plaintext, job.last);
        if blocks.send((job.index, block)).is_err() {
            return Ok(());
        }
    }
}

fn seal_in_order(
    guest: &mut crate::sealing::guest::Guest,
    key: &Key,
    iv: &[u8; IV_LENGTH],
    blocks: &Receiver<Compressed>,
    tokens: &SyncSender<()>,
    sink: &mut Sink<'_>,
) -> Result<SealSummary> {
    let mut sealer = guest.block_sealer(key, iv)?;
    let mut waiting = BTreeMap::new();
    let mut next = 0;
    // The channel closes early only if the reader or a compressor stopped;
    // the sealer then refuses `finish` (no last block) and the caller
    // reports the stage's own error instead.
    while let Ok((index, block)) = blocks.recv() {
        waiting.insert(index, block);
        while let Some(block) = waiting.remove(&next) {
            let block = block?;
            sink(&sealer.push(&block)?).map_err(PipelineError::Sink)?;
            next += 1;
            let _ = tokens.send(());
            if block.last {
                let (tail, summary) = sealer.finish()?;
                sink(&tail).map_err(PipelineError::Sink)?;
                return Ok(summary);
            }
        }
    }
    let (_, summary) = sealer.finish()?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    //! Every stage must see the others stop. Each test stops one stage (the
    //! sink, the reader, a compressor) at every point of a seal of a few
    //! blocks, with one and with several compressors, and requires each run
    //! to end within a deadline with the stopped stage's error.

    use super::*;
    use std::sync::OnceLock;
    use std::sync::mpsc::channel;

    const BLOCK: usize = 1 << 20;
    const BLOCKS: usize = 5;
    /// Far longer than a seal of five blocks takes, far shorter than a hang.
    const DEADLINE: Duration = Duration::from_secs(60);

    fn runtime() -> &'static Runtime {
        static RUNTIME: OnceLock<Runtime> = OnceLock::new();
        RUNTIME.get_or_init(|| Runtime::from_wasm(crate::sealing::embedded::GUEST_WASM).unwrap())
    }

    fn plaintext() -> Vec<u8> {
        // Incompressible enough that every block makes object bytes.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        (0..BLOCKS * BLOCK + 1234)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    }

    /// A reader that fails once it has handed out `limit` bytes.
    struct FailingReader<'a> {
        data: &'a [u8],
        limit: usize,
    }

    impl Read for FailingReader<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.limit == 0 {
                return Err(io::Error::other("the reader stopped"));
            }
            let n = buf.len().min(self.limit).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            self.limit -= n;
            Ok(n)
        }
    }

    /// Runs one seal on a thread of its own and fails the test if it does
    /// not end within the deadline.
    fn seal_within_deadline(
        options: SealOptions,
        reader_limit: usize,
        sink_calls: Option<usize>,
    ) -> Result<SealReport> {
        let (done_tx, done_rx) = channel();
        std::thread::spawn(move || {
            let data = plaintext();
            let mut input = FailingReader {
                data: &data,
                limit: reader_limit,
            };
            let mut calls = 0;
            let result = seal(
                runtime(),
                &mut input,
                &Key::from_bytes([7; 32]),
                &[9; IV_LENGTH],
                &options,
                &AtomicU64::new(0),
                &mut |_| {
                    calls += 1;
                    match sink_calls {
                        Some(limit) if calls > limit => anyhow::bail!("the sink stopped"),
                        _ => Ok(()),
                    }
                },
            );
            let _ = done_tx.send(result);
        });
        done_rx
            .recv_timeout(DEADLINE)
            .expect("the pipeline hung: a stage did not see another stop")
    }

    fn thread_counts() -> [usize; 3] {
        [1, 2, 4]
    }

    #[test]
    fn a_whole_seal_ends() {
        for threads in thread_counts() {
            let report = seal_within_deadline(SealOptions::new(1, threads), usize::MAX, None);
            assert_eq!(
                report.unwrap().summary.plaintext_length,
                plaintext().len() as u64
            );
        }
    }

    #[test]
    fn a_sink_that_stops_at_any_call_stops_the_pipeline() {
        for threads in thread_counts() {
            for limit in 0..=BLOCKS + 1 {
                let err =
                    seal_within_deadline(SealOptions::new(1, threads), usize::MAX, Some(limit))
                        .expect_err("the sink failed");
                assert!(
                    matches!(err, PipelineError::Sink(_)),
                    "{threads} threads, {limit}: {err}"
                );
            }
        }
    }

    #[test]
    fn a_reader_that_stops_anywhere_stops_the_pipeline() {
        let offsets = (0..=BLOCKS).flat_map(|b| [b * BLOCK, b * BLOCK + 1, (b * BLOCK).max(1) - 1]);
        for threads in thread_counts() {
            for offset in offsets.clone() {
                let err = seal_within_deadline(SealOptions::new(1, threads), offset, None)
                    .expect_err("the reader failed");
                assert!(
                    matches!(err, PipelineError::Input(_)),
                    "{threads} threads, {offset}: {err}"
                );
            }
        }
    }

    #[test]
    fn a_compressor_that_stops_at_any_block_stops_the_pipeline() {
        for threads in thread_counts() {
            for block in 0..=BLOCKS as u64 {
                let mut options = SealOptions::new(1, threads);
                options.fail_compressing = Some(block);
                let err = seal_within_deadline(options, usize::MAX, None)
                    .expect_err("a compressor failed");
                assert!(
                    matches!(err, PipelineError::Runtime(_)),
                    "{threads} threads, {block}: {err}"
                );
            }
        }
    }

    #[test]
    fn stops_are_survived_again_and_again() {
        // The hang this guards against was a race: one run in six.
        for round in 0..20 {
            let sink = Some(round % (BLOCKS + 1));
            let err = seal_within_deadline(SealOptions::new(1, 2), usize::MAX, sink);
            assert!(err.is_err());
        }
    }
}
