"""Unmodified ccxt 4.5.90 (`ccxt.bingx`) against the simulator over loopback.

ccxt is only configured the way shared/spec/bingx-api.md §9.3 shows: every REST section
points at the simulator, swap is the default type, sandbox mode on or off, and its nonce
reads the simulator's clock (a replayed 2025 market, stepped by hand here) instead of the
wall clock, the documented mitigation for a skewed clock (§6).  ccxt's own throttle is off
so the suite runs fast; the simulator's rate limits are off too.

Each test asserts the unified values ccxt parses out of the simulator's answers.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import ccxt  # type: ignore[import-untyped]
import ccxt.async_support as ccxt_async  # type: ignore[import-untyped]
import httpx
import pytest

from adxbot.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET
from adxbot.sim.server import SimOptions, SimulatorThread, build_simulator

SYMBOL = "BTC/USDT:USDT"
MARKET_ID = "BTC-USDT"
FIVE_MINUTES_MS = 300_000
UTC8_MS = 8 * 3_600_000
_SECTIONS = (
    "fund", "spot", "swap", "contract", "wallets", "user", "subAccount", "account",
    "copyTrading", "cswap", "api",
)  # fmt: skip


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    """A fresh simulator on a stepped clock (speed 0), served on a free loopback port."""
    with SimulatorThread(build_simulator(SimOptions(speed=0, rate_limits=False))) as thread:
        yield thread


def configure(exchange: Any, sim: SimulatorThread, *, sandbox: bool = True) -> Any:
    """Point a ccxt bingx instance at the simulator as §9.3 shows; nonce = simulator time."""
    if sandbox:
        exchange.options["sandboxMode"] = True
    for section in _SECTIONS:
        exchange.urls["api"][section] = f"{sim.base_url}/openApi"
    exchange.nonce = sim.simulator.exchange.market.now_ms
    return exchange


def bingx(sim: SimulatorThread, *, secret: str = DEFAULT_API_SECRET, sandbox: bool = True) -> Any:
    """Return a configured synchronous ccxt client (markets not loaded yet)."""
    exchange = ccxt.bingx(
        {
            "apiKey": DEFAULT_API_KEY,
            "secret": secret,
            "enableRateLimit": False,
            "options": {"defaultType": "swap"},
        }
    )
    return configure(exchange, sim, sandbox=sandbox)


@pytest.fixture
def ex(sim: SimulatorThread) -> Iterator[Any]:
    """A synchronous ccxt client with the simulator's markets loaded."""
    exchange = bingx(sim)
    exchange.load_markets()
    yield exchange
    exchange.close()


def admin(sim: SimulatorThread, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """Call the simulator's admin API (`/sim/...`)."""
    response = httpx.post(f"{sim.base_url}/sim/{path}", json=body)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def now_ms(sim: SimulatorThread) -> int:
    return sim.simulator.exchange.market.now_ms()


def last_price(ex: Any) -> float:
    return float(ex.fetch_ticker(SYMBOL)["last"])


def tick(value: float) -> float:
    return round(value, 1)


def assert_btc_swap_market(market: dict[str, Any]) -> None:
    assert market["id"] == MARKET_ID
    assert market["type"] == "swap"
    assert market["swap"] is True
    assert market["linear"] is True
    assert market["inverse"] is False
    assert market["settle"] == "USDT"
    assert market["active"] is True
    assert market["contractSize"] == 1
    assert market["precision"] == {"amount": 0.0001, "price": 0.1}
    assert market["limits"]["amount"]["min"] == 0.0001
    assert market["limits"]["cost"]["min"] == 2


# ---------------------------------------------------------------- markets
def test_load_markets_when_sandbox_mode_then_only_swap_contracts_are_requested(
    sim: SimulatorThread,
) -> None:
    exchange = bingx(sim, sandbox=True)
    paths: list[str] = []
    exchange.session.hooks["response"].append(
        lambda r, *args, **kwargs: paths.append(httpx.URL(r.url).path)
    )

    markets = exchange.load_markets()

    assert paths == ["/openApi/swap/v2/quote/contracts"]
    assert list(markets) == [SYMBOL]
    assert_btc_swap_market(markets[SYMBOL])
    exchange.close()


def test_load_markets_when_not_sandbox_then_empty_stubs_satisfy_ccxt(sim: SimulatorThread) -> None:
    exchange = bingx(sim, sandbox=False)
    paths: list[str] = []
    exchange.session.hooks["response"].append(
        lambda r, *args, **kwargs: paths.append(httpx.URL(r.url).path)
    )

    markets = exchange.load_markets()

    assert paths == [
        "/openApi/wallets/v1/capital/config/getall",
        "/openApi/swap/v2/quote/contracts",
        "/openApi/cswap/v1/market/contracts",
        "/openApi/spot/v1/common/symbols",
    ]
    assert list(markets) == [SYMBOL]
    assert_btc_swap_market(markets[SYMBOL])
    exchange.close()


# ---------------------------------------------------------------- market data
def test_fetch_time_returns_the_simulator_clock(sim: SimulatorThread, ex: Any) -> None:
    assert ex.fetch_time() == now_ms(sim)
    admin(sim, "clock/step", {"ms": 60_000})
    assert ex.fetch_time() == now_ms(sim)


def test_fetch_ticker_parses_last_bid_ask_and_24h_range(sim: SimulatorThread, ex: Any) -> None:
    ticker = ex.fetch_ticker(SYMBOL)

    price = float(sim.simulator.exchange.market.last_price())
    assert ticker["symbol"] == SYMBOL
    assert ticker["timestamp"] == now_ms(sim)
    assert ticker["last"] == ticker["close"] == price
    assert ticker["bid"] == price
    assert ticker["ask"] == pytest.approx(price + 0.1)
    assert ticker["low"] <= price <= ticker["high"]
    assert ticker["baseVolume"] > 0
    assert ticker["change"] == pytest.approx(price - ticker["open"])
    assert ticker["percentage"] == pytest.approx(ticker["change"] / ticker["open"] * 100, abs=0.01)


def test_fetch_ohlcv_returns_ascending_five_minute_candles(sim: SimulatorThread, ex: Any) -> None:
    candles = ex.fetch_ohlcv(SYMBOL, "5m", limit=50)

    assert len(candles) == 50
    assert all(len(candle) == 6 for candle in candles)
    times = [candle[0] for candle in candles]
    assert times == sorted(times)
    assert {b - a for a, b in itertools.pairwise(times)} == {FIVE_MINUTES_MS}
    assert times[-1] <= now_ms(sim) < times[-1] + FIVE_MINUTES_MS
    for _, open_, high, low, close, volume in candles:
        assert low <= min(open_, close) <= max(open_, close) <= high
        assert volume >= 0


def test_fetch_ohlcv_with_since_returns_limit_candles_from_since(ex: Any) -> None:
    times = [candle[0] for candle in ex.fetch_ohlcv(SYMBOL, "5m", limit=50)]

    later = ex.fetch_ohlcv(SYMBOL, "5m", times[10], 5)  # ccxt sends startTime = since - 1

    assert [candle[0] for candle in later] == times[10:15]


def test_fetch_order_book_is_sorted_around_the_last_price(ex: Any) -> None:
    book = ex.fetch_order_book(SYMBOL, 5)

    bids = [price for price, _ in book["bids"]]
    asks = [price for price, _ in book["asks"]]
    assert len(bids) == len(asks) == 5
    assert bids == sorted(bids, reverse=True)
    assert asks == sorted(asks)
    assert bids[0] < asks[0]
    assert bids[0] == last_price(ex)
    assert all(amount > 0 for _, amount in book["bids"] + book["asks"])
    assert book["symbol"] == SYMBOL
    assert book["timestamp"] is not None


def test_fetch_funding_rate_and_mark_price(sim: SimulatorThread, ex: Any) -> None:
    funding = ex.fetch_funding_rate(SYMBOL)
    mark = ex.fetch_mark_price(SYMBOL)

    price = last_price(ex)
    assert funding["symbol"] == SYMBOL
    assert funding["fundingRate"] == 0.0001
    assert funding["markPrice"] == funding["indexPrice"] == price
    next_funding = funding["nextFundingTimestamp"]
    assert next_funding % (8 * 3_600_000) == 0
    assert 0 < next_funding - now_ms(sim) <= 8 * 3_600_000
    assert mark["symbol"] == SYMBOL
    assert mark["markPrice"] == price


# ---------------------------------------------------------------- account settings
def test_fetch_balance_swap_when_flat_then_everything_is_free(ex: Any) -> None:
    balance = ex.fetch_balance({"type": "swap"})

    assert balance["USDT"] == {"free": 1000.0, "used": 0.0, "total": 1000.0}


def test_fetch_balance_swap_with_a_position_then_used_is_its_margin(ex: Any) -> None:
    order = ex.create_order(SYMBOL, "market", "buy", 0.01)

    balance = ex.fetch_balance({"type": "swap"})["USDT"]
    info = ex.fetch_balance({"type": "swap"})["info"]["data"][0]
    margin = order["average"] * 0.01 / 5
    assert balance["used"] == pytest.approx(margin, abs=1e-4)
    assert balance["free"] == float(info["availableMargin"])
    assert balance["total"] == pytest.approx(balance["free"] + balance["used"])
    assert balance["total"] == pytest.approx(1000 - order["fee"]["cost"], abs=1e-3)


def test_set_leverage_then_fetch_leverage_reads_it_back(ex: Any) -> None:
    answer = ex.set_leverage(7, SYMBOL, {"side": "BOTH"})

    assert answer["data"] == {"leverage": 7, "symbol": MARKET_ID}
    leverage = ex.fetch_leverage(SYMBOL)
    assert leverage["symbol"] == SYMBOL
    assert (leverage["longLeverage"], leverage["shortLeverage"]) == (7, 7)


def test_set_margin_mode_then_fetch_margin_mode_reads_it_back(ex: Any) -> None:
    assert ex.fetch_margin_mode(SYMBOL)["marginMode"] == "cross"

    ex.set_margin_mode("isolated", SYMBOL)
    assert ex.fetch_margin_mode(SYMBOL)["marginMode"] == "isolated"
    order = ex.create_order(SYMBOL, "market", "buy", 0.001)
    assert ex.fetch_positions([SYMBOL])[0]["marginMode"] == "isolated"

    ex.close_position(SYMBOL)
    assert ex.fetch_order(order["id"], SYMBOL)["status"] == "closed"
    ex.set_margin_mode("cross", SYMBOL)
    assert ex.fetch_margin_mode(SYMBOL)["marginMode"] == "cross"


def test_set_position_mode_then_fetch_position_mode_reads_hedged(ex: Any) -> None:
    assert ex.fetch_position_mode()["hedged"] is False

    ex.set_position_mode(True)
    assert ex.fetch_position_mode()["hedged"] is True

    ex.set_position_mode(False)
    assert ex.fetch_position_mode()["hedged"] is False


# ---------------------------------------------------------------- orders and positions
def open_protected_long(ex: Any, amount: float = 0.001) -> tuple[dict[str, Any], float, float]:
    """Buy at market with an attached stop-loss 3 % below and take-profit 5 % above."""
    price = last_price(ex)
    stop, target = tick(price * 0.97), tick(price * 1.05)
    order = ex.create_order(
        SYMBOL,
        "market",
        "buy",
        amount,
        None,
        {"stopLoss": {"triggerPrice": stop}, "takeProfit": {"triggerPrice": target}},
    )
    return order, stop, target


def test_market_entry_with_attached_sl_tp_then_position_and_stop_orders_appear(
    sim: SimulatorThread, ex: Any
) -> None:
    price = last_price(ex)
    order, stop, target = open_protected_long(ex)

    assert order["symbol"] == SYMBOL
    assert order["type"] == "market"
    assert order["side"] == "buy"
    assert order["status"] == "closed"
    assert order["amount"] == order["filled"] == 0.001
    assert order["remaining"] == 0
    assert order["average"] == price
    assert order["cost"] == pytest.approx(price * 0.001)
    assert order["fee"]["currency"] == "USDT"
    assert order["fee"]["cost"] == pytest.approx(price * 0.001 * 0.0005)
    assert order["stopLossPrice"] == stop
    assert order["takeProfitPrice"] == target
    assert order["timestamp"] == now_ms(sim)

    positions = ex.fetch_positions([SYMBOL])
    assert len(positions) == 1
    position = positions[0]
    assert position["symbol"] == SYMBOL
    assert position["side"] == "long"
    assert position["contracts"] == 0.001
    assert position["contractSize"] == 1
    assert position["entryPrice"] == price
    assert position["markPrice"] == price
    assert position["marginMode"] == "cross"
    assert position["leverage"] == 5
    assert position["notional"] == pytest.approx(price * 0.001)
    assert position["unrealizedPnl"] == 0

    protective = {o["info"]["type"]: o for o in ex.fetch_open_orders(SYMBOL)}
    assert set(protective) == {"STOP_MARKET", "TAKE_PROFIT_MARKET"}
    stop_order, target_order = protective["STOP_MARKET"], protective["TAKE_PROFIT_MARKET"]
    for child in (stop_order, target_order):
        assert child["symbol"] == SYMBOL
        assert child["type"] == "market"
        assert child["side"] == "sell"
        assert child["status"] == "open"
        assert child["amount"] == 0.001
        assert child["filled"] == 0
        assert child["reduceOnly"] is True
    assert stop_order["stopLossPrice"] == stop
    assert stop_order["takeProfitPrice"] is None
    assert target_order["takeProfitPrice"] == target
    assert target_order["stopLossPrice"] is None


def test_price_jump_through_stop_loss_then_position_closes_and_fills_are_listed(
    sim: SimulatorThread, ex: Any
) -> None:
    """A gap on the paused clock fires the stop at once, at the gap price."""
    entry_price = last_price(ex)
    start = now_ms(sim)
    entry, stop, _ = open_protected_long(ex)

    gap_price = float(admin(sim, "market/jump", {"percent": -5})["price"])

    assert gap_price < stop
    assert ex.fetch_positions([SYMBOL]) == []
    assert ex.fetch_open_orders(SYMBOL) == []
    closed = {o["info"]["type"]: o for o in ex.fetch_closed_orders(SYMBOL)}
    assert set(closed) == {"MARKET", "STOP_MARKET"}
    stop_fill = closed["STOP_MARKET"]
    assert stop_fill["status"] == "closed"
    assert stop_fill["side"] == "sell"
    assert stop_fill["filled"] == 0.001
    assert stop_fill["average"] == gap_price
    assert stop_fill["stopLossPrice"] == stop
    canceled = ex.fetch_canceled_orders(SYMBOL)
    assert [o["info"]["type"] for o in canceled] == ["TAKE_PROFIT_MARKET"]

    trades = ex.fetch_my_trades(SYMBOL, start - 1, None, {"until": now_ms(sim)})
    assert [(t["order"], t["side"]) for t in trades] == [
        (entry["id"], "buy"),
        (stop_fill["id"], "sell"),
    ]
    assert [t["amount"] for t in trades] == [0.001, 0.001]  # coins, not contracts
    assert [t["price"] for t in trades] == [entry_price, gap_price]
    assert trades[1]["cost"] == pytest.approx(gap_price * 0.001)
    assert trades[1]["fee"]["cost"] == pytest.approx(gap_price * 0.001 * 0.0005)
    assert stop_fill["fee"]["cost"] == trades[1]["fee"]["cost"]
    assert float(stop_fill["info"]["profit"]) == pytest.approx((gap_price - entry_price) * 0.001)
    # BingX's `filledTm` is UTC+8 wall time marked `Z` (§5.22): ccxt's times are 8 h late.
    assert trades[0]["timestamp"] == start + UTC8_MS
    balance = ex.fetch_balance({"type": "swap"})["USDT"]
    loss = (entry_price - gap_price) * 0.001 + entry["fee"]["cost"] + trades[1]["fee"]["cost"]
    assert balance["total"] == pytest.approx(1000 - loss, abs=1e-3)


def test_fetch_my_trades_without_since_then_ccxt_asks_for_its_own_last_30_days(
    sim: SimulatorThread, ex: Any
) -> None:
    """ccxt fills in `startTs`/`endTs` from its wall clock, not from its nonce.

    The simulator replays a past market, so its fills lie outside that window: callers
    pass `since` and `{'until': ...}` taken from the simulator's clock (as above).
    """
    ex.create_order(SYMBOL, "market", "buy", 0.001)

    assert ex.fetch_my_trades(SYMBOL) == []
    assert len(ex.fetch_my_trades(SYMBOL, now_ms(sim) - 1, None, {"until": now_ms(sim)})) == 1


def test_clock_step_into_a_falling_market_triggers_the_stop_loss(
    sim: SimulatorThread, ex: Any
) -> None:
    open_protected_long(ex)
    admin(sim, "market/jump", {"percent": -5})
    admin(sim, "clock/step", {"ms": 60_000})

    assert ex.fetch_positions([SYMBOL]) == []
    assert [o["info"]["type"] for o in ex.fetch_closed_orders(SYMBOL)] == [
        "MARKET",
        "STOP_MARKET",
    ]


def test_query_by_client_order_id_through_the_implicit_method(ex: Any) -> None:
    created = ex.create_order(SYMBOL, "market", "buy", 0.001, None, {"clientOrderId": "Entry-001"})
    assert created["clientOrderId"] == "entry-001"  # BingX lower-cases client ids

    answer = ex.swap_v2_private_get_trade_order({"symbol": MARKET_ID, "clientOrderId": "Entry-001"})
    order = ex.parse_order(answer["data"]["order"], ex.market(SYMBOL))

    assert order["id"] == created["id"]
    assert order["clientOrderId"] == "entry-001"
    assert order["symbol"] == SYMBOL
    assert order["status"] == "closed"
    assert order["filled"] == 0.001
    assert ex.fetch_order(created["id"], SYMBOL)["clientOrderId"] == "entry-001"
    # ccxt 4.5.90 sends `orderId=None` beside the client id (§5.16); the simulator ignores it.
    assert ex.fetch_order(None, SYMBOL, {"clientOrderId": "entry-001"})["id"] == created["id"]


def test_limit_order_rests_then_cancel_by_id_and_by_client_order_id(ex: Any) -> None:
    below = tick(last_price(ex) * 0.9)
    first = ex.create_order(SYMBOL, "limit", "buy", 0.001, below)
    second = ex.create_order(SYMBOL, "limit", "buy", 0.002, below, {"clientOrderId": "bot-2"})

    assert first["type"] == "limit"
    assert first["status"] == "open"
    assert first["price"] == below
    assert first["filled"] == 0
    assert first["remaining"] == 0.001
    assert {o["id"] for o in ex.fetch_open_orders(SYMBOL)} == {first["id"], second["id"]}

    canceled = ex.cancel_order(first["id"], SYMBOL)
    assert (canceled["id"], canceled["status"]) == (first["id"], "canceled")

    by_client = ex.cancel_order("", SYMBOL, {"clientOrderId": "bot-2"})
    assert (by_client["id"], by_client["status"]) == (second["id"], "canceled")
    assert by_client["clientOrderId"] == "bot-2"
    assert ex.fetch_open_orders(SYMBOL) == []
    assert ex.fetch_order(first["id"], SYMBOL)["status"] == "canceled"


def test_cancel_all_orders_cancels_every_open_limit(ex: Any) -> None:
    below = tick(last_price(ex) * 0.9)
    ids = {ex.create_order(SYMBOL, "limit", "buy", 0.001, below)["id"] for _ in range(3)}

    canceled = ex.cancel_all_orders(SYMBOL)

    assert {o["id"] for o in canceled} == ids
    assert {o["status"] for o in canceled} == {"canceled"}
    assert ex.fetch_open_orders(SYMBOL) == []
    assert ex.fetch_open_orders() == []  # without a symbol: defaultType swap


def test_hedge_mode_opens_both_sides_and_closes_with_hedged_reduce_only(ex: Any) -> None:
    ex.set_position_mode(True)
    ex.set_leverage(5, SYMBOL, {"side": "LONG"})
    ex.set_leverage(5, SYMBOL, {"side": "SHORT"})

    long_entry = ex.create_order(SYMBOL, "market", "buy", 0.002, None, {"hedged": True})
    short_entry = ex.create_order(SYMBOL, "market", "sell", 0.001, None, {"hedged": True})

    assert long_entry["info"]["positionSide"] == "LONG"
    assert short_entry["info"]["positionSide"] == "SHORT"
    sides = {p["side"]: p["contracts"] for p in ex.fetch_positions([SYMBOL])}
    assert sides == {"long": 0.002, "short": 0.001}

    exit_long = ex.create_order(
        SYMBOL, "market", "sell", 0.002, None, {"hedged": True, "reduceOnly": True}
    )
    assert exit_long["info"]["positionSide"] == "LONG"
    assert exit_long["status"] == "closed"
    positions = ex.fetch_positions([SYMBOL])
    assert [(p["side"], p["contracts"]) for p in positions] == [("short", 0.001)]

    exit_short = ex.create_order(
        SYMBOL, "market", "buy", 0.001, None, {"hedged": True, "reduceOnly": True}
    )
    assert exit_short["info"]["positionSide"] == "SHORT"
    assert ex.fetch_positions([SYMBOL]) == []
    ex.set_position_mode(False)
    assert ex.fetch_position_mode()["hedged"] is False


def test_close_position_closes_both_sides_of_the_symbol(ex: Any) -> None:
    ex.set_position_mode(True)
    ex.create_order(SYMBOL, "market", "buy", 0.002, None, {"hedged": True})
    ex.create_order(SYMBOL, "market", "sell", 0.001, None, {"hedged": True})

    result = ex.close_position(SYMBOL)

    assert result["symbol"] == SYMBOL
    assert len(result["info"]["success"]) == 2
    assert ex.fetch_positions([SYMBOL]) == []
    closing = [ex.fetch_order(order_id, SYMBOL) for order_id in result["info"]["success"]]
    assert {(o["side"], o["amount"], o["status"]) for o in closing} == {
        ("sell", 0.002, "closed"),
        ("buy", 0.001, "closed"),
    }


def test_close_all_positions_returns_the_close_order_ids(ex: Any) -> None:
    ex.create_order(SYMBOL, "market", "sell", 0.003)
    assert [p["side"] for p in ex.fetch_positions([SYMBOL])] == ["short"]

    closed = ex.close_all_positions()

    assert len(closed) == 1
    close_order = ex.fetch_order(closed[0]["id"], SYMBOL)
    assert (close_order["side"], close_order["amount"], close_order["reduceOnly"]) == (
        "buy",
        0.003,
        True,
    )
    assert ex.fetch_positions([SYMBOL]) == []


# ---------------------------------------------------------------- errors
def test_wrong_secret_raises_authentication_error(sim: SimulatorThread) -> None:
    exchange = bingx(sim, secret="not-the-secret")
    exchange.load_markets()  # public: no signature needed

    with pytest.raises(ccxt.AuthenticationError, match="100001"):
        exchange.fetch_balance({"type": "swap"})
    exchange.close()


def test_order_beyond_the_margin_raises_insufficient_funds(ex: Any) -> None:
    with pytest.raises(ccxt.InsufficientFunds, match="101204"):
        ex.create_order(SYMBOL, "market", "buy", 1)


def test_unknown_order_raises_order_not_found(ex: Any) -> None:
    with pytest.raises(ccxt.OrderNotFound, match="80016"):
        ex.fetch_order("123456", SYMBOL)
    with pytest.raises(ccxt.OrderNotFound, match="80016"):
        ex.cancel_order("123456", SYMBOL)


def test_repeated_client_order_id_raises_duplicate_order_id(ex: Any) -> None:
    below = tick(last_price(ex) * 0.9)
    ex.create_order(SYMBOL, "limit", "buy", 0.001, below, {"clientOrderId": "once"})

    with pytest.raises(ccxt.DuplicateOrderId, match="101481"):
        ex.create_order(SYMBOL, "limit", "buy", 0.001, below, {"clientOrderId": "ONCE"})


def test_reduce_only_without_a_position_raises_invalid_order(ex: Any) -> None:
    with pytest.raises(ccxt.InvalidOrder, match="101205"):
        ex.create_order(SYMBOL, "market", "sell", 0.001, None, {"reduceOnly": True})


def test_position_side_misuse_raises_bad_request(ex: Any) -> None:
    with pytest.raises(ccxt.BadRequest, match="109400"):
        ex.create_order(SYMBOL, "market", "buy", 0.001, None, {"positionSide": "LONG"})


# ---------------------------------------------------------------- async client
def test_async_client_loads_markets_concurrently_and_trades(sim: SimulatorThread) -> None:
    async def scenario() -> tuple[Any, ...]:
        exchange = configure(
            ccxt_async.bingx(
                {
                    "apiKey": DEFAULT_API_KEY,
                    "secret": DEFAULT_API_SECRET,
                    "enableRateLimit": False,
                    "options": {"defaultType": "swap"},
                }
            ),
            sim,
            sandbox=False,  # the async client requests the four market-loading calls at once
        )
        try:
            markets = await exchange.load_markets()
            order = await exchange.create_order(SYMBOL, "market", "buy", 0.002)
            positions, balance, server_time = await asyncio.gather(
                exchange.fetch_positions([SYMBOL]),
                exchange.fetch_balance({"type": "swap"}),
                exchange.fetch_time(),
            )
            return markets, order, positions, balance, server_time
        finally:
            await exchange.close()

    markets, order, positions, balance, server_time = asyncio.run(scenario())

    assert_btc_swap_market(markets[SYMBOL])
    assert (order["status"], order["filled"]) == ("closed", 0.002)
    assert [(p["side"], p["contracts"], p["entryPrice"]) for p in positions] == [
        ("long", 0.002, order["average"])
    ]
    assert balance["USDT"]["used"] == pytest.approx(order["average"] * 0.002 / 5, abs=1e-4)
    assert server_time == now_ms(sim)
