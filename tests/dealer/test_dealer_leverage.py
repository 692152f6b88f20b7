"""update_leverage / update_margin through the dealer: inputs checked before anything is
queued, refused by name when the signer cannot sign them, and end to end on the local node
with a signer that can (lighter-sdk's own Go functions on lighterfast's signer thread)."""

from __future__ import annotations

import ctypes
from typing import Any, ClassVar

import pytest

from _helpers import config_for, eventually, make_dealer
from lighterfast import LighterDealer
from lighterfast import protocol as p
from lighterfast.errors import SignerError
from lighterfast.signing import SdkSigner, sdk
from lighterfast.signing.types import SignedTx
from lighterfast.testnode import DevAccount, LocalNode

ETH = 0
_I, _LL, _U8 = ctypes.c_int, ctypes.c_longlong, ctypes.c_uint8


def _go(name: str, argtypes: list[Any]) -> Any:
    """One more function of the same loaded signer library (worker thread only)."""
    lib = sdk._guard()
    fn = getattr(ctypes.CDLL(lib.path), name)
    fn.argtypes, fn.restype = argtypes, sdk._SignedTxResponse
    return lib, fn


def _w_leverage(account: int, key: int, nonce: int, row: tuple[int, int, int]) -> SignedTx:
    lib, fn = _go("SignUpdateLeverage", [_LL, _I, _I, _U8, _LL, _I, _LL])
    return lib.signed(fn(row[0], row[1], row[2], 0, nonce, key, account))


def _w_margin(account: int, key: int, nonce: int, row: tuple[int, int, int]) -> SignedTx:
    lib, fn = _go("SignUpdateMargin", [_LL, _LL, _I, _U8, _LL, _I, _LL])
    return lib.signed(fn(row[0], row[1], row[2], 0, nonce, key, account))


class AccountTxSigner(SdkSigner):
    """The SDK signer plus UpdateLeverage (20) and UpdateMargin (29), signed by the Go library."""

    def _prep_update_leverage(
        self,
        *,
        nonce: int,
        api_key_index: int,
        market_index: int,
        initial_margin_fraction: int,
        margin_mode: int,
    ) -> Any:
        row = (market_index, initial_margin_fraction, margin_mode)
        return _w_leverage, (self._account_index, self._key_index(api_key_index), nonce, row)

    def _prep_update_margin(
        self, *, nonce: int, api_key_index: int, market_index: int, usdc_amount: int, direction: int
    ) -> Any:
        row = (market_index, usdc_amount, direction)
        return _w_margin, (self._account_index, self._key_index(api_key_index), nonce, row)

    _preparers: ClassVar[dict[str, Any]] = {
        **SdkSigner._preparers,
        "update_leverage": _prep_update_leverage,
        "update_margin": _prep_update_margin,
    }

    def sign_update_leverage(self, **kwargs: Any) -> SignedTx:
        result: SignedTx = self._run(self._prep_update_leverage(**kwargs))
        return result

    def sign_update_margin(self, **kwargs: Any) -> SignedTx:
        result: SignedTx = self._run(self._prep_update_margin(**kwargs))
        return result


async def dealer_with_account_txs(node: LocalNode, acct: DevAccount) -> LighterDealer:
    signer = await AccountTxSigner.create(
        acct.account_index, {acct.api_key_index: acct.private_key}, base_url=node.base_url
    )
    dealer = await LighterDealer.create(config_for(node, acct), signer=signer)
    dealer._owns_signer = True  # closed with the dealer
    return dealer


async def test_sdk_signer_cannot_sign_them_named_error(
    node: LocalNode, funded_account: DevAccount
) -> None:
    async with await make_dealer(node, funded_account) as d:
        with pytest.raises(SignerError, match="update_leverage"):
            await d.update_leverage(10)
        with pytest.raises(SignerError, match="update_margin"):
            await d.update_margin(5)
        assert d.queued == 0


async def test_leverage_and_margin_end_to_end(node: LocalNode, funded_account: DevAccount) -> None:
    acct = node.accounts.accounts[funded_account.account_index]
    async with await dealer_with_account_txs(node, funded_account) as d:
        summary = await d.update_leverage(5, "isolated")
        assert summary["initial_margin_fraction"] == 2000 and summary["margin_mode"] == "isolated"
        (result,) = await d.flush()
        assert result["status"] == "accepted" and result["tx_type"] == p.TX_TYPE_UPDATE_LEVERAGE
        await eventually(lambda: acct.positions.get(ETH) and acct.positions[ETH].margin_mode == 1)
        assert acct.positions[ETH].initial_margin_fraction == 2000
        before = acct.collateral
        await d.update_margin("12.5")
        await d.update_margin(-2.5)
        results = await d.flush()
        assert [r["status"] for r in results] == ["accepted", "accepted"]
        await eventually(lambda: acct.collateral == before - 10_000_000)
        await d.update_leverage(250)  # beyond the market's 100x: the node refuses at execution
        (result,) = await d.flush()
        record = node.tx_records[result["tx_hash"]]
        await eventually(lambda: record["status"] == 2)
        assert "21113" in record["event_info"]
        assert acct.positions[ETH].initial_margin_fraction == 2000


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda d: d.update_leverage(0.5), ValueError, "leverage"),
        (lambda d: d.update_leverage(float("nan")), ValueError, "leverage"),
        (lambda d: d.update_leverage("10"), TypeError, "leverage"),
        (lambda d: d.update_leverage(True), TypeError, "leverage"),
        (lambda d: d.update_leverage(10, "portfolio"), ValueError, "margin_mode"),
        (lambda d: d.update_leverage(10, market_index=-1), ValueError, "market_index"),
        (lambda d: d.update_margin(0), ValueError, "non-zero"),
        (lambda d: d.update_margin("1.0000001"), ValueError, "6 decimals"),
        (lambda d: d.update_margin("abc"), ValueError, "decimal"),
        (lambda d: d.update_margin(None), TypeError, "amount"),
    ],
)
async def test_bad_inputs_queue_nothing(
    node: LocalNode, funded_account: DevAccount, call: Any, error: type, match: str
) -> None:
    async with await dealer_with_account_txs(node, funded_account) as d:
        with pytest.raises(error, match=match):
            await call(d)
        assert d.queued == 0
