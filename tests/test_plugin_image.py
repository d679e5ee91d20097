"""The tool image run as Woodpecker runs a plugin step: the image's own root
filesystem (unpacked from the OCI layout `just image` built), its config's
entrypoint with no arguments, as its config's user (10001), with its
config's environment, the workspace as the working directory (the clone,
owned by root as Woodpecker's clone step leaves it), and the step's
`settings:` as PLUGIN_* variables (tests/woodpecker.py), against Garage and
the admin API on loopback. The network is the host's, as a Woodpecker
agent's is for a step: the root is all that differs."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, TOKEN, openssl_open, published
from test_promote import DEPLOY_CI, dev, envs, key_of, keys  # noqa: F401 (fixtures)
from tool_image import the_image
from woodpecker import plugin_env

WORKSPACE = "/woodpecker/src/git.example.com/acme/loader"
PUSH_CI = {"CI_COMMIT_BRANCH": "dev", "CI_PIPELINE_NUMBER": "7",
           "CI_COMMIT_SHA": "0123456789abcdef0123456789abcdef01234567",
           "CI_WORKSPACE": WORKSPACE, "CI_PIPELINE_EVENT": "push"}
KEY = "dev/loader-arm64-7-0123456789ab.enc"


@pytest.fixture(scope="session")
def image():
    return the_image()


def unpacked(image, arch: str, where: Path) -> Path:
    """The image's root with the workspace a clone step would leave in it."""
    root = image.unpack(arch, where / f"root-{arch}")
    workspace = root / WORKSPACE.lstrip("/")
    workspace.mkdir(parents=True)
    return root


def run_as_plugin(image, arch: str, root: Path, step_env: dict,
                  *args: str) -> subprocess.CompletedProcess:
    """What the agent does with a plugin step: the config's entrypoint (and
    no command, unless `args` are given), as the config's user, in the
    workspace, with the config's Env overlaid by the step's variables. arm64
    runs through qemu, as a binfmt_misc handler with the F flag would."""
    config = image.config(arch)["config"]
    uid, gid = (int(n) for n in config["User"].split(":"))
    argv = [*config["Entrypoint"], *(args or config.get("Cmd") or [])]
    if arch == "arm64":
        shutil.copy2(shutil.which("qemu-aarch64-static"), root / "qemu")
        argv = ["/qemu", *argv]
    env = {**dict(item.split("=", 1) for item in config["Env"]), **step_env}

    def enter():
        os.chroot(root)
        os.chdir(WORKSPACE)
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)

    return subprocess.run(argv, env=env, preexec_fn=enter, capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL)


def readme_step() -> dict:
    """The README's plugin step, with the one setting Garage needs beyond
    it: its region (`garage`; the tool's default is AWS's us-east-1)."""
    readme = (ROOT / "README.md").read_text()
    [step] = yaml.safe_load(readme.split("```yaml\n", 1)[1].split("```", 1)[0])
    step["settings"]["s3_region"] = {"from_secret": "s3_region"}
    return step


def secrets_for(env: dict) -> dict:
    return {name.lower(): value for name, value in env.items()}


@pytest.fixture
def amd64_root(image, tmp_path):
    return unpacked(image, "amd64", tmp_path)


def put_input(root: Path, data: bytes) -> None:
    source = root / WORKSPACE.lstrip("/") / "image.tar"
    source.write_bytes(data)
    source.chmod(0o644)


def test_the_readme_plugin_step_publishes_from_the_image(image, amd64_root, garage, admin_api,
                                                         publish_env, tmp_path):
    data = os.urandom(1 << 20) + b"a saved image " * 100_000
    put_input(amd64_root, data)
    step = readme_step()
    assert step["image"].startswith("registry.example.com/tools/publish-artifact")
    secrets = secrets_for({**publish_env, "CDN_PUBLIC_BASE_URL": garage.cdn_base})
    run = run_as_plugin(image, "amd64", amd64_root,
                        {**PUSH_CI, **plugin_env(step["settings"], PUSH_CI, secrets)})
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["object_key"] == KEY
    assert garage.keys() == published(KEY)
    [request] = admin_api.stored
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    row = request.json()
    assert {k: row[k] for k in ("resource_name", "dev_stage", "architecture", "version")} == {
        "resource_name": "loader", "dev_stage": "dev", "architecture": "arm64",
        "version": "7-0123456789ab"}
    assert row["cdn_url"] == f"{garage.cdn_base}/{KEY}"
    assert openssl_open(garage.get(KEY), row["encryption_key"]) == data
    # uid 10001 wrote its guest cache in its home, as the image's config says.
    cache = amd64_root / "home/publisher/.cache/publish-artifact"
    assert any(p.is_file() for p in cache.rglob("*")), "no guest cache in the home"
    assert {p.stat().st_uid for p in cache.rglob("*")} == {10001}


def test_a_missing_setting_fails_with_its_sentence(cli, image, amd64_root, garage, admin_api,
                                                   publish_env):
    put_input(amd64_root, b"image")
    settings = dict(readme_step()["settings"])
    secrets = secrets_for({**publish_env, "CDN_PUBLIC_BASE_URL": garage.cdn_base})
    # A flag's setting: clap's sentence, exit 2, as the same binary says it
    # outside the image.
    del settings["resource_name"]
    step_env = {**PUSH_CI, **plugin_env(settings, PUSH_CI, secrets)}
    run = run_as_plugin(image, "amd64", amd64_root, step_env)
    assert run.returncode == 2, run.stderr
    assert "--resource-name" in run.stderr
    outside = cli(env=step_env, cwd=amd64_root / WORKSPACE.lstrip("/"))
    assert outside.returncode == 2 and outside.stderr == run.stderr
    # A secret that was not given: the variable is named.
    settings = dict(readme_step()["settings"])
    del settings["admin_api_token"]
    run = run_as_plugin(image, "amd64", amd64_root,
                        {**PUSH_CI, **plugin_env(settings, PUSH_CI, secrets)})
    assert run.returncode == 2, run.stderr
    assert "missing required environment variable: ADMIN_API_TOKEN" in run.stderr
    assert garage.keys() == [] and admin_api.requests == []


def test_the_promote_step_promotes_from_the_image(image, amd64_root, garage, admin_api, publish_env,
                                                  keys, dev):
    """.woodpecker/promote.yml (`command: promote`, skip_clone) run in the
    image, after test_promote's `dev` fixture published with both keys."""
    [step] = yaml.safe_load((ROOT / ".woodpecker" / "promote.yml").read_text())["steps"]
    assert step["settings"]["command"] == "promote"
    secrets = secrets_for({
        **publish_env, "CDN_PUBLIC_BASE_URL": garage.cdn_base,
        "ATTESTATION_PUBLIC_KEY": keys.attestation.public_pem,
        "PROMOTION_SIGNING_KEY": keys.vsa.private_pem,
        "PROMOTION_PRIVATE_KEY": keys.promotion.private_pem})
    variables = {**DEPLOY_CI, "CI_PIPELINE_DEPLOY_TARGET": "stage", "CI_WORKSPACE": WORKSPACE}
    run = run_as_plugin(image, "amd64", amd64_root,
                        {**variables, **plugin_env(step["settings"], variables, secrets)})
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["object_key"] == key_of("stage")
    assert garage.get(key_of("stage")) == garage.get(key_of("dev"))
    assert [r.json()["dev_stage"] for r in admin_api.stored] == ["dev", "stage"]


def test_the_arm64_image_passes_its_selftest_under_qemu(image, tmp_path):
    root = unpacked(image, "arm64", tmp_path)
    run = run_as_plugin(image, "arm64", root, {"PLUGIN_COMMAND": "selftest"})
    assert run.returncode == 0, run.stderr
    assert "checks passed" in run.stdout and ", aarch64)" in run.stdout, run.stdout


def test_uid_10001_can_write_its_home_and_tmp_and_nothing_else(image, amd64_root):
    """The image's owners and modes, checked by the kernel: `seal` (run as a
    `commands:` step would run it) writes its --out and --key-out as 10001."""
    put_input(amd64_root, b"some bytes to seal" * 1000)
    for where, allowed in (("/home/publisher", True), ("/tmp", True), ("/etc", False),
                           (WORKSPACE, False), ("", False)):
        run = run_as_plugin(image, "amd64", amd64_root, {}, "seal", "--file", "image.tar",
                            "--out", f"{where}/sealed.enc", "--key-out", f"{where}/sealed.key")
        assert (run.returncode == 0) == allowed, (where, run.stderr)
        assert (amd64_root / where.lstrip("/") / "sealed.enc").exists() == allowed
