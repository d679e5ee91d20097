"""`publish-artifact sbom` of image tarballs built with the real package
tools (tests/sbom_fixtures.py), against syft 1.18.1 as the oracle
(tests/syft_oracle.py pins what it finds): the same decoded purls, in
both archive layouts, layers plain, gzip or zstd; and documents that the
formats' validators accept."""

import json
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
