#!/usr/bin/env bash
# Baseline: openssl enc -d | gunzip, with sha256sum on a tee of the object;
# the plaintext goes to a temporary file that becomes OUT only once the
# SHA-256 matches and both openssl (padding) and gunzip (trailer) succeeded.
#   bench/shell_open.sh OBJECT OUT KEY_FILE SHA256_HEX
set -euo pipefail
obj=$1 out=$2 key_file=$3 expected=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkfifo "$work/object"
sha256sum < "$work/object" > "$work/sha256" &
hasher=$!
tee "$work/object" < "$obj" | tail -c +17 \
    | openssl enc -d -aes-256-cbc -K "$(cat "$key_file")" -iv "$(head -c 16 "$obj" | xxd -p)" \
    | gunzip > "$out.part"
wait "$hasher"
[ "$(cut -d' ' -f1 "$work/sha256")" = "$expected" ] || { rm -f "$out.part"; echo "SHA-256 mismatch" >&2; exit 1; }
mv "$out.part" "$out"
