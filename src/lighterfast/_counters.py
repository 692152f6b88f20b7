"""`Counters`: named integer counters (one slot each) that start at 0 and snapshot to a dict."""

from __future__ import annotations

from typing import Any


class Counters:
    """Base for stats objects: every name in the subclass's `__slots__` starts at 0."""

    __slots__: tuple[str, ...] = ()

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)

    def as_dict(self) -> dict[str, Any]:
        """Snapshot of the counters."""
        return {name: getattr(self, name) for name in self.__slots__}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.as_dict()})"
