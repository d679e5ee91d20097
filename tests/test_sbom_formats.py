"""`publish-artifact sbom` for a model file: the CycloneDX ML-BOM and the
SPDX document, checked by the formats' own validators (cyclonedx-python-lib
against the 1.6 schema, spdx-tools, the NTIA minimum elements checker),
and the same input giving the same bytes."""

import hashlib
import json
import subprocess

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

EPOCH = "1764633600"  # 2025-12-02T00:00:00Z
NAMES = ["--resource-name", "detector", "--architecture", "arm64", "--dev-stage", "dev",
         "--version", "7-0123456789ab", "--supplier", "ACME Perception <ml@acme.example>"]
CARD = {"modelParameters": {"task": "object-detection",
                            "architectureFamily": "yolo"},
        "considerations": {"useCases": ["forklift detection"]}}


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "detector.trt"
    path.write_bytes(bytes(range(256)) * 4096 + b"engine")
    card = tmp_path / "card.json"
    card.write_text(json.dumps(CARD))
    return path, card


def sbom(cli, *args, epoch=EPOCH):
    return cli("sbom", *map(str, args), env={"SOURCE_DATE_EPOCH": epoch})


def test_the_ml_bom_is_valid_cyclonedx_1_6_and_describes_the_model(cli, model):
    path, card = model
    run = sbom(cli, "--file", path, "--model-card", card, *NAMES)
    assert run.returncode == 0, run.stderr
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(run.stdout)
    assert errors is None, errors
    bom = json.loads(run.stdout)
    component = bom["metadata"]["component"]
    assert component["type"] == "machine-learning-model"
    assert component["name"] == "detector.trt" and component["version"] == "7-0123456789ab"
    assert component["hashes"] == [{"alg": "SHA-256",
                                    "content": hashlib.sha256(path.read_bytes()).hexdigest()}]
    assert component["modelCard"] == CARD
    properties = {p["name"]: p["value"] for p in component["properties"]}
    assert properties["publish-artifact:size_bytes"] == str(path.stat().st_size)
    assert properties["publish-artifact:architecture"] == "arm64"
    assert bom["metadata"]["timestamp"] == "2025-12-02T00:00:00Z"


def test_the_spdx_document_validates_and_meets_the_ntia_minimum(cli, model, tmp_path):
    path, _ = model
    out = tmp_path / "model.spdx.json"
    run = sbom(cli, "--file", path, "--format", "spdx-json", "--out", out, *NAMES)
    assert run.returncode == 0, run.stderr
    tools = subprocess.run(["pyspdxtools", "-i", str(out)], capture_output=True, text=True)
    assert tools.returncode == 0, tools.stdout + tools.stderr
    ntia = subprocess.run(["sbomcheck", "-c", "ntia", "-r", "json", str(out)],
                          capture_output=True, text=True)
    report = json.loads(ntia.stdout)
    assert report.get("isNtiaConformant") is True, ntia.stdout
    document = json.loads(out.read_text())
    [subject] = document["packages"]
    assert subject["checksums"] == [{"algorithm": "SHA256",
                                     "checksumValue": hashlib.sha256(path.read_bytes()).hexdigest()}]
    assert subject["supplier"] == "Person: ACME Perception (ml@acme.example)"


def test_the_same_model_gives_the_same_bytes(cli, model):
    path, card = model
    for fmt in ("cyclonedx-json", "spdx-json"):
        first = sbom(cli, "--file", path, "--format", fmt, "--model-card", card, *NAMES)
        again = sbom(cli, "--file", path, "--format", fmt, "--model-card", card, *NAMES)
        assert first.returncode == 0, first.stderr
        assert first.stdout == again.stdout
    # Another file, another serial number.
    other = path.with_name("other.trt")
    other.write_bytes(b"other engine")
    a = json.loads(sbom(cli, "--file", path).stdout)["serialNumber"]
    b = json.loads(sbom(cli, "--file", other).stdout)["serialNumber"]
    assert a != b


@pytest.mark.parametrize("card, says", [
    ('{"accuracy": 0.9}', '"accuracy"'),
    ("[1, 2]", "not a JSON object"),
    ("{", "not JSON"),
])
def test_a_bad_model_card_is_refused_before_anything_is_written(cli, model, tmp_path, card, says):
    path, _ = model
    bad = tmp_path / "bad.json"
    bad.write_text(card)
    out = tmp_path / "never.json"
    run = sbom(cli, "--file", path, "--model-card", bad, "--out", out)
    assert run.returncode == 2, run.output
    assert says in run.stderr and "--model-card" in run.stderr, run.stderr
    assert not out.exists()


def test_a_bad_source_date_epoch_is_a_usage_error(cli, model):
    path, _ = model
    run = sbom(cli, "--file", path, epoch="yesterday")
    assert run.returncode == 2 and "SOURCE_DATE_EPOCH" in run.stderr, run.output
