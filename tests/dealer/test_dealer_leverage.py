"""update_leverage / update_margin through the dealer, end to end on the verifying local node
with lighterfast's own signers (native, the default, and signer="sdk"): inputs checked before
anything is queued, leverage and margin applied, the node's execution errors as it gives them."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from _helpers import config_for, eventually, make_dealer, node_nonce, resign
from lighterfast import LighterDealer
from lighterfast import protocol as p
from lighterfast.errors import SignerError
from lighterfast.signing import NativeSigner, SdkSigner
from lighterfast.testnode import DevAccount, LocalNode

ETH = 0
SIGNERS = ["native", "sdk"]


async def executed(node: LocalNode, result: dict[str, Any]) -> int | None:
    """Wait until the node executed an accepted tx: None if it applied, else its app-error code."""
    assert result["status"] == "accepted", result
    record = node.tx_records[result["tx_hash"]]
    await eventually(lambda: record["status"] == 2)
    ae = orjson.loads(record.get("event_info") or "{}").get("ae")
    return None if ae is None else int(orjson.loads(ae)["code"])


async def test_default_signers_sign_both_kinds(node: LocalNode, funded_account: DevAccount) -> None:
    async with await make_dealer(node, funded_account) as d:
        assert isinstance(d._signer, NativeSigner) and d._signer.engine == "native"
    async with await make_dealer(node, funded_account, signer="sdk") as d:
        assert isinstance(d._signer, SdkSigner)


@pytest.mark.parametrize("signer", SIGNERS)
async def test_leverage_and_margin_end_to_end(
    node: LocalNode, funded_account: DevAccount, signer: str
) -> None:
    acct = node.accounts.accounts[funded_account.account_index]
    async with await make_dealer(node, funded_account, signer=signer) as d:
        summary = await d.update_leverage(5, "isolated")
        assert summary["initial_margin_fraction"] == 2000 and summary["margin_mode"] == "isolated"
        (result,) = await d.flush()
        assert result["tx_type"] == p.TX_TYPE_UPDATE_LEVERAGE
        assert await executed(node, result) is None
        assert acct.positions[ETH].margin_mode == 1
        assert acct.positions[ETH].initial_margin_fraction == 2000
        before = acct.collateral
        await d.update_margin("12.5")
        await d.update_margin(-2.5)
        results = await d.flush()
        assert [r["tx_type"] for r in results] == [p.TX_TYPE_UPDATE_MARGIN] * 2
        assert [await executed(node, r) for r in results] == [None, None]
        assert acct.collateral == before - 10_000_000
        await d.update_margin(-10.000001)  # more than the position holds
        (result,) = await d.flush()
        assert await executed(node, result) == p.ERR_NOT_ENOUGH_COLLATERAL
        await d.update_margin(200_000)  # more than the account has
        (result,) = await d.flush()
        assert await executed(node, result) == p.ERR_NOT_ENOUGH_COLLATERAL
        assert acct.collateral == before - 10_000_000
        await d.update_leverage(250)  # beyond the market's 100x: the node refuses at execution
        (result,) = await d.flush()
        assert await executed(node, result) == 21113
        assert acct.positions[ETH].initial_margin_fraction == 2000
        await d.update_leverage(10, "cross")  # back to cross: the isolated margin is released
        (result,) = await d.flush()
        assert await executed(node, result) is None
        assert acct.positions[ETH].margin_mode == 0 and acct.collateral == before
        if signer == "native":  # signed natively throughout, never through the Go library
            assert d._signer.engine == "native"


@pytest.mark.parametrize("signer", SIGNERS)
async def test_margin_without_an_isolated_position_is_21614(
    node: LocalNode, funded_account: DevAccount, signer: str
) -> None:
    acct = node.accounts.accounts[funded_account.account_index]
    before = acct.collateral
    async with await make_dealer(node, funded_account, signer=signer) as d:
        await d.update_margin(5)
        (result,) = await d.flush()
        assert await executed(node, result) == 21614
    assert acct.collateral == before


@pytest.mark.parametrize("signer", SIGNERS)
async def test_with_a_position_mode_change_is_21132_and_less_leverage_21739(
    node: LocalNode, funded_account: DevAccount, signer: str
) -> None:
    taker = await node.create_account(collateral=1_000)
    acct = node.accounts.accounts[taker.account_index]
    async with (
        await make_dealer(node, funded_account, signer=signer) as maker,
        await make_dealer(node, taker, signer=signer) as d,
    ):
        await maker.create_limit_order("3000.00", "-2")
        assert (await maker.flush())[0]["status"] == "accepted"
        await d.create_limit_order("3000.00", "2")
        assert (await d.flush())[0]["status"] == "accepted"
        await eventually(lambda: acct.positions.get(ETH) and acct.positions[ETH].size != 0)
        imf = node.engine.imf(acct, ETH)
        await d.update_leverage(5, "isolated")  # a position is open: the mode cannot change
        (result,) = await d.flush()
        assert await executed(node, result) == 21132
        await d.update_leverage(1)  # 6 000 USDC of margin on 1 000 of collateral
        (result,) = await d.flush()
        assert await executed(node, result) == p.ERR_NOT_ENOUGH_MARGIN
        assert acct.positions[ETH].margin_mode == 0 and node.engine.imf(acct, ETH) == imf


@pytest.mark.parametrize(
    ("tx_type", "field", "value", "code"),
    [
        (p.TX_TYPE_UPDATE_LEVERAGE, "MarginMode", 2, 21613),
        (p.TX_TYPE_UPDATE_MARGIN, "Direction", 2, 21615),
    ],
)
async def test_what_the_signers_refuse_the_node_refuses_too(
    node: LocalNode, funded_account: DevAccount, tx_type: int, field: str, value: int, code: int
) -> None:
    """Mode / direction 2 never reach a signature (ValueError); forged, the node says 21613 /
    21615 at execution."""
    key, nonce = funded_account.api_key_index, node_nonce(node, funded_account)
    keys = {key: funded_account.private_key}
    with NativeSigner(funded_account.account_index, keys, chain_id=node.chain_id) as signer:
        if tx_type == p.TX_TYPE_UPDATE_LEVERAGE:
            kw: dict[str, Any] = dict(market_index=ETH, initial_margin_fraction=1000, margin_mode=1)
            sign: Any = signer.sign_update_leverage
        else:
            kw = dict(market_index=ETH, usdc_amount=1_000_000, direction=1)
            sign = signer.sign_update_margin
        with pytest.raises(
            ValueError, match="margin_mode" if field == "MarginMode" else "direction"
        ):
            sign(**{**kw, ("margin_mode" if field == "MarginMode" else "direction"): value},
                 nonce=nonce, api_key_index=key)  # fmt: skip
        info = orjson.loads(sign(**kw, nonce=nonce, api_key_index=key).tx_info)
    info[field] = value
    forged = resign(info, funded_account.private_key, node.chain_id, tx_type)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            node.base_url + "/api/v1/sendTx", data={"tx_type": str(tx_type), "tx_info": forged}
        ) as resp,
    ):
        body = await resp.json()
    assert resp.status == 200 and body["code"] == 200, body
    result = {"status": "accepted", "tx_hash": body["tx_hash"]}
    assert await executed(node, result) == code


async def test_a_signer_without_the_methods_is_refused_by_name(
    node: LocalNode, funded_account: DevAccount
) -> None:
    class OrdersOnly:
        """A custom signer that signs orders only (wraps a real one, no leverage / margin)."""

        def __init__(self, inner: NativeSigner) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> Any:
            if name.endswith(("update_leverage", "update_margin")):
                raise AttributeError(name)
            return getattr(self._inner, name)

    keys = {funded_account.api_key_index: funded_account.private_key}
    inner = NativeSigner(funded_account.account_index, keys, chain_id=node.chain_id)
    d = await LighterDealer.create(config_for(node, funded_account), signer=OrdersOnly(inner))
    try:
        with pytest.raises(SignerError, match="update_leverage"):
            await d.update_leverage(10)
        with pytest.raises(SignerError, match="update_margin"):
            await d.update_margin(5)
        assert d.queued == 0
    finally:
        await d.aclose()
        inner.close()


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda d: d.update_leverage(0.5), ValueError, "leverage"),
        (lambda d: d.update_leverage(20_000), ValueError, "initial_margin_fraction"),
        (lambda d: d.update_leverage(float("nan")), ValueError, "leverage"),
        (lambda d: d.update_leverage("10"), TypeError, "leverage"),
        (lambda d: d.update_leverage(True), TypeError, "leverage"),
        (lambda d: d.update_leverage(10, "portfolio"), ValueError, "margin_mode"),
        (lambda d: d.update_leverage(10, market_index=-1), ValueError, "market_index"),
        (lambda d: d.update_leverage(10, market_index=255), ValueError, "market_index"),
        (lambda d: d.update_margin(0), ValueError, "non-zero"),
        (lambda d: d.update_margin(2**60), ValueError, "usdc_amount"),
        (lambda d: d.update_margin("1.0000001"), ValueError, "6 decimals"),
        (lambda d: d.update_margin("abc"), ValueError, "decimal"),
        (lambda d: d.update_margin(None), TypeError, "amount"),
    ],
)
@pytest.mark.parametrize("signer", SIGNERS)
async def test_bad_inputs_queue_nothing(
    node: LocalNode, funded_account: DevAccount, signer: str, call: Any, error: type, match: str
) -> None:
    async with await make_dealer(node, funded_account, signer=signer) as d:
        with pytest.raises(error, match=match):
            await call(d)
        assert d.queued == 0
        assert await d.flush() == []
