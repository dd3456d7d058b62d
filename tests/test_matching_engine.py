"""The matching engine against the fill model of shared/spec/strategy-adx-v2.md.

Every test drives a real `MatchingEngine` the way the backtester does: market orders fill
at the next candle's open (`fill_market_orders`), then the position's stop-loss and
take-profit are placed, then resting orders meet the candle (`match_bar`).

Unless a test says otherwise: BTC-USDT rules (tick 0.1, step 0.0001, min 2 USDT), taker fee
0.05 %, maker fee 0.02 %, slippage 2 bps, 1000 USDT at 5x, one-way mode.  A long of
0.01 BTC entered at an open of 50000 fills at 50000 * 1.0002 = 50010.0 and pays
50010.0 * 0.01 * 0.0005 = 0.25005 fee (balance 999.74995); a short fills at
50000 * 0.9998 = 49990.0 and pays 0.24995 (balance 999.75005).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adxbot.domain.candles import Bar
from adxbot.domain.enums import (
    Direction,
    Liquidity,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionMode,
    PositionSide,
    TimeInForce,
)
from adxbot.domain.ids import ClientOrderId, OrderId
from adxbot.domain.instrument import BINGX_CONTRACTS, Instrument
from adxbot.engine.fees import FeeSchedule
from adxbot.engine.matching import MatchingEngine, TriggerBounds
from adxbot.engine.orders import Fill, FundingPayment, Order, OrderRequest
from adxbot.engine.positions import Position
from adxbot.errors import (
    BelowMinimum,
    BelowMinimumNotional,
    BelowMinimumQuantity,
    InsufficientMargin,
    InvalidOrder,
    NoPositionToReduce,
    PostOnlyWouldTake,
    TriggerWouldFireImmediately,
)

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
LONG, SHORT = Direction.LONG, Direction.SHORT
BTC = BINGX_CONTRACTS["BTC-USDT"]
FEES = FeeSchedule(taker_rate=D("0.0005"), maker_rate=D("0.0002"), slippage_bps=D("2"))
QTY = D("0.01")
BALANCE = D("1000")
OPEN_PRICE = D("50000")
T_SUBMIT = 1_735_689_000_000  # the decision candle's time
T_ENTRY = T_SUBMIT + 300_000  # next candle: the market order fills at its open
T_BAR = T_ENTRY + 300_000  # the candle after

LONG_ENTRY = D("50010.0")
SHORT_ENTRY = D("49990.0")
BALANCE_AFTER_LONG_ENTRY = D("999.74995")
BALANCE_AFTER_SHORT_ENTRY = D("999.75005")
# Protective levels used throughout: 2 % / 4 % from 50000, on the tick grid.
LONG_SL, LONG_TP = D("49000"), D("52000")
SHORT_SL, SHORT_TP = D("51000"), D("48000")


# ------------------------------------------------------------------ helpers


def new_engine(
    *,
    balance: Decimal = BALANCE,
    leverage: int = 5,
    mode: PositionMode = PositionMode.ONE_WAY,
    instrument: Instrument = BTC,
) -> MatchingEngine:
    return MatchingEngine(instrument, FEES, balance=balance, leverage=leverage, position_mode=mode)


Px = str | int | Decimal


def bar(open_: Px, high: Px, low: Px, close: Px, t: int = T_BAR) -> Bar:
    return Bar(open_time_ms=t, open=D(open_), high=D(high), low=D(low), close=D(close))


def market(
    side: OrderSide,
    quantity: Decimal | None = QTY,
    *,
    position_side: PositionSide = PositionSide.BOTH,
    reduce_only: bool = False,
    close_position: bool = False,
) -> OrderRequest:
    return OrderRequest(
        side,
        OrderType.MARKET,
        quantity,
        position_side=position_side,
        reduce_only=reduce_only,
        close_position=close_position,
    )


def enter(
    engine: MatchingEngine,
    direction: Direction,
    quantity: Decimal = QTY,
    at: Decimal = OPEN_PRICE,
    position_side: PositionSide = PositionSide.BOTH,
) -> Fill:
    """Submit a market entry on the decision candle and fill it at the next open."""
    engine.submit(market(direction.entry_side, quantity, position_side=position_side), T_SUBMIT)
    [fill] = engine.fill_market_orders(at, T_ENTRY)
    return fill


def stop_market(side: OrderSide, trigger: Decimal) -> OrderRequest:
    return OrderRequest(
        side, OrderType.STOP_MARKET, None, trigger_price=trigger, close_position=True
    )


def take_profit_market(side: OrderSide, trigger: Decimal) -> OrderRequest:
    return OrderRequest(
        side, OrderType.TAKE_PROFIT_MARKET, None, trigger_price=trigger, close_position=True
    )


def limit(
    side: OrderSide, price: Decimal, quantity: Decimal = QTY, *, reduce_only: bool = False
) -> OrderRequest:
    return OrderRequest(side, OrderType.LIMIT, quantity, price=price, reduce_only=reduce_only)


def protect(
    engine: MatchingEngine, direction: Direction, *, limit_take_profit: bool = False
) -> tuple[Order, Order]:
    """Place the position's SL and TP (close-position trigger orders, or a reduce-only limit)."""
    side = direction.exit_side
    sl, tp = (LONG_SL, LONG_TP) if direction is LONG else (SHORT_SL, SHORT_TP)
    stop = engine.submit(stop_market(side, sl), T_ENTRY)
    take = engine.submit(
        limit(side, tp, reduce_only=True) if limit_take_profit else take_profit_market(side, tp),
        T_ENTRY,
    )
    return stop, take


def protected(
    direction: Direction, *, limit_take_profit: bool = False
) -> tuple[MatchingEngine, Order, Order]:
    engine = new_engine()
    enter(engine, direction)
    stop, take = protect(engine, direction, limit_take_profit=limit_take_profit)
    return engine, stop, take


# ------------------------------------------------------------------ market orders


def test_submit_market_order_then_waits_for_the_next_price_without_filling() -> None:
    engine = new_engine()
    order = engine.submit(market(BUY), T_SUBMIT)
    assert order.status is OrderStatus.NEW
    assert engine.has_waiting_market_orders()
    assert engine.open_orders() == [order]
    assert engine.position() is None
    assert engine.balance == D("1000")


def test_fill_market_orders_when_buy_then_fills_at_next_price_plus_slippage_with_taker_fee() -> (
    None
):
    engine = new_engine()
    order = engine.submit(market(BUY), T_SUBMIT)
    fills = engine.fill_market_orders(D("50000"), T_ENTRY)
    # 50000 * (1 + 0.0002) = 50010.0; fee 50010.0 * 0.01 * 0.0005 = 0.25005
    assert fills == [
        Fill(
            order_id=order.order_id,
            client_order_id=None,
            order_type=OrderType.MARKET,
            side=BUY,
            position_side=PositionSide.BOTH,
            quantity=QTY,
            price=D("50010.0"),
            fee=D("0.25005"),
            liquidity=Liquidity.TAKER,
            realized_pnl=D("0"),
            time_ms=T_ENTRY,
        )
    ]
    assert engine.position() == Position(PositionSide.BOTH, LONG, QTY, D("50010.0"), T_ENTRY)
    assert engine.balance == D("999.74995")  # 1000 - 0.25005
    assert order.status is OrderStatus.FILLED
    assert order.filled_quantity == QTY
    assert order.average_price == D("50010.0")
    assert not engine.has_waiting_market_orders()


def test_fill_market_orders_when_sell_then_fills_at_next_price_minus_slippage_with_taker_fee() -> (
    None
):
    engine = new_engine()
    fill = enter(engine, SHORT)
    # 50000 * (1 - 0.0002) = 49990.0; fee 49990.0 * 0.01 * 0.0005 = 0.24995
    assert (fill.price, fill.fee, fill.liquidity) == (D("49990.0"), D("0.24995"), Liquidity.TAKER)
    assert engine.position() == Position(PositionSide.BOTH, SHORT, QTY, D("49990.0"), T_ENTRY)
    assert engine.balance == BALANCE_AFTER_SHORT_ENTRY


@pytest.mark.parametrize(
    ("direction", "expected"),
    [
        (LONG, D("50010.4")),  # 50000.3 * 1.0002 = 50010.30006 -> up (against the buyer)
        (SHORT, D("49990.2")),  # 50000.3 * 0.9998 = 49990.29994 -> down (against the seller)
    ],
)
def test_fill_market_orders_when_slipped_price_is_off_tick_then_rounds_against_the_taker(
    direction: Direction, expected: Decimal
) -> None:
    assert enter(new_engine(), direction, at=D("50000.3")).price == expected


def test_fill_market_orders_when_client_order_id_given_then_fill_carries_it() -> None:
    engine = new_engine()
    request = OrderRequest(BUY, OrderType.MARKET, QTY, client_order_id=ClientOrderId("bt-1-entry"))
    engine.submit(request, T_SUBMIT)
    [fill] = engine.fill_market_orders(D("50000"), T_ENTRY)
    assert fill.client_order_id == "bt-1-entry"


def test_fill_market_orders_when_several_wait_then_fill_oldest_first_at_the_same_price() -> None:
    # the backtester's reversal: close the long, then open a short, both at the next open
    engine = new_engine()
    enter(engine, LONG)
    close = engine.submit(market(SELL, None, close_position=True), T_BAR)
    entry = engine.submit(market(SELL), T_BAR)
    fills = engine.fill_market_orders(D("51000"), T_BAR + 300_000)
    # both sell at 51000 * 0.9998 = 50989.8; the close realises (50989.8 - 50010.0) * 0.01
    assert [(f.order_id, f.price, f.realized_pnl) for f in fills] == [
        (close.order_id, D("50989.8"), D("9.798")),
        (entry.order_id, D("50989.8"), D("0")),
    ]
    assert engine.position() == Position(
        PositionSide.BOTH, SHORT, QTY, D("50989.8"), T_BAR + 300_000
    )


# ------------------------------------------------------------------ SL / TP of a long


def test_match_bar_when_candle_opens_below_long_stop_then_fills_at_open_with_slippage() -> None:
    engine, stop, take = protected(LONG)
    fills = engine.match_bar(bar(48500, 48700, 48000, 48200))
    # gap: 48500 * 0.9998 = 48490.3; P&L (48490.3 - 50010.0) * 0.01 = -15.197
    # fee 48490.3 * 0.01 * 0.0005 = 0.2424515
    assert [(f.order_id, f.price, f.realized_pnl, f.fee) for f in fills] == [
        (stop.order_id, D("48490.3"), D("-15.197"), D("0.2424515"))
    ]
    assert fills[0].closed_position
    assert fills[0].time_ms == T_BAR
    assert engine.position() is None
    assert engine.balance == D("984.3104985")  # 999.74995 - 15.197 - 0.2424515
    assert take.status is OrderStatus.CANCELED


def test_match_bar_when_range_touches_long_stop_then_fills_at_stop_with_slippage() -> None:
    engine, stop, _ = protected(LONG)
    [fill] = engine.match_bar(bar(49500, 49600, 48900, 49100))
    # 49000 * 0.9998 = 48990.2; P&L (48990.2 - 50010.0) * 0.01 = -10.198
    # fee 48990.2 * 0.01 * 0.0005 = 0.244951
    assert (fill.order_id, fill.price, fill.realized_pnl, fill.fee) == (
        stop.order_id,
        D("48990.2"),
        D("-10.198"),
        D("0.244951"),
    )
    assert fill.liquidity is Liquidity.TAKER
    assert engine.balance == D("989.306999")  # 999.74995 - 10.198 - 0.244951


def test_match_bar_when_range_touches_long_stop_and_take_profit_then_stop_fills() -> None:
    engine, stop, take = protected(LONG)
    [fill] = engine.match_bar(bar(50500, 52100, 48900, 51000))
    assert (fill.order_id, fill.price) == (stop.order_id, D("48990.2"))  # pessimistic
    assert take.status is OrderStatus.CANCELED


def test_match_bar_when_candle_opens_above_long_take_profit_then_fills_at_open() -> None:
    engine, _, take = protected(LONG)
    [fill] = engine.match_bar(bar(52500, 52600, 52400, 52550))
    # 52500 * 0.9998 = 52489.5; P&L (52489.5 - 50010.0) * 0.01 = 24.795
    # fee 52489.5 * 0.01 * 0.0005 = 0.2624475
    assert (fill.order_id, fill.price, fill.realized_pnl, fill.fee) == (
        take.order_id,
        D("52489.5"),
        D("24.795"),
        D("0.2624475"),
    )
    assert engine.balance == D("1024.2825025")  # 999.74995 + 24.795 - 0.2624475


def test_match_bar_when_take_profit_gaps_and_range_falls_to_stop_then_take_profit_fills() -> None:
    # the open decides first: a gap beyond the TP fills the TP even if the candle then
    # falls through the stop
    engine, stop, take = protected(LONG)
    [fill] = engine.match_bar(bar(52500, 52600, 48000, 48500))
    assert (fill.order_id, fill.price) == (take.order_id, D("52489.5"))
    assert stop.status is OrderStatus.CANCELED


def test_match_bar_when_range_touches_long_take_profit_then_fills_at_it_with_slippage() -> None:
    engine, stop, take = protected(LONG)
    [fill] = engine.match_bar(bar(51000, 52100, 50900, 51500))
    # 52000 * 0.9998 = 51989.6; P&L (51989.6 - 50010.0) * 0.01 = 19.796
    # fee 51989.6 * 0.01 * 0.0005 = 0.259948
    assert (fill.order_id, fill.price, fill.realized_pnl, fill.fee, fill.liquidity) == (
        take.order_id,
        D("51989.6"),
        D("19.796"),
        D("0.259948"),
        Liquidity.TAKER,
    )
    assert engine.balance == D("1019.286002")  # 999.74995 + 19.796 - 0.259948
    assert stop.status is OrderStatus.CANCELED


def test_match_bar_when_range_reaches_neither_level_then_nothing_fills() -> None:
    engine, stop, take = protected(LONG)
    assert engine.match_bar(bar(50000, "51999.9", "49000.1", 50500)) == []
    assert stop.is_open
    assert take.is_open
    assert engine.position() is not None
    assert engine.last_price == D("50500")  # the candle's close


def test_match_bar_when_range_touches_the_stop_exactly_then_it_fills() -> None:
    engine, stop, _ = protected(LONG)
    [fill] = engine.match_bar(bar(50000, 50100, 49000, 49500))
    assert fill.order_id == stop.order_id


def test_match_bar_on_the_entry_candle_when_range_touches_the_stop_then_it_fills() -> None:
    # the backtester's order: fill at the open, place SL/TP, then match the same candle
    engine = new_engine()
    engine.submit(market(BUY), T_SUBMIT)
    engine.fill_market_orders(D("50000"), T_ENTRY)
    stop, _ = protect(engine, LONG)
    [fill] = engine.match_bar(bar(50000, 50100, 48900, 49200, t=T_ENTRY))
    assert (fill.order_id, fill.price, fill.time_ms) == (stop.order_id, D("48990.2"), T_ENTRY)


def test_match_bar_when_stop_trigger_slips_off_tick_then_rounds_against_the_taker() -> None:
    engine = new_engine()
    enter(engine, LONG)
    stop = engine.submit(stop_market(SELL, D("49000.1")), T_ENTRY)
    [fill] = engine.match_bar(bar(49500, 49600, 48900, 49100))
    # 49000.1 * 0.9998 = 48990.29998 -> down to 48990.2
    assert (fill.order_id, fill.price) == (stop.order_id, D("48990.2"))


# ------------------------------------------------------------------ take_profit_order: limit


def test_match_bar_when_range_touches_limit_take_profit_then_fills_at_exact_price_as_maker() -> (
    None
):
    engine, stop, take = protected(LONG, limit_take_profit=True)
    [fill] = engine.match_bar(bar(51000, 52100, 50900, 51500))
    # no slippage: 52000; maker fee 52000 * 0.01 * 0.0002 = 0.104
    # P&L (52000 - 50010.0) * 0.01 = 19.9
    assert (fill.order_id, fill.price, fill.fee, fill.liquidity, fill.realized_pnl) == (
        take.order_id,
        D("52000"),
        D("0.104"),
        Liquidity.MAKER,
        D("19.9"),
    )
    assert engine.balance == D("1019.54595")  # 999.74995 + 19.9 - 0.104
    assert stop.status is OrderStatus.CANCELED
    assert engine.position() is None


def test_match_bar_when_open_gaps_beyond_limit_take_profit_then_fills_at_its_price() -> None:
    engine, _, take = protected(LONG, limit_take_profit=True)
    [fill] = engine.match_bar(bar(52500, 52600, 52400, 52550))
    assert (fill.order_id, fill.price, fill.liquidity) == (
        take.order_id,
        D("52000"),
        Liquidity.MAKER,
    )


def test_match_bar_when_range_touches_stop_and_limit_take_profit_then_stop_fills() -> None:
    engine, stop, take = protected(LONG, limit_take_profit=True)
    [fill] = engine.match_bar(bar(50500, 52100, 48900, 51000))
    assert (fill.order_id, fill.price) == (stop.order_id, D("48990.2"))
    assert take.status is OrderStatus.CANCELED


def test_match_bar_when_open_gaps_past_limit_take_profit_and_range_reaches_stop_then_tp_fills() -> (
    None
):
    engine, stop, take = protected(LONG, limit_take_profit=True)
    [fill] = engine.match_bar(bar(52500, 52600, 48000, 48500))
    assert (fill.order_id, fill.price, fill.liquidity) == (
        take.order_id,
        D("52000"),
        Liquidity.MAKER,
    )
    assert stop.status is OrderStatus.CANCELED


# ------------------------------------------------------------------ shorts, mirrored


@pytest.mark.parametrize(
    ("candle", "which", "price", "pnl", "fee"),
    [
        # gap above the stop: 51500 * 1.0002 = 51510.3; (49990.0 - 51510.3) * 0.01 = -15.203
        # fee 51510.3 * 0.01 * 0.0005 = 0.2575515
        (bar(51500, 51600, 51400, 51450), "sl", "51510.3", "-15.203", "0.2575515"),
        # range to the stop: 51000 * 1.0002 = 51010.2; (49990.0 - 51010.2) * 0.01 = -10.202
        (bar(50500, 51100, 50400, 50800), "sl", "51010.2", "-10.202", "0.255051"),
        # range touches both: the stop (pessimistic)
        (bar(49500, 51100, 47900, 50000), "sl", "51010.2", "-10.202", "0.255051"),
        # gap below the TP: 47500 * 1.0002 = 47509.5; (49990.0 - 47509.5) * 0.01 = 24.805
        (bar(47500, 47600, 47400, 47550), "tp", "47509.5", "24.805", "0.2375475"),
        # range to the TP: 48000 * 1.0002 = 48009.6; (49990.0 - 48009.6) * 0.01 = 19.804
        (bar(49000, 49100, 47900, 48500), "tp", "48009.6", "19.804", "0.240048"),
    ],
)
def test_match_bar_when_short_then_mirrors_the_long_rules(
    candle: Bar, which: str, price: str, pnl: str, fee: str
) -> None:
    engine, stop, take = protected(SHORT)
    [fill] = engine.match_bar(candle)
    filled, cancelled = (stop, take) if which == "sl" else (take, stop)
    assert (fill.order_id, fill.side, fill.price, fill.realized_pnl, fill.fee) == (
        filled.order_id,
        BUY,
        D(price),
        D(pnl),
        D(fee),
    )
    assert engine.balance == BALANCE_AFTER_SHORT_ENTRY + D(pnl) - D(fee)
    assert engine.position() is None
    assert cancelled.status is OrderStatus.CANCELED


def test_match_bar_when_short_limit_take_profit_touched_then_fills_at_exact_price_as_maker() -> (
    None
):
    engine, _, take = protected(SHORT, limit_take_profit=True)
    [fill] = engine.match_bar(bar(49000, 49100, 47900, 48500))
    # 48000 exactly; fee 48000 * 0.01 * 0.0002 = 0.096; P&L (49990.0 - 48000) * 0.01 = 19.9
    assert (fill.order_id, fill.price, fill.fee, fill.realized_pnl) == (
        take.order_id,
        D("48000"),
        D("0.096"),
        D("19.9"),
    )
    assert engine.balance == D("1019.55405")  # 999.75005 + 19.9 - 0.096


@st.composite
def candles_around(draw: st.DrawFn) -> Bar:
    """Candles from 47000 to 54000 in whole dollars: gaps, touches and misses of 49k-52k."""
    open_, close = (draw(st.integers(47_000, 54_000)) for _ in range(2))
    high = max(open_, close) + draw(st.integers(0, 3_000))
    low = min(open_, close) - draw(st.integers(0, 3_000))
    return bar(open_, high, low, close)


def expected_exit_basis(direction: Direction, candle: Bar) -> tuple[str, Decimal] | None:
    """The spec's rule written out: gap at the open, else the stop, else the take-profit."""
    sl, tp = (LONG_SL, LONG_TP) if direction is LONG else (SHORT_SL, SHORT_TP)
    sign = direction.sign
    if (candle.open - sl) * sign <= 0 or (candle.open - tp) * sign >= 0:
        return ("sl" if (candle.open - sl) * sign <= 0 else "tp", candle.open)
    adverse = candle.low if direction is LONG else candle.high
    favourable = candle.high if direction is LONG else candle.low
    if (adverse - sl) * sign <= 0:
        return "sl", sl
    if (favourable - tp) * sign >= 0:
        return "tp", tp
    return None


@given(direction=st.sampled_from(Direction), candle=candles_around())
def test_match_bar_property_then_exit_follows_the_spec_rule_for_any_candle(
    direction: Direction, candle: Bar
) -> None:
    engine, stop, take = protected(direction)
    entry = LONG_ENTRY if direction is LONG else SHORT_ENTRY
    balance = engine.balance
    fills = engine.match_bar(candle)
    expected = expected_exit_basis(direction, candle)
    if expected is None:
        assert fills == []
        assert stop.is_open
        assert take.is_open
        return
    which, basis = expected
    exit_side = direction.exit_side
    price = BTC.taker_price(basis * (1 - direction.sign * D("0.0002")), exit_side)
    [fill] = fills
    assert fill.order_id == (stop if which == "sl" else take).order_id
    assert fill.price == price
    assert fill.realized_pnl == (price - entry) * QTY * direction.sign
    assert fill.fee == price * QTY * D("0.0005")
    assert engine.balance == balance + fill.realized_pnl - fill.fee
    assert engine.position() is None
    assert engine.open_orders() == []


# ------------------------------------------------------------------ OCO and reduce-only


def test_fill_when_stop_closes_the_position_then_take_profit_is_cancelled_with_reason() -> None:
    engine, _, take = protected(LONG)
    engine.match_bar(bar(49500, 49600, 48900, 49100))
    assert take.status is OrderStatus.CANCELED
    assert take.cancel_reason == "position closed"
    assert take.updated_ms == T_BAR
    assert engine.open_orders() == []


def test_fill_when_market_order_closes_the_position_then_sl_and_tp_are_cancelled() -> None:
    engine, stop, take = protected(LONG)
    engine.submit(market(SELL, None, close_position=True), T_BAR)
    engine.fill_market_orders(D("50500"), T_BAR + 300_000)
    assert engine.position() is None
    assert (stop.status, take.status) == (OrderStatus.CANCELED, OrderStatus.CANCELED)
    # a later candle through the old stop finds nothing to execute and opens nothing
    assert engine.match_bar(bar(49500, 49600, 48000, 48100, t=T_BAR + 600_000)) == []
    assert engine.position() is None


def test_fill_when_position_partly_reduced_then_its_orders_stay_open() -> None:
    engine = new_engine()
    enter(engine, LONG, quantity=D("0.02"))
    stop = engine.submit(stop_market(SELL, LONG_SL), T_ENTRY)
    engine.submit(market(SELL, QTY, reduce_only=True), T_BAR)
    [fill] = engine.fill_market_orders(D("51000"), T_BAR + 300_000)
    # 51000 * 0.9998 = 50989.8; P&L (50989.8 - 50010.0) * 0.01 = 9.798; entry kept
    assert fill.realized_pnl == D("9.798")
    assert not fill.closed_position
    assert engine.position() == Position(PositionSide.BOTH, LONG, QTY, LONG_ENTRY, T_ENTRY)
    assert stop.is_open


def test_submit_reduce_only_when_flat_then_refused() -> None:
    engine = new_engine()
    with pytest.raises(NoPositionToReduce, match="no both position for this order to reduce"):
        engine.submit(market(SELL, reduce_only=True), T_SUBMIT)
    with pytest.raises(NoPositionToReduce, match="no both position"):
        engine.submit(stop_market(SELL, LONG_SL), T_SUBMIT)


def test_submit_reduce_only_when_it_would_grow_the_position_then_refused() -> None:
    engine = new_engine()
    enter(engine, LONG)
    with pytest.raises(NoPositionToReduce, match="no both position for this order to reduce"):
        engine.submit(market(BUY, reduce_only=True), T_BAR)


def test_fill_reduce_only_when_larger_than_the_position_then_only_closes_it() -> None:
    engine = new_engine()
    enter(engine, LONG)
    engine.submit(market(SELL, D("0.03"), reduce_only=True), T_BAR)
    [fill] = engine.fill_market_orders(D("51000"), T_BAR + 300_000)
    assert fill.quantity == QTY  # capped at the 0.01 held, never flips to short
    assert fill.closed_position
    assert engine.position() is None


def test_fill_reduce_only_when_position_already_closed_by_an_earlier_fill_then_opens_nothing() -> (
    None
):
    engine = new_engine()
    enter(engine, LONG)
    first = engine.submit(market(SELL, None, close_position=True), T_BAR)
    second = engine.submit(market(SELL, QTY, reduce_only=True), T_BAR)
    fills = engine.fill_market_orders(D("51000"), T_BAR + 300_000)
    assert [f.order_id for f in fills] == [first.order_id]
    assert second.status is OrderStatus.CANCELED
    assert engine.position() is None


def test_fill_close_position_when_position_grew_then_closes_the_whole_of_it() -> None:
    engine = new_engine()
    enter(engine, LONG)
    engine.submit(market(BUY), T_BAR)
    engine.fill_market_orders(D("51000"), T_BAR)
    stop = engine.submit(stop_market(SELL, LONG_SL), T_BAR)
    [fill] = engine.match_bar(bar(49500, 49600, 48900, 49100, t=T_BAR + 300_000))
    assert (fill.order_id, fill.quantity) == (stop.order_id, D("0.02"))


# ------------------------------------------------------------------ P&L, flips


def test_fill_when_adding_to_a_long_then_entry_is_volume_weighted_and_pnl_exact() -> None:
    engine = new_engine()
    enter(engine, LONG)  # 0.01 at 50010.0, fee 0.25005
    engine.submit(market(BUY), T_BAR)
    [add] = engine.fill_market_orders(D("51000"), T_BAR)
    # 51000 * 1.0002 = 51010.2, fee 0.255051; average (50010.0 + 51010.2) / 2 = 50510.1
    assert add.fee == D("0.255051")
    position = engine.position()
    assert position is not None
    assert (position.quantity, position.entry_price) == (D("0.02"), D("50510.1"))
    engine.submit(market(SELL, None, close_position=True), T_BAR)
    [close] = engine.fill_market_orders(D("52000"), T_BAR + 300_000)
    # 52000 * 0.9998 = 51989.6; P&L (51989.6 - 50510.1) * 0.02 = 29.59
    # fee 51989.6 * 0.02 * 0.0005 = 0.519896
    assert (close.realized_pnl, close.fee) == (D("29.59"), D("0.519896"))
    # 1000 - 0.25005 - 0.255051 + 29.59 - 0.519896 = 1028.565003
    assert engine.balance == D("1028.565003")


def test_fill_when_one_way_sell_exceeds_the_long_then_flips_to_a_short_of_the_excess() -> None:
    engine = new_engine()
    enter(engine, LONG)
    engine.submit(market(SELL, D("0.03")), T_BAR)
    [fill] = engine.fill_market_orders(D("51000"), T_BAR + 300_000)
    # 51000 * 0.9998 = 50989.8; P&L on the 0.01 closed: (50989.8 - 50010.0) * 0.01 = 9.798
    # fee on all 0.03: 50989.8 * 0.03 * 0.0005 = 0.764847
    assert (fill.quantity, fill.realized_pnl, fill.fee) == (D("0.03"), D("9.798"), D("0.764847"))
    assert fill.closed_position
    assert engine.position() == Position(
        PositionSide.BOTH, SHORT, D("0.02"), D("50989.8"), T_BAR + 300_000
    )
    assert engine.balance == D("1008.783103")  # 999.74995 + 9.798 - 0.764847


def test_fill_when_one_way_sell_equals_the_long_then_flat_not_short() -> None:
    engine = new_engine()
    enter(engine, LONG)
    engine.submit(market(SELL), T_BAR)
    [fill] = engine.fill_market_orders(D("51000"), T_BAR + 300_000)
    assert fill.closed_position
    assert engine.positions() == []


def test_fill_when_one_way_flip_closes_the_long_then_its_close_orders_are_cancelled() -> None:
    engine, stop, take = protected(LONG)
    engine.submit(market(SELL, D("0.02")), T_BAR)
    [fill] = engine.fill_market_orders(D("50000"), T_BAR + 300_000)
    assert fill.closed_position
    assert (stop.status, take.status) == (OrderStatus.CANCELED, OrderStatus.CANCELED)


@given(
    trades=st.lists(
        st.tuples(
            st.sampled_from(OrderSide),
            st.integers(min_value=1, max_value=300),  # quantity in steps
            st.integers(min_value=400_000, max_value=600_000),  # price in ticks
        ),
        min_size=1,
        max_size=12,
    ),
    close_ticks=st.integers(min_value=400_000, max_value=600_000),
)
def test_fill_property_when_trades_end_flat_then_realized_pnl_equals_the_cash_flow(
    trades: list[tuple[OrderSide, int, int]], close_ticks: int
) -> None:
    # however a one-way position is grown, reduced and flipped, once it is flat the gross
    # P&L realised equals what the sells brought in minus what the buys cost
    engine = new_engine(balance=D("1000000"), leverage=100)
    fills: list[Fill] = []
    for n, (side, steps, ticks) in enumerate(trades):
        engine.submit(market(side, steps * BTC.quantity_step), n)
        fills += engine.fill_market_orders(ticks * BTC.price_tick, n)
    left = engine.position()
    if left is not None:
        engine.submit(market(left.direction.exit_side, None, close_position=True), 99)
        fills += engine.fill_market_orders(close_ticks * BTC.price_tick, 99)
    assert engine.position() is None
    cash = sum((f.quantity * f.price * (1 if f.side is SELL else -1) for f in fills), D(0))
    realized = sum((f.realized_pnl for f in fills), D(0))
    assert abs(realized - cash) < D("1e-12")  # averaging divides: allow Decimal's last digit
    fees = sum((f.fee for f in fills), D(0))
    assert abs(engine.balance - (D("1000000") + cash - fees)) < D("1e-12")


# ------------------------------------------------------------------ hedge mode


def test_submit_in_hedge_mode_when_position_side_is_both_then_refused() -> None:
    engine = new_engine(mode=PositionMode.HEDGE)
    with pytest.raises(InvalidOrder, match="hedge mode needs position side LONG or SHORT"):
        engine.submit(market(BUY), T_SUBMIT)


def test_submit_in_hedge_mode_when_reduce_only_then_refused() -> None:
    engine = new_engine(mode=PositionMode.HEDGE)
    enter(engine, LONG, position_side=PositionSide.LONG)
    with pytest.raises(InvalidOrder, match="reduce-only is not accepted in hedge mode"):
        engine.submit(market(SELL, position_side=PositionSide.LONG, reduce_only=True), T_BAR)


@pytest.mark.parametrize(("side", "slot"), [(SELL, PositionSide.LONG), (BUY, PositionSide.SHORT)])
def test_submit_in_hedge_mode_when_closing_side_has_no_position_then_refused(
    side: OrderSide, slot: PositionSide
) -> None:
    engine = new_engine(mode=PositionMode.HEDGE)
    with pytest.raises(
        NoPositionToReduce, match=f"no {slot.value} position for this order to reduce"
    ):
        engine.submit(market(side, position_side=slot), T_SUBMIT)


def test_submit_in_one_way_mode_when_position_side_is_long_then_refused() -> None:
    engine = new_engine()
    with pytest.raises(InvalidOrder, match="needs hedge mode"):
        engine.submit(market(BUY, position_side=PositionSide.LONG), T_SUBMIT)


def test_hedge_mode_when_long_and_short_open_then_both_held_and_closed_separately() -> None:
    engine = new_engine(mode=PositionMode.HEDGE)
    engine.submit(market(BUY, position_side=PositionSide.LONG), T_SUBMIT)
    engine.submit(market(SELL, position_side=PositionSide.SHORT), T_SUBMIT)
    engine.fill_market_orders(D("50000"), T_ENTRY)
    assert engine.position(PositionSide.LONG) == Position(
        PositionSide.LONG, LONG, QTY, D("50010.0"), T_ENTRY
    )
    assert engine.position(PositionSide.SHORT) == Position(
        PositionSide.SHORT, SHORT, QTY, D("49990.0"), T_ENTRY
    )
    # at 50000 each loses its slippage: (50000 - 50010.0) * 0.01 + (49990.0 - 50000) * 0.01
    assert engine.unrealized_pnl(D("50000")) == D("-0.2")
    long_stop = engine.submit(
        OrderRequest(
            SELL,
            OrderType.STOP_MARKET,
            None,
            trigger_price=LONG_SL,
            position_side=PositionSide.LONG,
            close_position=True,
        ),
        T_ENTRY,
    )
    short_stop = engine.submit(
        OrderRequest(
            BUY,
            OrderType.STOP_MARKET,
            None,
            trigger_price=SHORT_SL,
            position_side=PositionSide.SHORT,
            close_position=True,
        ),
        T_ENTRY,
    )
    # closing more than the long holds closes only the long; the short and its stop stay
    engine.submit(market(SELL, D("0.05"), position_side=PositionSide.LONG), T_BAR)
    [fill] = engine.fill_market_orders(D("50000"), T_BAR)
    assert (fill.quantity, fill.position_side) == (QTY, PositionSide.LONG)
    assert engine.position(PositionSide.LONG) is None
    assert engine.position(PositionSide.SHORT) is not None
    assert long_stop.status is OrderStatus.CANCELED
    assert short_stop.is_open


# ------------------------------------------------------------------ rejections


def test_submit_when_quantity_off_step_then_refused_naming_the_step() -> None:
    with pytest.raises(
        InvalidOrder, match=r"quantity 0\.00015 is not a multiple of the step 0\.0001"
    ):
        new_engine().submit(market(BUY, D("0.00015")), T_SUBMIT)


@pytest.mark.parametrize("quantity", [D("0"), D("-0.01")])
def test_submit_when_quantity_not_positive_then_refused(quantity: Decimal) -> None:
    with pytest.raises(InvalidOrder, match="quantity must be positive"):
        new_engine().submit(market(BUY, quantity), T_SUBMIT)


def test_submit_when_quantity_missing_without_close_position_then_refused() -> None:
    with pytest.raises(InvalidOrder, match="quantity is required unless close_position is set"):
        new_engine().submit(market(BUY, None), T_SUBMIT)


def test_submit_when_limit_price_off_tick_then_refused_naming_the_tick() -> None:
    with pytest.raises(InvalidOrder, match=r"price 49000\.05 is not on the tick 0\.1"):
        new_engine().submit(limit(BUY, D("49000.05")), T_SUBMIT)


def test_submit_when_trigger_price_off_tick_then_refused() -> None:
    engine = new_engine()
    enter(engine, LONG)
    with pytest.raises(InvalidOrder, match=r"trigger 49000\.05 is not on the tick 0\.1"):
        engine.submit(stop_market(SELL, D("49000.05")), T_ENTRY)


def test_submit_when_limit_without_price_or_trigger_without_trigger_then_refused() -> None:
    engine = new_engine()
    with pytest.raises(InvalidOrder, match="a limit order needs a positive price"):
        engine.submit(OrderRequest(BUY, OrderType.LIMIT, QTY), T_SUBMIT)
    with pytest.raises(InvalidOrder, match="needs a positive trigger price"):
        engine.submit(OrderRequest(BUY, OrderType.STOP_MARKET, QTY), T_SUBMIT)


def test_submit_when_quantity_below_contract_minimum_then_below_minimum() -> None:
    coarse = Instrument("BTC-USDT", D("0.1"), D("0.0001"), D("0.001"), D("2"))
    with pytest.raises(
        BelowMinimumQuantity, match=r"quantity 0\.0005 is below the minimum 0\.001"
    ) as refused:
        new_engine(instrument=coarse).submit(market(BUY, D("0.0005")), T_SUBMIT)
    assert isinstance(refused.value, BelowMinimum)
    assert (refused.value.quantity, refused.value.minimum) == (D("0.0005"), D("0.001"))


def test_submit_when_notional_below_contract_minimum_then_below_minimum() -> None:
    engine = new_engine()
    engine.match_bar(bar(10000, 10000, 10000, 10000))  # the engine now knows a price
    # 0.0001 * 10000 = 1 USDT < 2 USDT
    with pytest.raises(
        BelowMinimumNotional, match=r"notional 1\.0000 USDT is below the minimum 2"
    ) as refused:
        engine.submit(market(BUY, D("0.0001")), T_SUBMIT)
    assert isinstance(refused.value, BelowMinimum)
    assert (refused.value.notional, refused.value.minimum) == (D("1"), D("2"))
    engine.submit(market(BUY, D("0.0002")), T_SUBMIT)  # 2 USDT is enough


def test_submit_when_limit_notional_below_minimum_then_priced_at_its_limit() -> None:
    # 0.0001 * 15000 = 1.5 USDT < 2, even with no last price to refer to
    with pytest.raises(BelowMinimumNotional, match=r"notional 1\.5000 USDT"):
        new_engine().submit(limit(BUY, D("15000"), D("0.0001")), T_SUBMIT)


def test_submit_when_margin_short_then_insufficient_margin_with_both_amounts() -> None:
    engine = new_engine()
    engine.match_bar(bar(50000, 50000, 50000, 50000))
    # 0.1001 * 50000 / 5 = 1001 USDT needed, 1000 available
    with pytest.raises(
        InsufficientMargin, match=r"order needs 1001\.0000 USDT margin, 1000\.0000 USDT available"
    ):
        engine.submit(market(BUY, D("0.1001")), T_SUBMIT)
    engine.submit(market(BUY, D("0.1")), T_SUBMIT)  # 1000 needed: exactly enough


def test_submit_when_open_position_holds_margin_then_less_is_available() -> None:
    engine = new_engine()
    enter(engine, LONG, quantity=D("0.05"))
    # held 0.05 * 50010.0 / 5 = 500.1; balance 1000 - 1.25025 = 998.74975 -> 498.64975 free
    assert engine.used_margin() == D("500.1")
    assert engine.available_margin(LONG_ENTRY) == D("498.64975")
    with pytest.raises(InsufficientMargin):
        engine.submit(market(BUY, D("0.05")), T_BAR)  # 0.05 * 50010.0 / 5 = 500.1 > 498.64975


def test_fill_when_slippage_leaves_too_little_margin_then_order_rejected_without_fill() -> None:
    engine = new_engine()
    engine.match_bar(bar(50000, 50000, 50000, 50000))
    order = engine.submit(market(BUY, D("0.1")), T_SUBMIT)  # 1000 of 1000 at 50000
    # at the fill: 0.1 * 50010.0 / 5 = 1000.2 > 1000
    assert engine.fill_market_orders(D("50000"), T_ENTRY) == []
    assert order.status is OrderStatus.REJECTED
    assert order.cancel_reason == "insufficient margin at fill"
    assert engine.position() is None
    assert engine.balance == D("1000")


def test_fill_when_no_price_was_known_at_submit_then_margin_is_checked_at_the_fill() -> None:
    engine = new_engine()
    order = engine.submit(market(BUY, D("1")), T_SUBMIT)  # no price yet: nothing to check
    # at the fill: 1 * 50010.0 / 5 = 10002 USDT margin, 1000 available
    assert engine.fill_market_orders(D("50000"), T_ENTRY) == []
    assert order.status is OrderStatus.REJECTED
    assert engine.position() is None


@pytest.mark.parametrize(
    ("direction", "request_"),
    [
        (LONG, stop_market(SELL, D("50100"))),  # a sell stop above the price
        (LONG, stop_market(SELL, D("50010.0"))),  # at the price: fires at once too
        (LONG, take_profit_market(SELL, D("49000"))),  # a sell TP below the price
        (SHORT, stop_market(BUY, D("49000"))),  # a buy stop below the price
        (SHORT, take_profit_market(BUY, D("51000"))),  # a buy TP above the price
    ],
)
def test_submit_when_trigger_would_fire_immediately_then_refused(
    direction: Direction, request_: OrderRequest
) -> None:
    engine = new_engine()
    enter(engine, direction)
    with pytest.raises(TriggerWouldFireImmediately, match="would fire at once"):
        engine.submit(request_, T_ENTRY)


def test_submit_when_post_only_limit_is_marketable_then_post_only_would_take() -> None:
    # a marketable GTC limit is now a taker (tests/test_matching_engine_sim_orders.py);
    # post-only is what still refuses it
    engine = new_engine()
    enter(engine, LONG)  # last price 50010.0
    post_only = OrderRequest(
        SELL,
        OrderType.LIMIT,
        QTY,
        price=D("50000"),
        reduce_only=True,
        time_in_force=TimeInForce.POST_ONLY,
    )
    with pytest.raises(
        PostOnlyWouldTake, match=r"post-only limit at 50000 would take liquidity at 50010\.0"
    ):
        engine.submit(post_only, T_ENTRY)


def test_submit_when_refused_then_no_order_is_recorded() -> None:
    engine = new_engine()
    with pytest.raises(InvalidOrder):
        engine.submit(market(BUY, D("0.00015")), T_SUBMIT)
    assert engine.open_orders() == []
    assert engine.submit(market(BUY), T_SUBMIT).order_id == "1"


# ------------------------------------------------------------------ cancel


def test_cancel_when_open_then_cancelled_with_reason_and_time() -> None:
    engine, stop, _ = protected(LONG)
    cancelled = engine.cancel(stop.order_id, T_BAR, "trailed")
    assert cancelled is stop
    assert (stop.status, stop.cancel_reason, stop.updated_ms) == (
        OrderStatus.CANCELED,
        "trailed",
        T_BAR,
    )
    assert stop not in engine.open_orders()


def test_cancel_when_already_filled_or_cancelled_then_refused() -> None:
    engine, stop, take = protected(LONG)
    engine.match_bar(bar(49500, 49600, 48900, 49100))
    with pytest.raises(InvalidOrder, match=f"order {stop.order_id} is already filled"):
        engine.cancel(stop.order_id, T_BAR)
    with pytest.raises(InvalidOrder, match=f"order {take.order_id} is already canceled"):
        engine.cancel(take.order_id, T_BAR)


def test_cancel_when_order_unknown_then_refused() -> None:
    with pytest.raises(InvalidOrder, match="order 42 does not exist"):
        new_engine().cancel(OrderId("42"), T_BAR)


def test_cancel_all_then_every_open_order_cancelled_and_returned() -> None:
    engine, stop, take = protected(LONG)
    assert engine.cancel_all(T_BAR, "end of data") == [stop, take]
    assert engine.open_orders() == []
    assert take.cancel_reason == "end of data"
    assert engine.position() is not None  # cancelling orders does not close positions


# ------------------------------------------------------------------ funding and equity


@pytest.mark.parametrize(
    ("direction", "rate", "amount"),
    [
        (LONG, D("0.0001"), D("-0.05")),  # long pays: 0.01 * 50000 * 0.0001
        (SHORT, D("0.0001"), D("0.05")),  # short receives
        (LONG, D("-0.0001"), D("0.05")),  # negative rate: long receives
        (SHORT, D("-0.0001"), D("-0.05")),  # and the short pays
    ],
)
def test_apply_funding_then_longs_pay_a_positive_rate_and_shorts_receive_it(
    direction: Direction, rate: Decimal, amount: Decimal
) -> None:
    engine = new_engine()
    enter(engine, direction)
    before = engine.balance
    payments = engine.apply_funding(rate, D("50000"), T_BAR)
    assert payments == [FundingPayment(PositionSide.BOTH, amount, rate, T_BAR)]
    assert engine.balance == before + amount


def test_apply_funding_when_flat_then_nothing_exchanged() -> None:
    engine = new_engine()
    assert engine.apply_funding(D("0.0001"), D("50000"), T_BAR) == []
    assert engine.balance == D("1000")


def test_equity_then_balance_plus_unrealized_pnl_at_the_mark() -> None:
    engine = new_engine()
    enter(engine, LONG)
    # (51000 - 50010.0) * 0.01 = 9.9
    assert engine.unrealized_pnl(D("51000")) == D("9.9")
    assert engine.equity(D("51000")) == D("1009.64995")  # 999.74995 + 9.9
    # margin held 0.01 * 50010.0 / 5 = 100.02 -> 1009.64995 - 100.02 free
    assert engine.used_margin() == D("100.02")
    assert engine.available_margin(D("51000")) == D("909.62995")


def test_equity_when_short_and_price_rises_then_unrealized_loss() -> None:
    engine = new_engine()
    enter(engine, SHORT)
    # (51000 - 49990.0) * 0.01 * -1 = -10.1
    assert engine.equity(D("51000")) == D("989.65005")  # 999.75005 - 10.1


def test_equity_when_flat_then_equals_balance() -> None:
    assert new_engine().equity(D("50000")) == D("1000")


# ------------------------------------------------------------------ trigger bounds


def test_trigger_bounds_when_no_resting_orders_then_open_on_both_sides() -> None:
    engine = new_engine()
    engine.submit(market(BUY), T_SUBMIT)  # a waiting market order is not a resting one
    assert engine.trigger_bounds() == TriggerBounds(falling=None, rising=None)


@pytest.mark.parametrize(
    ("direction", "expected"),
    [
        (LONG, TriggerBounds(falling=LONG_SL, rising=LONG_TP)),
        (SHORT, TriggerBounds(falling=SHORT_TP, rising=SHORT_SL)),
    ],
)
def test_trigger_bounds_when_protected_then_band_between_stop_and_take_profit(
    direction: Direction, expected: TriggerBounds
) -> None:
    engine, _, _ = protected(direction)
    assert engine.trigger_bounds() == expected


def test_trigger_bounds_when_several_orders_wait_on_a_side_then_nearest_level_counts() -> None:
    engine, _, _ = protected(LONG, limit_take_profit=True)
    engine.submit(limit(BUY, D("48000")), T_ENTRY)  # waits below the 49000 stop
    engine.submit(limit(SELL, D("53000"), reduce_only=True), T_ENTRY)  # above the 52000 TP
    assert engine.trigger_bounds() == TriggerBounds(falling=LONG_SL, rising=LONG_TP)


def test_trigger_bounds_when_candle_stays_inside_the_band_then_nothing_fills() -> None:
    engine, _, _ = protected(LONG)
    bounds = engine.trigger_bounds()
    assert bounds.falling is not None
    assert bounds.rising is not None
    tick = BTC.price_tick
    inside = bar(50000, bounds.rising - tick, bounds.falling + tick, 50000)
    assert engine.match_bar(inside) == []
    edge = bar(50000, 50000, bounds.falling, 50000, t=T_BAR + 300_000)
    assert len(engine.match_bar(edge)) == 1  # at the bound it executes


# ------------------------------------------------------------------ construction


@pytest.mark.parametrize("leverage", [0, -1])
def test_engine_when_leverage_below_one_then_refused(leverage: int) -> None:
    with pytest.raises(ValueError, match=f"leverage must be at least 1, not {leverage}"):
        new_engine(leverage=leverage)


def test_hedge_mode_when_sides_have_different_leverage_then_each_position_margined_by_its_own() -> (
    None
):
    engine = new_engine(mode=PositionMode.HEDGE)
    engine.set_leverage(10, LONG)
    engine.set_leverage(2, SHORT)
    enter(engine, LONG, position_side=PositionSide.LONG)
    enter(engine, SHORT, position_side=PositionSide.SHORT)
    # long 0.01 x 50010.0 / 10 = 50.01; short 0.01 x 49990.0 / 2 = 249.95
    assert engine.used_margin() == D("50.01") + D("249.95")
    assert (engine.leverage_for(LONG), engine.leverage_for(SHORT), engine.leverage) == (10, 2, 10)


def test_margin_check_when_short_leverage_is_low_then_short_needs_more_margin() -> None:
    engine = new_engine(balance=D("100"), mode=PositionMode.HEDGE)
    engine.set_leverage(10, LONG)
    engine.set_leverage(2, SHORT)
    engine.last_price = OPEN_PRICE
    # 0.01 x 50000 = 500 notional: 50 margin at 10x fits 100, 250 at 2x does not
    engine.submit(market(BUY, position_side=PositionSide.LONG), T_SUBMIT)
    with pytest.raises(InsufficientMargin):
        engine.submit(market(SELL, position_side=PositionSide.SHORT), T_SUBMIT)


def test_set_leverage_when_below_one_then_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        new_engine().set_leverage(0)
