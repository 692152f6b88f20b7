"""The node's per-tx history is bounded: after many txs from a real dealer it keeps only its
`max_tx_records` newest records (oldest trimmed first), and the newest stay looked up by hash."""

from __future__ import annotations

import aiohttp

from _helpers import make_dealer
from lighterfast.testnode import DevAccount, LocalNode


async def test_tx_records_stay_bounded(node: LocalNode, funded_account: DevAccount) -> None:
    node.max_tx_records = 20
    hashes: list[str] = []
    async with await make_dealer(node, funded_account) as dealer:
        for n in range(6):  # 6 batches of 10 creates: 60 txs
            for k in range(10):
                await dealer.create_limit_order(1000 + n * 10 + k, 0.01)
            results = await dealer.flush()
            hashes += [r["tx_hash"] for r in results if r.get("tx_hash")]
            assert len(node.tx_records) <= 20 + 20 // 10
    assert len(hashes) == 60
    assert hashes[0] not in node.tx_records  # the oldest went first
    async with aiohttp.ClientSession() as http:
        url = node.base_url + "/api/v1/tx"
        async with http.get(url, params={"by": "hash", "value": hashes[-1]}) as resp:
            body = await resp.json(content_type=None)
    assert body["hash"] == hashes[-1]
