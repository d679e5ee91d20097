"""The tool image in a real registry (Debian's docker-registry on loopback,
tests/registry.py): the index goes up whole with `skopeo copy --all`, the
registry serves exactly the bytes that were built (`skopeo inspect --raw`:
both platforms), and it comes back by digest unchanged, every blob."""

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from registry import Registry
from tool_image import Layout, the_image

REPOSITORY = "tools/publish-artifact"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    server = Registry.start(tmp_path_factory.mktemp("registry"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def image():
    return the_image()


def skopeo(*args, policy: Path = None, registries_d: Path = None) -> subprocess.CompletedProcess:
    options = ["--policy", str(policy)] if policy else ["--insecure-policy"]
    if registries_d:
        options += ["--registries.d", str(registries_d)]
    return subprocess.run(["skopeo", *options, *args], capture_output=True, timeout=600,
                          stdin=subprocess.DEVNULL)


def ok(run: subprocess.CompletedProcess) -> bytes:
    assert run.returncode == 0, run.stderr.decode()
    return run.stdout


def tag_of(image: Layout) -> str:
    return json.loads((image.path / "index.json").read_text())["manifests"][0]["annotations"][
        "org.opencontainers.image.ref.name"]


def push(image: Layout, destination: str, *options: str) -> None:
    ok(skopeo("copy", "--all", "--quiet", "--dest-tls-verify=false", *options,
              f"oci:{image.path}:{tag_of(image)}", f"docker://{destination}"))


@pytest.fixture(scope="module")
def pushed(registry, image):
    reference = f"{registry.host}/{REPOSITORY}:{tag_of(image)}"
    push(image, reference)
    return reference


def test_the_registry_serves_the_index_as_it_was_built(pushed, image):
    raw = ok(skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{pushed}"))
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == image.index_digest
    index = json.loads(raw)
    assert sorted((m["platform"]["os"], m["platform"]["architecture"])
                  for m in index["manifests"]) == [("linux", "amd64"), ("linux", "arm64")]


def test_the_index_comes_back_by_digest_unchanged(registry, pushed, image, tmp_path):
    by_digest = f"{registry.host}/{REPOSITORY}@{image.index_digest}"
    ok(skopeo("copy", "--all", "--quiet", "--src-tls-verify=false", f"docker://{by_digest}",
              f"oci:{tmp_path / 'back'}:pulled"))
    back = Layout(tmp_path / "back")
    assert back.index_digest == image.index_digest
    for arch in ("amd64", "arm64"):
        assert back.platforms()[arch]["digest"] == image.platforms()[arch]["digest"]
        assert back.manifest(arch) == image.manifest(arch)
        for layer in back.manifest(arch)["layers"]:
            assert back.blob(layer["digest"]) == image.blob(layer["digest"])
