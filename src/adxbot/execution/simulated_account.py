"""One trading account on the matching engine: the core the backtester and paper trader share.

It turns the strategy's actions into engine orders and the engine's fills into trades, in
the order every mode follows for each candle `k`:

1. `open_candle`: funding when candle k opens on an 8-hour funding time with a position
   open; then market orders decided on the previous candle fill at k's open (slippage
   applied), and a filled entry at once gets its stop-loss and take-profit as resting orders;
2. `close_candle`: resting orders are matched against candle k (gap at the open, then the
   range, pessimistic), and a trailing stop follows the candle;
3. `act`: the strategy's action for closed candle k, given the position held, is taken; an
   entry is sized from k's close and the equity then.

The account records closed trades and declined signals, and tells an optional listener
about every order, fill and trade, so the paper trader can store them.  `snapshot` and
`restore` carry the whole account (engine included) across a restart.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Protocol

from adxbot.backtest.results import SkippedSignal, TradeRecord
from adxbot.config import BotConfig
from adxbot.domain.candles import Bar
from adxbot.domain.enums import (
    Direction,
    ExitReason,
    OrderSide,
    OrderStatus,
    OrderType,
    TakeProfitOrderKind,
)
from adxbot.domain.ids import ClientOrderId, OrderId
from adxbot.engine.fees import FeeSchedule
from adxbot.engine.matching import MatchingEngine
from adxbot.engine.orders import Fill, Order, OrderRequest
from adxbot.engine.state import state_from_json, state_to_json
from adxbot.errors import InternalInvariantError, OrderRejected
from adxbot.persistence.records import OrderPurpose
from adxbot.risk.levels import protective_levels, trailed_stop
from adxbot.risk.sizing import SizingDecision, size_entry
from adxbot.strategy.base import Action

FUNDING_INTERVAL_MS = 8 * 3_600_000
ZERO = Decimal(0)

EntrySizer = Callable[[Direction, Decimal, Decimal, int], SizingDecision]
"""(direction, equity, price, open positions) -> a sizing decision (approve or deny)."""


@dataclass(slots=True)
class OpenTrade:
    """The position the account holds, as a trade in progress."""

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
    take_profit_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class _Tag:
    purpose: OrderPurpose
    exit_reason: ExitReason | None
    signal_time_ms: int | None = None
    """For entries: the open time of the candle whose signal decided it."""


class AccountListener(Protocol):
    """Receives what the account does, in the order it happens."""

    def order_placed(self, order: Order, purpose: OrderPurpose) -> None:
        """Record an order the engine accepted."""

    def order_filled(self, fill: Fill, purpose: OrderPurpose) -> None:
        """Record a fill."""

    def position_opened(self, trade: OpenTrade) -> None:
        """Record a position that an entry fill opened (protection already placed)."""

    def trade_closed(self, trade: TradeRecord) -> None:
        """Record a round trip that an exit fill completed."""

    def entry_declined(self, skipped: SkippedSignal) -> None:
        """Record an entry signal that was not traded, with the reason."""


class SimulatedAccount:
    """The strategy's account on an in-process matching engine."""

    def __init__(
        self,
        config: BotConfig,
        *,
        engine: MatchingEngine | None = None,
        sizer: EntrySizer | None = None,
        id_prefix: str = "bt",
        listener: AccountListener | None = None,
    ) -> None:
        self._config = config
        self._instrument = config.instrument()
        self.engine = engine or MatchingEngine(
            self._instrument,
            FeeSchedule.from_config(config.fees),
            balance=config.initial_capital,
            leverage=config.leverage,
        )
        self._sizer = sizer or self._size_plainly
        self._prefix = id_prefix
        self._listener = listener
        self.trades: list[TradeRecord] = []
        self.skipped: list[SkippedSignal] = []
        self.open_trade: OpenTrade | None = None
        self._tags: dict[OrderId, _Tag] = {}
        self._pending_entries: set[OrderId] = set()
        self._sequence = 0

    # ------------------------------------------------------------------ the candle steps
    def open_candle(self, price: Decimal, time_ms: int, index: int) -> None:
        """Candle `index` opened at `price`: charge funding, fill waiting market orders."""
        trade = self.open_trade
        rate = self._config.fees.funding_rate_per_8h
        if trade is not None and rate != 0 and time_ms % FUNDING_INTERVAL_MS == 0:
            for payment in self.engine.apply_funding(rate, price, time_ms):
                trade.funding += payment.amount
        for fill in self.engine.fill_market_orders(price, time_ms):
            self._on_fill(fill, index, time_ms, price)
        for order_id in list(self._pending_entries):
            order = self.engine.order(order_id)
            if not order.is_open:  # refused at the fill (e.g. margin after a gap)
                self._pending_entries.discard(order_id)
                tag = self._tags.pop(order_id)
                direction = _direction_of(order)
                reason = f"entry order {order.status.value}: {order.cancel_reason}"
                self._decline(SkippedSignal(tag.signal_time_ms or time_ms, direction, reason))

    def close_candle(self, bar: Bar, index: int) -> None:
        """Candle `index` closed: match resting orders against it, trail the stop."""
        for fill in self.engine.match_bar(bar):
            self._on_fill(fill, index, bar.open_time_ms, bar.open)
        if self._config.exit_strategy.trailing_stop and self.open_trade is not None:
            self._trail_stop(self.open_trade, bar)

    def act(self, action: Action, bar: Bar) -> None:
        """Take the strategy's action on closed candle `bar`."""
        trade = self.open_trade
        target: Direction | None = None
        if action is Action.ENTER_LONG:
            target = Direction.LONG
        elif action is Action.ENTER_SHORT:
            target = Direction.SHORT
        elif trade is not None:
            close = OrderRequest(
                trade.direction.exit_side, OrderType.MARKET, None, close_position=True
            )
            self._submit(close, _Tag(OrderPurpose.EXIT, ExitReason.SIGNAL), bar.open_time_ms)
            if action is Action.REVERSE:
                target = trade.direction.opposite
        if target is not None:
            remaining = 0 if action is Action.REVERSE else len(self.engine.positions())
            self._enter(target, bar, open_positions=remaining)

    def close_at(self, price: Decimal, time_ms: int, index: int, reason: ExitReason) -> None:
        """Cancel every order and close the position at `price` now (end of data, stop)."""
        for order_id in list(self._pending_entries):
            tag = self._tags.pop(order_id)
            order = self.engine.order(order_id)
            direction = _direction_of(order)
            self._decline(
                SkippedSignal(tag.signal_time_ms or time_ms, direction, "no candle left to fill")
            )
        self._pending_entries.clear()
        self.engine.cancel_all(time_ms, reason.value)
        trade = self.open_trade
        if trade is None:
            return
        close = OrderRequest(trade.direction.exit_side, OrderType.MARKET, None, close_position=True)
        self._submit(close, _Tag(OrderPurpose.EXIT, reason), time_ms)
        for fill in self.engine.fill_market_orders(price, time_ms):
            self._on_fill(fill, index, time_ms, price)

    @property
    def has_pending_entry(self) -> bool:
        """Return True while an entry waits for the next price."""
        return bool(self._pending_entries)

    def purpose_of(self, order_id: OrderId) -> OrderPurpose | None:
        """Return why an open order was placed (None for orders that are no longer open)."""
        tag = self._tags.get(order_id)
        return None if tag is None else tag.purpose

    # ------------------------------------------------------------------ persistence
    def snapshot(self) -> str:
        """Return the account's whole state as JSON text (exact decimals)."""
        trade = self.open_trade
        open_ids = {o.order_id for o in self.engine.open_orders()}
        data: dict[str, Any] = {
            "engine": state_to_json(self.engine.export_state()),
            "sequence": self._sequence,
            "pending_entries": sorted(self._pending_entries),
            "tags": {
                order_id: {
                    "purpose": tag.purpose.value,
                    "exit_reason": None if tag.exit_reason is None else tag.exit_reason.value,
                    "signal_time_ms": tag.signal_time_ms,
                }
                for order_id, tag in self._tags.items()
                if order_id in open_ids
            },
            "open_trade": None if trade is None else _trade_to_dict(trade),
        }
        return json.dumps(data, sort_keys=True)

    def restore(self, text: str) -> None:
        """Continue from a `snapshot` (the account must be fresh: no orders placed yet)."""
        if self._sequence or self.trades:
            raise InternalInvariantError("restore() needs a fresh account")
        data = json.loads(text)
        self.engine = MatchingEngine.from_state(
            self._instrument,
            FeeSchedule.from_config(self._config.fees),
            state_from_json(data["engine"]),
        )
        self._sequence = int(data["sequence"])
        self._pending_entries = {OrderId(o) for o in data["pending_entries"]}
        self._tags = {
            OrderId(order_id): _Tag(
                OrderPurpose(tag["purpose"]),
                None if tag["exit_reason"] is None else ExitReason(tag["exit_reason"]),
                tag["signal_time_ms"],
            )
            for order_id, tag in data["tags"].items()
        }
        trade = data["open_trade"]
        self.open_trade = None if trade is None else _trade_from_dict(trade)

    # ------------------------------------------------------------------ internals
    def _size_plainly(
        self, direction: Direction, equity: Decimal, price: Decimal, open_positions: int
    ) -> SizingDecision:
        config = self._config
        return size_entry(
            equity=equity,
            price=price,
            stop_loss_percent=config.exit_strategy.stop_loss_percent,
            leverage=config.leverage,
            open_positions=open_positions,
            sizing=config.position_sizing,
            instrument=self._instrument,
        )

    def _decline(self, skipped: SkippedSignal) -> None:
        self.skipped.append(skipped)
        if self._listener is not None:
            self._listener.entry_declined(skipped)

    def _on_fill(self, fill: Fill, index: int, candle_ms: int, candle_open: Decimal) -> None:
        tag = self._tags.get(fill.order_id)
        if tag is None:
            raise InternalInvariantError(f"fill {fill} for an order the account did not place")
        if self._listener is not None:
            self._listener.order_filled(fill, tag.purpose)
        if tag.purpose is OrderPurpose.ENTRY:
            self._pending_entries.discard(fill.order_id)
            del self._tags[fill.order_id]
            opened = OpenTrade(
                direction=Direction.LONG if fill.side is OrderSide.BUY else Direction.SHORT,
                signal_time_ms=tag.signal_time_ms if tag.signal_time_ms is not None else candle_ms,
                entry_time_ms=fill.time_ms,
                entry_index=index,
                entry_price=fill.price,
                quantity=fill.quantity,
                entry_fee=fill.fee,
                best_price=fill.price,
            )
            self.open_trade = opened
            self._protect(opened, candle_ms)
            if self._listener is not None:
                self._listener.position_opened(opened)
            return
        trade = self.open_trade
        if trade is None or not fill.closed_position:
            raise InternalInvariantError(f"exit fill {fill} without an open trade to close")
        del self._tags[fill.order_id]
        self._forget_cancelled_orders()
        record = TradeRecord(
            signal_time_ms=trade.signal_time_ms,
            entry_time_ms=trade.entry_time_ms,
            direction=trade.direction,
            entry_price=trade.entry_price,
            quantity=trade.quantity,
            exit_time_ms=candle_ms,
            exit_price=fill.price,
            exit_reason=tag.exit_reason if tag.exit_reason is not None else ExitReason.SIGNAL,
            pnl=fill.realized_pnl - trade.entry_fee - fill.fee + trade.funding,
            fees=trade.entry_fee + fill.fee,
            entry_index=trade.entry_index,
            exit_index=index,
            funding=trade.funding,
        )
        self.trades.append(record)
        self.open_trade = None
        if self._listener is not None:
            self._listener.trade_closed(record)

    def _forget_cancelled_orders(self) -> None:
        # Filled orders keep their tag until their fill is handled (a reversal's entry
        # fills in the same batch as the exit before it).
        for order_id in list(self._tags):
            status = self.engine.order(order_id).status
            if status.is_final and status is not OrderStatus.FILLED:
                del self._tags[order_id]

    def _protect(self, trade: OpenTrade, time_ms: int) -> None:
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
                stop, _Tag(OrderPurpose.STOP_LOSS, ExitReason.STOP_LOSS), time_ms
            )
            self._submit(
                take_profit, _Tag(OrderPurpose.TAKE_PROFIT, ExitReason.TAKE_PROFIT), time_ms
            )
        except OrderRejected:
            # Never hold a position without its protection: close it at the next price.
            self.engine.cancel_all(time_ms, "protection could not be placed")
            close = OrderRequest(side, OrderType.MARKET, None, close_position=True)
            self._submit(close, _Tag(OrderPurpose.EXIT, ExitReason.PROTECTION_FAILED), time_ms)
            return
        trade.stop_order = stop_order
        trade.stop_price = levels.stop_loss
        trade.take_profit_price = levels.take_profit

    def _trail_stop(self, trade: OpenTrade, bar: Bar) -> None:
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
                request, _Tag(OrderPurpose.STOP_LOSS, ExitReason.STOP_LOSS), bar.open_time_ms
            )
        except OrderRejected:
            return  # the trailed level is already through the price: keep the old stop
        self.engine.cancel(trade.stop_order, bar.open_time_ms, "trailed")
        self._tags.pop(trade.stop_order, None)
        trade.stop_order = replacement
        trade.stop_price = new_stop

    def _enter(self, direction: Direction, bar: Bar, *, open_positions: int) -> None:
        if self._pending_entries:
            # Never two entries in flight (cannot happen in candle order; a guard for
            # replays and restarts).
            reason = "an entry order is already waiting to fill"
            self._decline(SkippedSignal(bar.open_time_ms, direction, reason))
            return
        decision = self._sizer(direction, self.engine.equity(bar.close), bar.close, open_positions)
        if not decision.approved:
            self._decline(SkippedSignal(bar.open_time_ms, direction, decision.reason))
            return
        request = OrderRequest(direction.entry_side, OrderType.MARKET, decision.quantity)
        try:
            order_id = self._submit(
                request, _Tag(OrderPurpose.ENTRY, None, bar.open_time_ms), bar.open_time_ms
            )
        except OrderRejected as e:
            self._decline(SkippedSignal(bar.open_time_ms, direction, str(e)))
            return
        self._pending_entries.add(order_id)

    def _submit(self, request: OrderRequest, tag: _Tag, time_ms: int) -> OrderId:
        self._sequence += 1
        client_id = ClientOrderId(f"{self._prefix}-{self._sequence}-{tag.purpose.value}")
        order = self.engine.submit(replace(request, client_order_id=client_id), time_ms)
        self._tags[order.order_id] = tag
        if self._listener is not None:
            self._listener.order_placed(order, tag.purpose)
        return order.order_id


def _direction_of(order: Order) -> Direction:
    return Direction.LONG if order.request.side is OrderSide.BUY else Direction.SHORT


def _trade_to_dict(trade: OpenTrade) -> dict[str, Any]:
    return {
        "direction": trade.direction.value,
        "signal_time_ms": trade.signal_time_ms,
        "entry_time_ms": trade.entry_time_ms,
        "entry_index": trade.entry_index,
        "entry_price": str(trade.entry_price),
        "quantity": str(trade.quantity),
        "entry_fee": str(trade.entry_fee),
        "best_price": str(trade.best_price),
        "funding": str(trade.funding),
        "stop_order": trade.stop_order,
        "stop_price": str(trade.stop_price),
        "take_profit_price": None
        if trade.take_profit_price is None
        else str(trade.take_profit_price),
    }


def _trade_from_dict(data: dict[str, Any]) -> OpenTrade:
    take_profit = data["take_profit_price"]
    return OpenTrade(
        direction=Direction(data["direction"]),
        signal_time_ms=int(data["signal_time_ms"]),
        entry_time_ms=int(data["entry_time_ms"]),
        entry_index=int(data["entry_index"]),
        entry_price=Decimal(data["entry_price"]),
        quantity=Decimal(data["quantity"]),
        entry_fee=Decimal(data["entry_fee"]),
        best_price=Decimal(data["best_price"]),
        funding=Decimal(data["funding"]),
        stop_order=None if data["stop_order"] is None else OrderId(data["stop_order"]),
        stop_price=Decimal(data["stop_price"]),
        take_profit_price=None if take_profit is None else Decimal(take_profit),
    )
