#!/usr/bin/env bash
# Installs everything building, testing and the demo need, on a fresh machine
# or an old one: each step is skipped when its tool is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

missing() { ! command -v "$1" >/dev/null 2>&1; }
say() { printf 'setup: %s\n' "$*" >&2; }

# Tools built from crates.io get a throwaway target directory, not the
# project's build cache.
cargo_install() {
    say "installing $1 $2 from crates.io (once per machine)"
    env -u CARGO_TARGET_DIR cargo install --locked --quiet "$1" --version "$2"
}

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    say "adding the wasm32-wasip2 target"
    rustup target add wasm32-wasip2
fi
# The arm64 build (`just cross`) and running it here under emulation.
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    say "adding the aarch64-unknown-linux-gnu target"
    rustup target add aarch64-unknown-linux-gnu
fi
if missing aarch64-linux-gnu-gcc || missing qemu-aarch64-static; then
    say "installing Debian's arm64 cross compiler and qemu-user-static"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static
fi
missing just && cargo_install just 1.59.0
# Garage is the real S3 server the tests run on loopback.
missing garage && cargo_install garage 2.5.0

if ! python3 -c 'import pytest, cryptography, boto3, yaml, jsonschema' 2>/dev/null; then
    say "installing the Python test packages"
    python3 -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
fi
# --- provenance (issue 15): skopeo turns the test images into docker-archive
# tarballs, as CI does (tests/test_image_binding.py); securesystemslib and
# sigstore check the DSSE envelope and the SLSA statement independently.
if missing skopeo; then
    say "installing Debian's skopeo"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends skopeo
fi
if ! python3 -c 'import securesystemslib, sigstore' 2>/dev/null; then
    say "installing the Python provenance test packages"
    python3 -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
fi
# --- end provenance
# jco, to load the component in Node (tests/test_portability.py).
if [ ! -d tests/jco/node_modules ]; then
    say "installing jco from npm"
    # `npm install` rather than `npm ci`: npm ci trips over the platform-specific
    # optional packages jco lists, which a lock made on one platform leaves out.
    (cd tests/jco && npm install --no-audit --no-fund --loglevel=error)
fi
say "ready"
