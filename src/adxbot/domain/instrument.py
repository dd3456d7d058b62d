"""Contract rules and the rounding rules that follow from them.

Rounding rules (tested in tests/test_instrument.py):

- Quantities always truncate down to the quantity step: never more than was sized.
- A market fill price with slippage rounds to the tick *against* the taker: up for a buy,
  down for a sell.
- A protective trigger price (stop-loss, take-profit) rounds to the tick *toward the entry*:
  a stop-loss never risks more than was sized, a take-profit never promises more than
  configured.  See `adxbot.risk.levels`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from adxbot.domain.enums import OrderSide


class Rounding(StrEnum):
    """Which way a price goes when it is put on the tick grid."""

    UP = "up"
    DOWN = "down"
    NEAREST = "nearest"


def _on_grid(value: Decimal, step: Decimal, rounding: Rounding) -> Decimal:
    # divmod on Decimals is exact (no 28-digit rounding of value / step), so a value a
    # hair off a grid line is never pulled onto it before the rounding direction applies.
    units, remainder = divmod(value, step)
    if remainder < 0:  # divmod truncates toward zero; make `units` the floor
        units, remainder = units - 1, remainder + step
    if remainder and (
        rounding is Rounding.UP
        or (
            rounding is Rounding.NEAREST
            and (2 * remainder > step or (2 * remainder == step and units % 2))
        )
    ):
        units += 1
    return (units * step).quantize(step)


@dataclass(frozen=True, slots=True)
class Instrument:
    """A perpetual contract's trading rules: tick, step and minimums."""

    symbol: str
    price_tick: Decimal
    quantity_step: Decimal
    min_quantity: Decimal
    min_notional: Decimal

    def __post_init__(self) -> None:
        for name in ("price_tick", "quantity_step"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{self.symbol}: {name} must be positive")
        if self.min_quantity < 0 or self.min_notional < 0:
            raise ValueError(f"{self.symbol}: minimums cannot be negative")

    def floor_quantity(self, quantity: Decimal) -> Decimal:
        """Truncate a quantity down to the step."""
        return _on_grid(quantity, self.quantity_step, Rounding.DOWN)

    def round_price(self, price: Decimal, rounding: Rounding) -> Decimal:
        """Put a price on the tick grid, rounding the given way."""
        return _on_grid(price, self.price_tick, rounding)

    def taker_price(self, price: Decimal, side: OrderSide) -> Decimal:
        """Round a taker's fill price against the taker: up when buying, down when selling."""
        return self.round_price(price, Rounding.UP if side is OrderSide.BUY else Rounding.DOWN)

    def is_price_on_grid(self, price: Decimal) -> bool:
        """Return True when the price is a whole number of ticks."""
        return price % self.price_tick == 0

    def is_quantity_on_grid(self, quantity: Decimal) -> bool:
        """Return True when the quantity is a whole number of steps."""
        return quantity % self.quantity_step == 0


BINGX_CONTRACTS: dict[str, Instrument] = {
    # Values from BingX's /openApi/swap/v2/quote/contracts (see shared/spec/bingx-api.md §5.2).
    "BTC-USDT": Instrument(
        symbol="BTC-USDT",
        price_tick=Decimal("0.1"),
        quantity_step=Decimal("0.0001"),
        min_quantity=Decimal("0.0001"),
        min_notional=Decimal("2"),
    ),
    "ETH-USDT": Instrument(
        symbol="ETH-USDT",
        price_tick=Decimal("0.01"),
        quantity_step=Decimal("0.01"),
        min_quantity=Decimal("0.01"),
        min_notional=Decimal("2"),
    ),
}
"""Known contract rules, used by backtests and paper mode when the exchange is not asked."""
