"""Position bookkeeping: average entry, realised P&L, flips and reductions."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from adxbot.domain.enums import Direction, OrderSide, PositionSide

ZERO = Decimal(0)


@dataclass(slots=True)
class Position:
    """An open position in one slot (BOTH in one-way mode, LONG or SHORT in hedge mode)."""

    position_side: PositionSide
    direction: Direction
    quantity: Decimal
    entry_price: Decimal
    opened_ms: int

    def unrealized_pnl(self, mark_price: Decimal) -> Decimal:
        """Return the P&L if closed at `mark_price`, before fees."""
        return (mark_price - self.entry_price) * self.quantity * self.direction.sign

    def notional(self, price: Decimal) -> Decimal:
        """Return the position's value at `price`."""
        return self.quantity * price


@dataclass(frozen=True, slots=True)
class FillEffect:
    """What one fill did to a slot: the position afterwards and the gross P&L realised."""

    position: Position | None
    realized_pnl: Decimal
    reduced_quantity: Decimal


def apply_fill(
    position: Position | None,
    slot: PositionSide,
    side: OrderSide,
    quantity: Decimal,
    price: Decimal,
    time_ms: int,
) -> FillEffect:
    """Apply a fill to a slot's position and return the result.

    A fill on the position's own side increases it at a volume-weighted average entry;
    a fill on the other side reduces it, realising P&L on the reduced part, and in one-way
    mode any excess opens the opposite direction at the fill price.
    """
    fill_direction = Direction.LONG if side is OrderSide.BUY else Direction.SHORT
    if position is None:
        return FillEffect(Position(slot, fill_direction, quantity, price, time_ms), ZERO, ZERO)
    if position.direction is fill_direction:
        total = position.quantity + quantity
        average = (position.entry_price * position.quantity + price * quantity) / total
        grown = Position(slot, position.direction, total, average, position.opened_ms)
        return FillEffect(grown, ZERO, ZERO)
    reduced = min(quantity, position.quantity)
    realized = (price - position.entry_price) * reduced * position.direction.sign
    remaining = position.quantity - reduced
    excess = quantity - reduced
    if remaining > 0:
        kept = Position(
            slot, position.direction, remaining, position.entry_price, position.opened_ms
        )
        return FillEffect(kept, realized, reduced)
    if excess > 0:
        flipped = Position(slot, fill_direction, excess, price, time_ms)
        return FillEffect(flipped, realized, reduced)
    return FillEffect(None, realized, reduced)
