"""The compiled-guest cache: reused when good, rebuilt when not, never an error."""

import os
import re
import subprocess

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


# --- without HOME: the Python API's `env=` is the tool's whole environment ---

def seal_in_env(cli, tmp_path, env):
    """A seal with exactly `env` (plus PATH) as its environment, logging at
    debug; returns the cache outcome and stderr."""
    src = tmp_path / "in.bin"
    src.write_bytes(b"cache me" * 1000)
    for stale in ("out", "key"):
        (tmp_path / stale).unlink(missing_ok=True)
    run = subprocess.run(
        [str(cli.binary), "seal", "--file", str(src), "--out", str(tmp_path / "out"),
         "--key-out", str(tmp_path / "key")],
        env={"PATH": os.environ["PATH"], "PUBLISH_ARTIFACT_LOG": "debug", **env},
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr
    match = re.search(r"compiled-guest cache: (\w+)", run.stderr)
    assert match, run.stderr
    return match.group(1), run.stderr


def loose(root):
    """Everything under `root` that its group or others may write, or read
    (the cache is code we run and nobody else's business)."""
    return [path for path in [root, *root.rglob("*")] if path.lstat().st_mode & 0o077]


@pytest.fixture
def tmpdir_env(tmp_path):
    """A private temporary directory, as TMPDIR, and the cache the tool
    makes in it for us."""
    temp = tmp_path / "tmp"
    temp.mkdir(mode=0o700)
    return {"TMPDIR": str(temp)}, temp / f"publish-artifact-{os.geteuid()}"


def test_without_home_the_cache_is_in_the_temporary_directory(cli, tmp_path, tmpdir_env):
    env, cache = tmpdir_env
    assert seal_in_env(cli, tmp_path, env)[0] == "stored"
    assert seal_in_env(cli, tmp_path, env)[0] == "hit"
    assert len(list(cache.glob("guest-*.cwasm"))) == 1
    assert loose(cache) == []


def test_without_home_xdg_cache_home_comes_first(cli, tmp_path, tmpdir_env):
    env, temp_cache = tmpdir_env
    env = {**env, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert seal_in_env(cli, tmp_path, env)[0] == "stored"
    assert seal_in_env(cli, tmp_path, env)[0] == "hit"
    assert len(list((tmp_path / "xdg" / "publish-artifact").glob("guest-*.cwasm"))) == 1
    assert not temp_cache.exists()


def hostile(kind, temp, cache, tmp_path):
    """Prepares the temporary directory the way another user of the machine
    could have; returns what the warning must say."""
    if kind == "writable by others":
        cache.mkdir()
        cache.chmod(0o777)
        return "writable by group or others"
    if kind == "a symbolic link":
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir(mode=0o700)
        cache.symlink_to(elsewhere)
        return "symbolic link"
    if kind == "owned by another user":
        cache.mkdir(mode=0o700)
        os.chown(cache, 4321, 4321)
        return "owned by uid 4321"
    temp.chmod(0o777)  # a temporary directory anyone may write, without the sticky bit
    return "not sticky"


@pytest.mark.parametrize("kind", ["writable by others", "a symbolic link", "owned by another user",
                                  "a parent without the sticky bit"])
def test_a_temporary_directory_others_control_is_not_used(cli, tmp_path, tmpdir_env, kind):
    if kind == "owned by another user" and os.geteuid() != 0:
        pytest.skip("only root can give a directory to another user")
    env, cache = tmpdir_env
    says = hostile(kind, cache.parent, cache, tmp_path)
    outcome, _ = seal_in_env(cli, tmp_path, env)
    assert outcome == "uncached"
    # At the default log level: one line, the warning, naming the place and why.
    run = subprocess.run(
        [str(cli.binary), "seal", "--file", str(tmp_path / "in.bin"), "--out",
         str(tmp_path / "out2"), "--key-out", str(tmp_path / "key2")],
        env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True, timeout=300,
        stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if "cach" in line]
    assert len(warnings) == 1 and str(cache) in warnings[0] and says in warnings[0], run.stderr
    planted = cache.resolve()
    assert not planted.is_dir() or list(planted.iterdir()) == [], "wrote into a place others control"
