"""What the trade database stores: immutable, typed records with exact money (Decimal).

The store converts them to rows and back; nothing else in the bot sees SQL or row tuples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from adxbot.domain.enums import (
    Direction,
    ExitReason,
    Liquidity,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionSide,
)
from adxbot.domain.ids import ClientOrderId


class TradingMode(StrEnum):
    """Which trader a database belongs to; paper and live never share a file."""

    PAPER = "paper"
    LIVE = "live"


class OrderPurpose(StrEnum):
    """Why the bot placed an order."""

    ENTRY = "entry"
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    EXIT = "exit"


class EventKind(StrEnum):
    """The kinds of facts the events table records."""

    STARTED = "started"
    STOPPED = "stopped"
    SIGNAL = "signal"
    RISK_DENIED = "risk_denied"
    ORDER = "order"
    TRADE_OPENED = "trade_opened"
    TRADE_CLOSED = "trade_closed"
    BREAKER_TRIPPED = "breaker_tripped"
    BREAKER_RESET = "breaker_reset"
    RECONCILIATION = "reconciliation"
    ERROR = "error"


class Severity(StrEnum):
    """How loudly an event must be shown."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """An order the bot decided to place, stored before it is sent (intent before action)."""

    client_order_id: ClientOrderId
    purpose: OrderPurpose
    side: OrderSide
    position_side: PositionSide
    order_type: OrderType
    quantity: Decimal | None
    """None for close-position orders (the whole position at fill time)."""
    price: Decimal | None
    trigger_price: Decimal | None
    reduce_only: bool
    close_position: bool
    status: OrderStatus
    created_ms: int
    updated_ms: int
    exchange_order_id: str | None = None
    reason: str = ""
    """Why the order was cancelled, rejected or expired; "" otherwise."""
    position_id: int | None = None
    """The position this order opens or protects, once known."""


@dataclass(frozen=True, slots=True)
class OrderStatusChange:
    """One step in an order's life, as stored in the order history."""

    client_order_id: ClientOrderId
    status: OrderStatus
    time_ms: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class FillRecord:
    """An execution of one of the bot's orders."""

    client_order_id: ClientOrderId
    side: OrderSide
    quantity: Decimal
    price: Decimal
    fee: Decimal
    liquidity: Liquidity
    realized_pnl: Decimal
    time_ms: int
    exchange_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class PositionRecord:
    """A position the bot holds or held, with the levels protecting it."""

    direction: Direction
    position_side: PositionSide
    quantity: Decimal
    entry_price: Decimal
    opened_ms: int
    signal_time_ms: int
    entry_fee: Decimal
    stop_loss: Decimal | None
    take_profit: Decimal | None
    funding: Decimal = Decimal(0)
    closed_ms: int | None = None
    position_id: int | None = None
    """Assigned by the store."""

    @property
    def is_open(self) -> bool:
        """Return True until the position is closed."""
        return self.closed_ms is None


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """A round trip: entry to exit, with net P&L (fees and funding included)."""

    position_id: int
    direction: Direction
    signal_time_ms: int
    entry_time_ms: int
    entry_price: Decimal
    quantity: Decimal
    exit_time_ms: int
    exit_price: Decimal
    exit_reason: ExitReason
    pnl: Decimal
    fees: Decimal
    funding: Decimal = Decimal(0)
    trade_id: int | None = None
    """Assigned by the store."""


@dataclass(frozen=True, slots=True)
class EquitySnapshot:
    """The account at one moment: wallet balance and equity marked to a price."""

    time_ms: int
    balance: Decimal
    equity: Decimal
    unrealized_pnl: Decimal
    open_positions: int


@dataclass(frozen=True, slots=True)
class DailyPnl:
    """One UTC day's result: equity at its start, realised P&L and fees so far."""

    day: str
    """ISO date, e.g. "2026-11-24" (UTC)."""
    start_equity: Decimal
    realized_pnl: Decimal
    fees: Decimal
    trades: int
    last_equity: Decimal
    updated_ms: int


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A fact worth showing an operator: a signal, a denial, a trip, an error."""

    time_ms: int
    kind: EventKind
    message: str
    severity: Severity = Severity.INFO
    data: dict[str, Any] = field(default_factory=dict)
    """JSON-serialisable details (Decimals as strings)."""
    event_id: int | None = None
    """Assigned by the store."""


@dataclass(frozen=True, slots=True)
class BreakerRecord:
    """The stored state of one circuit breaker."""

    name: str
    tripped: bool
    reason: str
    changed_ms: int
