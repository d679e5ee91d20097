#!/usr/bin/env bash
# The demo: seal a sample artifact, check it with openssl the way a loader
# would, and open it again with the tool. Everything happens in a temporary
# directory that is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CARGO_TARGET_DIR:-target}/release/publish-artifact"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== a sample artifact: this repository's sources as a tar"
tar -cf "$work/sample.tar" --exclude=./target --exclude=./.git .
ls -l "$work/sample.tar"

echo "== seal it (fresh random key and IV; the key goes to a 0600 file)"
"$bin" seal --file "$work/sample.tar" --out "$work/sample.enc" --key-out "$work/sample.key" | tee "$work/summary.json"
sha=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sha256"])' "$work/summary.json")

echo "== check it as a loader would: sha256sum, then Python's cryptography and gunzip"
echo "$sha  $work/sample.enc" | sha256sum --check
# The key is read from its file, never put on a command line.
python3 - "$work/sample.enc" "$work/sample.key" <<'PY' | gunzip | cmp - "$work/sample.tar"
import sys
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
obj = open(sys.argv[1], "rb").read()
key = bytes.fromhex(open(sys.argv[2]).read())
dec = Cipher(algorithms.AES(key), modes.CBC(obj[:16])).decryptor()
unpad = padding.PKCS7(128).unpadder()
sys.stdout.buffer.write(unpad.update(dec.update(obj[16:]) + dec.finalize()) + unpad.finalize())
PY
echo "an independent decryption and gunzip give back the exact sample"

echo "== open it with the tool"
"$bin" open --file "$work/sample.enc" --key-file "$work/sample.key" --sha256 "$sha" --out "$work/restored.tar" >/dev/null
cmp "$work/sample.tar" "$work/restored.tar" && echo "publish-artifact open gives back the exact sample"
