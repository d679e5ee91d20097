//! Builds the guest component for `wasm32-wasip2` so that a plain
//! `cargo build` yields one self-contained binary, and tells the host the
//! guest's SHA-256 and the WIT package it implements.

use sha2::{Digest, Sha256};
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const GUEST_TARGET: &str = "wasm32-wasip2";
/// Flags that shape the guest's bytes: `simd128` lets zlib-rs use wasm's
/// vector instructions, `relaxed-simd` gives the AES its fast swizzle (see
/// guest/src/aes_vperm.rs; it makes Wasm 3.0's relaxed SIMD a requirement of
/// the host). `build_guest` adds path remapping, which keeps the bytes
/// independent of where the source and the registry sit.
const GUEST_RUSTFLAGS: &[&str] = &["-Ctarget-feature=+simd128,+relaxed-simd"];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir.parent().expect("host/ sits in the workspace");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));

    for path in ["guest", "wit", "Cargo.lock", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    println!("cargo:rerun-if-env-changed=RUSTUP_TOOLCHAIN");

    require_target();
    let wasm = build_guest(root, &guest_target_dir(&out_dir));
    let bytes = std::fs::read(&wasm).expect("the guest build wrote its component");
    std::fs::write(out_dir.join("guest.wasm"), &bytes).expect("OUT_DIR is writable");
    println!(
        "cargo:rustc-env=GUEST_SHA256={}",
        hex::encode(Sha256::digest(&bytes))
    );
    println!(
        "cargo:rustc-env=WIT_PACKAGE={}",
        wit_package(&root.join("wit/seal.wit"))
    );
}

fn rustc() -> String {
    env::var("RUSTC").unwrap_or_else(|_| "rustc".into())
}

fn require_target() {
    let sysroot = Command::new(rustc())
        .args(["--print", "sysroot"])
        .output()
        .expect("rustc runs");
    let sysroot = String::from_utf8(sysroot.stdout).expect("a UTF-8 path");
    let libdir = Path::new(sysroot.trim())
        .join("lib/rustlib")
        .join(GUEST_TARGET);
    if !libdir.exists() {
        panic!(
            "\n\nThe guest is built for {GUEST_TARGET}, and this toolchain lacks it.\n\
             Install it with:  rustup target add {GUEST_TARGET}\n\
             (or run `just setup`, which installs everything the project needs)\n\n"
        );
    }
}

/// The guest gets a target directory of its own beside the host's profile
/// directories: the outer cargo holds the lock on its own, and sharing one
/// directory across profiles keeps the guest from being built once per
/// profile.
fn guest_target_dir(out_dir: &Path) -> PathBuf {
    let profile_dir = out_dir
        .ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "build"))
        .and_then(Path::parent)
        .expect("OUT_DIR is <target>/<profile>/build/<crate>/out");
    profile_dir
        .parent()
        .expect("a profile directory has a parent")
        .join("guest-build")
}

fn build_guest(root: &Path, target_dir: &Path) -> PathBuf {
    let cargo_home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .expect("CARGO_HOME or HOME is set");
    let mut flags: Vec<String> = GUEST_RUSTFLAGS.iter().map(|f| f.to_string()).collect();
    flags.push(format!(
        "--remap-path-prefix={}=/publish-artifact",
        root.display()
    ));
    flags.push(format!(
        "--remap-path-prefix={}=/cargo",
        cargo_home.display()
    ));

    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args(["build", "--locked", "--package", "publish-artifact-guest"])
        .args(["--profile", "guest", "--target", GUEST_TARGET])
        .arg("--target-dir")
        .arg(target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"));
    // What the outer build set for the host's own compilation must not leak
    // into the guest's (clippy's wrapper, host flags, profile overrides).
    for (name, _) in env::vars_os() {
        let name = name.to_string_lossy();
        if name == "RUSTFLAGS"
            || name == "RUSTC_WORKSPACE_WRAPPER"
            || name.starts_with("CARGO_PROFILE_")
            || name.starts_with("CARGO_BUILD_")
            || name == "CARGO_TARGET_DIR"
        {
            command.env_remove(name.as_ref());
        }
    }
    let status = command.status().expect("cargo runs");
    assert!(status.success(), "building the guest component failed");
    target_dir
        .join(GUEST_TARGET)
        .join("guest")
        .join("publish_artifact_guest.wasm")
}

/// `package publish-artifact:seal@0.1.0;` -> `publish-artifact:seal@0.1.0`.
fn wit_package(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("the WIT file is readable");
    text.lines()
        .find_map(|line| line.trim().strip_prefix("package "))
        .map(|rest| rest.trim_end_matches(';').trim().to_string())
        .expect("the WIT file declares its package")
}
