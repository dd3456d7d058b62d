"""Request signing (shared/spec/bingx-api.md §3) and the order parameters that get signed.

The vectors are the spec's: the official ones of §3.2 (rows 1 and 2; row 3 is a known
docs error) and the three requests ccxt 4.5.90 built in §3.5, compared byte for byte.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from adxbot.domain.enums import OrderSide, OrderType, PositionSide, TimeInForce
from adxbot.domain.ids import ClientOrderId
from adxbot.exchange.orders import AttachedStop, OrderSpec
from adxbot.exchange.signing import encoded_query, payload_of, sign, signed_query

ROW1_SECRET = "mheO6dR8ovSsxZQCOYEFCtelpuxcWGTfHw7te326y6jOwq5WpvFQ9JNljoTwBXZGv5It07m9RXSPpDQEK2w"
ROW2_SECRET = "UuGuyEGt6ZEkpUObCYCmIfh0elYsZVh80jlYwpJuRZEw70t6vomMH7Sjmf94ztSI"
CCXT_SECRET = "SECRET"  # the spec's probe secret

STOP_LOSS_JSON = (
    '{"stopPrice":30000.1,"workingType":"MARK_PRICE","type":"STOP_MARKET","quantity":0.001}'
)
TAKE_PROFIT_JSON = (
    '{"stopPrice":40000,"workingType":"MARK_PRICE","type":"TAKE_PROFIT_MARKET","quantity":0.001}'
)
ATTACHED_ORDER_PARAMS = [
    ("positionSide", "BOTH"),
    ("quantity", "0.001"),
    ("side", "BUY"),
    ("stopLoss", STOP_LOSS_JSON),
    ("symbol", "BTC-USDT"),
    ("takeProfit", TAKE_PROFIT_JSON),
    ("timestamp", "1700000000000"),
    ("type", "MARKET"),
]


# ---------------------------------------------------------------- §3.2 official vectors
@pytest.mark.parametrize(
    ("secret", "payload", "expected"),
    [
        pytest.param(
            ROW1_SECRET,
            "symbol=BTC-USDT&timestamp=1667872120843&side=LONG&leverage=6",
            "4f581ecdb1fa09b9d6e57886b6f70cffed17f82b93399722939e49a38edec2bf",
            id="row1-unsorted-swap",
        ),
        pytest.param(
            ROW2_SECRET,
            "quoteOrderQty=20&side=BUY&symbol=ETHUSDT&timestamp=1649404670162&type=MARKET",
            "428a3c383bde514baff0d10d3c20e5adfaacaf799e324546dafe5ccc480dd827",
            id="row2-spot-docs",
        ),
    ],
)
def test_sign_when_given_an_official_vector_then_returns_its_signature(
    secret: str, payload: str, expected: str
) -> None:
    assert sign(payload, secret) == expected


def test_sign_then_returns_64_lower_case_hex_characters() -> None:
    signature = sign("timestamp=1", "secret")
    assert len(signature) == 64
    assert signature == signature.lower()
    int(signature, 16)


# ---------------------------------------------------------------- §3.5 worked examples
def test_signed_query_when_market_order_example_then_matches_ccxt_byte_for_byte() -> None:
    params = [
        ("positionSide", "BOTH"),
        ("quantity", "0.0012"),
        ("side", "BUY"),
        ("symbol", "BTC-USDT"),
        ("timestamp", "1700000000000"),
        ("type", "MARKET"),
    ]
    assert payload_of(params) == (
        "positionSide=BOTH&quantity=0.0012&side=BUY&symbol=BTC-USDT"
        "&timestamp=1700000000000&type=MARKET"
    )
    assert signed_query(params, CCXT_SECRET) == (
        "positionSide=BOTH&quantity=0.0012&side=BUY&symbol=BTC-USDT&timestamp=1700000000000"
        "&type=MARKET&signature=20eeca542c2c49616ea164b931bbcb093193eefdb3bd447ae037bd00d9c4940a"
    )


def test_signed_query_when_order_carries_stop_loss_and_take_profit_then_matches_ccxt() -> None:
    assert payload_of(ATTACHED_ORDER_PARAMS) == (
        f"positionSide=BOTH&quantity=0.001&side=BUY&stopLoss={STOP_LOSS_JSON}&symbol=BTC-USDT"
        f"&takeProfit={TAKE_PROFIT_JSON}&timestamp=1700000000000&type=MARKET"
    )
    assert signed_query(ATTACHED_ORDER_PARAMS, CCXT_SECRET) == (
        "positionSide=BOTH&quantity=0.001&side=BUY"
        "&stopLoss=%7B%22stopPrice%22%3A30000.1%2C%22workingType%22%3A%22MARK_PRICE%22%2C"
        "%22type%22%3A%22STOP_MARKET%22%2C%22quantity%22%3A0.001%7D"
        "&symbol=BTC-USDT"
        "&takeProfit=%7B%22stopPrice%22%3A40000%2C%22workingType%22%3A%22MARK_PRICE%22%2C"
        "%22type%22%3A%22TAKE_PROFIT_MARKET%22%2C%22quantity%22%3A0.001%7D"
        "&timestamp=1700000000000&type=MARKET"
        "&signature=d1c04a4ad2caed2cb55072b00d3897f4d6d9b3b6ab0e6294ca05591536d0030a"
    )


def test_signed_query_when_only_timestamp_then_matches_ccxt_positions_example() -> None:
    assert signed_query([("timestamp", "1700000000000")], CCXT_SECRET) == (
        "timestamp=1700000000000"
        "&signature=19b46ad9a1e9fa824812324598aa7d97b82085e0e522018efc9cc29f4f00d59f"
    )


# ---------------------------------------------------------------- order and encoding
def test_signed_query_when_parameters_unsorted_then_keeps_their_order() -> None:
    params = [
        ("symbol", "BTC-USDT"),
        ("timestamp", "1667872120843"),
        ("side", "LONG"),
        ("leverage", "6"),
    ]
    query = signed_query(params, ROW1_SECRET)
    assert query == (
        "symbol=BTC-USDT&timestamp=1667872120843&side=LONG&leverage=6"
        "&signature=4f581ecdb1fa09b9d6e57886b6f70cffed17f82b93399722939e49a38edec2bf"
    )
    assert signed_query(sorted(params), ROW1_SECRET) != query


def test_signed_query_when_value_is_json_then_sends_it_encoded_and_signs_it_raw() -> None:
    params = [("symbol", "BTC-USDT"), ("stopLoss", STOP_LOSS_JSON), ("timestamp", "1")]
    query = signed_query(params, CCXT_SECRET)
    wire, _, signature = query.rpartition("&signature=")
    assert wire == encoded_query(params)
    assert "stopLoss=%7B%22stopPrice%22%3A30000.1%2C" in wire
    for raw in ("{", '"', ",", ":"):
        assert raw not in wire
    assert signature == sign(f"symbol=BTC-USDT&stopLoss={STOP_LOSS_JSON}&timestamp=1", CCXT_SECRET)
    assert signature != sign(wire, CCXT_SECRET)


def test_encoded_query_when_value_has_spaces_then_uses_percent_20_and_leaves_keys_alone() -> None:
    assert encoded_query([("note key", "a b/c")]) == "note key=a%20b%2Fc"


def test_signed_query_then_puts_signature_last() -> None:
    query = signed_query([("b", "2"), ("a", "1")], "s")
    assert query.split("&")[-1].startswith("signature=")
    assert query.count("signature=") == 1


# ---------------------------------------------------------------- OrderSpec.params
def _attached_order() -> OrderSpec:
    return OrderSpec(
        symbol="BTC-USDT",
        side=OrderSide.BUY,
        order_type=OrderType.MARKET,
        client_order_id=ClientOrderId("Bot-Entry-42"),
        quantity=Decimal("0.0010"),
        stop_loss=AttachedStop(OrderType.STOP_MARKET, Decimal("30000.1")),
        take_profit=AttachedStop(
            OrderType.TAKE_PROFIT_MARKET, Decimal("40000"), quantity=Decimal("0.001")
        ),
    )


def test_order_spec_params_when_market_with_attached_stops_then_json_is_compact_json_dumps() -> (
    None
):
    params = dict(_attached_order().params())
    for name in ("stopLoss", "takeProfit"):
        value = params[name]
        assert value == json.dumps(json.loads(value), separators=(",", ":"))
        assert " " not in value
    assert json.loads(params["stopLoss"]) == {
        "type": "STOP_MARKET",
        "stopPrice": 30000.1,
        "workingType": "MARK_PRICE",
    }
    assert json.loads(params["takeProfit"]) == {
        "type": "TAKE_PROFIT_MARKET",
        "stopPrice": 40000,
        "workingType": "MARK_PRICE",
        "quantity": 0.001,
    }


def test_order_spec_params_when_market_order_then_lists_bingx_spellings() -> None:
    params = _attached_order().params()
    assert params[:5] == [
        ("symbol", "BTC-USDT"),
        ("side", "BUY"),
        ("positionSide", "BOTH"),
        ("type", "MARKET"),
        ("clientOrderID", "bot-entry-42"),
    ]
    assert ("quantity", "0.001") in params
    assert all(key not in dict(params) for key in ("price", "reduceOnly", "closePosition"))


def test_order_spec_params_when_client_order_id_mixed_case_then_sends_it_lower_case() -> None:
    spec = OrderSpec("BTC-USDT", OrderSide.SELL, OrderType.MARKET, ClientOrderId("ABC-Def_9"))
    assert dict(spec.params())["clientOrderID"] == "abc-def_9"


def test_order_spec_params_when_close_position_then_sends_no_quantity() -> None:
    spec = OrderSpec(
        symbol="BTC-USDT",
        side=OrderSide.SELL,
        order_type=OrderType.STOP_MARKET,
        client_order_id=ClientOrderId("sl-1"),
        quantity=Decimal("0.01"),
        stop_price=Decimal("29000.0"),
        position_side=PositionSide.BOTH,
        close_position=True,
    )
    params = dict(spec.params())
    assert "quantity" not in params
    assert params["closePosition"] == "true"
    assert params["stopPrice"] == "29000"
    assert params["type"] == "STOP_MARKET"


def test_order_spec_params_when_limit_reduce_only_post_only_then_sends_each_flag() -> None:
    spec = OrderSpec(
        symbol="BTC-USDT",
        side=OrderSide.SELL,
        order_type=OrderType.LIMIT,
        client_order_id=ClientOrderId("tp-1"),
        quantity=Decimal("0.5"),
        price=Decimal("41000.50"),
        reduce_only=True,
        time_in_force=TimeInForce.POST_ONLY,
    )
    params = dict(spec.params())
    assert params["price"] == "41000.5"
    assert params["reduceOnly"] == "true"
    assert params["timeInForce"] == "PostOnly"


@pytest.mark.parametrize("client_order_id", ["", "x" * 41])
def test_order_spec_params_when_client_order_id_empty_or_too_long_then_raises(
    client_order_id: str,
) -> None:
    spec = OrderSpec("BTC-USDT", OrderSide.BUY, OrderType.MARKET, ClientOrderId(client_order_id))
    with pytest.raises(ValueError, match="client order id"):
        spec.params()
