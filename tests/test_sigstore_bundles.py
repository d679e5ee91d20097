"""Every signature a signed publish or a promotion writes is also beside the
object as a Sigstore bundle (v0.3, key-based: the public key's hint, no
certificate, no transparency log), which the verifiers people run read.
Checked with what is not the tool: sigstore-js (`@sigstore/verify` from npm,
tests/sigstore_js/verify.mjs) with the public key as its only trust
material accepts each bundle and refuses it with one byte of payload,
signature or artifact changed and under another key; securesystemslib
verifies the DSSE inside; the bundle's JSON is read field by field against
protobuf-specs' `Bundle`. Then the tool's one policy: `attest verify`
accepts a bundle alone and refuses one that differs from the bare file."""

import base64
import hashlib
import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import (Encoding, NoEncryption, PrivateFormat,
                                                          PublicFormat, load_pem_public_key)
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey

from conftest import ROOT, mixed_data, publish_args
from provenance import make_key

SIGSTORE_JS = ROOT / "tests" / "sigstore_js"
MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
VERSION = "7-0123456789ab"
DEV = f"dev/loader-arm64-{VERSION}.enc"
STAGE = f"stage/loader-arm64-{VERSION}.enc"
REFUSED = 9
# Each DSSE bundle beside the file whose envelope it holds.
DSSE_BUNDLES = {".intoto.sigstore.json": ".intoto.json",
                ".cdx.intoto.sigstore.json": ".cdx.intoto.json",
                ".spdx.intoto.sigstore.json": ".spdx.intoto.json"}
VSA_BUNDLE = {".vsa.intoto.sigstore.json": ".vsa.intoto.json"}
# The `.sha256.sig` as a messageSignature over the `.sha256` file.
MESSAGE_BUNDLE = ".sha256.sigstore.json"


# --- keys and a publish promoted once ---------------------------------------

@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bundle-keys")
    promotion = rsa.generate_private_key(65537, 3072)
    promotion_private = folder / "promotion.pem"
    promotion_private.write_bytes(promotion.private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
                                                          NoEncryption()))
    promotion_private.chmod(0o600)
    return SimpleNamespace(
        signing=make_key(folder, "signing"), other=make_key(folder, "other"),
        promotion_private=promotion_private.read_text(),
        promotion_public=promotion.public_key().public_bytes(
            Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode())


@pytest.fixture
def published(cli, tmp_path, garage, admin_api, publish_env, keys):
    """A file published to dev with a signing and a promotion key (so with
    its SBOMs, their statements, the `.sha256.sig` and every bundle), then
    promoted to stage."""
    src = tmp_path / "image.tar"
    src.write_bytes(mixed_data(200_000, seed=24))
    env = {**publish_env, "CDN_PUBLIC_BASE_URL": garage.cdn_base,
           "ATTESTATION_SIGNING_KEY": keys.signing.private.read_text(),
           "PROMOTION_PUBLIC_KEY": keys.promotion_public}
    run = cli(*publish_args(src, version=VERSION), "--json", env=env)
    assert run.returncode == 0, run.output
    promote = cli("promote", "--resource-name", "loader", "--architecture", "arm64",
                  "--version", VERSION, "--to", "stage", "--json",
                  env={**env, "ATTESTATION_PUBLIC_KEY_FILE": str(keys.signing.public),
                       "PROMOTION_PRIVATE_KEY": keys.promotion_private})
    assert promote.returncode == 0, promote.output
    return SimpleNamespace(publish=json.loads(run.stdout), promote=json.loads(promote.stdout))


def every_bundle():
    """(object key, bundle suffix, bare suffix) of each bundle dev and stage hold."""
    dsse = [(DEV, bundle, bare) for bundle, bare in DSSE_BUNDLES.items()]
    dsse += [(STAGE, bundle, bare) for bundle, bare in {**DSSE_BUNDLES, **VSA_BUNDLE}.items()]
    return dsse + [(key, MESSAGE_BUNDLE, ".sha256.sig") for key in (DEV, STAGE)]


# --- sigstore-js --------------------------------------------------------------

def sigstore_js(bundle: bytes, public_key: Path, folder: Path, artifact: bytes = None):
    """tests/sigstore_js/verify.mjs on the bundle (and the signed file, for
    a messageSignature): the public key as the only trust material."""
    assert (SIGSTORE_JS / "node_modules" / "@sigstore" / "verify").exists(), \
        "sigstore-js is missing: run scripts/setup.sh"
    path = folder / "checked.sigstore.json"
    path.write_bytes(bundle)
    args = ["node", str(SIGSTORE_JS / "verify.mjs"), str(path), str(public_key)]
    if artifact is not None:
        (folder / "artifact").write_bytes(artifact)
        args.append(str(folder / "artifact"))
    return subprocess.run(args, capture_output=True, text=True, cwd=SIGSTORE_JS, timeout=60)


def accepted(run) -> dict:
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout)


def refused(run, says: str):
    assert run.returncode == 1, run.stdout + run.stderr
    assert says in run.stderr, run.stderr


def flipped(text: str, at: int) -> str:
    """The base64 `text` with one byte of what it encodes changed."""
    raw = bytearray(base64.b64decode(text))
    raw[at % len(raw)] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def artifact_of(garage, key, suffix):
    return garage.get(key + ".sha256") if suffix == MESSAGE_BUNDLE else None


# --- the bundle, field by field ----------------------------------------------

def test_each_bundle_holds_exactly_the_signature_beside_it(garage, keys, published):
    s3 = garage.boto3()
    for key, suffix, bare_suffix in every_bundle():
        raw = garage.get(key + suffix)
        bundle = json.loads(raw)
        assert s3.head_object(Bucket=garage.bucket, Key=key + suffix)["ContentType"] == MEDIA_TYPE
        # Only fields protobuf-specs' Bundle has (sigstore-go refuses others).
        content = "messageSignature" if suffix == MESSAGE_BUNDLE else "dsseEnvelope"
        assert set(bundle) == {"mediaType", "verificationMaterial", content}, suffix
        assert bundle["mediaType"] == MEDIA_TYPE
        assert bundle["verificationMaterial"] == {"publicKey": {"hint": keys.signing.keyid},
                                                  "tlogEntries": []}
        bare = garage.get(key + bare_suffix)
        if content == "dsseEnvelope":
            envelope = bundle["dsseEnvelope"]
            assert envelope == json.loads(bare), suffix
            [signature] = envelope["signatures"]
            assert signature["keyid"] == keys.signing.keyid
        else:
            signed = bundle["messageSignature"]
            assert set(signed) == {"messageDigest", "signature"}
            checksum = garage.get(key + ".sha256")
            assert signed["messageDigest"] == {
                "algorithm": "SHA2_256",
                "digest": base64.b64encode(hashlib.sha256(checksum).digest()).decode()}
            assert signed["signature"] == bare.decode()
    # The receipts name them as written.
    assert DEV + ".intoto.sigstore.json" in published.publish["provenance"]["sidecars"]
    assert STAGE + ".vsa.intoto.sigstore.json" in published.promote["sidecars"]


def test_securesystemslib_verifies_the_dsse_inside_each_bundle(garage, keys, published):
    public = SSlibKey.from_crypto(load_pem_public_key(keys.signing.public.read_bytes()),
                                  keyid=keys.signing.keyid)
    for key, suffix, _ in every_bundle():
        if suffix == MESSAGE_BUNDLE:
            continue
        envelope = json.loads(garage.get(key + suffix))["dsseEnvelope"]
        assert keys.signing.keyid in Envelope.from_dict(dict(envelope)).verify([public], 1), suffix


def test_promotion_carries_the_bundles_and_makes_its_summarys(garage, published):
    for suffix in (*DSSE_BUNDLES, MESSAGE_BUNDLE):
        assert garage.get(STAGE + suffix) == garage.get(DEV + suffix), suffix
    # dev was published, not promoted: it has no summary of either form.
    assert not {DEV + ".vsa.intoto.json", DEV + ".vsa.intoto.sigstore.json"} & set(garage.keys())
    summary = json.loads(garage.get(STAGE + ".vsa.intoto.sigstore.json"))["dsseEnvelope"]
    assert summary == json.loads(garage.get(STAGE + ".vsa.intoto.json"))


# --- sigstore-js accepts them, and refuses each changed byte -----------------

def test_sigstore_js_accepts_every_bundle(garage, keys, published, tmp_path):
    for key, suffix, _ in every_bundle():
        run = sigstore_js(garage.get(key + suffix), keys.signing.public, tmp_path,
                          artifact_of(garage, key, suffix))
        verdict = accepted(run)
        assert verdict["keyid"] == keys.signing.keyid
        assert verdict["content"] == ("messageSignature" if suffix == MESSAGE_BUNDLE
                                      else "dsseEnvelope")


@pytest.mark.parametrize("suffix", [*DSSE_BUNDLES, *VSA_BUNDLE])
def test_sigstore_js_refuses_a_dsse_bundle_changed_or_under_another_key(
        garage, keys, published, tmp_path, suffix):
    key = STAGE
    bundle = json.loads(garage.get(key + suffix))
    check = lambda changed, public=keys.signing.public: sigstore_js(
        json.dumps(changed).encode(), public, tmp_path)
    accepted(check(bundle))
    payload = json.loads(json.dumps(bundle))
    payload["dsseEnvelope"]["payload"] = flipped(payload["dsseEnvelope"]["payload"], 40)
    refused(check(payload), "signature verification failed")
    signature = json.loads(json.dumps(bundle))
    sig = signature["dsseEnvelope"]["signatures"][0]
    sig["sig"] = flipped(sig["sig"], 20)
    refused(check(signature), "signature verification failed")
    # Another key: not found under the bundle's hint, and where the hint
    # names it, its signature check fails.
    refused(check(bundle, keys.other.public), "key not found")
    hinted = json.loads(json.dumps(bundle))
    hinted["verificationMaterial"]["publicKey"]["hint"] = keys.other.keyid
    refused(check(hinted, keys.other.public), "signature verification failed")


def test_sigstore_js_refuses_a_message_bundle_changed_or_under_another_key(
        garage, keys, published, tmp_path):
    bundle = json.loads(garage.get(DEV + MESSAGE_BUNDLE))
    checksum = garage.get(DEV + ".sha256")
    check = lambda changed, artifact=checksum, public=keys.signing.public: sigstore_js(
        json.dumps(changed).encode(), public, tmp_path, artifact)
    accepted(check(bundle))
    # One byte of the signed file (the .sha256 line the object is checked by).
    artifact = bytearray(checksum)
    artifact[3] ^= 0x01
    refused(check(bundle, bytes(artifact)), "signature verification failed")
    signature = json.loads(json.dumps(bundle))
    signature["messageSignature"]["signature"] = flipped(signature["messageSignature"]["signature"],
                                                         20)
    refused(check(signature), "signature verification failed")
    refused(check(bundle, public=keys.other.public), "key not found")
    hinted = json.loads(json.dumps(bundle))
    hinted["verificationMaterial"]["publicKey"]["hint"] = keys.other.keyid
    refused(check(hinted, public=keys.other.public), "signature verification failed")


# --- attest verify: either form, never two that differ ------------------------

def verify(cli, garage, keys, key, *extra):
    return cli("attest", "verify", "--object-key", key, "--public-key", keys.signing.public,
               "--require-sbom", *extra, env=garage.s3_env())


def test_attest_verify_accepts_the_bundles_alone(cli, garage, keys, published):
    s3 = garage.boto3()
    for key in (DEV, STAGE):
        for bare in (*DSSE_BUNDLES.values(), *VSA_BUNDLE.values(), ".sha256.sig"):
            s3.delete_object(Bucket=garage.bucket, Key=key + bare)
        run = verify(cli, garage, keys, key)
        assert run.returncode == 0, run.output
        report = json.loads(run.stdout)
        assert report["statement"].endswith(key + ".intoto.sigstore.json"), report
        assert report["signed_by"] == keys.signing.keyid
    assert json.loads(run.stdout)["promoted"]["vsa"].endswith(STAGE + ".vsa.intoto.sigstore.json")


def test_attest_verify_takes_a_bundle_for_its_statement(cli, garage, keys, published, tmp_path):
    obj = tmp_path / "loader.enc"
    obj.write_bytes(garage.get(DEV))
    statement = tmp_path / "provenance.sigstore.json"
    statement.write_bytes(garage.get(DEV + ".intoto.sigstore.json"))
    run = cli("attest", "verify", "--file", obj, "--statement", statement,
              "--public-key", keys.signing.public)
    assert run.returncode == 0, run.output
    other = cli("attest", "verify", "--file", obj, "--statement", statement,
                "--public-key", keys.other.public)
    assert other.returncode == REFUSED, other.output


@pytest.mark.parametrize("suffix", [*DSSE_BUNDLES, *VSA_BUNDLE, MESSAGE_BUNDLE])
def test_attest_verify_refuses_a_bundle_that_differs_from_the_bare_file(
        cli, garage, keys, published, suffix):
    assert verify(cli, garage, keys, STAGE).returncode == 0
    bundle = json.loads(garage.get(STAGE + suffix))
    if suffix == MESSAGE_BUNDLE:
        # Another good signature of the same line: it verifies, but it is
        # not the `.sha256.sig` beside it.
        other = keys.signing.sign(garage.get(STAGE + ".sha256"))
        bundle["messageSignature"]["signature"] = base64.b64encode(other).decode()
        says = "holds another signature than"
    else:
        # The envelope of another signed statement of the same object.
        other = ".cdx.intoto.json" if suffix != ".cdx.intoto.sigstore.json" else ".intoto.json"
        bundle["dsseEnvelope"] = json.loads(garage.get(STAGE + other))
        says = "holds another envelope than"
    garage.boto3().put_object(Bucket=garage.bucket, Key=STAGE + suffix,
                              Body=json.dumps(bundle).encode())
    run = verify(cli, garage, keys, STAGE)
    assert run.returncode == REFUSED, run.output
    assert says in run.stderr and STAGE + suffix in run.stderr, run.stderr
