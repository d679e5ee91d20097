"""The training guide's Python example, run against the test servers with
the package from python/ and the release binary (PUBLISH_ARTIFACT_BINARY);
tests/test_python_api.py covers the package as the wheel installs it."""

import json
import subprocess
import sys

from conftest import ROOT, mixed_data, openssl_open

EXAMPLE = ROOT / "docs" / "examples" / "publish_model.py"
GUIDE = ROOT / "docs" / "training-integration.md"

# Calls the example's publish_model with the JSON arguments on stdin.
DRIVER = r"""
import json, sys
import publish_artifact
from publish_model import publish_model

args = json.load(sys.stdin)
try:
    receipt = publish_model(*args["positional"], **args["keywords"])
except publish_artifact.PublishArtifactError as err:
    print(json.dumps({"error": type(err).__name__, "kind": err.kind, "retryable": err.retryable}))
else:
    print(json.dumps({"object_key": receipt.object_key, "sha256": receipt.sha256}))
"""


def example_env(cli, publish_env):
    return {**cli.env(publish_env),
            "PYTHONPATH": f"{ROOT / 'python'}:{EXAMPLE.parent}",
            "PUBLISH_ARTIFACT_BINARY": str(cli.binary)}


def run_example(env, *positional, **keywords) -> dict:
    done = subprocess.run([sys.executable, "-c", DRIVER], env=env, capture_output=True,
                          text=True, timeout=600,
                          input=json.dumps({"positional": [str(a) for a in positional],
                                            "keywords": keywords}))
    assert done.returncode == 0, done.stderr
    return {**json.loads(done.stdout), "stderr": done.stderr}


def test_the_guide_starts_with_pip_install_and_shows_the_api():
    guide = GUIDE.read_text()
    first_block = guide.split("```", 2)[1]
    assert "pip install publish-artifact" in first_block
    for name in ("publish(", "Receipt", "RegistrationError", "retryable", "SignalError"):
        assert name in guide, name


def test_the_guide_example_publishes_a_model(cli, tmp_path, garage, admin_api, publish_env):
    model = tmp_path / "detector.trt"
    data = mixed_data(1_500_000, seed=9)
    model.write_bytes(data)
    receipt = run_example(example_env(cli, publish_env), model, "detector", "arm64", "2026-04-15")
    assert receipt["object_key"] == "main/detector-arm64-2026-04-15.enc"
    row = admin_api.requests[-1].json()
    assert row["sha256"] == receipt["sha256"]
    assert openssl_open(garage.get(receipt["object_key"]), row["encryption_key"]) == data


def test_the_guide_example_retries_what_can_pass_and_only_that(cli, tmp_path, garage, admin_api,
                                                               publish_env):
    model = tmp_path / "detector.trt"
    model.write_bytes(b"weights")
    env = example_env(cli, publish_env)
    admin_api.reset("401")
    refused = run_example(env, model, "detector", "arm64", "1", attempts=2, backoff_seconds=0)
    assert (refused["error"], refused["retryable"]) == ("RegistrationError", True)
    assert refused["stderr"].count("retrying") == 1
    assert garage.keys() == []
    missing = run_example(env, tmp_path / "missing.trt", "detector", "arm64", "1",
                          attempts=3, backoff_seconds=0)
    assert (missing["error"], missing["kind"]) == ("InputError", "input")
    assert "retrying" not in missing["stderr"]


def test_the_example_runs_as_a_script(cli, tmp_path, garage, admin_api, publish_env):
    model = tmp_path / "detector.trt"
    model.write_bytes(b"weights")
    env = example_env(cli, publish_env)
    done = subprocess.run([sys.executable, str(EXAMPLE), str(model), "detector", "arm64", "7"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("published main/detector-arm64-7.enc")
    unsafe = subprocess.run([sys.executable, str(EXAMPLE), str(model), "../x", "arm64", "7"],
                            env=env, capture_output=True, text=True, timeout=600)
    assert unsafe.returncode == 2 and "not published (usage)" in unsafe.stderr
