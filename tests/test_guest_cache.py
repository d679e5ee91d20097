"""The compiled-guest cache: reused when good, rebuilt when not, never an error."""

import re

import pytest


def seal_with_log(cli, tmp_path, cache_dir):
    src = tmp_path / "in.bin"
    src.write_bytes(b"cache me" * 1000)
    for stale in ("out", "key"):
        (tmp_path / stale).unlink(missing_ok=True)
    run = cli("seal", "--file", src, "--out", tmp_path / "out", "--key-out", tmp_path / "key",
              env={"PUBLISH_ARTIFACT_CACHE_DIR": str(cache_dir), "PUBLISH_ARTIFACT_LOG": "debug"})
    assert run.returncode == 0, run.stderr
    match = re.search(r"compiled-guest cache: (\w+)", run.stderr)
    assert match, run.stderr
    return match.group(1), run.stderr


def test_second_run_hits_the_cache(cli, tmp_path):
    cache = tmp_path / "cache"
    assert seal_with_log(cli, tmp_path, cache)[0] == "stored"
    assert seal_with_log(cli, tmp_path, cache)[0] == "hit"
    (entry,) = cache.glob("guest-*.cwasm")
    assert entry.stat().st_mode & 0o077 == 0
    assert cache.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_damaged_entry_is_rebuilt(cli, tmp_path, damage):
    cache = tmp_path / "cache"
    seal_with_log(cli, tmp_path, cache)
    (entry,) = cache.glob("guest-*.cwasm")
    good = entry.read_bytes()
    entry.write_bytes({"garbage": b"\x7fELF not really" * 100,
                       "truncated": good[: len(good) // 2],
                       "empty": b""}[damage])
    assert seal_with_log(cli, tmp_path, cache)[0] == "stored"
    assert entry.read_bytes() == good
    assert seal_with_log(cli, tmp_path, cache)[0] == "hit"


def test_an_entry_for_another_engine_is_ignored(cli, tmp_path):
    """An entry named for this guest but made by another wasmtime or CPU has
    another compatibility hash in its name, so it is never even opened; a
    file of ours in that spot with foreign contents is rebuilt (above)."""
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    (cache / "guest-0000000000000000-0000000000000000.cwasm").write_bytes(b"foreign")
    assert seal_with_log(cli, tmp_path, cache)[0] == "stored"


def test_a_directory_others_can_write_is_not_trusted(cli, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o777)
    outcome, stderr = seal_with_log(cli, tmp_path, cache)
    assert outcome == "uncached"
    assert "writable by group or others" in stderr
    assert not list(cache.iterdir())


def test_the_cache_can_be_turned_off(cli, tmp_path):
    assert seal_with_log(cli, tmp_path, "none")[0] == "uncached"
