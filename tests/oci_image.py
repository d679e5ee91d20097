"""A real container image, made for the tests: an OCI image layout written
here byte by byte (gzip layers, config, manifest, index.json), turned into a
`docker save`-style tarball by skopeo (Debian's), the tool CI uses.

The raw manifest bytes are what a registry would serve for the image, so
sha256(manifest) is the digest a push reports.
"""

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = "registry.example.com/acme/loader"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(files: dict) -> bytes:
    """An uncompressed layer: a tar of the given {path: bytes}."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@dataclass
class Image:
    layout: Path          # the OCI layout folder
    manifest: bytes       # raw manifest bytes, as a registry serves them
    config: bytes
    layers: list          # uncompressed layer tars, in order
    compressed: list      # the gzip blobs the manifest names

    @property
    def digest(self) -> str:
        return sha256(self.manifest)

    def ref(self, tag: str = None) -> str:
        return f"{REPOSITORY}{':' + tag if tag else ''}@{self.digest}"


def make_image(folder: Path, architecture: str = "arm64", tag: str = "7-0123456789ab",
               salt: bytes = b"") -> Image:
    """`salt` makes another image (its first layer differs)."""
    layers = [
        layer_tar({"app/loader": b"#!/bin/sh\necho loader\n" * 50 + salt}),
        layer_tar({"app/model.bin": bytes(range(256)) * 400, "etc/motd": b"hello\n"}),
    ]
    compressed = [gzip.compress(layer, mtime=0) for layer in layers]
    config = json.dumps({
        "architecture": architecture, "os": "linux",
        "config": {"Entrypoint": ["/app/loader"]},
        "rootfs": {"type": "layers", "diff_ids": [sha256(layer) for layer in layers]},
    }, indent=2).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha256(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": sha256(blob), "size": len(blob)} for blob in compressed],
    }, indent=2).encode()
    layout = folder / "oci"
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    for blob in [*compressed, config, manifest]:
        (blobs / sha256(blob)[7:]).write_bytes(blob)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_text(json.dumps({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": sha256(manifest), "size": len(manifest),
                       "annotations": {"org.opencontainers.image.ref.name": tag}}],
    }))
    return Image(layout, manifest, config, layers, compressed)


def docker_archive(image: Image, out: Path, tag: str = "7-0123456789ab") -> Path:
    """skopeo copy oci:LAYOUT docker-archive:OUT:REPO:TAG, as CI does from
    the registry. --insecure-policy: a local copy between two files needs
    no signature policy."""
    assert shutil.which("skopeo"), "skopeo is missing: scripts/setup.sh installs it"
    subprocess.run(
        ["skopeo", "--insecure-policy", "copy", "--quiet", f"oci:{image.layout}",
         f"docker-archive:{out}:{REPOSITORY}:{tag}"],
        check=True, capture_output=True, text=True,
    )
    return out


def rewrite_tar(source: Path, out: Path, change) -> Path:
    """Copies a tarball member by member; `change(name, data)` returns the
    new data for a member (or the same)."""
    with tarfile.open(source) as old, tarfile.open(out, "w") as new:
        for member in old.getmembers():
            data = old.extractfile(member).read() if member.isfile() else None
            if data is not None:
                data = change(member.name, data)
                member.size = len(data)
            new.addfile(member, io.BytesIO(data) if data is not None else None)
    return out


def members(path: Path) -> dict:
    """{name: bytes} of the regular files of a tarball."""
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
