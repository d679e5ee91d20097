"""The tool image as `just image` (scripts/image.sh) leaves it: an OCI layout
whose index.json names one image index, which names one image per platform.
Read here with nothing but json, hashlib and GNU tar, so what the tests see
is the layout's bytes, not another tool's view of them."""

import atexit
import functools
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from conftest import ROOT

INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
TRIPLES = {"amd64": "x86_64-unknown-linux-musl", "arm64": "aarch64-unknown-linux-musl"}


def static_binary(triple: str) -> Path:
    """`just static`'s binary, where cargo puts it, under CARGO_TARGET_DIR as
    conftest finds the release one."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / triple / "release" / "publish-artifact"


def build(out: Path, env=None) -> str:
    """Runs scripts/image.sh into `out`; the index digest it printed."""
    run = subprocess.run([str(ROOT / "scripts" / "image.sh")], cwd=ROOT,
                         env={**os.environ, "IMAGE_OUT": str(out), **(env or {})},
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    return run.stdout.strip().splitlines()[-1]


def gunzip(media_type: str) -> list:
    return ["-z"] if media_type.endswith("+gzip") else []


@functools.cache
def the_image() -> "Layout":
    """One build for every test module that only reads the image."""
    out = Path(tempfile.mkdtemp(prefix="tool-image-")) / "image"
    atexit.register(shutil.rmtree, out.parent, True)
    build(out)
    return Layout(out)


@dataclass
class Layout:
    path: Path

    def blob(self, digest: str) -> bytes:
        algorithm, hex_digest = digest.split(":")
        data = (self.path / "blobs" / algorithm / hex_digest).read_bytes()
        assert hashlib.sha256(data).hexdigest() == hex_digest, f"blob {digest} is not its digest"
        return data

    def json_blob(self, digest: str) -> dict:
        return json.loads(self.blob(digest))

    @property
    def top(self) -> dict:
        """index.json's one entry: the image index."""
        [entry] = json.loads((self.path / "index.json").read_text())["manifests"]
        return entry

    @property
    def index_digest(self) -> str:
        return self.top["digest"]

    @property
    def index(self) -> dict:
        assert self.top["mediaType"] == INDEX_TYPE, self.top
        return self.json_blob(self.index_digest)

    def platforms(self) -> dict:
        """architecture -> the index's descriptor of its image."""
        found = {}
        for entry in self.index["manifests"]:
            platform = entry["platform"]
            assert platform["os"] == "linux", platform
            found[platform["architecture"]] = entry
        return found

    def manifest(self, arch: str) -> dict:
        entry = self.platforms()[arch]
        assert entry["mediaType"] == MANIFEST_TYPE, entry
        return self.json_blob(entry["digest"])

    def config(self, arch: str) -> dict:
        return self.json_blob(self.manifest(arch)["config"]["digest"])

    def layer_files(self, arch: str) -> list:
        """The layers' blobs, in order, written out for tar to read."""
        paths = []
        for layer in self.manifest(arch)["layers"]:
            algorithm, hex_digest = layer["digest"].split(":")
            path = self.path / "blobs" / algorithm / hex_digest
            self.blob(layer["digest"])  # checks the digest
            paths.append((layer["mediaType"], path))
        return paths

    def listing(self, arch: str) -> list:
        """`tar -tv` of each layer, numeric owners."""
        return [subprocess.run(["tar", "-tv", *gunzip(media), "--numeric-owner", "-f", str(path)],
                               capture_output=True, text=True, check=True).stdout
                for media, path in self.layer_files(arch)]

    def unpack(self, arch: str, root: Path) -> Path:
        """The image's root filesystem, as a runtime lays it: every layer
        in order, owners and modes kept (the tests run as root)."""
        root.mkdir(parents=True)
        for media, path in self.layer_files(arch):
            assert "tar" in media, media
            subprocess.run(["tar", "-x", *gunzip(media), "--numeric-owner", "--same-permissions", "-f", str(path),
                            "-C", str(root)], check=True, capture_output=True)
        return root
