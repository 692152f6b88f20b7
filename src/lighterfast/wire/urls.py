"""URL helpers: REST ↔ WebSocket URL of one node, and the chain id a known host implies."""

from __future__ import annotations

from typing import Final

from .. import protocol as P

# Hosts the SDK maps to a chain id by URL substring (lighter/signer_client.py); unknown → None.
_HOST_CHAIN_IDS: Final = (
    ("mainnet.zklighter", P.CHAIN_ID_MAINNET),
    ("testnet.zklighter", P.CHAIN_ID_TESTNET),
    ("api.rh-testnet.lighter", P.CHAIN_ID_TESTNET),
    ("api.rh.lighter", P.CHAIN_ID_ROBINHOOD),
)


def ws_url_for(base_url: str) -> str:
    """REST base URL → WebSocket URL (`/stream` on the same host, §4.1)."""
    url = base_url.rstrip("/")
    if url.startswith("https://"):
        url = "wss://" + url[len("https://") :]
    elif url.startswith("http://"):
        url = "ws://" + url[len("http://") :]
    elif not url.startswith(("ws://", "wss://")):
        raise ValueError(f"base_url: expected http(s):// or ws(s):// URL, got {base_url!r}")
    if not url.endswith(P.WS_PATH):
        url += P.WS_PATH
    return url


def http_url_for(base_url: str) -> str:
    """WebSocket or REST URL → the REST base URL."""
    url = base_url.rstrip("/")
    if url.endswith(P.WS_PATH):
        url = url[: -len(P.WS_PATH)]
    if url.startswith("wss://"):
        return "https://" + url[len("wss://") :]
    if url.startswith("ws://"):
        return "http://" + url[len("ws://") :]
    return url


def chain_id_for_url(url: str | None) -> int | None:
    """Chain id for a known Lighter host by the SDK's substring rules; None for other hosts."""
    if not url:
        return None
    for needle, chain_id in _HOST_CHAIN_IDS:
        if needle in url:
            return chain_id
    return None
