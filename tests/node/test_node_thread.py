"""`NodeThread`: the node on its own loop thread, driven from synchronous code."""

from __future__ import annotations

import json
import threading
import urllib.request

import lighter
import pytest

from lighterfast.testnode import NodeThread


def test_node_thread_serves_sync_clients() -> None:
    with NodeThread(exec_latency_ms=0) as nt:
        node = nt.node
        acct = nt.create_account(collateral=500)
        with urllib.request.urlopen(node.base_url + "/", timeout=5) as r:
            assert json.loads(r.read())["network_id"] == 304
        url = f"{node.base_url}/api/v1/nextNonce?account_index={acct.account_index}&api_key_index=4"
        with urllib.request.urlopen(url, timeout=5) as r:
            assert json.loads(r.read())["nonce"] == 0

        async def make_client() -> lighter.SignerClient:  # the SDK wants a running loop
            return lighter.SignerClient(
                url=node.base_url,
                account_index=acct.account_index,
                api_private_keys={4: acct.private_key},
            )

        client = nt.call(make_client())
        try:
            assert client.check_client() is None  # blocking HTTP from this thread
        finally:
            nt.call(client.close())
        assert node.state.collateral(acct.account_index) == 500_000_000
        names = {t.name for t in threading.enumerate()}
        assert "lighterfast-node" in names
    assert "lighterfast-node" not in {t.name for t in threading.enumerate()}
    with pytest.raises(RuntimeError):
        _ = nt.node
