#!/usr/bin/env bash
# Baseline: the shell pipeline gzip | openssl enc | tee | sha256sum, with the
# IV written first so the object has the contract's layout.
#   bench/shell_seal.sh IN OUT LEVEL KEY_FILE IV_HEX   (prints the SHA-256)
set -euo pipefail
in=$1 out=$2 level=$3 key_file=$4 iv=$5
{ printf '%s' "$iv" | xxd -r -p; gzip -"$level" -c "$in" | openssl enc -aes-256-cbc -K "$(cat "$key_file")" -iv "$iv"; } \
    | tee "$out" | sha256sum | cut -d' ' -f1
