"""Order to acceptance on loopback, side by side: lighterfast vs the official SDK vs ccxt.

One local node (exec latency 0) runs in a separate process; each client has its own account
on it and is measured from the call that creates the order to the node's acceptance reply:

* lighterfast: `create_limit_order` + `flush()` (WebSocket `jsonapi/sendtxbatch`; REST too);
* lighter-sdk 1.1.8: `SignerClient.create_order` (signs on the calling thread, REST sendTx);
* ccxt 4.5 `lighter`: `create_order` (REST sendTx). ccxt's ctypes binding declares the
  signer's `SignCreateOrder` with 17 arguments, the installed SDK 1.1.8 library takes 19
  (two self-trade fields), so ccxt cannot sign with it as shipped; we keep all of ccxt's path
  and replace only that one binding call by the same library call with the 1.1.8 argument list,
  made on the same (main) thread. ccxt also needs `has['fetchCurrencies'] = False` (the node
  has no assetDetails), its urls pointed at the node, and `enableRateLimit=False`.

And a batch of 10 orders: lighterfast (10 × create + one flush) vs the SDK (10 × sign +
`send_tx_batch`). ccxt has no batch create for lighter. Percentiles (p50/p99, µs) are in
`extra_info` and printed; run:

    python -m pytest benchmarks/bench_dealer.py --benchmark-only -s

Every figure is taken twice, against a node in `tx_hash_mode="fast"` (a stand-in hash: the
node's own hashing is not in the client's figure; the headline) and in the default "signer"
mode (the node re-hashes each tx as the venue would). Groups are suffixed with the mode.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from setup_common import new_loop, node_in_process

ROUNDS = int(os.environ.get("LIGHTERFAST_BENCH_ROUNDS", "300"))
BATCH_ROUNDS = max(20, ROUNDS // 10)
WARMUP = 10


@pytest.fixture(scope="module", params=["fast", "signer"])
def node_info(request: Any) -> Iterator[dict[str, Any]]:
    """A LocalNode in its own process (so its work does not share the clients' loop)."""
    with node_in_process(request.param, accounts=6) as info:
        info["tx_hash_mode"] = request.param
        yield info


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One uvloop loop for every client (the same loop for all, for fairness)."""
    lp = new_loop()
    asyncio.set_event_loop(lp)
    yield lp
    lp.close()


def _account(info: dict[str, Any], slot: int) -> tuple[int, int, str]:
    acc, key, private = info["accounts"][slot]
    return int(acc), int(key), str(private)


def _run(
    benchmark: Any,
    loop: asyncio.AbstractEventLoop,
    op: Callable[[], Awaitable[Any]],
    rounds: int,
    mode: str,
    per: int = 1,
) -> None:
    """Benchmark one async op per round; record p50/p99 in µs (per order when `per` > 1)."""
    benchmark.group = f"{benchmark.group}-{mode}-hash"
    benchmark.extra_info["tx_hash_mode"] = mode
    if getattr(benchmark, "disabled", False):  # smoke run (--benchmark-disable): once
        benchmark.pedantic(lambda: loop.run_until_complete(op()), rounds=1, iterations=1)
        return
    for _ in range(WARMUP):
        loop.run_until_complete(op())
    benchmark.pedantic(lambda: loop.run_until_complete(op()), rounds=rounds, iterations=1)
    data = sorted(benchmark.stats.stats.data)
    p50 = statistics.median(data) * 1e6
    p99 = data[min(len(data) - 1, int(len(data) * 0.99))] * 1e6
    benchmark.extra_info.update(p50_us=round(p50, 1), p99_us=round(p99, 1))
    if per > 1:
        benchmark.extra_info.update(per_order_p50_us=round(p50 / per, 1))
    print(
        f"\n{benchmark.name} [{mode} hash]: p50 {p50:.0f} us, p99 {p99:.0f} us"
        + (f", per order {p50 / per:.0f} us" if per > 1 else "")
    )


def _buy_price(rng: random.Random) -> float:
    return round(rng.uniform(1000, 1999), 2)  # far below any ask: rests, never trades


# --- lighterfast -------------------------------------------------------------------------------


async def _make_dealer(info: dict[str, Any], slot: int, use_ws: bool) -> Any:
    from lighterfast import DealerConfig, LighterDealer

    acc, key, private = _account(info, slot)
    cfg = DealerConfig(
        base_url=info["base_url"],
        account_index=acc,
        api_key_index=key,
        api_key_private_key=private,
        symbol="ETH",
        standard_account=False,
        use_ws=use_ws,
    )
    return await LighterDealer.create(cfg)


@pytest.mark.benchmark(group="dealer-one-order")
@pytest.mark.parametrize("transport", ["ws", "rest"])
def test_lighterfast_one_order(
    benchmark: Any, loop: asyncio.AbstractEventLoop, node_info: dict[str, Any], transport: str
) -> None:
    dealer = loop.run_until_complete(
        _make_dealer(node_info, 0 if transport == "ws" else 1, transport == "ws")
    )
    rng = random.Random(1)

    async def one() -> None:
        await dealer.create_limit_order(_buy_price(rng), 0.01)
        results = await dealer.flush()
        assert results[0]["accepted"], results

    try:
        _run(benchmark, loop, one, ROUNDS, node_info["tx_hash_mode"])
    finally:
        loop.run_until_complete(dealer.aclose())


@pytest.mark.benchmark(group="dealer-batch-10")
def test_lighterfast_batch_of_10(
    benchmark: Any, loop: asyncio.AbstractEventLoop, node_info: dict[str, Any]
) -> None:
    dealer = loop.run_until_complete(_make_dealer(node_info, 2, True))
    rng = random.Random(2)

    async def ten() -> None:
        for _ in range(10):
            await dealer.create_limit_order(_buy_price(rng), 0.01)
        results = await dealer.flush()
        assert len(results) == 10 and all(r["accepted"] for r in results)

    try:
        _run(benchmark, loop, ten, BATCH_ROUNDS, node_info["tx_hash_mode"], per=10)
    finally:
        loop.run_until_complete(dealer.aclose())


# --- the official SDK ----------------------------------------------------------------------------


def _sdk_client(info: dict[str, Any], slot: int) -> Any:
    import lighter

    acc, key, private = _account(info, slot)
    return lighter.SignerClient(
        url=info["base_url"], account_index=acc, api_private_keys={key: private}
    )


@pytest.mark.benchmark(group="dealer-one-order")
def test_sdk_one_order(
    benchmark: Any, loop: asyncio.AbstractEventLoop, node_info: dict[str, Any]
) -> None:
    import lighter

    client = loop.run_until_complete(_async(lambda: _sdk_client(node_info, 3)))
    rng = random.Random(3)
    coi = [1000]

    async def one() -> None:
        coi[0] += 1
        _, resp, err = await client.create_order(
            market_index=0,
            client_order_index=coi[0],
            base_amount=100,
            price=int(_buy_price(rng) * 100),
            is_ask=False,
            order_type=lighter.SignerClient.ORDER_TYPE_LIMIT,
            time_in_force=lighter.SignerClient.ORDER_TIME_IN_FORCE_GOOD_TILL_TIME,
        )
        assert err is None and resp.code == 200, err

    try:
        _run(benchmark, loop, one, ROUNDS, node_info["tx_hash_mode"])
    finally:
        loop.run_until_complete(client.close())


@pytest.mark.benchmark(group="dealer-batch-10")
def test_sdk_batch_of_10(
    benchmark: Any, loop: asyncio.AbstractEventLoop, node_info: dict[str, Any]
) -> None:
    import lighter

    client = loop.run_until_complete(_async(lambda: _sdk_client(node_info, 4)))
    acc, key, _ = _account(node_info, 4)
    rng = random.Random(4)
    state = {"coi": 5000, "nonce": None}

    async def ten() -> None:
        if state["nonce"] is None:
            state["nonce"] = (
                await lighter.TransactionApi(client.api_client).next_nonce(
                    account_index=acc, api_key_index=key
                )
            ).nonce
        types, infos = [], []
        for _ in range(10):
            state["coi"] += 1
            tx_type, tx_info, _, err = client.sign_create_order(
                0,
                state["coi"],
                100,
                int(_buy_price(rng) * 100),
                False,
                lighter.SignerClient.ORDER_TYPE_LIMIT,
                lighter.SignerClient.ORDER_TIME_IN_FORCE_GOOD_TILL_TIME,
                nonce=state["nonce"],
                api_key_index=key,
            )
            assert err is None, err
            state["nonce"] += 1
            types.append(tx_type)
            infos.append(tx_info)
        resp = await client.send_tx_batch(types, infos)
        assert resp.code == 200 and len(resp.tx_hash) == 10

    try:
        _run(benchmark, loop, ten, BATCH_ROUNDS, node_info["tx_hash_mode"], per=10)
    finally:
        loop.run_until_complete(client.close())


# --- ccxt --------------------------------------------------------------------------------------


def _ccxt_exchange(info: dict[str, Any], slot: int) -> Any:
    import glob

    import ccxt.async_support as ccxt_async
    import lighter
    from lighter.signer_client import SignerClient, get_signer

    acc, key, private = _account(info, slot)
    library = glob.glob(
        os.path.join(os.path.dirname(lighter.__file__), "signers", "*linux-amd64.so")
    )
    ex = ccxt_async.lighter({"enableRateLimit": False})
    ex.has["fetchCurrencies"] = False
    base = info["base_url"]
    ex.urls["api"] = {"root": base, "public": base, "private": base}
    ex.options.update(
        libraryPath=library[0],
        accountIndex=acc,
        apiKeyIndex=key,
        chainId=304,
        builderFee=True,  # keeps ccxt's request fields; integrator 0 = no attribute signed
        approvedBuilderFee=True,
        integratorAccountIndex=0,
        integratorTakerFee=0,
        integratorMakerFee=0,
    )
    ex.init_auth_object(str(acc), str(key))
    ex.options["auths"][str(acc)][str(key)]["lighterPrivateKey"] = private
    sdk_lib = get_signer()
    decode = SignerClient._SignerClient__decode_tx_info  # type: ignore[attr-defined]

    def sign_create_order(signer: Any, r: dict[str, Any]) -> list[Any]:
        """ccxt's call with the installed 1.1.8 argument list (adds the two self-trade fields)."""
        tx_type, tx_info, _, err = decode(
            sdk_lib.SignCreateOrder(
                int(r["market_index"]),
                r["client_order_index"],
                r["base_amount"],
                r["avg_execution_price"],
                r["is_ask"],
                r["order_type"],
                r["time_in_force"],
                r["reduce_only"],
                r["trigger_price"],
                r["order_expiry"],
                r["integrator_account_index"],
                r["integrator_taker_fee"],
                r["integrator_maker_fee"],
                0,
                0,
                1,
                r["nonce"],
                r["api_key_index"],
                r["account_index"],
            )
        )
        if err:
            raise RuntimeError(err)
        return [tx_type, tx_info]

    ex.lighter_sign_create_order = sign_create_order
    return ex


@pytest.mark.benchmark(group="dealer-one-order")
def test_ccxt_one_order(
    benchmark: Any, loop: asyncio.AbstractEventLoop, node_info: dict[str, Any]
) -> None:
    ex = _ccxt_exchange(node_info, 5)
    rng = random.Random(5)

    async def one() -> None:
        order = await ex.create_order("ETH/USDC:USDC", "limit", "buy", 0.01, _buy_price(rng))
        assert order["info"]["code"] == 200

    try:
        loop.run_until_complete(ex.load_markets())
        _run(benchmark, loop, one, ROUNDS, node_info["tx_hash_mode"])
    finally:
        loop.run_until_complete(ex.close())


async def _async(fn: Callable[[], Any]) -> Any:
    """Run a constructor inside the loop (clients that grab the running loop at init)."""
    return fn()
