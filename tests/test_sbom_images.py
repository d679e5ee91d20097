"""`publish-artifact sbom` of image tarballs built with the real package
tools (tests/sbom_fixtures.py), against syft 1.18.1 as the oracle
(tests/syft_oracle.py pins what it finds): the same decoded purls, in
both archive layouts, layers plain, gzip or zstd; and documents that the
formats' validators accept."""

import json
import shutil
import subprocess
from urllib.parse import unquote

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

import sbom_fixtures
import syft_oracle

SUPPLIER = ["--supplier", "ACME Platform <platform@acme.example>"]
EXACT = ["debian-app", "distroless", "rpm", "rpm-sysimage", "rpm-bdb"]


def archive(name, layout, compression):
    built = sbom_fixtures.image(name, layout, compression)
    return getattr(built, "path", built)


def document(cli, path, fmt="cyclonedx-json"):
    run = cli("sbom", "--file", path, "--format", fmt, *SUPPLIER,
              env={"SOURCE_DATE_EPOCH": "1764633600"})
    assert run.returncode == 0, run.stderr
    return run


def purls(bom) -> set:
    return {unquote(component["purl"]) for component in bom["components"]}


@pytest.mark.parametrize("layout", ["oci", "classic"])
@pytest.mark.parametrize("compression", [None, "gzip", "zstd"])
@pytest.mark.parametrize("name", EXACT)
def test_the_packages_are_the_ones_syft_finds(cli, name, layout, compression):
    bom = json.loads(document(cli, archive(name, layout, compression)).stdout)
    assert purls(bom) == syft_oracle.IN_IMAGES[name]
    assert "annotations" not in bom, bom.get("annotations")


def test_the_squash_drops_what_a_later_layer_removed(cli):
    """debian-app's top layer whites out six's files, makes node_modules
    opaque with only ms put back, and is a real `dpkg --purge oldtool`."""
    lower = syft_oracle.IN_TREES["python"] | syft_oracle.IN_TREES["npm"]
    removed = {purl for purl in lower if "/six@" in purl or "/is-number@" in purl}
    assert len(removed) == 2, lower
    found = purls(json.loads(document(cli, archive("debian-app", "oci", "gzip")).stdout))
    assert not removed & found
    assert syft_oracle.OLDTOOL not in found and "pkg:npm/ms@2.1.3" in found


def test_an_unread_hard_link_is_said_in_the_document(cli):
    """Alpine's database behind a hard link to a file no cataloger asked
    for: not catalogued, and the document says why instead of pretending
    the image is empty."""
    run = document(cli, archive("alpine", "oci", "gzip"))
    bom = json.loads(run.stdout)
    texts = [annotation["text"] for annotation in bom.get("annotations", [])]
    assert any("hard link" in text and "lib/apk/db/installed" in text for text in texts), texts
    assert "hard link" in run.stderr


@pytest.mark.parametrize("name", ["debian-app", "rpm"])
def test_image_documents_validate(cli, tmp_path, name):
    path = archive(name, "oci", "gzip")
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(document(cli, path).stdout)
    assert errors is None, errors
    out = tmp_path / "image.spdx.json"
    out.write_text(document(cli, path, "spdx-json").stdout)
    tools = subprocess.run(["pyspdxtools", "-i", str(out)], capture_output=True, text=True)
    assert tools.returncode == 0, tools.stdout + tools.stderr
    ntia = subprocess.run(["sbomcheck", "-c", "ntia", "-r", "json", str(out)],
                          capture_output=True, text=True)
    assert json.loads(ntia.stdout)["isNtiaConformant"] is True, ntia.stdout
    spdx = json.loads(out.read_text())
    contained = {r["relatedSpdxElement"] for r in spdx["relationships"]
                 if r["relationshipType"] == "CONTAINS"}
    assert len(contained) == len(spdx["packages"]) - 1


def test_the_same_image_gives_the_same_bytes_in_either_layout(cli):
    """The document describes the image, not the archive: both layouts of
    one image (members in another order, other paths) give the same bytes."""
    classic = document(cli, archive("debian-app", "classic", "gzip")).stdout
    assert classic == document(cli, archive("debian-app", "oci", "gzip")).stdout
    assert classic == document(cli, archive("debian-app", "classic", None)).stdout


def test_an_oci_layout_folder_is_the_image_its_archive_is(cli, tmp_path):
    """The Docker 25+ archive unpacked is an OCI layout; without its
    manifest.json the layers are ordered by index.json alone. The folder
    gives the document the archive gives, and syft's `oci-dir:` finds the
    same packages in it."""
    layout = tmp_path / "layout"
    shutil.copytree(sbom_fixtures.image_layout("debian-app", "gzip"), layout)
    (layout / "manifest.json").unlink()
    from_folder = document(cli, layout).stdout
    assert from_folder == document(cli, archive("debian-app", "oci", "gzip")).stdout
    assert purls(json.loads(from_folder)) == syft_oracle.syft_purls(f"oci-dir:{layout}")


def test_skopeos_oci_layout_has_the_packages_syft_finds(cli, tmp_path):
    """skopeo writes a layout with only index.json, naming the image by its
    OCI tag: the packages are syft's, the tag is the root's."""
    layout = tmp_path / "skopeo"
    subprocess.run(["skopeo", "copy", "--quiet",
                    f"docker-archive:{archive('debian-app', 'classic', 'gzip')}",
                    f"oci:{layout}:7"], check=True, capture_output=True)
    assert not (layout / "manifest.json").exists()
    bom = json.loads(document(cli, layout).stdout)
    assert purls(bom) == syft_oracle.IN_IMAGES["debian-app"]
    assert purls(bom) == syft_oracle.syft_purls(f"oci-dir:{layout}")
    root = bom["metadata"]["component"]
    assert {"name": "publish-artifact:image:tag", "value": "7"} in root["properties"]


def test_a_folder_that_is_no_layout_is_refused(cli, tmp_path):
    (tmp_path / "blobs").mkdir()
    run = cli("sbom", "--file", tmp_path)
    assert run.returncode == 2, run.stderr
    assert f"{tmp_path} is a directory without index.json" in run.stderr
    assert run.stdout == ""
