"""Build the configured strategy."""

from __future__ import annotations

from adxbot.config import StrategySettings
from adxbot.errors import ConfigError
from adxbot.strategy.adx_v2 import AdxV2Strategy
from adxbot.strategy.base import Strategy


def build_strategy(settings: StrategySettings) -> Strategy:
    """Return the strategy named by `settings.name`, built from `settings`."""
    if settings.name == "adx_v2":
        return AdxV2Strategy(settings)
    raise ConfigError(f"strategy.name = {settings.name!r}: unknown strategy (known: adx_v2)")
