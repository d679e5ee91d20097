#!/usr/bin/env python3
"""Baseline: the streaming open a plain Python script would do (1 MiB reads,
hashlib SHA-256, `cryptography` AES-256-CBC, zlib), writing the plaintext to
a temporary file that becomes OUT only once the SHA-256, the padding and the
gzip trailer check out.

    python3 bench/python_open.py OBJECT OUT KEY_FILE SHA256_HEX
"""

import hashlib
import os
import sys
import zlib

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def main():
    src, dst, key_file, expected = sys.argv[1:5]
    key = bytes.fromhex(open(key_file).read().strip())
    digest = hashlib.sha256()
    tmp = dst + ".part"
    with open(src, "rb") as f, open(tmp, "wb") as out:
        iv = f.read(16)
        digest.update(iv)
        dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        unpad = padding.PKCS7(128).unpadder()
        gunzip = zlib.decompressobj(wbits=31)  # gzip framing, trailer checked
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            out.write(gunzip.decompress(unpad.update(dec.update(chunk))))
        out.write(gunzip.decompress(unpad.update(dec.finalize()) + unpad.finalize()))
        out.write(gunzip.flush())
    if digest.hexdigest() != expected or not gunzip.eof or gunzip.unused_data:
        os.unlink(tmp)
        sys.exit("the object does not check out")
    os.replace(tmp, dst)


if __name__ == "__main__":
    main()
