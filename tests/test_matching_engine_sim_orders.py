"""The matching engine's BingX order semantics that the exchange simulator relies on.

Crossing (marketable-on-arrival) limits, IOC / FOK / POST_ONLY, STOP and TAKE_PROFIT
(trigger-limit) orders, order-id ranges and the specific rejection classes.

Same conventions as tests/test_matching_engine.py: BTC-USDT rules (tick 0.1, step 0.0001,
min 2 USDT), taker fee 0.05 %, maker fee 0.02 %, slippage 2 bps, 1000 USDT at 5x, one-way
mode.  A taker buy at 50000 pays 50000 * 1.0002 = 50010.0, a taker sell gets
50000 * 0.9998 = 49990.0; the long used below is 0.01 BTC entered at 50010.0.
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
    PositionSide,
    TimeInForce,
)
from adxbot.domain.instrument import BINGX_CONTRACTS
from adxbot.engine.fees import FeeSchedule
from adxbot.engine.matching import MatchingEngine, TriggerBounds
from adxbot.engine.orders import Fill, Order, OrderRequest
from adxbot.engine.positions import Position
from adxbot.errors import (
    BelowMinimum,
    BelowMinimumNotional,
    BelowMinimumQuantity,
    InvalidOrder,
    NoPositionToReduce,
    OrderRejected,
    PostOnlyWouldTake,
    TriggerWouldFireImmediately,
)

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
GTC, IOC, FOK, POST_ONLY = (
    TimeInForce.GTC,
    TimeInForce.IOC,
    TimeInForce.FOK,
    TimeInForce.POST_ONLY,
)
BTC = BINGX_CONTRACTS["BTC-USDT"]
FEES = FeeSchedule(taker_rate=D("0.0005"), maker_rate=D("0.0002"), slippage_bps=D("2"))
QTY = D("0.01")
T_SEEN = 1_735_689_000_000  # the engine learns a price
T_SUBMIT = T_SEEN + 1_000
T_NEXT = T_SEEN + 300_000  # the next price: the next candle's open
T_BAR = T_NEXT + 300_000
LONG_ENTRY = D("50010.0")
SHORT_ENTRY = D("49990.0")
SIM_ACCOUNT_BASE = 1_900_000_000_000_000_000

Px = str | int | Decimal


# ------------------------------------------------------------------ helpers


def new_engine(*, first_order_id: int = 1) -> MatchingEngine:
    return MatchingEngine(BTC, FEES, balance=D("1000"), leverage=5, first_order_id=first_order_id)


def seeing(price: Px) -> MatchingEngine:
    """A flat engine whose last price is `price`."""
    engine = new_engine()
    assert engine.fill_market_orders(D(price), T_SEEN) == []
    return engine


def long_position() -> MatchingEngine:
    """0.01 BTC long at 50010.0 (a market buy at 50000); the last price is 50010.0."""
    engine = new_engine()
    engine.submit(OrderRequest(BUY, OrderType.MARKET, QTY), T_SEEN)
    engine.fill_market_orders(D("50000"), T_SUBMIT)
    return engine


def short_position() -> MatchingEngine:
    """0.01 BTC short at 49990.0 (a market sell at 50000); the last price is 49990.0."""
    engine = new_engine()
    engine.submit(OrderRequest(SELL, OrderType.MARKET, QTY), T_SEEN)
    engine.fill_market_orders(D("50000"), T_SUBMIT)
    return engine


def bar(open_: Px, high: Px, low: Px, close: Px, t: int = T_BAR) -> Bar:
    return Bar(open_time_ms=t, open=D(open_), high=D(high), low=D(low), close=D(close))


def limit(
    side: OrderSide, price: Px, *, tif: TimeInForce = GTC, reduce_only: bool = False
) -> OrderRequest:
    return OrderRequest(
        side, OrderType.LIMIT, QTY, price=D(price), time_in_force=tif, reduce_only=reduce_only
    )


def trigger_limit(
    kind: OrderType,
    side: OrderSide,
    trigger: Px,
    price: Px,
    *,
    tif: TimeInForce = GTC,
    reduce_only: bool = True,
) -> OrderRequest:
    return OrderRequest(
        side,
        kind,
        QTY,
        price=D(price),
        trigger_price=D(trigger),
        reduce_only=reduce_only,
        time_in_force=tif,
    )


def stop_limit(
    side: OrderSide, trigger: Px, price: Px, *, tif: TimeInForce = GTC, reduce_only: bool = True
) -> OrderRequest:
    return trigger_limit(OrderType.STOP, side, trigger, price, tif=tif, reduce_only=reduce_only)


def take_profit_limit(side: OrderSide, trigger: Px, price: Px) -> OrderRequest:
    return trigger_limit(OrderType.TAKE_PROFIT, side, trigger, price)


def summary(fill: Fill) -> tuple[Decimal, Decimal, Liquidity, Decimal]:
    return fill.price, fill.fee, fill.liquidity, fill.realized_pnl


# ------------------------------------------------------------------ order ids


def test_engine_when_first_order_id_given_then_ids_count_up_from_it_as_decimal_strings() -> None:
    engine = new_engine(first_order_id=SIM_ACCOUNT_BASE + 3 * 10**15)
    first = engine.submit(OrderRequest(BUY, OrderType.MARKET, QTY), T_SUBMIT)
    second = engine.submit(OrderRequest(BUY, OrderType.MARKET, QTY), T_SUBMIT)
    assert (first.order_id, second.order_id) == ("1903000000000000000", "1903000000000000001")
    assert engine.order(first.order_id) is first


def test_engine_when_accounts_get_disjoint_ranges_then_their_ids_never_collide() -> None:
    engines = [new_engine(first_order_id=SIM_ACCOUNT_BASE + n * 10**15) for n in range(3)]
    ids = [
        e.submit(OrderRequest(BUY, OrderType.MARKET, QTY), T_SUBMIT).order_id
        for e in engines
        for _ in range(5)
    ]
    assert len(set(ids)) == 15
    assert new_engine().submit(OrderRequest(BUY, OrderType.MARKET, QTY), T_SUBMIT).order_id == "1"


@pytest.mark.parametrize("first", [0, -5])
def test_engine_when_first_order_id_below_one_then_refused(first: int) -> None:
    with pytest.raises(ValueError, match=f"first_order_id must be at least 1, not {first}"):
        new_engine(first_order_id=first)


# ------------------------------------------------------------------ error classes


@pytest.mark.parametrize(
    ("specific", "general"),
    [
        (NoPositionToReduce, InvalidOrder),
        (PostOnlyWouldTake, InvalidOrder),
        (TriggerWouldFireImmediately, InvalidOrder),
        (BelowMinimumQuantity, BelowMinimum),
        (BelowMinimumNotional, BelowMinimum),
    ],
)
def test_error_tree_when_a_specific_rejection_is_raised_then_its_general_class_catches_it(
    specific: type[OrderRejected], general: type[OrderRejected]
) -> None:
    # callers written against the general classes (the backtester) keep working
    assert issubclass(specific, general)
    assert issubclass(specific, OrderRejected)


# ------------------------------------------------------------------ crossing GTC limits


def test_submit_gtc_limit_when_marketable_then_waits_for_the_next_price_as_a_taker() -> None:
    engine = seeing(50000)
    order = engine.submit(limit(BUY, 50100), T_SUBMIT)  # 50000 <= 50100: marketable
    assert (order.status, order.awaits_next_price) == (OrderStatus.NEW, True)
    assert engine.has_waiting_market_orders()
    assert engine.trigger_bounds() == TriggerBounds(falling=None, rising=None)  # not resting


def test_fill_market_orders_when_crossing_buy_limit_then_fills_as_taker_with_slippage() -> None:
    engine = seeing(50000)
    order = engine.submit(limit(BUY, 50100), T_SUBMIT)
    [fill] = engine.fill_market_orders(D("50000"), T_NEXT)
    # 50000 * 1.0002 = 50010.0 <= 50100; fee 50010.0 * 0.01 * 0.0005 = 0.25005
    assert summary(fill) == (D("50010.0"), D("0.25005"), Liquidity.TAKER, D("0"))
    assert (fill.order_type, fill.time_ms) == (OrderType.LIMIT, T_NEXT)
    assert (order.status, order.average_price, order.awaits_next_price) == (
        OrderStatus.FILLED,
        D("50010.0"),
        False,
    )
    assert engine.position() == Position(PositionSide.BOTH, Direction.LONG, QTY, LONG_ENTRY, T_NEXT)


def test_fill_market_orders_when_slippage_passes_a_buy_limit_then_fills_at_the_limit() -> None:
    engine = seeing(50000)
    engine.submit(limit(BUY, "50005.0"), T_SUBMIT)
    [fill] = engine.fill_market_orders(D("50000"), T_NEXT)
    # 50000 * 1.0002 = 50010.0 > 50005.0: capped; fee 50005.0 * 0.01 * 0.0005 = 0.250025
    assert summary(fill) == (D("50005.0"), D("0.250025"), Liquidity.TAKER, D("0"))


def test_fill_market_orders_when_slippage_passes_a_sell_limit_then_fills_at_the_limit() -> None:
    engine = seeing(50000)
    engine.submit(limit(SELL, "49995.0"), T_SUBMIT)  # 50000 >= 49995.0: marketable
    [fill] = engine.fill_market_orders(D("50000"), T_NEXT)
    # 50000 * 0.9998 = 49990.0 < 49995.0: capped; fee 49995.0 * 0.01 * 0.0005 = 0.249975
    assert summary(fill) == (D("49995.0"), D("0.249975"), Liquidity.TAKER, D("0"))
    assert engine.balance == D("999.750025")  # 1000 - 0.249975


def test_fill_market_orders_when_crossing_limit_no_longer_marketable_then_rests_as_maker() -> None:
    # the backtester's sequence: the next open, then the same candle's range
    engine = seeing(50000)
    order = engine.submit(limit(BUY, 50100), T_SUBMIT)
    assert engine.fill_market_orders(D("50200"), T_NEXT) == []  # 50200 > 50100
    assert (order.status, order.awaits_next_price) == (OrderStatus.NEW, False)
    assert not engine.has_waiting_market_orders()
    assert engine.trigger_bounds() == TriggerBounds(falling=D("50100"), rising=None)
    [fill] = engine.match_bar(bar(50200, 50300, 50050, 50150, t=T_NEXT))
    # exactly 50100 as a maker: fee 50100 * 0.01 * 0.0002 = 0.1002
    assert summary(fill) == (D("50100"), D("0.1002"), Liquidity.MAKER, D("0"))


def test_match_bar_when_crossing_limit_waits_then_leaves_it_to_fill_market_orders() -> None:
    engine = seeing(50000)
    order = engine.submit(limit(BUY, 50100), T_SUBMIT)
    assert engine.match_bar(bar(50000, 50000, 49000, 49500, t=T_SUBMIT)) == []
    assert order.awaits_next_price
    [fill] = engine.fill_market_orders(D("49500"), T_NEXT)
    # 49500 * 1.0002 = 49509.9; fee 49509.9 * 0.01 * 0.0005 = 0.2475495
    assert summary(fill) == (D("49509.9"), D("0.2475495"), Liquidity.TAKER, D("0"))


def test_fill_market_orders_when_market_and_crossing_limit_wait_then_oldest_first() -> None:
    engine = long_position()  # last price 50010.0
    close = engine.submit(limit(SELL, 50000, reduce_only=True), T_BAR)  # marketable: 50010 >= 50000
    entry = engine.submit(OrderRequest(SELL, OrderType.MARKET, QTY), T_BAR)
    fills = engine.fill_market_orders(D("50000"), T_BAR + 300_000)
    # both sell at 50000 * 0.9998 = 49990.0, held to the limit 50000 for the limit
    # close: P&L (50000 - 50010.0) * 0.01 = -0.1
    assert [(f.order_id, f.price, f.realized_pnl) for f in fills] == [
        (close.order_id, D("50000"), D("-0.1")),
        (entry.order_id, D("49990.0"), D("0")),
    ]
    assert engine.position() == Position(
        PositionSide.BOTH, Direction.SHORT, QTY, D("49990.0"), T_BAR + 300_000
    )


def test_submit_gtc_limit_when_no_price_known_yet_then_rests_as_maker() -> None:
    engine = new_engine()
    order = engine.submit(limit(BUY, 50100), T_SUBMIT)
    assert not order.awaits_next_price
    assert engine.fill_market_orders(D("50000"), T_NEXT) == []
    assert order.is_open


@st.composite
def crossing_cases(draw: st.DrawFn) -> tuple[OrderSide, Decimal, Decimal, Decimal, TimeInForce]:
    """A limit marketable at the last price, then any next price, in ticks of 0.1."""
    side = draw(st.sampled_from(OrderSide))
    last = draw(st.integers(480_000, 520_000))
    distance = draw(st.integers(0, 5_000))  # how far through the last price the limit is
    limit_ticks = last + distance if side is BUY else last - distance
    next_ticks = draw(st.integers(470_000, 530_000))
    tif = draw(st.sampled_from([GTC, IOC, FOK]))
    tick = BTC.price_tick
    return side, last * tick, limit_ticks * tick, next_ticks * tick, tif


@given(case=crossing_cases())
def test_crossing_limit_property_then_never_fills_beyond_its_limit(
    case: tuple[OrderSide, Decimal, Decimal, Decimal, TimeInForce],
) -> None:
    side, last, limit_price, next_price, tif = case
    engine = seeing(last)
    order = engine.submit(limit(side, limit_price, tif=tif), T_SUBMIT)
    assert order.awaits_next_price
    fills = engine.fill_market_orders(next_price, T_NEXT)
    marketable = next_price <= limit_price if side is BUY else next_price >= limit_price
    if not marketable:
        assert fills == []
        expected = OrderStatus.NEW if tif is GTC else OrderStatus.EXPIRED
        assert order.status is expected
        return
    [fill] = fills
    taker = BTC.taker_price(next_price * (1 + (1 if side is BUY else -1) * D("0.0002")), side)
    if side is BUY:
        assert fill.price <= limit_price
        assert fill.price == min(taker, limit_price)
    else:
        assert fill.price >= limit_price
        assert fill.price == max(taker, limit_price)
    assert (fill.quantity, fill.liquidity) == (QTY, Liquidity.TAKER)
    assert fill.fee == fill.price * QTY * D("0.0005")


# ------------------------------------------------------------------ IOC / FOK


@pytest.mark.parametrize("tif", [IOC, FOK])
def test_submit_ioc_or_fok_limit_when_not_marketable_then_expires_at_once(
    tif: TimeInForce,
) -> None:
    engine = seeing(50000)
    order = engine.submit(limit(BUY, 49000, tif=tif), T_SUBMIT)  # 50000 > 49000
    assert (order.status, order.updated_ms) == (OrderStatus.EXPIRED, T_SUBMIT)
    assert order.cancel_reason == f"{tif.value.upper()} limit 49000 not marketable at 50000"
    assert engine.open_orders() == []
    assert engine.fill_market_orders(D("48000"), T_NEXT) == []  # it never rests


@pytest.mark.parametrize("tif", [IOC, FOK])
def test_fill_ioc_or_fok_limit_when_marketable_then_fills_the_whole_quantity_as_taker(
    tif: TimeInForce,
) -> None:
    # the simulated book is infinitely deep: IOC and FOK both fill in full
    engine = seeing(50000)
    order = engine.submit(limit(BUY, 50100, tif=tif), T_SUBMIT)
    [fill] = engine.fill_market_orders(D("50000"), T_NEXT)
    # 50000 * 1.0002 = 50010.0 <= 50100; fee 50010.0 * 0.01 * 0.0005 = 0.25005
    assert summary(fill) == (D("50010.0"), D("0.25005"), Liquidity.TAKER, D("0"))
    assert (order.status, order.filled_quantity) == (OrderStatus.FILLED, QTY)


@pytest.mark.parametrize("tif", [IOC, FOK])
def test_fill_ioc_or_fok_limit_when_next_price_moved_away_then_expires_without_resting(
    tif: TimeInForce,
) -> None:
    engine = seeing(50000)
    order = engine.submit(limit(BUY, 50100, tif=tif), T_SUBMIT)
    assert engine.fill_market_orders(D("50200"), T_NEXT) == []
    assert (order.status, order.updated_ms) == (OrderStatus.EXPIRED, T_NEXT)
    assert order.cancel_reason == f"{tif.value.upper()} limit 50100 not marketable at 50200"
    assert engine.trigger_bounds() == TriggerBounds(falling=None, rising=None)
    assert engine.match_bar(bar(50200, 50300, 49000, 49500, t=T_NEXT)) == []


@pytest.mark.parametrize(("next_price", "fills"), [("50000", 1), ("50200", 0)])
def test_submit_ioc_limit_when_no_price_known_yet_then_the_next_price_decides(
    next_price: str, fills: int
) -> None:
    engine = new_engine()
    order = engine.submit(limit(BUY, 50100, tif=IOC), T_SUBMIT)
    assert order.awaits_next_price
    assert len(engine.fill_market_orders(D(next_price), T_NEXT)) == fills
    assert order.status is (OrderStatus.FILLED if fills else OrderStatus.EXPIRED)


@pytest.mark.parametrize("tif", [IOC, FOK])
def test_submit_market_order_with_ioc_or_fok_then_it_is_just_a_market_order(
    tif: TimeInForce,
) -> None:
    engine = seeing(50000)
    engine.submit(OrderRequest(BUY, OrderType.MARKET, QTY, time_in_force=tif), T_SUBMIT)
    [fill] = engine.fill_market_orders(D("50000"), T_NEXT)
    assert summary(fill) == (D("50010.0"), D("0.25005"), Liquidity.TAKER, D("0"))


# ------------------------------------------------------------------ POST_ONLY


def test_submit_post_only_limit_when_not_marketable_then_rests_and_fills_as_maker() -> None:
    engine = seeing(50000)
    order = engine.submit(limit(BUY, 49000, tif=POST_ONLY), T_SUBMIT)
    assert engine.fill_market_orders(D("50000"), T_NEXT) == []
    [fill] = engine.match_bar(bar(50000, 50100, 48900, 49500))
    # 49000 exactly; fee 49000 * 0.01 * 0.0002 = 0.098
    assert (fill.order_id, *summary(fill)) == (
        order.order_id,
        D("49000"),
        D("0.098"),
        Liquidity.MAKER,
        D("0"),
    )


@pytest.mark.parametrize(
    "request_",
    [
        OrderRequest(BUY, OrderType.MARKET, QTY, time_in_force=POST_ONLY),
        OrderRequest(
            BUY, OrderType.STOP_MARKET, QTY, trigger_price=D("51000"), time_in_force=POST_ONLY
        ),
    ],
)
def test_submit_post_only_market_executing_order_then_post_only_would_take(
    request_: OrderRequest,
) -> None:
    with pytest.raises(PostOnlyWouldTake, match="a post-only order needs a limit"):
        seeing(50000).submit(request_, T_SUBMIT)


# ------------------------------------------------------------------ STOP / TAKE_PROFIT: submit


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (
            OrderRequest(SELL, OrderType.STOP, QTY, trigger_price=D("49000"), reduce_only=True),
            "a stop order needs a positive price",
        ),
        (
            OrderRequest(SELL, OrderType.TAKE_PROFIT, QTY, price=D("52000"), reduce_only=True),
            "a take_profit order needs a positive trigger price",
        ),
        (stop_limit(SELL, 49000, "48900.05"), r"price 48900\.05 is not on the tick 0\.1"),
        (stop_limit(SELL, "49000.05", 48900), r"trigger 49000\.05 is not on the tick 0\.1"),
    ],
)
def test_submit_trigger_limit_when_price_or_trigger_missing_or_off_tick_then_refused(
    request_: OrderRequest, error: str
) -> None:
    with pytest.raises(InvalidOrder, match=error):
        long_position().submit(request_, T_BAR)


@pytest.mark.parametrize(
    "request_",
    [
        stop_limit(SELL, 50100, 50000),  # a sell stop above the last price 50010.0
        take_profit_limit(SELL, 49000, 49000),  # a sell take-profit below it
    ],
)
def test_submit_trigger_limit_when_trigger_already_reached_then_would_fire_immediately(
    request_: OrderRequest,
) -> None:
    with pytest.raises(TriggerWouldFireImmediately, match=r"would fire at once \(last price"):
        long_position().submit(request_, T_BAR)


def test_submit_reduce_only_trigger_limit_when_flat_then_no_position_to_reduce() -> None:
    with pytest.raises(NoPositionToReduce, match="no both position for this order to reduce"):
        seeing(50000).submit(stop_limit(SELL, 49000, 48900), T_SUBMIT)


def test_submit_trigger_limit_then_rests_untriggered_at_its_trigger() -> None:
    engine = long_position()
    order = engine.submit(stop_limit(SELL, 49000, 49100), T_BAR)
    assert (order.status, order.triggered_ms, order.awaits_next_price) == (
        OrderStatus.NEW,
        None,
        False,
    )
    # until triggered only the trigger counts, not the 49100 limit above the price
    assert engine.trigger_bounds() == TriggerBounds(falling=D("49000"), rising=None)


# ------------------------------------------------------------------ STOP / TAKE_PROFIT: fills


def test_match_bar_when_range_triggers_marketable_stop_limit_then_takes_at_the_trigger() -> None:
    engine = long_position()
    order = engine.submit(stop_limit(SELL, 49000, 48900), T_BAR)
    [fill] = engine.match_bar(bar(49500, 49600, 48800, 49100))
    # 49000 >= 48900: marketable; 49000 * 0.9998 = 48990.2 >= 48900
    # P&L (48990.2 - 50010.0) * 0.01 = -10.198; fee 48990.2 * 0.01 * 0.0005 = 0.244951
    assert summary(fill) == (D("48990.2"), D("0.244951"), Liquidity.TAKER, D("-10.198"))
    assert (fill.order_type, fill.closed_position) == (OrderType.STOP, True)
    assert (order.status, order.triggered_ms) == (OrderStatus.FILLED, T_BAR)


def test_match_bar_when_slippage_passes_the_stop_limit_then_fills_at_its_limit() -> None:
    engine = long_position()
    engine.submit(stop_limit(SELL, 49000, "48995.0"), T_BAR)
    [fill] = engine.match_bar(bar(49500, 49600, 48800, 49100))
    # 49000 * 0.9998 = 48990.2 < 48995.0: capped
    # P&L (48995.0 - 50010.0) * 0.01 = -10.15; fee 48995.0 * 0.01 * 0.0005 = 0.244975
    assert summary(fill) == (D("48995.0"), D("0.244975"), Liquidity.TAKER, D("-10.15"))


def test_match_bar_when_range_triggers_unmarketable_stop_limit_then_no_fill_in_that_bar() -> None:
    engine = long_position()
    order = engine.submit(stop_limit(SELL, 49000, 49100), T_BAR)
    # the low triggers at 49000 where a sell at 49100 cannot trade; the high 49600 reaches
    # 49100 but maybe before the low did: conservatively, not in this candle
    assert engine.match_bar(bar(49500, 49600, 48800, 49200)) == []
    assert (order.status, order.triggered_ms, order.updated_ms) == (OrderStatus.NEW, T_BAR, T_BAR)
    assert engine.trigger_bounds() == TriggerBounds(falling=None, rising=D("49100"))
    [fill] = engine.match_bar(bar(49050, 49150, 49000, 49100, t=T_BAR + 300_000))
    # a resting limit now: exactly 49100 as a maker; fee 49100 * 0.01 * 0.0002 = 0.0982
    # P&L (49100 - 50010.0) * 0.01 = -9.1
    assert summary(fill) == (D("49100"), D("0.0982"), Liquidity.MAKER, D("-9.1"))
    assert fill.time_ms == T_BAR + 300_000


def test_match_bar_when_open_gaps_through_stop_limit_then_takes_at_the_open() -> None:
    engine = long_position()
    engine.submit(stop_limit(SELL, 49000, 48900), T_BAR)
    [fill] = engine.match_bar(bar(48950, 49000, 48000, 48500))
    # gap: 48950 >= 48900 marketable; 48950 * 0.9998 = 48940.21 -> down to 48940.2
    # P&L (48940.2 - 50010.0) * 0.01 = -10.698; fee 48940.2 * 0.01 * 0.0005 = 0.244701
    assert summary(fill) == (D("48940.2"), D("0.244701"), Liquidity.TAKER, D("-10.698"))


@pytest.mark.parametrize(("high", "fills"), [("48950", 1), ("48850", 0)])
def test_match_bar_when_open_gaps_past_the_stop_limits_price_then_it_rests_from_the_open(
    high: str, fills: int
) -> None:
    # triggered by the open at 48800 where a sell at 48900 cannot trade: it rests from the
    # open, so the candle's range after the open may fill it
    engine = long_position()
    order = engine.submit(stop_limit(SELL, 49000, 48900), T_BAR)
    result = engine.match_bar(bar(48800, high, 48000, 48500))
    assert order.triggered_ms == T_BAR
    assert len(result) == fills
    if fills:
        # 48900 as a maker: fee 48900 * 0.01 * 0.0002 = 0.0978; P&L (48900 - 50010.0) * 0.01
        assert summary(result[0]) == (D("48900"), D("0.0978"), Liquidity.MAKER, D("-11.1"))


def test_match_bar_when_short_take_profit_limit_triggers_then_takes_within_its_limit() -> None:
    engine = short_position()
    engine.submit(take_profit_limit(BUY, 48000, 48050), T_BAR)
    [fill] = engine.match_bar(bar(49000, 49100, 47900, 48500))
    # 48000 <= 48050: marketable; 48000 * 1.0002 = 48009.6 <= 48050
    # P&L (49990.0 - 48009.6) * 0.01 = 19.804; fee 48009.6 * 0.01 * 0.0005 = 0.240048
    assert summary(fill) == (D("48009.6"), D("0.240048"), Liquidity.TAKER, D("19.804"))
    assert fill.order_type is OrderType.TAKE_PROFIT


def test_match_bar_when_short_stop_limit_slips_past_its_limit_then_buys_at_the_limit() -> None:
    engine = short_position()
    engine.submit(stop_limit(BUY, 51000, "51005.0"), T_BAR)
    [fill] = engine.match_bar(bar(50500, 51100, 50400, 50800))
    # 51000 * 1.0002 = 51010.2 > 51005.0: capped
    # P&L (49990.0 - 51005.0) * 0.01 = -10.15; fee 51005.0 * 0.01 * 0.0005 = 0.255025
    assert summary(fill) == (D("51005.0"), D("0.255025"), Liquidity.TAKER, D("-10.15"))


def test_match_bar_when_buy_stop_limit_opens_a_position_then_long_at_the_taker_price() -> None:
    engine = seeing(50000)
    engine.submit(stop_limit(BUY, 50500, 50600, reduce_only=False), T_SUBMIT)
    [fill] = engine.match_bar(bar(50100, 50700, 50000, 50400))
    # 50500 * 1.0002 = 50510.1 <= 50600; fee 50510.1 * 0.01 * 0.0005 = 0.2525505
    assert summary(fill) == (D("50510.1"), D("0.2525505"), Liquidity.TAKER, D("0"))
    assert engine.position() == Position(
        PositionSide.BOTH, Direction.LONG, QTY, D("50510.1"), T_BAR
    )


def test_match_bar_when_stop_limit_and_take_profit_both_touched_then_stop_limit_first() -> None:
    engine = long_position()
    stop = engine.submit(stop_limit(SELL, 49000, 48900), T_BAR)
    take = engine.submit(
        OrderRequest(
            SELL, OrderType.TAKE_PROFIT_MARKET, None, trigger_price=D("52000"), close_position=True
        ),
        T_BAR,
    )
    [fill] = engine.match_bar(bar(50500, 52100, 48900, 51000))
    assert (fill.order_id, fill.price) == (stop.order_id, D("48990.2"))  # pessimistic
    assert take.status is OrderStatus.CANCELED


def test_match_bar_when_stop_limit_rests_after_trigger_then_take_profit_may_still_fill() -> None:
    engine = long_position()
    stop = engine.submit(stop_limit(SELL, 49000, 49100), T_BAR)
    take = engine.submit(
        OrderRequest(
            SELL, OrderType.TAKE_PROFIT_MARKET, None, trigger_price=D("52000"), close_position=True
        ),
        T_BAR,
    )
    # the stop triggers first but cannot sell at 49100 at 49000; the take-profit then fills
    [fill] = engine.match_bar(bar(50500, 52100, 48900, 51000))
    # 52000 * 0.9998 = 51989.6; P&L (51989.6 - 50010.0) * 0.01 = 19.796
    assert (fill.order_id, fill.price, fill.realized_pnl) == (
        take.order_id,
        D("51989.6"),
        D("19.796"),
    )
    assert (stop.status, stop.cancel_reason) == (OrderStatus.CANCELED, "position closed")


def test_match_bar_when_ioc_stop_limit_triggers_unmarketable_then_expires() -> None:
    engine = long_position()
    order = engine.submit(stop_limit(SELL, 49000, 49100, tif=IOC), T_BAR)
    assert engine.match_bar(bar(49500, 49600, 48800, 49200)) == []
    assert (order.status, order.cancel_reason) == (
        OrderStatus.EXPIRED,
        "IOC limit 49100 not marketable at 49000",
    )
    assert engine.open_orders() == []


@pytest.mark.parametrize(
    ("price", "status", "reason"),
    [
        ("48900", OrderStatus.EXPIRED, "post-only limit 48900 would take liquidity at 49000"),
        ("49100", OrderStatus.NEW, ""),  # not marketable at the trigger: rests as a maker
    ],
)
def test_match_bar_when_post_only_stop_limit_triggers_then_expires_only_if_it_would_take(
    price: str, status: OrderStatus, reason: str
) -> None:
    engine = long_position()
    order = engine.submit(stop_limit(SELL, 49000, price, tif=POST_ONLY), T_BAR)
    assert engine.match_bar(bar(49500, 49600, 48800, 49200)) == []
    assert (order.status, order.cancel_reason, order.triggered_ms) == (status, reason, T_BAR)


@st.composite
def candles_around(draw: st.DrawFn) -> Bar:
    """Candles from 47000 to 52000 in whole dollars: gaps, touches and misses of 49000."""
    open_, close = (draw(st.integers(47_000, 52_000)) for _ in range(2))
    high = max(open_, close) + draw(st.integers(0, 2_000))
    low = min(open_, close) - draw(st.integers(0, 2_000))
    return bar(open_, high, low, close)


def expected_stop_limit_fill(candle: Bar, limit_price: Decimal) -> tuple[Decimal, Liquidity] | None:
    """The rule written out for a sell STOP at 49000: gap, range trigger, then the limit."""
    trigger = D("49000")
    if candle.open <= trigger:  # triggered by the open
        if candle.open >= limit_price:
            taker = BTC.taker_price(candle.open * D("0.9998"), SELL)
            return max(taker, limit_price), Liquidity.TAKER
        if candle.high >= limit_price:  # rests from the open; the range reaches it later
            return limit_price, Liquidity.MAKER
        return None
    if candle.low <= trigger and trigger >= limit_price:
        taker = BTC.taker_price(trigger * D("0.9998"), SELL)
        return max(taker, limit_price), Liquidity.TAKER
    return None  # untouched, or triggered by the range where the limit cannot trade


@given(candle=candles_around(), limit_dollars=st.integers(48_500, 49_500))
def test_stop_limit_property_then_never_sells_below_its_limit_and_follows_the_rule(
    candle: Bar, limit_dollars: int
) -> None:
    limit_price = D(limit_dollars)
    engine = long_position()
    order: Order = engine.submit(stop_limit(SELL, 49000, limit_price), T_BAR)
    fills = engine.match_bar(candle)
    expected = expected_stop_limit_fill(candle, limit_price)
    assert (order.triggered_ms is not None) == (candle.low <= D("49000"))
    if expected is None:
        assert fills == []
        return
    [fill] = fills
    assert fill.price >= limit_price
    assert (fill.price, fill.liquidity) == expected
    assert fill.realized_pnl == (fill.price - LONG_ENTRY) * QTY
