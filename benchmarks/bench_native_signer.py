"""Signing cost per order: NativeSigner (C, in-process) against SdkSigner and lighter-sdk.

Every round signs the same 15 L2CreateOrder transactions (one key, nonces 1..15), as in
bench_signing.py, so the rows compare directly; divide a round's time by 15 per signature.

* `native_sync`: `NativeSigner.sign_create_order(...)` × 15 (validation, hash, sign, JSON).
* `native_await`: `await NativeSigner.asign_create_order(...)` × 15 (runs inline).
* `native_sign_many`: one `NativeSigner.sign_many(15 orders)`.
* `native_schnorr_only`: the bare `schnorr_sign` of 15 messages (hedged nonce + k*G + challenge).
* `sdksigner_sync` / `sdksigner_sign_many`: the stock Go library on SdkSigner's worker thread.
* `lighter_sdk_main_thread`: `lighter.SignerClient.sign_create_order(...)` on the main thread.

    python -m pytest benchmarks/bench_native_signer.py --benchmark-columns=min,median,mean,rounds
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from lighterfast import _signer as native
from lighterfast import protocol as P
from lighterfast.signing import NativeSigner, SdkSigner, generate_api_key

N = 15
ACCOUNT = 1234
KEY = 4
ORDERS: list[dict[str, Any]] = [
    dict(
        market_index=0,
        client_order_index=1000 + i,
        base_amount=100,
        price=300000 + i,
        is_ask=bool(i % 2),
        order_type=P.ORDER_TYPE_LIMIT,
        time_in_force=P.TIF_GTT,
        reduce_only=False,
        trigger_price=0,
        order_expiry=-1,
        nonce=1 + i,
        api_key_index=KEY,
    )
    for i in range(N)
]
GROUP = "signing-15-orders-native"


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        return asyncio.new_event_loop()


@pytest.fixture(scope="module")
def private_key() -> str:
    return generate_api_key()[0]


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    lp = _new_loop()
    yield lp
    lp.close()


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
def test_native_await(
    benchmark: Any, ours: NativeSigner, loop: asyncio.AbstractEventLoop
) -> None:
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
    import lighter

    async def make_client() -> Any:  # the SDK's ApiClient wants a running loop
        return lighter.SignerClient("http://127.0.0.1:9", ACCOUNT, {KEY: private_key})

    client = loop.run_until_complete(make_client())
    sdk_args = [
        (
            o["market_index"], o["client_order_index"], o["base_amount"], o["price"],
            int(o["is_ask"]), o["order_type"], o["time_in_force"], int(o["reduce_only"]),
            o["trigger_price"], o["order_expiry"],
        )
        for o in ORDERS
    ]  # fmt: skip

    async def run() -> None:
        for args, o in zip(sdk_args, ORDERS, strict=True):
            _, tx_info, _, error = client.sign_create_order(
                *args, nonce=o["nonce"], api_key_index=KEY
            )
            assert error is None and tx_info

    benchmark.extra_info["signatures_per_round"] = N
    try:
        benchmark.pedantic(lambda: loop.run_until_complete(run()), rounds=15, warmup_rounds=1)
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
