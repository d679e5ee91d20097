#!/usr/bin/env bash
# `just image`: the tool image, linux/amd64 and linux/arm64, as one OCI image
# index in an OCI layout at $IMAGE_OUT (default target/image, tag: the
# version), built with no daemon and no privilege beyond root's chroot:
# Debian's buildah, `--isolation chroot`, the vfs storage driver, in a
# throwaway store, from the Dockerfile (`--build-arg BINARIES=context`).
#
# Reproducible: the binaries are `just static`'s; each platform's root is
# one tarball made by scripts/image-root.sh (sorted, numeric owners, every
# time SOURCE_DATE_EPOCH); `--timestamp` sets the image's created time and
# every file's time in the layer to SOURCE_DATE_EPOCH, which defaults to the
# commit's time; the labels name the commit. Two builds of one commit give
# one index digest (tests/test_image.py builds twice and compares).
#
# Prints the index digest on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'image: %s\n' "$*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

out=${IMAGE_OUT:-target/image}
target_dir=${CARGO_TARGET_DIR:-target}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
revision=$(git rev-parse HEAD)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
command -v buildah >/dev/null || fail "buildah is missing: scripts/setup.sh installs it"

work=$(mktemp -d)
store=(--root "$work/storage" --runroot "$work/run" --storage-driver vfs)
cleanup() {
    buildah "${store[@]}" rmi --all --force >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

for arch in amd64 arm64; do
    case $arch in
        amd64) triple=x86_64-unknown-linux-musl ;;
        arm64) triple=aarch64-unknown-linux-musl ;;
    esac
    binary="$target_dir/$triple/release/publish-artifact"
    [ -x "$binary" ] || fail "$binary is missing: run \`just static\` first"
    scripts/image-root.sh "$binary" "$work/root-$arch" "$work/context/$arch/rootfs.tar"
done

name="localhost/publish-artifact:$version"
# One platform after the other, each added to the list when built: with
# `--platform linux/amd64,linux/arm64` buildah builds them at once and lists
# them in the order they finish, which made the index differ between builds.
buildah "${store[@]}" manifest create "$name" >/dev/null
for platform in linux/amd64 linux/arm64; do
    say "building $name for $platform (SOURCE_DATE_EPOCH $SOURCE_DATE_EPOCH, $revision)"
    buildah "${store[@]}" build --quiet --isolation chroot \
        --platform "$platform" --manifest "$name" \
        --timestamp "$SOURCE_DATE_EPOCH" \
        --build-arg BINARIES=context --build-arg VERSION="$version" \
        --build-arg REVISION="$revision" --build-arg CREATED="$created" \
        --file "$PWD/Dockerfile" "$work/context" >/dev/null
done

rm -rf "$out"
mkdir -p "$(dirname "$out")"
buildah "${store[@]}" manifest push --quiet --all --format oci "$name" "oci:$out:$version" >&2
digest=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' \
    "$out/index.json")
say "$out:$version is index $digest"
echo "$digest"
