#!/usr/bin/env bash
# Installs everything building, testing and the demo need, on a fresh machine
# or an old one: each step is skipped when its tool is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

missing() { ! command -v "$1" >/dev/null 2>&1; }
say() { printf 'setup: %s\n' "$*" >&2; }

# `cargo_install NAME VERSION [more cargo install flags]`: tools built from
# crates.io get a throwaway target directory, not the project's build cache.
cargo_install() {
    say "installing $1 $2 from crates.io (once per machine)"
    env -u CARGO_TARGET_DIR cargo install --locked --quiet "$1" --version "$2" "${@:3}"
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
# Garage is the real S3 server the tests run on loopback. Only what the tests
# use is built: the sqlite metadata engine (tests/garage.py), libsodium and
# zstd bundled; no lmdb, k2v or metrics; at opt-level 1. With the default
# features the build took 23 minutes on a fresh 2-core machine; this one took
# 18.6 minutes beside a concurrent host build (14.8 CPU-minutes).
GARAGE_VERSION=2.5.0
install_garage() {
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1 cargo_install garage "$GARAGE_VERSION" \
        --no-default-features --features bundled-libs,sqlite "$@"
}
if missing garage; then
    install_garage
else
    # One exec, no build: `garage --version` says `garage cargo:2.5.0
    # [features: bundled-libs, sqlite]`. Another version, or a build without
    # sqlite, is replaced; output in another form is trusted.
    about=$(garage --version 2>/dev/null | head -1 || true)
    found=$(grep -oE '[0-9]+\.[0-9]+\.[0-9]+' <<<"$about" | head -1 || true)
    if [ -n "$found" ] && [ "$found" != "$GARAGE_VERSION" ]; then
        say "garage $found is installed, the tests want $GARAGE_VERSION"
        install_garage --force
    elif [[ "$about" == *"features:"* && "$about" != *sqlite* ]]; then
        say "the installed garage lacks sqlite, which the tests use"
        install_garage --force
    fi
fi
# The Python test packages, and maturin for the wheel (`just wheel`): pinned
# ones are reinstalled when another version is there.
have_pinned() {
    python3 - "$@" <<'PY'
import sys
from importlib import metadata
for pin in sys.argv[1:]:
    name, _, version = pin.partition("==")
    name = name.split("[")[0]  # `pkg[extra]==1.0` is installed as `pkg`
    try:
        if version and metadata.version(name) != version:
            sys.exit(1)
    except metadata.PackageNotFoundError:
        sys.exit(1)
PY
}
pip_install() {
    python3 -m pip install --quiet --disable-pip-version-check "$@"
}
if ! python3 -c 'import pytest, cryptography, boto3, yaml' 2>/dev/null \
    || ! have_pinned $(grep -E '^[A-Za-z0-9_.-]+(\[[A-Za-z0-9_,.-]+\])?==' tests/requirements.txt); then
    say "installing the Python test packages"
    pip_install -r tests/requirements.txt
fi
MATURIN=maturin==1.16.0
if ! have_pinned "$MATURIN"; then
    say "installing $MATURIN"
    pip_install "$MATURIN"
fi
# `scripts/setup.sh dist`: also what `just dist` needs, zig (maturin --zig
# links with it against glibc 2.17); the tests never need it.
ZIGLANG=ziglang==0.17.0
if [ "${1:-}" = dist ] && ! have_pinned "$ZIGLANG"; then
    say "installing $ZIGLANG"
    pip_install "$ZIGLANG"
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
# --- SBOMs (issue 23): the fixture images are built with the real package
# tools (tests/sbom_fixtures.py): dpkg is Debian's own; rpmbuild and rpm
# --root write a real rpmdb.sqlite; db5.3_load writes the BerkeleyDB one;
# Debian's Go builds binaries with module build info; npm installs
# node_modules; zstd compresses layers. syft and the SBOM checkers come from
# tests/requirements.txt above.
if missing rpmbuild || missing go || missing npm || missing db5.3_load || missing zstd; then
    say "installing Debian's rpm, golang-go, npm, db5.3-util and zstd"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends rpm golang-go db5.3-util zstd \
        $(missing npm && echo npm)
fi
# --- end SBOMs
# --- shipping (issue 25): the static musl binaries (`just static`,
# scripts/static.sh) and the tool image (`just image`, scripts/image.sh).
# The musl targets' rust-std brings musl's crt and libc.a; the C in the
# dependencies is compiled against musl's headers: musl-gcc (musl-tools)
# for x86_64, and for aarch64 the arm64 cross gcc with musl-dev:arm64's
# specs (a foreign architecture for that one package). buildah builds the
# image with no daemon; docker-registry is the registry the tests push it
# to; busybox-static makes the tests' Alpine-like root.
for triple in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
    if ! rustup target list --installed | grep -qx "$triple"; then
        say "adding the $triple target"
        rustup target add "$triple"
    fi
done
if missing musl-gcc || [ ! -f /usr/lib/aarch64-linux-musl/musl-gcc.specs ] || missing buildah \
    || missing docker-registry || missing busybox; then
    say "installing Debian's musl-tools, musl-dev:arm64, buildah, docker-registry and busybox-static"
    dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
    apt-get update -qq
    # The package's service is not started (the tests run the registry on
    # loopback themselves): a policy-rc.d that refuses, unless one is there.
    own_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        own_policy=1
    fi
    apt-get install -y -qq --no-install-recommends musl-tools musl-dev:arm64 buildah \
        docker-registry busybox-static
    [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
fi
# --- end shipping
# jco, to load the component in Node (tests/test_portability.py).
if [ ! -d tests/jco/node_modules ]; then
    say "installing jco from npm"
    # `npm install` rather than `npm ci`: npm ci trips over the platform-specific
    # optional packages jco lists, which a lock made on one platform leaves out.
    (cd tests/jco && npm install --no-audit --no-fund --loglevel=error)
fi
# sigstore-js, the independent verifier of the Sigstore bundles
# (tests/test_sigstore_bundles.py): @sigstore/verify 3.1.1 and the
# @sigstore/bundle it requires, pinned by the lock file. Pure JavaScript, 4
# packages, 1.1 MB: `npm ci` took 1.5 s here with an empty npm cache.
if [ ! -d tests/sigstore_js/node_modules/@sigstore/verify ]; then
    say "installing sigstore-js from npm"
    (cd tests/sigstore_js && npm ci --no-audit --no-fund --loglevel=error)
fi
say "ready"
