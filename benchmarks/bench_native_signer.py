"""Signing cost per order: NativeSigner (C, in-process) against SdkSigner and lighter-sdk.

Every round signs the same 15 L2CreateOrder transactions (one key, nonces 1..15), as in
bench_signing.py, so the rows compare directly; divide a round's time by 15 per signature.

* `native_sync`: `NativeSigner.sign_create_order(...)` × 15 (validation, hash, sign, JSON).
* `native_await`: `await NativeSigner.asign_create_order(...)` × 15 (runs inline).
* `native_sign_many`: one `NativeSigner.sign_many(15 orders)`.
* `native_schnorr_only`: the bare `schnorr_sign` of 15 messages (hedged nonce + k*G + challenge).
* `sdksigner_sync` / `sdksigner_sign_many`: the stock Go library on SdkSigner's worker thread.
* `lighter_sdk_main_thread`: `lighter.SignerClient.sign_create_order(...)` on the main thread.

Group `sign-one-create-order`: ONE signature per round, p50/p99 — NativeSigner with its nonce
pool (topped up between rounds), without it (`nonce_pool=0`), SdkSigner, and lighter-sdk's
main-thread path. The 15-order rows use the default signer (pool on, drained within a round).

And order to acceptance (group `native-order-to-acceptance`): one `create_limit_order` +
`flush()` over WebSocket against a local node in its own process (tx_hash_mode "fast"), by a
dealer holding a NativeSigner vs one holding the default SdkSigner, and lighter-sdk's own
`SignerClient.create_order` (REST). p50/p99 are printed and stored in `extra_info`.

    python -m pytest benchmarks/bench_native_signer.py -s --benchmark-columns=min,median,mean,rounds
"""

from __future__ import annotations

import asyncio
import random
import statistics
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from lighterfast.signing import NativeSigner, SdkSigner
from lighterfast.signing import _native as native
from setup_common import (
    ACCOUNT,
    KEY,
    ORDERS,
    N,
    bench_lighter_sdk_main_thread,
    node_in_process,
)

GROUP = "signing-15-orders-native"


@pytest.fixture(scope="module")
def ours(private_key: str) -> Iterator[NativeSigner]:
    s = NativeSigner(ACCOUNT, {KEY: private_key})
    yield s
    s.close()


@pytest.fixture(scope="module")
def sdk(private_key: str) -> Iterator[SdkSigner]:
    s = SdkSigner(ACCOUNT, {KEY: private_key})
    yield s
    s.close()


@pytest.mark.benchmark(group=GROUP)
def test_native_sync(benchmark: Any, ours: NativeSigner) -> None:
    def run() -> None:
        for kwargs in ORDERS:
            ours.sign_create_order(**kwargs)

    benchmark.extra_info["signatures_per_round"] = N
    benchmark.pedantic(run, rounds=200, warmup_rounds=5)


@pytest.mark.benchmark(group=GROUP)
def test_native_await(benchmark: Any, ours: NativeSigner, loop: asyncio.AbstractEventLoop) -> None:
    async def run() -> None:
        for kwargs in ORDERS:
            await ours.asign_create_order(**kwargs)

    benchmark.extra_info["signatures_per_round"] = N
    benchmark.pedantic(lambda: loop.run_until_complete(run()), rounds=200, warmup_rounds=5)


@pytest.mark.benchmark(group=GROUP)
def test_native_sign_many(benchmark: Any, ours: NativeSigner) -> None:
    requests = [("create_order", kwargs) for kwargs in ORDERS]
    assert len(ours.sign_many(requests)) == N
    benchmark.extra_info["signatures_per_round"] = N
    benchmark.pedantic(lambda: ours.sign_many(requests), rounds=200, warmup_rounds=5)


@pytest.mark.benchmark(group=GROUP)
def test_native_schnorr_only(benchmark: Any, private_key: str) -> None:
    raw = bytes.fromhex(private_key.removeprefix("0x"))
    messages = [native.tx_message([i, 2, 3]) for i in range(N)]

    def run() -> None:
        for msg in messages:
            native.schnorr_sign(raw, msg)

    benchmark.extra_info["signatures_per_round"] = N
    benchmark.pedantic(run, rounds=200, warmup_rounds=5)


@pytest.mark.benchmark(group=GROUP)
def test_sdksigner_sync(benchmark: Any, sdk: SdkSigner) -> None:
    def run() -> None:
        for kwargs in ORDERS:
            sdk.sign_create_order(**kwargs)

    benchmark.extra_info["signatures_per_round"] = N
    benchmark.pedantic(run, rounds=30, warmup_rounds=2)


@pytest.mark.benchmark(group=GROUP)
def test_sdksigner_sign_many(benchmark: Any, sdk: SdkSigner) -> None:
    requests = [("create_order", kwargs) for kwargs in ORDERS]
    benchmark.extra_info["signatures_per_round"] = N
    benchmark.pedantic(lambda: sdk.sign_many(requests), rounds=30, warmup_rounds=2)


@pytest.mark.benchmark(group=GROUP)
def test_lighter_sdk_main_thread(
    benchmark: Any, private_key: str, loop: asyncio.AbstractEventLoop
) -> None:
    bench_lighter_sdk_main_thread(benchmark, private_key, loop, rounds=15)


# -- one create-order, side by side (the README's signing table) ----------------------------------

ONE = "sign-one-create-order"
ONE_ROUNDS = 2000


@pytest.fixture(scope="module")
def pooled(private_key: str) -> Iterator[NativeSigner]:
    s = NativeSigner(ACCOUNT, {KEY: private_key}, nonce_pool=4096)
    yield s
    s.close()


@pytest.fixture(scope="module")
def unpooled(private_key: str) -> Iterator[NativeSigner]:
    s = NativeSigner(ACCOUNT, {KEY: private_key}, nonce_pool=0)
    yield s
    s.close()


def _one_order(benchmark: Any, sign: Callable[[], Any], rounds: int, setup: Any = None) -> None:
    """One signature per round; p50/p99 in µs into extra_info."""
    benchmark.pedantic(sign, setup=setup, rounds=rounds, iterations=1, warmup_rounds=20)
    if benchmark.stats is None:
        return
    data = sorted(benchmark.stats.stats.data)
    p50 = statistics.median(data) * 1e6
    p99 = data[min(len(data) - 1, int(len(data) * 0.99))] * 1e6
    benchmark.extra_info.update(p50_us=round(p50, 2), p99_us=round(p99, 2))
    print(f"\n{benchmark.name}: p50 {p50:.2f} us, p99 {p99:.2f} us")


@pytest.mark.benchmark(group=ONE)
def test_one_native_pool(benchmark: Any, pooled: NativeSigner) -> None:
    """The pooled path: a precomputed (k, kG) pair is ready for every round (a 4096-pair pool
    filled before the run stays above its low-water mark, so no refill is asked for; the filler's
    0.5 s top-up tick can still fall inside the ~20 ms run and compute on the other core)."""
    pool = pooled._pool
    assert pool is not None and pool.wait_full(30.0)
    kwargs = ORDERS[0]
    _one_order(benchmark, lambda: pooled.sign_create_order(**kwargs), ONE_ROUNDS)
    stats = pooled.nonce_pool
    assert stats is not None and stats["misses"] == 0
    benchmark.extra_info["pool"] = stats


@pytest.mark.benchmark(group=ONE)
def test_one_native_no_pool(benchmark: Any, unpooled: NativeSigner) -> None:
    kwargs = ORDERS[0]
    _one_order(benchmark, lambda: unpooled.sign_create_order(**kwargs), ONE_ROUNDS)


@pytest.mark.benchmark(group=ONE)
def test_one_sdksigner(benchmark: Any, sdk: SdkSigner) -> None:
    kwargs = ORDERS[0]
    _one_order(benchmark, lambda: sdk.sign_create_order(**kwargs), 300)


@pytest.mark.benchmark(group=ONE)
def test_one_lighter_sdk_main_thread(
    benchmark: Any, private_key: str, loop: asyncio.AbstractEventLoop
) -> None:
    """lighter-sdk's SignerClient.sign_create_order on the main thread (inside the loop, as
    its own create_order calls it)."""
    import lighter

    from setup_common import SDK_ORDER_ARGS

    async def make_client() -> Any:
        return lighter.SignerClient("http://127.0.0.1:9", ACCOUNT, {KEY: private_key})

    client = loop.run_until_complete(make_client())
    args, nonce = SDK_ORDER_ARGS[0], ORDERS[0]["nonce"]

    async def run() -> None:
        _, tx_info, _, error = client.sign_create_order(*args, nonce=nonce, api_key_index=KEY)
        assert error is None and tx_info

    try:
        _one_order(benchmark, lambda: loop.run_until_complete(run()), 60)
    finally:
        loop.run_until_complete(client.api_client.close())


# -- primitives (one call per round) ----------------------------------------------------------


@pytest.mark.benchmark(group="native-primitives")
def test_primitive_poseidon2_permutation(benchmark: Any) -> None:
    state = list(range(12))
    benchmark(native.permute, state)


@pytest.mark.benchmark(group="native-primitives")
def test_primitive_k_times_g(benchmark: Any) -> None:
    k = native.N - 12345
    benchmark(native.mul_generator, k)


@pytest.mark.benchmark(group="native-primitives")
def test_primitive_verify(benchmark: Any, private_key: str) -> None:
    raw = bytes.fromhex(private_key.removeprefix("0x"))
    pub = native.public_key(raw)
    msg = native.tx_message([1, 2, 3])
    sig = native.schnorr_sign(raw, msg)
    assert benchmark(native.schnorr_verify, pub, msg, sig)


# -- order to acceptance: a dealer with each signer, against a node in another process ------------

E2E = "native-order-to-acceptance"
E2E_ROUNDS = 200


@pytest.fixture(scope="module")
def node_info() -> Iterator[dict[str, Any]]:
    with node_in_process("fast", accounts=3) as info:
        yield info


def _percentiles(
    benchmark: Any, loop: asyncio.AbstractEventLoop, op: Callable[[], Awaitable[Any]]
) -> None:
    for _ in range(10):
        loop.run_until_complete(op())
    benchmark.pedantic(lambda: loop.run_until_complete(op()), rounds=E2E_ROUNDS, iterations=1)
    if benchmark.stats is None:  # --benchmark-disable: the op ran once as a smoke test
        return
    data = sorted(benchmark.stats.stats.data)
    p50 = statistics.median(data) * 1e6
    p99 = data[min(len(data) - 1, int(len(data) * 0.99))] * 1e6
    benchmark.extra_info.update(p50_us=round(p50, 1), p99_us=round(p99, 1))
    print(f"\n{benchmark.name}: p50 {p50:.0f} us, p99 {p99:.0f} us")


@pytest.mark.benchmark(group=E2E)
@pytest.mark.parametrize("which", ["native", "sdk"])
def test_dealer_one_order(
    benchmark: Any, loop: asyncio.AbstractEventLoop, node_info: dict[str, Any], which: str
) -> None:
    from lighterfast import DealerConfig, LighterDealer

    acc, key, private = node_info["accounts"][0 if which == "native" else 1]
    config = DealerConfig(
        base_url=node_info["base_url"], account_index=acc, api_key_index=key,
        api_key_private_key=private, symbol="ETH", standard_account=False, use_ws=True,
    )  # fmt: skip
    signer = NativeSigner(acc, {key: private}) if which == "native" else None

    async def make() -> LighterDealer:
        return await LighterDealer.create(config, signer=signer)

    dealer = loop.run_until_complete(make())
    rng = random.Random(1)

    async def one() -> None:
        await dealer.create_limit_order(round(rng.uniform(1000, 1999), 2), 0.01)
        results = await dealer.flush()
        assert results[0]["accepted"], results

    try:
        _percentiles(benchmark, loop, one)
    finally:
        loop.run_until_complete(dealer.aclose())
        if signer is not None:
            signer.close()


@pytest.mark.benchmark(group=E2E)
def test_lighter_sdk_one_order(
    benchmark: Any, loop: asyncio.AbstractEventLoop, node_info: dict[str, Any]
) -> None:
    import lighter

    acc, key, private = node_info["accounts"][2]

    async def make() -> Any:
        return lighter.SignerClient(
            url=node_info["base_url"], account_index=acc, api_private_keys={key: private}
        )

    client = loop.run_until_complete(make())
    rng = random.Random(3)
    coi = [1000]

    async def one() -> None:
        coi[0] += 1
        _, resp, err = await client.create_order(
            market_index=0, client_order_index=coi[0], base_amount=100,
            price=int(round(rng.uniform(1000, 1999), 2) * 100), is_ask=False,
            order_type=lighter.SignerClient.ORDER_TYPE_LIMIT,
            time_in_force=lighter.SignerClient.ORDER_TIME_IN_FORCE_GOOD_TILL_TIME,
        )  # fmt: skip
        assert err is None and resp.code == 200, err

    try:
        _percentiles(benchmark, loop, one)
    finally:
        loop.run_until_complete(client.close())
