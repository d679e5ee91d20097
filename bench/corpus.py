#!/usr/bin/env python3
"""A deterministic corpus like an image layer: a tar of system libraries and
binaries, text, already-compressed data and random bytes, cut to SIZE.

    python3 bench/corpus.py OUT SIZE_MIB

The same SIZE on the same machine image gives the same bytes (files are
taken in sorted order, generated parts come from fixed seeds).
"""

import gzip
import io
import random
import sys
import tarfile
from pathlib import Path

SOURCES = [Path("/usr/lib/x86_64-linux-gnu"), Path("/usr/lib/aarch64-linux-gnu"),
           Path("/usr/bin"), Path("/usr/share/doc"), Path("/usr/share/perl")]


def system_files():
    for root in SOURCES:
        if root.exists():
            for path in sorted(root.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    yield path


def generated(rng: random.Random, kind: int, size: int) -> bytes:
    if kind == 0:  # log-like text
        words = "layer model tensor weights engine build image cache push pull ok error".split()
        lines = (f"{i:08d} {' '.join(rng.choices(words, k=12))}\n" for i in range(size // 80 + 1))
        return "".join(lines).encode()[:size]
    if kind == 1:  # already compressed
        return gzip.compress(rng.randbytes(size // 2) + bytes(size // 2), mtime=0)[:size]
    return rng.randbytes(size)  # incompressible


def main() -> None:
    out, size = Path(sys.argv[1]), int(sys.argv[2]) << 20
    rng = random.Random(20261122)
    files = system_files()
    with open(out, "wb") as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        written, n = 0, 0
        while raw.tell() < size:
            n += 1
            # Mostly real files, one generated member in four.
            path = next(files, None) if n % 4 else None
            if path is not None:
                try:
                    data = path.read_bytes()
                except OSError:
                    continue
                name = str(path).lstrip("/")
            else:
                data = generated(rng, n % 3, rng.randrange(64 << 10, 4 << 20))
                name = f"generated/{n:06d}.bin"
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1700000000, 0o644
            tar.addfile(info, io.BytesIO(data))
            written += len(data)
    with open(out, "r+b") as raw:
        raw.truncate(size)


if __name__ == "__main__":
    main()
