"""The tool image, built here with no daemon (`just image`: buildah,
--isolation chroot, vfs): one OCI image index for linux/amd64 and
linux/arm64, each image FROM scratch plus one layer holding the static
binary, CA certificates, /etc/passwd with uid 10001 and its writable home,
and a writable /tmp; USER 10001; the labels name the commit. Built twice
from one commit, it is one index digest."""

import datetime
import hashlib
import re
import subprocess

import pytest

from conftest import ROOT
from tool_image import TRIPLES, Layout, build, static_binary, the_image


@pytest.fixture(scope="session")
def image():
    return the_image()


@pytest.fixture(scope="session")
def images(image, tmp_path_factory):
    """Two builds of this commit, in two places, one after the other."""
    second = tmp_path_factory.mktemp("image-b") / "image"
    return [(image.index_digest, image), (build(second), Layout(second))]


def commit() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()


def commit_time() -> int:
    return int(subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout)


def test_two_builds_of_one_commit_are_one_image(images):
    (digest_a, a), (digest_b, b) = images
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest_b), digest_b
    assert digest_b == b.index_digest  # what image.sh printed is the layout's
    assert digest_a == digest_b
    blobs = lambda layout: sorted(p.name for p in (layout.path / "blobs" / "sha256").iterdir())
    assert blobs(a) == blobs(b)


def test_another_time_is_another_image(tmp_path, image):
    """So that the test above could fail: SOURCE_DATE_EPOCH reaches the image."""
    other = build(tmp_path / "image", {"SOURCE_DATE_EPOCH": str(commit_time() + 1)})
    assert other != image.index_digest


def test_the_index_has_both_platforms(image):
    assert sorted(image.platforms()) == ["amd64", "arm64"]
    for arch, entry in image.platforms().items():
        assert image.config(arch)["architecture"] == arch
        assert image.config(arch)["os"] == "linux"
        assert entry["size"] == len(image.blob(entry["digest"]))


@pytest.mark.parametrize("arch", sorted(TRIPLES))
def test_each_image_is_scratch_plus_the_root_and_nothing_else(image, arch):
    [listing] = image.listing(arch)  # FROM scratch: one layer, no base
    entries = {}
    for line in listing.splitlines():
        mode, owner, _size, _date, _time, name = line.split(None, 5)
        entries[name.removeprefix("./").rstrip("/")] = (mode, owner)
    entries.pop("", None)  # the layer's "./"
    assert entries == {
        "etc": ("drwxr-xr-x", "0/0"),
        "etc/group": ("-rw-r--r--", "0/0"),
        "etc/passwd": ("-rw-r--r--", "0/0"),
        "etc/ssl": ("drwxr-xr-x", "0/0"),
        "etc/ssl/certs": ("drwxr-xr-x", "0/0"),
        "etc/ssl/certs/ca-certificates.crt": ("-rw-r--r--", "0/0"),
        "home": ("drwxr-xr-x", "0/0"),
        "home/publisher": ("drwxr-xr-x", "10001/10001"),
        "tmp": ("drwxrwxrwt", "0/0"),
        "usr": ("drwxr-xr-x", "0/0"),
        "usr/local": ("drwxr-xr-x", "0/0"),
        "usr/local/bin": ("drwxr-xr-x", "0/0"),
        "usr/local/bin/publish-artifact": ("-rwxr-xr-x", "0/0"),
    }


@pytest.mark.parametrize("arch", sorted(TRIPLES))
def test_the_image_holds_the_static_binary_and_the_ca_bundle(image, arch, tmp_path):
    root = image.unpack(arch, tmp_path / "root")
    digest = lambda path: hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest(root / "usr/local/bin/publish-artifact") == digest(static_binary(TRIPLES[arch]))
    bundle = (root / "etc/ssl/certs/ca-certificates.crt").read_text()
    assert bundle.count("BEGIN CERTIFICATE") > 50
    passwd = (root / "etc/passwd").read_text().splitlines()
    assert "publisher:x:10001:10001:publish-artifact:/home/publisher:/sbin/nologin" in passwd


@pytest.mark.parametrize("arch", sorted(TRIPLES))
def test_the_config_runs_the_tool_as_10001_and_names_the_commit(image, arch):
    config = image.config(arch)
    run = config["config"]
    assert run["User"] == "10001:10001"
    assert run["Entrypoint"] == ["/usr/local/bin/publish-artifact"]
    assert not run.get("Cmd")  # a plugin runs with no arguments: publish, or PLUGIN_COMMAND
    env = dict(item.split("=", 1) for item in run["Env"])
    assert env["HOME"] == "/home/publisher"
    assert env["PUBLISH_ARTIFACT_CACHE_DIR"].startswith("/home/publisher/")
    labels = run["Labels"]
    version = re.search(r'^version = "(.*)"$', (ROOT / "Cargo.toml").read_text(), re.M)[1]
    created = datetime.datetime.fromtimestamp(commit_time(), datetime.timezone.utc)
    assert labels["org.opencontainers.image.revision"] == commit()
    assert labels["org.opencontainers.image.version"] == version
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert labels["org.opencontainers.image.source"]
    assert labels["org.opencontainers.image.created"] == created.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert config["created"].startswith(created.strftime("%Y-%m-%dT%H:%M:%S"))
