"""NativeSigner's nonce pool: precomputed (k, encode(k*G)) pairs, each used once, never across a
fork, and an empty pool signs the normal way.

Oracles: the node's compiled verifier (testnode._verify, the one that answers 21120), the
independent pure-Python Schnorr model (test_signing_hash), and lighter-sdk's library through
SdkSigner (same tx_hash and tx_info but the Sig). A signature's e = H(encode(k*G) || msg), so
over one fixed message distinct e values mean distinct k.
"""

from __future__ import annotations

import base64
import gc
import json
import multiprocessing
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import test_signing_hash as model

from lighterfast import protocol as P
from lighterfast.signing import NativeSigner, SdkSigner, SignedTx
from lighterfast.testnode._verify import schnorr_verify as node_verify

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "signer-vectors.json").read_text())
KEY = VECTORS["keys"]["gen1"]
PUB = bytes.fromhex(KEY["public_key"][2:])
ACCOUNT, INDEX, CHAIN = 4321, 5, 300
AT = 1_800_000_000_000  # a pinned clock: every signature below is of one and the same message
ORDER = dict(market_index=0, client_order_index=7, base_amount=1000, price=300000, is_ask=False,
             order_type=0, time_in_force=1, order_expiry=1797898697405, nonce=9,
             api_key_index=INDEX)  # fmt: skip


def make(pool: int = 64) -> NativeSigner:
    signer = NativeSigner(ACCOUNT, {INDEX: KEY["private_key"]}, chain_id=CHAIN, nonce_pool=pool)
    signer._clock_ms = lambda: AT
    return signer


def sig_of(tx: SignedTx) -> bytes:
    return base64.b64decode(json.loads(tx.tx_info)["Sig"])


def valid(tx: SignedTx) -> bool:
    return node_verify(PUB, bytes.fromhex(tx.tx_hash), sig_of(tx))


def test_pooled_signatures_verify_and_match_the_library_but_the_sig() -> None:
    signer = make()
    assert signer._pool is not None and signer._pool.wait_full()
    tx = signer.sign_create_order(**ORDER)  # type: ignore[arg-type]
    assert signer.nonce_pool is not None and signer.nonce_pool["taken"] == 1
    assert valid(tx)
    assert model.verify_signed_tx(tx, KEY["public_key"], CHAIN)
    with SdkSigner(ACCOUNT, {INDEX: KEY["private_key"]}, chain_id=CHAIN) as sdk:
        theirs = sdk.sign_create_order(**ORDER)  # type: ignore[arg-type]
    signer._clock_ms = lambda: json.loads(theirs.tx_info)["ExpiredAt"] - P.DEFAULT_TX_EXPIRY_MS
    mine = signer.sign_create_order(**ORDER)  # type: ignore[arg-type]
    assert mine.tx_hash == theirs.tx_hash
    assert mine.tx_info.split('"Sig"')[0] == theirs.tx_info.split('"Sig"')[0]
    assert valid(mine) and node_verify(PUB, bytes.fromhex(mine.tx_hash), sig_of(theirs))
    signer.close()


def test_no_nonce_is_used_twice_over_many_signatures() -> None:
    """3000 signatures of one message, pool and hedged path mixed: all e (so all k) distinct."""
    signer = make(pool=256)
    assert signer._pool is not None
    sigs: list[bytes] = []
    for _ in range(6):
        signer._pool.wait_full()
        sigs += [sig_of(signer.sign_create_order(**ORDER)) for _ in range(500)]  # type: ignore[arg-type]
    stats = signer.nonce_pool
    assert stats is not None
    assert stats["taken"] + stats["misses"] == 3000 and stats["taken"] >= 6 * 256
    assert len({s[40:] for s in sigs}) == 3000 and len({s[:40] for s in sigs}) == 3000
    msg = bytes.fromhex(signer.sign_create_order(**ORDER).tx_hash)  # type: ignore[arg-type]
    assert all(node_verify(PUB, msg, s) for s in sigs[::50])
    assert stats["made"] >= stats["taken"]  # every pair handed out was made once
    signer.close()


def test_an_empty_pool_signs_the_normal_way() -> None:
    signer = make(pool=4)
    assert signer._pool is not None
    signer._pool.close()  # emptied and never refilled: every signature takes the hedged path
    txs = [signer.sign_create_order(**ORDER) for _ in range(20)]  # type: ignore[arg-type]
    stats = signer.nonce_pool
    assert stats is not None and stats["ready"] == 0
    assert stats["misses"] >= 20 and stats["taken"] == 0
    assert all(valid(tx) for tx in txs) and len({sig_of(tx) for tx in txs}) == 20
    unpooled = make(pool=0)
    assert unpooled.nonce_pool is None and valid(unpooled.sign_create_order(**ORDER))  # type: ignore[arg-type]
    signer.close()
    unpooled.close()


def test_close_wipes_the_pool_and_the_filler_ends_with_its_signer() -> None:
    signer = make(pool=8)
    pool = signer._pool
    assert pool is not None and pool.wait_full()
    signer.close()
    assert pool.closed and pool.stats()["ready"] == 0

    def fillers() -> int:
        return sum(t.name == "lighterfast-nonces" for t in threading.enumerate())

    before = fillers()
    dropped = make(pool=8)
    assert dropped._pool is not None and dropped._pool.wait_full()
    del dropped
    gc.collect()
    deadline = time.monotonic() + 10
    while fillers() >= before + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fillers() <= before


@pytest.mark.parametrize("bad", [-1, 4097, True, "8", 1.0])
def test_the_pool_size_is_bounded_and_checked(bad: Any) -> None:
    with pytest.raises(TypeError if not isinstance(bad, int) or bad is True else ValueError):
        NativeSigner(ACCOUNT, {INDEX: KEY["private_key"]}, nonce_pool=bad)


def _child_signs(signer: NativeSigner) -> tuple[bytes, dict[str, int]]:
    tx = signer.sign_create_order(**ORDER)  # type: ignore[arg-type]
    stats = signer.nonce_pool
    assert stats is not None
    return sig_of(tx), stats


def _child_main(conn: Any, signer: NativeSigner) -> None:  # pragma: no cover - the child
    sig, stats = _child_signs(signer)
    conn.send((sig, stats))
    conn.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_never_uses_its_parents_pool() -> None:
    """The child discards every inherited pair (pid check) and signs with its own k: its
    signature of the very message the parent signs next differs, and both verify."""
    signer = make(pool=32)
    assert signer._pool is not None and signer._pool.wait_full()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            sig, stats = _child_signs(signer)
            os.write(write_end, sig + json.dumps(stats).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    data = b""
    while chunk := os.read(read_end, 4096):
        data += chunk
    os.close(read_end)
    os.waitpid(pid, 0)
    theirs, stats = data[:80], json.loads(data[80:])
    assert stats["discarded"] == 32 and stats["taken"] <= 1
    ours = sig_of(signer.sign_create_order(**ORDER))  # type: ignore[arg-type]
    assert signer.nonce_pool is not None and signer.nonce_pool["discarded"] == 0
    assert ours[40:] != theirs[40:]  # the parent's next k was not the child's
    msg = bytes.fromhex(signer.sign_create_order(**ORDER).tx_hash)  # type: ignore[arg-type]
    assert node_verify(PUB, msg, ours) and node_verify(PUB, msg, theirs)
    signer.close()


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_a_multiprocessing_fork_child_fills_its_own_pool() -> None:
    signer = make(pool=16)
    assert signer._pool is not None and signer._pool.wait_full()
    ctx = multiprocessing.get_context("fork")
    parent_end, child_end = ctx.Pipe()
    proc = ctx.Process(target=_child_main, args=(child_end, signer))
    proc.start()
    assert parent_end.poll(30)
    theirs, stats = parent_end.recv()
    proc.join(30)
    assert proc.exitcode == 0
    assert stats["discarded"] == 16
    ours = sig_of(signer.sign_create_order(**ORDER))  # type: ignore[arg-type]
    assert ours[40:] != theirs[40:]
    msg = bytes.fromhex(signer.sign_create_order(**ORDER).tx_hash)  # type: ignore[arg-type]
    assert node_verify(PUB, msg, theirs)
    signer.close()
