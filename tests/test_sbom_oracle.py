"""syft 1.18.1 on every SBOM fixture finds the packages syft_oracle.py
writes out by hand: the fixtures are what tests/SBOM_ORACLE.md says, and
the catalogers have a trustworthy oracle. Also what the fixtures promise
beyond syft: the dpkg states and rpm databases the real tools read back,
and archives laid out as docker save writes them.
"""

import io
import json
import subprocess
import tarfile

import pytest

import oci_image
import sbom_fixtures
from syft_oracle import IN_IMAGES, IN_TREES, syft_purls

# Every image in both layouts; the many-layered one also in each compression.
VARIANTS = [(name, layout, None) for name in IN_IMAGES for layout in oci_image.LAYOUTS] + [
    ("debian-app", layout, compression) for layout in oci_image.LAYOUTS
    for compression in oci_image.COMPRESSIONS if compression]


@pytest.mark.parametrize("name", IN_TREES)
def test_syft_finds_what_each_tree_holds(name):
    assert syft_purls(sbom_fixtures.tree(name)) == IN_TREES[name]


@pytest.mark.parametrize("name,layout,compression", VARIANTS)
def test_syft_finds_what_each_image_holds(name, layout, compression):
    archive = sbom_fixtures.image(name, layout, compression)
    assert syft_purls(archive.path) == IN_IMAGES[name]


def test_syft_finds_the_same_in_the_image_layout_folder():
    layout = sbom_fixtures.image_layout("debian-app", "gzip")
    assert (layout / "oci-layout").is_file() and (layout / "index.json").is_file()
    assert syft_purls(f"oci-dir:{layout}") == IN_IMAGES["debian-app"]


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
