"""The seed README's (wrappy-lighter-README.ja.md) sample 10.3 runs as written (imports
changed only) against a local node with market flow on.

10.3 is a fragment: it waits for the order of a given `coi`, updates it to the fixed price
3002.0 / 0.004 and cancels it. The harness gives it what the seed's surrounding text does (a
WsInfo overlay, a dealer, a bid at 3000.0 for 0.005) on a flow node whose ETH trades around
3300 with a 0.001 minimum size: the sample's fixed prices then rest 9 % below the book instead
of filling, and its 0.004 is a valid size, so every step it takes must succeed.
"""

from __future__ import annotations

import asyncio
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from _helpers import eventually
from lighterfast import LighterDealer
from lighterfast.testnode import DEFAULT_MARKETS, LocalNode, MarketSpec
from lighterfast.ws import WsInfo

# The original beside the repository (shared/ next to the clone), where present.
SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "wrappy-lighter-README.ja.md"
COPY = Path(__file__).resolve().parents[1] / "data" / "seed-samples.md"  # its sections, verbatim
ETH_AWAY = MarketSpec(0, "ETH", 4, 2, "0.0010", "10.000000", base_asset_id=1, start_price="3300.00")
IMPORTS = (
    ("from wrappy.lighter.ws import", "from lighterfast.ws import"),
    ("from wrappy import", "from lighterfast import"),
)

pytestmark = pytest.mark.timeout(60)


def seed_sample(heading: str, source: Path = COPY) -> str:
    """The first ```python block after `heading` in the seed README, imports changed."""
    text = source.read_text(encoding="utf-8")
    start = text.index(f"\n{heading}")
    code = re.search(r"```python\n(.*?)\n```", text[start:], re.DOTALL)
    assert code is not None, heading
    body = code.group(1)
    for old, new in IMPORTS:
        body = body.replace(old, new)
    return body


async def run_fragment(code: str, **context: Any) -> dict[str, Any]:
    """Run a sample fragment as the body of an async function with `context` as its locals;
    returns its locals afterwards."""
    names = ", ".join(context)
    source = f"async def _sample({names}):\n{textwrap.indent(code, '    ')}\n    return locals()\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, "<seed 10.3>", "exec"), namespace)
    result: dict[str, Any] = await namespace["_sample"](**context)
    return result


@pytest.mark.skipif(not SEED.is_file(), reason="the seed README is not in this checkout")
def test_the_copy_is_the_seed_verbatim() -> None:
    assert seed_sample("### 10.3", SEED) == seed_sample("### 10.3")


@pytest.mark.parametrize("run", range(2))
async def test_seed_10_3_wait_update_cancel_against_market_flow(run: int) -> None:
    code = seed_sample("### 10.3")
    assert "wait_order_by_coi" in code and "3002.0" in code  # the sample as the seed has it
    markets = (ETH_AWAY, *DEFAULT_MARKETS[1:])
    async with LocalNode(port=0, simulate_flow=True, markets=markets) as node:
        dev = await node.create_account(collateral=100_000)
        await asyncio.sleep(0.6)  # the flow has quoted and traded around 3300
        best_bid = node.state.books[0]["bids"][0][0] / 100
        assert best_bid > 3200, best_bid
        ws = await WsInfo.run_overlay(
            account_index=dev.account_index,
            api_key_index=dev.api_key_index,
            api_key_private_key=dev.private_key,
            symbol="ETH",
            base_url=node.base_url,
        )
        dealer = await LighterDealer.from_config(
            None,
            symbol="ETH",
            base_url=node.base_url,
            account_index=dev.account_index,
            api_key_index=dev.api_key_index,
            api_key_private_key=dev.private_key,
        )
        ws.on_orders = dealer.feed_ws_orders
        try:
            async with dealer:
                coi = (await dealer.create_limit_order(3000.0, +0.005))["client_order_index"]
                (created,) = await dealer.flush()
                assert created["accepted"], created
                seen = await run_fragment(code, ws=ws, dealer=dealer, coi=coi)
        finally:
            await ws.aclose()
        assert seen["o"], "the order frame did not arrive within the sample's 2 s"

        def canceled() -> dict[str, Any] | None:  # standard latency: the cancel lands later
            order = node.state.order_by_coi(dev.account_index, coi)
            return order if order is not None and order["status"] == "canceled" else None

        final = await eventually(canceled, timeout=5.0)
        assert final["price"] == "3002.00"  # the update took effect before the cancel
        assert final["filled_base_amount"] == "0.0000"
        assert node.accounts.accounts[dev.account_index].trades_count == 0
