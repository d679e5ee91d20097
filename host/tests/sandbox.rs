//! The sandbox holds: a probe component that finds a planted file and
//! environment variable under a permissive WASI context finds nothing under
//! the context the guest really runs in. And the real guest imports nothing
//! that could reach files, the network, clocks or randomness.

use publish_artifact::sealing::embedded::GUEST_WASM;
use publish_artifact::sealing::runtime::{Runtime, Sandbox, new_store};
use std::path::{Path, PathBuf};
use std::process::Command;
use wasmtime::component::Component;
use wasmtime_wasi::p2::bindings::sync::Command as WasiCommand;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx};

/// Builds the probe for wasm32-wasip2 in a target directory of the test's
/// own (the outer cargo holds the lock on the usual one).
fn build_probe() -> PathBuf {
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sandbox-probe");
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "--release",
            "--package",
            "sandbox-probe",
        ])
        .args(["--target", "wasm32-wasip2", "--target-dir"])
        .arg(&target_dir)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the sandbox probe failed");
    target_dir.join("wasm32-wasip2/release/sandbox-probe.wasm")
}

/// Runs the probe under `wasi` with the runtime's own linker and store
/// limits, and returns its exit code.
fn escaped(runtime: &Runtime, component: &Component, sandbox: Sandbox) -> bool {
    let mut store = new_store(runtime.engine(), sandbox);
    let command = WasiCommand::instantiate(&mut store, component, runtime.linker())
        .expect("the probe instantiates");
    match command.wasi_cli_run().call_run(&mut store) {
        Ok(result) => result.is_err(),
        Err(err) => {
            let exit = err
                .downcast_ref::<I32Exit>()
                .unwrap_or_else(|| panic!("the probe trapped: {err:#}"));
            exit.0 != 0
        }
    }
}

// One test function, not two: it sets a process environment variable, which
// is only sound while no other test thread runs.
#[test]
fn sandbox_holds() {
    // SAFETY: the only test in this binary, and no thread has started yet.
    // A sandbox that inherited the host's environment would show it.
    unsafe { std::env::set_var("PROBE_PLANTED", "secret") };
    let runtime = Runtime::load().unwrap();
    guest_context_hides_files_and_environment(&runtime);
    guest_imports_only_what_std_needs(&runtime);
}

fn guest_context_hides_files_and_environment(runtime: &Runtime) {
    let component = Component::from_file(runtime.engine(), build_probe()).unwrap();
    let planted = tempfile::tempdir().unwrap();
    std::fs::write(planted.path().join("planted.txt"), "secret").unwrap();
    // The controls: the probe does find each planted thing when it is let
    // through, so `false` below means the sandbox hid them, not that the
    // probe is blind.
    let with_variable = WasiCtx::builder().env("PROBE_PLANTED", "secret").build();
    assert!(escaped(
        runtime,
        &component,
        Sandbox::with_wasi(with_variable)
    ));
    let with_directory = WasiCtx::builder()
        .preopened_dir(planted.path(), "/probe", FsPerms::ReadOnly)
        .unwrap()
        .build();
    assert!(escaped(
        runtime,
        &component,
        Sandbox::with_wasi(with_directory)
    ));
    assert!(!escaped(runtime, &component, Sandbox::new()));
}

fn guest_imports_only_what_std_needs(runtime: &Runtime) {
    let component = Component::new(runtime.engine(), GUEST_WASM).unwrap();
    let imports: Vec<String> = component
        .component_type()
        .imports(runtime.engine())
        .map(|(name, _)| name.to_string())
        .collect();
    assert!(!imports.is_empty(), "expected std's WASI imports");
    for name in &imports {
        let allowed = ["wasi:cli/", "wasi:io/"]
            .iter()
            .any(|prefix| name.starts_with(prefix));
        assert!(allowed, "the guest imports {name}");
    }
}
