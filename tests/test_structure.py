"""The layering the code promises, read from the sources: no import circle
inside a domain folder, `image` independent of `attest`, and subcommands
thin enough to read (no function in `commands/` over 80 lines).

Imports are read from `use` lines and `crate::`/`super::` paths outside
`#[cfg(test)]` modules (tests may reach anywhere)."""

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "host" / "src"
MAX_COMMAND_FUNCTION_LINES = 80


def without_tests(text: str) -> str:
    """The source up to its `#[cfg(test)] mod tests`, which comes last, and
    without comments (a doc may name any module)."""
    code = re.split(r"#\[cfg\(test\)\]\s*(?:pub(?:\(crate\))? )?mod tests", text, maxsplit=1)[0]
    return re.sub(r"//.*", "", code)


def modules(folder: str) -> dict:
    """Module name -> source (without tests) of every file in a folder."""
    return {
        path.stem: without_tests(path.read_text())
        for path in sorted((SRC / folder).glob("*.rs"))
        if path.stem != "mod"
    }


def imports(folder: str, source: str, siblings) -> set:
    """The sibling modules one file of `folder` names."""
    named = set()
    for match in re.finditer(rf"\b(?:super|crate::{folder})::(\{{[^}}]*\}}|\w+)", source):
        group = match.group(1)
        names = re.findall(r"\w+", group) if group.startswith("{") else [group]
        # `use super::{a, b::C}`: the first word of each path is the module.
        if group.startswith("{"):
            names = [part.strip().split("::")[0] for part in group.strip("{}").split(",")]
        named.update(name for name in names if name in siblings)
    return named


def cycle(graph: dict):
    """One import circle of the graph, or None."""
    state = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt, path + [nxt])
                if found:
                    return found
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [node])
            if found:
                return found
    return None


@pytest.mark.parametrize("folder", ["attest", "sealing", "image", "store", "publishing", "sbom"])
def test_no_import_circle_inside_a_domain(folder):
    sources = modules(folder)
    graph = {name: imports(folder, text, sources) - {name} for name, text in sources.items()}
    assert graph, f"no modules found in {folder}/"
    assert cycle(graph) is None, f"{folder}/ imports in a circle: {' -> '.join(cycle(graph))}"


def test_the_cycle_finder_finds_one():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_image_imports_nothing_from_attest():
    for path in sorted((SRC / "image").glob("*.rs")):
        source = without_tests(path.read_text())
        assert "crate::attest" not in source, f"{path.name} imports attest"


def functions(source: str):
    """(name, lines) of every function, from its `fn` line to the brace
    that closes it at the same indentation."""
    lines = source.splitlines()
    for start, line in enumerate(lines):
        found = re.match(r"^(\s*)(?:pub(?:\([a-z]+\))? )?(?:async )?fn (\w+)", line)
        if not found:
            continue
        indent, name = found.groups()
        for end in range(start, len(lines)):
            if lines[end] == f"{indent}}}" or (end == start and line.rstrip().endswith("}")):
                yield name, end - start + 1
                break


def test_the_function_reader_counts_lines():
    source = "fn a() {\n    x();\n}\n    pub fn b() {\n        y();\n        z();\n    }\n"
    assert list(functions(source)) == [("a", 3), ("b", 4)]


def test_no_function_in_commands_is_longer_than_a_screen():
    long = [
        f"{path.name}: {name} ({count} lines)"
        for path in sorted((SRC / "commands").glob("*.rs"))
        for name, count in functions(without_tests(path.read_text()))
        if count > MAX_COMMAND_FUNCTION_LINES
    ]
    assert not long, f"over {MAX_COMMAND_FUNCTION_LINES} lines: {long}"
