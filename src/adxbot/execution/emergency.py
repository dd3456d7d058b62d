"""The emergency stop: cancel every order of the symbol, close every position, confirm flat.

It works with or without the trade database, while a bot runs or not:

1. with the database, the manual-halt breaker is tripped first, so a running bot opens
   nothing new from its next check on;
2. every open order of the symbol that could add exposure is cancelled; the exits (the
   bot's stop-loss and take-profit, reduce-only orders) stay until the account is flat,
   so that a close that fails leaves the position protected;
3. every position is closed by a market order on its closing side (reduce-only in one-way
   mode, its positionSide in hedge mode) under the client id `adxl-es<ms><random>-<n>`,
   its intent stored first when the database is there, linked to the stored position,
   with reason "manual";
4. the positions are polled until none is left; if some remain, BingX's close-all is
   called and they are polled again;
5. once flat, every order left is cancelled; if positions remain, the exits stay;
6. with the database and no bot running, the closed trades are recorded here (reason
   manual); a running bot records them itself, from the filled exit orders.

A database that fails along the way is dropped and the stop carries on without it:
flattening the account comes first.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from adxbot.bot.market_time import last_market_time
from adxbot.clock import Clock
from adxbot.config import BotConfig
from adxbot.domain.enums import Direction, ExitReason, OrderStatus, OrderType, PositionMode
from adxbot.domain.ids import ClientOrderId
from adxbot.errors import DatabaseError, OrderRejected
from adxbot.exchange.client import BingXClient
from adxbot.exchange.errors import ExchangeError
from adxbot.exchange.models import OrderReport, PositionReport
from adxbot.exchange.orders import OrderSpec
from adxbot.execution.live_trader import AccountSetup, LiveTrader
from adxbot.execution.order_placement import PlacementPolicy, place_order_with_retry
from adxbot.persistence.records import ClosedTrade, OrderPurpose, OrderRecord
from adxbot.persistence.store import TradeStore
from adxbot.risk.breakers import BreakerName, CircuitBreakers, RiskLimits
from adxbot.risk.manager import RiskManager

log = logging.getLogger("adxbot.emergency")

HALT_REASON = "emergency stop"
EMERGENCY_POLICY = PlacementPolicy(attempts=3, backoff_s=0.2, confirm_timeout_s=5.0, poll_s=0.1)
"""Placement of the closing orders: few, quick attempts (the close-all fallback follows)."""


@dataclass(frozen=True, slots=True)
class ClosedPosition:
    """A position the emergency stop closed with its own order."""

    direction: Direction
    quantity: Decimal
    price: Decimal | None
    """The average fill price; None when the exchange did not report it."""
    client_order_id: ClientOrderId


@dataclass(frozen=True, slots=True)
class EmergencyReport:
    """What the emergency stop did, and whether the account is confirmed flat."""

    cancelled: tuple[OrderReport, ...]
    closed: tuple[ClosedPosition, ...]
    remaining_positions: tuple[PositionReport, ...] | None
    """Positions still open at the end; None when the exchange could not say."""
    remaining_orders: int | None
    """Open orders of the symbol left at the end; None when the exchange could not say."""
    halted: bool
    """True when the manual-halt breaker is tripped in the database."""
    recorded: tuple[ClosedTrade, ...]
    """Trades recorded by the stop itself (none while a bot runs: it records them)."""
    used_close_all: bool
    """True when BingX's close-all had to close what the stop's own orders did not."""
    problems: tuple[str, ...]

    @property
    def flat(self) -> bool:
        """Return True when the exchange confirms no position and no open order remain."""
        return self.remaining_positions == () and self.remaining_orders == 0


async def emergency_stop(
    config: BotConfig,
    client: BingXClient,
    store: TradeStore | None,
    *,
    bot_running: bool,
    clock: Clock,
    policy: PlacementPolicy = EMERGENCY_POLICY,
    flat_timeout_s: float = 10.0,
    poll_s: float = 0.1,
    monotonic: Callable[[], float] = time.monotonic,
) -> EmergencyReport:
    """Halt trading, cancel every order of the symbol, close every position, confirm flat."""
    stop = _EmergencyStop(config, client, store, clock, policy)
    halted = stop.halt()
    cancelled = await stop.cancel_orders()
    positions = await stop.positions()
    closes = await asyncio.gather(
        *(stop.close(position, n) for n, position in enumerate(positions or (), 1))
    )
    placed = [order for order in closes if order is not None]
    # A close that was not placed, or positions unknown: no point waiting for the orders.
    wait_s = flat_timeout_s if positions is not None and len(placed) == len(closes) else 0.0
    remaining = await stop.wait_flat(wait_s, poll_s, monotonic)
    used_close_all = remaining is None or bool(remaining)
    if used_close_all:
        await stop.close_all()
        remaining = await stop.wait_flat(flat_timeout_s, poll_s, monotonic)
    # Still exposed: the exits on the exchange are all that protects the account.
    swept, orders_left = await stop.sweep_orders(cancel=remaining == [])
    cancelled = [*cancelled, *swept]
    if remaining != []:
        stop.keep_protection()
    closed = [await stop.outcome(*order) for order in placed]
    recorded: list[ClosedTrade] = []
    if not bot_running and remaining is not None:
        recorded = await stop.record_trades(remaining)
    return EmergencyReport(
        cancelled=tuple(cancelled),
        closed=tuple(closed),
        remaining_positions=None if remaining is None else tuple(remaining),
        remaining_orders=orders_left,
        halted=halted,
        recorded=tuple(recorded),
        used_close_all=used_close_all,
        problems=tuple(stop.problems),
    )


class _EmergencyStop:
    """The steps of one emergency stop; every failure is noted, none stops the next step."""

    def __init__(
        self,
        config: BotConfig,
        client: BingXClient,
        store: TradeStore | None,
        clock: Clock,
        policy: PlacementPolicy,
    ) -> None:
        self._config = config
        self._client = client
        self._store = store
        self._clock = clock
        self._policy = policy
        self._symbol = config.symbol
        # Unique per stop: BingX answers a reused client id with the old order, and the
        # exchange's clock may stand still (a paused simulator) between two stops.
        self._stamp = f"{clock.now_ms():x}{secrets.token_hex(2)}"
        self.problems: list[str] = []

    def _problem(self, message: str) -> None:
        log.error("emergency stop: %s", message)
        self.problems.append(message)

    def _database_failed(self, doing: str, error: DatabaseError) -> None:
        self._problem(f"the database failed while {doing} ({error}); carrying on without it")
        self._store = None

    # ------------------------------------------------------------------ steps
    def halt(self) -> bool:
        """Trip the manual-halt breaker; return True when it is tripped."""
        if self._store is None:
            return False
        try:
            self._breakers().trip(BreakerName.MANUAL_HALT, HALT_REASON)
        except DatabaseError as e:
            self._database_failed("setting the manual halt", e)
            return False
        return True

    async def cancel_orders(self) -> list[OrderReport]:
        """Cancel every open order that could add exposure; keep the exits.

        Stop-losses, take-profits and reduce-only orders stay until the account is flat:
        if a close fails, they still protect the position (the sweep at the end removes
        them once nothing is left to protect).
        """
        try:
            orders = await self._client.get_open_orders(self._symbol)
            exposing = [o for o in orders if not _protective(o)]
            if len(exposing) == len(orders):
                return await self._client.cancel_all_orders(self._symbol) if orders else []
            return [
                await self._client.cancel_order(self._symbol, order_id=o.order_id) for o in exposing
            ]
        except ExchangeError as e:
            self._problem(f"cancelling the open orders failed: {e}")
            return []

    async def positions(self) -> list[PositionReport] | None:
        """Return the open positions of the symbol; None when the exchange cannot say."""
        try:
            found = await self._client.get_all_positions(self._symbol)
        except ExchangeError as e:
            self._problem(f"reading the positions failed: {e}")
            return None
        return [p for p in found if p.quantity > 0]

    async def close(
        self, position: PositionReport, number: int
    ) -> tuple[Direction, OrderSpec, OrderReport] | None:
        """Close one position at market with the stop's own order; None when not placed."""
        spec = OrderSpec(
            symbol=self._symbol,
            side=position.direction.exit_side,
            order_type=OrderType.MARKET,
            client_order_id=ClientOrderId(f"adxl-es{self._stamp}-{number}"),
            quantity=position.quantity,
            position_side=position.position_side,
            reduce_only=position.one_way,
        )
        self._store_intent(spec, position.direction)
        try:
            report = await place_order_with_retry(self._client, spec, self._policy)
        except (OrderRejected, ExchangeError) as e:
            self._problem(f"closing {position.direction.value} {position.quantity} failed: {e}")
            self._store_state(spec.client_order_id, OrderStatus.REJECTED, reason=str(e))
            return None
        self._store_state(spec.client_order_id, report.status, exchange_order_id=report.order_id)
        return position.direction, spec, report

    async def wait_flat(
        self, timeout_s: float, poll_s: float, monotonic: Callable[[], float]
    ) -> list[PositionReport] | None:
        """Poll the positions until none is left or the time is up; return what is left."""
        deadline = monotonic() + timeout_s
        while True:
            try:
                found = await self._client.get_all_positions(self._symbol)
                remaining: list[PositionReport] | None = [p for p in found if p.quantity > 0]
            except ExchangeError as e:
                log.warning("emergency stop: reading the positions failed (%s); again", e)
                remaining = None
            if remaining == [] or monotonic() >= deadline:
                return remaining
            await asyncio.sleep(poll_s)

    async def close_all(self) -> None:
        """Ask BingX to close every position of the symbol (the fallback)."""
        self._problem("positions may still be open: asking BingX to close all of them")
        try:
            await self._client.close_all_positions(self._symbol)
        except ExchangeError as e:
            self._problem(f"BingX's close-all failed: {e}")

    def keep_protection(self) -> None:
        """Say why the stop-loss and take-profit orders were left in place."""
        self._problem(
            "positions may still be open: their stop-loss and take-profit orders were left "
            "on the exchange to protect them; run the emergency stop again or close by hand"
        )

    async def sweep_orders(self, *, cancel: bool = True) -> tuple[list[OrderReport], int | None]:
        """Cancel any order still open (the exits, or placed meanwhile) unless not `cancel`;
        return what was cancelled and how many remain (None: unknown)."""
        cancelled: list[OrderReport] = []
        try:
            left = await self._client.get_open_orders(self._symbol)
            if left and cancel:
                cancelled = await self._client.cancel_all_orders(self._symbol)
                left = await self._client.get_open_orders(self._symbol)
        except ExchangeError as e:
            self._problem(f"checking the open orders failed: {e}")
            return cancelled, None
        return cancelled, len(left)

    async def outcome(
        self, direction: Direction, spec: OrderSpec, report: OrderReport
    ) -> ClosedPosition:
        """Return how a closing order filled, storing its final state."""
        final = report
        if not report.status.is_final or report.average_price is None:
            try:
                final = await self._client.get_order(self._symbol, order_id=report.order_id)
            except ExchangeError as e:
                log.warning("emergency stop: reading %s failed: %s", spec.client_order_id, e)
        if final is not report:
            self._store_state(spec.client_order_id, final.status)
        quantity = final.filled_quantity or spec.quantity or Decimal(0)
        return ClosedPosition(direction, quantity, final.average_price, spec.client_order_id)

    async def record_trades(self, remaining: list[PositionReport]) -> list[ClosedTrade]:
        """Record the stored positions the exchange no longer holds as closed by hand."""
        if self._store is None:
            return []
        try:
            if not self._store.open_positions():
                return []
            contract = await self._client.contract(self._symbol)
            mode = (
                (PositionMode.ONE_WAY if remaining[0].one_way else PositionMode.HEDGE)
                if remaining
                else await self._client.get_position_mode()
            )
            breakers = self._breakers()
            trader = LiveTrader(
                self._config,
                self._store,
                RiskManager(self._config, breakers),
                self._client,
                self._clock,
                AccountSetup(contract.instrument, mode),
                policy=self._policy,
            )
            return await trader.record_closed_positions(ExitReason.MANUAL)
        except ExchangeError as e:
            self._problem(f"the closed trades were not recorded ({e}): the bot records them")
        except DatabaseError as e:
            self._database_failed("recording the closed trades", e)
        return []

    # ------------------------------------------------------------------ the database
    def _breakers(self) -> CircuitBreakers:
        """Return the database's breakers, dated by the bot's market time."""
        assert self._store is not None
        market = last_market_time(
            self._store.info("last_candle_ms"), self._config.timeframe.ms, self._clock
        )
        return CircuitBreakers(RiskLimits.from_config(self._config), self._store, market)

    def _store_intent(self, spec: OrderSpec, direction: Direction) -> None:
        if self._store is None:
            return
        now = self._clock.now_ms()
        try:
            position_id = next(
                (p.position_id for p in self._store.open_positions() if p.direction is direction),
                None,
            )
            self._store.add_order(
                OrderRecord(
                    client_order_id=spec.client_order_id,
                    purpose=OrderPurpose.EXIT,
                    side=spec.side,
                    position_side=spec.position_side,
                    order_type=spec.order_type,
                    quantity=spec.quantity,
                    price=None,
                    trigger_price=None,
                    reduce_only=spec.reduce_only,
                    close_position=False,
                    status=OrderStatus.NEW,
                    created_ms=now,
                    updated_ms=now,
                    position_id=position_id,
                    reason=ExitReason.MANUAL.value,
                )
            )
        except DatabaseError as e:
            self._database_failed(f"storing {spec.client_order_id}", e)

    def _store_state(
        self,
        client_id: ClientOrderId,
        status: OrderStatus,
        *,
        exchange_order_id: str | None = None,
        reason: str = ExitReason.MANUAL.value,
    ) -> None:
        """Store an order's new status, keeping its exit reason (the bot reads it)."""
        if self._store is None:
            return
        try:
            stored = self._store.order(client_id)
            if stored is not None and (stored.status is not status or exchange_order_id):
                self._store.update_order(
                    client_id,
                    status,
                    self._clock.now_ms(),
                    reason=reason,
                    exchange_order_id=exchange_order_id,
                )
        except DatabaseError as e:
            self._database_failed(f"updating {client_id}", e)


_EXIT_TYPES = frozenset(
    {OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET, OrderType.STOP, OrderType.TAKE_PROFIT}
)


def _protective(order: OrderReport) -> bool:
    """Return True for an order that can only reduce a position (an exit)."""
    return order.reduce_only or order.order_type in _EXIT_TYPES
