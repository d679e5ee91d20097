#!/usr/bin/env python3
"""Baseline: the streaming seal a plain Python script would do (gzip module,
`cryptography` AES-256-CBC, 1 MiB reads), writing IV || ciphertext.

    python3 bench/python_seal.py IN OUT LEVEL KEY_FILE IV_HEX
Prints the object's SHA-256.
"""

import gzip
import hashlib
import sys

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


class Sink:
    """Pads, encrypts and hashes what gzip writes, straight to the file."""

    def __init__(self, out, key, iv):
        self.out, self.hash = out, hashlib.sha256()
        self.enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        self.pad = padding.PKCS7(128).padder()
        self.emit(iv)

    def emit(self, data):
        self.hash.update(data)
        self.out.write(data)

    def write(self, data):
        self.emit(self.enc.update(self.pad.update(data)))
        return len(data)

    def flush(self):
        pass

    def finish(self):
        self.emit(self.enc.update(self.pad.finalize()) + self.enc.finalize())


def main():
    src, dst, level, key_file, iv_hex = sys.argv[1:6]
    key = bytes.fromhex(open(key_file).read().strip())
    with open(src, "rb") as f, open(dst, "wb") as out:
        sink = Sink(out, key, bytes.fromhex(iv_hex))
        with gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=int(level), mtime=0) as gz:
            while chunk := f.read(1 << 20):
                gz.write(chunk)
        sink.finish()
    print(sink.hash.hexdigest())


if __name__ == "__main__":
    main()
