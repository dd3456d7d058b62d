"""Trading on the simulator over real HTTP: endpoints, shapes, orders, positions, ledger.

Shapes are compared with the real BingX answers recorded in
shared/spec/bingx-recorded/response.json (read from there, never copied).  The clock is
stepped (speed 0), so every price and fill below follows from the replayed sample.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from adxbot.domain.instrument import BINGX_CONTRACTS, Instrument
from adxbot.market.candle_file import bundled_sample_path, load_candle_csv
from adxbot.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET
from adxbot.sim.account import ApiKey
from adxbot.sim.routes import ENDPOINTS
from sim_support import (
    ORDER,
    SERVER_TIME,
    SWAP,
    SYMBOL,
    RunningSim,
    recorded_response,
    running_simulator,
    shape_mismatches,
    sim_options,
)

TICK = Decimal("0.1")
FIVE_MINUTES = 300_000
EIGHT_HOURS = 8 * 3_600_000
TAKER = Decimal("0.0005")
MAKER = Decimal("0.0002")

OPEN_ORDER = f"{SWAP}/v2/trade/openOrder"
OPEN_ORDERS = f"{SWAP}/v2/trade/openOrders"
ALL_ORDERS = f"{SWAP}/v2/trade/allOrders"
FULL_ORDERS = f"{SWAP}/v1/trade/fullOrder"
CANCEL_ALL = f"{SWAP}/v2/trade/allOpenOrders"
FILLS = f"{SWAP}/v2/trade/allFillOrders"
POSITIONS = f"{SWAP}/v2/user/positions"
INCOME = f"{SWAP}/v2/user/income"
BALANCE_V3 = f"{SWAP}/v3/user/balance"
BALANCE_V2 = f"{SWAP}/v2/user/balance"
LEVERAGE = f"{SWAP}/v2/trade/leverage"
MARGIN_TYPE = f"{SWAP}/v2/trade/marginType"
DUAL = f"{SWAP}/v1/positionSide/dual"
CLOSE_ALL = f"{SWAP}/v2/trade/closeAllPositions"
CLOSE_ONE = f"{SWAP}/v1/trade/closePosition"
KLINES_V3 = f"{SWAP}/v3/quote/klines"
KLINES_V2 = f"{SWAP}/v2/quote/klines"
LISTEN_KEY = "/openApi/user/auth/userDataStream"
PERMISSIONS = "/openApi/v1/account/apiPermissions"


@pytest.fixture
def sim() -> Iterator[RunningSim]:
    with running_simulator() as running:
        yield running


@pytest.fixture
def hedge() -> Iterator[RunningSim]:
    with running_simulator(sim_options(hedge_mode=True)) as running:
        yield running


# ---------------------------------------------------------------- helpers
def ok(answer: Any) -> Any:
    assert str(answer.get("code")) == "0", answer
    return answer["data"]


def error_code(answer: Any) -> int:
    assert answer["data"] == {}, answer
    return int(answer["code"])


def market(
    sim: RunningSim, side: str, quantity: str, position_side: str = "BOTH", **extra: Any
) -> Any:
    return sim.client.place(
        side=side, positionSide=position_side, type="MARKET", quantity=quantity, **extra
    )


def limit_order(sim: RunningSim, side: str, quantity: str, price: Any, **extra: Any) -> Any:
    """Place a one-way LIMIT order."""
    return sim.client.place(
        side=side, positionSide="BOTH", type="LIMIT", quantity=quantity, price=str(price), **extra
    )


def trigger_order(sim: RunningSim, kind: str, side: str, stop_price: Any, **extra: Any) -> Any:
    """Place a one-way STOP_MARKET or TAKE_PROFIT_MARKET order."""
    return sim.client.place(
        side=side, positionSide="BOTH", type=kind, stopPrice=str(stop_price), **extra
    )


def positions(sim: RunningSim) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ok(sim.client.get(POSITIONS))
    return rows


def open_orders(sim: RunningSim) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ok(sim.client.get(OPEN_ORDERS, {"symbol": SYMBOL}))["orders"]
    return rows


def query(sim: RunningSim, **params: str) -> Any:
    return sim.client.get(ORDER, {"symbol": SYMBOL, **params})


def fills(sim: RunningSim) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ok(sim.client.get(FILLS, {"tradingUnit": "COIN"}))["fill_orders"]
    return rows


def income(sim: RunningSim, kind: str | None = None) -> list[dict[str, Any]]:
    params = {"incomeType": kind} if kind else {}
    rows: list[dict[str, Any]] = ok(sim.client.get(INCOME, params))
    return rows


def path_extremes(sim: RunningSim, ms: int) -> tuple[Decimal, Decimal]:
    """Return the lowest and highest price the replayed path visits in the next `ms`."""
    now = sim.now_ms()
    bars = sim.simulator.exchange.market.bars_between(now, now + ms)
    return min(b.low for b in bars), max(b.high for b in bars)


def step_until(sim: RunningSim, condition: Any, step_ms: int = 20_000, limit: int = 200) -> int:
    """Step the simulated clock until `condition()` holds; return the steps taken."""
    for n in range(limit):
        if condition():
            return n
        sim.step(step_ms)
    raise AssertionError(f"not reached after {limit} steps of {step_ms} ms")


def json_compact(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"))


# ---------------------------------------------------------------- every endpoint
def _prepare(sim: RunningSim) -> dict[str, str]:
    """Open a long and rest a buy limit; return ids the endpoint calls need."""
    ok(market(sim, "BUY", "0.002", clientOrderID="prep-1"))
    limit = ok(limit_order(sim, "BUY", "0.001", sim.price() - 1000))["order"]
    return {"order": limit["orderId"], "position": positions(sim)[0]["positionId"]}


_FLAT = {("POST", MARGIN_TYPE), ("POST", DUAL)}
_CALLS: dict[tuple[str, str], dict[str, str]] = {
    ("GET", SERVER_TIME): {},
    ("GET", f"{SWAP}/v2/quote/contracts"): {},
    ("GET", f"{SWAP}/v1/ticker/price"): {"symbol": SYMBOL},
    ("GET", f"{SWAP}/v2/quote/price"): {"symbol": SYMBOL},
    ("GET", f"{SWAP}/v2/quote/ticker"): {"symbol": SYMBOL},
    ("GET", KLINES_V3): {"symbol": SYMBOL, "interval": "5m"},
    ("GET", KLINES_V2): {"symbol": SYMBOL, "interval": "5m"},
    ("GET", f"{SWAP}/v2/quote/premiumIndex"): {"symbol": SYMBOL},
    ("GET", f"{SWAP}/v2/quote/depth"): {"symbol": SYMBOL},
    ("GET", BALANCE_V3): {},
    ("GET", BALANCE_V2): {},
    ("GET", POSITIONS): {},
    ("GET", INCOME): {},
    ("GET", f"{SWAP}/v2/user/commissionRate"): {},
    ("GET", LEVERAGE): {"symbol": SYMBOL},
    ("POST", LEVERAGE): {"symbol": SYMBOL, "side": "BOTH", "leverage": "3"},
    ("GET", MARGIN_TYPE): {"symbol": SYMBOL},
    ("POST", MARGIN_TYPE): {"symbol": SYMBOL, "marginType": "ISOLATED"},
    ("GET", DUAL): {},
    ("POST", DUAL): {"dualSidePosition": "true"},
    ("POST", ORDER): {
        "symbol": SYMBOL,
        "side": "BUY",
        "positionSide": "BOTH",
        "type": "MARKET",
        "quantity": "0.001",
    },
    ("POST", f"{ORDER}/test"): {
        "symbol": SYMBOL,
        "side": "BUY",
        "positionSide": "BOTH",
        "type": "MARKET",
        "quantity": "0.001",
    },
    ("GET", ORDER): {"symbol": SYMBOL, "orderId": "{order}"},
    ("GET", OPEN_ORDER): {"symbol": SYMBOL, "orderId": "{order}"},
    ("DELETE", ORDER): {"symbol": SYMBOL, "orderId": "{order}"},
    ("DELETE", CANCEL_ALL): {"symbol": SYMBOL},
    ("GET", OPEN_ORDERS): {"symbol": SYMBOL},
    ("GET", ALL_ORDERS): {"symbol": SYMBOL},
    ("GET", FULL_ORDERS): {"symbol": SYMBOL, "limit": "100"},
    ("GET", FILLS): {"tradingUnit": "COIN"},
    ("POST", CLOSE_ALL): {"symbol": SYMBOL},
    ("POST", CLOSE_ONE): {"positionId": "{position}"},
    ("POST", LISTEN_KEY): {},
    ("GET", PERMISSIONS): {},
    ("GET", "/openApi/cswap/v1/market/contracts"): {},
    ("GET", "/openApi/spot/v1/common/symbols"): {},
    ("GET", "/openApi/wallets/v1/capital/config/getall"): {},
}


def test_endpoint_table_when_compared_with_routes_then_every_endpoint_is_exercised() -> None:
    served = {(e.method, e.path) for e in ENDPOINTS}
    assert served == set(_CALLS)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[f"{e.method} {e.path}" for e in ENDPOINTS])
def test_endpoint_when_called_with_its_parameters_then_answers_successfully(
    sim: RunningSim, endpoint: Any
) -> None:
    key = (endpoint.method, endpoint.path)
    ids = {} if key in _FLAT else _prepare(sim)
    params = {k: v.format(**ids) for k, v in _CALLS[key].items()}
    answer = sim.client.call(endpoint.method, endpoint.path, params, signed=endpoint.signed)
    if endpoint.enveloped:
        assert answer["code"] == 0, answer
        assert answer["msg"] == ""
        assert "data" in answer
    else:
        assert "code" not in answer, answer  # BingX answers these without an envelope


# ---------------------------------------------------------------- shapes
def test_contracts_when_listed_then_ccxt_compatible_with_string_booleans(
    sim: RunningSim,
) -> None:
    (row,) = ok(sim.client.get(f"{SWAP}/v2/quote/contracts", signed=False))
    assert row["symbol"] == SYMBOL
    assert row["currency"] == "USDT"
    assert row["asset"] == "BTC"
    assert row["apiStateOpen"] == "true"
    assert row["apiStateClose"] == "true"
    assert "minTickSize" not in row  # would make ccxt treat it as Coin-M
    assert row["quantityPrecision"] == 4
    assert row["pricePrecision"] == 1
    assert row["tradeMinQuantity"] == 0.0001
    assert row["tradeMinUSDT"] == 2
    assert row["status"] == 1


def test_contracts_when_asked_for_an_unknown_symbol_then_empty(sim: RunningSim) -> None:
    assert ok(sim.client.get(f"{SWAP}/v2/quote/contracts", {"symbol": "ETH-USDT"})) == []


def test_ticker_when_asked_then_has_the_recorded_shape(sim: RunningSim) -> None:
    ours = ok(sim.client.get(f"{SWAP}/v2/quote/ticker", {"symbol": SYMBOL}))
    real = recorded_response("fetchTicker", 1)["data"]
    assert shape_mismatches(real, ours) == []
    assert ours["lastPrice"] == str(sim.price())


def test_ticker_when_asked_without_symbol_then_a_list(sim: RunningSim) -> None:
    rows = ok(sim.client.get(f"{SWAP}/v2/quote/ticker"))
    assert [r["symbol"] for r in rows] == [SYMBOL]


def test_latest_price_when_asked_on_both_paths_then_strings_and_the_same(
    sim: RunningSim,
) -> None:
    v1 = ok(sim.client.get(f"{SWAP}/v1/ticker/price", {"symbol": SYMBOL}))
    v2 = ok(sim.client.get(f"{SWAP}/v2/quote/price", {"symbol": SYMBOL}))
    assert v1 == v2 == {"symbol": SYMBOL, "price": str(sim.price()), "time": sim.now_ms()}


def test_premium_index_when_asked_then_has_the_recorded_shape(sim: RunningSim) -> None:
    ours = ok(sim.client.get(f"{SWAP}/v2/quote/premiumIndex", {"symbol": SYMBOL}))
    assert shape_mismatches(recorded_response("fetchFundingRate", 0)["data"], ours) == []
    assert int(ours["nextFundingTime"]) % EIGHT_HOURS == 0
    assert 0 < int(ours["nextFundingTime"]) - sim.now_ms() <= EIGHT_HOURS


def test_depth_when_asked_then_bids_below_asks_as_strings(sim: RunningSim) -> None:
    book = ok(sim.client.get(f"{SWAP}/v2/quote/depth", {"symbol": SYMBOL, "limit": 5}))
    bids = [Decimal(p) for p, _ in book["bids"]]
    asks = [Decimal(p) for p, _ in book["asks"]]
    assert len(bids) == len(asks) == 5
    assert bids == sorted(bids, reverse=True)
    assert max(bids) < min(asks)
    assert all(isinstance(q, str) for _, q in book["bids"] + book["asks"])


def test_balance_when_asked_on_v3_then_a_list_with_the_recorded_shape(sim: RunningSim) -> None:
    ours = ok(sim.client.get(BALANCE_V3))
    assert shape_mismatches(recorded_response("fetchBalance", 2)["data"], ours) == []
    assert ours[0]["balance"] == "1000.0000"
    assert ours[0]["availableMargin"] == "1000.0000"


def test_balance_when_asked_on_v2_then_one_object_with_the_same_fields(
    sim: RunningSim,
) -> None:
    v2 = ok(sim.client.get(BALANCE_V2))["balance"]
    v3 = ok(sim.client.get(BALANCE_V3))[0]
    assert v2 == v3


def test_balance_when_a_position_is_open_then_margin_used_and_fee_paid(sim: RunningSim) -> None:
    price = sim.price()
    ok(market(sim, "BUY", "0.01"))
    row = ok(sim.client.get(BALANCE_V3))[0]
    fee = price * Decimal("0.01") * TAKER
    margin = price * Decimal("0.01") / 5
    assert Decimal(row["balance"]) == (Decimal(1000) - fee).quantize(Decimal("0.0001"))
    assert Decimal(row["usedMargin"]) == margin.quantize(Decimal("0.0001"))
    assert Decimal(row["availableMargin"]) == (Decimal(1000) - fee - margin).quantize(
        Decimal("0.0001")
    )


def test_positions_when_one_is_open_then_has_the_recorded_shape(sim: RunningSim) -> None:
    ok(market(sim, "BUY", "0.002"))
    ours = positions(sim)
    assert shape_mismatches(recorded_response("fetchPositions", 0)["data"], ours) == []
    (row,) = ours
    assert row["positionSide"] == "LONG"
    assert row["positionAmt"] == "0.002"
    assert row["isolated"] is False
    assert row["onlyOnePosition"] is True
    assert re.fullmatch(r"\d+", row["positionId"])


def test_positions_when_one_way_short_then_reported_short_with_a_positive_amount(
    sim: RunningSim,
) -> None:
    ok(market(sim, "SELL", "0.002"))
    (row,) = positions(sim)
    assert (row["positionSide"], row["positionAmt"]) == ("SHORT", "0.002")


def test_positions_when_flat_or_other_symbol_then_empty(sim: RunningSim) -> None:
    assert positions(sim) == []
    ok(market(sim, "BUY", "0.001"))
    assert ok(sim.client.get(POSITIONS, {"symbol": "ETH-USDT"})) == []


def test_created_order_when_answered_then_has_the_recorded_rich_shape(sim: RunningSim) -> None:
    ours = ok(market(sim, "BUY", "0.001"))
    assert shape_mismatches(recorded_response("createOrder", 4)["data"], ours) == []
    assert shape_mismatches(recorded_response("createOrder", 1)["data"], ours) == []
    order = ours["order"]
    assert isinstance(order["orderId"], str)
    assert order["positionSide"] == "BOTH"
    assert order["reduceOnly"] is False


def test_created_order_when_sl_tp_attached_then_echoes_them_as_json_strings(
    sim: RunningSim,
) -> None:
    price = sim.price()
    stop = json_compact({"stopPrice": float(price - 500), "type": "STOP_MARKET", "quantity": 0.001})
    target = json_compact(
        {"stopPrice": float(price + 500), "type": "TAKE_PROFIT_MARKET", "quantity": 0.001}
    )
    ours = ok(market(sim, "BUY", "0.001", stopLoss=stop, takeProfit=target))
    real = recorded_response("createOrder", 2)["data"]
    missing = [m for m in shape_mismatches(real, ours) if m.endswith("missing")]
    assert missing == []
    assert ours["order"]["stopLoss"] == stop
    assert ours["order"]["takeProfit"] == target


def test_queried_order_when_filled_then_has_the_recorded_shape(sim: RunningSim) -> None:
    order_id = ok(market(sim, "BUY", "0.001"))["order"]["orderId"]
    ours = ok(query(sim, orderId=order_id))
    assert shape_mismatches(recorded_response("fetchOrder", 0)["data"], ours) == []
    assert ours["order"]["status"] == "FILLED"
    assert ours["order"]["leverage"] == "5X"


def test_queried_order_when_a_pending_stop_then_has_the_recorded_shape(sim: RunningSim) -> None:
    ok(market(sim, "BUY", "0.001"))
    stop = ok(
        trigger_order(
            sim, "STOP_MARKET", "SELL", sim.price() - 500, quantity="0.001", reduceOnly="true"
        )
    )["order"]
    ours = ok(query(sim, orderId=stop["orderId"]))
    assert shape_mismatches(recorded_response("fetchOrder", 1)["data"], ours) == []
    order = ours["order"]
    assert (order["status"], order["reduceOnly"], order["onlyOnePosition"]) == ("NEW", True, True)
    assert order["stopPrice"] == str(sim.price() - 500)


def test_order_history_when_listed_then_has_the_recorded_shape(sim: RunningSim) -> None:
    ok(market(sim, "BUY", "0.001"))
    ok(market(sim, "SELL", "0.001", reduceOnly="true"))
    ours = ok(sim.client.get(ALL_ORDERS, {"symbol": SYMBOL}))
    assert shape_mismatches(recorded_response("fetchClosedOrders", 1)["data"], ours) == []
    assert [o["status"] for o in ours["orders"]] == ["FILLED", "FILLED"]


def test_full_order_list_when_listed_then_holds_open_and_final_orders(sim: RunningSim) -> None:
    ok(market(sim, "BUY", "0.001"))
    resting = ok(limit_order(sim, "BUY", "0.001", sim.price() - 1000))["order"]
    closed = ok(sim.client.get(ALL_ORDERS, {"symbol": SYMBOL}))["orders"]
    full = ok(sim.client.get(FULL_ORDERS, {"symbol": SYMBOL, "limit": 100}))["orders"]
    assert resting["orderId"] not in [o["orderId"] for o in closed]
    assert [o["status"] for o in full] == ["FILLED", "PENDING"]


def test_fills_when_listed_then_have_the_recorded_shape_and_coin_units(sim: RunningSim) -> None:
    price = sim.price()
    order_id = ok(market(sim, "BUY", "0.0123"))["order"]["orderId"]
    ours = ok(sim.client.get(FILLS, {"tradingUnit": "COIN"}))
    assert shape_mismatches(recorded_response("fetchMyTrades", 0)["data"], ours) == []
    (fill,) = ours["fill_orders"]
    assert fill["orderId"] == order_id
    assert fill["volume"] == "0.0123"  # coins, not contracts
    assert Decimal(fill["price"]) == price
    assert Decimal(fill["amount"]) == Decimal("0.0123") * price
    assert Decimal(fill["commission"]) == -(Decimal("0.0123") * price * TAKER)


def test_fills_when_timestamped_then_filled_tm_is_utc8_wall_time_marked_z(
    sim: RunningSim,
) -> None:
    ok(market(sim, "BUY", "0.001"))
    (fill,) = fills(sim)
    filled_time = datetime.strptime(fill["filledTime"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert filled_time == datetime.fromtimestamp(sim.now_ms() / 1000, tz=UTC)
    assert filled_time.utcoffset() == timedelta(hours=8)
    quirk = datetime.strptime(fill["filledTm"], "%Y-%m-%dT%H:%M:%S%z")  # "Z" = UTC (wrongly)
    assert quirk - filled_time == timedelta(hours=8)
    assert fill["filledTm"][:19] == fill["filledTime"][:19]


def test_fills_when_filtered_by_time_or_order_then_only_matching_ones(sim: RunningSim) -> None:
    first = ok(market(sim, "BUY", "0.001"))["order"]["orderId"]
    sim.step(60_000)
    second = ok(market(sim, "BUY", "0.001"))["order"]["orderId"]
    now = sim.now_ms()
    by_order = ok(sim.client.get(FILLS, {"tradingUnit": "COIN", "orderId": first}))
    assert [f["orderId"] for f in by_order["fill_orders"]] == [first]
    window = ok(sim.client.get(FILLS, {"tradingUnit": "COIN", "startTs": now - 1, "endTs": now}))
    assert [f["orderId"] for f in window["fill_orders"]] == [second]


def test_income_when_trading_then_has_the_recorded_shape(sim: RunningSim) -> None:
    ok(market(sim, "BUY", "0.001"))
    ours = income(sim)
    assert shape_mismatches(recorded_response("fetchFundingHistory", 0)["data"], ours) == []


def test_margin_type_when_asked_then_has_the_recorded_shape(sim: RunningSim) -> None:
    ours = ok(sim.client.get(MARGIN_TYPE, {"symbol": SYMBOL}))
    assert shape_mismatches(recorded_response("fetchMarginMode", 0)["data"], ours) == []
    assert ours == {"marginType": "CROSSED", "symbol": SYMBOL}


def test_position_mode_when_asked_then_dual_side_is_a_string(sim: RunningSim) -> None:
    assert ok(sim.client.get(DUAL)) == {"dualSidePosition": "false"}
    assert ok(sim.client.post(DUAL, {"dualSidePosition": "true"})) == {"dualSidePosition": "true"}
    assert ok(sim.client.get(DUAL)) == {"dualSidePosition": "true"}


def test_commission_rate_when_asked_then_taker_and_maker_rates(sim: RunningSim) -> None:
    rates = ok(sim.client.get(f"{SWAP}/v2/user/commissionRate"))["commission"]
    assert rates == {"takerCommissionRate": 0.0005, "makerCommissionRate": 0.0002}


def test_server_time_when_clock_stepped_then_moves_exactly_by_the_step(sim: RunningSim) -> None:
    before = ok(sim.client.get(SERVER_TIME, signed=False))["serverTime"]
    sim.step(12_345)
    after = ok(sim.client.get(SERVER_TIME, signed=False))["serverTime"]
    assert after - before == 12_345


# ---------------------------------------------------------------- attached SL/TP
def test_market_order_when_sl_tp_attached_then_children_rest_reduce_only(
    sim: RunningSim,
) -> None:
    price = sim.price()
    stop = json_compact(
        {"stopPrice": float(price - 300), "workingType": "MARK_PRICE", "type": "STOP_MARKET"}
    )
    target = json_compact({"stopPrice": float(price + 300), "type": "TAKE_PROFIT_MARKET"})
    entry = ok(market(sim, "BUY", "0.002", stopLoss=stop, takeProfit=target))["order"]
    assert entry["status"] == "FILLED"
    children = {o["type"]: o for o in open_orders(sim)}
    assert set(children) == {"STOP_MARKET", "TAKE_PROFIT_MARKET"}
    assert children["STOP_MARKET"]["stopPrice"] == str(price - 300)
    assert children["TAKE_PROFIT_MARKET"]["stopPrice"] == str(price + 300)
    for child in children.values():
        assert (child["side"], child["status"], child["reduceOnly"]) == ("SELL", "NEW", True)
        assert Decimal(child["origQty"]) == Decimal("0.002")  # no quantity in the JSON


def test_attached_stop_when_the_path_reaches_it_then_fills_at_the_stop_and_cancels_the_tp(
    sim: RunningSim,
) -> None:
    price = sim.price()
    low, _ = path_extremes(sim, 3_600_000)
    stop_price = low + 20 * TICK
    assert stop_price < price
    stop = json_compact({"stopPrice": float(stop_price), "type": "STOP_MARKET"})
    target = json_compact({"stopPrice": float(price + 5000), "type": "TAKE_PROFIT_MARKET"})
    entry = ok(market(sim, "BUY", "0.002", stopLoss=stop, takeProfit=target))["order"]

    assert step_until(sim, lambda: positions(sim) == []) > 0  # held until the path got there

    orders = {o["type"]: o for o in sim.account_state()["orders"]}
    assert orders["STOP_MARKET"]["status"] == "FILLED"
    assert Decimal(orders["STOP_MARKET"]["avgPrice"]) == stop_price
    assert orders["TAKE_PROFIT_MARKET"]["status"] == "CANCELLED"
    recorded = fills(sim)
    assert recorded[0]["orderId"] == entry["orderId"]
    assert recorded[-1]["orderId"] == orders["STOP_MARKET"]["orderId"]
    assert Decimal(recorded[-1]["price"]) == stop_price
    pnl = income(sim, "REALIZED_PNL")
    assert [Decimal(p["income"]) for p in pnl] == [(stop_price - price) * Decimal("0.002")]
    assert open_orders(sim) == []


def test_attached_take_profit_when_price_jumps_through_it_then_fills_and_cancels_the_stop(
    sim: RunningSim,
) -> None:
    price = sim.price()
    stop = json_compact({"stopPrice": float(price - 2000), "type": "STOP_MARKET"})
    target = json_compact({"stopPrice": float(price + 500), "type": "TAKE_PROFIT_MARKET"})
    ok(market(sim, "BUY", "0.002", stopLoss=stop, takeProfit=target))
    sim.jump(3)
    sim.step(1_000)
    assert positions(sim) == []
    orders = {o["type"]: o for o in sim.account_state()["orders"]}
    assert orders["TAKE_PROFIT_MARKET"]["status"] == "FILLED"
    assert orders["STOP_MARKET"]["status"] == "CANCELLED"


def test_attached_stop_when_already_reached_then_entry_kept_without_that_child(
    sim: RunningSim,
) -> None:
    price = sim.price()
    stop = json_compact({"stopPrice": float(price + 100), "type": "STOP_MARKET"})
    entry = ok(market(sim, "BUY", "0.001", stopLoss=stop))["order"]
    assert entry["status"] == "FILLED"
    assert open_orders(sim) == []


def test_attached_stop_when_not_json_then_109400_and_no_order(sim: RunningSim) -> None:
    answer = market(sim, "BUY", "0.001", stopLoss="stopPrice=80000")
    assert error_code(answer) == 109400
    assert positions(sim) == []


def test_attached_stop_when_without_stop_price_then_109400(sim: RunningSim) -> None:
    answer = market(sim, "BUY", "0.001", stopLoss=json_compact({"type": "STOP_MARKET"}))
    assert error_code(answer) == 109400


@pytest.mark.parametrize(
    "spec",
    [
        '{"stopPrice":"abc","type":"STOP_MARKET"}',
        '{"stopPrice":true,"type":"STOP_MARKET"}',
        '{"stopPrice":Infinity,"type":"STOP_MARKET"}',
        '{"stopPrice":80000,"quantity":"abc","type":"STOP_MARKET"}',
        '{"stopPrice":80000,"quantity":1e30,"type":"STOP_MARKET"}',
        '{"stopPrice":80000,"price":"x","type":"STOP"}',
    ],
)
def test_attached_stop_when_a_number_is_malformed_then_109400_before_the_entry_executes(
    sim: RunningSim, spec: str
) -> None:
    answer = market(sim, "BUY", "0.001", stopLoss=spec)
    assert error_code(answer) == 109400
    assert positions(sim) == []
    assert fills(sim) == []


@pytest.mark.parametrize(
    "spec",
    [
        '{"stopPrice":80000}',
        '{"stopPrice":80000,"type":"TRAILING_STOP_MARKET"}',
        '{"stopPrice":-5,"type":"STOP_MARKET"}',
        '{"stopPrice":80000,"quantity":-1,"type":"STOP_MARKET"}',
        '{"stopPrice":80000.05,"type":"STOP_MARKET"}',
        '{"stopPrice":80000,"type":"STOP"}',
    ],
)
def test_attached_stop_when_it_could_never_be_placed_then_109400_not_a_silent_entry(
    sim: RunningSim, spec: str
) -> None:
    answer = market(sim, "BUY", "0.001", stopLoss=spec)
    assert error_code(answer) == 109400
    assert positions(sim) == []


def test_attached_take_profit_when_a_limit_type_with_price_then_rests_as_trigger_limit(
    sim: RunningSim,
) -> None:
    price = sim.price()
    target = json_compact(
        {"stopPrice": float(price + 500), "price": float(price + 510), "type": "TAKE_PROFIT"}
    )
    ok(market(sim, "BUY", "0.001", takeProfit=target))
    (child,) = open_orders(sim)
    assert (child["type"], child["stopPrice"], child["price"]) == (
        "TAKE_PROFIT",
        str(price + 500),
        str(price + 510),
    )


# ---------------------------------------------------------------- limit orders
def test_limit_order_when_below_the_market_then_rests_until_the_path_reaches_it(
    sim: RunningSim,
) -> None:
    price = sim.price()
    low, _ = path_extremes(sim, 3_600_000)
    limit = low + 10 * TICK
    assert limit < price
    order = ok(limit_order(sim, "BUY", "0.001", str(limit), timeInForce="GTC"))["order"]
    assert order["status"] == "PENDING"
    assert [o["orderId"] for o in open_orders(sim)] == [order["orderId"]]
    assert ok(sim.client.get(OPEN_ORDER, {"symbol": SYMBOL, "orderId": order["orderId"]}))

    def is_filled() -> bool:
        return bool(ok(query(sim, orderId=order["orderId"]))["order"]["status"] == "FILLED")

    assert step_until(sim, is_filled) > 0  # rested until the path came down to it

    filled = ok(query(sim, orderId=order["orderId"]))["order"]
    assert Decimal(filled["avgPrice"]) == limit
    assert filled["executedQty"] == "0.001"
    (fill,) = fills(sim)
    assert fill["role"] == "MAKER"
    assert Decimal(fill["commission"]) == -(limit * Decimal("0.001") * MAKER)
    assert positions(sim)[0]["avgPrice"] == str(limit)


def test_limit_order_when_marketable_then_takes_at_the_market_price(sim: RunningSim) -> None:
    price = sim.price()
    order = ok(limit_order(sim, "BUY", "0.001", str(price + 50)))["order"]
    assert order["status"] == "FILLED"
    assert Decimal(order["avgPrice"]) == price


def test_post_only_limit_when_marketable_then_101215_and_nothing_rests(sim: RunningSim) -> None:
    price = sim.price()
    answer = limit_order(sim, "BUY", "0.001", str(price + 100), timeInForce="PostOnly")
    assert error_code(answer) == 101215
    assert open_orders(sim) == []
    assert positions(sim) == []


def test_post_only_limit_when_not_marketable_then_rests(sim: RunningSim) -> None:
    answer = limit_order(sim, "BUY", "0.001", sim.price() - 100, timeInForce="PostOnly")
    order = ok(answer)["order"]
    assert (order["status"], order["timeInForce"]) == ("PENDING", "PostOnly")


def test_open_query_when_the_order_is_final_then_80016(sim: RunningSim) -> None:
    order_id = ok(market(sim, "BUY", "0.001"))["order"]["orderId"]
    assert error_code(sim.client.get(OPEN_ORDER, {"symbol": SYMBOL, "orderId": order_id})) == 80016


def test_limit_entry_when_sl_attached_then_the_stop_is_placed_once_the_entry_fills(
    sim: RunningSim,
) -> None:
    low, _ = path_extremes(sim, 3_600_000)
    entry_price = low + 10 * TICK
    stop = json_compact({"stopPrice": float(entry_price - 1000), "type": "STOP_MARKET"})
    entry = ok(limit_order(sim, "BUY", "0.001", entry_price, stopLoss=stop))["order"]
    assert [o["orderId"] for o in open_orders(sim)] == [entry["orderId"]]

    step_until(sim, lambda: positions(sim) != [])

    (child,) = open_orders(sim)
    assert (child["type"], child["side"], child["reduceOnly"]) == ("STOP_MARKET", "SELL", True)
    assert child["stopPrice"] == str(entry_price - 1000)


# ---------------------------------------------------------------- conditional orders
def test_stop_market_when_close_position_then_closes_the_whole_position_on_trigger(
    sim: RunningSim,
) -> None:
    price = sim.price()
    ok(market(sim, "BUY", "0.003"))
    stop = ok(trigger_order(sim, "STOP_MARKET", "SELL", str(price - 500), closePosition="true"))[
        "order"
    ]
    assert (stop["status"], stop["closePosition"]) == ("NEW", "true")
    ok(market(sim, "BUY", "0.001"))  # the position grows after the stop was placed

    sim.jump(-2)
    sim.step(1_000)

    assert positions(sim) == []
    filled = ok(query(sim, orderId=stop["orderId"]))["order"]
    assert (filled["status"], filled["executedQty"]) == ("FILLED", "0.004")


def test_take_profit_market_when_close_position_then_closes_on_a_rise(sim: RunningSim) -> None:
    price = sim.price()
    ok(market(sim, "BUY", "0.002"))
    target = ok(
        trigger_order(sim, "TAKE_PROFIT_MARKET", "SELL", str(price + 500), closePosition="true")
    )["order"]
    sim.jump(2)
    sim.step(1_000)
    assert positions(sim) == []
    filled = ok(query(sim, orderId=target["orderId"]))["order"]
    assert filled["status"] == "FILLED"
    assert Decimal(filled["profit"]) > 0


def test_close_position_when_on_a_limit_order_then_109400(sim: RunningSim) -> None:
    answer = sim.client.place(
        side="SELL",
        positionSide="BOTH",
        type="LIMIT",
        price=str(sim.price() + 100),
        closePosition="true",
    )
    assert error_code(answer) == 109400


def test_stop_market_when_without_a_position_to_close_then_101205(sim: RunningSim) -> None:
    answer = trigger_order(sim, "STOP_MARKET", "SELL", sim.price() - 500, closePosition="true")
    assert error_code(answer) == 101205


def test_stop_market_when_stop_price_missing_then_109400(sim: RunningSim) -> None:
    ok(market(sim, "BUY", "0.001"))
    answer = sim.client.place(
        side="SELL", positionSide="BOTH", type="STOP_MARKET", quantity="0.001", reduceOnly="true"
    )
    assert error_code(answer) == 109400


@pytest.mark.parametrize("kind", ["TRIGGER_MARKET", "TRAILING_STOP_MARKET"])
def test_order_when_of_an_unmodelled_type_then_109400(sim: RunningSim, kind: str) -> None:
    answer = sim.client.place(
        side="BUY", positionSide="BOTH", type=kind, quantity="0.001", stopPrice="100000"
    )
    assert error_code(answer) == 109400


# ---------------------------------------------------------------- position modes
def test_one_way_when_reduce_only_sell_then_reduces_the_long(sim: RunningSim) -> None:
    ok(market(sim, "BUY", "0.003"))
    order = ok(market(sim, "SELL", "0.001", reduceOnly="true"))["order"]
    assert order["reduceOnly"] is True
    assert [p["positionAmt"] for p in positions(sim)] == ["0.002"]


def test_one_way_when_reduce_only_exceeds_the_position_then_only_closes_it(
    sim: RunningSim,
) -> None:
    ok(market(sim, "BUY", "0.002"))
    order = ok(market(sim, "SELL", "0.005", reduceOnly="true"))["order"]
    assert order["executedQty"] == "0.002"
    assert positions(sim) == []


def test_one_way_when_selling_more_than_the_long_without_reduce_only_then_flips_short(
    sim: RunningSim,
) -> None:
    ok(market(sim, "BUY", "0.002"))
    ok(market(sim, "SELL", "0.005"))
    assert [(p["positionSide"], p["positionAmt"]) for p in positions(sim)] == [("SHORT", "0.003")]


@pytest.mark.parametrize("side", ["LONG", "SHORT"])
def test_one_way_when_position_side_long_or_short_then_109400(sim: RunningSim, side: str) -> None:
    answer = market(sim, "BUY", "0.001", position_side=side)
    assert error_code(answer) == 109400
    assert "One-way" in answer["msg"]


def test_one_way_when_position_side_omitted_then_both_is_assumed(sim: RunningSim) -> None:
    order = ok(sim.client.place(side="BUY", type="MARKET", quantity="0.001"))["order"]
    assert order["positionSide"] == "BOTH"


def test_hedge_when_opening_long_and_short_then_both_positions_are_held(
    hedge: RunningSim,
) -> None:
    ok(market(hedge, "BUY", "0.002", "LONG"))
    ok(market(hedge, "SELL", "0.003", "SHORT"))
    rows = {p["positionSide"]: p for p in positions(hedge)}
    assert {k: v["positionAmt"] for k, v in rows.items()} == {"LONG": "0.002", "SHORT": "0.003"}
    assert rows["LONG"]["positionId"] != rows["SHORT"]["positionId"]
    assert all(p["onlyOnePosition"] is False for p in rows.values())


def test_hedge_when_closing_with_the_opposite_side_then_only_that_slot_closes(
    hedge: RunningSim,
) -> None:
    ok(market(hedge, "BUY", "0.002", "LONG"))
    ok(market(hedge, "SELL", "0.003", "SHORT"))
    ok(market(hedge, "SELL", "0.002", "LONG"))
    ok(market(hedge, "BUY", "0.001", "SHORT"))
    assert [(p["positionSide"], p["positionAmt"]) for p in positions(hedge)] == [("SHORT", "0.002")]


def test_hedge_when_closing_a_slot_that_is_flat_then_101205(hedge: RunningSim) -> None:
    ok(market(hedge, "SELL", "0.002", "SHORT"))
    assert error_code(market(hedge, "SELL", "0.001", "LONG")) == 101205


def test_hedge_when_reduce_only_sent_then_109400(hedge: RunningSim) -> None:
    ok(market(hedge, "BUY", "0.002", "LONG"))
    answer = market(hedge, "SELL", "0.001", "LONG", reduceOnly="true")
    assert error_code(answer) == 109400
    assert "ReduceOnly" in answer["msg"]


def test_hedge_when_position_side_both_then_109400(hedge: RunningSim) -> None:
    assert error_code(market(hedge, "BUY", "0.001", "BOTH")) == 109400


def test_hedge_when_attached_stop_fires_then_only_its_slot_closes(hedge: RunningSim) -> None:
    price = hedge.price()
    stop = json_compact({"stopPrice": float(price - 500), "type": "STOP_MARKET"})
    ok(market(hedge, "BUY", "0.002", "LONG", stopLoss=stop))
    ok(market(hedge, "SELL", "0.001", "SHORT"))
    (child,) = open_orders(hedge)
    assert (child["side"], child["positionSide"]) == ("SELL", "LONG")
    hedge.jump(-2)
    hedge.step(1_000)
    assert [(p["positionSide"], p["positionAmt"]) for p in positions(hedge)] == [("SHORT", "0.001")]


# ---------------------------------------------------------------- client order ids
def test_client_order_id_when_mixed_case_then_stored_and_echoed_lower_case(
    sim: RunningSim,
) -> None:
    order = ok(market(sim, "BUY", "0.001", clientOrderID="MyBot-001"))["order"]
    assert order["clientOrderID"] == "mybot-001"
    assert order["clientOrderId"] == "mybot-001"
    (fill,) = fills(sim)
    assert fill["clientOrderID"] == "mybot-001"


@pytest.mark.parametrize(
    ("first", "second"), [("clientOrderID", "clientOrderId"), ("clientOrderId", "clientOrderID")]
)
def test_client_order_id_when_reused_in_any_case_or_spelling_then_101481(
    sim: RunningSim, first: str, second: str
) -> None:
    ok(market(sim, "BUY", "0.001", **{first: "Bot-7"}))
    answer = market(sim, "BUY", "0.001", **{second: "BOT-7"})
    assert error_code(answer) == 101481
    assert [p["positionAmt"] for p in positions(sim)] == ["0.001"]


@pytest.mark.parametrize("spelling", ["clientOrderId", "clientOrderID"])
def test_client_order_id_when_queried_by_either_spelling_then_finds_the_order(
    sim: RunningSim, spelling: str
) -> None:
    order_id = ok(market(sim, "BUY", "0.001", clientOrderID="Bot-1"))["order"]["orderId"]
    found = ok(query(sim, **{spelling: "bot-1"}))["order"]
    assert found["orderId"] == order_id
    assert ok(query(sim, **{spelling: "BOT-1"}))["order"]["orderId"] == order_id


@pytest.mark.parametrize("spelling", ["clientOrderId", "clientOrderID"])
def test_client_order_id_when_cancelled_by_either_spelling_then_cancelled(
    sim: RunningSim, spelling: str
) -> None:
    order = ok(limit_order(sim, "BUY", "0.001", sim.price() - 1000, clientOrderID="Rest-1"))[
        "order"
    ]
    cancelled = ok(sim.client.delete(ORDER, {"symbol": SYMBOL, spelling: "rest-1"}))["order"]
    assert (cancelled["orderId"], cancelled["status"]) == (order["orderId"], "CANCELLED")
    assert open_orders(sim) == []


def test_client_order_id_when_order_id_is_the_text_none_then_it_is_ignored(
    sim: RunningSim,
) -> None:
    order_id = ok(market(sim, "BUY", "0.001", clientOrderID="ccxt-bug"))["order"]["orderId"]
    found = ok(
        sim.client.get(
            ORDER, [("orderId", "None"), ("symbol", SYMBOL), ("clientOrderId", "ccxt-bug")]
        )
    )
    assert found["order"]["orderId"] == order_id


def test_client_order_id_when_longer_than_40_characters_then_109400(sim: RunningSim) -> None:
    assert error_code(market(sim, "BUY", "0.001", clientOrderID="x" * 41)) == 109400


def test_client_order_id_when_the_order_is_refused_then_it_stays_free(sim: RunningSim) -> None:
    assert error_code(market(sim, "BUY", "100", clientOrderID="retry-me")) == 101204
    assert ok(market(sim, "BUY", "0.001", clientOrderID="retry-me"))


# ---------------------------------------------------------------- refusals
def test_quantity_when_off_the_step_then_109400(sim: RunningSim) -> None:
    assert error_code(market(sim, "BUY", "0.00015")) == 109400


@pytest.mark.parametrize("quantity", ["0", "-0.001", "abc", "NaN", "1e400", "1e20"])
def test_quantity_when_not_a_positive_number_then_109400(sim: RunningSim, quantity: str) -> None:
    assert error_code(market(sim, "BUY", quantity)) == 109400


def test_price_when_off_the_tick_then_109400(sim: RunningSim) -> None:
    answer = limit_order(sim, "BUY", "0.001", str(sim.price() - 100 + Decimal("0.05")))
    assert error_code(answer) == 109400


@pytest.mark.parametrize("price", ["1e400", "1e15", "Infinity"])
def test_price_when_absurdly_large_then_109400(sim: RunningSim, price: str) -> None:
    assert error_code(limit_order(sim, "BUY", "0.001", price)) == 109400


def test_stop_price_when_off_the_tick_then_109400(sim: RunningSim) -> None:
    ok(market(sim, "BUY", "0.001"))
    answer = trigger_order(
        sim,
        "STOP_MARKET",
        "SELL",
        str(sim.price() - 100 + Decimal("0.01")),
        quantity="0.001",
        reduceOnly="true",
    )
    assert error_code(answer) == 109400


def test_quantity_when_below_trade_min_quantity_then_101400(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    coarse = Instrument(SYMBOL, Decimal("0.1"), Decimal("0.0001"), Decimal("0.001"), Decimal(2))
    monkeypatch.setitem(BINGX_CONTRACTS, SYMBOL, coarse)
    with running_simulator() as sim:
        answer = market(sim, "BUY", "0.0009")
        assert error_code(answer) == 101400
        assert answer["msg"] == "The minimum order amount is 0.001 BTC."
        assert ok(market(sim, "BUY", "0.001"))


def test_notional_when_below_trade_min_usdt_then_110425(sim: RunningSim) -> None:
    answer = limit_order(sim, "BUY", "0.0001", "10000.0")
    assert error_code(answer) == 110425
    assert "greater than 2u" in answer["msg"]


def test_order_when_margin_is_insufficient_then_101204_and_nothing_happens(
    sim: RunningSim,
) -> None:
    assert error_code(market(sim, "BUY", "0.06")) == 101204  # ~5400 USDT at 5x on 1000
    assert positions(sim) == []
    assert ok(market(sim, "BUY", "0.05"))


def test_reduce_only_when_no_position_then_101205(sim: RunningSim) -> None:
    assert error_code(market(sim, "SELL", "0.001", reduceOnly="true")) == 101205


def test_reduce_only_when_it_would_increase_the_position_then_101205(sim: RunningSim) -> None:
    ok(market(sim, "BUY", "0.001"))
    assert error_code(market(sim, "BUY", "0.001", reduceOnly="true")) == 101205


def test_order_when_symbol_unknown_then_109400_naming_the_contracts_endpoint(
    sim: RunningSim,
) -> None:
    answer = sim.client.place(
        symbol="DOGE-USDT", side="BUY", positionSide="BOTH", type="MARKET", quantity="1"
    )
    assert error_code(answer) == 109400
    assert "/openApi/swap/v2/quote/contracts" in answer["msg"]


@pytest.mark.parametrize(
    ("name", "value"), [("side", "HOLD"), ("type", "ICEBERG"), ("timeInForce", "GTD")]
)
def test_order_when_an_enum_value_is_unknown_then_109400(
    sim: RunningSim, name: str, value: str
) -> None:
    params: dict[str, Any] = {
        "side": "BUY",
        "positionSide": "BOTH",
        "type": "MARKET",
        "quantity": "0.001",
    }
    params[name] = value
    assert error_code(sim.client.place(**params)) == 109400


def test_query_when_order_unknown_then_80016(sim: RunningSim) -> None:
    assert error_code(query(sim, orderId="123456")) == 80016
    assert error_code(query(sim, clientOrderId="nobody")) == 80016


def test_query_when_order_belongs_to_another_account_then_80016() -> None:
    keys = [ApiKey(DEFAULT_API_KEY, DEFAULT_API_SECRET), ApiKey("other", "other-secret")]
    with running_simulator(sim_options(keys=keys)) as sim:
        order_id = ok(market(sim, "BUY", "0.001"))["order"]["orderId"]
        other = sim.new_client("other", "other-secret")
        assert error_code(other.get(ORDER, {"symbol": SYMBOL, "orderId": order_id})) == 80016
        assert ok(other.get(POSITIONS)) == []


def test_order_queries_when_another_symbol_is_named_then_109400_not_this_symbols_orders(
    sim: RunningSim,
) -> None:
    resting = ok(limit_order(sim, "BUY", "0.001", sim.price() - 1000))["order"]
    ok(market(sim, "BUY", "0.001"))
    other = {"symbol": "ETH-USDT"}
    by_id = {**other, "orderId": resting["orderId"]}
    calls = [
        ("GET", ORDER, by_id),
        ("GET", OPEN_ORDER, by_id),
        ("DELETE", ORDER, by_id),
        ("GET", OPEN_ORDERS, other),
        ("GET", ALL_ORDERS, other),
        ("GET", FULL_ORDERS, other),
        ("GET", FILLS, {**other, "tradingUnit": "COIN"}),
        ("GET", INCOME, other),
    ]
    for method, path, params in calls:
        answer = sim.client.call(method, path, params)
        assert error_code(answer) == 109400, (method, path, answer)
    assert [o["orderId"] for o in open_orders(sim)] == [resting["orderId"]]


def test_cancel_when_order_filled_then_80018(sim: RunningSim) -> None:
    order_id = ok(market(sim, "BUY", "0.001"))["order"]["orderId"]
    answer = sim.client.delete(ORDER, {"symbol": SYMBOL, "orderId": order_id})
    assert error_code(answer) == 80018


def test_cancel_when_order_unknown_then_80016(sim: RunningSim) -> None:
    assert error_code(sim.client.delete(ORDER, {"symbol": SYMBOL, "orderId": "42"})) == 80016


def test_cancel_all_when_orders_rest_then_all_cancelled_in_the_success_list(
    sim: RunningSim,
) -> None:
    price = sim.price()
    for offset in (1000, 2000):
        ok(limit_order(sim, "BUY", "0.001", str(price - offset)))
    answer = ok(sim.client.delete(CANCEL_ALL, {"symbol": SYMBOL}))
    assert answer["failed"] is None
    assert [o["status"] for o in answer["success"]] == ["CANCELLED", "CANCELLED"]
    assert open_orders(sim) == []


# ---------------------------------------------------------------- settings
def test_leverage_when_set_to_both_in_one_way_then_both_sides_change(sim: RunningSim) -> None:
    answer = ok(sim.client.post(LEVERAGE, {"symbol": SYMBOL, "side": "BOTH", "leverage": 20}))
    assert answer == {"leverage": 20, "symbol": SYMBOL}
    got = ok(sim.client.get(LEVERAGE, {"symbol": SYMBOL}))
    assert (got["longLeverage"], got["shortLeverage"]) == (20, 20)
    assert (got["maxLongLeverage"], got["maxShortLeverage"]) == (125, 125)


def test_leverage_when_set_higher_then_a_larger_order_fits(sim: RunningSim) -> None:
    assert error_code(market(sim, "BUY", "0.06")) == 101204
    ok(sim.client.post(LEVERAGE, {"symbol": SYMBOL, "side": "BOTH", "leverage": 10}))
    assert ok(market(sim, "BUY", "0.06"))["order"]["leverage"] == "10X"


@pytest.mark.parametrize("side", ["LONG", "SHORT"])
def test_leverage_when_one_side_in_one_way_then_109400(sim: RunningSim, side: str) -> None:
    answer = sim.client.post(LEVERAGE, {"symbol": SYMBOL, "side": side, "leverage": 10})
    assert error_code(answer) == 109400


def test_leverage_when_set_per_side_in_hedge_then_each_side_keeps_its_own(
    hedge: RunningSim,
) -> None:
    ok(hedge.client.post(LEVERAGE, {"symbol": SYMBOL, "side": "LONG", "leverage": 7}))
    ok(hedge.client.post(LEVERAGE, {"symbol": SYMBOL, "side": "SHORT", "leverage": 3}))
    got = ok(hedge.client.get(LEVERAGE, {"symbol": SYMBOL}))
    assert (got["longLeverage"], got["shortLeverage"]) == (7, 3)
    answer = hedge.client.post(LEVERAGE, {"symbol": SYMBOL, "side": "BOTH", "leverage": 7})
    assert error_code(answer) == 109400


@pytest.mark.parametrize("leverage", [126, 0])
def test_leverage_when_out_of_range_then_101414(sim: RunningSim, leverage: int) -> None:
    answer = sim.client.post(LEVERAGE, {"symbol": SYMBOL, "side": "BOTH", "leverage": leverage})
    assert error_code(answer) == 101414
    assert ok(sim.client.get(LEVERAGE, {"symbol": SYMBOL}))["longLeverage"] == 5


def test_hedge_when_sides_have_different_leverage_then_each_position_uses_its_own(
    hedge: RunningSim,
) -> None:
    ok(hedge.client.post(LEVERAGE, {"symbol": SYMBOL, "side": "LONG", "leverage": 10}))
    ok(hedge.client.post(LEVERAGE, {"symbol": SYMBOL, "side": "SHORT", "leverage": 2}))
    ok(market(hedge, "SELL", "0.01", "SHORT"))
    (short,) = positions(hedge)
    balance = ok(hedge.client.get(BALANCE_V3))[0]
    assert short["leverage"] == "2"
    assert balance["usedMargin"] == short["initialMargin"]


def test_leverage_when_125_then_accepted(sim: RunningSim) -> None:
    assert ok(sim.client.post(LEVERAGE, {"symbol": SYMBOL, "side": "BOTH", "leverage": 125}))


def test_margin_type_when_flat_then_switches(sim: RunningSim) -> None:
    ok(sim.client.post(MARGIN_TYPE, {"symbol": SYMBOL, "marginType": "ISOLATED"}))
    assert ok(sim.client.get(MARGIN_TYPE, {"symbol": SYMBOL}))["marginType"] == "ISOLATED"
    ok(market(sim, "BUY", "0.001"))
    assert positions(sim)[0]["isolated"] is True


def test_margin_type_when_a_position_is_open_then_refused(sim: RunningSim) -> None:
    ok(market(sim, "BUY", "0.001"))
    answer = sim.client.post(MARGIN_TYPE, {"symbol": SYMBOL, "marginType": "ISOLATED"})
    assert error_code(answer) == 101212
    assert ok(sim.client.get(MARGIN_TYPE, {"symbol": SYMBOL}))["marginType"] == "CROSSED"


def test_margin_type_when_unknown_then_109400(sim: RunningSim) -> None:
    answer = sim.client.post(MARGIN_TYPE, {"symbol": SYMBOL, "marginType": "PORTFOLIO"})
    assert error_code(answer) == 109400


def test_position_mode_when_a_position_is_open_then_refused(sim: RunningSim) -> None:
    ok(market(sim, "BUY", "0.001"))
    assert error_code(sim.client.post(DUAL, {"dualSidePosition": "true"})) == 101212
    assert ok(sim.client.get(DUAL)) == {"dualSidePosition": "false"}


def test_position_mode_when_an_order_rests_then_refused(sim: RunningSim) -> None:
    ok(limit_order(sim, "BUY", "0.001", sim.price() - 1000))
    assert error_code(sim.client.post(DUAL, {"dualSidePosition": "true"})) == 101212


def test_position_mode_when_switched_to_hedge_then_orders_need_long_or_short(
    sim: RunningSim,
) -> None:
    ok(sim.client.post(DUAL, {"dualSidePosition": "true"}))
    assert error_code(market(sim, "BUY", "0.001")) == 109400
    assert ok(market(sim, "BUY", "0.001", "LONG"))


# ---------------------------------------------------------------- closing positions
def test_close_all_positions_when_long_and_short_open_then_both_closed(
    hedge: RunningSim,
) -> None:
    ok(market(hedge, "BUY", "0.002", "LONG"))
    ok(market(hedge, "SELL", "0.001", "SHORT"))
    answer = ok(hedge.client.post(CLOSE_ALL, {"symbol": SYMBOL}))
    assert shape_mismatches(recorded_response("closeAllPositions", 0)["data"], answer) == [
        f"data.success[0]: expected int, got {answer['success'][0]!r}"  # ids are strings here
    ]
    assert answer["failed"] is None
    assert len(answer["success"]) == 2
    assert all(isinstance(i, str) and i.isdigit() for i in answer["success"])
    assert positions(hedge) == []
    closing = [ok(query(hedge, orderId=i))["order"] for i in answer["success"]]
    assert {(o["side"], o["positionSide"], o["status"]) for o in closing} == {
        ("SELL", "LONG", "FILLED"),
        ("BUY", "SHORT", "FILLED"),
    }


def test_close_all_positions_when_flat_then_empty_success_list(sim: RunningSim) -> None:
    assert ok(sim.client.post(CLOSE_ALL, {"recvWindow": 5000})) == {
        "success": [],
        "failed": None,
    }


def test_close_position_by_id_when_open_then_closed_with_the_bingx_shape(
    sim: RunningSim,
) -> None:
    ok(market(sim, "BUY", "0.002"))
    position_id = positions(sim)[0]["positionId"]
    answer = ok(sim.client.post(CLOSE_ONE, {"positionId": position_id}))
    assert set(answer) == {
        "orderId",
        "positionId",
        "symbol",
        "side",
        "type",
        "positionSide",
        "origQty",
    }
    assert answer["positionId"] == position_id
    assert (answer["side"], answer["type"], answer["positionSide"]) == ("Ask", "Market", "BOTH")
    assert answer["origQty"] == "0.002"
    assert isinstance(answer["orderId"], str)
    assert positions(sim) == []


def test_close_position_by_id_when_hedge_short_then_bid_and_only_that_slot(
    hedge: RunningSim,
) -> None:
    ok(market(hedge, "BUY", "0.002", "LONG"))
    ok(market(hedge, "SELL", "0.001", "SHORT"))
    short = next(p for p in positions(hedge) if p["positionSide"] == "SHORT")
    answer = ok(hedge.client.post(CLOSE_ONE, {"positionId": short["positionId"]}))
    assert (answer["side"], answer["positionSide"]) == ("Bid", "SHORT")
    assert [p["positionSide"] for p in positions(hedge)] == ["LONG"]


def test_close_position_by_id_when_unknown_or_closed_then_101205(sim: RunningSim) -> None:
    assert error_code(sim.client.post(CLOSE_ONE, {"positionId": "1"})) == 101205
    ok(market(sim, "BUY", "0.001"))
    position_id = positions(sim)[0]["positionId"]
    ok(market(sim, "SELL", "0.001", reduceOnly="true"))
    assert error_code(sim.client.post(CLOSE_ONE, {"positionId": position_id})) == 101205


def test_position_id_when_a_position_is_reopened_then_it_is_new(sim: RunningSim) -> None:
    ok(market(sim, "BUY", "0.001"))
    first = positions(sim)[0]["positionId"]
    ok(market(sim, "SELL", "0.001", reduceOnly="true"))
    ok(market(sim, "BUY", "0.001"))
    assert positions(sim)[0]["positionId"] != first


# ---------------------------------------------------------------- income ledger
def test_income_when_a_round_trip_closes_then_fees_and_realized_pnl_recorded(
    sim: RunningSim,
) -> None:
    entry = sim.price()
    ok(market(sim, "BUY", "0.002"))
    sim.step(600_000)
    exit_ = sim.price()
    ok(market(sim, "SELL", "0.002", reduceOnly="true"))
    fees = [Decimal(r["income"]) for r in income(sim, "TRADING_FEE")]
    assert fees == [-(entry * Decimal("0.002") * TAKER), -(exit_ * Decimal("0.002") * TAKER)]
    (pnl,) = income(sim, "REALIZED_PNL")
    assert Decimal(pnl["income"]) == (exit_ - entry) * Decimal("0.002")
    assert pnl["time"] == str(sim.now_ms())
    balance = Decimal(ok(sim.client.get(BALANCE_V3))[0]["balance"])
    assert balance == (Decimal(1000) + sum(fees) + Decimal(pnl["income"])).quantize(
        Decimal("0.0001")
    )


def test_income_when_funding_times_pass_then_funding_fee_at_0_8_and_16_utc(
    sim: RunningSim,
) -> None:
    market_ = sim.simulator.exchange.market
    ok(market(sim, "BUY", "0.01"))
    start = sim.now_ms()
    first = start - start % EIGHT_HOURS + EIGHT_HOURS
    sim.step(first - start - 1)
    assert income(sim, "FUNDING_FEE") == []
    sim.step(1 + 2 * EIGHT_HOURS)

    funding = income(sim, "FUNDING_FEE")
    times = [int(r["time"]) for r in funding]
    assert times == [first, first + EIGHT_HOURS, first + 2 * EIGHT_HOURS]
    assert sorted(datetime.fromtimestamp(t / 1000, tz=UTC).hour for t in times) == [0, 8, 16]
    for row, time_ms in zip(funding, times, strict=True):
        mark = market_.price_at(time_ms)
        assert Decimal(row["income"]) == -(Decimal("0.01") * mark * Decimal("0.0001"))
        assert row["info"] == "Funding Fee"


def test_income_when_short_and_rate_positive_then_funding_is_received(sim: RunningSim) -> None:
    ok(market(sim, "SELL", "0.01"))
    start = sim.now_ms()
    sim.step(EIGHT_HOURS - start % EIGHT_HOURS)
    (row,) = income(sim, "FUNDING_FEE")
    assert Decimal(row["income"]) > 0


def test_income_when_flat_through_funding_then_nothing_is_charged(sim: RunningSim) -> None:
    sim.step(EIGHT_HOURS)
    assert income(sim, "FUNDING_FEE") == []


def test_income_when_filtered_by_type_and_time_then_only_matching_rows(sim: RunningSim) -> None:
    ok(market(sim, "BUY", "0.001"))
    sim.step(60_000)
    ok(market(sim, "SELL", "0.001", reduceOnly="true"))
    now = sim.now_ms()
    rows = ok(sim.client.get(INCOME, {"incomeType": "TRADING_FEE", "startTime": now}))
    assert [r["time"] for r in rows] == [str(now)]
    assert [r["incomeType"] for r in income(sim, "REALIZED_PNL")] == ["REALIZED_PNL"]


# ---------------------------------------------------------------- keys and streams
def test_listen_key_when_created_then_a_bare_64_hex_key(sim: RunningSim) -> None:
    response = sim.client.http.post(LISTEN_KEY, headers={"X-BX-APIKEY": DEFAULT_API_KEY})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"listenKey"}
    assert re.fullmatch(r"[0-9a-f]{64}", body["listenKey"])


def test_listen_key_when_created_signed_like_ccxt_then_accepted(sim: RunningSim) -> None:
    body = sim.client.post(LISTEN_KEY)
    assert re.fullmatch(r"[0-9a-f]{64}", body["listenKey"])


def test_listen_key_when_created_without_api_key_then_100413(sim: RunningSim) -> None:
    response = sim.client.http.post(LISTEN_KEY)
    assert response.status_code == 200
    assert response.json()["code"] == 100413


def test_listen_key_when_extended_and_deleted_then_200_then_404(sim: RunningSim) -> None:
    key = sim.client.post(LISTEN_KEY)["listenKey"]
    headers = {"X-BX-APIKEY": DEFAULT_API_KEY}
    extend = sim.client.http.put(LISTEN_KEY, params={"listenKey": key}, headers=headers)
    assert (extend.status_code, extend.content) == (200, b"")
    delete = sim.client.http.delete(LISTEN_KEY, params={"listenKey": key}, headers=headers)
    assert (delete.status_code, delete.content) == (200, b"")
    assert (
        sim.client.http.put(LISTEN_KEY, params={"listenKey": key}, headers=headers).status_code
        == 404
    )
    assert (
        sim.client.http.delete(LISTEN_KEY, params={"listenKey": key}, headers=headers).status_code
        == 404
    )


def test_listen_key_when_unknown_or_keyless_then_404(sim: RunningSim) -> None:
    key = sim.client.post(LISTEN_KEY)["listenKey"]
    headers = {"X-BX-APIKEY": DEFAULT_API_KEY}
    assert (
        sim.client.http.put(LISTEN_KEY, params={"listenKey": "f" * 64}, headers=headers).status_code
        == 404
    )
    assert sim.client.http.put(LISTEN_KEY, params={"listenKey": key}).status_code == 404


def test_listen_key_when_extended_with_ccxt_signature_params_then_200(sim: RunningSim) -> None:
    key = sim.client.post(LISTEN_KEY)["listenKey"]
    response = sim.client.send("PUT", LISTEN_KEY, {"listenKey": key})
    assert response.status_code == 200


def test_api_permissions_when_key_can_trade_then_read_and_futures_trading() -> None:
    keys = [
        ApiKey(DEFAULT_API_KEY, DEFAULT_API_SECRET),
        ApiKey("reader", "reader-secret", can_trade=False),
        ApiKey("withdrawer", "withdrawer-secret", can_withdraw=True),
    ]
    with running_simulator(sim_options(keys=keys)) as sim:
        trader = sim.client.get(PERMISSIONS)
        reader = sim.new_client("reader", "reader-secret").get(PERMISSIONS)
        withdrawer = sim.new_client("withdrawer", "withdrawer-secret").get(PERMISSIONS)
    assert trader["apiKey"] == DEFAULT_API_KEY
    assert trader["permissions"] == [2, 3]
    assert reader["permissions"] == [2]
    assert withdrawer["permissions"] == [2, 3, 5]
    assert set(trader) == {"apiKey", "permissions", "ipAddresses", "note"}


def test_read_only_key_when_trading_then_100004_but_reading_works() -> None:
    keys = [ApiKey("reader", "reader-secret", can_trade=False)]
    with running_simulator(sim_options(keys=keys)) as sim:
        reader = sim.new_client("reader", "reader-secret")
        placed = reader.place(side="BUY", positionSide="BOTH", type="MARKET", quantity="0.001")
        assert error_code(placed) == 100004
        assert error_code(reader.delete(ORDER, {"symbol": SYMBOL, "orderId": "1"})) == 100004
        assert error_code(reader.delete(CANCEL_ALL, {"symbol": SYMBOL})) == 100004
        assert error_code(reader.post(CLOSE_ALL, {})) == 100004
        assert ok(reader.get(POSITIONS)) == []
        assert ok(reader.get(BALANCE_V3))[0]["balance"] == "1000.0000"


# ---------------------------------------------------------------- klines
def test_klines_when_closed_then_equal_the_replayed_file_rows_exactly(sim: RunningSim) -> None:
    candles = load_candle_csv(bundled_sample_path())
    sim.step(2 * FIVE_MINUTES + 120_000)
    rows = ok(sim.client.get(KLINES_V3, {"symbol": SYMBOL, "interval": "5m", "limit": 300}))
    times = [r["time"] for r in rows]
    assert times == sorted(times)
    assert times[0] == int(candles.open_time_ms[0])  # fewer than 300 exist before now
    assert times[-1] == sim.now_ms() - sim.now_ms() % FIVE_MINUTES
    assert len(rows) == len(set(times)) == 203
    index = {int(t): i for i, t in enumerate(candles.open_time_ms)}
    for row in rows[:-1]:
        i = index[row["time"]]
        assert Decimal(row["open"]) == Decimal(repr(float(candles.open[i])))
        assert Decimal(row["high"]) == Decimal(repr(float(candles.high[i])))
        assert Decimal(row["low"]) == Decimal(repr(float(candles.low[i])))
        assert Decimal(row["close"]) == Decimal(repr(float(candles.close[i])))
        assert all(isinstance(row[k], str) for k in ("open", "high", "low", "close", "volume"))


def test_klines_when_the_last_candle_forms_then_it_closes_at_the_current_price(
    sim: RunningSim,
) -> None:
    sim.step(FIVE_MINUTES + 120_000)
    now = sim.now_ms()
    rows = ok(sim.client.get(KLINES_V3, {"symbol": SYMBOL, "interval": "5m", "limit": 3}))
    last = rows[-1]
    assert last["time"] == now - now % FIVE_MINUTES
    assert Decimal(last["close"]) == sim.price()
    assert Decimal(last["low"]) <= Decimal(last["close"]) <= Decimal(last["high"])
    assert [r["time"] for r in rows] == [
        last["time"] - 2 * FIVE_MINUTES,
        last["time"] - FIVE_MINUTES,
        last["time"],
    ]


def test_klines_when_end_time_given_then_no_candle_after_it(sim: RunningSim) -> None:
    sim.step(10 * FIVE_MINUTES)
    end = sim.now_ms() - 5 * FIVE_MINUTES
    rows = ok(
        sim.client.get(KLINES_V3, {"symbol": SYMBOL, "interval": "5m", "endTime": end, "limit": 4})
    )
    assert len(rows) == 4
    assert rows[-1]["time"] == end


def test_klines_when_served_on_v2_then_the_same_candles(sim: RunningSim) -> None:
    params: dict[str, Any] = {"symbol": SYMBOL, "interval": "5m", "limit": 5}
    assert ok(sim.client.get(KLINES_V2, params)) == ok(sim.client.get(KLINES_V3, params))


@pytest.mark.parametrize("interval", ["1m", "1h", "7m"])
def test_klines_when_interval_is_not_the_markets_then_109400(
    sim: RunningSim, interval: str
) -> None:
    answer = sim.client.get(KLINES_V3, {"symbol": SYMBOL, "interval": interval})
    assert error_code(answer) == 109400


def test_klines_when_symbol_unknown_then_109400(sim: RunningSim) -> None:
    answer = sim.client.get(KLINES_V3, {"symbol": "ETH-USDT", "interval": "5m"})
    assert error_code(answer) == 109400


# ---------------------------------------------------------------- rate limits
def test_rate_limit_when_orders_burst_above_ten_per_second_then_100410() -> None:
    with running_simulator(sim_options(rate_limits=True)) as sim:
        now = sim.client.server_time()
        codes = [
            limit_order(sim, "BUY", "0.001", str(sim.price() - 1000 - n), timestamp=now)["code"]
            for n in range(20)
        ]
        assert codes[:10] == [0] * 10
        assert 100410 in codes[10:]
        other_endpoint = sim.client.get(OPEN_ORDERS, {"symbol": SYMBOL}, timestamp=now)
        assert other_endpoint["code"] == 0


def test_rate_limit_when_one_key_bursts_then_another_key_is_unaffected() -> None:
    keys = [ApiKey(DEFAULT_API_KEY, DEFAULT_API_SECRET), ApiKey("other", "other-secret")]
    with running_simulator(sim_options(rate_limits=True, keys=keys)) as sim:
        now = sim.client.server_time()
        codes = [
            sim.client.get(MARGIN_TYPE, {"symbol": SYMBOL}, timestamp=now)["code"] for _ in range(4)
        ]
        assert codes[:2] == [0, 0]
        assert 100410 in codes[2:]
        other = sim.new_client("other", "other-secret")
        assert other.get(MARGIN_TYPE, {"symbol": SYMBOL}, timestamp=now)["code"] == 0
