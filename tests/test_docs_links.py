"""Every relative link in the README and docs/ names a file of this
repository: a fresh clone, alone in a directory, is the whole project."""

import re

import pytest

from conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# [text](target) and [text](target "title"); not images' remote URLs.
LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def relative_links(text: str) -> list:
    links = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL or an anchor on the same page
        links.append(target.split("#", 1)[0])
    return links


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve_inside_the_repository(page):
    for link in relative_links(page.read_text()):
        target = (page.parent / link).resolve()
        assert target.is_relative_to(ROOT), f"{link} leaves the repository"
        assert target.exists(), f"{link} does not exist"


def test_the_link_check_sees_links():
    found = relative_links("see [the contract](../elsewhere/contract.md#x) and [web](https://x.y/z)")
    assert found == ["../elsewhere/contract.md"]
    assert any(relative_links(page.read_text()) for page in PAGES)
