"""The Python package, installed from the wheel `just wheel` built into a
fresh venv, run against Garage and the test admin API.

Every call runs in the venv's own interpreter (a small driver below), so the
package is tested as pip installed it: its binary found where pip put it,
its errors raised from the real tool's exit codes.
"""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, TOKEN, assert_no_secret, mixed_data, openssl_open, sha256_hex

# Runs one call of the package and prints its outcome as JSON.
DRIVER = r"""
import dataclasses, json, sys
import publish_artifact as pa

request = json.load(sys.stdin)
try:
    if request["call"] == "receipt_from_json":
        result = pa.Receipt.from_json(request["kwargs"]["data"])
    elif request["call"] == "find_binary":
        result = pa.find_binary()
    else:
        result = getattr(pa, request["call"])(*request.get("args", []), **request["kwargs"])
except pa.PublishArtifactError as err:
    print(json.dumps({"error": type(err).__name__, "message": err.message,
                      "exit_code": err.exit_code, "retryable": err.retryable,
                      "is_base": isinstance(err, pa.PublishArtifactError),
                      "signal": getattr(err, "signal", None),
                      "handled": getattr(err, "handled", None)}))
else:
    if dataclasses.is_dataclass(result):
        out = dataclasses.asdict(result)
        out["frozen"] = type(result).__dataclass_params__.frozen
        result = out
    print(json.dumps({"result": result}, default=str))
"""


def target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


@pytest.fixture(scope="session")
def wheel() -> Path:
    """The native wheel `just wheel` left in $CARGO_TARGET_DIR/wheels."""
    wheels = sorted((target_dir() / "wheels").glob("publish_artifact-*.whl"),
                    key=lambda p: p.stat().st_mtime)
    if not wheels:
        pytest.exit("no wheel in $CARGO_TARGET_DIR/wheels: run `just wheel` first", 2)
    return wheels[-1]


def make_venv(where: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, timeout=300)
    return where / "bin" / "python"


def pip_install(python: Path, wheel: Path, *options: str) -> None:
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
                    "--disable-pip-version-check", *options, str(wheel)], check=True, timeout=300)


@pytest.fixture(scope="session")
def venv(tmp_path_factory, wheel) -> Path:
    """A fresh venv with the wheel installed; returns its python."""
    python = make_venv(tmp_path_factory.mktemp("venv") / "env")
    pip_install(python, wheel)
    return python


def call(python: Path, env: dict, name: str, *args, cwd=None, **kwargs) -> dict:
    """Runs `publish_artifact.<name>(*args, **kwargs)` in `python`."""
    request = json.dumps({"call": name, "args": [str(a) for a in args],
                          "kwargs": {k: str(v) if isinstance(v, Path) else v
                                     for k, v in kwargs.items()}})
    done = subprocess.run([str(python), "-c", DRIVER], input=request, env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def result(python: Path, env: dict, name: str, *args, **kwargs):
    """What the call returned; fails with the error it raised instead."""
    outcome = call(python, env, name, *args, **kwargs)
    assert "result" in outcome, outcome
    return outcome["result"]


def no_path_to_the_build(env: dict) -> dict:
    """PATH without the build's directories, so only the installed binary can be found."""
    target = str(target_dir())
    kept = [d for d in env.get("PATH", "").split(os.pathsep) if d and not d.startswith(target)]
    return {**env, "PATH": os.pathsep.join(kept)}


@pytest.fixture
def api_env(cli, publish_env):
    """The driver's environment: the contract's variables, no override."""
    return no_path_to_the_build(cli.env(publish_env))


def names(**flags) -> dict:
    return {"resource_name": "detector", "dev_stage": "main", "architecture": "arm64",
            "version": "2026-04-15", **flags}


# --- the wheel ----------------------------------------------------------------

def test_the_wheel_holds_the_binary_and_a_typed_package(wheel):
    with zipfile.ZipFile(wheel) as archive:
        files = archive.namelist()
        metadata = archive.read(next(f for f in files if f.endswith(".dist-info/METADATA")))
    assert any(f.endswith(".data/scripts/publish-artifact") for f in files), files
    assert "publish_artifact/py.typed" in files
    assert "publish_artifact/__init__.py" in files
    assert b"Requires-Python: >=3.9" in metadata


def test_the_wheel_reuses_the_release_build(wheel, cli):
    """`just wheel` packs the very binary the rest of the suite tests."""
    with zipfile.ZipFile(wheel) as archive:
        packed = next(f for f in archive.namelist() if f.endswith("/scripts/publish-artifact"))
        assert sha256_hex(archive.read(packed)) == sha256_hex(cli.binary.read_bytes())


def test_the_installed_binary_is_found_in_the_venv(venv, api_env):
    found = result(venv, api_env, "find_binary")
    assert Path(found) == venv.parent / "publish-artifact"


def test_python_m_runs_the_cli(venv, api_env):
    version = subprocess.run([str(venv), "-m", "publish_artifact", "-V"], env=api_env,
                             capture_output=True, text=True, timeout=60)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("publish-artifact ") and "sha256 " in version.stdout
    wrong = subprocess.run([str(venv), "-m", "publish_artifact", "--no-such-flag"], env=api_env,
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2 and "--no-such-flag" in wrong.stderr


@pytest.mark.parametrize("layout", ["--target", "--prefix"])
def test_the_binary_is_found_after_target_and_prefix_installs(tmp_path, wheel, layout):
    """Like uv: pip puts the binary in T/bin (or P/bin), beside no scripts
    directory the interpreter knows."""
    place = tmp_path / "installed"
    pip_install(Path(sys.executable), wheel, layout, str(place))
    package_dir = next(place.glob("**/publish_artifact")).parent
    installed = list(place.glob("**/bin/publish-artifact"))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(package_dir), "HOME": str(tmp_path)}
    found = result(Path(sys.executable), env, "find_binary")
    assert [Path(found)] == installed


# --- publishing ---------------------------------------------------------------

def test_publish_returns_a_receipt_matching_the_stored_object(venv, api_env, tmp_path, garage,
                                                              admin_api):
    model = tmp_path / "detector.trt"
    data = mixed_data(1_500_000, seed=17)
    model.write_bytes(data)
    receipt = result(venv, api_env, "publish", model, **names(level=1))
    assert receipt["frozen"]
    assert receipt["object_key"] == "main/detector-arm64-2026-04-15.enc"
    stored = garage.get(receipt["object_key"])  # boto3, from the bucket itself
    assert receipt["sha256"] == sha256_hex(stored)
    assert receipt["size_bytes"] == len(stored)
    assert receipt["level"] == 1 and receipt["plaintext_sha256"] == sha256_hex(data)
    assert receipt["upload"]["method"] in ("single", "multipart")
    row = admin_api.requests[-1].json()
    assert row["sha256"] == receipt["sha256"] and row["cdn_url"] == receipt["cdn_url"]
    assert openssl_open(stored, row["encryption_key"]) == data
    assert_no_secret(json.dumps(receipt), row["encryption_key"], TOKEN)


def as_printed(result: dict) -> dict:
    """A result back in the tool's JSON form: without the package's own fields."""
    return {key: as_printed(value) if isinstance(value, dict) else value
            for key, value in result.items() if key not in ("extra", "frozen")}


def test_a_receipt_keeps_fields_added_later(venv, api_env, tmp_path, garage, admin_api):
    model = tmp_path / "m.trt"
    model.write_bytes(b"weights")
    receipt = result(venv, api_env, "publish", model, **names())
    printed = as_printed(receipt)
    printed["signature"] = {"algorithm": "ed25519"}
    printed["upload"]["checksum"] = "crc32"
    again = result(venv, api_env, "receipt_from_json", data=printed)
    assert again["extra"] == {"signature": {"algorithm": "ed25519"}}
    assert again["upload"]["extra"] == {"checksum": "crc32"}
    assert again["sha256"] == receipt["sha256"]


@pytest.mark.parametrize("case, exception, exit_code, retryable", [
    ("unsafe name", "UsageError", 2, False),
    ("missing file", "InputError", 3, False),
    ("missing bucket", "StorageError", 4, True),
    ("token refused", "RegistrationError", 5, True),
])
def test_each_exit_class_raises_its_exception(venv, api_env, tmp_path, garage, admin_api,
                                              case, exception, exit_code, retryable):
    model = tmp_path / "m.trt"
    model.write_bytes(b"weights")
    env, flags = dict(api_env), names()
    if case == "unsafe name":
        flags["resource_name"] = "../detector"
    elif case == "missing file":
        model = tmp_path / "missing.trt"
    elif case == "missing bucket":
        env["S3_BUCKET"] = "no-such-bucket"
    else:
        admin_api.reset("401")
    outcome = call(venv, env, "publish", model, **flags)
    assert outcome.get("error") == exception, outcome
    assert outcome["is_base"]
    assert (outcome["exit_code"], outcome["retryable"]) == (exit_code, retryable)
    # The tool's one line, without its `error:` prefix.
    assert outcome["message"] and "\n" not in outcome["message"]
    assert not outcome["message"].startswith("error:")
    assert garage.keys() == []


def test_a_file_named_like_a_flag_is_a_file(venv, api_env, tmp_path, garage, admin_api):
    (tmp_path / "-V").write_bytes(b"weights")
    receipt = result(venv, api_env, "publish", "-V", cwd=tmp_path, **names(version="dash"))
    assert receipt["plaintext_sha256"] == sha256_hex(b"weights")


# --- secrets and the child's environment --------------------------------------

@pytest.fixture
def recorder(tmp_path, cli):
    """A stand-in binary (via PUBLISH_ARTIFACT_BINARY) that records its argv
    and environment, then runs the real tool."""
    log = tmp_path / "recorded"
    script = tmp_path / "record-and-run"
    script.write_text(
        "#!/bin/sh\n"
        f"printf '%s\\n' \"$0\" \"$@\" > '{log}.argv'\n"
        f"env > '{log}.env'\n"
        f"exec '{cli.binary}' \"$@\"\n"
    )
    script.chmod(0o755)
    return script, log


def test_no_secret_reaches_argv_and_plugin_variables_stay_behind(venv, api_env, tmp_path, garage,
                                                                 admin_api, recorder):
    script, log = recorder
    env = {**api_env, "PUBLISH_ARTIFACT_BINARY": str(script),
           "CDN_PUBLIC_BASE_URL": garage.cdn_base,  # Garage's web endpoint plays the CDN
           "PLUGIN_S3_BUCKET": "from-a-plugin-step", "PLUGIN_VERSION": "9"}
    model = tmp_path / "m.trt"
    data = mixed_data(200_000, seed=3)
    model.write_bytes(data)
    receipt = result(venv, env, "publish", model, **names())
    argv = Path(f"{log}.argv").read_text()
    child_env = Path(f"{log}.env").read_text()
    assert "--resource-name" in argv  # the recorder saw the real call
    assert_no_secret(argv, api_env["S3_SECRET_KEY"], api_env["S3_ACCESS_KEY"], TOKEN)
    assert api_env["S3_SECRET_KEY"] in child_env  # secrets go by environment
    assert "PLUGIN_" not in child_env
    assert receipt["object_key"].endswith("-2026-04-15.enc")

    # fetch with the registered key: the key goes by environment too.
    key = admin_api.requests[-1].json()["encryption_key"]
    out = tmp_path / "fetched.trt"
    opened = result(venv, env, "fetch", url=receipt["cdn_url"], sha256=receipt["sha256"],
                  key=key, out=out)
    assert out.read_bytes() == data and opened["plaintext"] == str(out)
    assert_no_secret(Path(f"{log}.argv").read_text(), key)
    assert f"PUBLISH_ARTIFACT_KEY={key}" in Path(f"{log}.env").read_text()


def test_seal_then_verify_locally(venv, api_env, tmp_path):
    model = tmp_path / "m.trt"
    data = mixed_data(300_000, seed=5)
    model.write_bytes(data)
    sealed = result(venv, api_env, "seal", model, out=tmp_path / "m.enc",
                  key_out=tmp_path / "m.key")
    obj = (tmp_path / "m.enc").read_bytes()
    assert sealed["sha256"] == sha256_hex(obj) and sealed["size_bytes"] == len(obj)
    key = (tmp_path / "m.key").read_text().strip()
    assert openssl_open(obj, key) == data
    checked = result(venv, api_env, "verify", tmp_path / "m.enc", sha256=sealed["sha256"],
                   key_file=tmp_path / "m.key", against=model)
    assert checked["plaintext_sha256"] == sha256_hex(data)
    wrong = call(venv, api_env, "verify", tmp_path / "m.enc", sha256="0" * 64,
                 key=key)
    assert (wrong.get("error"), wrong.get("exit_code")) == ("IntegrityError", 6), wrong


# --- how a run can end --------------------------------------------------------

@pytest.mark.parametrize("script, expected", [
    ("kill -KILL $$", {"error": "SignalError", "signal": 9, "handled": False, "exit_code": -9}),
    ("echo 'error: interrupted, upload aborted' >&2; exit 130",
     {"error": "SignalError", "signal": 2, "handled": True, "exit_code": 130}),
    ("echo 'error: a newer class' >&2; exit 42",
     {"error": "PublishArtifactError", "message": "a newer class", "exit_code": 42}),
    ("echo 'not json'", {"error": "PublishArtifactError", "exit_code": 0}),
])
def test_signals_and_unknown_outcomes(venv, api_env, tmp_path, script, expected):
    fake = tmp_path / "fake"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    model = tmp_path / "m.trt"
    model.write_bytes(b"x")
    env = {**api_env, "PUBLISH_ARTIFACT_BINARY": str(fake)}
    outcome = call(venv, env, "publish", model, **names())
    assert {k: outcome.get(k) for k in expected} == expected, outcome
    assert outcome["retryable"] is False


def test_a_missing_override_is_named(venv, api_env, tmp_path):
    env = {**api_env, "PUBLISH_ARTIFACT_BINARY": str(tmp_path / "nowhere")}
    done = subprocess.run([str(venv), "-c", "import publish_artifact as p; p.find_binary()"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "BinaryNotFoundError" in done.stderr and "PUBLISH_ARTIFACT_BINARY" in done.stderr


def test_the_package_and_the_guide_example_type_check(tmp_path):
    """`py.typed` promises types: the package and the example pass mypy --strict."""
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"),
         str(ROOT / "python" / "publish_artifact"), str(ROOT / "docs" / "examples" / "publish_model.py")],
        env={**os.environ, "MYPYPATH": str(ROOT / "python")},
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
