"""Every request is counted (issue 12 item 5): the REST clients of one process for one account
(dealers, WsInfo's resync after each reconnect, token-free reads) draw from one budget, so a
dealer inside its budget never meets the venue's 429 however often the socket flaps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from _helpers import eventually, make_dealer
from lighterfast import protocol as P
from lighterfast.testnode import LocalNode
from lighterfast.transport import budget
from lighterfast.transport.rest import RestClient
from lighterfast.ws import WsInfo


@pytest.fixture
async def standard_node() -> AsyncIterator[LocalNode]:
    """A node enforcing the standard tier: 60 requests a minute per IP and per L1 address."""
    async with LocalNode(host="127.0.0.1", port=0, exec_latency_ms=0, rate_limits="standard") as n:
        yield n


async def test_a_flapping_socket_does_not_push_a_dealer_into_429(
    standard_node: LocalNode,
) -> None:
    node = standard_node
    acct = await node.create_account(collateral=100_000)
    dealer = await make_dealer(node, acct, standard_account=True, use_ws=False)
    ws = await WsInfo.run_overlay(
        acct.account_index,
        acct.api_key_index,
        acct.private_key,
        market_id=0,
        base_url=node.base_url,
        connection_options={"backoff_max": 0.3},
    )
    try:
        flaps = 6
        for n in range(1, flaps + 1):
            await node.faults.close_all(1011)  # the WsInfo socket drops and comes back
            await eventually(lambda n=n: ws.stats.rest_resyncs == n, timeout=5.0)
        # the resyncs were charged to the dealer's own budget, not to a private limiter
        assert ws._rest is not None and ws._rest.limiter is dealer.limiter
        spent_before_sending = P.STANDARD_REQUESTS_PER_MINUTE - dealer.limiter.available()
        assert spent_before_sending >= flaps  # the resync reads are counted
        # the dealer spends what its budget says is left (each flush is one request)
        sent = 0
        while dealer.rate_budget().left >= 2:
            await dealer.create_limit_order(1000.0 + sent, 0.01)
            results = await dealer.flush()
            assert [r["status"] for r in results] == ["accepted"], results
            sent += 1
        assert sent > 0
        assert node.rate_limits is not None
        assert node.rate_limits.refusals.get(P.ERR_TOO_MANY_REQUESTS, 0) == 0
        assert dealer._rest.rate_limited_replies == 0
    finally:
        await ws.aclose()
        await dealer.aclose()


async def test_premium_and_standard_scopes(node: LocalNode, funded_account: Any) -> None:
    url = node.base_url
    acct = funded_account.account_index
    prem = budget.budget_for(url, acct, standard_account=False, capacity=24_000)
    try:
        # a tier-agnostic client of the account (WsInfo's resync) shares the premium budget
        rest = RestClient(url, limiter=budget.budget_for(url, acct))
        assert rest.limiter is prem.limiter and rest.tx_limiter is prem.tx_limiter
        assert not rest.standard_account
        await rest.close()
        # another account has its own budget; reads naming no account share the host's
        other = RestClient(url, limiter=budget.budget_for(url, acct + 1))
        assert other.limiter is not prem.limiter and other.standard_account
        token_free = RestClient(url)
        again = RestClient(url)
        assert token_free.limiter is again.limiter is not other.limiter
        for client in (other, token_free, again):
            await client.close()
        assert budget.registered(url) is None  # the last holder released it
        assert budget.registered(url, acct + 1) is None
    finally:
        prem.release()
    assert budget.registered(url, acct) is None


async def test_a_closed_dealer_releases_its_budget(node: LocalNode, funded_account: Any) -> None:
    async with await make_dealer(node, funded_account) as dealer:
        held = budget.registered(node.base_url, funded_account.account_index)
        assert held is not None and held.limiter is dealer.limiter
    assert budget.registered(node.base_url, funded_account.account_index) is None
