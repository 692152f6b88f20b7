"""The layout stays readable: one module owns one thing, so no source file grows past ~900 lines."""

from __future__ import annotations

from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "lighterfast"
LIMIT = 900


def test_no_python_module_is_over_the_limit() -> None:
    sizes = {
        p.relative_to(SRC).as_posix(): len(p.read_text().splitlines()) for p in SRC.rglob("*.py")
    }
    assert sizes, "no sources found"
    assert {name: n for name, n in sizes.items() if n > LIMIT} == {}


def test_every_layer_is_a_package_with_an_index() -> None:
    for layer in ("core", "wire", "transport", "signing", "dealer", "ws", "apps", "testnode"):
        index = SRC / layer / "__init__.py"
        assert index.is_file(), f"{layer}/ has no __init__.py"
        assert index.read_text().lstrip().startswith('"""'), f"{layer}/__init__.py has no docstring"
