"""`publish-artifact open`: the plaintext back, or a clear refusal and no file."""

import json

import pytest

from conftest import BLOCK, mixed_data, sha256_hex


@pytest.fixture
def sealed(cli, tmp_path):
    data = mixed_data(2 * BLOCK + 999, seed=7)
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    out, key = tmp_path / "obj.enc", tmp_path / "key"
    run = cli("seal", "--file", src, "--out", out, "--key-out", key)
    assert run.returncode == 0, run.stderr
    return data, out.read_bytes(), key, json.loads(run.stdout)["sha256"]


def open_object(cli, tmp_path, obj: bytes, key, sha: str):
    path = tmp_path / "candidate.enc"
    path.write_bytes(obj)
    out = tmp_path / "restored"
    run = cli("open", "--file", path, "--key-file", key, "--sha256", sha, "--out", out)
    return run, out


def test_round_trip(cli, tmp_path, sealed):
    data, obj, key, sha = sealed
    run, out = open_object(cli, tmp_path, obj, key, sha)
    assert run.returncode == 0, run.stderr
    assert out.read_bytes() == data
    assert json.loads(run.stdout)["plaintext_sha256"] == sha256_hex(data)


def flip(obj: bytes, at: int) -> bytes:
    b = bytearray(obj)
    b[at] ^= 0x40
    return bytes(b)


CASES = {
    # name: (object transform, sha transform, key transform, words in the error)
    "wrong key": (lambda o: o, lambda s, o: s, True, "key is wrong"),
    "flipped IV byte": (lambda o: flip(o, 3), lambda s, o: s, False, "SHA-256"),
    "flipped middle byte": (lambda o: flip(o, len(o) // 2), lambda s, o: s, False, "SHA-256"),
    "flipped last byte": (lambda o: flip(o, len(o) - 1), lambda s, o: s, False, "SHA-256"),
    "truncated by a block": (lambda o: o[:-16], lambda s, o: s, False, "SHA-256"),
    "truncated by a byte": (lambda o: o[:-1], lambda s, o: s, False, "truncated"),
    "wrong expected sha256": (lambda o: o, lambda s, o: "ab" * 32, False, "SHA-256"),
    "shorter than 32 bytes": (lambda o: o[:31], lambda s, o: sha256_hex(o), False, "32 bytes"),
    "only the IV": (lambda o: o[:16], lambda s, o: sha256_hex(o), False, "32 bytes"),
    "ragged length, right digest": (lambda o: o[:-7], lambda s, o: sha256_hex(o), False, "16-byte"),
    "flipped byte, digest of the altered object": (
        lambda o: flip(o, len(o) // 2), lambda s, o: sha256_hex(o), False, "gzip"),
}


@pytest.mark.parametrize("case", CASES)
def test_rejects_and_writes_nothing(cli, tmp_path, sealed, case):
    data, obj, key, sha = sealed
    alter_obj, alter_sha, wrong_key, words = CASES[case]
    bad = alter_obj(obj)
    if wrong_key:
        key = tmp_path / "wrong-key"
        key.write_text("00" * 32)
    run, out = open_object(cli, tmp_path, bad, key, alter_sha(sha, bad))
    assert run.returncode == 6, run.stderr
    assert words in run.stderr
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_bad_key_file_is_an_input_error(cli, tmp_path, sealed):
    _, obj, _, sha = sealed
    key = tmp_path / "key"
    key.write_text("not a key")
    run, out = open_object(cli, tmp_path, obj, key, sha)
    assert run.returncode == 3
    assert "key" in run.stderr
    assert not out.exists()


def test_malformed_sha256_is_a_usage_error(cli, tmp_path, sealed):
    _, obj, key, _ = sealed
    run, out = open_object(cli, tmp_path, obj, key, "xyz")
    assert run.returncode == 2
    assert "--sha256" in run.stderr
