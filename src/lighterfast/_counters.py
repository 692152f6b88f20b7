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


class RequestTally:
    """REST requests of watched clients by endpoint, split into start-up and after `start()`.

    `watch(client)` wraps one client's `request(method, endpoint, ...)` (the path every REST
    call of `RestClient` takes); each call is counted once, before it is made.
    """

    def __init__(self) -> None:
        self.startup: dict[str, int] = {}
        self.after_start: dict[str, int] = {}
        self.started = False

    def watch(self, client: Any) -> None:
        """Count every later `client.request(...)` (idempotent per client)."""
        if client is None or getattr(client, "_tallied_by", None) is self:
            return
        inner = client.request
        tally = self

        async def counted(method: str, endpoint: str, *args: Any, **kwargs: Any) -> Any:
            tally.count(endpoint)
            return await inner(method, endpoint, *args, **kwargs)

        client.request = counted
        client._tallied_by = self

    def count(self, endpoint: str) -> None:
        """Count one request to `endpoint` in the current phase."""
        name = endpoint.rsplit("/", 1)[-1] or "/"
        bucket = self.after_start if self.started else self.startup
        bucket[name] = bucket.get(name, 0) + 1

    def start(self) -> None:
        """From now on requests count as after start-up."""
        self.started = True

    def as_dict(self) -> dict[str, Any]:
        """Snapshot: per-endpoint counts of both phases and their totals."""
        return {
            "startup": dict(sorted(self.startup.items())),
            "after_startup": dict(sorted(self.after_start.items())),
            "after_startup_total": sum(self.after_start.values()),
        }
