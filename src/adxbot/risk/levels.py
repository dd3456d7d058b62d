"""Stop-loss and take-profit prices placed with every position.

Both are computed from the entry *fill* price and rounded to the tick toward the entry,
so a stop never risks more than the sizing assumed and a take-profit never promises more
than configured (the instrument module's rounding rules).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from adxbot.domain.enums import Direction
from adxbot.domain.instrument import Instrument, Rounding

_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class ProtectiveLevels:
    """The trigger prices of a position's stop-loss and take-profit."""

    stop_loss: Decimal
    take_profit: Decimal


def protective_levels(
    entry_price: Decimal,
    direction: Direction,
    stop_loss_percent: Decimal,
    take_profit_percent: Decimal,
    instrument: Instrument,
) -> ProtectiveLevels:
    """Return SL and TP at the configured distances from the entry, on the tick grid."""
    sl_offset = entry_price * stop_loss_percent / _HUNDRED
    tp_offset = entry_price * take_profit_percent / _HUNDRED
    if direction is Direction.LONG:
        return ProtectiveLevels(
            stop_loss=instrument.round_price(entry_price - sl_offset, Rounding.UP),
            take_profit=instrument.round_price(entry_price + tp_offset, Rounding.DOWN),
        )
    return ProtectiveLevels(
        stop_loss=instrument.round_price(entry_price + sl_offset, Rounding.DOWN),
        take_profit=instrument.round_price(entry_price - tp_offset, Rounding.UP),
    )


def trailed_stop(
    best_price: Decimal,
    current_stop: Decimal,
    direction: Direction,
    stop_loss_percent: Decimal,
    instrument: Instrument,
) -> Decimal:
    """Return the stop trailed to `stop_loss_percent` behind the best price; it never loosens."""
    offset = best_price * stop_loss_percent / _HUNDRED
    if direction is Direction.LONG:
        candidate = instrument.round_price(best_price - offset, Rounding.UP)
        return max(candidate, current_stop)
    candidate = instrument.round_price(best_price + offset, Rounding.DOWN)
    return min(candidate, current_stop)
