"""The installed package: compiled core present, public names importable."""

import importlib.machinery

import lighterfast
import lighterfast.core._core as core


def test_core_is_compiled_extension() -> None:
    assert core.__file__ is not None
    assert core.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def test_error_hierarchy() -> None:
    err = lighterfast.OrderNotFoundByCoi(42)
    assert isinstance(err, lighterfast.LighterError)
    assert "order_not_found_by_coi" in str(err)
    assert issubclass(lighterfast.NonceError, lighterfast.TxRejected)
