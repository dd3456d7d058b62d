"""The risk manager: circuit breakers first, then sizing; it denies with a reason."""

from __future__ import annotations

from decimal import Decimal

from adxbot.config import BotConfig
from adxbot.domain.enums import Direction
from adxbot.risk.breakers import CircuitBreakers
from adxbot.risk.sizing import SizingDecision, size_entry


class RiskManager:
    """Decides whether and how big an entry may be, for paper and live traders alike."""

    def __init__(self, config: BotConfig, breakers: CircuitBreakers) -> None:
        self._config = config
        self._instrument = config.instrument()
        self.breakers = breakers

    def assess_entry(
        self, direction: Direction, equity: Decimal, price: Decimal, open_positions: int
    ) -> SizingDecision:
        """Return the sized entry at `price`, or a denial naming the breaker or limit."""
        denial = self.breakers.entry_denial(open_positions)
        if denial is not None:
            return SizingDecision.deny(f"{direction.value} entry denied: {denial}")
        config = self._config
        return size_entry(
            equity=equity,
            price=price,
            stop_loss_percent=config.exit_strategy.stop_loss_percent,
            leverage=config.leverage,
            open_positions=open_positions,
            sizing=config.position_sizing,
            instrument=self._instrument,
        )
