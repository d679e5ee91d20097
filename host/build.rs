//! Builds the guest component for `wasm32-wasip2` so that a plain
//! `cargo build` yields one self-contained binary, and tells the host the
//! guest's SHA-256 and the WIT package it implements.

#[path = "build/guest_env.rs"]
mod guest_env;

use sha2::{Digest, Sha256};
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The guest's target. Its code generation flags (`simd128`, relaxed SIMD)
/// are set for this target in .cargo/config.toml; `build_guest` adds path
/// remapping, which keeps the bytes independent of where the source and the
/// registry sit.
const GUEST_TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir.parent().expect("host/ sits in the workspace");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));

    for path in [
        "guest",
        "wit",
        "Cargo.lock",
        "Cargo.toml",
        ".cargo/config.toml",
    ] {
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
    // Appended by cargo to the target's rustflags in .cargo/config.toml.
    let remaps = [
        (root, "/publish-artifact"),
        (cargo_home.as_path(), "/cargo"),
    ]
    .map(|(from, to)| toml_string(&format!("--remap-path-prefix={}={to}", from.display())));
    let rustflags = format!("target.{GUEST_TARGET}.rustflags=[{}]", remaps.join(", "));

    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args(["build", "--locked", "--package", "publish-artifact-guest"])
        .args(["--profile", "guest", "--target", GUEST_TARGET])
        .arg("--target-dir")
        .arg(target_dir)
        .args(["--config", &rustflags]);
    // What the outer build set for the host's own compilation must not leak
    // into the guest's (clippy's wrapper, host flags, profile overrides,
    // cargo-zigbuild's unstable settings): see guest_env.rs. Flags in the
    // environment would also replace the config's.
    for (name, _) in env::vars_os() {
        let name = name.to_string_lossy();
        if guest_env::is_outer_build_setting(&name) {
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

/// `text` as a TOML basic string, for `cargo --config`.
fn toml_string(text: &str) -> String {
    let mut quoted = String::from('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                quoted.push('\\');
                quoted.push(c);
            }
            c if c.is_control() => quoted.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// `package publish-artifact:seal@0.1.0;` -> `publish-artifact:seal@0.1.0`.
fn wit_package(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("the WIT file is readable");
    text.lines()
        .find_map(|line| line.trim().strip_prefix("package "))
        .map(|rest| rest.trim_end_matches(';').trim().to_string())
        .expect("the WIT file declares its package")
}
