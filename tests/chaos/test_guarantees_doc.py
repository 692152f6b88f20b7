"""README's "Guarantees" section (en and ja): every promise names tests that exist, and the
two languages make the same promises, proved by the same tests, in the same order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = {"README.md": "## Guarantees", "README.ja.md": "## 保証"}


def _proofs(name: str) -> list[list[str]]:
    """The test paths each row of the section's table cites, row by row."""
    text = (ROOT / name).read_text(encoding="utf-8")
    start = text.index(SECTIONS[name])
    section = text[start : text.index("\n## ", start + 3)]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    return [re.findall(r"`(tests/[^`]+\.py)`", row.split("|")[-2]) for row in rows[1:]]


@pytest.mark.parametrize("name", SECTIONS)
def test_every_promise_names_tests_that_exist(name: str) -> None:
    rows = _proofs(name)
    assert len(rows) >= 8
    for cited in rows:
        assert cited, f"{name}: a promise without a test"
        for path in cited:
            assert (ROOT / path).is_file(), path
            assert re.search(r"^(async )?def test_", (ROOT / path).read_text(), re.M), path


def test_both_languages_make_the_same_promises() -> None:
    assert _proofs("README.md") == _proofs("README.ja.md")
