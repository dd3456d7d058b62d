"""The live trader: real orders on BingX, with the database kept true to the exchange.

The rules of shared/design.md, as this module keeps them:

* **Intent before action.** Every order is written to the database under a client order id
  derived from the decision (candle and purpose) and committed *before* it is sent; a
  lost answer is resolved by looking that id up (`order_placement`), never by resending
  blindly, so a retry never opens a second position.
* **Protection lives on the exchange.** Right after an entry fills, a stop-loss and a
  take-profit are placed as closing trigger orders on the mark price.  If the stop-loss
  cannot be placed, the position is closed at market at once and trading halts.
* **The exchange is the truth.** `monitor_positions` notices exits that happened on the
  exchange (stop-loss, take-profit, liquidation, a manual close) and records them with
  the exchange's prices and fees; `reconcile_positions` adopts positions the database
  does not know, closes out records the exchange no longer has and re-arms missing stops.
* **Fail closed.** What cannot be reconciled trips the reconciliation breaker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass, replace
from decimal import Decimal

from adxbot import failpoints
from adxbot.clock import Clock
from adxbot.config import BotConfig
from adxbot.domain.enums import (
    Direction,
    ExitReason,
    Liquidity,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionMode,
    PositionSide,
)
from adxbot.domain.ids import ClientOrderId
from adxbot.domain.instrument import Instrument
from adxbot.errors import OrderRejected
from adxbot.exchange.client import BingXClient
from adxbot.exchange.errors import ExchangeError, OrderNotFound
from adxbot.exchange.models import OrderReport, PositionReport
from adxbot.exchange.orders import OrderSpec
from adxbot.execution.order_placement import (
    PlacementPolicy,
    confirm_filled,
    filled,
    place_order_with_retry,
)
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
from adxbot.risk.breakers import BreakerName
from adxbot.risk.levels import protective_levels
from adxbot.risk.manager import RiskManager
from adxbot.strategy.base import Action

log = logging.getLogger("adxbot.live")
ZERO = Decimal(0)
_SUFFIX = {
    OrderPurpose.ENTRY: "e",
    OrderPurpose.STOP_LOSS: "sl",
    OrderPurpose.TAKE_PROFIT: "tp",
    OrderPurpose.EXIT: "x",
}


@dataclass(frozen=True, slots=True)
class AccountSetup:
    """What the live trader learned about the account at start-up."""

    instrument: Instrument
    position_mode: PositionMode


class LiveTrader:
    """Trades a BingX account; same interface as PaperTrader."""

    def __init__(
        self,
        config: BotConfig,
        store: TradeStore,
        risk: RiskManager,
        client: BingXClient,
        clock: Clock,
        setup: AccountSetup,
        *,
        policy: PlacementPolicy | None = None,
        id_prefix: str = "adxl",
    ) -> None:
        self._config = config
        self._store = store
        self._risk = risk
        self._client = client
        self._clock = clock
        self._instrument = setup.instrument
        self._mode = setup.position_mode
        self._policy = policy or PlacementPolicy()
        # A salt kept in this database makes its ids unique on the exchange even when a new
        # database numbers its positions from 1 again (BingX keeps old client ids).
        salt = store.info("client_id_salt")
        if salt is None:
            salt = secrets.token_hex(3)
            store.set_info("client_id_salt", salt)
        self._prefix = f"{id_prefix}{salt}"
        self._symbol = config.symbol
        self._last_positions: list[PositionReport] | None = None

    @property
    def mode(self) -> TradingMode:
        """Return LIVE."""
        return TradingMode.LIVE

    def candle_scope(self) -> contextlib.AbstractContextManager[None]:
        """Return no transaction: every intent is committed before its order is sent."""
        return contextlib.nullcontext()

    # ------------------------------------------------------------------ Trader
    async def execute_signal(self, signal: Signal) -> ExecutionReport:
        """Act on a closed candle's signal with real orders."""
        action, candle = signal.action, signal.candle
        positions = await self._exchange_positions()
        held = positions[0] if positions else None
        placed: list[str] = []
        target: Direction | None = None
        if action in (Action.ENTER_LONG, Action.ENTER_SHORT):
            target = Direction.LONG if action is Action.ENTER_LONG else Direction.SHORT
            if held is not None:
                return ExecutionReport((), f"a {held.direction.value} position is open")
        elif held is not None:  # EXIT or REVERSE
            closed = await self._close(held, candle.open_time_ms, ExitReason.SIGNAL)
            placed.extend(closed)
            if action is Action.REVERSE:
                if self._last_positions:  # the close did not go through: never flip blind
                    return ExecutionReport(tuple(placed), "the position could not be closed")
                target = held.direction.opposite
        if target is None:
            return ExecutionReport(tuple(placed))
        entry = await self._enter(target, candle.open_time_ms, candle.close, open_positions=0)
        placed.extend(entry.placed)
        return ExecutionReport(tuple(placed), entry.denied)

    async def monitor_positions(self, update: MarketUpdate) -> list[ClosedTrade]:
        """Record exits that happened on the exchange since the last look."""
        if update.closed is None:
            return []  # fills happen on the exchange; nothing to do at a candle's open
        positions = await self._exchange_positions()
        closed = await self._record_vanished(positions)
        await self._mark(update.closed.close, len(positions))
        return closed

    async def _mark(self, price: Decimal, open_positions: int) -> None:
        """Store the account's equity at a candle's close and let the breakers see it
        (daily loss, drawdown): the exchange's own figures, not an estimate."""
        balance = await self._client.get_balance()
        self._store.add_equity(
            EquitySnapshot(
                time_ms=self._clock.now_ms(),
                balance=balance.balance,
                equity=balance.equity,
                unrealized_pnl=balance.unrealized_pnl,
                open_positions=open_positions,
            )
        )
        self._store.set_info("last_price", str(price))
        self._risk.breakers.on_equity(balance.equity)

    async def held_direction(self) -> Direction | None:
        """Return the direction held on the exchange as of the last position query."""
        positions = self._last_positions
        if positions is None:
            positions = await self._exchange_positions()
        return positions[0].direction if positions else None

    async def get_account_status(self) -> AccountStatus:
        """Return the real balance, equity and positions."""
        balance = await self._client.get_balance()
        positions = await self._exchange_positions()
        orders = await self._client.get_open_orders(self._symbol)
        by_side = {p.direction: p for p in self._store.open_positions()}
        views = tuple(
            PositionView(
                direction=p.direction,
                quantity=p.quantity,
                entry_price=p.entry_price,
                unrealized_pnl=p.unrealized_pnl,
                stop_loss=getattr(by_side.get(p.direction), "stop_loss", None),
                take_profit=getattr(by_side.get(p.direction), "take_profit", None),
                opened_ms=getattr(by_side.get(p.direction), "opened_ms", 0),
            )
            for p in positions
        )
        price = positions[0].mark_price if positions else None
        return AccountStatus(
            time_ms=self._clock.now_ms(),
            price=price,
            balance=balance.balance,
            equity=balance.equity,
            unrealized_pnl=balance.unrealized_pnl,
            positions=views,
            open_orders=len(orders),
        )

    async def close_all_positions(self, reason: str) -> list[ClosedTrade]:
        """Close every position, confirm flat, then cancel every open order of the symbol
        (the exits stay while a position is open: a failed close leaves it protected)."""
        self._event(EventKind.ORDER, f"closing everything: {reason}", Severity.WARNING)
        known = {t.trade_id for t in self._store.trades()}
        key = self._clock.now_ms() * 1000 + secrets.randbelow(1000)  # unique per call
        for position in await self._exchange_positions():
            await self._close(position, key, ExitReason.MANUAL, cancel=False)
        remaining = await self._exchange_positions()
        if remaining:
            await self._client.close_all_positions(self._symbol)
            remaining = await self._wait_flat()
        if remaining:
            raise ExchangeError(
                f"still holding {len(remaining)} position(s) after closing (their stop-loss "
                "and take-profit stay): check the account"
            )
        await self._client.cancel_all_orders(self._symbol)
        await self._record_vanished([], reason=ExitReason.MANUAL)
        return [t for t in self._store.trades() if t.trade_id not in known]

    async def record_closed_positions(self, reason: ExitReason) -> list[ClosedTrade]:
        """Record, as closed for `reason`, every stored position the exchange no longer holds."""
        return await self._record_vanished(await self._exchange_positions(), reason=reason)

    async def reconcile_positions(self, *, fix: bool = True) -> ReconciliationReport:
        """Compare the exchange's positions and orders with the database; repair if `fix`."""
        problems: list[str] = []
        try:
            if fix:
                problems.extend(await self._settle_unconfirmed())
            positions = await self._exchange_positions()
            if fix:
                for trade in await self._record_vanished(positions):
                    problems.append(
                        f"the database held {trade.direction.value} {trade.quantity}, the "
                        f"exchange no longer: recorded as closed ({trade.exit_reason.value})"
                    )
            recorded = {p.direction: p for p in self._store.open_positions()}
            for held in positions:
                record = recorded.get(held.direction)
                if record is None:
                    problems.append(
                        f"the exchange holds {held.direction.value} {held.quantity} @ "
                        f"{held.entry_price} that the database does not know"
                    )
                    if fix:
                        record = self._adopt(held)
                elif record.quantity != held.quantity:
                    problems.append(
                        f"{held.direction.value}: the database says {record.quantity}, the "
                        f"exchange {held.quantity}"
                    )
                    if fix:
                        record = replace(record, quantity=held.quantity)
                        self._store.update_position(record)
                if record is not None:
                    problems.extend(await self._ensure_protection(held, record, fix=fix))
            if not fix:
                held_sides = {p.direction for p in positions}
                for direction, record in recorded.items():
                    if direction not in held_sides:
                        problems.append(
                            f"the database holds {direction.value} {record.quantity}, the "
                            "exchange has no such position"
                        )
        except ExchangeError as e:
            message = f"reconciliation failed: {e}"
            self._event(EventKind.RECONCILIATION, message, Severity.CRITICAL)
            self._risk.breakers.trip(BreakerName.RECONCILIATION, message)
            return ReconciliationReport(False, (message,))
        if problems:
            self._event(
                EventKind.RECONCILIATION,
                f"{len(problems)} discrepancies" + (" repaired" if fix else " found"),
                Severity.WARNING,
                {"discrepancies": problems},
            )
        # Repaired discrepancies leave the account consistent; unrepaired ones do not.
        return ReconciliationReport(fix or not problems, tuple(problems))

    # ------------------------------------------------------------------ entries and exits
    async def _enter(
        self, direction: Direction, candle_ms: int, price: Decimal, *, open_positions: int
    ) -> ExecutionReport:
        client_id = self._client_id(OrderPurpose.ENTRY, candle_ms)
        if self._store.order(client_id) is not None:
            return ExecutionReport((), "this candle's entry was already sent")
        balance = await self._client.get_balance()
        decision = self._risk.assess_entry(direction, balance.equity, price, open_positions)
        if not decision.approved:
            self._event(
                EventKind.RISK_DENIED,
                decision.reason,
                Severity.WARNING,
                {"direction": direction.value, "signal_time_ms": candle_ms},
            )
            return ExecutionReport((), decision.reason)
        spec = self._spec(OrderPurpose.ENTRY, direction, client_id, quantity=decision.quantity)
        report = await self._send(spec, OrderPurpose.ENTRY)
        if report is None:
            return ExecutionReport((), "entry rejected")
        final = await confirm_filled(
            self._client, self._symbol, report, self._policy, clock=time.monotonic
        )
        failpoints.reached("entry.filled")
        self._record_order_state(client_id, final)
        if not filled(final):
            self._event(EventKind.ORDER, f"entry {client_id} did not fill", Severity.WARNING)
            return ExecutionReport((client_id,), "entry did not fill")
        entry_price = final.average_price or price
        record = self._store.add_position(
            PositionRecord(
                direction=direction,
                position_side=self._position_side(direction),
                quantity=final.filled_quantity,
                entry_price=entry_price,
                opened_ms=final.updated_ms or self._clock.now_ms(),
                signal_time_ms=candle_ms,
                entry_fee=final.commission,
                stop_loss=None,
                take_profit=None,
            )
        )
        self._store.update_order(
            client_id, OrderStatus.FILLED, self._clock.now_ms(), position_id=record.position_id
        )
        self._event(
            EventKind.TRADE_OPENED,
            f"opened {direction.value} {final.filled_quantity} @ {entry_price}",
            data={"position_id": record.position_id},
        )
        placed = [client_id, *await self._protect(record)]
        return ExecutionReport(tuple(placed))

    async def _protect(
        self, position: PositionRecord, *, stop_loss: bool = True, take_profit: bool = True
    ) -> list[str]:
        """Place the stop-loss and take-profit on the exchange; never leave it naked."""
        exits = self._config.exit_strategy
        levels = protective_levels(
            position.entry_price,
            position.direction,
            exits.stop_loss_percent,
            exits.take_profit_percent,
            self._instrument,
        )
        assert position.position_id is not None
        key = position.position_id
        arming = self._arming(key)
        stop_id = self._client_id(OrderPurpose.STOP_LOSS, key, arming)
        stop = self._spec(
            OrderPurpose.STOP_LOSS, position.direction, stop_id, stop_price=levels.stop_loss
        )
        placed: list[str] = []
        if stop_loss and await self._send(stop, OrderPurpose.STOP_LOSS, key) is None:
            held = await self._exchange_positions()
            if not any(p.direction is position.direction for p in held):
                # Gone meanwhile (its old stop fired, or a hand closed it): nothing to protect.
                await self._record_vanished(held)
                return [stop_id]
            reason = (
                f"the stop-loss of {position.direction.value} {position.quantity} could not be "
                "placed: closing the position at market"
            )
            log.critical(reason)
            self._risk.breakers.trip(BreakerName.RECONCILIATION, reason)
            for report in held:
                if report.direction is position.direction:
                    await self._close(report, key, ExitReason.PROTECTION_FAILED)
            return [stop_id]
        take_id = self._client_id(OrderPurpose.TAKE_PROFIT, key, arming)
        take = self._spec(
            OrderPurpose.TAKE_PROFIT, position.direction, take_id, stop_price=levels.take_profit
        )
        if stop_loss:
            placed.append(stop_id)
        taken = not take_profit or await self._send(take, OrderPurpose.TAKE_PROFIT, key) is not None
        if take_profit and taken:
            placed.append(take_id)
        self._store.update_position(
            replace(position, stop_loss=levels.stop_loss, take_profit=levels.take_profit)
        )
        if not taken:
            await self._take_profit_now(position, levels.take_profit, key)
        return placed

    async def _take_profit_now(self, position: PositionRecord, level: Decimal, key: int) -> None:
        """Close at market a position whose take-profit level the price has already passed.

        BingX refuses a trigger that would fire at once, so the take-profit of a position
        whose price moved beyond it (while the bot was down, or between the fill and the
        protection) cannot be placed: the exit it stands for is taken now.  Any other
        refusal leaves the stop-loss protecting and the next reconciliation tries again.
        """
        price = await self._client.get_current_price(self._symbol)
        if (price - level) * position.direction.sign < 0:
            log.warning(
                "take-profit of %s not placed; reconciliation tries again", position.direction
            )
            return
        self._event(
            EventKind.ORDER,
            f"the price {price} is past the take-profit {level} of {position.direction.value}: "
            "closing at market",
            Severity.WARNING,
            {"position_id": position.position_id},
        )
        for report in await self._exchange_positions():
            if report.direction is position.direction:
                await self._close(report, key, ExitReason.TAKE_PROFIT)

    async def _close(
        self,
        position: PositionReport,
        key: int,
        reason: ExitReason,
        *,
        cancel: bool = True,
    ) -> list[str]:
        """Close a position at market (reduce-only), confirm, cancel its protection."""
        tag = f"{reason.value[:2]}{position.direction.value[0]}"
        client_id, report = await self._close_attempt(key, tag)
        if report is None:  # no earlier attempt of this close is still working: send one
            spec = self._spec(
                OrderPurpose.EXIT, position.direction, client_id, quantity=position.quantity
            )
            record = next(
                (p for p in self._store.open_positions() if p.direction is position.direction),
                None,
            )
            position_id = record.position_id if record is not None else None
            report = await self._send(spec, OrderPurpose.EXIT, position_id, reason=reason)
        if report is not None:
            report = await confirm_filled(
                self._client, self._symbol, report, self._policy, clock=time.monotonic
            )
            failpoints.reached("exit.filled")
            self._record_order_state(client_id, report)
        still = [p for p in await self._exchange_positions() if p.direction is position.direction]
        if still:  # not closed: its stop-loss and take-profit must keep protecting it
            self._event(
                EventKind.ERROR,
                f"closing {position.direction.value} failed; its protection stays",
                Severity.CRITICAL,
            )
            return [client_id]
        if cancel:
            await self._cancel_protection(position.direction)
        await self._record_vanished(self._last_positions or [], reason=reason)
        return [client_id]

    async def _close_attempt(self, key: int, tag: str) -> tuple[ClientOrderId, OrderReport | None]:
        """Return the client id for this close, and the report of its attempt still working.

        The same decision (a candle's exit, a position's failed protection) derives the same
        id, so a close decided again after a crash or a refusal finds its earlier attempts in
        the database.  One the exchange still works on is followed, not doubled; one that
        ended (filled, refused, or that never reached the exchange) gets a successor with
        the next number: `-xsil`, `-xsil1`, `-xsil2`...
        """
        attempt = 0
        while True:
            client_id = self._client_id(OrderPurpose.EXIT, key, tag + (str(attempt or "")))
            stored = self._store.order(client_id)
            if stored is None:
                return client_id, None
            if not stored.status.is_final:
                report = await self._settle(stored)
                if report is not None and not report.status.is_final:
                    return client_id, report
            attempt += 1

    async def _cancel_protection(self, direction: Direction) -> None:
        for order in self._store.open_orders():
            if order.purpose in (OrderPurpose.STOP_LOSS, OrderPurpose.TAKE_PROFIT):
                record = self._store.position(order.position_id or -1)
                if record is not None and record.direction is not direction:
                    continue
                try:
                    report = await self._client.cancel_order(
                        self._symbol, client_order_id=order.client_order_id
                    )
                    self._record_order_state(ClientOrderId(order.client_order_id), report)
                except (OrderNotFound, OrderRejected):
                    # Gone, or already cancelled by the exchange when the position closed.
                    self._store.update_order(
                        ClientOrderId(order.client_order_id),
                        OrderStatus.CANCELED,
                        self._clock.now_ms(),
                        reason="gone from the exchange",
                    )

    # ------------------------------------------------------------------ the exchange's truth
    async def _record_vanished(
        self, positions: list[PositionReport], *, reason: ExitReason | None = None
    ) -> list[ClosedTrade]:
        """Record as closed every stored position the exchange no longer holds."""
        held = {p.direction for p in positions}
        closed: list[ClosedTrade] = []
        for record in self._store.open_positions():
            if record.direction in held:
                continue
            trade = await self._record_exit(record, reason)
            closed.append(trade)
        return closed

    async def _record_exit(self, record: PositionRecord, reason: ExitReason | None) -> ClosedTrade:
        assert record.position_id is not None
        exit_report: OrderReport | None = None
        exit_reason = reason or ExitReason.EXTERNAL
        for order in self._store.orders(limit=50):
            if order.position_id != record.position_id or order.purpose is OrderPurpose.ENTRY:
                continue
            try:
                report = await self._client.get_order(
                    self._symbol, client_order_id=order.client_order_id
                )
            except OrderNotFound:
                continue
            self._record_order_state(ClientOrderId(order.client_order_id), report)
            if report.filled_quantity > 0 and exit_report is None:
                exit_report = report
                if reason is None:
                    exit_reason = _exit_reason_of(order) or exit_reason
            elif report.status.is_final is False:
                with contextlib.suppress(OrderNotFound, ExchangeError, OrderRejected):
                    cancelled = await self._client.cancel_order(
                        self._symbol, client_order_id=order.client_order_id
                    )
                    self._record_order_state(ClientOrderId(order.client_order_id), cancelled)
        failpoints.reached("exit.recording")
        now = self._clock.now_ms()
        if exit_report is not None and exit_report.average_price is not None:
            exit_price = exit_report.average_price
            exit_fee = exit_report.commission
            exit_ms = exit_report.updated_ms or now
        else:  # closed outside the bot (by hand, liquidation): the last price is the estimate
            exit_price = await self._client.get_current_price(self._symbol)
            exit_fee = ZERO
            exit_ms = now
        gross = (exit_price - record.entry_price) * record.quantity * record.direction.sign
        with self._store.transaction():
            self._store.update_position(replace(record, closed_ms=exit_ms))
            trade = self._store.add_trade(
                ClosedTrade(
                    position_id=record.position_id,
                    direction=record.direction,
                    signal_time_ms=record.signal_time_ms,
                    entry_time_ms=record.opened_ms,
                    entry_price=record.entry_price,
                    quantity=record.quantity,
                    exit_time_ms=exit_ms,
                    exit_price=exit_price,
                    exit_reason=exit_reason,
                    pnl=gross - record.entry_fee - exit_fee,
                    fees=record.entry_fee + exit_fee,
                )
            )
            self._event(
                EventKind.TRADE_CLOSED,
                f"closed {record.direction.value} @ {exit_price} ({exit_reason.value}): "
                f"P&L {trade.pnl:+.4f} USDT",
                Severity.INFO if exit_reason is not ExitReason.EXTERNAL else Severity.WARNING,
                {"trade_id": trade.trade_id, "pnl": str(trade.pnl)},
            )
            self._risk.breakers.on_trade_closed(trade.pnl)
        log.info("trade closed: %s (%s), P&L %+.4f", record.direction.value, exit_reason, trade.pnl)
        return trade

    async def _settle_unconfirmed(self) -> list[str]:
        """Ask the exchange about every order the database still holds as unconfirmed.

        A crash can fall between storing an intent and reading the exchange's answer: the
        order may exist (filled, resting, cancelled) or may never have arrived.  Each is
        looked up by its client id and recorded as the exchange has it; one the exchange
        confirms it never received is closed as such, so that it is never mistaken later.
        """
        settled: list[str] = []
        for order in self._store.open_orders():
            if order.exchange_order_id is not None:
                continue  # acknowledged: monitoring and protection checks follow it
            report = await self._settle(order)
            state = (
                "never reached the exchange"
                if report is None
                else f"{report.status.value} on the exchange"
            )
            settled.append(f"{order.client_order_id}: {state}")
        return settled

    async def _settle(self, order: OrderRecord) -> OrderReport | None:
        """Record an order as the exchange has it; None (and closed) if it never arrived."""
        client_id = ClientOrderId(order.client_order_id)
        report = await self._client.find_order(self._symbol, client_id)
        if report is None:
            self._store.update_order(
                client_id,
                OrderStatus.CANCELED,
                self._clock.now_ms(),
                reason="never reached the exchange (settled by a lookup)",
            )
            return None
        self._record_order_state(client_id, report)
        return report

    def _entry_of(self, held: PositionReport) -> OrderRecord | None:
        """Return the filled entry of `held` that no position record claims yet, if any."""
        for order in self._store.orders(limit=50):
            if (
                order.purpose is OrderPurpose.ENTRY
                and order.status is OrderStatus.FILLED
                and order.position_id is None
                and order.side is held.direction.entry_side
            ):
                return order
        return None

    def _adopt(self, held: PositionReport) -> PositionRecord:
        entry = self._entry_of(held)
        if entry is not None:  # ours: the crash fell between its fill and its record
            fills = self._store.fills(ClientOrderId(entry.client_order_id))
            record = self._store.add_position(
                PositionRecord(
                    direction=held.direction,
                    position_side=held.position_side,
                    quantity=held.quantity,
                    entry_price=held.entry_price,
                    opened_ms=fills[0].time_ms if fills else self._clock.now_ms(),
                    signal_time_ms=_signal_time_of(entry.client_order_id, self._clock.now_ms()),
                    entry_fee=sum((f.fee for f in fills), ZERO),
                    stop_loss=None,
                    take_profit=None,
                )
            )
            self._store.update_order(
                ClientOrderId(entry.client_order_id),
                OrderStatus.FILLED,
                self._clock.now_ms(),
                position_id=record.position_id,
            )
            self._event(
                EventKind.RECONCILIATION,
                f"recovered {held.direction.value} {held.quantity} @ {held.entry_price} "
                f"opened by {entry.client_order_id}",
                Severity.WARNING,
                {"position_id": record.position_id},
            )
            return record
        record = self._store.add_position(
            PositionRecord(
                direction=held.direction,
                position_side=held.position_side,
                quantity=held.quantity,
                entry_price=held.entry_price,
                opened_ms=self._clock.now_ms(),
                signal_time_ms=self._clock.now_ms(),
                entry_fee=ZERO,
                stop_loss=None,
                take_profit=None,
            )
        )
        self._event(
            EventKind.RECONCILIATION,
            f"adopted {held.direction.value} {held.quantity} @ {held.entry_price} "
            "found on the exchange",
            Severity.WARNING,
            {"position_id": record.position_id},
        )
        return record

    async def _ensure_protection(
        self, held: PositionReport, record: PositionRecord, *, fix: bool
    ) -> list[str]:
        """Re-arm a missing stop-loss or take-profit of a held position."""
        open_orders = await self._client.get_open_orders(self._symbol)
        exit_side = held.direction.exit_side
        kinds = {
            o.order_type
            for o in open_orders
            if o.side is exit_side and o.position_side is held.position_side
        }
        missing = [
            kind
            for kind in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET)
            if kind not in kinds
        ]
        if not missing:
            return []
        # An order missing now may have just fired and closed the position: look again.
        if not any(p.direction is held.direction for p in await self._exchange_positions()):
            return []
        problems = [
            f"{held.direction.value} position has no {kind.value} on the exchange"
            for kind in missing
        ]
        if fix:
            await self._protect(
                record,
                stop_loss=OrderType.STOP_MARKET in missing,
                take_profit=OrderType.TAKE_PROFIT_MARKET in missing,
            )
        return problems

    # ------------------------------------------------------------------ plumbing
    async def _send(
        self,
        spec: OrderSpec,
        purpose: OrderPurpose,
        position_id: int | None = None,
        *,
        reason: ExitReason | None = None,
    ) -> OrderReport | None:
        """Store the intent, then place the order; None when it was rejected or not placed."""
        now = self._clock.now_ms()
        self._store.add_order(
            OrderRecord(
                client_order_id=spec.client_order_id,
                purpose=purpose,
                side=spec.side,
                position_side=spec.position_side,
                order_type=spec.order_type,
                quantity=spec.quantity,
                price=spec.price,
                trigger_price=spec.stop_price,
                reduce_only=spec.reduce_only,
                close_position=spec.close_position,
                status=OrderStatus.NEW,
                created_ms=now,
                updated_ms=now,
                position_id=position_id,
                reason=reason.value if reason is not None else "",
            )
        )

        failpoints.reached(f"{purpose.value}.intent_stored")

        def attempt(number: int, outcome: str) -> None:
            log.info("order %s attempt %d: %s", spec.client_order_id, number, outcome)
            self._event(
                EventKind.ORDER,
                f"{spec.client_order_id} attempt {number}: {outcome}",
                data={"client_order_id": spec.client_order_id},
            )

        try:
            report = await place_order_with_retry(
                self._client, spec, self._policy, on_attempt=attempt
            )
        except OrderRejected as e:
            self._store.update_order(
                spec.client_order_id, OrderStatus.REJECTED, self._clock.now_ms(), reason=str(e)
            )
            self._event(EventKind.ORDER, f"{spec.client_order_id} rejected: {e}", Severity.WARNING)
            return None
        except ExchangeError as e:
            # Unknown or not placed: the status stays NEW (unconfirmed) with the reason, for
            # reconciliation to settle; never claimed rejected.
            self._store.update_order(
                spec.client_order_id, OrderStatus.NEW, self._clock.now_ms(), reason=str(e)
            )
            self._risk.breakers.on_api_error(str(e))
            self._event(
                EventKind.ERROR, f"{spec.client_order_id} not placed: {e}", Severity.CRITICAL
            )
            return None
        failpoints.reached(f"{purpose.value}.accepted")
        self._record_order_state(spec.client_order_id, report)
        return report

    def _record_order_state(self, client_id: ClientOrderId, report: OrderReport) -> None:
        stored = self._store.order(client_id)
        if stored is None:
            return
        if stored.status is not report.status or stored.exchange_order_id is None:
            self._store.update_order(
                client_id,
                report.status,
                report.updated_ms or self._clock.now_ms(),
                reason=stored.reason,  # an exit's reason: _record_exit reads it back
                exchange_order_id=report.order_id,
            )
        if (
            report.filled_quantity > 0
            and report.status.is_final
            and not self._store.fills(client_id)
        ):
            self._store.add_fill(
                FillRecord(
                    client_order_id=client_id,
                    side=report.side,
                    quantity=report.filled_quantity,
                    price=report.average_price or ZERO,
                    fee=report.commission,
                    liquidity=Liquidity.TAKER,
                    realized_pnl=report.realized_pnl,
                    time_ms=report.updated_ms or self._clock.now_ms(),
                    exchange_order_id=report.order_id,
                )
            )

    def _spec(
        self,
        purpose: OrderPurpose,
        direction: Direction,
        client_id: ClientOrderId,
        *,
        quantity: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> OrderSpec:
        side: OrderSide = (
            direction.entry_side if purpose is OrderPurpose.ENTRY else direction.exit_side
        )
        order_type = {
            OrderPurpose.ENTRY: OrderType.MARKET,
            OrderPurpose.EXIT: OrderType.MARKET,
            OrderPurpose.STOP_LOSS: OrderType.STOP_MARKET,
            OrderPurpose.TAKE_PROFIT: OrderType.TAKE_PROFIT_MARKET,
        }[purpose]
        protective = purpose in (OrderPurpose.STOP_LOSS, OrderPurpose.TAKE_PROFIT)
        one_way = self._mode is PositionMode.ONE_WAY
        return OrderSpec(
            symbol=self._symbol,
            side=side,
            order_type=order_type,
            client_order_id=client_id,
            quantity=quantity,
            stop_price=stop_price,
            position_side=self._position_side(direction),
            reduce_only=purpose is OrderPurpose.EXIT and one_way,
            close_position=protective,
            trigger_on_mark_price=protective,
        )

    def _position_side(self, direction: Direction) -> PositionSide:
        if self._mode is PositionMode.ONE_WAY:
            return PositionSide.BOTH
        return PositionSide.LONG if direction is Direction.LONG else PositionSide.SHORT

    def _client_id(self, purpose: OrderPurpose, key: int, extra: str = "") -> ClientOrderId:
        """Derive the order's client id from its decision: same decision, same id."""
        return ClientOrderId(f"{self._prefix}-{key:x}-{_SUFFIX[purpose]}{extra}".lower())

    def _arming(self, position_id: int) -> str:
        """Return a suffix that makes each (re-)arming of a position's protection unique."""
        count = sum(
            1
            for o in self._store.orders(limit=500)
            if o.position_id == position_id
            and o.purpose in (OrderPurpose.STOP_LOSS, OrderPurpose.TAKE_PROFIT)
        )
        return "" if count == 0 else str(count)

    async def _exchange_positions(self) -> list[PositionReport]:
        positions = [
            p for p in await self._client.get_all_positions(self._symbol) if p.quantity > 0
        ]
        self._last_positions = positions
        return positions

    async def _wait_flat(self, timeout_s: float = 5.0) -> list[PositionReport]:
        deadline = time.monotonic() + timeout_s
        while True:
            positions = await self._exchange_positions()
            if not positions or time.monotonic() >= deadline:
                return positions
            await asyncio.sleep(0.1)

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


def _signal_time_of(client_order_id: str, default: int) -> int:
    """Return the signal candle an entry's client id encodes (`<prefix>-<hex ms>-e`)."""
    try:
        return int(client_order_id.rsplit("-", 2)[1], 16)
    except (IndexError, ValueError):
        return default


def _exit_reason_of(order: OrderRecord) -> ExitReason | None:
    """Return why a filled order closed its position: its purpose, or an exit's stored reason."""
    if order.purpose is OrderPurpose.STOP_LOSS:
        return ExitReason.STOP_LOSS
    if order.purpose is OrderPurpose.TAKE_PROFIT:
        return ExitReason.TAKE_PROFIT
    if order.purpose is OrderPurpose.EXIT:
        with contextlib.suppress(ValueError):  # an exit stored without a reason
            return ExitReason(order.reason)
    return None
