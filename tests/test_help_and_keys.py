"""`--help` says what the tool does, and `open`, `verify` and `fetch` take
their key the same way, with the same exit codes: a key file that is missing,
unreadable or holds no key is exit 3 (input); no key at all, or a
PUBLISH_ARTIFACT_KEY that is not a key, exit 2 (a bad environment), before
anything is read or sent. Everything through the real binary."""

import json
import re

import pytest

from conftest import mixed_data
from test_fetch import ObjectServer

USAGE, INPUT = 2, 3
KEY_VAR = "PUBLISH_ARTIFACT_KEY"


def help_text(cli, *command) -> str:
    run = cli(*command, "--help")
    assert run.returncode == 0, run.output
    return run.stdout


def usage_line(cli, *command) -> str:
    [line] = [line for line in help_text(cli, *command).splitlines() if line.startswith("Usage:")]
    return line


def required_in(usage: str, flag: str) -> bool:
    """Whether `flag` appears in the usage line outside any `[...]`."""
    depth, outside = 0, []
    for char in usage:
        depth += char == "["
        outside.append(char if depth == 0 else " ")
        depth -= char == "]"
    return re.search(rf"{re.escape(flag)}\b", "".join(outside)) is not None


def option_help(cli, flag: str, *command) -> str:
    """The help of one option: its line and the indented lines under it."""
    lines = help_text(cli, *command).splitlines()
    [at] = [i for i, line in enumerate(lines) if line.strip().startswith(flag + " ")]
    block = [lines[at]]
    for line in lines[at + 1:]:
        if not line.startswith(" " * 10) or line.strip().startswith("-"):
            break
        block.append(line)
    return " ".join(" ".join(block).split())  # the columns differ between commands


def test_the_required_pieces_of_the_usage_lines():
    assert required_in("Usage: x seal <--key-out <PATH>|--key-file <PATH>>", "--key-out")
    assert not required_in("Usage: x cleanup [OPTIONS] [--dry-run] --prefix <P>", "--dry-run")
    assert not required_in("Usage: x [--key-file <PATH>] --out", "--key-file")


def test_seal_says_it_needs_a_key_out_or_a_key_file(cli):
    usage = usage_line(cli, "seal")
    assert required_in(usage, "--key-out"), usage
    assert "--key-file" in usage, usage


def test_seal_without_a_key_source_is_refused_by_the_parser(cli, tmp_path):
    (tmp_path / "in").write_bytes(b"x")
    run = cli("seal", "--file", tmp_path / "in", "--out", tmp_path / "out")
    assert run.returncode == USAGE
    assert "--key-out" in run.stderr
    assert not (tmp_path / "out").exists()


def test_cleanup_shows_dry_run_as_optional(cli):
    usage = usage_line(cli, "cleanup")
    assert required_in(usage, "--prefix") and required_in(usage, "--older-than"), usage
    assert not required_in(usage, "--dry-run"), usage


def test_a_cleanup_missing_a_flag_shows_dry_run_as_optional(cli):
    """clap's error repeats the flags given in its usage line, as if required."""
    run = cli("cleanup", "--prefix", "dev/", "--dry-run")
    assert run.returncode == USAGE
    assert "--older-than" in run.stderr
    [usage] = [line for line in run.stderr.splitlines() if line.startswith("Usage:")]
    assert not required_in(usage, "--dry-run"), usage


@pytest.mark.parametrize("command", ["open", "verify", "fetch"])
def test_every_opener_documents_the_same_key_sources(cli, command):
    said = option_help(cli, "--key-file", command)
    assert said == option_help(cli, "--key-file", "verify")
    assert KEY_VAR in said and "exit 3" in said and "exit 2" in said, said
    assert not required_in(usage_line(cli, command), "--key-file")


# --- the same key sources and exit codes for all three ----------------------

@pytest.fixture
def sealed(cli, tmp_path):
    data = mixed_data(200_000, seed=27)
    (tmp_path / "model.trt").write_bytes(data)
    run = cli("seal", "--file", tmp_path / "model.trt", "--out", tmp_path / "model.enc",
              "--key-out", tmp_path / "model.key")
    assert run.returncode == 0, run.output
    return data, json.loads(run.stdout)["sha256"]


@pytest.fixture
def server(tmp_path, sealed):
    served = ObjectServer((tmp_path / "model.enc").read_bytes())
    yield served
    served.stop()


def run_opener(cli, tmp_path, server, sha, command, key_file=None, key=None):
    """`command` on the sealed object; the key from `key_file` and/or the
    variable holding `key` (no variable at all when None)."""
    where = {"open": ["--file", tmp_path / "model.enc", "--out", tmp_path / "out"],
             "verify": ["--file", tmp_path / "model.enc"],
             "fetch": ["--url", server.url, "--out", tmp_path / "out"]}[command]
    key_flags = ["--key-file", key_file] if key_file is not None else []
    env = {KEY_VAR: key} if key is not None else {}
    return cli(command, *where, "--sha256", sha, *key_flags, env=env)


OPENERS = ["open", "verify", "fetch"]


@pytest.mark.parametrize("command", OPENERS)
def test_the_key_may_come_from_the_environment(cli, tmp_path, server, sealed, command):
    data, sha = sealed
    run = run_opener(cli, tmp_path, server, sha, command,
                     key=(tmp_path / "model.key").read_text().strip())
    assert run.returncode == 0, run.output
    if command != "verify":
        assert (tmp_path / "out").read_bytes() == data


@pytest.mark.parametrize("command", OPENERS)
def test_a_key_file_wins_over_the_environment(cli, tmp_path, server, sealed, command):
    _, sha = sealed
    run = run_opener(cli, tmp_path, server, sha, command, key_file=tmp_path / "model.key",
                     key="0f" * 32)
    assert run.returncode == 0, run.output


@pytest.mark.parametrize("command", OPENERS)
@pytest.mark.parametrize("case, code, says", [
    ("no key", USAGE, ["--key-file", KEY_VAR]),
    ("empty variable", USAGE, ["--key-file", KEY_VAR]),
    ("malformed variable", USAGE, [KEY_VAR, "64 hex digits"]),
    ("variable not hex", USAGE, [KEY_VAR, "hex digits only"]),
    ("missing key file", INPUT, ["missing.key"]),
    ("malformed key file", INPUT, ["bad.key", "64 hex digits"]),
    ("key file is a directory", INPUT, ["keydir"]),
])
def test_each_bad_key_has_its_exit_code(cli, tmp_path, server, sealed, command, case, code, says):
    _, sha = sealed
    (tmp_path / "bad.key").write_text("deadbeef\n")
    (tmp_path / "bad.key").chmod(0o600)  # no warning about its mode: one line only
    (tmp_path / "keydir").mkdir()
    key_file, key = {
        "no key": (None, None),
        "empty variable": (None, ""),
        "malformed variable": (None, "deadbeef"),
        "variable not hex": (None, "zz" * 32),
        "missing key file": (tmp_path / "missing.key", None),
        "malformed key file": (tmp_path / "bad.key", None),
        "key file is a directory": (tmp_path / "keydir", None),
    }[case]
    run = run_opener(cli, tmp_path, server, sha, command, key_file=key_file, key=key)
    assert run.returncode == code, run.output
    [line] = run.stderr.splitlines()
    assert line.startswith("error: ") and all(word in line for word in says), line
    assert "deadbeef" not in run.output and "zz" * 4 not in run.output
    assert not (tmp_path / "out").exists()
    assert server.ranges == [], "a download started before the key was checked"
