"""Where a bot's trade database lives (a light module: operator commands import it)."""

from __future__ import annotations

from pathlib import Path

from adxbot.config import BotConfig
from adxbot.persistence.database import default_database_path
from adxbot.persistence.records import TradingMode


def database_path(config: BotConfig, mode: TradingMode, override: Path | None = None) -> Path:
    """Return the database a bot in `mode` uses: the override, the config's, or the default."""
    if override is not None:
        return override
    if config.bot.database is not None:
        return Path(config.bot.database)
    return default_database_path(mode)
