"""The paper trader on a real trade database: fills, exits, restarts, breakers, atomic steps.

BTC-USDT with the default config: 1000 USDT, 2 % risk at a 2 % stop, 4 % take-profit,
2 bps slippage, 0.05 % taker fee, tick 0.1.  A long decided at a close of 50000 buys
0.02 BTC (1000 USDT notional); opening at 50010 it fills at 50010 × 1.0002 = 50020.002,
rounded up against the buyer to 50020.1; its stop is 50020.1 × 0.98 = 49019.698 rounded
up toward the entry to 49019.7, its take-profit 50020.1 × 1.04 = 52020.904 rounded down
toward the entry to 52020.9.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from adxbot.clock import ManualClock
from adxbot.config import BotConfig, parse_config
from adxbot.domain.candles import Bar
from adxbot.domain.enums import Direction, ExitReason, OrderSide, OrderStatus, OrderType
from adxbot.domain.ids import ClientOrderId
from adxbot.errors import DatabaseError
from adxbot.execution.paper_trader import STATE_KEY, PaperTrader
from adxbot.execution.trader import AccountStatus, ExecutionReport, MarketUpdate, Signal
from adxbot.persistence.records import (
    ClosedTrade,
    EventKind,
    OrderPurpose,
    OrderRecord,
    TradingMode,
)
from adxbot.persistence.store import TradeStore, utc_day
from adxbot.risk.breakers import BreakerName, CircuitBreakers, RiskLimits, TradingState
from adxbot.risk.manager import RiskManager
from adxbot.strategy.base import Action

D = Decimal
CANDLE_MS = 300_000
T0 = int(datetime(2026, 1, 5, tzinfo=UTC).timestamp() * 1000)

SIGNAL_CLOSE = D("50000")
NEXT_OPEN = D("50010")
QUANTITY = D("0.02")
ENTRY = D("50020.1")
STOP = D("49019.7")
TAKE = D("52020.9")
ENTRY_FEE = ENTRY * QUANTITY * D("0.0005")
STOP_FILL = D("49009.8")  # 49019.7 × 0.9998 = 49009.896..., rounded down against the seller
STOP_PNL = (STOP_FILL - ENTRY) * QUANTITY - ENTRY_FEE - STOP_FILL * QUANTITY * D("0.0005")


def at(i: int) -> int:
    """Open time of candle `i`."""
    return T0 + i * CANDLE_MS


def candle(i: int, open_: str, high: str, low: str, close: str) -> Bar:
    return Bar(at(i), D(open_), D(high), D(low), D(close))


def quiet(i: int, close: Decimal = SIGNAL_CLOSE) -> Bar:
    """A candle that touches neither the stop nor the take-profit of the usual long."""
    return Bar(at(i), close, close + 20, close - 20, close)


def stopping(i: int) -> Bar:
    """A candle opened at NEXT_OPEN whose low runs through the usual long's stop."""
    return candle(i, "50010", "50050", "49000", "49100")


class FailingStore(TradeStore):
    """A trade store whose `add_trade` fails on demand (a full disk, a lost file)."""

    fail_add_trade = False

    def add_trade(self, trade: ClosedTrade) -> ClosedTrade:
        if self.fail_add_trade:
            raise DatabaseError("disk I/O error (injected by the test)")
        return super().add_trade(trade)


class Harness:
    """A paper trader with its store, breakers and clock, as the bot session builds them."""

    def __init__(
        self,
        path: Path,
        clock: ManualClock,
        config: BotConfig | None = None,
        store_class: type[TradeStore] = TradeStore,
    ) -> None:
        self.config = config or BotConfig()
        self.clock = clock
        self.store = store_class.open(path, TradingMode.PAPER)
        self.breakers = CircuitBreakers(RiskLimits.from_config(self.config), self.store, clock)
        risk = RiskManager(self.config, self.breakers)
        self.trader = PaperTrader(self.config, self.store, risk, clock)

    def signal(self, action: Action, bar: Bar) -> ExecutionReport:
        self.clock.set(max(self.clock.now_ms(), bar.open_time_ms + CANDLE_MS))
        return asyncio.run(self.trader.execute_signal(Signal(action, bar)))

    def open(self, i: int, price: Decimal = NEXT_OPEN) -> list[ClosedTrade]:
        self.clock.set(max(self.clock.now_ms(), at(i)))
        update = MarketUpdate(opened_at_ms=at(i), open_price=price)
        return asyncio.run(self.trader.monitor_positions(update))

    def close(self, bar: Bar) -> list[ClosedTrade]:
        self.clock.set(max(self.clock.now_ms(), bar.open_time_ms + CANDLE_MS))
        return asyncio.run(self.trader.monitor_positions(MarketUpdate(closed=bar)))

    def status(self) -> AccountStatus:
        return asyncio.run(self.trader.get_account_status())

    def enter_long(self, i: int = 0) -> None:
        """Decide a long on candle `i` (closing at 50000) and fill it at candle i+1's open."""
        self.signal(Action.ENTER_LONG, quiet(i))
        self.open(i + 1)

    def lose_once(self, i: int) -> list[ClosedTrade]:
        """Close candle `i`, go long on it, and be stopped out in candle i+1."""
        self.close(quiet(i))
        self.enter_long(i)
        return self.close(stopping(i + 1))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "p.sqlite3"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(at(0))


@pytest.fixture
def bot(path: Path, clock: ManualClock) -> Iterator[Harness]:
    harness = Harness(path, clock)
    yield harness
    harness.store.close()


def reopen(old: Harness) -> Harness:
    """Close the store and start a new trader on the same file: a restart."""
    old.store.close()
    return Harness(old.store.path, old.clock, old.config)


# ---------------------------------------------------------------------- entries


def test_execute_signal_when_enter_long_then_entry_order_recorded_without_fill(
    bot: Harness,
) -> None:
    report = bot.signal(Action.ENTER_LONG, quiet(0))

    assert report == ExecutionReport(placed=("adxp-1-entry",), denied=None)
    [order] = bot.store.orders()
    assert order.client_order_id == "adxp-1-entry"
    assert order.purpose is OrderPurpose.ENTRY
    assert order.status is OrderStatus.NEW
    assert order.side is OrderSide.BUY
    assert order.order_type is OrderType.MARKET
    assert order.quantity == QUANTITY
    assert bot.store.fills() == []
    assert bot.store.open_positions() == []
    assert bot.status().positions == ()


def test_monitor_positions_when_next_candle_opens_then_entry_fills_at_open_with_slippage(
    bot: Harness,
) -> None:
    bot.signal(Action.ENTER_LONG, quiet(0))

    closed = bot.open(1)

    assert closed == []
    [fill] = bot.store.fills()
    assert fill.client_order_id == "adxp-1-entry"
    assert fill.price == ENTRY
    assert fill.quantity == QUANTITY
    assert fill.fee == ENTRY_FEE
    assert fill.time_ms == at(1)
    entry = bot.store.order(ClientOrderId("adxp-1-entry"))
    assert entry is not None
    assert entry.status is OrderStatus.FILLED


def test_monitor_positions_when_entry_fills_then_position_stored_with_sl_and_tp(
    bot: Harness,
) -> None:
    bot.enter_long()

    [position] = bot.store.open_positions()
    assert position.direction is Direction.LONG
    assert position.quantity == QUANTITY
    assert position.entry_price == ENTRY
    assert position.stop_loss == STOP
    assert position.take_profit == TAKE
    assert position.opened_ms == at(1)
    assert position.signal_time_ms == at(0)
    assert position.entry_fee == ENTRY_FEE
    assert position.closed_ms is None


def test_monitor_positions_when_entry_fills_then_sl_and_tp_orders_open_with_position_id(
    bot: Harness,
) -> None:
    bot.enter_long()

    [position] = bot.store.open_positions()
    stop, take = bot.store.open_orders()
    assert (stop.client_order_id, stop.purpose) == ("adxp-2-stop_loss", OrderPurpose.STOP_LOSS)
    assert (stop.order_type, stop.side, stop.trigger_price) == (
        OrderType.STOP_MARKET,
        OrderSide.SELL,
        STOP,
    )
    assert (take.client_order_id, take.purpose) == ("adxp-3-take_profit", OrderPurpose.TAKE_PROFIT)
    assert (take.order_type, take.side, take.trigger_price) == (
        OrderType.TAKE_PROFIT_MARKET,
        OrderSide.SELL,
        TAKE,
    )
    for order in (stop, take):
        assert order.status is OrderStatus.NEW
        assert order.close_position
        assert order.position_id == position.position_id


def test_get_account_status_when_position_open_then_marked_to_last_price(bot: Harness) -> None:
    bot.enter_long()
    bot.close(candle(1, "50010", "50200", "49900", "50120.1"))

    status = bot.status()

    assert status.price == D("50120.1")
    assert status.balance == D(1000) - ENTRY_FEE
    [view] = status.positions
    assert view.unrealized_pnl == (D("50120.1") - ENTRY) * QUANTITY
    assert (view.stop_loss, view.take_profit) == (STOP, TAKE)
    assert status.equity == status.balance + view.unrealized_pnl
    assert status.open_orders == 2


# ---------------------------------------------------------------------- restarts


def test_restart_when_entry_pending_then_fills_at_next_open_without_duplicate_orders(
    bot: Harness,
) -> None:
    bot.signal(Action.ENTER_LONG, quiet(0))

    again = reopen(bot)
    try:
        [pending] = again.store.open_orders()
        assert (pending.client_order_id, pending.status) == ("adxp-1-entry", OrderStatus.NEW)
        assert again.status().open_orders == 1
        assert again.trader.last_candle_open_ms == -1

        again.open(1)

        assert [f.price for f in again.store.fills()] == [ENTRY]
        ids = sorted(o.client_order_id for o in again.store.orders())
        assert ids == ["adxp-1-entry", "adxp-2-stop_loss", "adxp-3-take_profit"]
        assert again.status().balance == D(1000) - ENTRY_FEE
        assert len(again.store.open_positions()) == 1
    finally:
        again.store.close()


def test_restart_when_entry_pending_then_client_ids_keep_counting_up(bot: Harness) -> None:
    bot.signal(Action.ENTER_LONG, quiet(0))
    again = reopen(bot)
    try:
        again.open(1)
        again.close(stopping(1))

        report = again.signal(Action.ENTER_LONG, quiet(2))

        assert report.placed == ("adxp-4-entry",)
        assert len(again.store.orders()) == 4
    finally:
        again.store.close()


def test_restart_when_position_open_then_same_account_status(bot: Harness) -> None:
    bot.enter_long()
    bot.close(candle(1, "50010", "50200", "49900", "50120.1"))
    before = bot.status()

    again = reopen(bot)
    try:
        assert again.status() == before
        assert again.trader.last_candle_open_ms == at(1)
        assert [o.client_order_id for o in again.store.open_orders()] == [
            "adxp-2-stop_loss",
            "adxp-3-take_profit",
        ]
    finally:
        again.store.close()


def test_restart_when_position_open_then_stop_still_closes_it_into_same_position(
    bot: Harness,
) -> None:
    bot.enter_long()
    [position] = bot.store.open_positions()

    again = reopen(bot)
    try:
        [trade] = again.close(stopping(1))

        assert trade.exit_reason is ExitReason.STOP_LOSS
        assert trade.position_id == position.position_id
        assert again.store.open_positions() == []
    finally:
        again.store.close()


# ---------------------------------------------------------------------- exits


def test_monitor_positions_when_low_touches_stop_then_trade_closed_by_stop_loss(
    bot: Harness,
) -> None:
    bot.enter_long()
    [position] = bot.store.open_positions()

    [trade] = bot.close(stopping(1))

    assert trade.exit_reason is ExitReason.STOP_LOSS
    assert trade.exit_price == STOP_FILL
    assert trade.pnl == STOP_PNL
    assert trade.position_id == position.position_id
    assert trade.trade_id is not None
    assert bot.store.trades() == [trade]
    assert bot.status().balance == D(1000) + STOP_PNL


def test_monitor_positions_when_stopped_out_then_tp_canceled_and_position_closed(
    bot: Harness,
) -> None:
    bot.enter_long()
    [position] = bot.store.open_positions()
    assert position.position_id is not None

    bot.close(stopping(1))

    stop = bot.store.order(ClientOrderId("adxp-2-stop_loss"))
    take = bot.store.order(ClientOrderId("adxp-3-take_profit"))
    assert stop is not None
    assert take is not None
    assert stop.status is OrderStatus.FILLED
    assert take.status is OrderStatus.CANCELED
    assert take.reason == "position closed"
    assert bot.store.open_orders() == []
    stored = bot.store.position(position.position_id)
    assert stored is not None
    assert stored.closed_ms == at(1)
    assert bot.store.open_positions() == []
    assert bot.status().positions == ()


def test_monitor_positions_when_stopped_out_then_daily_pnl_and_losing_streak_count_it(
    bot: Harness,
) -> None:
    bot.enter_long()

    [trade] = bot.close(stopping(1))

    day = bot.store.daily_pnl(utc_day(trade.exit_time_ms))
    assert day is not None
    assert day.trades == 1
    assert day.realized_pnl == STOP_PNL
    assert bot.store.state("breakers.loss_streak") == "1"
    assert bot.breakers.state is TradingState.ACTIVE
    [event] = bot.store.events(kinds={EventKind.TRADE_CLOSED})
    assert "stop_loss" in event.message


def test_execute_signal_when_three_losses_in_a_row_then_entry_denied_by_consecutive_losses(
    path: Path, clock: ManualClock
) -> None:
    # Wide daily-loss and drawdown limits, so the losing streak is the only breaker to trip.
    config = parse_config(
        {"risk_management": {"daily_loss_limit_percent": 50, "max_drawdown_percent": 50}}
    )
    bot = Harness(path, clock, config)
    try:
        for i in (0, 2, 4):
            [trade] = bot.lose_once(i)
            assert trade.exit_reason is ExitReason.STOP_LOSS

        assert [b.name for b in bot.breakers.tripped()] == [BreakerName.CONSECUTIVE_LOSSES]
        bot.close(quiet(6))
        report = bot.signal(Action.ENTER_LONG, quiet(6))

        assert report.placed == ()
        assert report.denied is not None
        assert "consecutive_losses" in report.denied
        [denied] = bot.store.events(kinds={EventKind.RISK_DENIED})
        assert "consecutive_losses" in denied.message
        assert bot.store.open_orders() == []
        assert bot.store.trade_count() == 3
    finally:
        bot.store.close()


def test_close_all_positions_when_position_open_then_closed_at_last_price_as_manual(
    bot: Harness,
) -> None:
    bot.enter_long()
    bot.close(candle(1, "50010", "50200", "49900", "50100"))

    [trade] = asyncio.run(bot.trader.close_all_positions("test"))

    assert trade.exit_reason is ExitReason.MANUAL
    assert trade.exit_price == D("50089.9")  # 50100 × 0.9998 = 50089.98, down for the seller
    assert bot.store.trades() == [trade]
    assert bot.store.open_orders() == []
    assert bot.store.open_positions() == []
    statuses = {str(o.client_order_id): o.status for o in bot.store.orders()}
    assert statuses["adxp-2-stop_loss"] is OrderStatus.CANCELED
    assert statuses["adxp-3-take_profit"] is OrderStatus.CANCELED
    assert statuses["adxp-4-exit"] is OrderStatus.FILLED
    assert bot.status().positions == ()
    assert any("close all: test" in e.message for e in bot.store.events(kinds={EventKind.ORDER}))


def test_close_all_positions_when_flat_then_nothing_closed(bot: Harness) -> None:
    assert asyncio.run(bot.trader.close_all_positions("test")) == []
    assert bot.store.trade_count() == 0


# ---------------------------------------------------------------------- reconciliation


def test_reconcile_positions_when_normal_operation_then_consistent(bot: Harness) -> None:
    assert asyncio.run(bot.trader.reconcile_positions()).consistent
    bot.signal(Action.ENTER_LONG, quiet(0))
    assert asyncio.run(bot.trader.reconcile_positions()).consistent
    bot.open(1)
    assert asyncio.run(bot.trader.reconcile_positions()).consistent
    bot.close(stopping(1))

    report = asyncio.run(bot.trader.reconcile_positions())

    assert report.consistent
    assert report.discrepancies == ()
    assert bot.store.events(kinds={EventKind.RECONCILIATION}) == []


def test_reconcile_positions_when_database_closed_position_behind_back_then_discrepancy(
    bot: Harness,
) -> None:
    bot.enter_long()
    [position] = bot.store.open_positions()
    bot.store.update_position(replace(position, closed_ms=at(1)))

    report = asyncio.run(bot.trader.reconcile_positions())

    assert not report.consistent
    assert any("holds 1 position(s), the database 0" in d for d in report.discrepancies)
    [event] = bot.store.events(kinds={EventKind.RECONCILIATION})
    assert event.data["discrepancies"] == list(report.discrepancies)


def test_reconcile_positions_when_database_canceled_order_behind_back_then_discrepancy(
    bot: Harness,
) -> None:
    bot.enter_long()
    bot.store.update_order(ClientOrderId("adxp-3-take_profit"), OrderStatus.CANCELED, at(1))

    report = asyncio.run(bot.trader.reconcile_positions())

    assert report.discrepancies == ("open order adxp-3-take_profit is not in the database",)


# ---------------------------------------------------------------------- atomic steps


def failing_bot(path: Path, clock: ManualClock) -> tuple[Harness, FailingStore]:
    bot = Harness(path, clock, store_class=FailingStore)
    assert isinstance(bot.store, FailingStore)
    return bot, bot.store


def test_monitor_positions_when_store_fails_mid_step_then_nothing_of_step_written(
    path: Path, clock: ManualClock
) -> None:
    bot, store = failing_bot(path, clock)
    try:
        bot.enter_long()
        snapshot = store.state(STATE_KEY)
        orders = store.orders()
        fills = store.fills()
        positions = store.open_positions()
        equity = store.equity_snapshots()
        events = store.events()
        store.fail_add_trade = True

        with pytest.raises(DatabaseError, match="injected"):
            bot.close(stopping(1))

        assert store.trade_count() == 0
        assert store.state(STATE_KEY) == snapshot
        assert store.orders() == orders
        assert store.fills() == fills
        assert store.open_positions() == positions
        assert store.equity_snapshots() == equity
        assert store.events() == events
        assert store.state("breakers.loss_streak") is None
    finally:
        store.close()


def test_monitor_positions_when_step_failed_then_account_matches_database_again(
    path: Path, clock: ManualClock
) -> None:
    bot, store = failing_bot(path, clock)
    try:
        bot.enter_long()
        before = bot.status()
        store.fail_add_trade = True
        with pytest.raises(DatabaseError):
            bot.close(stopping(1))
        store.fail_add_trade = False

        assert replace(bot.status(), time_ms=before.time_ms) == before
        assert asyncio.run(bot.trader.reconcile_positions()).consistent
        [trade] = bot.close(stopping(1))  # the step is taken again, in full
        assert trade.exit_reason is ExitReason.STOP_LOSS
        assert store.trade_count() == 1
        assert store.open_orders() == []
        assert store.open_positions() == []
    finally:
        store.close()


def test_execute_signal_when_store_fails_then_no_order_and_retry_counts_from_same_id(
    path: Path, clock: ManualClock
) -> None:
    class FailingOrders(TradeStore):
        fail = True

        def add_order(self, order: OrderRecord) -> None:
            if self.fail:
                raise DatabaseError("disk I/O error (injected by the test)")
            super().add_order(order)

    bot = Harness(path, clock, store_class=FailingOrders)
    store = bot.store
    assert isinstance(store, FailingOrders)
    try:
        with pytest.raises(DatabaseError):
            bot.signal(Action.ENTER_LONG, quiet(0))
        store.fail = False

        assert store.orders() == []
        assert bot.status().open_orders == 0
        report = bot.signal(Action.ENTER_LONG, quiet(0))
        assert report.placed == ("adxp-1-entry",)
        assert bot.status().open_orders == 1
    finally:
        store.close()
