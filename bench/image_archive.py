"""A docker-archive tarball for timing the image scan (`image verify`, and
publish --image-ref): the Docker 25+ layout (two gzip -1 layer blobs,
config, manifest, index.json, manifest.json last) made from a corpus of
bench/corpus.py, plus the manifest file and the reference to check it by.
A 950 MiB corpus makes a ~470 MiB archive.

    python3 bench/corpus.py /tmp/corpus.bin 950
    python3 bench/image_archive.py /tmp/corpus.bin /tmp/img
    time publish-artifact image verify --archive /tmp/img/image.tar \
        --image-ref "$(cat /tmp/img/ref)" --image-manifest /tmp/img/manifest.json
"""
import gzip, hashlib, io, json, sys, tarfile, zlib
from pathlib import Path

corpus, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
sha = lambda b: hashlib.sha256(b).hexdigest()
data = corpus.read_bytes()
half = len(data) // 2
layers = []
for i, part in enumerate([data[:half], data[half:]]):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo(f"data/part{i}.bin")
        info.size, info.mtime = len(part), 1700000000
        tar.addfile(info, io.BytesIO(part))
    layers.append(buf.getvalue())
blobs = [gzip.compress(l, compresslevel=1, mtime=0) for l in layers]
config = json.dumps({"architecture": "amd64", "os": "linux",
                     "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(l) for l in layers]}}).encode()
manifest = json.dumps({"schemaVersion": 2, "config": {"digest": "sha256:" + sha(config)},
                       "layers": [{"digest": "sha256:" + sha(b)} for b in blobs]}).encode()
members = {f"blobs/sha256/{sha(b)}": b for b in [*blobs, config, manifest]}
members["index.json"] = json.dumps({"manifests": [{"digest": "sha256:" + sha(manifest)}]}).encode()
members["oci-layout"] = b'{"imageLayoutVersion": "1.0.0"}'
members["manifest.json"] = json.dumps([{"Config": f"blobs/sha256/{sha(config)}",
    "RepoTags": ["bench/loader:1"], "Layers": [f"blobs/sha256/{sha(b)}" for b in blobs]}]).encode()
with tarfile.open(out / "image.tar", "w") as tar:
    for name, blob in members.items():
        info = tarfile.TarInfo(name)
        info.size = len(blob)
        tar.addfile(info, io.BytesIO(blob))
(out / "manifest.json").write_bytes(manifest)
(out / "ref").write_text(f"bench/loader:1@sha256:{sha(manifest)}")
