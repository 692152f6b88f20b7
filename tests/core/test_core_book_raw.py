"""OrderBook.apply_update_raw / order_book_market: order_book frames straight from JSON bytes.

The compiled scanner may decline a frame (-1) that the pure twin handles; what must match is
the effective outcome after a decline falls back to the generic path (orjson + apply_update),
which is what WsInfo does.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lighterfast.core import _core, _core_py

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from frames import frame_bytes, make_book_frames


@pytest.fixture(params=[_core, _core_py], ids=["compiled", "pure"])
def m(request: pytest.FixtureRequest) -> ModuleType:
    return request.param


def frame(asks: list[Any], bids: list[Any], nonce: Any, begin: Any, market: int = 0) -> bytes:
    return orjson.dumps(
        {
            "type": "update/order_book",
            "channel": f"order_book:{market}",
            "timestamp": 1,
            "offset": 2,
            "order_book": {
                "code": 0,
                "asks": asks,
                "bids": bids,
                "offset": 2,
                "nonce": nonce,
                "begin_nonce": begin,
                "last_updated_at": 3,
            },
        }
    )


def lv(price: str, size: str) -> dict[str, str]:
    return {"price": price, "size": size}


@pytest.fixture
def book(m: ModuleType) -> Any:
    b = m.OrderBook(0, 2, 4)
    assert b.apply_snapshot(
        {"asks": [lv("10.00", "1"), lv("11.00", "2")], "bids": [lv("9.00", "3")], "nonce": 100}
    )
    return b


def state(b: Any) -> tuple[Any, ...]:
    return b.bids_int(1000), b.asks_int(1000), b.nonce, b.is_stale


def test_applies_chain_like_apply_update(m: ModuleType) -> None:
    frames = make_book_frames(levels=200, updates=300, seed=11)
    raw_book = m.OrderBook(0, 2, 4)
    dict_book = m.OrderBook(0, 2, 4)
    raw_book.apply_snapshot(frames.inner_snapshot)
    dict_book.apply_snapshot(frames.inner_snapshot)
    payloads = frame_bytes(frames)
    assert raw_book.apply_update_raw(payloads[0]) == -1  # a snapshot is not an update
    for payload, update in zip(payloads[1:], frames.inner_updates, strict=True):
        assert raw_book.apply_update_raw(payload) == 1
        assert dict_book.apply_update(update)
    assert state(raw_book) == state(dict_book)
    assert raw_book.apply_update_raw(payloads[-1].decode()) == 2  # str payloads too; a replay


def test_results(book: Any) -> None:
    assert book.apply_update_raw(frame([lv("10.00", "0")], [], 105, 100)) == 1
    assert book.best_ask() == (11.0, 2.0)
    assert book.apply_update_raw(frame([], [], 104, 100)) == 2  # replay: nothing changes
    assert book.apply_update_raw(frame([], [lv("9.50", "1")], 105, 105)) == 2
    assert book.nonce == 105 and not book.is_stale
    assert book.apply_update_raw(frame([], [], 110, 106)) == 0  # gap
    assert book.is_stale
    assert book.apply_update_raw(frame([], [], 111, 110)) == 0  # stale: ignored
    assert book.nonce == 105


def test_crossed(book: Any) -> None:
    assert book.apply_update_raw(frame([], [lv("10.00", "1")], 101, 100)) == 0
    assert book.is_stale


@pytest.mark.parametrize(
    "payload",
    [
        frame([], [], 101, 100, market=1),  # another market's channel
        b'{"type":"subscribed/order_book","channel":"order_book:0","order_book":{}}',
        b'{"type":"update/order_book","channel":"order_book:0"}',  # no order_book
        b'{"type":"update/order_book","order_book":{"nonce":101,"begin_nonce":100}}',
        frame([lv("x", "1")], [], 101, 100),
        frame([lv("10.001", "1")], [], 101, 100),
        frame([lv("0", "1")], [], 101, 100),
        frame([{"price": 10, "size": "1"}], [], 101, 100),
        frame([{"price": "10"}], [], 101, 100),
        frame([], [], 101.0, 100),
        frame([], [], -1, 100),
        frame([], [], "101", 100),
        frame([], [], 2**63, 100),
        frame([], {"x": 1}, 101, 100),
        frame([], [], 101, 100)[:-1],  # truncated
        frame([], [], 101, 100) + b"x",
        b"[]",
        b"",
        b"not json",
    ],
)
def test_declines_leave_book_unchanged(book: Any, payload: bytes) -> None:
    before = state(book)
    assert book.apply_update_raw(payload) == -1
    assert state(book) == before


@pytest.mark.parametrize(
    "payload",
    [
        b'{"type":"update/order_book","type":"update/order_book","channel":"order_book:0",'
        b'"order_book":{"nonce":101,"begin_nonce":100}}',
        frame([lv("10.00", "1")], [], 101, 100).replace(b'"size":"1"', b'"size":"1","size":"2"'),
        frame([], [], 101, 100).replace(b'"offset":2', b'"offset":"caf\\u00e9"'),
        frame([lv("10.00", "1")], [], 101, 100).replace(b'"10.00"', b'"10.0\\u0030"'),
        frame([], [], 101, 100).replace(b'"code":0', b'"code":"\xc3\xa9"'),
    ],
)
def test_compiled_declines_what_the_pure_twin_parses(payload: bytes) -> None:
    """Escapes, non-ASCII and duplicate keys: the scanner declines; the outcome is the same."""
    orjson.loads(payload)  # valid JSON
    fast, pure = _core.OrderBook(0, 2, 4), _core_py.OrderBook(0, 2, 4)
    for b in (fast, pure):
        b.apply_snapshot({"asks": [lv("11.00", "1")], "bids": [lv("9.00", "3")], "nonce": 100})
    assert fast.apply_update_raw(payload) == -1
    assert effective(fast, payload) == effective(pure, payload) != -1
    assert state(fast) == state(pure)


def test_non_text_payload(book: Any) -> None:
    assert book.apply_update_raw(None) == -1
    assert book.apply_update_raw(12) == -1


def test_order_book_market(m: ModuleType) -> None:
    assert m.order_book_market(frame([], [], 1, 0, market=7)) == 7
    assert m.order_book_market('{"channel": "order_book:12", "type": "update/order_book"}') == 12
    assert m.order_book_market(b'{"type":"subscribed/order_book","channel":"order_book:1"}') == -1
    assert m.order_book_market(b'{"type":"update/trade","channel":"trade:1"}') == -1
    assert m.order_book_market(b'{"type":"update/order_book","channel":"order_book:x"}') == -1
    assert m.order_book_market(b"[1]") == -1
    assert m.order_book_market(None) == -1


# --- twins: same payloads, same effective outcome ------------------------------------------


def generic(book: Any, payload: Any) -> Any:
    """WsInfo's generic path: orjson, route by type/channel, replay check, apply_update."""
    try:
        msg = orjson.loads(payload)
    except (orjson.JSONDecodeError, TypeError):
        return "bad-json"
    if (
        type(msg) is not dict
        or msg.get("type") != "update/order_book"
        or msg.get("channel") != f"order_book:{book.market_index}"
    ):
        return "not-ours"
    inner = msg.get("order_book")
    try:
        if not book.is_stale and inner["nonce"] <= book.nonce:
            return 2
        return int(book.apply_update(inner))
    except (ValueError, KeyError, TypeError) as exc:
        return ("error", type(exc).__name__)


def effective(book: Any, payload: Any) -> Any:
    before = state(book)
    result = book.apply_update_raw(payload)
    if result == -1:
        assert state(book) == before  # a decline never touches the book
        return generic(book, payload)
    return result


GOOD_LEVEL = st.builds(
    lambda p, s: {"price": f"{p / 100:.2f}", "size": f"{s / 10_000:.4f}"},
    st.integers(1, 60),
    st.integers(0, 30_000),
)
LEVEL = st.one_of(
    GOOD_LEVEL,
    GOOD_LEVEL,
    GOOD_LEVEL,
    GOOD_LEVEL,
    st.sampled_from(
        [
            {"price": "1.5", "size": "0.0"},
            {"size": "1", "price": "2", "x": [1, {"y": None}]},
            {"price": "x", "size": "1"},
            {"price": 1, "size": "1"},
            {"price": "1"},
            "lvl",
            {"price": "0.001", "size": "1"},
            {"price": "3.00", "size": "1\u00e9"},
        ]
    ),
)


@st.composite
def payloads(draw: st.DrawFn, nonce_now: int) -> Any:
    inner: dict[str, Any] = {
        "code": draw(st.sampled_from([0, 0, 0, None, "ok", -1.5e-3, True, [], {"a": [1]}])),
        "asks": draw(st.one_of(st.lists(LEVEL, max_size=5), st.none(), st.just({}))),
        "bids": draw(st.one_of(st.lists(LEVEL, max_size=5), st.none())),
        "nonce": nonce_now + draw(st.integers(-3, 20)),
        "begin_nonce": draw(st.sampled_from([nonce_now, nonce_now, nonce_now - 1, 0])),
    }
    if draw(st.integers(0, 9)) == 0:
        inner["nonce"] = draw(st.sampled_from([1.0, "5", -1, 2**63, None, True]))
    if draw(st.integers(0, 9)) == 0:
        del inner[draw(st.sampled_from(["nonce", "begin_nonce", "asks", "bids"]))]
    keys = list(inner)
    draw(st.randoms()).shuffle(keys)
    inner = {k: inner[k] for k in keys}
    top: dict[str, Any] = {
        "type": draw(st.sampled_from(["update/order_book"] * 6 + ["subscribed/order_book"])),
        "channel": draw(st.sampled_from(["order_book:0"] * 6 + ["order_book:1", "order_book:00"])),
        "timestamp": 17,
        "order_book": inner,
        "note": draw(st.sampled_from(["", "", "", "", "", "caf\u00e9", 'a"b', "x\\y", "\n"])),
    }
    keys = list(top)
    draw(st.randoms()).shuffle(keys)
    top = {k: top[k] for k in keys}
    style = draw(st.integers(0, 7))
    if style == 0:
        text: Any = orjson.dumps(top)
    elif style == 1:
        text = json.dumps(top, indent=draw(st.sampled_from([None, 1, "\t"])))
    elif style == 2:
        text = json.dumps(top, ensure_ascii=False).encode()
    elif style < 7:
        text = orjson.dumps(top)
    else:
        text = orjson.dumps(top)
        text = text[: draw(st.integers(0, len(text)))]  # truncated or empty
    return text


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_raw_twins_effective_outcome(data: st.DataObject) -> None:
    fast, pure = _core.OrderBook(0, 2, 4), _core_py.OrderBook(0, 2, 4)
    snapshot = {"asks": [lv("0.61", "1")], "bids": [lv("0.01", "1")], "nonce": 50}
    fast.apply_snapshot(snapshot)
    pure.apply_snapshot(snapshot)
    for _ in range(data.draw(st.integers(1, 12))):
        payload = data.draw(payloads(pure.nonce))
        hint = _core.order_book_market(payload)
        # The compiled hint may decline (-1, then the caller parses) and does not validate
        # the rest of the frame; otherwise it agrees with the pure twin.
        assert hint in (-1, _core_py.order_book_market(payload)) or orjson_fails(payload)
        assert effective(fast, payload) == effective(pure, payload), payload
        assert state(fast) == state(pure)
        if data.draw(st.integers(0, 7)) == 0:
            fast.apply_snapshot(snapshot)
            pure.apply_snapshot(snapshot)


def orjson_fails(payload: Any) -> bool:
    try:
        orjson.loads(payload)
    except orjson.JSONDecodeError:
        return True
    return False
