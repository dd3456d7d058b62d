"""Orders, fills and the requests that create them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from adxbot.domain.enums import (
    Liquidity,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionSide,
    TimeInForce,
)
from adxbot.domain.ids import ClientOrderId, OrderId


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A command to the engine: place this order."""

    side: OrderSide
    order_type: OrderType
    quantity: Decimal | None
    """Coins; None only with `close_position` (the whole position at fill time)."""
    price: Decimal | None = None
    """Limit price of LIMIT, STOP and TAKE_PROFIT (trigger-limit) orders."""
    trigger_price: Decimal | None = None
    """Trigger (stop) price of trigger orders."""
    position_side: PositionSide = PositionSide.BOTH
    reduce_only: bool = False
    close_position: bool = False
    time_in_force: TimeInForce = TimeInForce.GTC
    """How the limit of a LIMIT, STOP or TAKE_PROFIT order may rest; orders that execute as
    market orders ignore GTC, IOC and FOK and refuse POST_ONLY."""
    client_order_id: ClientOrderId | None = None


@dataclass(slots=True)
class Order:
    """An order the engine accepted; the engine alone mutates it."""

    order_id: OrderId
    request: OrderRequest
    created_ms: int
    status: OrderStatus = OrderStatus.NEW
    filled_quantity: Decimal = Decimal(0)
    average_price: Decimal | None = None
    updated_ms: int = 0
    cancel_reason: str = ""
    """Why the order was cancelled, rejected or expired ("" while open and when filled)."""
    awaits_next_price: bool = False
    """True while the order waits for the next price (`fill_market_orders`) to execute as a
    taker: a market order, or a limit that was marketable on arrival (and IOC/FOK limits
    submitted before any price was known)."""
    triggered_ms: int | None = None
    """When a STOP / TAKE_PROFIT (trigger-limit) order triggered; from then on it is a limit."""

    @property
    def client_order_id(self) -> ClientOrderId | None:
        """Return the client order id the order was placed with."""
        return self.request.client_order_id

    @property
    def is_open(self) -> bool:
        """Return True while the order can still fill."""
        return not self.status.is_final


@dataclass(frozen=True, slots=True)
class Fill:
    """An execution: immutable fact of a quantity changing hands at a price."""

    order_id: OrderId
    client_order_id: ClientOrderId | None
    order_type: OrderType
    side: OrderSide
    position_side: PositionSide
    quantity: Decimal
    price: Decimal
    fee: Decimal
    liquidity: Liquidity
    realized_pnl: Decimal
    """Gross P&L this fill realised on the position it reduced (fees not included)."""
    time_ms: int
    closed_position: bool = False
    """True when this fill left its position slot flat."""


@dataclass(slots=True)
class FundingPayment:
    """Funding exchanged for one position at one funding time (negative = paid)."""

    position_side: PositionSide
    amount: Decimal
    rate: Decimal
    time_ms: int
