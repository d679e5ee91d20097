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
import os
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


# --- images from rootfs folders (issue 23: the SBOM fixtures) -------------
#
# A layer is a folder holding what that layer adds or changes, the way an
# overlay upper directory is exported: a deletion of something a lower layer
# had is an empty file `.wh.NAME` beside it, and a folder whose lower contents
# are hidden holds `.wh..wh..opq`. The archives are written here, not by
# skopeo, because skopeo writes only the classic layout.

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
LAYOUTS = ("classic", "oci")      # docker save before 25, and Docker 25+'s
COMPRESSIONS = (None, "gzip", "zstd")
MTIME = 1_700_000_000


def whiteout(layer: Path, path: str) -> None:
    """Marks `path` (file or folder of a lower layer) deleted in `layer`."""
    marker = layer / Path(path).parent / (WHITEOUT + Path(path).name)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()


def opaque(layer: Path, folder: str) -> None:
    """Hides everything lower layers had in `folder`; what `layer` itself
    puts there stays."""
    (layer / folder).mkdir(parents=True, exist_ok=True)
    (layer / folder / OPAQUE).touch()


def diff_layer(lower: Path, upper: Path, layer: Path) -> Path:
    """The layer a build step that turned `lower` into `upper` commits, as
    `docker build` does: what is new or changed, and a whiteout for each
    topmost path that is gone."""
    def entries(root: Path) -> dict:
        return {p.relative_to(root).as_posix(): p for p in root.rglob("*")}

    def same(a: Path, b: Path) -> bool:
        if a.is_symlink() or b.is_symlink():
            return a.is_symlink() and b.is_symlink() and os.readlink(a) == os.readlink(b)
        if a.is_dir() or b.is_dir():
            return a.is_dir() and b.is_dir()
        return a.stat().st_mode == b.stat().st_mode and a.read_bytes() == b.read_bytes()

    old, new = entries(lower), entries(upper)
    for name, path in sorted(new.items()):
        if name in old and same(old[name], path):
            continue
        target = layer / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            target.symlink_to(os.readlink(path))
        elif path.is_dir():
            target.mkdir(exist_ok=True)
        else:
            shutil.copy2(path, target)
    for name in sorted(set(old) - set(new)):
        if str(Path(name).parent) == "." or Path(name).parent.as_posix() in new:
            whiteout(layer, name)
    return layer


def compress(layer: bytes, compression) -> bytes:
    """A layer blob; zstd by Debian's zstd, as Python has no zstd of its own."""
    if compression == "gzip":
        return gzip.compress(layer, mtime=0)
    if compression == "zstd":
        return subprocess.run(["zstd", "-q", "-c", "--no-check"], input=layer,
                              capture_output=True, check=True).stdout
    return layer


def decompress(blob: bytes) -> bytes:
    """The layer tar of a blob in any of COMPRESSIONS, told by its magic."""
    if blob[:2] == b"\x1f\x8b":
        return gzip.decompress(blob)
    if blob[:4] == b"\x28\xb5\x2f\xfd":
        return subprocess.run(["zstd", "-d", "-q", "-c"], input=blob, capture_output=True,
                              check=True).stdout
    return blob


def folder_tar(root: Path) -> bytes:
    """An uncompressed layer of a folder: sorted, owned by root, one mtime,
    symlinks kept as links and hard links as links to the first name, so the
    same folder always gives the same bytes."""
    def normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mtime = MTIME
        return info

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(root.rglob("*"), key=lambda p: p.relative_to(root).parts):
            tar.add(path, arcname=str(path.relative_to(root)), recursive=False, filter=normalise)
    return out.getvalue()


@dataclass
class Archive:
    path: Path
    config: bytes
    manifest: bytes       # the OCI manifest a registry would serve for it
    diff_ids: list        # sha256 of each uncompressed layer, in order

    @property
    def digest(self) -> str:
        return sha256(self.manifest)


def image_archive(layers: list, out: Path, layout: str = "oci", compression=None,
                  tag: str = "sbom-fixture", architecture: str = "amd64") -> Archive:
    """A `docker save` tarball of the given layer folders (lowest first), in
    the classic layout (`ID/layer.tar`, `ID.json`, `manifest.json` last) or
    Docker 25+'s (an OCI layout: `blobs/sha256/...` first, then
    `index.json`, `manifest.json`); layers plain, gzip or zstd."""
    assert layout in LAYOUTS and compression in COMPRESSIONS, (layout, compression)
    plain = [folder_tar(Path(layer)) for layer in layers]
    blobs = [compress(t, compression) for t in plain]
    diff_ids = [sha256(t) for t in plain]
    config = json.dumps({
        "architecture": architecture, "os": "linux", "created": "2023-11-14T22:13:20Z",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2023-11-14T22:13:20Z", "created_by": f"layer {i}"}
                    for i in range(len(plain))],
    }, indent=2).encode()
    layer_type = "application/vnd.oci.image.layer.v1.tar" + (f"+{compression}" if compression else "")
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha256(config), "size": len(config)},
        "layers": [{"mediaType": layer_type, "digest": sha256(b), "size": len(b)} for b in blobs],
    }, indent=2).encode()
    repo_tag = f"{REPOSITORY}:{tag}"
    if layout == "oci":
        members_ = _oci_members(blobs, config, manifest, repo_tag, tag)
    else:
        members_ = _classic_members(blobs, diff_ids, config, repo_tag, tag)
    write_tar(out, members_)
    return Archive(out, config, manifest, diff_ids)


def _oci_members(blobs, config, manifest, repo_tag, tag) -> list:
    """Docker 25+: the blobs come before the manifests that name them."""
    path = lambda data: "blobs/sha256/" + sha256(data)[7:]
    index = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": sha256(manifest), "size": len(manifest),
                       "annotations": {"io.containerd.image.name": repo_tag,
                                       "org.opencontainers.image.ref.name": tag}}],
    }).encode()
    docker_manifest = json.dumps([{
        "Config": path(config), "RepoTags": [repo_tag], "Layers": [path(b) for b in blobs],
    }]).encode()
    unique = {path(data): data for data in [*blobs, config, manifest]}
    return [*sorted(unique.items()), ("index.json", index), ("manifest.json", docker_manifest),
            ("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'),
            ("repositories", json.dumps({REPOSITORY: {tag: sha256(manifest)[7:]}}).encode())]


def _classic_members(blobs, diff_ids, config, repo_tag, tag) -> list:
    """docker save before 25: a folder per layer named by its chain, the
    config as ID.json, manifest.json and repositories last."""
    ids, parent = [], ""
    for diff_id in diff_ids:
        parent = hashlib.sha256(f"{parent} {diff_id}".encode()).hexdigest()
        ids.append(parent)
    layer_members = []
    for i, (layer_id, blob) in enumerate(zip(ids, blobs)):
        v1 = {"id": layer_id, "created": "2023-11-14T22:13:20Z",
              **({"parent": ids[i - 1]} if i else {})}
        layer_members += [(f"{layer_id}/VERSION", b"1.0"),
                          (f"{layer_id}/json", json.dumps(v1).encode()),
                          (f"{layer_id}/layer.tar", blob)]
    docker_manifest = json.dumps([{
        "Config": sha256(config)[7:] + ".json", "RepoTags": [repo_tag],
        "Layers": [f"{layer_id}/layer.tar" for layer_id in ids],
    }]).encode()
    return [*sorted(layer_members), (sha256(config)[7:] + ".json", config),
            ("manifest.json", docker_manifest),
            ("repositories", json.dumps({REPOSITORY: {tag: ids[-1]}}).encode())]


def write_tar(out: Path, named: list) -> Path:
    """A tarball of [(name, bytes)] in that order, folders implied."""
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        folders = set()
        for name, data in named:
            for folder in list(Path(name).parents)[-2::-1]:
                if str(folder) not in folders:
                    folders.add(str(folder))
                    info = tarfile.TarInfo(str(folder))
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, MTIME
                    tar.addfile(info)
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, MTIME
            tar.addfile(info, io.BytesIO(data))
    return out
