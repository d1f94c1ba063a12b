"""The docs name only what exists: every repository path, relative link and `make` target they mention."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TOP_LEVEL = ("src/", "tests/", "local/", "events/", "statemachine/", "docs/", ".ci/")
FILES = ("template.yaml", "samconfig.toml", "Makefile", "pyproject.toml", "package.json")
# A path in backticks, or a relative link target: `src/lookout_diagnostics/domain/alerts.py`, (docs/x.md#anchor)
CODE_SPAN = re.compile(r"`([^`\s]+)`")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
# `make X` in a code span, or a line of a code block that starts with it (prose may say "make the ...")
MAKE = re.compile(r"(?:^|`)make ([a-z][a-z-]*)", re.MULTILINE)


def _mentions(doc: Path) -> set[str]:
    text = doc.read_text()
    spans = {span for span in CODE_SPAN.findall(text) if span.startswith(TOP_LEVEL) or span in FILES}
    links = {link for link in LINK.findall(text) if not link.startswith(("http://", "https://"))}
    return {path.rstrip(".,:;") for path in spans} | {str((doc.parent / link).relative_to(ROOT)) for link in links}


@pytest.mark.parametrize("doc", DOCS, ids=[str(doc.relative_to(ROOT)) for doc in DOCS])
def test_every_path_a_document_names_exists(doc: Path) -> None:
    # Given the repository paths and relative links a document mentions
    mentioned = _mentions(doc.resolve())
    # When each is looked up (a glob pattern must match something)
    missing = sorted(
        path for path in mentioned if not (any(ROOT.glob(path)) if "*" in path else (ROOT / path).exists())
    )
    # Then none is missing
    assert missing == [], f"{doc.name} names what does not exist: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=[str(doc.relative_to(ROOT)) for doc in DOCS])
def test_every_make_target_a_document_names_exists(doc: Path) -> None:
    # Given the Makefile's targets, and the `make X` commands a document gives
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))
    named = set(MAKE.findall(doc.read_text()))
    # Then each is a target
    assert named <= targets, f"{doc.name} names make targets that do not exist: {sorted(named - targets)}"


def test_the_mentions_are_found_at_all() -> None:
    # A check that finds nothing checks nothing: the README names the two commands and the docs' files
    readme = ROOT / "README.md"
    assert {"docs/contracts.md", "docs/operations.md", "statemachine/train_model.asl.json"} <= _mentions(readme)
    assert {"demo", "test"} <= set(MAKE.findall(readme.read_text()))
