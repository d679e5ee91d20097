//! The guest's stages alone, one instance, one thread (used by `just bench`):
//! deflate (`compress-block` at level 6) and the block sealer (gzip framing,
//! AES-256-CBC, SHA-256) over already-compressed blocks.
//!
//!     cargo run --release --example stage_bench -- CORPUS [OTHER_GUEST.wasm]
//!
//! With a second argument, the same stages run on that guest too (the
//! benchmark passes a build with the `aes` crate's AES for comparison).

use publish_artifact::guest::DeflateBlock;
use publish_artifact::runtime::Runtime;
use publish_artifact::secrets::Key;
use std::io::Read;
use std::time::Instant;

const BLOCK: usize = 1 << 20;
const WINDOW: usize = 32 << 10;
const SAMPLE: u64 = 256 << 20;

fn mib_per_s(bytes: usize, started: Instant) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / started.elapsed().as_secs_f64()
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: stage_bench CORPUS [OTHER_GUEST.wasm]");
    let mut plaintext = Vec::new();
    std::fs::File::open(path)?
        .take(SAMPLE)
        .read_to_end(&mut plaintext)?;
    println!("embedded guest:");
    stages(&Runtime::load()?, &plaintext)?;
    if let Some(other) = args.next() {
        println!("{other}:");
        stages(&Runtime::from_wasm(&std::fs::read(&other)?)?, &plaintext)?;
    }
    Ok(())
}

fn stages(runtime: &Runtime, plaintext: &[u8]) -> anyhow::Result<()> {
    let mut guest = runtime.instantiate()?;

    let started = Instant::now();
    let mut blocks: Vec<DeflateBlock> = Vec::new();
    for (i, chunk) in plaintext.chunks(BLOCK).enumerate() {
        let dictionary = &plaintext[(i * BLOCK).saturating_sub(WINDOW)..i * BLOCK];
        let last = (i + 1) * BLOCK >= plaintext.len();
        blocks.push(guest.compress_block(6, dictionary, chunk, last)?);
    }
    println!(
        "gzip -6 (compress-block):         {:7.1} MiB/s of plaintext",
        mib_per_s(plaintext.len(), started)
    );

    let compressed: usize = blocks.iter().map(|b| b.data.len()).sum();
    let started = Instant::now();
    let mut sealer = guest.block_sealer(&Key::from_bytes([7; 32]), &[9; 16])?;
    for block in &blocks {
        sealer.push(block)?;
    }
    sealer.finish()?;
    println!(
        "AES-256-CBC + SHA-256 (block-sealer): {:7.1} MiB/s of gzip data",
        mib_per_s(compressed, started)
    );
    Ok(())
}
