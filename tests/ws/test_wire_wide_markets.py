"""wire: channel names with 64-bit market ids, in both spellings (`order_book/4098` in,
`order_book:4098` out), and the market id read back from them."""

from __future__ import annotations

import pytest

from lighterfast.wire import channel_market, frame_channel, parse_channel, subscribe_channel

WIDE = (0, 254, 255, 256, 2048, 4095, 4098, 40000, 2**40, 2**48 - 1)


@pytest.mark.parametrize("market", WIDE)
def test_channel_names_round_trip(market: int) -> None:
    sub = subscribe_channel("order_book", market)
    frame = frame_channel("order_book", market)
    assert (sub, frame) == (f"order_book/{market}", f"order_book:{market}")
    assert parse_channel(sub) == parse_channel(frame) == ("order_book", (str(market),))
    assert channel_market(sub) == channel_market(frame) == market
    assert channel_market(frame_channel("account_orders", market, 7)) == market
    assert channel_market(frame_channel("account_orders", market, 7), 1) == 7


@pytest.mark.parametrize(
    "channel",
    [
        f"order_book:{2**48}",  # past what the signer signs
        f"order_book:{10**30}",
        "order_book:04098",  # never written by the venue
        "order_book:+4098",
        "order_book:-1",
        "order_book:4098.0",
        "order_book: 4098",
        "order_book:\u0664\u0660\u0669\u0668",  # non-ASCII digits
        "order_book:",
        "order_book",
        "market_stats:all",
    ],
)
def test_not_a_market_id(channel: str) -> None:
    assert channel_market(channel) is None


def test_position_out_of_range() -> None:
    assert channel_market("order_book:40000", 1) is None
    assert channel_market("order_book:40000", -1) is None
    with pytest.raises(TypeError):
        channel_market(40000)  # type: ignore[arg-type]
