"""`publish-artifact seal`: objects that openssl and gunzip open to the input."""

import json
import os
import stat
import subprocess

import pytest

from conftest import BLOCK, assert_no_secret, mixed_data, openssl_open, sha256_hex, sha256sum

SIZES = [0, 1, 15, 16, 17, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK, 5 * BLOCK + 12345]


def seal(cli, tmp_path, data: bytes, *extra, name="in.bin"):
    src = tmp_path / name
    src.write_bytes(data)
    out, key = tmp_path / "out.enc", tmp_path / "key"
    run = cli("seal", "--file", src, "--out", out, "--key-out", key, *extra)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout), out, key, run


@pytest.mark.parametrize("size", SIZES)
def test_object_opens_with_openssl_and_gunzip(cli, tmp_path, size):
    data = mixed_data(size, seed=size)
    summary, out, key, _ = seal(cli, tmp_path, data)
    obj = out.read_bytes()
    assert openssl_open(obj, key.read_text().strip()) == data
    assert summary["sha256"] == sha256sum(out)
    assert summary["size_bytes"] == len(obj) == out.stat().st_size
    assert summary["plaintext_size_bytes"] == size
    assert summary["plaintext_sha256"] == sha256_hex(data)
    # IV, then whole blocks; the padding adds 1 to 16 bytes.
    assert summary["size_bytes"] == 16 + (summary["compressed_size_bytes"] // 16 + 1) * 16


@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_every_level_opens(cli, tmp_path, level):
    data = mixed_data(BLOCK + 777, seed=level)
    summary, out, key, _ = seal(cli, tmp_path, data, "--level", level)
    assert summary["level"] == level
    assert openssl_open(out.read_bytes(), key.read_text().strip()) == data


def test_key_file_is_private_and_the_key_is_not_printed(cli, tmp_path):
    _, _, key, run = seal(cli, tmp_path, b"secret model weights")
    key_hex = key.read_text().strip()
    assert len(key_hex) == 64 and key_hex == key_hex.lower()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert_no_secret(run.output, key_hex)


def test_two_seals_differ_in_key_iv_and_digest(cli, tmp_path):
    data = mixed_data(100_000)
    results = []
    for i in range(2):
        d = tmp_path / str(i)
        d.mkdir()
        summary, out, key, _ = seal(cli, d, data)
        results.append((key.read_text(), out.read_bytes()[:16], summary["sha256"]))
    (k1, iv1, s1), (k2, iv2, s2) = results
    assert k1 != k2 and iv1 != iv2 and s1 != s2


def test_thread_count_does_not_change_the_bytes(cli, tmp_path):
    src = tmp_path / "in.bin"
    src.write_bytes(mixed_data(3 * BLOCK + 5))
    key = tmp_path / "key"
    key.write_text("11" * 32 + "\n")
    iv = "22" * 16
    objects = []
    for threads in (1, 2, 5):
        out = tmp_path / f"out{threads}"
        run = cli("seal", "--file", src, "--out", out, "--key-file", key, "--iv", iv,
                  "--threads", threads)
        assert run.returncode == 0, run.stderr
        objects.append(out.read_bytes())
    assert objects[0] == objects[1] == objects[2]
    assert objects[0][:16] == bytes.fromhex(iv)


def test_refuses_to_overwrite_a_key_file(cli, tmp_path):
    src = tmp_path / "in.bin"
    src.write_bytes(b"data")
    key = tmp_path / "key"
    key.write_text("keep me")
    out = tmp_path / "out.enc"
    run = cli("seal", "--file", src, "--out", out, "--key-out", key)
    assert run.returncode != 0
    assert "never overwritten" in run.stderr
    assert key.read_text() == "keep me"
    assert not out.exists()


@pytest.mark.parametrize("level", ["10", "-1", "six"])
def test_bad_level_is_a_usage_error(cli, tmp_path, level):
    src = tmp_path / "in.bin"
    src.write_bytes(b"data")
    run = cli("seal", "--file", src, "--out", tmp_path / "o", "--key-out", tmp_path / "k",
              f"--level={level}")
    assert run.returncode == 2
    assert "--level" in run.stderr
    assert not (tmp_path / "k").exists()


@pytest.mark.parametrize("case", ["missing", "directory"])
def test_bad_input_file_is_named_and_nothing_is_written(cli, tmp_path, case):
    src = tmp_path / "input"
    if case == "directory":
        src.mkdir()
    run = cli("seal", "--file", src, "--out", tmp_path / "o", "--key-out", tmp_path / "k")
    assert run.returncode == 3
    assert str(src) in run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == (["input"] if case == "directory" else [])


def test_unreadable_input_is_an_input_error(cli, tmp_path):
    """Run as an unprivileged user (root reads any file), on a file it may
    see but not read."""
    src = tmp_path / "input"
    src.write_bytes(b"x")
    src.chmod(0)
    tmp_path.chmod(0o777)
    argv = []
    if os.geteuid() == 0:
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    run = subprocess.run([*argv, str(cli.binary), "seal", "--file", str(src), "--out",
                          str(tmp_path / "o"), "--key-out", str(tmp_path / "k")],
                         env=cli.env({"PUBLISH_ARTIFACT_CACHE_DIR": "none"}),
                         capture_output=True, text=True)
    assert run.returncode == 3, run.stderr
    assert "Permission denied" in run.stderr and str(src) in run.stderr
    assert not (tmp_path / "k").exists()
