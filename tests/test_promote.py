"""Promotion, dev -> stage -> main, against Garage and the test admin API.

Everything the tool made is checked with implementations that are not the
tool's: the keys are made here with Python `cryptography`; the key wrap is
unwrapped by `openssl pkeyutl`; the verification summaries' DSSE signatures
are checked by `cryptography` over a PAE rebuilt here (tests/provenance.py);
the objects are compared byte for byte and opened by `fetch` through
Garage's web endpoint (the CDN stand-in). Every refusal leaves the target
stage without a single key and the admin API without a new row.
"""

import base64
import json
import os
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import (Encoding, NoEncryption, PrivateFormat,
                                                          PublicFormat)

from conftest import (ROOT, SIGNED_SIDECARS, TOKEN, VSA_SIDECARS, assert_no_secret,
                      mixed_data, openssl_open, publish_args, sha256_hex)
from provenance import PAYLOAD_TYPE, STATEMENT_TYPE, openssl, pae
from woodpecker import plugin_env

COMMIT = "0123456789abcdef0123456789abcdef01234567"
PARENT = "7"  # the number of the push pipeline that published to dev
VERSION = f"{PARENT}-{COMMIT[:12]}"  # build-arm.yml's version rule
REPOSITORY = "https://git.example.com/acme/loader"
# What the push pipeline that publishes to dev says about itself.
BUILD_CI = {
    "CI_REPO_URL": REPOSITORY,
    "CI_REPO_CLONE_URL": REPOSITORY + ".git",
    "CI_COMMIT_SHA": COMMIT,
    "CI_COMMIT_REF": "refs/heads/dev",
    "CI_PIPELINE_EVENT": "push",
    "CI_SYSTEM_URL": "https://ci.example.com",
    "CI_SYSTEM_PLATFORM": "linux/arm64",
}
# What the deployment pipeline that promotes says about itself.
DEPLOY_CI = {
    "CI_REPO_URL": REPOSITORY,
    "CI_COMMIT_SHA": COMMIT,
    "CI_PIPELINE_EVENT": "deployment",
    "CI_PIPELINE_PARENT": PARENT,
    "CI_SYSTEM_URL": "https://ci.example.com",
    "CI_SYSTEM_PLATFORM": "linux/amd64",
}
VERIFIER = "https://ci.example.com#linux/amd64"
VSA_TYPE = "https://slsa.dev/verification_summary/v1"
WRAP_LABEL = "publish-artifact/key-wrap/v1:"
COPIED_SIDECARS = (*SIGNED_SIDECARS, ".keywrap")
VSA = ".vsa.intoto.json"
USAGE, INPUT, REGISTRATION, INTEGRITY, EXISTS, REFUSED = 2, 3, 5, 6, 8, 9


def key_of(stage: str, version: str = VERSION) -> str:
    return f"{stage}/loader-arm64-{version}.enc"


# --- keys, made here -------------------------------------------------------

def write_private(path: Path, data: bytes) -> Path:
    """A new file that was never readable by anyone but its owner."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return path


@dataclass
class Pair:
    key: object     # the cryptography private key
    private: Path   # its PKCS#8 PEM, mode 0600
    public: Path    # its SubjectPublicKeyInfo PEM

    @classmethod
    def write(cls, key, folder: Path, name: str) -> "Pair":
        private = write_private(folder / f"{name}.pem", key.private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
        public = folder / f"{name}.pub.pem"
        public.write_bytes(key.public_key().public_bytes(Encoding.PEM,
                                                         PublicFormat.SubjectPublicKeyInfo))
        return cls(key, private, public)

    @property
    def private_pem(self) -> str:
        return self.private.read_text()

    @property
    def public_pem(self) -> str:
        return self.public.read_text()

    @property
    def secret_line(self) -> str:
        """A line of the private key's base64 body: must never be printed."""
        body = self.private_pem.splitlines()[1:-1]
        return body[len(body) // 2]

    @property
    def spki_sha256(self) -> str:
        """hex SHA-256 of the public key's SubjectPublicKeyInfo DER (the keyid)."""
        return sha256_hex(self.key.public_key().public_bytes(Encoding.DER,
                                                             PublicFormat.SubjectPublicKeyInfo))


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("promotion-keys")
    return SimpleNamespace(
        promotion=Pair.write(rsa.generate_private_key(65537, 3072), folder, "promotion"),
        other_promotion=Pair.write(rsa.generate_private_key(65537, 3072), folder, "other-promotion"),
        attestation=Pair.write(ec.generate_private_key(ec.SECP256R1()), folder, "attestation"),
        other_attestation=Pair.write(ec.generate_private_key(ec.SECP256R1()), folder,
                                     "other-attestation"),
    )


# --- DSSE, checked and made here -------------------------------------------

def verified_statement(raw: bytes, signer: Pair) -> dict:
    """The statement in a DSSE envelope, after checking its one signature
    with `cryptography` over the PAE (raises InvalidSignature)."""
    envelope = json.loads(raw)
    assert envelope["payloadType"] == PAYLOAD_TYPE
    payload = base64.b64decode(envelope["payload"])
    [signature] = envelope["signatures"]
    assert signature["keyid"] == signer.spki_sha256
    signer.key.public_key().verify(base64.b64decode(signature["sig"]), pae(PAYLOAD_TYPE, payload),
                                   ec.ECDSA(hashes.SHA256()))
    return json.loads(payload)


def resigned(raw: bytes, signer: Pair) -> bytes:
    """The same payload, signed by another key."""
    envelope = json.loads(raw)
    payload = base64.b64decode(envelope["payload"])
    sig = signer.key.sign(pae(PAYLOAD_TYPE, payload), ec.ECDSA(hashes.SHA256()))
    envelope["signatures"] = [{"keyid": signer.spki_sha256, "sig": base64.b64encode(sig).decode()}]
    return json.dumps(envelope).encode()


def openssl_unwrap(wrapped: bytes, private: Path, label: str, folder: Path) -> bytes:
    """The documented command (docs/promotion.md), with openssl's CLI."""
    path = folder / "data-key.keywrap"
    path.write_bytes(wrapped)
    return openssl("pkeyutl", "-decrypt", "-inkey", private, "-in", path,
                   "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256",
                   "-pkeyopt", "rsa_mgf1_md:sha256",
                   "-pkeyopt", f"rsa_oaep_label:{label.encode().hex()}")


# --- the environment, publishing and promoting -----------------------------

@pytest.fixture
def envs(publish_env, garage, keys):
    cdn = {"CDN_PUBLIC_BASE_URL": garage.cdn_base}
    return SimpleNamespace(
        publish={**publish_env, **cdn, **BUILD_CI,
                 "ATTESTATION_SIGNING_KEY": keys.attestation.private_pem,
                 "PROMOTION_PUBLIC_KEY": keys.promotion.public_pem},
        promote={**publish_env, **cdn, **DEPLOY_CI,
                 "ATTESTATION_PUBLIC_KEY_FILE": str(keys.attestation.public),
                 "ATTESTATION_SIGNING_KEY": keys.attestation.private_pem,
                 "PROMOTION_PRIVATE_KEY": keys.promotion.private_pem},
    )


def publish(cli, env, src, version=VERSION):
    run = cli(*publish_args(src, version=version), "--json", env=env)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def promote(cli, env, *args, version=VERSION):
    return cli("promote", "--resource-name", "loader", "--architecture", "arm64",
               "--version", version, "--json", *args, env=env)


@pytest.fixture
def dev(cli, tmp_path, garage, admin_api, envs):
    """An input published to dev with both keys, and its row."""
    data = mixed_data(300_000, seed=16)
    src = tmp_path / "image.tar"
    src.write_bytes(data)
    receipt = publish(cli, envs.publish, src)
    [row] = [request.json() for request in admin_api.stored]
    return SimpleNamespace(data=data, src=src, receipt=receipt, row=row)


@pytest.fixture
def promoted(cli, garage, admin_api, envs, dev):
    """dev promoted to stage (pinned to its commit), then stage to main."""
    to_stage = promote(cli, envs.promote, "--to", "stage", "--commit", COMMIT)
    assert to_stage.returncode == 0, to_stage.output
    to_main = promote(cli, envs.promote, "--to", "main")
    assert to_main.returncode == 0, to_main.output
    rows = {row["dev_stage"]: row for row in (request.json() for request in admin_api.stored)}
    assert sorted(rows) == ["dev", "main", "stage"] and len(admin_api.stored) == 3
    return SimpleNamespace(runs={"stage": to_stage, "main": to_main}, rows=rows,
                           receipts={"stage": json.loads(to_stage.stdout),
                                     "main": json.loads(to_main.stdout)})


def keys_under(garage, stage: str) -> list:
    return [key for key in garage.keys() if key.startswith(stage + "/")]


def assert_refused(run, code, says, garage, admin_api, rows=1, target="stage"):
    """The exit code, a sentence naming the problem (one of `says`), nothing
    under the target stage and no new row."""
    assert run.returncode == code, run.output
    assert any(word.lower() in run.stderr.lower() for word in says), run.stderr
    assert keys_under(garage, target) == []
    assert len(admin_api.stored) == rows, [r.json() for r in admin_api.stored]


# --- publishing with a promotion key ---------------------------------------

def test_publish_wraps_the_data_key_for_the_promotion_key(cli, tmp_path, garage, keys, dev):
    row, key = dev.row, key_of("dev")
    assert garage.keys() == sorted([key, *(key + suffix for suffix in COPIED_SIDECARS)])
    assert key + ".keywrap" in dev.receipt["provenance"]["sidecars"]
    wrapped = garage.get(key + ".keywrap")
    assert len(wrapped) == 384  # RSA-3072: raw OAEP ciphertext, the modulus size
    label = WRAP_LABEL + row["sha256"]
    assert openssl_unwrap(wrapped, keys.promotion.private, label, tmp_path).hex() == \
        row["encryption_key"]
    # Bound to this object: under another object's label the same bytes do not unwrap.
    with pytest.raises(subprocess.CalledProcessError):
        openssl_unwrap(wrapped, keys.promotion.private, WRAP_LABEL + "0" * 64, tmp_path)
    # The signed statement says which key it was wrapped for, and under which label.
    statement = verified_statement(garage.get(key + ".intoto.json"), keys.attestation)
    assert statement["subject"][0]["annotations"]["key_wrap"] == {
        "algorithm": "rsa-oaep-sha256", "label": label,
        "public_key_sha256": keys.promotion.spki_sha256}


def test_publish_without_a_promotion_key_writes_no_key_wrap(cli, tmp_path, garage, admin_api, envs):
    src = tmp_path / "image.tar"
    src.write_bytes(b"small input")
    env = dict(envs.publish)
    del env["PROMOTION_PUBLIC_KEY"]
    publish(cli, env, src)
    assert key_of("dev") + ".keywrap" not in garage.keys()
    statement = json.loads(base64.b64decode(json.loads(garage.get(key_of("dev") + ".intoto.json"))
                                            ["payload"]))
    assert "key_wrap" not in statement["subject"][0]["annotations"]


@pytest.mark.parametrize("spelling", ["PROMOTION_PUBLIC_KEY_FILE", "PLUGIN_PROMOTION_PUBLIC_KEY"])
def test_the_promotion_key_may_come_from_a_file_or_plugin_settings(cli, tmp_path, garage, admin_api,
                                                                   envs, keys, spelling):
    src = tmp_path / "image.tar"
    src.write_bytes(b"small input")
    env = {k: v for k, v in envs.publish.items() if k != "PROMOTION_PUBLIC_KEY"}
    env[spelling] = str(keys.promotion.public) if spelling.endswith("_FILE") else \
        keys.promotion.public_pem
    publish(cli, env, src)
    assert key_of("dev") + ".keywrap" in garage.keys()


def test_the_promotion_key_given_twice_is_a_usage_error(cli, tmp_path, garage, admin_api, envs, keys):
    src = tmp_path / "image.tar"
    src.write_bytes(b"small input")
    env = {**envs.publish, "PROMOTION_PUBLIC_KEY_FILE": str(keys.promotion.public)}
    run = cli(*publish_args(src, version=VERSION), env=env)
    assert run.returncode == USAGE, run.output
    assert "PROMOTION_PUBLIC_KEY" in run.stderr
    assert garage.keys() == [] and admin_api.requests == []


@pytest.mark.parametrize("kind", ["rsa-2048", "ec-p256", "private", "not a key"])
def test_a_promotion_key_that_will_not_do_stops_the_publish(cli, tmp_path, garage, admin_api,
                                                            envs, keys, kind):
    if kind == "rsa-2048":
        small = rsa.generate_private_key(65537, 2048).public_key()
        value = small.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    elif kind == "ec-p256":
        value = keys.attestation.public_pem
    elif kind == "private":
        value = keys.promotion.private_pem
    else:
        value = "not a key"
    src = tmp_path / "image.tar"
    src.write_bytes(b"small input")
    run = cli(*publish_args(src, version=VERSION), env={**envs.publish, "PROMOTION_PUBLIC_KEY": value})
    assert run.returncode == USAGE, run.output
    assert "PROMOTION_PUBLIC_KEY" in run.stderr
    assert garage.keys() == [] and admin_api.requests == []
    assert_no_secret(run.output, keys.promotion.secret_line)


# --- the happy path ---------------------------------------------------------

def test_the_promoted_objects_are_the_dev_bytes_under_the_same_key(cli, tmp_path, garage, admin_api,
                                                                   dev, promoted):
    dev_object = garage.get(key_of("dev"))
    for stage in ("stage", "main"):
        assert garage.get(key_of(stage)) == dev_object, f"{stage} was re-sealed"
    assert openssl_open(dev_object, dev.row["encryption_key"]) == dev.data

    same = ("resource_name", "architecture", "version", "sha256", "encryption_key", "size_bytes")
    for stage, row in promoted.rows.items():
        assert {k: row[k] for k in same} == {k: dev.row[k] for k in same}, stage
        assert row["dev_stage"] == stage
        assert row["cdn_url"] == f"{garage.cdn_base}/{key_of(stage)}"
    for request in admin_api.stored:
        assert request.path == "/internal/resources/publish"
        assert request.headers["authorization"] == f"Bearer {TOKEN}"

    # The loader's side: each through its own cdn_url, with the row's sha256 and key.
    key_file = write_private(tmp_path / "data.key", dev.row["encryption_key"].encode())
    for stage, row in promoted.rows.items():
        out = tmp_path / f"{stage}.tar"
        run = cli("fetch", "--url", row["cdn_url"], "--sha256", row["sha256"],
                  "--key-file", key_file, "--out", out)
        assert run.returncode == 0, run.output
        assert out.read_bytes() == dev.data, stage


def test_the_receipts_say_what_was_promoted(garage, keys, dev, promoted):
    for stage, source in (("stage", "dev"), ("main", "stage")):
        receipt, row = promoted.receipts[stage], promoted.rows[stage]
        target = key_of(stage)
        assert receipt["from_object_key"] == key_of(source)
        assert receipt["object_key"] == target
        assert receipt["bucket"] == garage.bucket
        assert receipt["cdn_url"] == row["cdn_url"]
        assert (receipt["sha256"], receipt["size_bytes"]) == (row["sha256"], row["size_bytes"])
        assert receipt["dry_run"] is False and receipt["replaced"] is False
        assert receipt["statement"] == {"object_key": key_of(source) + ".intoto.json",
                                        "sha256": sha256_hex(garage.get(key_of("dev") + ".intoto.json")),
                                        "signed_by": keys.attestation.spki_sha256,
                                        "published_as": key_of("dev")}
        assert receipt["vsa"] == target + VSA
        copied = {target + suffix for suffix in COPIED_SIDECARS}
        assert copied <= set(receipt["sidecars"]) <= copied | {target + s for s in VSA_SIDECARS}
        assert receipt["registration_attempts"] == 1


def test_each_stage_has_the_sidecars_and_a_summary_that_checks_out(garage, keys, dev, promoted):
    dev_key = key_of("dev")
    dev_statement = garage.get(dev_key + ".intoto.json")
    for stage in ("stage", "main"):
        target = key_of(stage)
        assert keys_under(garage, stage) == sorted(
            [target, *(target + suffix for suffix in (*COPIED_SIDECARS, *VSA_SIDECARS))])
        # The copied sidecars are dev's, unchanged: the statement still names the dev object.
        for suffix in COPIED_SIDECARS:
            assert garage.get(target + suffix) == garage.get(dev_key + suffix), suffix
    stage_vsa = garage.get(key_of("stage") + VSA)

    def published(key):  # where an attestation file is, as the summaries name it
        return f"{garage.cdn_base}/{key}"

    def sbom_statements(key):  # the signed SBOM statements the policy checked too
        return [{"uri": published(key + suffix), "digest": {"sha256": sha256_hex(garage.get(key + suffix))}}
                for suffix in (".cdx.intoto.json", ".spdx.intoto.json")]

    check_summary(stage_vsa, "stage", promoted.rows["stage"], keys,
                  [{"uri": published(dev_key + ".intoto.json"),
                    "digest": {"sha256": sha256_hex(dev_statement)}}, *sbom_statements(dev_key)],
                  {"from": "dev", "to": "stage", "pins": {"commit": COMMIT}})
    # main's summary lists the statement (read from stage: the same bytes) and stage's summary.
    check_summary(garage.get(key_of("main") + VSA), "main", promoted.rows["main"], keys,
                  [{"uri": published(key_of("stage") + ".intoto.json"),
                    "digest": {"sha256": sha256_hex(dev_statement)}},
                   {"uri": published(key_of("stage") + VSA),
                    "digest": {"sha256": sha256_hex(stage_vsa)}},
                   *sbom_statements(key_of("stage"))],
                  {"from": "stage", "to": "main", "pins": {}})


POLICY_URI = "https://example.invalid/publish-artifact/policies/promotion/v1"
# The policy's fields in the order their digest is taken over (docs/promotion.md).
POLICY_FIELDS = ("from", "to", "stages", "require_summary_for", "require_sbom",
                 "attestation_public_key_sha256", "pins")


def check_summary(raw: bytes, stage: str, row: dict, keys, inputs: list, policy: dict) -> None:
    """A SLSA Verification Summary v1 in a DSSE envelope, field by field
    (docs/promotion.md), its signature checked here."""
    summary = verified_statement(raw, keys.attestation)
    assert summary["_type"] == STATEMENT_TYPE
    assert summary["predicateType"] == VSA_TYPE
    assert summary["subject"] == [{"name": key_of(stage), "digest": {"sha256": row["sha256"]}}]
    predicate = summary["predicate"]
    assert predicate["verifier"]["id"] == VERIFIER
    assert predicate["verifier"]["version"]["publish-artifact"]
    verified_at = datetime.fromisoformat(predicate["timeVerified"].replace("Z", "+00:00"))
    assert verified_at.utcoffset() == timedelta(0)
    assert abs(datetime.now(timezone.utc) - verified_at) < timedelta(minutes=10)
    assert predicate["resourceUri"] == row["cdn_url"]
    assert predicate["inputAttestations"] == inputs
    assert predicate["verificationResult"] == "PASSED"
    assert predicate["verifiedLevels"] == ["SLSA_BUILD_LEVEL_1"]
    assert predicate["slsaVersion"] == "1.0"
    # The policy applied: named, spelled out, and its digest recomputed from what it says.
    applied = predicate["policy"]
    assert applied["uri"] == POLICY_URI
    assert applied["annotations"] == {"require_sbom": False, **policy,
                                      "stages": ["dev", "stage", "main"],
                                      "require_summary_for": ["main"],
                                      "attestation_public_key_sha256": keys.attestation.spki_sha256}
    assert set(applied["annotations"]) == set(POLICY_FIELDS)
    # Recomputable from the summary alone: compact JSON, keys sorted (jq -cS).
    canonical = json.dumps(applied["annotations"], separators=(",", ":"), sort_keys=True)
    assert applied["digest"] == {"sha256": sha256_hex(canonical.encode())}


def test_promote_prints_no_secret(garage, keys, dev, promoted):
    for run in promoted.runs.values():
        assert_no_secret(run.output, dev.row["encryption_key"], keys.promotion.secret_line,
                         keys.attestation.secret_line, TOKEN, garage.secret_key)


def test_attest_verify_accepts_a_promoted_object(cli, garage, keys, dev, promoted):
    for stage in ("stage", "main"):
        run = cli("attest", "verify", "--object-key", key_of(stage),
                  "--public-key", keys.attestation.public, "--commit", COMMIT,
                  env=garage.s3_env())
        assert run.returncode == 0, run.output
        summary = json.loads(run.stdout)
        assert summary["promoted"]["vsa"].endswith(key_of(stage) + VSA)
        assert summary["promoted"]["published_as"] == key_of("dev")
        assert summary["promoted"]["verifier"] == VERIFIER
        assert summary["promoted"]["time_verified"]
    # And through the cdn_url, as a loader-side operator would.
    run = cli("attest", "verify", "--url", promoted.rows["main"]["cdn_url"],
              "--public-key", keys.attestation.public)
    assert run.returncode == 0, run.output


@pytest.mark.parametrize("case", ["deleted", "signed by another key"])
def test_attest_verify_refuses_a_promoted_object_without_a_good_summary(cli, garage, keys, dev,
                                                                        promoted, case):
    s3 = garage.boto3()
    vsa = key_of("stage") + VSA
    # The summary's Sigstore bundle would vouch alone: it goes too (tests/test_sigstore_bundles.py
    # refuses a bundle signed by another key).
    s3.delete_object(Bucket=garage.bucket, Key=key_of("stage") + VSA_SIDECARS[1])
    if case == "deleted":
        s3.delete_object(Bucket=garage.bucket, Key=vsa)
    else:
        s3.put_object(Bucket=garage.bucket, Key=vsa,
                      Body=resigned(garage.get(vsa), keys.other_attestation))
    run = cli("attest", "verify", "--object-key", key_of("stage"),
              "--public-key", keys.attestation.public, env=garage.s3_env())
    assert run.returncode == REFUSED, run.output
    assert "vsa" in run.stderr.lower() or "verification summary" in run.stderr.lower(), run.stderr


def test_the_target_is_immutable_unless_replaced(cli, garage, admin_api, envs, dev):
    first = promote(cli, envs.promote, "--to", "stage")
    assert first.returncode == 0, first.output
    before = {key: garage.get(key) for key in keys_under(garage, "stage")}
    again = promote(cli, envs.promote, "--to", "stage")
    assert again.returncode == EXISTS, again.output
    assert key_of("stage") in again.stderr and "--replace" in again.stderr, again.stderr
    assert len(admin_api.stored) == 2
    assert keys_under(garage, "stage") == list(before)
    assert garage.get(key_of("stage")) == before[key_of("stage")]
    replaced = promote(cli, envs.promote, "--to", "stage", "--replace")
    assert replaced.returncode == 0, replaced.output
    assert json.loads(replaced.stdout)["replaced"] is True
    assert garage.get(key_of("stage")) == garage.get(key_of("dev"))


def test_dry_run_checks_and_writes_nothing(cli, garage, admin_api, envs, dev):
    # Neither the admin API nor the signing key is needed to only check.
    env = {k: v for k, v in envs.promote.items()
           if not k.startswith("ADMIN_API_") and k != "ATTESTATION_SIGNING_KEY"}
    run = promote(cli, env, "--to", "stage", "--dry-run")
    assert run.returncode == 0, run.output
    receipt = json.loads(run.stdout)
    assert receipt["dry_run"] is True and receipt["vsa"] is None
    assert receipt["object_key"] == key_of("stage") and receipt["sha256"] == dev.row["sha256"]
    assert keys_under(garage, "stage") == []
    assert len(admin_api.requests) == 1
    # And a dry run refuses what the real run would refuse.
    refused = promote(cli, env, "--to", "main", "--from", "dev", "--dry-run")
    assert refused.returncode == REFUSED, refused.output


# --- refusals: nothing is copied or registered before every check passed ----

def test_nothing_published_is_an_input_error(cli, garage, admin_api, envs):
    run = promote(cli, envs.promote, "--to", "stage")
    assert_refused(run, INPUT, ["nothing to promote", "does not exist"], garage, admin_api, rows=0)


def test_no_statement_is_refused(cli, garage, admin_api, envs, dev):
    # Neither form: the bare envelope alone is gone, its Sigstore bundle would do.
    for suffix in (".intoto.json", ".intoto.sigstore.json"):
        garage.boto3().delete_object(Bucket=garage.bucket, Key=key_of("dev") + suffix)
    run = promote(cli, envs.promote, "--to", "stage")
    assert_refused(run, REFUSED, [".intoto.json", "statement", "provenance"], garage, admin_api)


def test_an_unsigned_statement_is_refused(cli, tmp_path, garage, admin_api, envs):
    src = tmp_path / "image.tar"
    src.write_bytes(mixed_data(300_000, seed=17))
    env = dict(envs.publish)
    del env["ATTESTATION_SIGNING_KEY"]
    publish(cli, env, src)
    run = promote(cli, envs.promote, "--to", "stage")
    assert_refused(run, REFUSED, ["not signed", "unsigned"], garage, admin_api)


def test_a_statement_signed_by_another_key_is_refused(cli, tmp_path, garage, admin_api, envs, keys):
    src = tmp_path / "image.tar"
    src.write_bytes(mixed_data(300_000, seed=18))
    publish(cli, {**envs.publish, "ATTESTATION_SIGNING_KEY": keys.other_attestation.private_pem}, src)
    run = promote(cli, envs.promote, "--to", "stage")
    assert_refused(run, REFUSED, ["signature", "signed"], garage, admin_api)


def test_the_statement_of_another_object_is_refused(cli, tmp_path, garage, admin_api, envs, dev):
    other_version = "8-" + COMMIT[:12]
    other = tmp_path / "other.tar"
    other.write_bytes(mixed_data(300_000, seed=19))
    publish(cli, envs.publish, other, version=other_version)
    s3 = garage.boto3()
    # Both forms of it: the envelope and its Sigstore bundle.
    for suffix in (".intoto.json", ".intoto.sigstore.json"):
        s3.put_object(Bucket=garage.bucket, Key=key_of("dev") + suffix,
                      Body=garage.get(key_of("dev", other_version) + suffix))
    run = promote(cli, envs.promote, "--to", "stage")
    assert_refused(run, REFUSED, [key_of("dev", other_version), "subject"], garage, admin_api,
                   rows=2)


def test_a_tampered_dev_object_is_caught_after_the_copy(cli, garage, admin_api, envs, dev):
    obj = bytearray(garage.get(key_of("dev")))
    obj[len(obj) // 2] ^= 0x55  # same length: the size check passes, the digest cannot
    garage.boto3().put_object(Bucket=garage.bucket, Key=key_of("dev"), Body=bytes(obj))
    run = promote(cli, envs.promote, "--to", "stage")
    assert_refused(run, INTEGRITY, ["sha-256", "sha256", "digest"], garage, admin_api)


def test_a_dev_object_of_another_size_is_refused_before_the_copy(cli, garage, admin_api, envs, dev):
    obj = garage.get(key_of("dev"))
    garage.boto3().put_object(Bucket=garage.bucket, Key=key_of("dev"), Body=obj[:-16])
    run = promote(cli, envs.promote, "--to", "stage")
    assert_refused(run, INTEGRITY, ["size", "bytes"], garage, admin_api)


def test_a_wrong_promotion_private_key_is_refused(cli, garage, admin_api, envs, keys, dev):
    env = {**envs.promote, "PROMOTION_PRIVATE_KEY": keys.other_promotion.private_pem}
    run = promote(cli, env, "--to", "stage")
    assert_refused(run, REFUSED, ["wrap", "PROMOTION_PRIVATE_KEY"], garage, admin_api)
    assert_no_secret(run.output, keys.other_promotion.secret_line, dev.row["encryption_key"])


def test_a_key_wrap_for_another_object_is_refused(cli, tmp_path, garage, admin_api, envs, dev):
    other_version = "8-" + COMMIT[:12]
    other = tmp_path / "other.tar"
    other.write_bytes(mixed_data(300_000, seed=20))
    publish(cli, envs.publish, other, version=other_version)
    garage.boto3().put_object(Bucket=garage.bucket, Key=key_of("dev") + ".keywrap",
                              Body=garage.get(key_of("dev", other_version) + ".keywrap"))
    run = promote(cli, envs.promote, "--to", "stage")
    assert_refused(run, REFUSED, ["wrap"], garage, admin_api, rows=2)


def test_a_wrapped_key_that_is_not_the_committed_one_is_refused(cli, garage, admin_api, envs, keys,
                                                                dev):
    # Wrapped here, correctly for this object's label, but another key than the statement commits to.
    label = (WRAP_LABEL + dev.row["sha256"]).encode()
    wrong = keys.promotion.key.public_key().encrypt(os.urandom(32), padding.OAEP(
        mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label))
    garage.boto3().put_object(Bucket=garage.bucket, Key=key_of("dev") + ".keywrap", Body=wrong)
    run = promote(cli, envs.promote, "--to", "stage")
    assert_refused(run, REFUSED, ["commitment", "commits to"], garage, admin_api)


def test_a_missing_key_wrap_is_refused(cli, garage, admin_api, envs, dev):
    garage.boto3().delete_object(Bucket=garage.bucket, Key=key_of("dev") + ".keywrap")
    run = promote(cli, envs.promote, "--to", "stage")
    assert_refused(run, REFUSED, [".keywrap", "key wrap"], garage, admin_api)


def test_require_sbom_takes_only_a_source_with_its_signed_sboms(cli, tmp_path, garage, admin_api,
                                                               envs, keys, dev):
    required = {**envs.promote, "PLUGIN_REQUIRE_SBOM": "true"}
    # A source document that is not the one its statement signs stops the promotion.
    s3, cdx = garage.boto3(), key_of("dev") + ".cdx.json"
    original = garage.get(cdx)
    s3.put_object(Bucket=garage.bucket, Key=cdx, Body=original.replace(b'"version": 1', b'"version": 2'))
    run = promote(cli, envs.promote, "--to", "stage")
    assert_refused(run, REFUSED, ["not the one the statement signs"], garage, admin_api)
    s3.put_object(Bucket=garage.bucket, Key=cdx, Body=original)
    run = promote(cli, required, "--to", "stage")
    assert run.returncode == 0, run.output
    summary = verified_statement(garage.get(key_of("stage") + VSA), keys.attestation)
    assert summary["predicate"]["policy"]["annotations"]["require_sbom"] is True
    # A version published with --sbom off is refused when SBOMs are required, and only then.
    src = tmp_path / "bare.tar"
    src.write_bytes(mixed_data(50_000, seed=5))
    publish(cli, {**envs.publish, "PLUGIN_SBOM": "off"}, src, version="8-0123456789ab")
    run = promote(cli, required, "--to", "stage", version="8-0123456789ab")
    assert run.returncode == REFUSED, run.output
    assert ".cdx.json does not exist" in run.stderr and "--require-sbom" in run.stderr
    assert key_of("stage", "8-0123456789ab") not in garage.keys()
    assert promote(cli, envs.promote, "--to", "stage", version="8-0123456789ab").returncode == 0


def test_main_only_takes_what_stage_validated(cli, garage, admin_api, envs, dev):
    run = promote(cli, envs.promote, "--from", "dev", "--to", "main")
    assert_refused(run, REFUSED, ["verification summary", "vsa", "stage"], garage, admin_api,
                   target="main")
    # A stage copy whose summary is gone does not get further either.
    assert promote(cli, envs.promote, "--to", "stage").returncode == 0
    for suffix in VSA_SIDECARS:
        garage.boto3().delete_object(Bucket=garage.bucket, Key=key_of("stage") + suffix)
    run = promote(cli, envs.promote, "--to", "main")
    assert_refused(run, REFUSED, ["verification summary", "vsa"], garage, admin_api, rows=2,
                   target="main")


def test_which_targets_need_a_summary_is_configurable(cli, garage, admin_api, envs, keys, dev):
    # stage itself may demand a summary: a published dev copy has none.
    run = promote(cli, envs.promote, "--to", "stage", "--require-vsa-for", "stage")
    assert_refused(run, REFUSED, ["validated", "verification summary"], garage, admin_api)
    # And main may be let off: dev straight to main, its summary resting on the statement alone.
    run = promote(cli, envs.promote, "--from", "dev", "--to", "main", "--require-vsa-for", "stage")
    assert run.returncode == 0, run.output
    assert garage.get(key_of("main")) == garage.get(key_of("dev"))
    summary = verified_statement(garage.get(key_of("main") + VSA), keys.attestation)
    # The statement and the two SBOM statements: no summary of stage.
    assert len(summary["predicate"]["inputAttestations"]) == 3
    assert summary["predicate"]["policy"]["annotations"]["require_summary_for"] == ["stage"]


def test_a_commit_pin_that_does_not_match_is_refused(cli, garage, admin_api, envs, dev):
    run = promote(cli, envs.promote, "--to", "stage", "--commit", "f" * 40)
    assert_refused(run, REFUSED, ["commit", "pinned"], garage, admin_api)


def test_a_refused_registration_leaves_nothing_in_the_target(cli, garage, admin_api, envs, dev):
    admin_api.reset("401")
    run = promote(cli, envs.promote, "--to", "stage")
    assert_refused(run, REGISTRATION, ["401", "refused"], garage, admin_api, rows=0)
    assert len(admin_api.requests) == 1
    assert_no_secret(run.output, TOKEN, dev.row["encryption_key"])


@pytest.mark.parametrize("missing", ["PROMOTION_PRIVATE_KEY", "ATTESTATION_PUBLIC_KEY_FILE",
                                     "ATTESTATION_SIGNING_KEY"])
def test_a_missing_key_is_a_usage_error_before_anything_is_read(cli, envs, missing):
    # An S3 endpoint nobody listens on: a read would be exit 4, not 2.
    env = {k: v for k, v in envs.promote.items() if k != missing}
    env["S3_ENDPOINT"] = "http://127.0.0.1:9"
    run = promote(cli, env, "--to", "stage")
    assert run.returncode == USAGE, run.output
    assert missing.removesuffix("_FILE") in run.stderr, run.stderr


def test_a_bad_promotion_private_key_is_a_usage_error_and_not_printed(cli, envs, keys):
    garbled = keys.promotion.private_pem.replace(keys.promotion.secret_line,
                                                 keys.promotion.secret_line[::-1])
    for value in (garbled, keys.attestation.private_pem):
        env = {**envs.promote, "PROMOTION_PRIVATE_KEY": value, "S3_ENDPOINT": "http://127.0.0.1:9"}
        run = promote(cli, env, "--to", "stage")
        assert run.returncode == USAGE, run.output
        assert "PROMOTION_PRIVATE_KEY" in run.stderr
        assert_no_secret(run.output, keys.promotion.secret_line, keys.attestation.secret_line)


# --- the Woodpecker step, run as Woodpecker would run it -------------------

def test_the_promote_workflow_step_promotes(cli, garage, admin_api, publish_env, keys, dev):
    """.woodpecker/promote.yml's settings, turned into PLUGIN_* variables
    the way Woodpecker does, with the deployment's CI variables and a secret
    store holding the test servers' credentials; the binary run without
    arguments, as a plugin's entrypoint is."""
    [step] = yaml.safe_load((ROOT / ".woodpecker" / "promote.yml").read_text())["steps"]
    secrets = {name.lower(): value for name, value in {
        **publish_env, "CDN_PUBLIC_BASE_URL": garage.cdn_base,
        "ATTESTATION_PUBLIC_KEY": keys.attestation.public_pem,
        "ATTESTATION_SIGNING_KEY": keys.attestation.private_pem,
        "PROMOTION_PRIVATE_KEY": keys.promotion.private_pem}.items()}
    for target in ("stage", "main"):
        variables = {**DEPLOY_CI, "CI_PIPELINE_DEPLOY_TARGET": target}
        run = cli(env={**variables, **plugin_env(step["settings"], variables, secrets)})
        assert run.returncode == 0, run.output
        assert json.loads(run.stdout)["object_key"] == key_of(target)
    assert garage.get(key_of("main")) == garage.get(key_of("dev"))
    assert [r.json()["dev_stage"] for r in admin_api.stored] == ["dev", "stage", "main"]
    # The deployment of another commit's pipeline cannot promote this one.
    variables = {**DEPLOY_CI, "CI_PIPELINE_DEPLOY_TARGET": "stage", "CI_COMMIT_SHA": COMMIT[:12] + "f" * 28}
    run = cli(env={**variables, **plugin_env(step["settings"], variables, secrets)})
    assert run.returncode == REFUSED, run.output
    assert "commit" in run.stderr.lower(), run.stderr

