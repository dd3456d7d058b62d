"""Position sizing per the strategy spec: risk a fixed share of equity at the stop distance.

`size_entry` never raises on a refusal: it returns a decision with the reason, which the
caller stores and shows (a refusal is a fact worth recording, not an error).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from adxbot.config import PositionSizing
from adxbot.domain.instrument import Instrument

_HUNDRED = Decimal(100)
MARGIN_RESERVE = Decimal("0.99")
"""Share of the leverage cap sizing may use: 1 % stays free for fees and the move to the fill."""


@dataclass(frozen=True, slots=True)
class SizingDecision:
    """The outcome of sizing an entry: a quantity to trade, or a refusal with its reason."""

    approved: bool
    quantity: Decimal
    notional: Decimal
    reason: str

    @classmethod
    def deny(cls, reason: str, notional: Decimal = Decimal(0)) -> SizingDecision:
        """Return a refusal."""
        return cls(approved=False, quantity=Decimal(0), notional=notional, reason=reason)


def size_entry(
    *,
    equity: Decimal,
    price: Decimal,
    stop_loss_percent: Decimal,
    leverage: int,
    open_positions: int,
    sizing: PositionSizing,
    instrument: Instrument,
) -> SizingDecision:
    """Size an entry at `price` (the decision candle's close) for the given account state."""
    if open_positions >= sizing.max_positions:
        return SizingDecision.deny(
            f"max_positions reached: {open_positions} of {sizing.max_positions} open"
        )
    if equity <= 0:
        return SizingDecision.deny(f"equity is {equity} USDT: nothing to risk")
    risk_usdt = equity * sizing.risk_per_trade_percent / _HUNDRED
    wanted = risk_usdt / (stop_loss_percent / _HUNDRED)
    cap = equity * leverage / sizing.max_positions * MARGIN_RESERVE
    notional = min(wanted, cap)
    quantity = instrument.floor_quantity(notional / price)
    actual = quantity * price
    if actual < sizing.min_trade_size_usdt:
        return SizingDecision.deny(
            f"notional {actual:.2f} USDT is below min_trade_size_usdt {sizing.min_trade_size_usdt}",
            notional=actual,
        )
    if quantity < instrument.min_quantity:
        return SizingDecision.deny(
            f"quantity {quantity} is below the contract minimum {instrument.min_quantity}",
            notional=actual,
        )
    if actual < instrument.min_notional:
        return SizingDecision.deny(
            f"notional {actual:.2f} USDT is below the contract minimum "
            f"{instrument.min_notional} USDT",
            notional=actual,
        )
    capped = " (capped by leverage / max_positions)" if cap < wanted else ""
    return SizingDecision(
        approved=True,
        quantity=quantity,
        notional=actual,
        reason=f"risk {risk_usdt:.2f} USDT at {stop_loss_percent}% stop{capped}",
    )
