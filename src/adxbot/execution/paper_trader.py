"""The paper trader: the backtest's account, fed by real market data, kept in the database.

It runs `SimulatedAccount` (the very code the backtester runs) on the candles the bot
receives from BingX: a market order decided on a closed candle fills at the open of the
next one, with the configured slippage and taker fee; every entry gets a resting
stop-loss and take-profit in the simulated book, matched against each closed candle by
the backtest's rules.  So a paper run over some candles makes exactly the trades a
backtest of those candles makes.

Every step (a candle, a signal) is one database transaction: the orders, fills,
positions, trades, events and the account's snapshot are written together or not at all,
so a restart (or a crash) resumes from the last completed step.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal

from adxbot.backtest.results import SkippedSignal, TradeRecord
from adxbot.clock import Clock
from adxbot.config import BotConfig
from adxbot.domain.enums import Direction, ExitReason, OrderStatus, PositionSide
from adxbot.domain.ids import ClientOrderId, OrderId
from adxbot.engine.orders import Fill, Order
from adxbot.errors import InvalidOrder
from adxbot.execution.simulated_account import OpenTrade, SimulatedAccount
from adxbot.execution.trader import (
    AccountStatus,
    ExecutionReport,
    MarketUpdate,
    PositionView,
    ReconciliationReport,
    Signal,
)
from adxbot.persistence.records import (
    ClosedTrade,
    EquitySnapshot,
    EventKind,
    EventRecord,
    FillRecord,
    OrderPurpose,
    OrderRecord,
    PositionRecord,
    Severity,
    TradingMode,
)
from adxbot.persistence.store import TradeStore
from adxbot.risk.manager import RiskManager

log = logging.getLogger(__name__)

STATE_KEY = "paper.account"
ZERO = Decimal(0)


@dataclass(slots=True)
class _StepLog:
    placed: list[str] = field(default_factory=list)
    denied: list[str] = field(default_factory=list)
    closed: list[ClosedTrade] = field(default_factory=list)


class PaperTrader:
    """A simulated account on real market data, with exchange-style resting SL/TP orders."""

    def __init__(
        self,
        config: BotConfig,
        store: TradeStore,
        risk: RiskManager,
        clock: Clock,
        *,
        id_prefix: str = "adxp",
    ) -> None:
        self._config = config
        self._store = store
        self._risk = risk
        self._clock = clock
        self._id_prefix = id_prefix
        self._step = _StepLog()
        self._position_id: int | None = None
        self._opened_ms = self._matched_ms = self._acted_ms = -1
        self._load()

    @property
    def mode(self) -> TradingMode:
        """Return PAPER."""
        return TradingMode.PAPER

    @property
    def last_candle_open_ms(self) -> int:
        """Return the open time of the latest candle whose open the account has seen."""
        return self._opened_ms

    # ------------------------------------------------------------------ Trader
    def candle_scope(self) -> AbstractContextManager[None]:
        """Return one database transaction for the whole candle (done wholly or not)."""
        return self._store.transaction()

    async def execute_signal(self, signal: Signal) -> ExecutionReport:
        """Act on a closed candle's signal; an entry fills at the next candle's open."""
        candle_ms = signal.candle.open_time_ms
        if candle_ms <= self._acted_ms:
            log.warning("a signal on the candle of %d was already executed: ignored", candle_ms)
            return ExecutionReport((), "already executed for this candle")
        with self._atomic_step():
            self._account.act(signal.action, signal.candle)
            self._acted_ms = candle_ms
            self._finish_step()
            step = self._step
        return ExecutionReport(tuple(step.placed), "; ".join(step.denied) or None)

    async def monitor_positions(self, update: MarketUpdate) -> list[ClosedTrade]:
        """Feed a closed candle and/or the next open to the simulated book; record what fills."""
        with self._atomic_step():
            bar = update.closed
            if bar is not None and bar.open_time_ms <= self._matched_ms:
                log.warning("the candle of %d was already matched: ignored", bar.open_time_ms)
                bar = None
            if bar is not None:
                self._matched_ms = bar.open_time_ms
                self._open(bar.open, bar.open_time_ms)
                self._account.close_candle(bar, 0)
                self._mark(bar.close, bar.open_time_ms + self._config.timeframe.ms)
            if update.open_price is not None and update.opened_at_ms is not None:
                self._open(update.open_price, update.opened_at_ms)
            self._finish_step()
            return list(self._step.closed)

    async def held_direction(self) -> Direction | None:
        """Return the direction of the simulated position (None when flat)."""
        trade = self._account.open_trade
        return None if trade is None else trade.direction

    async def get_account_status(self) -> AccountStatus:
        """Return the simulated account marked to the last price it saw."""
        return self._status(self._account.engine.last_price, self._clock.now_ms())

    async def close_all_positions(self, reason: str) -> list[ClosedTrade]:
        """Cancel every order and close the position at the last price seen."""
        price = self._account.engine.last_price
        now = self._clock.now_ms()
        with self._atomic_step():
            if price is not None:
                self._account.close_at(price, now, 0, ExitReason.MANUAL)
            else:
                self._account.engine.cancel_all(now, reason)
            self._event(EventKind.ORDER, f"close all: {reason}", Severity.WARNING)
            self._finish_step()
            return list(self._step.closed)

    async def reconcile_positions(self) -> ReconciliationReport:
        """Check that the database's open positions and orders match the simulated book."""
        problems: list[str] = []
        engine = self._account.engine
        held = engine.positions()
        recorded = self._store.open_positions()
        if len(held) != len(recorded):
            problems.append(
                f"the account holds {len(held)} position(s), the database {len(recorded)}"
            )
        for position in held:
            match = [
                r
                for r in recorded
                if r.direction is position.direction and r.quantity == position.quantity
            ]
            if not match:
                problems.append(
                    f"{position.direction.value} {position.quantity} @ {position.entry_price} "
                    "has no matching open position in the database"
                )
        book = {o.client_order_id for o in engine.open_orders()}
        stored = {o.client_order_id for o in self._store.open_orders()}
        for missing in sorted(str(c) for c in book - stored if c is not None):
            problems.append(f"open order {missing} is not in the database")
        for extra in sorted(str(c) for c in stored - book):
            problems.append(f"the database lists order {extra} as open; the book does not")
        if problems:
            self._event(
                EventKind.RECONCILIATION,
                f"{len(problems)} discrepancies between the database and the paper account",
                Severity.CRITICAL,
                {"discrepancies": problems},
            )
        return ReconciliationReport(not problems, tuple(problems))

    # ------------------------------------------------------------------ account listener
    def order_placed(self, order: Order, purpose: OrderPurpose) -> None:
        """Store an order the simulated book accepted."""
        request = order.request
        assert request.client_order_id is not None
        self._store.add_order(
            OrderRecord(
                client_order_id=request.client_order_id,
                purpose=purpose,
                side=request.side,
                position_side=request.position_side,
                order_type=request.order_type,
                quantity=request.quantity,
                price=request.price,
                trigger_price=request.trigger_price,
                reduce_only=request.reduce_only,
                close_position=request.close_position,
                status=order.status,
                created_ms=order.created_ms,
                updated_ms=order.updated_ms,
                exchange_order_id=order.order_id,
                position_id=None if purpose is OrderPurpose.ENTRY else self._position_id,
            )
        )
        self._step.placed.append(request.client_order_id)

    def order_filled(self, fill: Fill, purpose: OrderPurpose) -> None:
        """Store a fill and the order's new status."""
        assert fill.client_order_id is not None
        self._store.add_fill(
            FillRecord(
                client_order_id=fill.client_order_id,
                side=fill.side,
                quantity=fill.quantity,
                price=fill.price,
                fee=fill.fee,
                liquidity=fill.liquidity,
                realized_pnl=fill.realized_pnl,
                time_ms=fill.time_ms,
                exchange_order_id=fill.order_id,
            )
        )
        self._store.update_order(fill.client_order_id, OrderStatus.FILLED, fill.time_ms)

    def position_opened(self, trade: OpenTrade) -> None:
        """Store a new position and link its entry and protective orders to it."""
        record = self._store.add_position(
            PositionRecord(
                direction=trade.direction,
                position_side=PositionSide.BOTH,
                quantity=trade.quantity,
                entry_price=trade.entry_price,
                opened_ms=trade.entry_time_ms,
                signal_time_ms=trade.signal_time_ms,
                entry_fee=trade.entry_fee,
                stop_loss=trade.stop_price if trade.stop_order is not None else None,
                take_profit=trade.take_profit_price,
            )
        )
        self._position_id = record.position_id
        for order in self._store.open_orders():
            if order.position_id is None and order.purpose is not OrderPurpose.ENTRY:
                self._store.update_order(
                    order.client_order_id,
                    order.status,
                    trade.entry_time_ms,
                    position_id=record.position_id,
                )
        self._event(
            EventKind.TRADE_OPENED,
            f"opened {trade.direction.value} {trade.quantity} @ {trade.entry_price}"
            f" (SL {record.stop_loss}, TP {record.take_profit})",
            data={"position_id": record.position_id},
        )

    def trade_closed(self, trade: TradeRecord) -> None:
        """Store a closed trade, close its position and tell the breakers."""
        position_id = self._position_id
        if position_id is not None:
            position = self._store.position(position_id)
            if position is not None:
                self._store.update_position(
                    replace(position, closed_ms=trade.exit_time_ms, funding=trade.funding)
                )
        stored = self._store.add_trade(
            ClosedTrade(
                position_id=position_id if position_id is not None else 0,
                direction=trade.direction,
                signal_time_ms=trade.signal_time_ms,
                entry_time_ms=trade.entry_time_ms,
                entry_price=trade.entry_price,
                quantity=trade.quantity,
                exit_time_ms=trade.exit_time_ms,
                exit_price=trade.exit_price,
                exit_reason=trade.exit_reason,
                pnl=trade.pnl,
                fees=trade.fees,
                funding=trade.funding,
            )
        )
        self._position_id = None
        self._step.closed.append(stored)
        self._event(
            EventKind.TRADE_CLOSED,
            f"closed {trade.direction.value} @ {trade.exit_price} ({trade.exit_reason.value}):"
            f" P&L {trade.pnl:+.4f} USDT",
            data={"trade_id": stored.trade_id, "pnl": str(trade.pnl)},
        )
        log.info(
            "trade closed: %s %s -> %s (%s), P&L %+.4f USDT",
            trade.direction.value,
            trade.entry_price,
            trade.exit_price,
            trade.exit_reason.value,
            trade.pnl,
        )
        self._risk.breakers.on_trade_closed(trade.pnl)

    def entry_declined(self, skipped: SkippedSignal) -> None:
        """Store a declined entry with its reason."""
        self._step.denied.append(skipped.reason)
        self._event(
            EventKind.RISK_DENIED,
            skipped.reason,
            Severity.WARNING,
            {"direction": skipped.direction.value, "signal_time_ms": skipped.signal_time_ms},
        )
        log.warning("entry declined: %s", skipped.reason)

    # ------------------------------------------------------------------ internals
    def _load(self) -> None:
        """Build the account from the last committed snapshot (a fresh one without)."""
        self._account = SimulatedAccount(
            self._config, sizer=self._risk.assess_entry, id_prefix=self._id_prefix, listener=self
        )
        self._opened_ms = -1
        """Open time of the latest candle whose open price the account has seen."""
        self._matched_ms = -1  # the latest closed candle matched against resting orders
        self._acted_ms = -1  # the latest candle whose signal was executed
        self._position_id = None
        saved = self._store.state(STATE_KEY)
        if saved is not None:
            data = json.loads(saved)
            self._account.restore(data["account"])
            self._opened_ms = int(data["opened_ms"])
            self._matched_ms = int(data.get("matched_ms", -1))
            self._acted_ms = int(data.get("acted_ms", -1))
            self._position_id = data["position_id"]

    @contextmanager
    def _atomic_step(self) -> Iterator[None]:
        """Run one step in one transaction; if it fails, forget its effects in memory too."""
        self._step = _StepLog()
        try:
            with self._store.transaction():
                yield
        except BaseException:
            # The database kept nothing of the step, so neither may the account: otherwise
            # the next step would commit a snapshot past fills and trades never recorded.
            self._load()
            raise

    def _open(self, price: Decimal, time_ms: int) -> None:
        if time_ms > self._opened_ms:
            self._account.open_candle(price, time_ms, 0)
            self._opened_ms = time_ms

    def _mark(self, price: Decimal, time_ms: int) -> None:
        status = self._status(price, time_ms)
        self._store.add_equity(
            EquitySnapshot(
                time_ms=time_ms,
                balance=status.balance,
                equity=status.equity,
                unrealized_pnl=status.unrealized_pnl,
                open_positions=len(status.positions),
            )
        )
        self._store.set_info("last_price", str(price))
        self._risk.breakers.on_equity(status.equity)

    def _status(self, price: Decimal | None, time_ms: int) -> AccountStatus:
        engine = self._account.engine
        trade = self._account.open_trade
        views: list[PositionView] = []
        for position in engine.positions():
            unrealized = ZERO if price is None else position.unrealized_pnl(price)
            stop = take = None
            if trade is not None and trade.direction is position.direction:
                stop = trade.stop_price if trade.stop_order is not None else None
                take = trade.take_profit_price
            views.append(
                PositionView(
                    direction=position.direction,
                    quantity=position.quantity,
                    entry_price=position.entry_price,
                    unrealized_pnl=unrealized,
                    stop_loss=stop,
                    take_profit=take,
                    opened_ms=position.opened_ms,
                )
            )
        unrealized_total = sum((v.unrealized_pnl for v in views), ZERO)
        return AccountStatus(
            time_ms=time_ms,
            price=price,
            balance=engine.balance,
            equity=engine.balance + unrealized_total,
            unrealized_pnl=unrealized_total,
            positions=tuple(views),
            open_orders=len(engine.open_orders()),
        )

    def _finish_step(self) -> None:
        """Bring the stored order statuses up to date and save the account snapshot."""
        engine = self._account.engine
        for record in self._store.open_orders():
            if record.exchange_order_id is None:
                continue
            try:
                order = engine.order(OrderId(record.exchange_order_id))
            except InvalidOrder:
                continue  # reported by reconcile_positions
            if order.status is not record.status and order.status is not OrderStatus.FILLED:
                self._store.update_order(
                    ClientOrderId(record.client_order_id),
                    order.status,
                    order.updated_ms,
                    reason=order.cancel_reason,
                )
        snapshot = {
            "account": self._account.snapshot(),
            "opened_ms": self._opened_ms,
            "matched_ms": self._matched_ms,
            "acted_ms": self._acted_ms,
            "position_id": self._position_id,
        }
        self._store.set_state(STATE_KEY, json.dumps(snapshot), self._clock.now_ms())

    def _event(
        self,
        kind: EventKind,
        message: str,
        severity: Severity = Severity.INFO,
        data: dict[str, object] | None = None,
    ) -> None:
        self._store.add_event(
            EventRecord(self._clock.now_ms(), kind, message, severity, dict(data or {}))
        )
