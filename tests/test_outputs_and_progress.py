"""Issue 27, items 1 and 3: `--progress` shows something when stderr is not a
terminal (a CI log), and `seal --out` never silently replaces an object whose
key lives elsewhere."""

import re

from conftest import mixed_data, openssl_open, publish_args

# `publishing: 12.00 MiB of 40.00 MiB (30%), 9.10 MiB/s, eta 3 seconds`
LINE = re.compile(
    r"^publishing: [\d.]+ \w+ of [\d.]+ \w+ \(\d{1,3}%\), [\d.]+ \w+/s, eta .+$", re.M
)


def test_progress_off_a_terminal_is_plain_lines(cli, tmp_path, publish_env):
    src = tmp_path / "big.bin"
    # Incompressible, so sealing takes long enough for several tenths to pass.
    src.write_bytes(mixed_data(40 << 20, seed=27))
    run = cli(*publish_args(src), "--progress", env=publish_env)
    assert run.returncode == 0, run.stderr
    lines = LINE.findall(run.stderr)
    # A line per tenth of the way (one a 200 ms tick at most), and 5-second ones.
    assert len(lines) >= 3, run.stderr
    assert "\x1b[" not in run.stderr, "no ANSI redraws in a log"


def test_without_progress_a_log_gets_only_the_summary(cli, tmp_path, publish_env):
    src = tmp_path / "small.bin"
    src.write_bytes(mixed_data(3 << 20, seed=28))
    run = cli(*publish_args(src), env=publish_env)
    assert run.returncode == 0, run.stderr
    assert not LINE.search(run.stderr), run.stderr


def seal(cli, src, out, key, *extra):
    return cli("seal", "--file", src, "--out", out, "--key-out", key, *extra)


def test_seal_refuses_an_existing_out_and_keeps_the_pair(cli, tmp_path):
    src = tmp_path / "model.trt"
    src.write_bytes(mixed_data(100_000, seed=29))
    out, first_key = tmp_path / "model.enc", tmp_path / "first.key"
    assert seal(cli, src, out, first_key).returncode == 0
    before = out.read_bytes()

    second_key = tmp_path / "second.key"
    run = seal(cli, src, out, second_key)
    assert run.returncode == 7, run.stderr
    assert str(out) in run.stderr and "--force" in run.stderr
    # Nothing was written: the old object still opens with its own key, and
    # no new key file was left behind.
    assert out.read_bytes() == before
    assert not second_key.exists()
    assert openssl_open(before, first_key.read_text().strip()) == src.read_bytes()

    forced = seal(cli, src, out, second_key, "--force")
    assert forced.returncode == 0, forced.stderr
    assert openssl_open(out.read_bytes(), second_key.read_text().strip()) == src.read_bytes()
