#!/usr/bin/env bash
# `just static [TRIPLE...]`: fully static binaries for musl, which run on
# Alpine, distroless and `scratch` (no libc, no loader, nothing on disk):
#   <target dir>/x86_64-unknown-linux-musl/<profile>/publish-artifact
#   <target dir>/aarch64-unknown-linux-musl/<profile>/publish-artifact
# (both triples without arguments; STATIC_PROFILE, default release: CI and
# the image build use that; `STATIC_PROFILE=dist` is the fat-LTO one).
#
# The Rust side links musl from the toolchain's own self-contained copy
# (rustup's rust-std for the triple: crt1.o, libc.a), so no musl has to be
# installed to link. The C inside the dependencies (aws-lc, zstd, sqlite,
# mimalloc, wasmtime's helpers) must be compiled against musl's headers:
#   x86_64:  Debian's musl-gcc (musl-tools);
#   aarch64: Debian's aarch64-linux-gnu-gcc with the specs of Debian's
#            musl-dev:arm64 (scripts/aarch64-linux-musl-gcc), which is also
#            the linker (rustc passes -nostartfiles -nodefaultlibs and its
#            own crt objects and libc.a).
# Each binary is then checked: no PT_INTERP, no DT_NEEDED (nothing for a
# loader to find), the guest it embeds is the release build's when that is
# there, and its selftest passes (aarch64 under qemu-aarch64-static, with
# no sysroot: a dynamic binary could not start there).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

profile=${STATIC_PROFILE:-release}
target_dir="${CARGO_TARGET_DIR:-target}"
reference="$target_dir/release/publish-artifact"
if [ $# -gt 0 ]; then triples=("$@"); else
    triples=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl)
fi
say() { printf 'static: %s\n' "$*" >&2; }
fail() { say "FAILED: $*"; exit 1; }
guest_sha256() { "$@" -V | sed -n 's/^guest: .*sha256 \([0-9a-f]\{64\}\)$/\1/p'; }

# mimalloc commits each arena it reserves at once on Linux (its default
# arena_eager_commit=2: "where the OS overcommits"), which put the static
# seal's peak RSS at 84 MiB against glibc's 34 MiB on a 64 MiB corpus;
# committing on demand brought it to 46 MiB at the same speed. It is a
# compile-time default of mimalloc's options.c; the other C sources never
# see the name.
MIMALLOC_DEFINES="-DMI_DEFAULT_ARENA_EAGER_COMMIT=0"

for triple in "${triples[@]}"; do
    export "CFLAGS_${triple//-/_}=$MIMALLOC_DEFINES"
    case "$triple" in
        x86_64-unknown-linux-musl)
            command -v musl-gcc >/dev/null || fail "musl-gcc is missing: scripts/setup.sh installs it"
            export CC_x86_64_unknown_linux_musl=musl-gcc
            run=() ;;
        aarch64-unknown-linux-musl)
            export CC_aarch64_unknown_linux_musl="$PWD/scripts/aarch64-linux-musl-gcc"
            export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=aarch64-linux-gnu-gcc
            "$CC_aarch64_unknown_linux_musl" --version >/dev/null \
                || fail "no aarch64 musl C compiler: scripts/setup.sh installs it"
            run=(qemu-aarch64-static) ;;
        *) fail "$triple: only x86_64-unknown-linux-musl and aarch64-unknown-linux-musl" ;;
    esac
    rustup target list --installed | grep -qx "$triple" \
        || fail "the $triple target is missing: scripts/setup.sh adds it"
    say "building $triple (profile $profile)"
    started=$(date +%s)
    cargo build --profile "$profile" --locked --target "$triple" --bin publish-artifact
    binary="$target_dir/$triple/$profile/publish-artifact"
    say "$triple: built in $(( $(date +%s) - started )) s, $(stat -c %s "$binary") bytes"

    if readelf -lW "$binary" | grep -q 'INTERP'; then
        fail "$binary asks for a program interpreter"
    fi
    if readelf -dW "$binary" | grep -q '(NEEDED)'; then
        readelf -dW "$binary" | grep '(NEEDED)' >&2
        fail "$binary needs shared libraries"
    fi
    say "$triple: $(file -b "$binary" | cut -d, -f1-2); no interpreter, no shared library"

    guest=$(guest_sha256 "${run[@]}" "$binary")
    if [ -x "$reference" ]; then
        expected=$(guest_sha256 "$reference")
        [ "$guest" = "$expected" ] || fail "$triple embeds guest $guest, the release build $expected"
    fi
    env -i PUBLISH_ARTIFACT_CACHE_DIR=none "${run[@]}" "$binary" selftest >&2 \
        || fail "$triple selftest"
    say "$triple: guest sha256 $guest; selftest passed"
done
