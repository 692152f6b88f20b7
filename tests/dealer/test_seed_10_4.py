"""The seed README's sample 10.4 (one account, one API key, a WsInfo overlay and a dealer per
symbol in one process) runs as written against a node with the standard tier's rate limits and
execution latency: its three dealers share the key's nonce lane and the account's budget by
themselves, so 3 × 30 orders sent at once give no invalid nonce (21104), no 429, no rejection.

Before the shared lanes each dealer counted the key's nonces on its own: the same run logged a
stream of "21104 invalid nonce ... resyncing" and lost orders as NonceError rejections.
"""

from __future__ import annotations

import asyncio
import logging
import re
import textwrap
from pathlib import Path
from typing import Any

import orjson
import pytest

from _helpers import eventually
from lighterfast import LighterDealer
from lighterfast import protocol as P
from lighterfast.dealer.nonces import shared_lanes
from lighterfast.testnode import LocalNode
from lighterfast.transport.budget import registered
from lighterfast.ws import WsInfo

COPY = Path(__file__).resolve().parents[1] / "data" / "seed-samples.md"
SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "wrappy-lighter-README.ja.md"
# Far below each book (nothing fills) at each market's minimum size.
ORDERS = {"ETH": ("2000.00", "0.0050"), "BTC": ("40000.0", "0.00030"), "SOL": ("100.000", "0.120")}
ROUNDS, PER_ROUND = 5, 6  # 30 orders per bot, 5 flushes: 15 sends in all, within 60/min

pytestmark = pytest.mark.timeout(90)


def sample_10_4(source: Path = COPY) -> str:
    """The 10.4 python block as the seed has it (it imports nothing: no import to change)."""
    text = source.read_text(encoding="utf-8")
    start = text.index("\n### 10.4")
    code = re.search(r"```python\n(.*?)\n```", text[start:], re.DOTALL)
    assert code is not None
    return code.group(1)


@pytest.mark.skipif(not SEED.is_file(), reason="the seed README is not in this checkout")
def test_the_10_4_copy_is_the_seed_verbatim() -> None:
    assert sample_10_4(SEED) == sample_10_4()


class _Kept:
    """The sample's class names for the harness: the real classes, each object kept."""

    def __init__(self, cls: Any, factory: str, kept: list[Any]) -> None:
        self._make = getattr(cls, factory)
        self._factory = factory
        self._kept = kept

    def __getattr__(self, name: str) -> Any:
        if name != self._factory:
            raise AttributeError(name)

        async def make(*args: Any, **kwargs: Any) -> Any:
            obj = await self._make(*args, **kwargs)
            self._kept.append(obj)
            return obj

        return make


async def _bot(dealer: LighterDealer) -> list[dict[str, Any]]:
    """The strategy task the sample leaves to the reader: 30 resting bids in 5 flushes."""
    price, size = ORDERS[dealer.market.symbol]
    results: list[dict[str, Any]] = []
    for _ in range(ROUNDS):
        for _ in range(PER_ROUND):
            await dealer.create_limit_order(price, size)
        results.extend(await dealer.flush())
    return results


# The standard tier's table (makers 0, takers/cancels 300 ms) and the flat 200 ms.
@pytest.mark.parametrize("latency", ["standard", 200.0])
async def test_seed_10_4_three_bots_one_key_no_invalid_nonce(
    latency: str | float,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    code = sample_10_4()
    assert "LighterDealer.from_config" in code and "run_overlay" in code
    caplog.set_level(logging.INFO, logger="lighterfast")
    async with LocalNode(port=0, rate_limits="standard", exec_latency_ms=latency) as node:
        assert node.latency["taker"] >= 200.0
        dev = await node.create_account(collateral=100_000)
        config = {
            "base_url": node.base_url,
            "account_index": dev.account_index,
            "api_key_index": dev.api_key_index,
            "api_key_private_key": dev.private_key,
        }
        (tmp_path / "config.json").write_bytes(orjson.dumps(config))
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("LIGHTER_BASE_URL", node.base_url)
        for name in ("LIGHTER_ACCOUNT_INDEX", "LIGHTER_API_KEY_INDEX", "LIGHTER_API_KEY"):
            monkeypatch.delenv(name, raising=False)
        infos: list[WsInfo] = []
        dealers: list[LighterDealer] = []
        head = "async def _sample(ACC, KI, KEY, WsInfo, LighterDealer):\n"
        source = head + textwrap.indent(code, "    ") + "\n"
        namespace: dict[str, Any] = {}
        exec(compile(source, "<seed 10.4>", "exec"), namespace)
        try:
            await namespace["_sample"](
                dev.account_index,
                dev.api_key_index,
                dev.private_key,
                _Kept(WsInfo, "run_overlay", infos),
                _Kept(LighterDealer, "from_config", dealers),
            )
            assert [d.market.symbol for d in dealers] == ["ETH", "BTC", "SOL"]
            pairs = zip(infos, dealers, strict=True)
            assert all(ws.on_orders == d.feed_ws_orders for ws, d in pairs)
            # One lane for the key, one budget for the account: held by all three dealers.
            ((lane_key, lane),) = shared_lanes().items()
            assert lane_key[1:] == (dev.account_index, dev.api_key_index) and lane.holders == 3
            budget = registered(node.base_url, dev.account_index)
            assert budget is not None and all(d.limiter is budget.limiter for d in dealers)
            per_bot = await asyncio.gather(*(_bot(d) for d in dealers))
        finally:
            for dealer in dealers:
                await dealer.aclose()
            for ws in infos:
                await ws.aclose()
        results = [r for bot in per_bot for r in bot]
        assert len(results) == 3 * ROUNDS * PER_ROUND
        assert [r["status"] for r in results] == ["accepted"] * len(results)
        assert sum(d.stats["nonce_resyncs"] for d in dealers) == 0
        nonces = sorted(r["nonce"] for r in results)
        assert nonces == list(range(nonces[0], nonces[0] + len(results)))  # none twice
        assert "21104" not in caplog.text and "invalid nonce" not in caplog.text.lower()
        limits = node.rate_limits
        assert limits is not None and limits.refusals.get(P.ERR_TOO_MANY_REQUESTS, 0) == 0

        def live() -> int:  # makers rest after the execution latency
            orders = node.state.orders.values()
            mine = [o for o in orders if o["owner_account_index"] == dev.account_index]
            return len(mine) if len(mine) >= len(results) else 0

        assert await eventually(live, timeout=10.0) == len(results)
        assert shared_lanes() == {}  # every dealer closed: the lane left the registry
