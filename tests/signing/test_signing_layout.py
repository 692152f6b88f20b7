"""The signing package's seams: the Go signer never loads the native module, one shared surface."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from lighterfast.signing import NativeSigner, SdkSigner, SignerBase

# Both names the compiled signer has had: neither may be loaded while only the Go signer is used.
NATIVE_MODULES = ("lighterfast._signer", "lighterfast.signing._native")


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_go_signer_dealer_never_loads_the_native_module() -> None:
    """Importing the dealer and WsInfo, and a dealer with `signer="sdk"` signing on a local
    node, leave the native signer unloaded; asking for NativeSigner then loads it."""
    proc = run_python(
        f"""
        import asyncio, sys
        NATIVE = {NATIVE_MODULES!r}

        def loaded():
            return [m for m in NATIVE if m in sys.modules]

        import lighterfast.dealer, lighterfast.ws, lighterfast.signing
        assert loaded() == [], ("at import", loaded())

        from lighterfast import DealerConfig, LighterDealer
        from lighterfast.testnode import LocalNode

        async def main():
            async with LocalNode(exec_latency_ms=0) as node:
                acct = await node.create_account(collateral=100_000)
                config = DealerConfig(
                    base_url=node.base_url, account_index=acct.account_index,
                    api_key_index=acct.api_key_index, api_key_private_key=acct.private_key,
                    symbol="ETH", standard_account=False, jitter_ms=(0, 1), signer="sdk",
                )
                async with await LighterDealer.create(config) as dealer:
                    await dealer.create_limit_order(price=3000.05, size=+0.005)
                    assert [r["accepted"] for r in await dealer.flush()] == [True]

        asyncio.run(main())
        assert loaded() == [], ("after a Go-signed order", loaded())
        cls = lighterfast.signing.NativeSigner
        assert loaded() == ["lighterfast.signing._native"], loaded()
        assert cls.__module__ == "lighterfast.signing._native", cls.__module__
        print("ok")
        """
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok")


@pytest.mark.parametrize(
    "name",
    [
        "__repr__",
        "account_index",
        "chain_id",
        "api_key_indexes",
        "closed",
        "sign_create_order",
        "sign_cancel_order",
        "sign_modify_order",
        "sign_cancel_all_orders",
        "sign_create_grouped_orders",
        "sign_many",
        "create_auth_token",
        "asign_create_order",
        "asign_many",
        "acreate_auth_token",
        "discover_chain_id",
    ],
)
def test_the_signer_surface_is_written_once(name: str) -> None:
    """Both signers take their public surface from SignerBase, not from copies of it."""
    assert issubclass(SdkSigner, SignerBase) and issubclass(NativeSigner, SignerBase)
    assert name not in vars(SdkSigner) and name not in vars(NativeSigner)
    assert name in vars(SignerBase)


def test_the_native_module_imports_no_private_signing_helpers() -> None:
    """The compiled module takes validation from signing.validate and constants from protocol;
    it holds no handle on a Python signing module it could cycle through."""
    from lighterfast.signing import _native

    assert "_sg" not in vars(_native) and "_signing" not in vars(_native)
    for restated in ("TX_CREATE_ORDER", "_EXPIRED_AT_MS", "_DEFAULT_ORDER_EXPIRY_MS"):
        assert restated not in vars(_native), restated
