"""A model (an input published without `--image-ref`) gets `{key}.model.sig`
beside it: the OpenSSF model signature that `model_signing verify key`
(model-signing 1.1.x from PyPI, not this tool) accepts for the model file
fetched from Garage and opened with openssl, with our public key and no
knowledge of this project; it refuses the signature for a model with one
byte changed and under another key. The tool's own policy carries it on
promotion and refuses one that another key made."""

import json
import shutil
import subprocess

import pytest

from conftest import mixed_data, openssl_open, publish_args
from provenance import make_key

VERSION = "7-0123456789ab"
KEY = f"dev/loader-arm64-{VERSION}.enc"
MODEL = "model.safetensors"
REFUSED = 9


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model-keys")
    return make_key(folder, "signing"), make_key(folder, "other")


@pytest.fixture
def model(cli, tmp_path, garage, admin_api, publish_env, keys):
    """A model published with a signing key, fetched back and opened."""
    signing, _ = keys
    src = tmp_path / "in" / MODEL
    src.parent.mkdir()
    src.write_bytes(mixed_data(300_000, seed=242))
    env = {**publish_env, "ATTESTATION_SIGNING_KEY": signing.private.read_text()}
    run = cli(*publish_args(src, version=VERSION), "--json", env=env)
    assert run.returncode == 0, run.output
    row = admin_api.requests[-1].json()
    opened = tmp_path / "fetched" / MODEL
    opened.parent.mkdir()
    opened.write_bytes(openssl_open(garage.get(KEY), row["encryption_key"]))
    assert opened.read_bytes() == src.read_bytes()
    signature = tmp_path / "model.sig"
    signature.write_bytes(garage.get(KEY + ".model.sig"))
    return opened, signature, env


def model_signing(model, signature, public_key):
    tool = shutil.which("model_signing")
    assert tool, "model_signing is missing: run scripts/setup.sh"
    return subprocess.run([tool, "verify", "key", "--signature", str(signature),
                           "--public_key", str(public_key), str(model)],
                          capture_output=True, text=True, timeout=120)


def test_model_signing_accepts_the_signature_for_the_opened_model(model, keys):
    opened, signature, _ = model
    run = model_signing(opened, signature, keys[0].public)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Verification succeeded" in run.stdout + run.stderr


def test_model_signing_refuses_a_changed_byte_and_another_key(model, keys, tmp_path):
    opened, signature, _ = model
    changed = tmp_path / "changed" / MODEL
    changed.parent.mkdir()
    data = bytearray(opened.read_bytes())
    data[len(data) // 2] ^= 0x01
    changed.write_bytes(bytes(data))
    one_byte = model_signing(changed, signature, keys[0].public)
    assert one_byte.returncode != 0, one_byte.stdout + one_byte.stderr
    assert "Signature mismatch" in one_byte.stderr, one_byte.stderr
    other = model_signing(opened, signature, keys[1].public)
    assert other.returncode != 0, other.stdout + other.stderr
    assert "Key mismatch" in other.stderr, other.stderr


def test_the_policy_checks_the_model_signature(cli, garage, model, keys, tmp_path):
    opened, _, _ = model
    signing, other = keys
    verify = ["attest", "verify", "--object-key", KEY, "--public-key", signing.public]
    assert cli(*verify, env=garage.s3_env()).returncode == 0
    # A signature model_signing itself makes for the same model with another key: a
    # good signature, of the right model, by a key the consumer does not trust.
    forged = tmp_path / "forged.sig"
    sign = subprocess.run(["model_signing", "sign", "key", "--private_key", str(other.private),
                           "--signature", str(forged), str(opened)],
                          capture_output=True, text=True, timeout=120)
    assert sign.returncode == 0, sign.stdout + sign.stderr
    garage.boto3().put_object(Bucket=garage.bucket, Key=KEY + ".model.sig",
                              Body=forged.read_bytes())
    run = cli(*verify, env=garage.s3_env())
    assert run.returncode == REFUSED, run.output
    assert KEY + ".model.sig" in run.stderr and "no signature" in run.stderr, run.stderr


def test_an_image_has_no_model_signature(cli, tmp_path, garage, admin_api, publish_env, keys):
    import oci_image
    import sbom_fixtures

    built = sbom_fixtures.image("debian-app", "oci", "gzip")
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes(built.manifest)
    ref = f"{oci_image.REPOSITORY}:debian-app@{built.digest}"
    env = {**publish_env, "ATTESTATION_SIGNING_KEY": keys[0].private.read_text()}
    # The fixture image is for linux/amd64.
    run = cli(*publish_args(built.path, arch="amd64", version=VERSION), "--json",
              "--image-ref", ref, "--image-manifest", manifest, env=env)
    assert run.returncode == 0, run.output
    key = KEY.replace("arm64", "amd64")
    assert key + ".intoto.sigstore.json" in garage.keys()
    assert key + ".model.sig" not in garage.keys()
    assert key + ".model.sig" not in json.loads(run.stdout)["provenance"]["sidecars"]
