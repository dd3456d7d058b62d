"""Circuit breakers: latching trading halts, per the strategy spec's "Circuit breakers" section.

A tripped breaker stops new entries; open positions keep their exchange-side stop-loss and
take-profit.  Every trip and reset is stored (breaker state and an event) and logged, so a
restart over the same store comes back HALTED.  The daily-loss breaker is the only one that
clears by itself, at the next UTC day; every other one waits for a person's `reset`.
Counters the breakers depend on (peak equity, losing streak, recent API error times) are
persisted as small JSON values in the store's key-value state.

The store is the single source of truth: every public method first reloads the breakers
and those counters from it, so a trip or a reset made by another process (`adxbot halt`,
`adxbot reset-breaker`) takes effect in a running bot at its next check.  Only the UTC
day's start equity is kept in memory (it is fixed in the store's daily P&L row anyway).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol, TypeVar, cast

from adxbot.clock import Clock
from adxbot.config import BotConfig
from adxbot.errors import DataError
from adxbot.persistence.records import BreakerRecord, DailyPnl, EventKind, EventRecord, Severity

log = logging.getLogger(__name__)

_HUNDRED = Decimal(100)
_PEAK_KEY = "breakers.peak_equity"
_STREAK_KEY = "breakers.loss_streak"
_API_ERRORS_KEY = "breakers.api_error_times_ms"


class BreakerName(StrEnum):
    """The circuit breakers, in the order they are shown."""

    DAILY_LOSS = "daily_loss"
    MAX_DRAWDOWN = "max_drawdown"
    CONSECUTIVE_LOSSES = "consecutive_losses"
    API_ERRORS = "api_errors"
    RECONCILIATION = "reconciliation"
    MANUAL_HALT = "manual_halt"


_KNOWN = frozenset(name.value for name in BreakerName)


class TradingState(StrEnum):
    """Whether the bot may open positions."""

    ACTIVE = "active"
    HALTED = "halted"


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """The thresholds the breakers and the entry check use."""

    daily_loss_percent: Decimal
    max_drawdown_percent: Decimal
    consecutive_losses: int
    max_positions: int
    api_error_limit: int
    api_error_window_ms: int

    @classmethod
    def from_config(cls, config: BotConfig) -> RiskLimits:
        """Return the limits of a validated configuration."""
        risk = config.risk_management
        return cls(
            daily_loss_percent=risk.daily_loss_limit_percent,
            max_drawdown_percent=risk.max_drawdown_percent,
            consecutive_losses=risk.consecutive_loss_limit,
            max_positions=config.position_sizing.max_positions,
            api_error_limit=risk.api_error_limit,
            api_error_window_ms=risk.api_error_window_minutes * 60_000,
        )


@dataclass(frozen=True, slots=True)
class BreakerTrip:
    """A breaker has just tripped (a fact, already stored and logged)."""

    name: BreakerName
    reason: str
    time_ms: int


class BreakerStore(Protocol):
    """The part of the trade store the breakers need."""

    def breakers(self) -> dict[str, BreakerRecord]: ...
    def save_breaker(self, breaker: BreakerRecord) -> None: ...
    def state(self, key: str) -> str | None: ...
    def set_state(self, key: str, value: str, time_ms: int) -> None: ...
    def add_event(self, event: EventRecord) -> EventRecord: ...
    def ensure_day(self, day: str, start_equity: Decimal, time_ms: int) -> DailyPnl: ...
    def transaction(self) -> AbstractContextManager[None]: ...


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _atomic(method: _Method) -> _Method:
    """Run a breaker update as one store transaction: read, decide and write together, so
    an operator's reset from another process cannot fall between the read and the write."""

    @functools.wraps(method)
    def wrapper(self: CircuitBreakers, *args: Any, **kwargs: Any) -> Any:
        with self._store.transaction():
            return method(self, *args, **kwargs)

    return cast(_Method, wrapper)


def utc_day(time_ms: int) -> str:
    """Return the ISO date (UTC) of an epoch-millisecond time."""
    return datetime.fromtimestamp(time_ms / 1000, tz=UTC).date().isoformat()


def _plain(value: Decimal) -> str:
    """Render a limit without an exponent or trailing zeros: 5.0 -> "5", 2.50 -> "2.5"."""
    return f"{value.normalize():f}"


class CircuitBreakers:
    """The breakers of one trader, backed by its store; deny entries while any is tripped."""

    def __init__(
        self, limits: RiskLimits, store: BreakerStore, clock: Clock, *, wall: Clock | None = None
    ) -> None:
        """`clock` dates trips and the UTC day (market time); `wall` times the API-error
        window (real time: an accelerated simulator must not stretch it), default `clock`."""
        self._limits = limits
        self._store = store
        self._clock = clock
        self._wall = wall or clock
        self._records: dict[BreakerName, BreakerRecord] = {}
        self._peak: Decimal | None = None
        self._streak = 0
        self._api_errors: list[int] = []
        self._unknown: set[str] = set()
        self._day: str | None = None
        self._day_start = Decimal(0)
        self._equity: Decimal | None = None
        self.refresh()
        self._expire_daily_loss(clock.now_ms())

    def refresh(self) -> None:
        """Reload the breakers and their counters (peak, streak, API errors) from the store."""
        records: dict[BreakerName, BreakerRecord] = {}
        for key, record in self._store.breakers().items():
            if key in _KNOWN:
                records[BreakerName(key)] = record
            elif key not in self._unknown:
                self._unknown.add(key)
                log.warning("ignoring stored state of unknown circuit breaker %r", key)
        self._records = records
        peak = self._load(_PEAK_KEY, None)
        self._peak = None if peak is None else Decimal(str(peak))
        self._streak = int(self._load(_STREAK_KEY, 0))
        self._api_errors = [int(t) for t in self._load(_API_ERRORS_KEY, [])]

    @property
    def state(self) -> TradingState:
        """Return HALTED while any breaker is tripped, else ACTIVE."""
        self.refresh()
        return TradingState.HALTED if self._tripped() else TradingState.ACTIVE

    def tripped(self) -> list[BreakerRecord]:
        """Return the tripped breakers, in `BreakerName` order."""
        self.refresh()
        return self._tripped()

    def all_states(self) -> list[BreakerRecord]:
        """Return every breaker's state, tripped or not, in `BreakerName` order."""
        self.refresh()
        return self._all_states()

    @_atomic
    def on_equity(self, equity: Decimal) -> list[BreakerTrip]:
        """Check the daily-loss and drawdown limits against the account's equity now.

        Call at every candle close with realised + unrealised equity.  The first call of a
        UTC day clears a daily-loss trip of an earlier day and fixes the day's start equity.
        """
        self.refresh()
        now = self._clock.now_ms()
        day = utc_day(now)
        if day != self._day:
            self._expire_daily_loss(now)
            self._day_start = self._store.ensure_day(day, equity, now).start_equity
            self._day = day
        self._equity = equity
        peak = equity if self._peak is None else max(self._peak, equity)
        if peak != self._peak:
            self._peak = peak
            self._save(_PEAK_KEY, str(peak), now)
        trips: list[BreakerTrip] = []
        limit = self._limits.daily_loss_percent
        start = self._day_start
        if start > 0 and equity <= start * (1 - limit / _HUNDRED):
            loss = (start - equity) / start * _HUNDRED
            reason = (
                f"equity {equity:.2f} is {loss:.2f}% below the day's start {start:.2f} "
                f"(limit {_plain(limit)}%)"
            )
            data = {"equity": str(equity), "start_equity": str(start)}
            self._trip_into(trips, BreakerName.DAILY_LOSS, reason, limit, loss, data)
        limit = self._limits.max_drawdown_percent
        if peak > 0 and equity <= peak * (1 - limit / _HUNDRED):
            drawdown = (peak - equity) / peak * _HUNDRED
            reason = (
                f"equity {equity:.2f} is {drawdown:.2f}% below its peak {peak:.2f} "
                f"(limit {_plain(limit)}%)"
            )
            data = {"equity": str(equity), "peak_equity": str(peak)}
            self._trip_into(trips, BreakerName.MAX_DRAWDOWN, reason, limit, drawdown, data)
        return trips

    @_atomic
    def on_trade_closed(self, pnl: Decimal) -> list[BreakerTrip]:
        """Count a closed trade's net P&L: a loss (or zero) extends the losing streak."""
        self.refresh()
        now = self._clock.now_ms()
        streak = self._streak = self._streak + 1 if pnl <= 0 else 0
        self._save(_STREAK_KEY, streak, now)
        trips: list[BreakerTrip] = []
        limit = self._limits.consecutive_losses
        if streak >= limit:
            reason = f"{streak} losing trades in a row, the last {pnl:.2f} USDT (limit {limit})"
            data = {"last_pnl": str(pnl)}
            self._trip_into(trips, BreakerName.CONSECUTIVE_LOSSES, reason, limit, streak, data)
        return trips

    @_atomic
    def on_api_error(self, description: str) -> list[BreakerTrip]:
        """Count an exchange API error; too many inside the window halt trading."""
        self.refresh()
        now = self._wall.now_ms()
        window = self._limits.api_error_window_ms
        self._api_errors = [t for t in self._api_errors if t > now - window] + [now]
        self._save(_API_ERRORS_KEY, self._api_errors, now)
        trips: list[BreakerTrip] = []
        count, limit = len(self._api_errors), self._limits.api_error_limit
        if count > limit:
            reason = (
                f"{count} API errors in the last {window / 60_000:g} min (limit {limit}); "
                f"last: {description}"
            )
            data = {"window_ms": window, "last_error": description}
            self._trip_into(trips, BreakerName.API_ERRORS, reason, limit, count, data)
        return trips

    @_atomic
    def trip(self, name: BreakerName, reason: str) -> BreakerTrip | None:
        """Trip a breaker by hand (emergency stop, failed reconciliation); None if already."""
        self.refresh()
        trips: list[BreakerTrip] = []
        self._trip_into(trips, name, reason, None, None, {})
        return trips[0] if trips else None

    @_atomic
    def reset(self, name: BreakerName, *, by: str) -> bool:
        """Clear a tripped breaker and the counter behind it; return False if it was not tripped.

        Resetting the drawdown breaker re-bases the peak to the latest equity (or to the next
        one seen, after a restart or a reset by another process), so it does not trip again
        at once.
        """
        self.refresh()
        now = self._clock.now_ms()
        record = self._records.get(name)
        if record is None or not record.tripped:
            return False
        if name is BreakerName.CONSECUTIVE_LOSSES:
            self._streak = 0
            self._save(_STREAK_KEY, 0, now)
        elif name is BreakerName.MAX_DRAWDOWN:
            self._peak = self._equity
            self._save(_PEAK_KEY, None if self._equity is None else str(self._equity), now)
        elif name is BreakerName.API_ERRORS:
            self._api_errors = []
            self._save(_API_ERRORS_KEY, [], now)
        self._set(BreakerRecord(str(name), False, "", now))
        message = f"circuit breaker {name} reset by {by} (was: {record.reason})"
        log.warning(message)
        self._store.add_event(
            EventRecord(
                time_ms=now,
                kind=EventKind.BREAKER_RESET,
                message=message,
                severity=Severity.WARNING,
                data={"name": str(name), "by": by, "reason": record.reason},
            )
        )
        return True

    def entry_denial(self, open_positions: int) -> str | None:
        """Return why a new entry is not allowed now, or None if it is."""
        self.refresh()
        tripped = self._tripped()
        if tripped:
            return "trading halted: " + "; ".join(f"{r.name} ({r.reason})" for r in tripped)
        if open_positions >= self._limits.max_positions:
            return f"max_positions reached: {open_positions} of {self._limits.max_positions} open"
        return None

    def _tripped(self) -> list[BreakerRecord]:
        return [record for record in self._all_states() if record.tripped]

    def _all_states(self) -> list[BreakerRecord]:
        return [
            self._records.get(name, BreakerRecord(str(name), False, "", 0)) for name in BreakerName
        ]

    def _expire_daily_loss(self, now: int) -> None:
        record = self._records.get(BreakerName.DAILY_LOSS)
        if record is not None and record.tripped and utc_day(record.changed_ms) != utc_day(now):
            self.reset(BreakerName.DAILY_LOSS, by=f"new UTC day {utc_day(now)}")

    def _trip_into(
        self,
        trips: list[BreakerTrip],
        name: BreakerName,
        reason: str,
        threshold: Decimal | int | None,
        value: Decimal | int | None,
        data: dict[str, Any],
    ) -> None:
        record = self._records.get(name)
        if record is not None and record.tripped:
            return
        now = self._clock.now_ms()
        self._set(BreakerRecord(str(name), True, reason, now))
        message = f"circuit breaker {name} tripped: {reason}; no new entries until reset"
        log.critical(message)
        self._store.add_event(
            EventRecord(
                time_ms=now,
                kind=EventKind.BREAKER_TRIPPED,
                message=message,
                severity=Severity.CRITICAL,
                data={
                    "name": str(name),
                    "threshold": None if threshold is None else str(threshold),
                    "value": None if value is None else str(value),
                    **data,
                },
            )
        )
        trips.append(BreakerTrip(name, reason, now))

    def _set(self, record: BreakerRecord) -> None:
        self._store.save_breaker(record)
        self._records[BreakerName(record.name)] = record

    def _load(self, key: str, default: Any) -> Any:
        raw = self._store.state(key)
        if raw is None:
            return default
        try:
            return json.loads(raw)
        except json.JSONDecodeError as e:
            raise DataError(f"stored breaker state {key} = {raw!r} is not valid JSON") from e

    def _save(self, key: str, value: Any, time_ms: int) -> None:
        self._store.set_state(key, json.dumps(value), time_ms)
