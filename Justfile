# Everyday recipes. `scripts/setup.sh` installs what they need.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes.
default:
    @just --list

# Install the wasm target, just, Garage and the Python test packages.
setup:
    scripts/setup.sh

# Build the CLI (its build script builds the guest component first).
build:
    cargo build --release --locked

# Build the CLI for arm64 glibc with Debian's cross toolchain (not part of `just test`:
# the tests run the static aarch64 binary under qemu; `just dist` builds the shipped glibc one).
cross:
    cargo build --release --locked --target aarch64-unknown-linux-gnu

# Fully static binaries for x86_64 and aarch64 musl (scripts/static.sh), in
# $CARGO_TARGET_DIR/<triple>/release: checked to need no loader and no library,
# to embed the release build's guest, and to pass their selftest.
static:
    scripts/static.sh

# The tool image for linux/amd64 and linux/arm64 from the static binaries, with no
# daemon (buildah, chroot isolation, vfs), as an OCI layout in $IMAGE_OUT
# (default target/image); prints the index digest, the same for every build of a commit.
image: static
    scripts/image.sh

# The native wheel (the release binary plus the Python package `publish_artifact`)
# in $CARGO_TARGET_DIR/wheels; maturin reuses the release build.
wheel: build
    rm -f "${CARGO_TARGET_DIR:-target}"/wheels/publish_artifact-*.whl
    maturin build --release --locked --out "${CARGO_TARGET_DIR:-target}/wheels"

# Unit tests, then the black-box suite against the x86_64 release binary, the static
# x86_64 and aarch64 ones (the arm64 tests run the static one under qemu, so no glibc
# aarch64 build is needed here) and the wheel. The unit tests come first: `cargo test` builds the binary again with
# the dev-dependencies' features, and the suite must test the `just build` binary,
# the one the wheel packs.
test: unit build static wheel
    python3 -m pytest tests

# The Rust unit and property tests of every crate.
unit:
    cargo test --release --locked --workspace

# Formatting and clippy, for the host and for the guest's wasm-only code
# (with the guest's target flags from .cargo/config.toml, as every guest build).
lint:
    cargo fmt --all -- --check
    cargo clippy --release --locked --workspace --all-targets -- -D warnings
    env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS cargo clippy --release --locked -p publish-artifact-guest -p stage-bench --target wasm32-wasip2 -- -D warnings

# What ships: manylinux_2_17 wheels and tar.gz binaries for x86_64 and aarch64 in
# $CARGO_TARGET_DIR/dist, checked against glibc 2.17 (slow: fat LTO, twice).
dist: build
    scripts/dist.sh

# Publish a sample to Garage and a stand-in admin API on loopback, fetch it back.
demo: build
    python3 scripts/demo.py

# seal and open vs a Python and a shell baseline, whole publishes to a local Garage, and the
# static x86_64 binary against the glibc one, on a generated corpus
# (BENCH_SIZE_MIB, default 1024; BENCH_LARGE_MIB, default 4096); writes bench/RESULTS.md.
bench: build
    scripts/static.sh x86_64-unknown-linux-musl
    cargo build --release --locked --example stage_bench
    python3 bench/run.py
