//! The embedded guest and the sandbox it runs in.
//!
//! One `Runtime` per process: it compiles (or loads from the cache) the
//! guest once and pre-links it, so every `Guest` after that is a cheap
//! instantiation into a store of its own, one per pipeline thread.

use crate::sealing::cache::{self, CacheOutcome};
use std::time::{Duration, Instant};
use wasmtime::Result;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::error::Context;
use wasmtime::{Config, Engine, OptLevel, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// The most linear memory one guest instance may use. The pipeline hands a
/// guest at most one 1 MiB block at a time, so a healthy guest stays far
/// below this; the limit turns a runaway into an error, not a host OOM.
pub const GUEST_MEMORY_LIMIT: usize = 256 << 20;

pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "sealing",
    });
}

/// What a store holds: an empty WASI context and the limits.
pub struct Sandbox {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl Sandbox {
    /// The guest's whole world: no preopened directory, no environment, no
    /// arguments, no network, stdin empty and output discarded. The guest
    /// imports WASI only because Rust's std links it (for panics and exit);
    /// every import it can reach answers with nothing.
    pub fn new() -> Self {
        Self::with_wasi(WasiCtx::builder().build())
    }

    /// A store state around the given WASI context; the sandbox tests use it
    /// to show that a probe which finds a planted file and variable under a
    /// permissive context finds nothing under `Sandbox::new`.
    pub fn with_wasi(wasi: WasiCtx) -> Self {
        Self {
            wasi,
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(GUEST_MEMORY_LIMIT)
                .instances(4)
                .build(),
        }
    }
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

/// How the guest got ready, for `--json` receipts and the benchmark.
#[derive(Debug, Clone, Copy)]
pub struct LoadReport {
    pub cache: CacheOutcome,
    pub elapsed: Duration,
}

pub struct Runtime {
    engine: Engine,
    linker: Linker<Sandbox>,
    pre: bindings::SealingPre<Sandbox>,
    load: LoadReport,
}

impl Runtime {
    /// The embedded guest, compiled once per machine and then cached.
    pub fn load() -> Result<Self> {
        Self::with_component(cache::load_guest)
    }

    /// Another build of the guest, compiled in memory: the benchmark uses it
    /// to compare the guest's AES implementations in one run.
    pub fn from_wasm(wasm: &[u8]) -> Result<Self> {
        Self::with_component(|engine| {
            let component = wasmtime::component::Component::new(engine, wasm)?;
            Ok((component, CacheOutcome::Uncached))
        })
    }

    fn with_component(
        compile: impl FnOnce(&Engine) -> Result<(wasmtime::component::Component, CacheOutcome)>,
    ) -> Result<Self> {
        let started = Instant::now();
        let engine = engine()?;
        let (component, cache) = compile(&engine)?;
        let linker = linker(&engine)?;
        let pre = linker
            .instantiate_pre(&component)
            .context("linking the guest component")?;
        let pre = bindings::SealingPre::new(pre).context("checking the guest's exports")?;
        let load = LoadReport {
            cache,
            elapsed: started.elapsed(),
        };
        tracing::debug!(
            "guest ready in {:.2} ms (compiled-guest cache: {})",
            load.elapsed.as_secs_f64() * 1e3,
            load.cache
        );
        Ok(Self {
            engine,
            linker,
            pre,
            load,
        })
    }

    pub fn load_report(&self) -> LoadReport {
        self.load
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The linker every guest is instantiated with: WASI with the empty
    /// context of `Sandbox::new`, nothing else.
    pub fn linker(&self) -> &Linker<Sandbox> {
        &self.linker
    }

    /// A fresh instance in a fresh sandboxed store (`guest` wraps it in
    /// typed calls: `Runtime::instantiate`).
    pub(crate) fn instance(&self) -> Result<(Store<Sandbox>, bindings::Sealing)> {
        let mut store = new_store(&self.engine, Sandbox::new());
        let bindings = self
            .pre
            .instantiate(&mut store)
            .context("instantiating the guest")?;
        Ok((store, bindings))
    }
}

pub fn new_store(engine: &Engine, sandbox: Sandbox) -> Store<Sandbox> {
    let mut store = Store::new(engine, sandbox);
    store.limiter(|sandbox| &mut sandbox.limits);
    store
}

fn engine() -> Result<Engine> {
    let mut config = Config::new();
    config.cranelift_opt_level(OptLevel::Speed);
    config.wasm_simd(true);
    // The guest's AES uses relaxed SIMD's swizzle (Wasm 3.0) only where its
    // result is fixed by the spec, so the hardware's own one is fine.
    config.wasm_relaxed_simd(true);
    config.relaxed_simd_deterministic(false);
    Engine::new(&config).context("configuring wasmtime")
}

fn linker(engine: &Engine) -> Result<Linker<Sandbox>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).context("linking WASI")?;
    Ok(linker)
}
