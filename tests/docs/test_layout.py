"""The layout stays readable: one module owns one thing, so no source file grows past ~900 lines."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "lighterfast"
LIMIT = 900
# Hand-written sources under src/lighterfast; Cython's generated *.c files are not checked.
SOURCE_PATTERNS = ("*.py", "*.pyx", "*.pxi", "*.pyi", "*.h")


def _line_counts(files: list[Path]) -> dict[str, int]:
    """Line count of each file, keyed by its path relative to the repository root."""
    return {p.relative_to(ROOT).as_posix(): len(p.read_text().splitlines()) for p in files}


def test_no_source_file_is_over_the_limit() -> None:
    sizes = _line_counts([p for pattern in SOURCE_PATTERNS for p in SRC.rglob(pattern)])
    assert any(name.endswith(".pyx") for name in sizes), "no Cython sources found"
    assert {name: n for name, n in sizes.items() if n > LIMIT} == {}


def test_no_test_or_benchmark_file_is_over_the_limit() -> None:
    files = [*(ROOT / "tests").rglob("*.py"), *(ROOT / "benchmarks").glob("*.py")]
    sizes = _line_counts(files)
    assert sizes, "no tests found"
    assert {name: n for name, n in sizes.items() if n > LIMIT} == {}


def test_every_layer_is_a_package_with_an_index() -> None:
    for layer in ("core", "wire", "transport", "signing", "dealer", "ws", "apps", "testnode"):
        index = SRC / layer / "__init__.py"
        assert index.is_file(), f"{layer}/ has no __init__.py"
        assert index.read_text().lstrip().startswith('"""'), f"{layer}/__init__.py has no docstring"
