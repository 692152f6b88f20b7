"""An unreachable node fails fast with NodeUnreachable naming the URL, unless lazy_connect."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import AsyncIterator

import pytest

from _helpers import config_for, eventually
from lighterfast import LighterDealer, LighterError, NodeUnreachable, markets
from lighterfast.signing import SdkSigner
from lighterfast.testnode import DevAccount, LocalNode
from lighterfast.ws import WsInfo

GENEROUS_S = 5.0  # "fast": well under the old ~10 s wait, with room for a loaded machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(autouse=True)
def _fresh_market_cache() -> None:
    markets.clear_cache()


@pytest.fixture
async def down() -> AsyncIterator[tuple[LocalNode, DevAccount]]:
    """A node with a funded account that is not listening yet (its port is closed)."""
    node = LocalNode(port=_free_port(), exec_latency_ms=0)
    acct = await node.create_account(collateral=100_000)
    yield node, acct
    await node.stop()


def test_the_error_type() -> None:
    err = NodeUnreachable("http://127.0.0.1:9", "ClientConnectorError")
    assert isinstance(err, LighterError) and isinstance(err, ConnectionError)
    assert "http://127.0.0.1:9" in str(err) and "ClientConnectorError" in str(err)
    hidden = NodeUnreachable("http://user:s3cret@127.0.0.1:9", "ClientConnectorError")
    assert "s3cret" not in str(hidden) and "s3cret" not in repr(hidden)


@pytest.mark.parametrize("chain_id", [None, 304])
async def test_create_fails_fast_naming_the_url(
    down: tuple[LocalNode, DevAccount], chain_id: int | None
) -> None:
    node, acct = down
    start = time.monotonic()
    with pytest.raises(NodeUnreachable) as info:
        await LighterDealer.create(config_for(node, acct, chain_id=chain_id))
    assert time.monotonic() - start < GENEROUS_S
    text = str(info.value)
    assert node.base_url in text and "lazy_connect" in text and "chain_id" not in text
    assert info.value.url == node.base_url


async def test_chain_id_discovery_says_unreachable_not_pass_chain_id(
    down: tuple[LocalNode, DevAccount],
) -> None:
    node, _ = down
    with pytest.raises(NodeUnreachable, match=node.base_url):
        await SdkSigner.discover_chain_id(node.base_url)


async def test_wsinfo_fails_fast_naming_the_url(down: tuple[LocalNode, DevAccount]) -> None:
    node, _ = down
    start = time.monotonic()
    with pytest.raises(NodeUnreachable, match=node.base_url):
        await WsInfo.run_public_trades_simple("ETH", base_url=node.base_url)
    assert time.monotonic() - start < GENEROUS_S


async def test_lazy_connect_starts_offline_and_connects_at_first_use(
    down: tuple[LocalNode, DevAccount], caplog: pytest.LogCaptureFixture
) -> None:
    node, acct = down
    cfg = config_for(node, acct, lazy_connect=True, chain_id=node.chain_id)
    start = time.monotonic()
    with caplog.at_level(logging.WARNING):
        dealer = await LighterDealer.create(cfg)
    try:
        assert time.monotonic() - start < GENEROUS_S
        assert dealer.market.source == "static"
        warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(node.base_url in w and "static table" in w for w in warned), warned
        await node.start()  # the node comes up; the first flush connects
        placed = await dealer.create_limit_order(2900, 0.05)
        results = await dealer.flush()
        assert [r["status"] for r in results] == ["accepted"], results
        coi = placed["client_order_index"]
        await eventually(lambda: node.state.order_by_coi(acct.account_index, coi))
        assert node.state.books[0]["bids"] == [(290_000, 500)]
    finally:
        await dealer.aclose()


async def test_lazy_connect_to_an_unknown_host_needs_a_chain_id(
    down: tuple[LocalNode, DevAccount],
) -> None:
    node, acct = down
    with pytest.raises(LighterError, match="chain_id="):
        await LighterDealer.create(config_for(node, acct, lazy_connect=True))
