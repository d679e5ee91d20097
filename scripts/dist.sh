#!/usr/bin/env bash
# `just dist`: what ships, for x86_64 and aarch64 Linux with glibc 2.17 or
# newer (RHEL/CentOS 7, Ubuntu 20.04, Amazon Linux 2, JetPack 5):
#   $CARGO_TARGET_DIR/dist/publish_artifact-*-manylinux_2_17_{x86_64,aarch64}.whl
#   $CARGO_TARGET_DIR/dist/publish-artifact-<version>-<triple>.tar.gz (+ .sha256)
# Zig links against glibc 2.17's symbol versions (maturin --zig, zig from
# PyPI's ziglang). The build fails when a binary needs a newer glibc symbol,
# when its embedded guest differs from the release build's, or when the
# binary's selftest fails (aarch64 under qemu-aarch64-static). The guest
# check guards host/build/guest_env.rs: maturin --zig runs cargo with
# cargo-zigbuild's unstable settings, which changed the guest's symbol hashes
# and code layout until the build script kept them from the guest's cargo.
#
# aws-lc-sys (rustls' crypto) 0.47 compiles its C with zig cc for both
# targets as it is. Older releases passed `-Wp,-U_FORTIFY_SOURCE` for
# jitterentropy, which zig cc refuses; AWS_LC_SYS_NO_JITTER_ENTROPY=1 is the
# crate's documented switch for that, should it come back.
#
# Optional proof on a real older userland: with DIST_OLD_ROOT_X86_64 and/or
# DIST_OLD_ROOT_AARCH64 naming a Debian root made by
#   debootstrap --variant=minbase bullseye DIR                  (glibc 2.31)
#   debootstrap --arch=arm64 --foreign --variant=minbase bullseye DIR
# each binary also runs its selftest chrooted there (arm64 through the
# static qemu copied into the root).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

GLIBC_FLOOR=2.17
TRIPLES=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu)
target_dir="${CARGO_TARGET_DIR:-target}"
dist="$target_dir/dist"
reference="$target_dir/release/publish-artifact"  # `just build`, the guest's reference
# Each zig build gets a target directory of its own, so that it neither
# waits for nor invalidates the everyday release build, and so that the two
# run side by side: the fat-LTO step at their end runs on one core each.
zig_target_dir() { echo "$target_dir/zig-${1%%-*}"; }
say() { printf 'dist: %s\n' "$*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

# The guest's SHA-256 as `publish-artifact -V` reports it.
guest_sha256() { "$@" -V | sed -n 's/^guest: .*sha256 \([0-9a-f]\{64\}\)$/\1/p'; }

# The newest GLIBC_x.y symbol version the binary asks for.
newest_glibc() {
    objdump -T "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1
}

# Runs the binary's selftest chrooted in an older Debian root; says its glibc.
selftest_in_old_root() {
    local root=$1 triple=$2 binary=$3 runner=()
    cp "$binary" "$root/tmp/publish-artifact"
    if [ "${triple%%-*}" = aarch64 ]; then
        cp "$(command -v qemu-aarch64-static)" "$root/tmp/qemu-aarch64-static"
        runner=(/tmp/qemu-aarch64-static)
    fi
    local libc
    libc=$(ls "$root"/lib/*-linux-gnu/libc-*.so 2>/dev/null | head -1)
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin PUBLISH_ARTIFACT_CACHE_DIR=none \
        chroot "$root" "${runner[@]}" /tmp/publish-artifact selftest >&2 \
        || fail "$triple selftest in $root"
    say "$triple: selftest passed chrooted in $root (${libc##*/})"
}

scripts/setup.sh dist
[ -x "$reference" ] || fail "$reference is missing: run \`just build\` first"
expected_guest=$(guest_sha256 "$reference")
[ -n "$expected_guest" ] || fail "$reference -V names no guest SHA-256"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
mkdir -p "$dist"
rm -f "$dist"/publish_artifact-*.whl "$dist"/publish-artifact-*.tar.gz*
builds=()

for triple in "${TRIPLES[@]}"; do
    say "building $triple against glibc $GLIBC_FLOOR (profile dist), log in $dist/build-$triple.log"
    CARGO_TARGET_DIR=$(zig_target_dir "$triple") maturin build --profile dist --locked --zig \
        --target "$triple" --compatibility "manylinux_${GLIBC_FLOOR//./_}" --out "$dist" \
        > "$dist/build-$triple.log" 2>&1 &
    builds+=($!)
done
for i in "${!TRIPLES[@]}"; do
    wait "${builds[$i]}" || { tail -30 "$dist/build-${TRIPLES[$i]}.log" >&2; fail "${TRIPLES[$i]} build"; }
done

for triple in "${TRIPLES[@]}"; do
    binary="$(zig_target_dir "$triple")/$triple/dist/publish-artifact"

    newest=$(newest_glibc "$binary")
    if [ "$(printf '%s\n%s\n' "$GLIBC_FLOOR" "$newest" | sort -V | tail -1)" != "$GLIBC_FLOOR" ]; then
        objdump -T "$binary" | grep -E "GLIBC_$newest\b" >&2 || true
        fail "$binary needs GLIBC_$newest, newer than $GLIBC_FLOOR"
    fi
    say "$triple: newest glibc symbol version GLIBC_$newest (floor $GLIBC_FLOOR)"

    case "$triple" in
        x86_64-*) run=("$binary") ;;
        aarch64-*) run=(qemu-aarch64-static -L /usr/aarch64-linux-gnu "$binary") ;;
    esac
    guest=$(guest_sha256 "${run[@]}")
    [ "$guest" = "$expected_guest" ] \
        || fail "$triple embeds guest $guest, the release build $expected_guest"
    "${run[@]}" selftest >&2 || fail "$triple selftest"
    say "$triple: guest sha256 $guest, as in the release build; selftest passed"

    old_root_variable="DIST_OLD_ROOT_$(echo "${triple%%-*}" | tr a-z A-Z)"
    old_root="${!old_root_variable:-}"
    if [ -n "$old_root" ]; then
        selftest_in_old_root "$old_root" "$triple" "$binary"
    fi

    archive="publish-artifact-$version-$triple.tar.gz"
    tar -czf "$dist/$archive" -C "$(dirname "$binary")" publish-artifact
    (cd "$dist" && sha256sum "$archive" > "$archive.sha256")
done

# The aarch64 wheel's own binary (not the build's copy), on the emulator.
wheel=$(ls "$dist"/publish_artifact-*manylinux_2_17_aarch64*.whl)
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
python3 -m zipfile -e "$wheel" "$unpacked"
inside=$(ls "$unpacked"/publish_artifact-*.data/scripts/publish-artifact)
chmod +x "$inside"
qemu-aarch64-static -L /usr/aarch64-linux-gnu "$inside" selftest >&2 \
    || fail "the aarch64 wheel's binary failed its selftest"
say "the aarch64 wheel's binary passed its selftest under qemu-aarch64-static"
ls -l "$dist" >&2
