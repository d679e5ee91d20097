//! The guest's stages alone, one instance, one thread (used by `just bench`).
//!
//!     stage_bench CORPUS STAGES.wasm [OTHER_GUEST.wasm]
//!
//! From the embedded sealing guest: deflate (`compress-block` at level 6) and
//! the block sealer (gzip framing, AES-256-CBC, SHA-256) over its output.
//! From the stage component (`bench/stages`: the guest's own code, exported
//! function by function): AES-256-CBC with the guest's AES and with the `aes`
//! crate's, and SHA-256, each alone, timed interleaved call by call. With a
//! third argument, the sealing guest's stages again on that build (the
//! benchmark passes one that encrypts with the `aes` crate).

use publish_artifact::sealing::guest::DeflateBlock;
use publish_artifact::sealing::runtime::{Runtime, Sandbox, new_store};
use publish_artifact::secrets::Key;
use std::io::Read;
use std::time::{Duration, Instant};
use wasmtime::component::Component;

mod stages {
    wasmtime::component::bindgen!({
        path: "../bench/stages/wit",
        world: "stages",
    });
}

const BLOCK: usize = 1 << 20;
const WINDOW: usize = 32 << 10;
const SAMPLE: u64 = 256 << 20;
const KEY: [u8; 32] = [7; 32];
const IV: [u8; 16] = [9; 16];

fn mib_per_s(bytes: usize, elapsed: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / elapsed.as_secs_f64()
}

/// One stage called on one chunk, given the store it runs in.
type Stage<'a, S> = dyn FnMut(&mut S, &[u8]) -> anyhow::Result<()> + 'a;

/// Runs each stage over the data in 1 MiB calls, alternating between the
/// stages call by call, so that all see the same machine: on a shared runner
/// the load drifts over seconds, and stages timed one after the other would
/// carry that drift into their ratio. MiB/s of each.
fn speeds<S, const N: usize>(
    store: &mut S,
    data: &[u8],
    mut stages: [&mut Stage<'_, S>; N],
) -> anyhow::Result<[f64; N]> {
    let mut elapsed = [Duration::ZERO; N];
    for chunk in data.chunks(BLOCK) {
        for (stage, elapsed) in stages.iter_mut().zip(&mut elapsed) {
            let started = Instant::now();
            stage(store, chunk)?;
            *elapsed += started.elapsed();
        }
    }
    Ok(elapsed.map(|elapsed| mib_per_s(data.len(), elapsed)))
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: stage_bench CORPUS STAGES.wasm [OTHER_GUEST.wasm]";
    let (corpus, stages_wasm) = (args.next().expect(usage), args.next().expect(usage));
    let mut plaintext = Vec::new();
    std::fs::File::open(corpus)?
        .take(SAMPLE)
        .read_to_end(&mut plaintext)?;
    // Whole AES blocks, so every call can be timed alone.
    plaintext.truncate(plaintext.len() / 16 * 16);

    let runtime = Runtime::load()?;
    println!("embedded guest:");
    sealing_stages(&runtime, &plaintext)?;
    single_stages(&runtime, &std::fs::read(stages_wasm)?, &plaintext)?;
    if let Some(other) = args.next() {
        println!("{other}:");
        sealing_stages(&Runtime::from_wasm(&std::fs::read(&other)?)?, &plaintext)?;
    }
    Ok(())
}

fn sealing_stages(runtime: &Runtime, plaintext: &[u8]) -> anyhow::Result<()> {
    let mut guest = runtime.instantiate()?;
    let mut blocks: Vec<DeflateBlock> = Vec::new();
    let mut offset = 0usize;
    let [gzip] = speeds(
        &mut guest,
        plaintext,
        [&mut |guest, chunk| {
            let dictionary = &plaintext[offset.saturating_sub(WINDOW)..offset];
            offset += chunk.len();
            let last = offset == plaintext.len();
            blocks.push(guest.compress_block(6, dictionary, chunk, last)?);
            Ok(())
        }],
    )?;
    println!("  gzip -6 (compress-block):              {gzip:7.1} MiB/s of plaintext");

    let compressed: usize = blocks.iter().map(|b| b.data.len()).sum();
    let started = Instant::now();
    let mut sealer = guest.block_sealer(&Key::from_bytes(KEY), &IV)?;
    for block in &blocks {
        sealer.push(block)?;
    }
    sealer.finish()?;
    let sealing = mib_per_s(compressed, started.elapsed());
    println!("  AES-256-CBC + SHA-256 (block-sealer):  {sealing:7.1} MiB/s of gzip data");
    Ok(())
}

fn single_stages(runtime: &Runtime, wasm: &[u8], data: &[u8]) -> anyhow::Result<()> {
    let component = Component::new(runtime.engine(), wasm)?;
    let mut store = new_store(runtime.engine(), Sandbox::new());
    let stages = stages::Stages::instantiate(&mut store, &component, runtime.linker())?;
    let [vperm, aes_crate, sha256] = speeds(
        &mut store,
        data,
        [
            &mut |store, chunk| {
                stages.call_encrypt_vperm(store, &KEY, &IV, chunk)?;
                Ok(())
            },
            &mut |store, chunk| {
                stages.call_encrypt_aes_crate(store, &KEY, &IV, chunk)?;
                Ok(())
            },
            &mut |store, chunk| {
                stages.call_sha256(store, chunk)?;
                Ok(())
            },
        ],
    )?;
    println!("  AES-256-CBC alone, vector-permute AES: {vperm:7.1} MiB/s");
    println!("  AES-256-CBC alone, `aes` crate:        {aes_crate:7.1} MiB/s");
    println!("  SHA-256 alone:                         {sha256:7.1} MiB/s");
    println!(
        "  guest AES vs `aes` crate:              {:7.2}x",
        vperm / aes_crate
    );
    Ok(())
}
