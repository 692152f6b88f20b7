"""Signing cost per order: SdkSigner (worker thread) against lighter-sdk's SignerClient.

Every round signs the same 15 L2CreateOrder transactions (one key, nonces 1..15), so the
rows compare directly; divide a round's time by 15 for the per-signature cost.

* `sdksigner_await`: `await signer.asign_create_order(...)` 15 times in a row, from an event
  loop running on the main thread (how the dealer calls it).
* `sdksigner_sync`: the blocking `signer.sign_create_order(...)` from the main thread.
* `sdksigner_sign_many`: one `await signer.asign_many(...)` of the 15 orders (one thread hop).
* `library_floor_on_worker`: the bare library calls for the same 15 orders on the worker
  thread (no validation, no per-order hop): what the Go code itself costs on this host.
* `lighter_sdk_main_thread`: `lighter.SignerClient.sign_create_order(...)` 15 times, on the
  main thread, exactly as the SDK's own `create_order` calls it.

    python -m pytest benchmarks/bench_signing.py --benchmark-columns=min,median,mean,rounds
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

import lighterfast.signing.sdk as S
from lighterfast.signing import SdkSigner, validate_create_order
from setup_common import ACCOUNT, KEY, ORDERS, N, bench_lighter_sdk_main_thread


@pytest.fixture(scope="module")
def signer(private_key: str) -> Iterator[SdkSigner]:
    s = SdkSigner(ACCOUNT, {KEY: private_key})
    yield s
    s.close()


@pytest.mark.benchmark(group="signing-15-orders")
def test_sdksigner_await(
    benchmark: Any, signer: SdkSigner, loop: asyncio.AbstractEventLoop
) -> None:
    async def run() -> None:
        for kwargs in ORDERS:
            await signer.asign_create_order(**kwargs)

    benchmark.extra_info["signatures_per_round"] = N
    benchmark.pedantic(lambda: loop.run_until_complete(run()), rounds=40, warmup_rounds=2)


@pytest.mark.benchmark(group="signing-15-orders")
def test_sdksigner_sync(benchmark: Any, signer: SdkSigner) -> None:
    def run() -> None:
        for kwargs in ORDERS:
            signer.sign_create_order(**kwargs)

    benchmark.extra_info["signatures_per_round"] = N
    benchmark.pedantic(run, rounds=40, warmup_rounds=2)


@pytest.mark.benchmark(group="signing-15-orders")
def test_sdksigner_sign_many(
    benchmark: Any, signer: SdkSigner, loop: asyncio.AbstractEventLoop
) -> None:
    requests = [("create_order", kwargs) for kwargs in ORDERS]
    result = loop.run_until_complete(signer.asign_many(requests))
    assert len(result) == N
    benchmark.extra_info["signatures_per_round"] = N
    benchmark.pedantic(
        lambda: loop.run_until_complete(signer.asign_many(requests)), rounds=40, warmup_rounds=2
    )


@pytest.mark.benchmark(group="signing-15-orders")
def test_library_floor_on_worker(benchmark: Any, signer: SdkSigner) -> None:
    """The bare library calls on the worker thread, no API, no hop per order: the floor."""
    rows = [
        (ACCOUNT, KEY, o["nonce"], validate_create_order(**{
            k: v for k, v in o.items() if k not in ("nonce", "api_key_index")
        }))
        for o in ORDERS
    ]  # fmt: skip

    def raw() -> None:
        for row in rows:
            S._w_create_order(*row)

    benchmark.extra_info["signatures_per_round"] = N
    benchmark.pedantic(lambda: signer._worker.call(raw), rounds=40, warmup_rounds=2)


@pytest.mark.benchmark(group="signing-15-orders")
def test_lighter_sdk_main_thread(
    benchmark: Any, private_key: str, loop: asyncio.AbstractEventLoop
) -> None:
    bench_lighter_sdk_main_thread(benchmark, private_key, loop, rounds=20)
