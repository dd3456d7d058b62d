"""The backtester: the strategy, the risk manager and the matching engine over historical candles.

Per candle `k` that matters, in this order (the same order paper and live mode follow):

1. funding, when the candle opens on an 8-hour funding time and a position is open;
2. market orders decided on the previous candle fill at this candle's open (with slippage);
   a filled entry immediately gets its stop-loss and take-profit as resting orders;
3. resting orders are matched against the candle (gap at the open, then the range);
4. the strategy's action for the closed candle, given the position now held, is taken:
   an entry is sized from this candle's close and the current equity.

Candles on which nothing can happen (flat and no signal; or in a position, no signal, no
funding time and a range that reaches no resting order) are skipped with a vectorised scan.
`visit_every_candle=True` processes every candle instead: the tests use it as the oracle
that the fast path must match, and trailing stops need it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum

import numpy as np

from adxbot.backtest.results import BacktestResult, SkippedSignal, TradeRecord
from adxbot.backtest.scan import first_touch
from adxbot.backtest.stats import equity_curve, summarize
from adxbot.config import BotConfig
from adxbot.domain.candles import Bar, CandleSeries
from adxbot.domain.enums import Direction, ExitReason, OrderType, TakeProfitOrderKind
from adxbot.domain.ids import ClientOrderId, OrderId
from adxbot.engine.fees import FeeSchedule
from adxbot.engine.matching import MatchingEngine
from adxbot.engine.orders import Fill, OrderRequest
from adxbot.errors import InternalInvariantError, OrderRejected
from adxbot.risk.levels import protective_levels, trailed_stop
from adxbot.risk.sizing import size_entry
from adxbot.strategy.base import Action, Strategy

FUNDING_INTERVAL_MS = 8 * 3_600_000
ZERO = Decimal(0)


class _Purpose(StrEnum):
    ENTRY = "entry"
    STOP_LOSS = "sl"
    TAKE_PROFIT = "tp"
    EXIT = "exit"


@dataclass(slots=True)
class _OpenTrade:
    direction: Direction
    signal_time_ms: int
    entry_time_ms: int
    entry_index: int
    entry_price: Decimal
    quantity: Decimal
    entry_fee: Decimal
    best_price: Decimal
    funding: Decimal = ZERO
    stop_order: OrderId | None = None
    stop_price: Decimal = ZERO


@dataclass(slots=True)
class _PendingEntry:
    direction: Direction
    signal_time_ms: int


@dataclass(slots=True)
class _BalancePoint:
    index: int
    balance: float


@dataclass(slots=True)
class _State:
    trades: list[TradeRecord] = field(default_factory=list)
    skipped: list[SkippedSignal] = field(default_factory=list)
    balance_points: list[_BalancePoint] = field(default_factory=list)
    purposes: dict[OrderId, tuple[_Purpose, ExitReason | None]] = field(default_factory=dict)
    pending_entries: dict[OrderId, _PendingEntry] = field(default_factory=dict)
    open_trade: _OpenTrade | None = None
    sequence: int = 0


class Backtester:
    """Runs one strategy over one candle series with one configuration."""

    def __init__(
        self,
        config: BotConfig,
        strategy: Strategy,
        *,
        visit_every_candle: bool = False,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._config = config
        self._strategy = strategy
        self._instrument = config.instrument()
        self._per_candle = visit_every_candle or config.exit_strategy.trailing_stop
        self._funding_rate = config.fees.funding_rate_per_8h
        self._timer = timer

    def run(self, candles: CandleSeries) -> BacktestResult:
        """Backtest `candles` and return the trades, skipped signals, equity and summary."""
        started = self._timer()
        n = len(candles)
        engine = MatchingEngine(
            self._instrument,
            FeeSchedule.from_config(self._config.fees),
            balance=self._config.initial_capital,
            leverage=self._config.leverage,
        )
        state = _State()
        signals = self._strategy.signals(candles)
        events = {
            position: np.flatnonzero(signals.column(position) != Action.HOLD)
            for position in (None, Direction.LONG, Direction.SHORT)
        }
        funding_times = (
            np.flatnonzero(candles.open_time_ms % FUNDING_INTERVAL_MS == 0)
            if self._funding_rate != 0
            else None
        )

        def next_candle(start: int) -> int:
            if self._per_candle or engine.has_waiting_market_orders():
                return start
            trade = state.open_trade
            found = _next_at_or_after(events[None if trade is None else trade.direction], start, n)
            bounds = engine.trigger_bounds()
            if bounds.falling is not None or bounds.rising is not None:
                touch = first_touch(
                    candles.low,
                    candles.high,
                    start,
                    None if bounds.falling is None else float(bounds.falling),
                    None if bounds.rising is None else float(bounds.rising),
                )
                found = min(found, touch)
            if trade is not None and funding_times is not None:
                found = min(found, _next_at_or_after(funding_times, start, n))
            return found

        k = next_candle(0)
        while k < n:
            bar = candles.bar(k)
            self._process_bar(k, bar, engine, state)
            action = signals.action(
                k, None if state.open_trade is None else state.open_trade.direction
            )
            if action is not Action.HOLD:
                self._act(action, bar, engine, state)
            k = next_candle(k + 1)

        if n:
            self._finish(n - 1, candles.bar(n - 1), engine, state)
        equity = equity_curve(
            candles.close,
            state.trades,
            _balance_arrays(state.balance_points),
            float(self._config.initial_capital),
        )
        elapsed = self._timer() - started
        summary = summarize(
            state.trades,
            len(state.skipped),
            equity,
            candles,
            initial=self._config.initial_capital,
            final=engine.balance,
            elapsed_s=elapsed,
        )
        return BacktestResult(state.trades, state.skipped, equity, summary)

    # ---------------------------------------------------------------- per candle
    def _process_bar(self, k: int, bar: Bar, engine: MatchingEngine, state: _State) -> None:
        balance_before = engine.balance
        trade = state.open_trade
        if (
            trade is not None
            and self._funding_rate != 0
            and bar.open_time_ms % FUNDING_INTERVAL_MS == 0
        ):
            for payment in engine.apply_funding(self._funding_rate, bar.open, bar.open_time_ms):
                trade.funding += payment.amount
        for fill in engine.fill_market_orders(bar.open, bar.open_time_ms):
            self._on_fill(fill, k, bar, engine, state)
        for order_id, pending in list(state.pending_entries.items()):
            order = engine.order(order_id)
            if not order.is_open:  # refused at the fill (e.g. margin after a gap)
                del state.pending_entries[order_id]
                reason = f"entry order {order.status.value}: {order.cancel_reason}"
                state.skipped.append(
                    SkippedSignal(pending.signal_time_ms, pending.direction, reason)
                )
        for fill in engine.match_bar(bar):
            self._on_fill(fill, k, bar, engine, state)
        if self._config.exit_strategy.trailing_stop and state.open_trade is not None:
            self._trail_stop(state.open_trade, bar, engine, state)
        if engine.balance != balance_before:
            state.balance_points.append(_BalancePoint(k, float(engine.balance)))

    def _on_fill(self, fill: Fill, k: int, bar: Bar, engine: MatchingEngine, state: _State) -> None:
        purpose, reason = state.purposes[fill.order_id]
        if purpose is _Purpose.ENTRY:
            pending = state.pending_entries.pop(fill.order_id)
            opened = _OpenTrade(
                direction=pending.direction,
                signal_time_ms=pending.signal_time_ms,
                entry_time_ms=fill.time_ms,
                entry_index=k,
                entry_price=fill.price,
                quantity=fill.quantity,
                entry_fee=fill.fee,
                best_price=fill.price,
            )
            state.open_trade = opened
            self._protect(opened, bar, engine, state)
            return
        trade = state.open_trade
        if trade is None or not fill.closed_position:
            raise InternalInvariantError(f"exit fill {fill} without an open trade to close")
        exit_reason = reason if reason is not None else ExitReason.SIGNAL
        state.trades.append(
            TradeRecord(
                signal_time_ms=trade.signal_time_ms,
                entry_time_ms=trade.entry_time_ms,
                direction=trade.direction,
                entry_price=trade.entry_price,
                quantity=trade.quantity,
                exit_time_ms=bar.open_time_ms,
                exit_price=fill.price,
                exit_reason=exit_reason,
                pnl=fill.realized_pnl - trade.entry_fee - fill.fee + trade.funding,
                fees=trade.entry_fee + fill.fee,
                entry_index=trade.entry_index,
                exit_index=k,
                funding=trade.funding,
            )
        )
        state.open_trade = None

    def _protect(self, trade: _OpenTrade, bar: Bar, engine: MatchingEngine, state: _State) -> None:
        exits = self._config.exit_strategy
        levels = protective_levels(
            trade.entry_price,
            trade.direction,
            exits.stop_loss_percent,
            exits.take_profit_percent,
            self._instrument,
        )
        side = trade.direction.exit_side
        if exits.take_profit_order is TakeProfitOrderKind.LIMIT:
            take_profit = OrderRequest(
                side, OrderType.LIMIT, trade.quantity, price=levels.take_profit, reduce_only=True
            )
        else:
            take_profit = OrderRequest(
                side,
                OrderType.TAKE_PROFIT_MARKET,
                None,
                trigger_price=levels.take_profit,
                close_position=True,
            )
        stop = OrderRequest(
            side, OrderType.STOP_MARKET, None, trigger_price=levels.stop_loss, close_position=True
        )
        try:
            stop_order = self._submit(
                stop, _Purpose.STOP_LOSS, ExitReason.STOP_LOSS, bar, engine, state
            )
            self._submit(
                take_profit, _Purpose.TAKE_PROFIT, ExitReason.TAKE_PROFIT, bar, engine, state
            )
        except OrderRejected:
            # Never hold a position without its protection: close it at the next price.
            engine.cancel_all(bar.open_time_ms, "protection could not be placed")
            close = OrderRequest(side, OrderType.MARKET, None, close_position=True)
            self._submit(close, _Purpose.EXIT, ExitReason.PROTECTION_FAILED, bar, engine, state)
            return
        trade.stop_order = stop_order
        trade.stop_price = levels.stop_loss

    def _trail_stop(
        self, trade: _OpenTrade, bar: Bar, engine: MatchingEngine, state: _State
    ) -> None:
        best = (
            max(trade.best_price, bar.high)
            if trade.direction is Direction.LONG
            else min(trade.best_price, bar.low)
        )
        trade.best_price = best
        new_stop = trailed_stop(
            best,
            trade.stop_price,
            trade.direction,
            self._config.exit_strategy.stop_loss_percent,
            self._instrument,
        )
        if new_stop == trade.stop_price or trade.stop_order is None:
            return
        request = OrderRequest(
            trade.direction.exit_side,
            OrderType.STOP_MARKET,
            None,
            trigger_price=new_stop,
            close_position=True,
        )
        try:
            replacement = self._submit(
                request, _Purpose.STOP_LOSS, ExitReason.STOP_LOSS, bar, engine, state
            )
        except OrderRejected:
            return  # the trailed level is already through the price: keep the old stop
        engine.cancel(trade.stop_order, bar.open_time_ms, "trailed")
        trade.stop_order = replacement
        trade.stop_price = new_stop

    def _act(self, action: Action, bar: Bar, engine: MatchingEngine, state: _State) -> None:
        trade = state.open_trade
        target: Direction | None = None
        if action is Action.ENTER_LONG:
            target = Direction.LONG
        elif action is Action.ENTER_SHORT:
            target = Direction.SHORT
        elif trade is not None:
            side = trade.direction.exit_side
            close = OrderRequest(side, OrderType.MARKET, None, close_position=True)
            self._submit(close, _Purpose.EXIT, ExitReason.SIGNAL, bar, engine, state)
            if action is Action.REVERSE:
                target = trade.direction.opposite
        if target is not None:
            remaining = 0 if action is Action.REVERSE else len(engine.positions())
            self._enter(target, bar, engine, state, open_positions=remaining)

    def _enter(
        self,
        direction: Direction,
        bar: Bar,
        engine: MatchingEngine,
        state: _State,
        *,
        open_positions: int,
    ) -> None:
        config = self._config
        decision = size_entry(
            equity=engine.equity(bar.close),
            price=bar.close,
            stop_loss_percent=config.exit_strategy.stop_loss_percent,
            leverage=config.leverage,
            open_positions=open_positions,
            sizing=config.position_sizing,
            instrument=self._instrument,
        )
        if not decision.approved:
            state.skipped.append(SkippedSignal(bar.open_time_ms, direction, decision.reason))
            return
        request = OrderRequest(direction.entry_side, OrderType.MARKET, decision.quantity)
        try:
            order_id = self._submit(request, _Purpose.ENTRY, None, bar, engine, state)
        except OrderRejected as e:
            state.skipped.append(SkippedSignal(bar.open_time_ms, direction, str(e)))
            return
        state.pending_entries[order_id] = _PendingEntry(direction, bar.open_time_ms)

    def _submit(
        self,
        request: OrderRequest,
        purpose: _Purpose,
        reason: ExitReason | None,
        bar: Bar,
        engine: MatchingEngine,
        state: _State,
    ) -> OrderId:
        state.sequence += 1
        tagged = replace(
            request, client_order_id=ClientOrderId(f"bt-{state.sequence}-{purpose.value}")
        )
        order = engine.submit(tagged, bar.open_time_ms)
        state.purposes[order.order_id] = (purpose, reason)
        return order.order_id

    def _finish(self, last: int, bar: Bar, engine: MatchingEngine, state: _State) -> None:
        for order_id, pending in list(state.pending_entries.items()):
            engine.cancel(order_id, bar.open_time_ms, "no candle left to fill it")
            state.skipped.append(
                SkippedSignal(pending.signal_time_ms, pending.direction, "no candle left to fill")
            )
        state.pending_entries.clear()
        trade = state.open_trade
        if trade is None:
            engine.cancel_all(bar.open_time_ms, "end of data")
            return
        balance_before = engine.balance
        close = OrderRequest(trade.direction.exit_side, OrderType.MARKET, None, close_position=True)
        engine.cancel_all(bar.open_time_ms, "end of data")
        self._submit(close, _Purpose.EXIT, ExitReason.END_OF_DATA, bar, engine, state)
        for fill in engine.fill_market_orders(bar.close, bar.open_time_ms):
            self._on_fill(fill, last, bar, engine, state)
        if engine.balance != balance_before:
            state.balance_points.append(_BalancePoint(last, float(engine.balance)))


def _next_at_or_after(indices: np.typing.NDArray[np.int64], start: int, n: int) -> int:
    position = int(np.searchsorted(indices, start))
    return int(indices[position]) if position < indices.shape[0] else n


def _balance_arrays(
    points: list[_BalancePoint],
) -> tuple[np.typing.NDArray[np.int64], np.typing.NDArray[np.float64]]:
    return (
        np.fromiter((p.index for p in points), dtype=np.int64, count=len(points)),
        np.fromiter((p.balance for p in points), dtype=np.float64, count=len(points)),
    )
