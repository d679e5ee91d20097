"""build-arm.yml's save-image step, run here as Woodpecker would run it, with
a stand-in registry: a `skopeo` on PATH that answers `inspect` from a real
image's manifest and serves `copy` by digest from its OCI layout with the
real skopeo. The tarball and manifest it leaves must pass `image verify`;
a registry that reports another digest than its manifest's must stop the
step."""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest
import yaml

from conftest import ROOT
from oci_image import make_image
from woodpecker import substitute

PIPELINE = ROOT / ".woodpecker" / "build-arm.yml"
CI = {"CI_PIPELINE_NUMBER": "7", "CI_COMMIT_SHA": "0123456789abcdef0123456789abcdef01234567",
      "CI_COMMIT_BRANCH": "dev"}


def steps() -> dict:
    return {step["name"]: step for step in yaml.safe_load(PIPELINE.read_text())["steps"]}


FAKE_SKOPEO = textwrap.dedent("""\
    #!{python}
    # A registry stand-in: the image at FAKE_LAYOUT, which reports FAKE_DIGEST.
    import os, subprocess, sys
    args = [a for a in sys.argv[1:]]
    layout, digest = os.environ["FAKE_LAYOUT"], os.environ["FAKE_DIGEST"]
    if args[0] == "inspect" and "--raw" in args:
        sys.stdout.buffer.write(open(os.environ["FAKE_MANIFEST"], "rb").read())
    elif args[0] == "inspect":
        print(digest)
    elif args[0] == "copy":
        source, destination = args[-2], args[-1]
        assert source.endswith("@" + digest), "copies only the digest it reported"
        sys.exit(subprocess.run([{skopeo!r}, "--insecure-policy", "copy", "--quiet",
                                 "oci:" + layout, destination]).returncode)
    else:
        sys.exit("unexpected skopeo call: " + " ".join(args))
    """)


@pytest.fixture
def registry(tmp_path):
    real = shutil.which("skopeo")
    assert real, "skopeo is missing: scripts/setup.sh installs it"
    image = make_image(tmp_path / "image", architecture="arm64", tag="7-0123456789ab")
    manifest = tmp_path / "served-manifest.json"
    manifest.write_bytes(image.manifest)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "skopeo"
    fake.write_text(FAKE_SKOPEO.format(python=sys.executable, skopeo=real))
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "FAKE_LAYOUT": str(image.layout), "FAKE_MANIFEST": str(manifest),
           "FAKE_DIGEST": image.digest, "REGISTRY_USERNAME": "u", "REGISTRY_PASSWORD": "p"}
    return image, env


def run_step(name: str, env: dict, cwd) -> subprocess.CompletedProcess:
    script = "\n".join(substitute(command, CI) for command in steps()[name]["commands"])
    return subprocess.run(["sh", "-ec", script], env=env, cwd=cwd, capture_output=True, text=True)


def test_the_push_is_one_manifest_under_a_unique_tag():
    settings = steps()["build-and-push"]["settings"]
    assert settings["provenance"] is False
    assert settings["tags"] == ["${CI_PIPELINE_NUMBER}-${CI_COMMIT_SHA:0:12}"]
    publish = " ".join(steps()["publish"]["commands"])
    assert "--image-ref" in publish and "--image-manifest image-manifest.json" in publish
    assert steps()["publish"]["environment"]["ATTESTATION_SIGNING_KEY"] == {
        "from_secret": "attestation_signing_key"}


def test_save_image_hands_over_exactly_the_pushed_image(cli, registry, tmp_path):
    image, env = registry
    work = tmp_path / "workspace"
    work.mkdir()
    run = run_step("save-image", env, work)
    assert run.returncode == 0, run.stderr
    image_ref = (work / "image-ref").read_text().strip()
    assert image_ref == image.ref("7-0123456789ab")
    verified = cli("image", "verify", "--archive", work / "image.tar", "--image-ref", image_ref,
                   "--image-manifest", work / "image-manifest.json", "--architecture", "arm64")
    assert verified.returncode == 0, verified.stderr


def test_save_image_stops_when_the_manifest_is_not_the_digest(registry, tmp_path):
    image, env = registry
    env["FAKE_DIGEST"] = "sha256:" + "0" * 64
    work = tmp_path / "workspace"
    work.mkdir()
    run = run_step("save-image", env, work)
    assert run.returncode != 0
    assert not (work / "image.tar").exists() and not (work / "image-ref").exists()
