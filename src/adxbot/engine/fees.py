"""Fees and slippage of the fill model."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from adxbot.config import Fees
from adxbot.domain.enums import Liquidity, OrderSide
from adxbot.domain.instrument import Instrument

_BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Taker and maker fee rates (fractions of notional) and taker slippage in basis points."""

    taker_rate: Decimal
    maker_rate: Decimal
    slippage_bps: Decimal

    @classmethod
    def from_config(cls, fees: Fees) -> FeeSchedule:
        """Build the schedule from the config's `fees` section."""
        return cls(fees.taker_fee_rate, fees.maker_fee_rate, fees.slippage_bps)

    def fee(self, price: Decimal, quantity: Decimal, liquidity: Liquidity) -> Decimal:
        """Return the fee on a fill's notional."""
        rate = self.taker_rate if liquidity is Liquidity.TAKER else self.maker_rate
        return price * quantity * rate

    def taker_fill_price(self, price: Decimal, side: OrderSide, instrument: Instrument) -> Decimal:
        """Return the price a taker gets at `price`: adverse slippage, rounded against it."""
        sign = 1 if side is OrderSide.BUY else -1
        slipped = price * (1 + sign * self.slippage_bps / _BPS)
        return instrument.taker_price(slipped, side)
