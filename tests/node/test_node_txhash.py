"""The node's tx_hash equals the signer's: Poseidon2 model against the vectors and live replies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lighter
import pytest

from lighterfast.testnode import DevAccount, LocalNode
from lighterfast.testnode.txhash import hash_no_pad, message_hash, permute

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "signer-vectors.json").read_text())
HASHABLE = [v for v in VECTORS["transactions"] if int(v["tx_type"]) in (14, 15, 16, 17, 20, 28, 29)]


@pytest.mark.parametrize("case", VECTORS["poseidon2"], ids=lambda c: c["kind"])
def test_poseidon2_vectors(case: dict[str, Any]) -> None:
    words = [int(x) for x in case["input"]]
    want = [int(x) for x in case["output"]]
    if case["kind"] == "permutation":
        assert permute(words) == want
    else:
        assert hash_no_pad(words, 5 if case["kind"] == "hash_to_fp5" else 4) == want


@pytest.mark.parametrize("vec", HASHABLE, ids=[v["name"] for v in HASHABLE])
def test_message_hash_matches_library(vec: dict[str, Any]) -> None:
    info = json.loads(vec["tx_info"])
    h = message_hash(int(vec["chain_id"]), int(vec["tx_type"]), info)
    assert h == vec["tx_hash"]
    assert message_hash(int(vec["chain_id"]) + 1, int(vec["tx_type"]), info) != h


def test_attribute_vectors_are_covered() -> None:
    with_attrs = [v for v in HASHABLE if json.loads(v["tx_info"])["L2TxAttributes"]]
    assert len(with_attrs) >= 5


async def test_reply_hash_is_the_signed_hash(node: LocalNode, funded_account: DevAccount) -> None:
    client = lighter.SignerClient(
        url=node.base_url,
        account_index=funded_account.account_index,
        api_private_keys={4: funded_account.private_key},
    )
    try:
        signed = [
            client.sign_create_order(0, 3, 100, 300_000, 0, 0, 1, nonce=0, api_key_index=4),
            client.sign_modify_order(0, 3, 50, 300_100, nonce=1, api_key_index=4),
            client.sign_cancel_order(0, 3, nonce=2, api_key_index=4),
        ]
        for tx_type, tx_info, tx_hash, err in signed:
            assert err is None
            resp = await client.send_tx(tx_type=tx_type, tx_info=tx_info)
            assert resp.code == 200 and resp.tx_hash == tx_hash
        tx_type, tx_info, tx_hash, _ = client.sign_cancel_all_orders(0, 0, nonce=3, api_key_index=4)
        batch = await client.send_tx_batch(tx_types=[tx_type], tx_infos=[tx_info])
        assert batch.tx_hash == [tx_hash]
    finally:
        await client.close()
