"""The core's public surface: `_core.pyi` matches the compiled module and the pure twin, and
`lighterfast.core` selects the implementation without silently falling back."""

from __future__ import annotations

import ast
import importlib.machinery
import inspect
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lighterfast.core import _core, _core_py

STUB = Path(_core_py.__file__).with_name("_core.pyi")
CLASSES = ("Scale", "CoiCache", "WeightLimiter", "OrderBook")


def stub_classes() -> dict[str, dict[str, Any]]:
    """Per class: property names and method -> [(param, default-or-None)] from the stub."""
    tree = ast.parse(STUB.read_text())
    out: dict[str, dict[str, Any]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        props, methods = set(), {}
        for item in node.body:
            if not isinstance(item, ast.FunctionDef):
                continue
            if any(isinstance(d, ast.Name) and d.id == "property" for d in item.decorator_list):
                props.add(item.name)
                continue
            args = item.args.posonlyargs + item.args.args
            defaults = [None] * (len(args) - len(item.args.defaults)) + [
                ast.literal_eval(d) for d in item.args.defaults
            ]
            methods[item.name] = [(a.arg, d) for a, d in zip(args, defaults, strict=True)][1:]
        out[node.name] = {"properties": props, "methods": methods}
    return out


def test_compiled_module_is_an_extension() -> None:
    assert _core.__file__ is not None
    assert _core.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def test_stub_lists_every_class() -> None:
    assert set(stub_classes()) == set(CLASSES)
    assert set(_core.__all__) == set(_core_py.__all__) == {*CLASSES, "order_book_market"}


@pytest.mark.parametrize("module", [_core, _core_py], ids=["compiled", "pure"])
@pytest.mark.parametrize("name", CLASSES)
def test_stub_matches_runtime(module: Any, name: str) -> None:
    stub = stub_classes()[name]
    cls = getattr(module, name)
    public = {attr for attr in dir(cls) if not attr.startswith("_")}
    assert public == stub["properties"] | {m for m in stub["methods"] if not m.startswith("_")}
    for prop in stub["properties"]:
        assert inspect.isdatadescriptor(inspect.getattr_static(cls, prop)), prop
    for method, params in stub["methods"].items():
        if method.startswith("__") and method != "__init__":
            assert hasattr(cls, method), method
            continue
        if method == "__init__" and module is _core:
            continue  # extension-type __init__ has no introspectable signature
        signature = inspect.signature(getattr(cls, method))
        runtime = [
            (p.name, None if p.default is inspect.Parameter.empty else p.default)
            for p in list(signature.parameters.values())[1:]
        ]
        assert runtime == params, method


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "LIGHTERFAST_PURE_PYTHON"}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], env=full_env, capture_output=True, text=True, timeout=60
    )


def test_selector_defaults_to_compiled() -> None:
    result = run_python(
        "import lighterfast.core as c; print(c.IMPLEMENTATION, c.OrderBook.__module__)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["compiled", "lighterfast.core._core"]


def test_selector_pure_on_request() -> None:
    result = run_python(
        "import lighterfast.core as c; print(c.IMPLEMENTATION, c.OrderBook.__module__)",
        LIGHTERFAST_PURE_PYTHON="1",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["pure", "lighterfast.core._core_py"]


def test_selector_never_falls_back_silently() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'lighterfast.core._core':\n"
        "            raise ImportError('no compiled core here')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import lighterfast.core\n"
    )
    result = run_python(code)
    assert result.returncode != 0
    assert "ImportError" in result.stderr and "LIGHTERFAST_PURE_PYTHON=1" in result.stderr


def test_stub_passes_mypy_stubtest(tmp_path: Path) -> None:
    """mypy's stubtest compares `_core.pyi` with the imported extension, name for name."""
    pytest.importorskip("mypy.stubtest")
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "lighterfast.core._core"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
