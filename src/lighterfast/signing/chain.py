"""Which chain id a signer signs into: a known host by URL, else the node's own `GET /` answer."""

from __future__ import annotations

import asyncio

from ..errors import ConfigError, NodeUnreachable
from ..wire import chain_id_for_url  # known host → chain id lives in wire (URL helpers)

__all__ = ["chain_id_for_url", "discover_chain_id"]


async def discover_chain_id(base_url: str, *, timeout: float = 5.0) -> int:
    """Ask a node for its chain id: `GET /` answers `network_id` (protocol §1.2)."""
    import aiohttp

    url = base_url.rstrip("/") + "/"
    try:
        client_timeout = aiohttp.ClientTimeout(total=timeout)
        async with aiohttp.ClientSession(timeout=client_timeout) as session:
            async with session.get(url) as response:
                body = await response.json(content_type=None)
    except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as exc:
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise NodeUnreachable(base_url.rstrip("/"), f"GET / {detail}") from None
    except (aiohttp.ClientError, ValueError) as exc:
        raise ConfigError(
            f"could not read the chain id from {url} ({type(exc).__name__}); pass chain_id="
        ) from None
    network_id = body.get("network_id") if isinstance(body, dict) else None
    if type(network_id) is not int or network_id <= 0:
        raise ConfigError(f"{url} did not state a network_id; pass chain_id=")
    return network_id
