"""Publishing writes the provenance sidecars next to the object, and they
check out with implementations that are not the tool's: openssl over a PAE
rebuilt here, securesystemslib's DSSE Envelope.verify, sigstore's SLSA v1
model, the key commitment recomputed from the registered key, sha256sum.
All or nothing covers them: any failure leaves none."""

import base64
import json
import subprocess

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey
from sigstore.dsse import Statement
from sigstore.dsse._predicate import SLSAPredicateV1_0

from conftest import (SIGNED_SIDECARS, TOKEN, assert_no_secret, mixed_data,
                      publish_args, published, sha256_hex)
from oci_image import docker_archive, make_image, rewrite_tar
from provenance import (BUILD_TYPE, PAYLOAD_TYPE, PREDICATE_TYPE, STATEMENT_TYPE, key_commitment,
                        make_key, pae)

VERSION = "7-0123456789ab"
KEY = f"dev/loader-arm64-{VERSION}.enc"
SIDECARS = sorted(SIGNED_SIDECARS)
COMMIT = "0123456789abcdef0123456789abcdef01234567"
CI = {
    "CI_REPO_URL": "https://git.example.com/acme/loader",
    "CI_REPO_CLONE_URL": "https://git.example.com/acme/loader.git",
    "CI_COMMIT_SHA": COMMIT,
    "CI_COMMIT_REF": "refs/heads/dev",
    "CI_PIPELINE_EVENT": "push",
    "CI_WORKFLOW_NAME": "build-arm",
    "CI_SYSTEM_URL": "https://ci.example.com",
    "CI_SYSTEM_PLATFORM": "linux/arm64",
    "CI_PIPELINE_URL": "https://ci.example.com/repos/12/pipeline/7",
}
BUILDER = "https://ci.example.com#linux/arm64"


def publish(cli, env, path, *extra):
    return cli(*publish_args(path, version=VERSION), "--json", *extra, env=env)


@pytest.fixture
def key(tmp_path):
    return make_key(tmp_path / "keys")


@pytest.fixture
def signing_env(publish_env, garage, key):
    # cdn_url through Garage's web endpoint: readable without credentials.
    return {**publish_env, **CI, "CDN_PUBLIC_BASE_URL": garage.cdn_base,
            "ATTESTATION_SIGNING_KEY": key.private.read_text()}


def test_a_signed_publish_leaves_the_object_and_its_checked_sidecars(
        cli, tmp_path, garage, admin_api, signing_env, key):
    src = tmp_path / "image.tar"
    src.write_bytes(mixed_data(3 << 20))
    run = publish(cli, signing_env, src)
    assert run.returncode == 0, run.stderr
    assert garage.keys() == sorted([KEY, *(KEY + suffix for suffix in SIDECARS)])
    assert_no_secret(run.output, key.private.read_text().splitlines()[1])
    row = admin_api.requests[-1].json()
    receipt = json.loads(run.stdout)
    assert receipt["provenance"]["signed"] is True
    assert receipt["provenance"]["keyid"] == key.keyid

    obj = garage.get(KEY)
    assert sha256_hex(obj) == row["sha256"]
    # .sha256: sha256sum checks the downloaded object with it.
    line = garage.get(KEY + ".sha256")
    assert line == f"{row['sha256']}  loader-arm64-{VERSION}.enc\n".encode()
    (tmp_path / f"loader-arm64-{VERSION}.enc").write_bytes(obj)
    (tmp_path / "check.sha256").write_bytes(line)
    subprocess.run(["sha256sum", "-c", "check.sha256"], cwd=tmp_path, check=True, capture_output=True)
    # .sha256.sig: openssl verifies it (as cosign verify-blob would).
    assert key.verifies(line, base64.b64decode(garage.get(KEY + ".sha256.sig")), tmp_path)

    # The envelope: openssl over the PAE rebuilt here, then securesystemslib.
    envelope = json.loads(garage.get(KEY + ".intoto.json"))
    assert envelope["payloadType"] == PAYLOAD_TYPE
    payload = base64.b64decode(envelope["payload"])
    [signature] = envelope["signatures"]
    assert signature["keyid"] == key.keyid
    assert key.verifies(pae(PAYLOAD_TYPE, payload), base64.b64decode(signature["sig"]), tmp_path)
    assert not key.verifies(pae(PAYLOAD_TYPE, payload + b" "), base64.b64decode(signature["sig"]),
                            tmp_path)
    public = SSlibKey.from_crypto(load_pem_public_key(key.public.read_bytes()), keyid=key.keyid)
    assert key.keyid in Envelope.from_dict(dict(envelope)).verify([public], 1)

    # The statement: sigstore's in-toto and SLSA v1 models accept its shape.
    Statement(payload)
    statement = json.loads(payload)
    assert statement["_type"] == STATEMENT_TYPE and statement["predicateType"] == PREDICATE_TYPE
    predicate = SLSAPredicateV1_0.model_validate(statement["predicate"])
    assert predicate.build_definition.build_type == BUILD_TYPE
    assert predicate.run_details.builder.id == BUILDER
    assert predicate.run_details.metadata.invocation_id == CI["CI_PIPELINE_URL"]
    obj_subject, input_subject = statement["subject"]
    assert obj_subject["name"] == KEY
    assert obj_subject["digest"] == {"sha256": row["sha256"]}
    assert obj_subject["annotations"]["size_bytes"] == row["size_bytes"] == len(obj)
    commitment = obj_subject["annotations"]["key_commitment"]
    assert commitment["value"] == key_commitment(row["encryption_key"], row["sha256"])
    assert row["encryption_key"] not in payload.decode()
    assert input_subject == {"name": "image.tar", "digest": {"sha256": sha256_hex(src.read_bytes())},
                             "annotations": {"role": "input"}}
    external = statement["predicate"]["buildDefinition"]["externalParameters"]
    assert {k: external[k] for k in ("resource_name", "dev_stage", "architecture", "version")} == \
        {k: row[k] for k in ("resource_name", "dev_stage", "architecture", "version")}
    assert external["repository"] == CI["CI_REPO_URL"] and external["ref"] == CI["CI_COMMIT_REF"]
    [commit] = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
    assert commit == {"uri": "git+https://git.example.com/acme/loader.git@refs/heads/dev",
                      "digest": {"gitCommit": COMMIT}}

    # And the tool's own check agrees, by key and by the registered URL, with every pin.
    pins = ["--builder-id", BUILDER, "--repository", CI["CI_REPO_URL"], "--commit", COMMIT,
            "--stage", "dev"]
    by_key = cli("attest", "verify", "--object-key", KEY, "--public-key", key.public, *pins,
                 env=garage.s3_env())
    assert by_key.returncode == 0, by_key.stderr
    by_url = cli("attest", "verify", "--url", row["cdn_url"], "--public-key", key.public, *pins)
    assert by_url.returncode == 0, by_url.stderr


def test_the_key_may_come_from_a_file_or_plugin_settings(cli, tmp_path, garage, admin_api,
                                                         publish_env, key):
    src = tmp_path / "image.tar"
    src.write_bytes(b"small input")
    for env in ({"ATTESTATION_SIGNING_KEY_FILE": str(key.private)},
                {"PLUGIN_ATTESTATION_SIGNING_KEY": key.private.read_text()}):
        garage.clear()
        run = publish(cli, {**publish_env, **env}, src)
        assert run.returncode == 0, run.stderr
        assert garage.keys() == sorted([KEY, *(KEY + suffix for suffix in SIDECARS)])


def test_without_a_key_the_sidecars_are_unsigned_and_the_receipt_says_so(
        cli, tmp_path, garage, admin_api, publish_env, key):
    src = tmp_path / "image.tar"
    src.write_bytes(b"small input")
    run = publish(cli, publish_env, src)
    assert run.returncode == 0, run.stderr
    assert garage.keys() == published(KEY)
    assert json.loads(run.stdout)["provenance"]["signed"] is False
    assert json.loads(garage.get(KEY + ".intoto.json"))["signatures"] == []
    refused = cli("attest", "verify", "--object-key", KEY, "--public-key", key.public,
                  env=garage.s3_env())
    assert refused.returncode == 9, refused.output


@pytest.mark.parametrize("bad", ["not a key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"])
def test_a_bad_key_stops_the_publish_before_anything_is_sent(cli, tmp_path, garage, admin_api,
                                                             publish_env, bad):
    src = tmp_path / "image.tar"
    src.write_bytes(b"small input")
    run = publish(cli, {**publish_env, "ATTESTATION_SIGNING_KEY": bad}, src)
    assert run.returncode == 2, run.output
    assert "ATTESTATION_SIGNING_KEY" in run.stderr
    assert garage.keys() == [] and admin_api.requests == []
    assert_no_secret(run.output, bad.split("\n")[1] if "\n" in bad else bad)


def test_a_failed_registration_leaves_neither_object_nor_sidecars(cli, tmp_path, garage, admin_api,
                                                                  signing_env):
    admin_api.reset("401")
    src = tmp_path / "image.tar"
    src.write_bytes(mixed_data(200_000))
    run = publish(cli, signing_env, src)
    assert run.returncode == 5, run.output
    assert garage.keys() == []
    assert_no_secret(run.output, TOKEN)


@pytest.fixture
def image(tmp_path):
    made = make_image(tmp_path / "img", architecture="arm64", tag=VERSION)
    made.manifest_file = tmp_path / "image-manifest.json"
    made.manifest_file.write_bytes(made.manifest)
    made.archive = docker_archive(made, tmp_path / "image.tar", tag=VERSION)
    return made


def test_a_bound_image_goes_into_the_provenance(cli, garage, admin_api, signing_env, image):
    run = publish(cli, signing_env, image.archive, "--image-ref", image.ref(VERSION),
                  "--image-manifest", image.manifest_file)
    assert run.returncode == 0, run.stderr
    envelope = json.loads(garage.get(KEY + ".intoto.json"))
    statement = json.loads(base64.b64decode(envelope["payload"]))
    dependencies = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
    [bound] = [d for d in dependencies if d.get("name") == "image"]
    assert bound["digest"] == {"sha256": image.digest[7:]}
    assert bound["uri"] == image.ref()
    assert statement["predicate"]["buildDefinition"]["externalParameters"]["image_ref"] == image.ref()


def test_a_tarball_that_is_not_the_pushed_image_publishes_nothing(cli, tmp_path, garage, admin_api,
                                                                  signing_env, image):
    tampered = rewrite_tar(image.archive, tmp_path / "tampered.tar",
                           lambda name, data: data[:600] + bytes([data[600] ^ 1]) + data[601:]
                           if name.endswith(".tar") else data)
    run = publish(cli, signing_env, tampered, "--image-ref", image.ref(VERSION),
                  "--image-manifest", image.manifest_file)
    assert run.returncode == 9, run.output
    assert "diff_id" in run.stderr
    assert garage.keys() == [] and admin_api.requests == []
    # A wrong manifest digest is refused before the tarball is read or anything sent.
    wrong = f"{image.ref(VERSION)[:-64]}{'0' * 64}"
    run = publish(cli, signing_env, image.archive, "--image-ref", wrong,
                  "--image-manifest", image.manifest_file)
    assert run.returncode == 9, run.output
    assert garage.keys() == [] and admin_api.requests == []
