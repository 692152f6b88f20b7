"""The native signer's self-check, once per process before its first signature.

Two parts, every tx kind (UpdateLeverage and UpdateMargin included) and the auth token:

* recorded: the C code signs the library's own outputs again with the same fixed nonce k (the
  library run with an injected k, `_selfcheck_data`) and must give tx_info (signature included)
  and tx_hash byte for byte;
* live: lighter-sdk's Go library (loaded anyway) signs a fixed canonical tx now; the native
  signer, pinned to the library's ExpiredAt, must give the same tx_hash and the same tx_info
  bytes but the Sig (the library draws its own k: it takes none from outside), the library's
  signature must verify against the native hash, and the native one (from the nonce pool) too.

On any difference `ensure()` logs one WARNING and every NativeSigner of the process signs through
the Go library. When the library cannot run at all (a forked child of a process that loaded
it), only the recorded part runs.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from typing import Any, Final

from .. import protocol as P
from ..errors import SignerError
from . import _selfcheck_data as D

__all__ = ["done", "ensure", "result"]

log = logging.getLogger("lighterfast.signing")

# An account id no venue hands out (the library keeps one client per account and key index
# for the whole process, so the check must not re-register a real one).
CHECK_ACCOUNT: Final = P.MAX_ACCOUNT_INDEX
CHECK_KEY: Final = 254
CHECK_CHAIN: Final = P.CHAIN_ID_MAINNET
_E: Final = 1797898697405

# TEST SEAM: the name of a tx kind (or "auth_token"; "live:" + it for the live part only) whose
# native output the check alters before comparing, to show what a real difference does. Tests
# set it with monkeypatch, then reset().
_TAMPER_FOR_TESTS: str | None = None

_lock = threading.RLock()
_state: dict[str, Any] = {"done": False, "running": False, "problem": None, "live": None}


def done() -> bool:
    """True once this process's self-check has run."""
    return bool(_state["done"])


def result() -> dict[str, Any]:
    """What the check found: `problem` (None = identical) and `live` (the library part ran)."""
    return {"done": _state["done"], "problem": _state["problem"], "live": _state["live"]}


def ensure() -> str | None:
    """Run the check once (later calls return at once): None, or the first difference found."""
    if _state["done"]:
        return _state["problem"]  # type: ignore[no-any-return]
    with _lock:
        if _state["done"] or _state["running"]:  # running: the check's own signers, re-entered
            return _state["problem"]  # type: ignore[no-any-return]
        _state["running"] = True
        try:
            problem, live = _run()
        except Exception as exc:  # the native code itself failed: do not trust it
            problem, live = f"the check raised {type(exc).__name__}: {exc}", None
        finally:
            _state["running"] = False
        _state.update(done=True, problem=problem, live=live)
    if problem is not None:
        log.warning(
            "native signer self-check found a difference from lighter-sdk's library (%s); "
            "this process signs with the Go library (SdkSigner) instead",
            problem,
        )
    elif not live:
        log.warning(
            "native signer self-check: lighter-sdk's library cannot run here (%s); checked "
            "against its recorded outputs only",
            _state.get("why_not_live", "unavailable"),
        )
    return problem


def reset() -> None:
    """Forget the result so the next NativeSigner checks again (tests only)."""
    with _lock:
        _state.update(done=False, running=False, problem=None, live=None)


def _tamper(kind: str, text: str, live: bool = False) -> str:
    """The seam: `kind` alters both parts' native output, "live:" + kind the live part's only."""
    hit = _TAMPER_FOR_TESTS == kind or (live and _TAMPER_FOR_TESTS == "live:" + kind)
    return "0" + text if hit else text


def _run() -> tuple[str | None, bool]:
    """Both parts; (the first difference or None, whether the live part ran)."""
    from . import _native
    from ._native import NativeSigner

    for vec in D.TRANSACTIONS:
        account, index = vec["account_index"], vec["kwargs"]["api_key_index"]
        with NativeSigner(
            account, {index: D.PRIVATE_KEY}, chain_id=vec["chain_id"], nonce_pool=0
        ) as ours:
            tx = ours._sign_with_k(
                vec["kind"],
                vec["k"],
                expired_at=vec["expired_at"],
                attributes=vec["attributes"],
                **vec["kwargs"],
            )
        if _tamper(vec["kind"], tx.tx_info) != vec["tx_info"] or tx.tx_hash != vec["tx_hash"]:
            return f"{vec['kind']} with a fixed k differs from the library's recorded output", False
    auth = D.AUTH_TOKEN
    with NativeSigner(
        auth["account_index"], {auth["api_key_index"]: D.PRIVATE_KEY}, nonce_pool=0
    ) as ours:
        token = ours._auth_token(auth["deadline"], auth["api_key_index"], auth["k"])
    if _tamper("auth_token", token) != auth["token"]:
        return "auth token with a fixed k differs from the library's recorded output", False
    try:
        return _live(_native, NativeSigner), True
    except SignerError as exc:  # no usable library here (e.g. a forked child): recorded only
        _state["why_not_live"] = str(exc)
        return None, False


def _unsigned(tx_info: str) -> str:
    head, rest = tx_info.split('"Sig":"', 1)
    return head + '"Sig":"' + rest.split('"', 1)[1]


def _live(native: Any, native_cls: Any) -> str | None:
    """The library signs fixed canonical txs now; the native signer must agree (Sig aside)."""
    from .sdk import SdkSigner
    from .types import GroupedOrder

    order = dict(market_index=1, client_order_index=7, base_amount=1000, price=300000,
                 is_ask=False, order_type=0, time_in_force=1, order_expiry=_E)  # fmt: skip
    requests: list[tuple[str, dict[str, Any]]] = [
        ("create_order", order),
        ("cancel_order", dict(market_index=2048, order_index=2**48)),
        ("modify_order", dict(market_index=1, order_index=9, base_amount=5, price=6)),
        ("cancel_all_orders", dict(time_in_force=1, time=_E)),
        ("create_grouped_orders", dict(grouping_type=1, orders=[
            GroupedOrder(1, 31, 100, 5000, False, 0, 1, order_expiry=_E),
            GroupedOrder(1, 32, 0, 4000, True, 2, 0, True, 4000, _E),
        ])),
        ("update_leverage", dict(market_index=1, initial_margin_fraction=500, margin_mode=1)),
        ("update_margin", dict(market_index=2048, usdc_amount=2**33 + 7, direction=1)),
    ]  # fmt: skip
    pub = bytes.fromhex(D.PUBLIC_KEY[2:])
    keys = {CHECK_KEY: D.PRIVATE_KEY}
    with (
        SdkSigner(CHECK_ACCOUNT, keys, chain_id=CHECK_CHAIN) as sdk,
        native_cls(CHECK_ACCOUNT, keys, chain_id=CHECK_CHAIN, nonce_pool=8) as ours,
    ):
        ours._pool.wait_full(1.0)  # so the pooled path is the one checked
        for nonce, (kind, kwargs) in enumerate(requests):
            kw = {**kwargs, "nonce": nonce, "api_key_index": CHECK_KEY}
            theirs = getattr(sdk, "sign_" + kind)(**kw)
            info = json.loads(theirs.tx_info)
            ours._clock_ms = lambda at=info["ExpiredAt"]: at - P.DEFAULT_TX_EXPIRY_MS
            mine = getattr(ours, "sign_" + kind)(**kw)
            if mine.tx_hash != theirs.tx_hash or mine.tx_type != theirs.tx_type:
                return f"{kind}: tx_hash differs from the library's"
            if _tamper(kind, _unsigned(mine.tx_info), True) != _unsigned(theirs.tx_info):
                return f"{kind}: tx_info differs from the library's"
            message = bytes.fromhex(mine.tx_hash)
            if not native.schnorr_verify(pub, message, base64.b64decode(info["Sig"])):
                return f"{kind}: the library's signature does not verify natively"
            own = base64.b64decode(json.loads(mine.tx_info)["Sig"])
            if not native.schnorr_verify(pub, message, own):
                return f"{kind}: the native signature does not verify"
        deadline = 1_800_000_000
        theirs_token = sdk.create_auth_token(deadline, CHECK_KEY)
        mine_token = ours.create_auth_token(deadline, CHECK_KEY)
        mine_token = _tamper("auth_token", mine_token, True)
        if mine_token.rsplit(":", 1)[0] != theirs_token.rsplit(":", 1)[0]:
            return "auth token: the signed message differs from the library's"
    return None
