"""The lighterfast exception hierarchy: one root (`LighterError`), one class per failure kind.

Messages never contain secrets (keys, tokens, signatures); callers pass only public facts.
"""

from __future__ import annotations

import re


def describe(error: BaseException) -> str:
    """`Type: message` of an error for logs and result dicts (the type alone if no message)."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class LighterError(Exception):
    """Root of every error lighterfast raises on purpose."""


class ConfigError(LighterError, ValueError):
    """Configuration is missing or inconsistent (file, env or arguments)."""


class MarketNotFound(LighterError, KeyError):
    """A symbol or market index could not be resolved to a market."""

    def __str__(self) -> str:  # KeyError would repr() the message; keep it readable
        return str(self.args[0]) if self.args else "market not found"


class NodeUnreachable(LighterError, ConnectionError):
    """The node at `url` could not be reached (refused, timed out, no such host)."""

    def __init__(self, url: str, detail: str = "", hint: str = "") -> None:
        self.url = url
        self.detail = detail
        self.hint = hint
        shown = re.sub(r"//[^/@]*@", "//***@", url)  # never print credentials in a URL
        text = f"cannot reach the Lighter node at {shown}"
        text += f" ({detail})" if detail else ""
        text += "; check base_url and that the node is running"
        super().__init__(text + (f", {hint}" if hint else ""))

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self) -> tuple[type[NodeUnreachable], tuple[str, str, str]]:
        return type(self), (self.url, self.detail, self.hint)


class OrderNotFoundByCoi(LighterError, KeyError):
    """A COI is unknown to this dealer or already finished; nothing was signed or sent."""

    def __init__(self, coi: int, reason: str = "unknown or finished") -> None:
        self.coi = coi
        super().__init__(f"order_not_found_by_coi: client_order_index={coi} ({reason})")

    def __str__(self) -> str:
        return str(self.args[0])


class CoiInUse(LighterError, ValueError):
    """A create reuses a COI that is live, queued or in flight here; nothing signed or queued."""

    def __init__(self, coi: int, status: str) -> None:
        self.coi = coi
        self.status = status
        super().__init__(
            f"coi_in_use: client_order_index={coi} is {status} in this dealer's view"
            " (a COI names one live order of the account; wait for it to finish or pick another)"
        )

    def __str__(self) -> str:
        return str(self.args[0])


class RateLimited(LighterError):
    """The venue (or the local budget) refused a request for rate reasons."""

    def __init__(self, message: str = "rate limited", *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class TxRejected(LighterError):
    """The node answered a request with an error code; carries the node's code and message."""

    def __init__(self, code: int, message: str, *, http_status: int | None = None) -> None:
        self.code = code
        self.message = message
        self.http_status = http_status
        super().__init__(f"code {code}: {message}")


class NonceError(TxRejected):
    """The node refused a nonce (21104 invalid nonce, 21105 batch nonces not increasing)."""


class NotSent(LighterError):
    """Provably nothing reached the node (connection refused, no socket): nothing consumed."""


class OutcomeUnknown(LighterError):
    """A request may have reached the node but the reply says nothing (5xx, unreadable, cut)."""


class WsClosed(LighterError):
    """The WebSocket is closed (or closed while a request waited for its reply)."""


class SignerError(LighterError):
    """The signer library refused to sign (its own validation) or could not be loaded."""


class FleetError(LighterError):
    """The fleet server (Redis) refused or could not serve: no free lane, lease lost, timeout."""
