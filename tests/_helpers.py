"""Small helpers several test modules share (dealer configs on the LocalNode, bounded polling)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import lighter
import orjson

from lighterfast import DealerConfig, LighterDealer
from lighterfast.testnode import LocalNode


async def eventually(check: Callable[[], Any], timeout: float = 3.0, step: float = 0.01) -> Any:
    """Poll a predicate until truthy (node execution is asynchronous after acceptance)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(step)


def config_for(node: LocalNode, acct: Any, **kw: Any) -> DealerConfig:
    """A premium ETH DealerConfig for a dev account of `node`; `kw` overrides any field."""
    opts: dict[str, Any] = {
        "base_url": node.base_url,
        "account_index": acct.account_index,
        "api_key_index": acct.api_key_index,
        "api_key_private_key": acct.private_key,
        "symbol": "ETH",
        "standard_account": False,
        "jitter_ms": (0, 1),
    }
    opts.update(kw)
    return DealerConfig(**opts)


async def make_dealer(node: LocalNode, acct: Any, **kw: Any) -> LighterDealer:
    """A dealer for a dev account of `node` (see `config_for`)."""
    return await LighterDealer.create(config_for(node, acct, **kw))


def node_nonce(node: LocalNode, acct: Any, key: int | None = None) -> int:
    """The node's next nonce for one key of a dev account (0 before its first tx)."""
    k = acct.api_key_index if key is None else key
    return node.state.nonces.get((acct.account_index, k), 0)


async def open_ws(http: aiohttp.ClientSession, node: LocalNode) -> aiohttp.ClientWebSocketResponse:
    """A raw WebSocket to `node`, past its `connected` greeting."""
    ws = await http.ws_connect(node.ws_url)
    assert orjson.loads((await ws.receive()).data)["type"] == "connected"
    return ws


async def next_frame(ws: aiohttp.ClientWebSocketResponse, timeout: float = 3.0) -> dict[str, Any]:
    """The next text frame of a raw WebSocket, decoded (bounded wait)."""
    msg = await asyncio.wait_for(ws.receive(), timeout)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    frame: dict[str, Any] = orjson.loads(msg.data)
    return frame


async def frame_until(
    ws: aiohttp.ClientWebSocketResponse,
    want: str | Callable[[dict[str, Any]], Any],
    timeout: float = 3.0,
) -> dict[str, Any]:
    """Skip frames until one has type `want` (or satisfies the predicate `want`)."""
    while True:
        frame = await next_frame(ws, timeout)
        if (frame.get("type") == want) if isinstance(want, str) else want(frame):
            return frame


async def send_json(ws: aiohttp.ClientWebSocketResponse, obj: dict[str, Any]) -> None:
    """Send one JSON object as a text frame."""
    await ws.send_str(orjson.dumps(obj).decode())


# The `lighterfast` command of this interpreter.
CLI = (sys.executable, "-m", "lighterfast.apps.cli")


def start_cli(*args: str, **popen: Any) -> subprocess.Popen[str]:
    """`lighterfast <args>` in a subprocess with text pipes (`popen` overrides Popen options)."""
    options: dict[str, Any] = {
        "stdout": subprocess.PIPE,
        "stderr": subprocess.PIPE,
        "text": True,
        **popen,
    }
    return subprocess.Popen([*CLI, *args], **options)


def read_until_ready(proc: subprocess.Popen[str], timeout: float = 30.0) -> list[str]:
    """stdout lines of a starting `lighterfast node` up to its `ready` line (bounded wait)."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("ready"):
            return lines
    raise AssertionError(f"node did not become ready: {lines}")


def interrupt(proc: subprocess.Popen[str], timeout: float = 15.0) -> tuple[str, str]:
    """Ctrl-C a CLI subprocess and collect the rest of its output (bounded wait)."""
    proc.send_signal(signal.SIGINT)
    return proc.communicate(timeout=timeout)


def reap(proc: subprocess.Popen[str]) -> None:
    """Kill a CLI subprocess that is still running (a step failed) and collect it."""
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


async def check_auth_token(
    http: aiohttp.ClientSession, node: LocalNode, account_index: int, token: str
) -> None:
    """The node accepts `token` on an authenticated read and refuses it with its tail changed."""
    orders = node.base_url + "/api/v1/accountActiveOrders"
    params = {"account_index": account_index, "market_id": 0}
    async with http.get(orders, params=params, headers={"Authorization": token}) as resp:
        assert resp.status == 200, await resp.text()
    bad = token[:-4] + ("0000" if token[-4:] != "0000" else "1111")
    async with http.get(orders, params=params, headers={"Authorization": bad}) as resp:
        assert resp.status == 401


def resign(info: str | dict[str, Any], private_key: str, chain_id: int, tx_type: int) -> str:
    """tx_info with its `Sig` replaced by a valid signature of its fields as they are now.

    For tests that edit a signed tx into a shape the signer refuses (a past ExpiredAt, price
    0, ...) to reach a later check of the verifying node: the message is the node's reference
    hash (`testnode.txhash`), the signature the native signer's Schnorr.
    """
    import base64

    from lighterfast.signing._native import schnorr_sign
    from lighterfast.testnode.txhash import message_hash

    obj = dict(orjson.loads(info) if isinstance(info, str) else info)
    message = bytes.fromhex(message_hash(chain_id, tx_type, obj))
    sig = schnorr_sign(bytes.fromhex(private_key.removeprefix("0x")), message)
    obj["Sig"] = base64.b64encode(sig).decode()
    return orjson.dumps(obj).decode()


def sdk_client(node: LocalNode, acct: Any) -> lighter.SignerClient:
    """lighter-sdk's SignerClient for a dev account of `node` (the reference client)."""
    return lighter.SignerClient(
        url=node.base_url,
        account_index=acct.account_index,
        api_private_keys={acct.api_key_index: acct.private_key},
    )
