"""What the BingX client returns: the exchange's answers as typed, immutable values."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from adxbot.domain.enums import (
    Direction,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionMode,
    PositionSide,
    TimeInForce,
)
from adxbot.domain.ids import ClientOrderId, OrderId
from adxbot.domain.instrument import Instrument


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """A contract's rules as BingX lists them."""

    instrument: Instrument
    max_leverage: int
    trading_open: bool
    """False when the API may not open positions (`apiStateOpen` false or status not 1)."""


@dataclass(frozen=True, slots=True)
class Kline:
    """One candle; the last one of an answer may still be forming."""

    open_time_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


@dataclass(frozen=True, slots=True)
class Ticker:
    """The 24-hour ticker of a contract."""

    last_price: Decimal
    bid_price: Decimal
    ask_price: Decimal
    high_price: Decimal
    low_price: Decimal
    volume: Decimal
    change_percent: Decimal


@dataclass(frozen=True, slots=True)
class MarkPrice:
    """Mark price and funding of a contract."""

    mark_price: Decimal
    index_price: Decimal
    funding_rate: Decimal
    next_funding_ms: int


@dataclass(frozen=True, slots=True)
class Balance:
    """The USDT margin account."""

    balance: Decimal
    equity: Decimal
    unrealized_pnl: Decimal
    available_margin: Decimal
    used_margin: Decimal
    frozen_margin: Decimal


@dataclass(frozen=True, slots=True)
class PositionReport:
    """An open position as the exchange reports it."""

    position_id: str
    symbol: str
    direction: Direction
    quantity: Decimal
    entry_price: Decimal
    mark_price: Decimal
    unrealized_pnl: Decimal
    leverage: int
    isolated: bool
    one_way: bool

    @property
    def position_side(self) -> PositionSide:
        """Return the slot orders must name: BOTH in one-way mode, else LONG or SHORT."""
        if self.one_way:
            return PositionSide.BOTH
        return PositionSide.LONG if self.direction is Direction.LONG else PositionSide.SHORT


@dataclass(frozen=True, slots=True)
class OrderReport:
    """An order as the exchange reports it."""

    order_id: OrderId
    client_order_id: ClientOrderId | None
    symbol: str
    side: OrderSide
    position_side: PositionSide
    order_type: OrderType
    status: OrderStatus
    quantity: Decimal
    filled_quantity: Decimal
    average_price: Decimal | None
    price: Decimal | None
    stop_price: Decimal | None
    reduce_only: bool
    time_in_force: TimeInForce | None
    commission: Decimal
    realized_pnl: Decimal
    created_ms: int
    updated_ms: int


@dataclass(frozen=True, slots=True)
class FillReport:
    """One execution."""

    order_id: OrderId
    client_order_id: ClientOrderId | None
    symbol: str
    side: OrderSide | None
    quantity: Decimal
    price: Decimal
    commission: Decimal
    time_ms: int


@dataclass(frozen=True, slots=True)
class IncomeReport:
    """One line of the income ledger (realised P&L, fees, funding...)."""

    symbol: str
    income_type: str
    amount: Decimal
    time_ms: int
    transaction_id: str


@dataclass(frozen=True, slots=True)
class Leverage:
    """Leverage settings of a contract."""

    long: int
    short: int
    max_long: int
    max_short: int


@dataclass(frozen=True, slots=True)
class ApiPermissions:
    """What the API key may do."""

    can_read: bool
    can_trade: bool
    can_withdraw: bool
    ip_restricted: bool


@dataclass(frozen=True, slots=True)
class AccountModes:
    """How the account holds positions."""

    position_mode: PositionMode
    margin_type: str
