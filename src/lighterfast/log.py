"""Logging for the dealer: standard `logging` names plus interop with any logger-like object.

Loggers: `LighterDealer` (events) and `LighterDealer.tx` (DEBUG previews of each transaction
without its signature). A `logger=` object only needs `debug/info/warning/error/exception`.
No secret (key, token, signature) is ever formatted into a message here: previews drop `Sig`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import orjson

DEALER_LOGGER_NAME = "LighterDealer"
TX_LOGGER_NAME = "LighterDealer.tx"

# tx_info keys that carry a signature or key material; never shown in a preview.
_SECRET_TX_KEYS = frozenset({"Sig", "L1Sig", "PubKey"})


@runtime_checkable
class LoggerLike(Protocol):
    """What the dealer needs from a logger (satisfied by `logging.Logger` and wrappy's Log)."""

    def debug(self, msg: Any, *args: Any, **kwargs: Any) -> Any: ...
    def info(self, msg: Any, *args: Any, **kwargs: Any) -> Any: ...
    def warning(self, msg: Any, *args: Any, **kwargs: Any) -> Any: ...
    def error(self, msg: Any, *args: Any, **kwargs: Any) -> Any: ...
    def exception(self, msg: Any, *args: Any, **kwargs: Any) -> Any: ...


class SafeLogger:
    """Adapter over a stdlib logger or any logger-like object; formats `%` args itself.

    Interop objects (such as wrappy's Log/Notify) may not support `%`-style args, so the
    message is formatted here and passed as one string; `isEnabledFor` is honoured when present.
    """

    __slots__ = ("_std", "_target")

    def __init__(self, target: LoggerLike | None = None, name: str = DEALER_LOGGER_NAME) -> None:
        if target is None:
            target = logging.getLogger(name)
        for method in ("debug", "info", "warning", "error", "exception"):
            if not callable(getattr(target, method, None)):
                raise TypeError(f"logger: object lacks a callable {method}() method")
        self._target = target
        self._std = isinstance(target, logging.Logger)

    @property
    def target(self) -> LoggerLike:
        """The wrapped logger object."""
        return self._target

    def is_enabled(self, level: int) -> bool:
        """True when `level` would be emitted (always True for non-stdlib targets)."""
        check = getattr(self._target, "isEnabledFor", None)
        return bool(check(level)) if callable(check) else True

    def _emit(self, method: str, level: int, msg: str, args: tuple[Any, ...]) -> None:
        if self._std:
            getattr(self._target, method)(msg, *args, stacklevel=3)
            return
        if not self.is_enabled(level):
            return
        text = msg % args if args else msg
        try:
            getattr(self._target, method)(text)
        except Exception:  # a broken user logger must never break trading
            logging.getLogger(DEALER_LOGGER_NAME).debug("user logger raised", exc_info=True)

    def debug(self, msg: str, *args: Any) -> None:
        """Log at DEBUG."""
        self._emit("debug", logging.DEBUG, msg, args)

    def info(self, msg: str, *args: Any) -> None:
        """Log at INFO."""
        self._emit("info", logging.INFO, msg, args)

    def warning(self, msg: str, *args: Any) -> None:
        """Log at WARNING."""
        self._emit("warning", logging.WARNING, msg, args)

    def error(self, msg: str, *args: Any) -> None:
        """Log at ERROR."""
        self._emit("error", logging.ERROR, msg, args)

    def exception(self, msg: str, *args: Any) -> None:
        """Log at ERROR with the current exception's traceback."""
        self._emit("exception", logging.ERROR, msg, args)


def make_loggers(logger: LoggerLike | None) -> tuple[SafeLogger, SafeLogger]:
    """The (events, tx-preview) logger pair for a dealer; a user object serves both."""
    if logger is None:
        return SafeLogger(None, DEALER_LOGGER_NAME), SafeLogger(None, TX_LOGGER_NAME)
    if isinstance(logger, logging.Logger):
        return SafeLogger(logger), SafeLogger(logger.getChild("tx"))
    wrapped = SafeLogger(logger)
    return wrapped, wrapped


def redact_tx_info(tx_info: str | Mapping[str, Any]) -> dict[str, Any]:
    """The tx_info as a dict without its signature fields (for previews and errors)."""
    data = orjson.loads(tx_info) if isinstance(tx_info, (str, bytes)) else dict(tx_info)
    return {k: ("<redacted>" if k in _SECRET_TX_KEYS else v) for k, v in data.items()}


def tx_preview(tx_type: int, tx_info: str | Mapping[str, Any]) -> str:
    """One-line preview of a signed transaction, signature removed."""
    return f"tx_type={tx_type} {orjson.dumps(redact_tx_info(tx_info)).decode()}"
