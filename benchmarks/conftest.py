"""Benchmarks live in `bench_*.py`: collect them when a directory is given (`pytest benchmarks`).

Files named on the command line are collected by pytest itself; this hook adds the rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from lighterfast.signing import generate_api_key
from setup_common import new_loop


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    """Collect `bench_*.py` modules that pytest's `test_*.py` pattern would skip."""
    if (
        file_path.suffix == ".py"
        and file_path.name.startswith("bench_")
        and not parent.session.isinitpath(file_path)
    ):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A fresh (uv)loop per benchmark module (a module may override it)."""
    lp = new_loop()
    yield lp
    lp.close()


@pytest.fixture(scope="module")
def private_key() -> str:
    """A fresh API private key for the signing benchmarks (never printed)."""
    return generate_api_key()[0]
