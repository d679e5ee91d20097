"""Publishing puts the input's SBOMs beside the object, made in the one read
sealing makes: `.cdx.json` and `.spdx.json`, and for each a DSSE-signed
in-toto statement whose predicate is that document. Checked with what is
not the tool: syft 1.18.1's purls for the packages, CycloneDX's strict
schema validator and pyspdxtools for the documents, openssl over a PAE
rebuilt here and securesystemslib for the signatures. Then the tool's own
policy: `attest verify --require-sbom` passes the published object and
refuses one published without SBOMs or with a document swapped."""

import base64
import hashlib
import json
import subprocess
from urllib.parse import unquote

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey

import oci_image
import sbom_fixtures
import syft_oracle
from conftest import mixed_data, publish_args
from provenance import PAYLOAD_TYPE, STATEMENT_TYPE, make_key, pae

VERSION = "7-0123456789ab"
KEY = f"dev/loader-amd64-{VERSION}.enc"
FORMATS = {".cdx.json": "https://cyclonedx.org/bom", ".spdx.json": "https://spdx.dev/Document"}
SBOM_SIDECARS = [".cdx.json", ".cdx.intoto.json", ".spdx.json", ".spdx.intoto.json"]
CONTENT_TYPES = {".cdx.json": "application/vnd.cyclonedx+json",
                 ".spdx.json": "application/spdx+json",
                 ".cdx.intoto.json": "application/vnd.dsse.envelope.v1+json",
                 ".spdx.intoto.json": "application/vnd.dsse.envelope.v1+json"}
REPO = "https://git.example.com/acme/loader"


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    return make_key(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def env(publish_env, key):
    return {**publish_env, "ATTESTATION_SIGNING_KEY": key.private.read_text(),
            "CI_REPO_URL": REPO, "SOURCE_DATE_EPOCH": "1764633600"}


def publish(cli, env, path, *extra, arch="amd64"):
    return cli(*publish_args(path, arch=arch, version=VERSION), "--json", *extra, env=env)


def image(name="debian-app", compression="gzip"):
    return sbom_fixtures.image(name, "oci", compression)


def statement_of(garage, key, suffix, tmp_path) -> dict:
    """The statement beside the object, its signature checked by openssl
    over the PAE rebuilt here and by securesystemslib."""
    envelope = json.loads(garage.get(KEY + suffix))
    assert envelope["payloadType"] == PAYLOAD_TYPE
    payload = base64.b64decode(envelope["payload"])
    [signature] = envelope["signatures"]
    assert key.verifies(pae(PAYLOAD_TYPE, payload), base64.b64decode(signature["sig"]), tmp_path)
    public = SSlibKey.from_crypto(load_pem_public_key(key.public.read_bytes()), keyid=key.keyid)
    assert key.keyid in Envelope.from_dict(dict(envelope)).verify([public], 1)
    return json.loads(payload)


def test_an_image_publish_puts_both_signed_sboms_beside_the_object(
        cli, tmp_path, garage, admin_api, env, key):
    built = image()
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes(built.manifest)
    # The fixture is tagged with its name; bind it under that tag.
    ref = f"{oci_image.REPOSITORY}:debian-app@{built.digest}"
    run = publish(cli, env, built.path, "--image-ref", ref, "--image-manifest", manifest)
    assert run.returncode == 0, run.stderr
    row = admin_api.requests[-1].json()
    assert set(garage.keys()) >= {KEY + suffix for suffix in SBOM_SIDECARS}
    s3 = garage.boto3()
    for suffix, content_type in CONTENT_TYPES.items():
        head = s3.head_object(Bucket=garage.bucket, Key=KEY + suffix)
        assert head["ContentType"] == content_type, suffix

    cyclonedx = json.loads(garage.get(KEY + ".cdx.json"))
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(cyclonedx))
    assert errors is None, errors
    expected = syft_oracle.IN_IMAGES["debian-app"]
    assert {unquote(c["purl"]) for c in cyclonedx["components"]} == expected
    subject = cyclonedx["metadata"]["component"]
    assert subject["type"] == "container"
    assert built.digest in json.dumps(subject)

    spdx_path = tmp_path / "published.spdx.json"
    spdx_path.write_bytes(garage.get(KEY + ".spdx.json"))
    tools = subprocess.run(["pyspdxtools", "-i", str(spdx_path)], capture_output=True, text=True)
    assert tools.returncode == 0, tools.stdout + tools.stderr
    spdx = json.loads(spdx_path.read_text())
    spdx_purls = {unquote(ref["referenceLocator"]) for package in spdx["packages"]
                  for ref in package.get("externalRefs", []) if ref["referenceType"] == "purl"}
    assert spdx_purls == expected

    for document_suffix, predicate_type in FORMATS.items():
        statement = statement_of(garage, key, document_suffix.replace(".json", ".intoto.json"),
                                 tmp_path)
        assert statement["_type"] == STATEMENT_TYPE
        assert statement["predicateType"] == predicate_type
        assert statement["predicate"] == json.loads(garage.get(KEY + document_suffix))
        assert statement["subject"] == [
            {"name": f"loader-amd64-{VERSION}.enc", "digest": {"sha256": row["sha256"]}},
            {"name": oci_image.REPOSITORY,
             "digest": {"sha256": built.digest[len("sha256:"):]}},
        ]

    receipt = json.loads(run.stdout)["sbom"]
    assert receipt["subject"] == "image" and receipt["formats"] == ["CycloneDX", "SPDX"]
    assert sum(receipt["packages"].values()) == len(cyclonedx["components"])
    assert receipt["packages"]["deb"] == sum(p.startswith("pkg:deb/") for p in expected)
    assert receipt["problems"] == []

    verify = cli("attest", "verify", "--object-key", KEY, "--public-key", key.public,
                 "--require-sbom", env=garage.s3_env())
    assert verify.returncode == 0, verify.stderr


def test_the_sbom_of_a_published_image_is_the_sbom_command_s(cli, garage, admin_api, env):
    """One read in publish, another in `sbom`: the same document."""
    built = image("rpm", "zstd")
    run = publish(cli, env, built.path)
    assert run.returncode == 0, run.stderr
    offline = cli("sbom", "--file", built.path, "--supplier", REPO,
                  env={"SOURCE_DATE_EPOCH": env["SOURCE_DATE_EPOCH"]})
    assert offline.returncode == 0, offline.stderr
    assert garage.get(KEY + ".cdx.json") == offline.stdout.encode()
    published = json.loads(garage.get(KEY + ".cdx.json"))
    assert {unquote(c["purl"]) for c in published["components"]} == syft_oracle.IN_IMAGES["rpm"]


def test_a_model_publish_gets_the_ml_bom_of_its_plaintext(cli, tmp_path, garage, admin_api, env,
                                                          key):
    model = tmp_path / "detector.trt"
    model.write_bytes(mixed_data(1 << 20))
    run = publish(cli, env, model, arch="amd64")
    assert run.returncode == 0, run.stderr
    bom = json.loads(garage.get(KEY + ".cdx.json"))
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(bom))
    assert errors is None, errors
    component = bom["metadata"]["component"]
    assert component["type"] == "machine-learning-model"
    assert component["name"] == "detector.trt" and component["version"] == VERSION
    assert component["hashes"] == [{"alg": "SHA-256",
                                    "content": hashlib.sha256(model.read_bytes()).hexdigest()}]
    properties = {p["name"]: p["value"] for p in component["properties"]}
    assert properties["publish-artifact:resource_name"] == "loader"
    assert properties["publish-artifact:dev_stage"] == "dev"
    assert bom["components"] == []
    statement = statement_of(garage, key, ".cdx.intoto.json", tmp_path)
    assert len(statement["subject"]) == 1, "an unbound input has no image subject"
    assert json.loads(run.stdout)["sbom"] == {"subject": "model", "formats": ["CycloneDX", "SPDX"],
                                              "packages": {}, "problems": []}


def test_sbom_off_publishes_none_and_require_sbom_refuses_it(cli, tmp_path, garage, admin_api,
                                                             env, key):
    run = publish(cli, {**env, "PLUGIN_SBOM": "false"}, image().path)
    assert run.returncode == 0, run.stderr
    assert not [k for k in garage.keys() if "cdx" in k or "spdx" in k]
    assert "sbom" not in json.loads(run.stdout)
    verify = ["attest", "verify", "--object-key", KEY, "--public-key", key.public]
    assert cli(*verify, env=garage.s3_env()).returncode == 0
    required = cli(*verify, "--require-sbom", env=garage.s3_env())
    assert required.returncode == 9, required.output
    assert f"{KEY}.cdx.json does not exist" in required.stderr
    assert "--require-sbom" in required.stderr


def test_a_swapped_or_lone_document_is_refused(cli, tmp_path, garage, admin_api, env, key):
    run = publish(cli, env, image("alpine", None).path)
    assert run.returncode == 0, run.stderr
    s3 = garage.boto3()
    verify = ["attest", "verify", "--object-key", KEY, "--public-key", key.public]
    document = json.loads(garage.get(KEY + ".spdx.json"))
    document["packages"] = document["packages"][:-1]
    s3.put_object(Bucket=garage.bucket, Key=KEY + ".spdx.json", Body=json.dumps(document).encode())
    swapped = cli(*verify, env=garage.s3_env())
    assert swapped.returncode == 9, swapped.output
    assert "not the one the statement signs" in swapped.stderr
    # The statement in neither form (its Sigstore bundle would vouch alone).
    for suffix in (".spdx.intoto.json", ".spdx.intoto.sigstore.json"):
        s3.delete_object(Bucket=garage.bucket, Key=KEY + suffix)
    lone = cli(*verify, env=garage.s3_env())
    assert lone.returncode == 9, lone.output
    assert "nothing vouches for the SPDX SBOM" in lone.stderr


def test_a_failed_publish_leaves_no_sbom_and_replace_swaps_them(cli, tmp_path, garage, admin_api,
                                                               env):
    admin_api.reset("409")
    run = publish(cli, env, image().path)
    assert run.returncode != 0, run.output
    assert garage.keys() == []

    admin_api.reset()
    assert publish(cli, env, image().path).returncode == 0
    first = {s: garage.get(KEY + s) for s in SBOM_SIDECARS}
    # A replacement that fails puts the first publish's SBOMs back.
    admin_api.reset("409")
    failed = publish(cli, env, image("alpine", None).path, "--replace")
    assert failed.returncode != 0, failed.output
    assert {s: garage.get(KEY + s) for s in SBOM_SIDECARS} == first
    assert not [k for k in garage.keys() if ".replaced-" in k]
    # One that stands without SBOMs leaves none of the old ones to lie.
    admin_api.reset()
    sample = tmp_path / "sample.bin"
    sample.write_bytes(mixed_data(100_000, seed=7))
    replaced = publish(cli, {**env, "PLUGIN_SBOM": "off"}, sample, "--replace")
    assert replaced.returncode == 0, replaced.stderr
    assert not [k for k in garage.keys() if "cdx" in k or "spdx" in k]


def test_a_tar_that_cannot_be_walked_is_described_as_a_file_and_says_why(
        cli, tmp_path, garage, admin_api, env):
    whole = image().path.read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(whole[: len(whole) // 2])
    run = publish(cli, env, cut)
    assert run.returncode == 0, run.output
    receipt = json.loads(run.stdout)["sbom"]
    assert receipt["subject"] == "model" and receipt["packages"] == {}
    [problem] = receipt["problems"]
    assert problem.startswith("the input starts as a tar archive, but") and "file" in problem
    assert problem in run.stderr
    bom = json.loads(garage.get(KEY + ".cdx.json"))
    assert [a["text"] for a in bom["annotations"]] == [problem]
    assert bom["metadata"]["component"]["hashes"][0]["content"] == \
        hashlib.sha256(cut.read_bytes()).hexdigest()


def test_seal_writes_the_same_sboms_from_its_one_read(cli, tmp_path):
    built = image("distroless", "zstd")
    out = tmp_path / "image.enc"
    epoch = {"SOURCE_DATE_EPOCH": "1764633600"}
    run = cli("seal", "--file", built.path, "--out", out, "--key-out", tmp_path / "image.key",
              "--sbom", "on", env=epoch)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["sboms"] == [f"{out}.cdx.json", f"{out}.spdx.json"]
    for suffix, fmt in ((".cdx.json", "cyclonedx-json"), (".spdx.json", "spdx-json")):
        offline = cli("sbom", "--file", built.path, "--format", fmt, env=epoch)
        assert offline.returncode == 0, offline.stderr
        assert (tmp_path / f"image.enc{suffix}").read_bytes() == offline.stdout.encode(), suffix
    bom = json.loads((tmp_path / "image.enc.cdx.json").read_text())
    assert {unquote(c["purl"]) for c in bom["components"]} == syft_oracle.IN_IMAGES["distroless"]
    # Without --sbom on, seal writes the object and the key only.
    plain = tmp_path / "plain"
    plain.mkdir()
    run = cli("seal", "--file", built.path, "--out", plain / "image.enc",
              "--key-out", plain / "image.key")
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in plain.iterdir()) == ["image.enc", "image.key"]
