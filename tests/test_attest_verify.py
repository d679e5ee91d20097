"""`attest verify`: statements made here, independently (openssl signs, the
statement follows docs/provenance.md), are accepted; each way a statement or
an object can be wrong is refused with exit 9 and a sentence naming it."""

import base64
import json

import pytest

from conftest import sha256_hex
from provenance import envelope, make_key, statement

OBJECT_KEY = "dev/loader-arm64-7-0123456789ab.enc"
REFUSED = 9


@pytest.fixture
def signed(tmp_path):
    """An object, its signed statement beside it, and the key pair."""
    key = make_key(tmp_path / "keys")
    obj = tmp_path / "loader-arm64-7-0123456789ab.enc"
    obj.write_bytes(bytes(range(256)) * 300)
    env = envelope(statement(OBJECT_KEY, sha256_hex(obj.read_bytes())), key)
    beside = tmp_path / f"{obj.name}.intoto.json"
    beside.write_text(json.dumps(env))
    return obj, beside, key


def verify(cli, *args, env=None):
    return cli("attest", "verify", *args, env=env)


def test_a_signed_statement_and_its_object_are_accepted(cli, signed):
    obj, _, key = signed
    run = verify(cli, "--file", obj, "--public-key", key.public)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["signed_by"] == key.keyid
    assert summary["sha256"] == sha256_hex(obj.read_bytes())
    assert summary["object_key"] == OBJECT_KEY
    assert summary["commit"] == "0123456789abcdef0123456789abcdef01234567"


def test_a_flipped_byte_in_the_object_is_refused(cli, signed):
    obj, _, key = signed
    data = bytearray(obj.read_bytes())
    data[1000] ^= 1
    obj.write_bytes(bytes(data))
    run = verify(cli, "--file", obj, "--public-key", key.public)
    assert run.returncode == REFUSED, run.output
    assert "SHA-256" in run.stderr, run.stderr


def flip(field: str, at, bit: int):
    """Returns an edit of the envelope that flips one bit of a base64 field
    (`at` picks the byte in the decoded bytes)."""
    def edit(env: dict):
        holder = env if field == "payload" else env["signatures"][0]
        data = bytearray(base64.b64decode(holder[field]))
        data[at(data)] ^= bit
        holder[field] = base64.b64encode(bytes(data)).decode()
    return edit


def edit_envelope(path, edit):
    env = json.loads(path.read_text())
    edit(env)
    path.write_text(json.dumps(env))


def test_a_flipped_byte_in_the_payload_is_refused(cli, signed):
    obj, beside, key = signed
    # "dev" -> "Dev": the payload is still valid JSON.
    edit_envelope(beside, flip("payload", lambda data: data.index(b'"dev"') + 1, 0x20))
    run = verify(cli, "--file", obj, "--public-key", key.public)
    assert run.returncode == REFUSED, run.output
    assert "no signature" in run.stderr, run.stderr


def test_a_flipped_byte_in_the_signature_is_refused(cli, signed):
    obj, beside, key = signed
    edit_envelope(beside, flip("sig", lambda data: len(data) - 5, 1))
    run = verify(cli, "--file", obj, "--public-key", key.public)
    assert run.returncode == REFUSED, run.output


def test_a_wrong_public_key_is_refused(cli, signed, tmp_path):
    obj, _, _ = signed
    other = make_key(tmp_path / "other-keys")
    run = verify(cli, "--file", obj, "--public-key", other.public)
    assert run.returncode == REFUSED, run.output
    assert other.keyid in run.stderr, run.stderr


def test_unsigned_is_refused_unless_allowed(cli, signed, tmp_path):
    obj, _, key = signed
    unsigned = tmp_path / "unsigned.intoto.json"
    unsigned.write_text(json.dumps(envelope(statement(OBJECT_KEY, sha256_hex(obj.read_bytes())))))
    run = verify(cli, "--file", obj, "--statement", unsigned, "--public-key", key.public)
    assert run.returncode == REFUSED, run.output
    assert "not signed" in run.stderr and "--allow-unsigned" in run.stderr, run.stderr
    run = verify(cli, "--file", obj, "--statement", unsigned, "--allow-unsigned")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["signed_by"] is None
    assert "NOT checked" in run.stderr
    # Allowing unsigned does not let a bad signature through when a key is given.
    run = verify(cli, "--file", obj, "--allow-unsigned", "--public-key", make_key(tmp_path / "k2").public)
    assert run.returncode == REFUSED, run.output


PINS = {
    "--builder-id": "https://ci.example.com#linux/arm64",
    "--repository": "https://git.example.com/acme/loader",
    "--commit": "0123456789abcdef0123456789abcdef01234567",
    "--stage": "dev",
}


def test_matching_pins_pass(cli, signed):
    obj, _, key = signed
    pins = [part for pair in PINS.items() for part in pair]
    run = verify(cli, "--file", obj, "--public-key", key.public, *pins)
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize("pin", PINS)
def test_a_pin_that_does_not_match_is_refused(cli, signed, pin):
    obj, _, key = signed
    run = verify(cli, "--file", obj, "--public-key", key.public, pin, "other")
    assert run.returncode == REFUSED, run.output
    assert "pinned" in run.stderr, run.stderr


def test_a_statement_of_another_kind_is_refused(cli, signed):
    obj, beside, key = signed
    other = statement(OBJECT_KEY, sha256_hex(obj.read_bytes()))
    other["predicateType"] = "https://slsa.dev/provenance/v0.2"
    beside.write_text(json.dumps(envelope(other, key)))
    run = verify(cli, "--file", obj, "--public-key", key.public)
    assert run.returncode == REFUSED, run.output
    assert "predicateType" in run.stderr, run.stderr


def test_usage_errors_come_before_any_read(cli, signed, tmp_path):
    obj, _, key = signed
    run = verify(cli, "--file", obj)
    assert run.returncode == 2 and "--public-key" in run.stderr, run.output
    private_as_public = verify(cli, "--file", obj, "--public-key", key.private)
    assert private_as_public.returncode == 2, private_as_public.output
    missing = verify(cli, "--file", tmp_path / "nothing.enc", "--public-key", key.public)
    assert missing.returncode == 3, missing.output


def test_objects_in_the_bucket_and_behind_a_url(cli, signed, garage, tmp_path):
    obj, beside, key = signed
    garage.clear()
    s3 = garage.boto3()
    s3.put_object(Bucket=garage.bucket, Key=OBJECT_KEY, Body=obj.read_bytes())
    s3.put_object(Bucket=garage.bucket, Key=OBJECT_KEY + ".intoto.json", Body=beside.read_bytes())
    by_key = verify(cli, "--object-key", OBJECT_KEY, "--public-key", key.public, env=garage.s3_env())
    assert by_key.returncode == 0, by_key.stderr
    url = f"{garage.cdn_base}/{OBJECT_KEY}"
    by_url = verify(cli, "--url", url, "--public-key", key.public)
    assert by_url.returncode == 0, by_url.stderr
    assert json.loads(by_url.stdout)["statement"] == url + ".intoto.json"
    # The statement of one object does not vouch for another key.
    s3.put_object(Bucket=garage.bucket, Key="dev/other.enc", Body=obj.read_bytes())
    s3.put_object(Bucket=garage.bucket, Key="dev/other.enc.intoto.json", Body=beside.read_bytes())
    other = verify(cli, "--object-key", "dev/other.enc", "--public-key", key.public, env=garage.s3_env())
    assert other.returncode == REFUSED, other.output
    assert "dev/other.enc" in other.stderr
    garage.clear()
