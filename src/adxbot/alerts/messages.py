"""What an alert says: a title that names the bot's mode, a body, a level, and its origin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from adxbot.persistence.records import TradingMode

TITLE_PREFIX = "adxbot"
MAX_TITLE = 200


class AlertLevel(StrEnum):
    """How an alert is shown; the values are apprise's notification types."""

    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"

    @property
    def rank(self) -> int:
        """Return the order of urgency (INFO and SUCCESS lowest, FAILURE highest)."""
        return _RANKS[self]


_RANKS = {AlertLevel.INFO: 0, AlertLevel.SUCCESS: 0, AlertLevel.WARNING: 1, AlertLevel.FAILURE: 2}


@dataclass(frozen=True, slots=True)
class Alert:
    """One message to every alert channel."""

    title: str
    body: str
    level: AlertLevel = AlertLevel.INFO


@dataclass(frozen=True, slots=True)
class AlertContext:
    """Which bot an alert is about: its mode, symbol and environment (from its database)."""

    mode: TradingMode
    symbol: str = ""
    environment: str = ""

    def title(self, headline: str) -> str:
        """Return `headline` behind the bot's name and mode, e.g. "adxbot LIVE: …"."""
        text = f"{TITLE_PREFIX} {self.mode.value.upper()}: {headline}"
        return text if len(text) <= MAX_TITLE else text[: MAX_TITLE - 1] + "…"

    def footer(self, event_id: int | None, time_ms: int | None) -> str:
        """Return the line that ends every alert body: bot, environment and event."""
        parts = [self.mode.value.upper()]
        if self.symbol:
            parts.append(self.symbol)
        if self.environment:
            parts.append(self.environment)
        if event_id is not None:
            parts.append(f"event #{event_id}")
        if time_ms is not None:
            parts.append(format_utc(time_ms))
        return " · ".join(parts)


def digest(context: AlertContext, alerts: list[Alert]) -> Alert:
    """Return one alert carrying several (a channel's backlog), at the highest level."""
    level = max((a.level for a in alerts), key=lambda lvl: lvl.rank)
    body = "\n\n".join(f"▶ {a.title}\n{a.body}" for a in alerts)
    return Alert(context.title(f"{len(alerts)} alerts"), body, level)


def format_utc(time_ms: int) -> str:
    """Return an epoch-ms time as "YYYY-MM-DD HH:MM:SS UTC"."""
    return datetime.fromtimestamp(time_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_age(seconds: float) -> str:
    """Return a duration as "45 s", "12 min" or "3.5 h"."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
