"""The Python package's dataclasses know every field the tool prints.

`extra` is for fields of a newer tool; a field today's tool prints that
lands there is a field the package forgot to type. So every command with
JSON output is run here through the real binary, against Garage and the
test admin API, in the variants that print the most (a signed publish bound
to an image with a promotion key, a --replace, promotions to stage and main,
attest verify of a published and a promoted object, ...), and each JSON
object is read with the package's own `from_json`: nothing, at any depth,
may end up in an `extra`.
"""

import dataclasses
import json
import sys
from pathlib import Path

import pytest

from conftest import ROOT, publish_args
from test_promote import COMMIT, VERSION, envs, key_of, keys  # noqa: F401 (fixtures)
from test_provenance_publish import image  # noqa: F401 (a fixture)

sys.path.insert(0, str(ROOT / "python"))
import publish_artifact as pa  # noqa: E402  (the package of this tree, not an installed one)


def untyped(value, path="") -> list:
    """Every key, at any depth, that was read into an `extra`."""
    if not dataclasses.is_dataclass(value):
        return []
    found = [f"{path}{name}" for name in value.extra]
    for field in dataclasses.fields(value):
        if field.name != "extra":
            found += untyped(getattr(value, field.name), f"{path}{field.name}.")
    return found


def printed(run) -> dict:
    assert run.returncode == 0, run.output
    return json.loads(run.stdout)


@pytest.fixture
def outputs(cli, tmp_path, garage, admin_api, envs, keys, image):  # noqa: F811
    """Each command's JSON, with the dataclass it is read into."""
    made = []
    bound = ["--image-ref", image.ref(VERSION), "--image-manifest", image.manifest_file]
    publish = [*publish_args(image.archive, version=VERSION), *bound, "--json"]
    made.append((pa.Receipt, printed(cli(*publish, env=envs.publish))))
    made.append((pa.Receipt, printed(cli(*publish, "--replace", env=envs.publish))))
    promote = ["promote", "--resource-name", "loader", "--architecture", "arm64",
               "--version", VERSION, "--json"]
    made.append((pa.Promoted, printed(cli(*promote, "--to", "stage", "--commit", COMMIT,
                                          "--dry-run", env=envs.promote))))
    made.append((pa.Promoted, printed(cli(*promote, "--to", "stage", "--commit", COMMIT,
                                          env=envs.promote))))
    made.append((pa.Promoted, printed(cli(*promote, "--to", "main", env=envs.promote))))
    for stage in ("dev", "main"):
        made.append((pa.Attested, printed(cli(
            "attest", "verify", "--object-key", key_of(stage), "--public-key",
            keys.attestation.public, "--commit", COMMIT, env=garage.s3_env()))))
    made.append((pa.ImageVerified, printed(cli(
        "image", "verify", "--archive", image.archive, "--image-ref", image.ref(VERSION),
        "--image-manifest", image.manifest_file))))
    [row] = [r.json() for r in admin_api.stored if r.json()["dev_stage"] == "dev"][-1:]
    key = {"PUBLISH_ARTIFACT_KEY": row["encryption_key"]}
    made.append((pa.Opened, printed(cli(
        "fetch", "--object-key", key_of("dev"), "--sha256", row["sha256"],
        "--out", tmp_path / "fetched.tar", env={**garage.s3_env(), **key}))))

    (tmp_path / "model.trt").write_bytes(b"weights" * 1000)
    sealed = printed(cli("seal", "--file", tmp_path / "model.trt", "--out", tmp_path / "model.enc",
                         "--key-out", tmp_path / "model.key", "--sbom", "on"))
    made.append((pa.Sealed, sealed))
    local = ["--file", tmp_path / "model.enc", "--sha256", sealed["sha256"],
             "--key-file", tmp_path / "model.key"]
    made.append((pa.Opened, printed(cli("open", *local, "--out", tmp_path / "opened.trt"))))
    made.append((pa.Opened, printed(cli("verify", *local, "--against", tmp_path / "model.trt"))))
    return made


def test_every_field_the_tool_prints_is_typed(outputs):
    problems = []
    for cls, data in outputs:
        read = cls.from_json(data)
        problems += [f"{cls.__name__}.{key}" for key in untyped(read)]
    assert problems == [], f"fields the dataclasses do not know: {sorted(set(problems))}"


def test_the_runs_print_what_the_types_are_for(outputs):
    """The variants above print the optional parts too, so they are checked."""
    by_class = {}
    for cls, data in outputs:
        by_class.setdefault(cls, []).append(cls.from_json(data))
    first, replaced = by_class[pa.Receipt]
    assert first.provenance.signed and first.provenance.keyid and first.provenance.image
    assert first.upload.resent == 0 and not first.replaced and replaced.replaced
    assert any(key.endswith(".keywrap") for key in first.provenance.sidecars)
    assert first.sbom.subject == "image" and first.sbom.formats == ["CycloneDX", "SPDX"]
    [sealed] = by_class[pa.Sealed]
    assert [Path(path).name for path in sealed.sboms] == ["model.enc.cdx.json", "model.enc.spdx.json"]
    dry, stage, main = by_class[pa.Promoted]
    assert dry.dry_run and not stage.dry_run and main.from_vsa and stage.vsa
    assert stage.statement.published_as == key_of("dev")
    published, promoted = by_class[pa.Attested]
    assert published.promoted is None and promoted.promoted.published_as == key_of("dev")
    assert published.image and published.commit == COMMIT
    fetched, opened, verified = by_class[pa.Opened]
    assert fetched.plaintext and opened.plaintext and verified.plaintext is None


def test_a_field_the_package_does_not_know_is_found():
    """The check itself: an unknown key, however deep, is reported."""
    receipt = {"object_key": "k", "bucket": "b", "cdn_url": "u", "sha256": "s", "size_bytes": 1,
               "plaintext_sha256": "p", "plaintext_size_bytes": 1, "compressed_size_bytes": 1,
               "level": 6, "upload": {"method": "single", "parts": 1, "resent": 0, "crc": 1},
               "replaced": False, "registration_attempts": 1,
               "provenance": {"signed": False, "sidecars": [], "sbom": {}},
               "durations": {"seal_and_upload_seconds": 1.0, "registration_seconds": 1.0,
                             "total_seconds": 2.0}, "bundle": "b"}
    assert sorted(untyped(pa.Receipt.from_json(receipt))) == ["bundle", "provenance.sbom",
                                                              "upload.crc"]
