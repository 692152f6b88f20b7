"""Frames: channel names, client→server frame encoding, tx replies → exceptions.

Pure functions over bytes/dicts (no sockets, no state). The dealer imports the tx frame
encoders (`encode_sendtx`, `encode_sendtx_batch`, `sendtx_batch_form`) via `lighterfast.wire`;
their signatures are stable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, NamedTuple

import orjson

from .. import protocol as P
from ..errors import LighterError, NonceError, RateLimited, TxRejected

# --- fixed control frames (§4.2) -------------------------------------------------------------
PING: Final = b'{"type":"ping"}'
PONG: Final = b'{"type":"pong"}'

# Message `type` strings of server frames (§4.3, §4.7).
TYPE_CONNECTED: Final = "connected"
TYPE_PING: Final = "ping"
TYPE_PONG: Final = "pong"
TYPE_SHUTDOWN: Final = "shutdown"
TYPE_UNSUBSCRIBED: Final = "unsubscribed"
TYPE_ERROR: Final = "error"
SUBSCRIBED_PREFIX: Final = "subscribed/"
UPDATE_PREFIX: Final = "update/"

# Error codes that mean "slow down" rather than "this tx is wrong" (§1.4, §4.9).
RATE_LIMIT_CODES: Final = frozenset(
    {P.ERR_TOO_MANY_REQUESTS, P.ERR_TOO_MANY_WS_MESSAGES, P.ERR_TOO_MANY_INFLIGHT}
)


# --- channels ---------------------------------------------------------------------------------
def subscribe_channel(family: str, *args: int | str) -> str:
    """Channel as written in subscribe requests: `order_book/0`, `account_all_orders/7`."""
    if not family or "/" in family or ":" in family:
        raise ValueError(f"channel family: invalid {family!r}")
    if not args:
        return family
    return family + "/" + "/".join(str(a) for a in args)


def frame_channel(family: str, *args: int | str) -> str:
    """Channel as the server writes it in frames: `order_book:0` (§4.2: `/` in, `:` out)."""
    if not args:
        return family
    return family + ":" + ":".join(str(a) for a in args)


def parse_channel(channel: str) -> tuple[str, tuple[str, ...]]:
    """Split a channel in either spelling (`order_book:0`, `order_book/0`) into (family, args)."""
    if not isinstance(channel, str):
        raise TypeError(f"channel: expected str, got {type(channel).__name__}")
    sep = ":" if ":" in channel else "/"
    parts = channel.split(sep)
    family = parts[0]
    if not family:
        raise ValueError(f"channel: empty family in {channel!r}")
    return family, tuple(parts[1:])


def channel_market(channel: str, position: int = 0) -> int | None:
    """The market id argument of a channel (`order_book:40000`, `order_book/4098`), else None.

    `position` picks the argument (`account_orders:{m}:{a}` has the market first). Only plain
    ASCII digits as the venue writes them count (no sign, no leading zero), in the signer's
    range 0..2^48-1; 255 is returned as is ("all").
    """
    args = parse_channel(channel)[1]
    if not 0 <= position < len(args):
        return None
    text = args[position]
    if not text or len(text) > _MAX_MARKET_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    if text[0] == "0" and text != "0":
        return None
    value = int(text)
    return value if value <= P.MAX_MARKET_INDEX else None


_MAX_MARKET_DIGITS: Final = len(str(P.MAX_MARKET_INDEX))


def to_frame_channel(subscribe_key: str) -> str:
    """Map a subscribe key (`order_book/0`) to the channel string frames carry (`order_book:0`)."""
    return subscribe_key.replace("/", ":")


def is_private_channel(channel: str) -> bool:
    """True when the channel's subscribe needs an auth token (§4.4)."""
    return parse_channel(channel)[0] in P.PRIVATE_CHANNELS


def split_type(frame_type: str) -> tuple[str, str]:
    """Split a frame `type` into (kind, family): `update/order_book` → ("update", "order_book")."""
    kind, sep, family = frame_type.partition("/")
    if not sep:
        return kind, ""
    return kind, family


# --- client → server frames -------------------------------------------------------------------
def encode_subscribe(channel: str, auth: str | None = None) -> bytes:
    """Subscribe request; `auth` is added only when given (private channels, §4.2)."""
    if not isinstance(channel, str) or not channel:
        raise ValueError("channel: must be a non-empty str")
    if auth is None:
        return orjson.dumps({"type": "subscribe", "channel": channel})
    if not isinstance(auth, str) or not auth:
        raise ValueError("auth: must be a non-empty str token")
    return orjson.dumps({"type": "subscribe", "channel": channel, "auth": auth})


def encode_unsubscribe(channel: str) -> bytes:
    """Unsubscribe request (needed before a re-subscribe, §4.6)."""
    if not isinstance(channel, str) or not channel:
        raise ValueError("channel: must be a non-empty str")
    return orjson.dumps({"type": "unsubscribe", "channel": channel})


def _tx_info_bytes(tx_info: str | bytes | Mapping[str, Any], field: str) -> bytes:
    """The signer's tx_info JSON as bytes, checked to be one JSON object."""
    if isinstance(tx_info, str):
        raw = tx_info.encode()
    elif isinstance(tx_info, (bytes, bytearray)):
        raw = bytes(tx_info)
    elif isinstance(tx_info, Mapping):
        return orjson.dumps(tx_info)
    else:
        raise TypeError(f"{field}: expected the signer's JSON str, got {type(tx_info).__name__}")
    raw = raw.strip()
    if not (raw.startswith(b"{") and raw.endswith(b"}")):
        raise ValueError(f"{field}: not a JSON object")
    return raw


def _check_tx_type(tx_type: object, field: str) -> int:
    """A tx type must be a plain positive int (bool is refused)."""
    if type(tx_type) is not int or tx_type <= 0:
        raise TypeError(f"{field}: expected a positive int tx type, got {tx_type!r}")
    return tx_type


def _check_request_id(request_id: str | None) -> None:
    if request_id is not None and (not isinstance(request_id, str) or not request_id):
        raise ValueError("request_id: must be a non-empty str or None")


def encode_sendtx(
    tx_type: int, tx_info: str | bytes | Mapping[str, Any], *, request_id: str | None = None
) -> bytes:
    """`jsonapi/sendtx` frame; tx_info is embedded as a JSON object, unchanged (§4.7)."""
    _check_tx_type(tx_type, "tx_type")
    _check_request_id(request_id)
    info = _tx_info_bytes(tx_info, "tx_info")
    head = b'{"type":"jsonapi/sendtx","data":{'
    if request_id is not None:
        head += b'"id":' + orjson.dumps(request_id) + b","
    return head + b'"tx_type":' + str(tx_type).encode() + b',"tx_info":' + info + b"}}"


def sendtx_batch_form(
    tx_types: Sequence[int], tx_infos: Sequence[str | bytes], *, max_batch: int | None = None
) -> dict[str, str]:
    """Batch fields as strings: `tx_types` "[14,15]", `tx_infos` a JSON array of tx_info strings.

    Same shape for REST `sendTxBatch` form fields and WS `jsonapi/sendtxbatch` data (§1.2, §4.7).
    Validates everything first, so a bad batch sends nothing.
    """
    if isinstance(tx_types, (str, bytes)) or isinstance(tx_infos, (str, bytes)):
        raise TypeError("tx_types/tx_infos: expected sequences, not a single string")
    n = len(tx_types)
    if n != len(tx_infos):
        raise ValueError(f"tx_infos: length {len(tx_infos)} differs from tx_types length {n}")
    if n == 0:
        raise ValueError("tx_types: a batch needs at least one transaction")
    if max_batch is not None and n > max_batch:
        raise ValueError(f"tx_types: batch of {n} exceeds max_batch={max_batch}")
    types = [_check_tx_type(t, f"tx_types[{i}]") for i, t in enumerate(tx_types)]
    infos = [_tx_info_bytes(info, f"tx_infos[{i}]").decode() for i, info in enumerate(tx_infos)]
    return {"tx_types": orjson.dumps(types).decode(), "tx_infos": orjson.dumps(infos).decode()}


def _plain_batch(tx_types: object, tx_infos: object, max_batch: int | None) -> bool:
    """True for lists of positive ints and of stripped JSON-object strs of one length that
    fits: what the signer hands over, encoded as is; anything else takes the checking path."""
    if type(tx_types) is not list or type(tx_infos) is not list:
        return False
    n = len(tx_types)
    if n == 0 or n != len(tx_infos) or (max_batch is not None and n > max_batch):
        return False
    for tx_type in tx_types:
        if type(tx_type) is not int or tx_type <= 0:
            return False
    for info in tx_infos:
        if type(info) is not str or info[:1] != "{" or info[-1:] != "}":
            return False
    return True


def encode_sendtx_batch(
    tx_types: Sequence[int],
    tx_infos: Sequence[str | bytes],
    *,
    request_id: str | None = None,
    max_batch: int | None = None,
) -> bytes:
    """`jsonapi/sendtxbatch` frame: `tx_types`/`tx_infos` double-encoded as JSON strings (§4.7)."""
    _check_request_id(request_id)
    if _plain_batch(tx_types, tx_infos, max_batch):  # the signer's output: checked, one pass
        types_s = orjson.dumps(tx_types).decode()
        infos_s = orjson.dumps(tx_infos).decode()
        fields = (
            {"tx_types": types_s, "tx_infos": infos_s}
            if request_id is None
            else {"id": request_id, "tx_types": types_s, "tx_infos": infos_s}
        )
        return orjson.dumps({"type": P.WS_MSG_SEND_TX_BATCH, "data": fields})
    form = sendtx_batch_form(tx_types, tx_infos, max_batch=max_batch)
    data: dict[str, str] = {}
    if request_id is not None:
        data["id"] = request_id
    data["tx_types"] = form["tx_types"]
    data["tx_infos"] = form["tx_infos"]
    return orjson.dumps({"type": P.WS_MSG_SEND_TX_BATCH, "data": data})


def encode_sendtx_batch_signed(
    txs: Iterable[Any], *, request_id: str | None = None, max_batch: int | None = None
) -> bytes:
    """Batch frame from objects with `.tx_type` and `.tx_info` (e.g. `signing.SignedTx`)."""
    items = list(txs)
    try:
        types = [t.tx_type for t in items]
        infos = [t.tx_info for t in items]
    except AttributeError as exc:
        raise TypeError("txs: items need .tx_type and .tx_info (SignedTx)") from exc
    return encode_sendtx_batch(types, infos, request_id=request_id, max_batch=max_batch)


# --- server replies ---------------------------------------------------------------------------
class TxReply(NamedTuple):
    """One decoded tx reply: `ok` with `tx_hash` (str or list) or the node's error code/message."""

    request_id: str | None
    ok: bool
    code: int
    message: str
    tx_hash: str | list[str] | None
    raw: dict[str, Any]


def parse_tx_reply(msg: Mapping[str, Any]) -> TxReply:
    """Decode a tx reply in any of its forms (§4.7): success, `{"error":…}`, non-200 `code`."""
    rid = msg.get("id")
    request_id = None if rid is None else str(rid)
    err = msg.get("error")
    if err is not None and isinstance(err, Mapping):  # (None: the common reply, no ABC check)
        code = err.get("code")
        return TxReply(
            request_id,
            False,
            int(code) if isinstance(code, int) else 0,
            str(err.get("message", "")),
            None,
            dict(msg),
        )
    code = msg.get("code")
    code_i = int(code) if isinstance(code, int) else 0
    if code_i == 200:
        message = str(msg.get("message", ""))
        return TxReply(request_id, True, 200, message, msg.get("tx_hash"), dict(msg))
    return TxReply(request_id, False, code_i, str(msg.get("message", "")), None, dict(msg))


def error_from_code(code: int, message: str, *, http_status: int | None = None) -> LighterError:
    """The exception for a node error code: NonceError, RateLimited or TxRejected (§1.4)."""
    if code in P.NONCE_ERROR_CODES:
        return NonceError(code, message, http_status=http_status)
    if code in RATE_LIMIT_CODES or http_status == 429:
        return RateLimited(f"code {code}: {message}")
    return TxRejected(code, message, http_status=http_status)


def reply_error(reply: TxReply) -> LighterError | None:
    """None for an accepted reply, else the matching exception (not raised)."""
    if reply.ok:
        return None
    return error_from_code(reply.code, reply.message)


def flat_position(market: int, symbol: str | None = None) -> dict[str, Any]:
    """The position view of a market the account has no row for (WsInfo and REST reads alike)."""
    return {
        "market_index": market,
        "symbol": symbol,
        "size": 0.0,
        "side": "flat",
        "avg_entry_price": None,
        "liquidation_price": None,
        "position_value": 0.0,
        "allocated_margin": None,
        "unrealized_pnl": 0.0,
        "realized_pnl": 0.0,
        "open_order_count": 0,
        "pending_order_count": 0,
        "margin_mode": None,
    }
