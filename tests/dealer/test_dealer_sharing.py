"""What two dealers of one key share (signer, nonce lanes) and the rate budget a bot may watch,
against the local node: the node's nonces and orders after each step."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from _helpers import config_for, eventually, make_dealer, node_nonce
from lighterfast import LighterDealer
from lighterfast.dealer import RateBudget
from lighterfast.dealer.nonces import shared_lanes
from lighterfast.testnode import LocalNode

pytestmark = pytest.mark.timeout(60)


async def _one_order(dealer: LighterDealer, price: float) -> int:
    """Queue and send one resting bid; returns its COI after checking it was accepted."""
    placed = await dealer.create_limit_order(price, 0.005)
    [result] = await dealer.flush()
    assert result["accepted"], result
    return int(placed["client_order_index"])


# --- rate budget ----------------------------------------------------------------------------------


async def test_rate_budget_standard_account_counts_every_request(
    node: LocalNode, funded_account: Any
) -> None:
    # 6 units a minute refill one unit every 10 s: no refill shows within this test.
    cfg = config_for(
        node, funded_account, standard_account=True, rate_limit_per_minute=6, use_ws=False
    )
    async with await LighterDealer.create(cfg) as dealer:
        start = dealer.rate_budget()
        assert isinstance(start, RateBudget)
        assert (start.capacity, start.batch_cost, start.read_cost) == (6, 1, 1)
        assert start.shared_with_reads  # standard: sends and reads draw from one bucket
        assert 2 <= start.left == int(dealer.limiter.available()) <= 6
        assert start.can_send_batch(reserve_reads=start.left - 1)
        assert not start.can_send_batch(reserve_reads=start.left)

        coi = await _one_order(dealer, 3000.0)  # nextNonce + sendTxBatch
        after = dealer.rate_budget()
        assert after.left == start.left - 2
        assert start.left == after.left + 2  # the earlier snapshot did not move (frozen)
        await eventually(lambda: node.state.order_by_coi(funded_account.account_index, coi))
        assert node_nonce(node, funded_account) == 1


async def test_rate_budget_premium_account_has_its_own_send_bucket(
    node: LocalNode, funded_account: Any
) -> None:
    cfg = config_for(node, funded_account, standard_account=False, use_ws=False)
    async with await LighterDealer.create(cfg) as dealer:
        start = dealer.rate_budget()
        assert not start.shared_with_reads
        assert start.left == start.capacity == 24_000  # reads so far came from the other bucket
        assert start.batch_cost > 0
        # A reserve of reads does not count against a bucket the reads never use.
        assert start.can_send_batch(reserve_reads=10_000)
        reads_left = int(dealer.limiter.available())

        await _one_order(dealer, 3000.0)
        after = dealer.rate_budget()
        assert start.left - start.batch_cost <= after.left < start.left
        assert int(dealer.limiter.available()) < reads_left  # nextNonce paid in the read bucket
        assert node_nonce(node, funded_account) == 1


# --- sharing a key between dealers ---------------------------------------------------------


async def test_dealers_of_one_key_share_its_lane_by_themselves(
    node: LocalNode, funded_account: Any
) -> None:
    """No argument needed: two dealers of one (node, account, key) take from one lane."""
    acc = funded_account.account_index
    async with await make_dealer(node, funded_account, use_ws=False) as leader:
        # The same node spelled with a trailing slash is the same node.
        follower = await LighterDealer.create(
            config_for(
                node, funded_account, use_ws=False, symbol="BTC", base_url=node.base_url + "/"
            ),
            signer=leader.signer,
        )
        async with follower:
            assert follower._nonces.lanes == leader._nonces.lanes
            (lane,) = leader._nonces.lanes.values()
            assert lane.holders == 2
            cois = [await _one_order(leader, 3000.0)]
            assert node_nonce(node, funded_account) == 1
            cois.append(await _one_order(follower, 50_000.0))
            assert node_nonce(node, funded_account) == 2
            cois.append(await _one_order(leader, 3001.0))  # its lane knew of the follower's tx
            assert node_nonce(node, funded_account) == 3
            # Both at once: one lane hands out consecutive nonces, nothing is refused.
            both = await asyncio.gather(_one_order(leader, 3002.0), _one_order(follower, 50_001.0))
            cois.extend(both)
            assert node_nonce(node, funded_account) == 5
            for dealer in (leader, follower):
                assert dealer.stats["nonce_resyncs"] == 0
                assert dealer.stats["rejected_txs"] == 0
            assert lane.fetches == 1  # one nextNonce for both dealers
            for coi in cois:
                await eventually(lambda c=coi: node.state.order_by_coi(acc, c))
        # The follower did not own the signer: closing it left the leader able to sign, and
        # its lane (fetching through the leader's client now).
        assert follower.closed and not leader.signer.closed and lane.holders == 1
        lane.invalidate()
        await _one_order(leader, 3003.0)
        assert node_nonce(node, funded_account) == 6
    assert leader.signer.closed
    assert lane.holders == 0 and shared_lanes() == {}


async def test_share_nonces_with_is_deprecated_and_still_works(
    node: LocalNode, funded_account: Any
) -> None:
    async with await make_dealer(node, funded_account, use_ws=False) as leader:
        with pytest.warns(DeprecationWarning, match="share_nonces_with"):
            follower = await LighterDealer.create(
                config_for(node, funded_account, use_ws=False, symbol="BTC"),
                signer=leader.signer,
                share_nonces_with=leader,
            )
        async with follower:
            await asyncio.gather(_one_order(leader, 3000.0), _one_order(follower, 50_000.0))
            assert node_nonce(node, funded_account) == 2
            assert follower.stats["nonce_resyncs"] == leader.stats["nonce_resyncs"] == 0
        await _one_order(leader, 3001.0)  # the follower's close released only its hold
        assert node_nonce(node, funded_account) == 3


async def test_lanes_of_another_loop_are_not_reused(node: LocalNode, funded_account: Any) -> None:
    """A lane belongs to its event loop (its lock does): a dealer on another loop, in another
    thread, gets a lane of its own, even for the same key."""
    async with await make_dealer(node, funded_account, use_ws=False) as leader:
        (mine,) = leader._nonces.lanes.values()

        async def elsewhere() -> tuple[Any, int]:
            dealer = await make_dealer(node, funded_account, use_ws=False, symbol="BTC")
            async with dealer:
                (lane,) = dealer._nonces.lanes.values()
                return lane, lane.holders

        theirs, holders = await asyncio.to_thread(asyncio.run, elsewhere())
        assert theirs is not mine and holders == 1 and mine.holders == 1


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_share_nonces_with_refuses_what_cannot_share(
    node: LocalNode, funded_account: Any
) -> None:
    other_account = await node.create_account(collateral=1_000)
    key5_private, _ = await node.add_api_key(funded_account.account_index, 5)
    async with await make_dealer(node, funded_account, use_ws=False) as leader:
        with pytest.raises(TypeError, match="share_nonces_with"):
            await LighterDealer.create(
                config_for(node, funded_account),
                share_nonces_with=object(),  # type: ignore[arg-type]
            )
        with pytest.raises(ValueError, match="account"):
            await LighterDealer.create(
                config_for(node, other_account, use_ws=False), share_nonces_with=leader
            )
        with pytest.raises(ValueError, match="API keys"):
            two_keys = {funded_account.api_key_index: funded_account.private_key, 5: key5_private}
            await LighterDealer.create(
                config_for(
                    node,
                    funded_account,
                    use_ws=False,
                    api_key_index=None,
                    api_key_private_key=None,
                    api_keys=two_keys,
                ),
                share_nonces_with=leader,
            )
        with pytest.raises(ValueError, match="another node"):
            await LighterDealer.create(
                config_for(node, funded_account, base_url="http://127.0.0.1:9"),
                share_nonces_with=leader,
            )
        # Nothing was sent by the refused builds; the leader's lane still works from nonce 0.
        assert node_nonce(node, funded_account) == 0
        await _one_order(leader, 3000.0)
        assert node_nonce(node, funded_account) == 1
    with pytest.raises(ValueError, match="closed"):
        await LighterDealer.create(config_for(node, funded_account), share_nonces_with=leader)
