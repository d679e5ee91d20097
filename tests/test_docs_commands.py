"""The commands README.md and docs/ show work with the binary they describe.

- Every `publish-artifact ...` command line (in a shell code block or an
  inline code span) parses: the real binary is run with it and `--help`
  appended, so clap checks each subcommand, flag and value it names and
  then prints help instead of running anything.
- The ones that can run here (local, offline: seal, open, verify, selftest,
  guest export, -V) are run, page by page, in a fresh directory, in the order
  the page shows them, with the placeholders filled in from what the earlier
  commands made.
- Every environment variable the docs give the tool (a table of variables,
  an `export` or a `NAME=value publish-artifact ...` in a code block, or any
  name in the tool's own namespaces) is one the tool reads.
"""

import hashlib
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import ROOT, mixed_data

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SHELL = {"sh", "bash", "shell", ""}
INLINE = re.compile(r"`(publish-artifact(?: [^`]*)?)`")
PLACEHOLDER = re.compile(r"<[^<>\n]*>")
ENV_NAME = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")
ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$", re.S)
OPERATORS = {"&&", "||", "|", ";"}
# A value clap checks the form of, for a flag whose value the docs leave open.
VALID_VALUE = {"--sha256": "0" * 64, "--iv": "0" * 32, "--level": "6", "--threads": "2",
               "--older-than": "24h"}
# The prefixes of the variables that are the tool's alone (or the contract's).
OWN_PREFIXES = ("S3_", "ADMIN_API_", "CDN_PUBLIC_", "PLUGIN_", "PUBLISH_ARTIFACT_",
                "ATTESTATION_", "PROMOTION_")
# Subcommands that run here: nothing leaves the machine.
OFFLINE = {"seal", "open", "verify", "selftest", "guest", "-V", "--version"}
# The flags naming a file a command reads: it runs only if the page made it.
INPUT_FLAGS = {"--file", "--key-file", "--against", "--archive", "--image-manifest"}


@dataclass
class Invocation:
    page: Path
    text: str      # as the page shows it, continuation lines joined
    env: dict      # NAME=value before the command
    args: list     # after `publish-artifact`, placeholders as `<...>`
    optional: list  # indexes of args that were inside [...]
    in_block: bool  # a whole command line, not a mention in prose

    def __str__(self):
        return f"{self.page.relative_to(ROOT)}: {self.text}"


def code_blocks(page_text: str) -> list:
    """(info string, body) of each fenced code block, and the prose between
    them (info string None)."""
    parts, info, lines = [], None, []
    for line in page_text.splitlines():
        if line.startswith("```"):
            parts.append((info, "\n".join(lines)))
            info, lines = (line[3:].strip() if info is None else None), []
        else:
            lines.append(line)
    parts.append((info, "\n".join(lines)))
    return parts


def shell_lines(page_text: str) -> list:
    """The logical lines of the page's shell code blocks (a trailing `\\`
    joins the next line)."""
    lines = []
    for info, body in code_blocks(page_text):
        if info in SHELL:
            lines.extend(body.replace("\\\n", " ").splitlines())
    return lines


def prose(page_text: str) -> str:
    return "\n".join(body for info, body in code_blocks(page_text) if info is None)


def tokens_of(line: str) -> list:
    """Shell words, comments dropped; `<64 hex>` stays one word; `[--x v]`
    marks its words optional (as `(word, True)`)."""
    protected = PLACEHOLDER.sub(lambda m: m.group(0).replace(" ", "\x00"), line)
    try:
        words = shlex.split(protected, comments=True)
    except ValueError:
        return []  # not a command (an unbalanced quote in prose)
    marked, depth = [], 0
    for word in words:
        word = word.replace("\x00", " ")
        opens = word.startswith("[") and not word.startswith("[[")
        depth += opens
        bare = word.lstrip("[") if opens else word
        closes = bare.endswith("]") and depth > 0
        bare = bare[:-1] if closes else bare
        marked.append((bare, depth > 0))
        depth -= closes
    return marked


def invocations_in(page: Path) -> list:
    text = page.read_text()
    lines = [(line, True) for line in shell_lines(text)]
    lines += [(span, False) for span in INLINE.findall(prose(text))]
    found = []
    for line, in_block in lines:
        words = tokens_of(line)
        segment = []
        for word in [*words, (";", False)]:
            if word[0] in OPERATORS:
                found.extend(invocation(page, line, segment, in_block))
                segment = []
            else:
                segment.append(word)
    return found


def invocation(page, line, words, in_block) -> list:
    env = {}
    while words and ASSIGNMENT.match(words[0][0]):
        name, value = ASSIGNMENT.match(words[0][0]).groups()
        env[name] = value
        words = words[1:]
    if len(words) < 2 or words[0][0] != "publish-artifact":
        return []  # another command, or the tool's name in prose
    words = words[1:]
    if not in_block:
        # Prose elides with `...` (`publish-artifact publish ...`): no argument.
        words = [w for i, w in enumerate(words)
                 if w[0] != "..." or (i > 0 and words[i - 1][0].startswith("--"))]
    args = [w for w, _ in words]
    optional = [i for i, (_, opt) in enumerate(words) if opt]
    return [Invocation(page, line.strip(), env, args, optional, in_block)]


ALL = [inv for page in PAGES for inv in invocations_in(page)]


def is_placeholder(value: str) -> bool:
    return bool(PLACEHOLDER.fullmatch(value) or re.fullmatch(r"\$\w+|[A-Z_]+|\.\.\.", value))


def with_valid_values(args: list) -> list:
    """Placeholders of values clap checks the form of, filled in."""
    filled = list(args)
    for i, arg in enumerate(filled[:-1]):
        if arg in VALID_VALUE and is_placeholder(filled[i + 1]):
            filled[i + 1] = VALID_VALUE[arg]
    return filled


def test_the_docs_show_commands():
    """The extraction finds the commands (a broken pattern would pass everything)."""
    shown = {inv.args[0] for inv in ALL if inv.args}
    assert {"seal", "open", "verify", "fetch", "promote", "attest", "cleanup", "selftest",
            "guest", "image", "--file"} <= shown, shown
    assert len(ALL) > 25


@pytest.mark.parametrize("inv", ALL, ids=str)
def test_every_command_shown_parses(cli, inv):
    run = cli(*with_valid_values(inv.args), "--help")
    assert run.returncode == 0 and "Usage:" in run.stdout, f"{inv}\n{run.stderr}"


# --- running what can run here ----------------------------------------------

def runnable(inv: Invocation) -> bool:
    return inv.in_block and inv.args[0] in OFFLINE


class Page:
    """A fresh directory for one page's commands, with the inputs a reader
    would have (a model, an image tarball), and what the commands made."""

    def __init__(self, folder: Path):
        self.folder = folder
        for name in ("model.trt", "image.tar", "loader.tar"):
            (folder / name).write_bytes(mixed_data(150_000, seed=len(name)))
        self.key = None  # the last key a seal wrote

    def fill(self, inv: Invocation):
        """The arguments without the optional ones, the placeholders filled
        in, and the environment; None when an input it names is not here."""
        args = [a for i, a in enumerate(inv.args) if i not in inv.optional]
        for i, arg in enumerate(args[:-1]):
            value = args[i + 1]
            if arg in INPUT_FLAGS and not (self.folder / value).exists():
                return None
            if arg == "--sha256" and is_placeholder(value):
                file = args[args.index("--file") + 1]
                args[i + 1] = hashlib.sha256((self.folder / file).read_bytes()).hexdigest()
        env = {}
        for name, value in inv.env.items():
            if is_placeholder(value):
                if self.key is None:
                    return None
                value = self.key
            env[name] = value
        return args, env

    def made(self, args: list):
        if args[0] == "seal" and "--key-out" in args:
            self.key = (self.folder / args[args.index("--key-out") + 1]).read_text().strip()


RUNNABLE_PAGES = [page for page in PAGES if any(runnable(inv) for inv in invocations_in(page))]


@pytest.mark.parametrize("page", RUNNABLE_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_offline_commands_run_as_shown(cli, tmp_path, page):
    here = Page(tmp_path)
    ran = []
    for inv in invocations_in(page):
        if not runnable(inv):
            continue
        filled = here.fill(inv)
        if filled is None:
            continue
        args, env = filled
        run = cli(*args, env=env, cwd=tmp_path)
        assert run.returncode == 0, f"{inv}\n{run.output}"
        here.made(args)
        ran.append(args[0])
    assert ran, f"nothing of {page.name} could run here"


def test_the_readme_walks_through_seal_open_and_verify():
    readme = [inv.args[0] for inv in invocations_in(ROOT / "README.md") if runnable(inv)]
    assert readme[:1] == ["seal"] and {"open", "verify", "selftest"} <= set(readme), readme


# --- environment variables --------------------------------------------------

def variable_tables(text: str) -> list:
    """The cells of every table whose first column is headed `variable`."""
    cells, in_table = [], False
    for line in text.splitlines():
        if not line.startswith("|"):
            in_table = False
            continue
        row = [cell.strip() for cell in line.strip("|").split("|")]
        if row[0] == "variable":
            in_table = True
        elif in_table and not set(row[0]) <= set("-: "):
            cells.extend(row)
    return cells


def given_to_the_tool(words: list) -> list:
    """The variables a shell line sets for the tool: `export NAME=...`, or
    `NAME=... publish-artifact ...` (not a snippet's own `LABEL=$(...)`)."""
    words = [word for word, _ in words]
    if words[:1] == ["export"]:
        return [ASSIGNMENT.match(w).group(1) for w in words[1:] if ASSIGNMENT.match(w)]
    leading = []
    for word in words:
        if not ASSIGNMENT.match(word):
            return leading if word == "publish-artifact" else []
        leading.append(ASSIGNMENT.match(word).group(1))
    return []


def variables_named(page: Path) -> set:
    text = page.read_text()
    named = set()
    for cell in variable_tables(text):
        for code in re.findall(r"`([^`]*)`", cell):
            named.update(ENV_NAME.findall(code))
    for line in shell_lines(text):
        named.update(given_to_the_tool(tokens_of(line)))
    code = " ".join(re.findall(r"`([^`\n]*)`", text)) + " ".join(shell_lines(text))
    named.update(name for name in ENV_NAME.findall(code) if name.startswith(OWN_PREFIXES))
    return named


SOURCES = [*(ROOT / "host" / "src").rglob("*.rs"), *(ROOT / "python" / "publish_artifact").glob("*.py")]


def read_by_the_tool() -> set:
    """Every quoted name in the host's and the Python package's source; a
    `PLUGIN_X` is read wherever `X` is (config::lookup reads both spellings)."""
    names = set()
    for source in SOURCES:
        names.update(re.findall(r"\"([A-Z][A-Z0-9_]+)\"", source.read_text()))
    return names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_variable_the_docs_name_is_read(page):
    known = read_by_the_tool()
    named = variables_named(page)
    unknown = sorted(name for name in named
                     if name not in known and name.removeprefix("PLUGIN_") not in known)
    assert unknown == [], f"{page.name} names variables the tool does not read: {unknown}"


def test_the_variable_check_sees_variables():
    readme = variables_named(ROOT / "README.md")
    assert {"S3_ENDPOINT", "ADMIN_API_TOKEN", "PUBLISH_ARTIFACT_CACHE_DIR", "XDG_CACHE_HOME",
            "PLUGIN_FILE", "PUBLISH_ARTIFACT_KEY"} <= readme, readme
    assert {"S3_ENDPOINT", "PUBLISH_ARTIFACT_LOG"} <= read_by_the_tool()
    assert "NOT_READ_ANYWHERE" not in read_by_the_tool()
