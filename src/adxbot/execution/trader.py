"""The contract every trader keeps (paper now, live next): the bot talks only to this.

A trader owns an account (simulated or on BingX) and its records.  The bot's loop hands
it market updates and the strategy's signals; the trader turns them into orders, keeps the
trade database true, and answers what the account holds.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from adxbot.domain.candles import Bar
from adxbot.domain.enums import Direction
from adxbot.persistence.records import ClosedTrade, TradingMode
from adxbot.strategy.base import Action


@dataclass(frozen=True, slots=True)
class Signal:
    """The strategy's action on one closed candle."""

    action: Action
    candle: Bar


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """What `execute_signal` did: orders placed, or why nothing was placed."""

    placed: tuple[str, ...]
    """Client order ids of the orders placed."""
    denied: str | None = None
    """The risk manager's reason when an entry was refused."""


@dataclass(frozen=True, slots=True)
class MarketUpdate:
    """New market data for the trader: a candle that closed and/or the open of a new one."""

    closed: Bar | None = None
    opened_at_ms: int | None = None
    """Open time of the candle now forming (its open is `open_price`)."""
    open_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PositionView:
    """An open position as an operator sees it."""

    direction: Direction
    quantity: Decimal
    entry_price: Decimal
    unrealized_pnl: Decimal
    stop_loss: Decimal | None
    take_profit: Decimal | None
    opened_ms: int


@dataclass(frozen=True, slots=True)
class AccountStatus:
    """Balance, equity and positions marked to `price` at `time_ms`."""

    time_ms: int
    price: Decimal | None
    balance: Decimal
    equity: Decimal
    unrealized_pnl: Decimal
    positions: tuple[PositionView, ...]
    open_orders: int


@dataclass(frozen=True, slots=True)
class ReconciliationReport:
    """The result of comparing the trader's records with the account."""

    consistent: bool
    discrepancies: tuple[str, ...] = field(default_factory=tuple)


class Trader(Protocol):
    """What PaperTrader and LiveTrader both provide."""

    @property
    def mode(self) -> TradingMode:
        """Return which money this trader moves."""
        ...

    def candle_scope(self) -> AbstractContextManager[None]:
        """Return the context one candle's processing runs in: the paper trader's whole
        candle is one database transaction; the live trader commits each order's intent
        before sending it, so its scope is empty."""
        ...

    async def execute_signal(self, signal: Signal) -> ExecutionReport:
        """Act on a closed candle's signal: entries via the risk manager, exits always."""
        ...

    async def monitor_positions(self, update: MarketUpdate) -> list[ClosedTrade]:
        """Notice fills and exits that new market data (or the exchange) shows; record them."""
        ...

    async def get_account_status(self) -> AccountStatus:
        """Return the account as it stands."""
        ...

    async def held_direction(self) -> Direction | None:
        """Return the direction of the open position (None when flat), as of the last
        `monitor_positions` (which every candle runs first)."""
        ...

    async def close_all_positions(self, reason: str) -> list[ClosedTrade]:
        """Cancel the bot's orders and close every position at market; record it all."""
        ...

    async def reconcile_positions(self) -> ReconciliationReport:
        """Compare records with the account; record and report every discrepancy."""
        ...
