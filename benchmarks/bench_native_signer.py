"""Signing cost per order: NativeSigner (C, in-process) against SdkSigner and lighter-sdk.

Every round signs the same 15 L2CreateOrder transactions (one key, nonces 1..15), as in
bench_signing.py, so the rows compare directly; divide a round's time by 15 per signature.

* `native_sync`: `NativeSigner.sign_create_order(...)` × 15 (validation, hash, sign, JSON).
* `native_await`: `await NativeSigner.asign_create_order(...)` × 15 (runs inline).
* `native_sign_many`: one `NativeSigner.sign_many(15 orders)`.
* `native_schnorr_only`: the bare `schnorr_sign` of 15 messages (hedged nonce + k*G + challenge).
* `sdksigner_sync` / `sdksigner_sign_many`: the stock Go library on SdkSigner's worker thread.
* `lighter_sdk_main_thread`: `lighter.SignerClient.sign_create_order(...)` on the main thread.

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
