"""What the dashboard reads from the bot's database, through a read-only store.

Each call opens the file read-only for the duration of one query (cheap for SQLite, and
a database the bot creates or replaces later is picked up).  The status is the one
`adxbot status` shows: `collect_status` is called, not rewritten.  Filters the store has
no query for (direction, exit reason, an end date, severity) are applied here.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from adxbot.cli.status_cmd import StatusReport, collect_status
from adxbot.clock import Clock
from adxbot.domain.enums import Direction, ExitReason
from adxbot.errors import DatabaseError
from adxbot.persistence.records import (
    ClosedTrade,
    EquitySnapshot,
    EventKind,
    EventRecord,
    PositionRecord,
    Severity,
    TradingMode,
)
from adxbot.persistence.rows import day_bounds_ms
from adxbot.persistence.store import TradeStore

EVENT_SCAN = 5000
"""How many latest events are searched when filtering by severity (the store cannot)."""
_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class TradeFilter:
    """Which closed trades to show: by direction, exit reason and exit day (UTC, inclusive)."""

    direction: Direction | None = None
    exit_reason: ExitReason | None = None
    start: date | None = None
    end: date | None = None

    @property
    def since_ms(self) -> int | None:
        """Return the first exit time included, or None."""
        return None if self.start is None else day_bounds_ms(self.start.isoformat())[0]

    def matches(self, trade: ClosedTrade) -> bool:
        """Return True when the trade passes every filter."""
        if self.direction is not None and trade.direction is not self.direction:
            return False
        if self.exit_reason is not None and trade.exit_reason is not self.exit_reason:
            return False
        if self.end is not None:
            return trade.exit_time_ms < day_bounds_ms(self.end.isoformat())[1]
        return True


@dataclass(frozen=True, slots=True)
class EquityPoint:
    """One equity snapshot and its drawdown from the highest equity before it (shown)."""

    snapshot: EquitySnapshot
    peak: Decimal
    drawdown_percent: Decimal


@dataclass(frozen=True, slots=True)
class ChartMarks:
    """What the price chart marks: closed trades and the open positions' entries."""

    trades: list[ClosedTrade]
    open_positions: list[PositionRecord]


class DatabaseReader:
    """Read-only queries over the trade database of one mode."""

    def __init__(self, path: Path, mode: TradingMode, heartbeat_seconds: int, clock: Clock) -> None:
        self._path = path
        self._mode = mode
        self._heartbeat_seconds = heartbeat_seconds
        self._clock = clock

    @property
    def path(self) -> Path:
        """Return the database file's path."""
        return self._path

    @contextmanager
    def _store(self) -> Iterator[TradeStore]:
        with TradeStore.open_read_only(self._path) as store:
            if store.mode is not self._mode:
                raise DatabaseError(
                    f"{self._path} belongs to {store.mode.value} trading, not {self._mode.value}"
                )
            yield store

    def status(self) -> StatusReport:
        """Return what `adxbot status` shows, as of now."""
        with self._store() as store:
            return collect_status(store, self._heartbeat_seconds, self._clock)

    def trades(self, where: TradeFilter, *, limit: int | None = None) -> list[ClosedTrade]:
        """Return the matching closed trades, newest first (at most `limit`)."""
        with self._store() as store:
            found = [t for t in store.trades(since_ms=where.since_ms) if where.matches(t)]
        found.reverse()
        return found if limit is None else found[:limit]

    def equity(self, *, limit: int) -> list[EquityPoint]:
        """Return the latest `limit` equity snapshots, oldest first, with their drawdown."""
        with self._store() as store:
            snapshots = store.equity_snapshots(limit=limit)
        return with_drawdown(snapshots)

    def events(
        self,
        *,
        kinds: Collection[EventKind] | None = None,
        severities: Collection[Severity] | None = None,
        limit: int = 200,
        after_id: int | None = None,
    ) -> list[EventRecord]:
        """Return the latest matching events, newest first."""
        with self._store() as store:
            if not severities:
                return store.events(limit=limit, kinds=kinds or None, after_id=after_id)
            scanned = store.events(limit=EVENT_SCAN, kinds=kinds or None, after_id=after_id)
        return [e for e in scanned if e.severity in severities][:limit]

    def chart_marks(self, since_ms: int) -> ChartMarks:
        """Return the trades that exited at or after `since_ms` and the open positions."""
        with self._store() as store:
            return ChartMarks(store.trades(since_ms=since_ms), store.open_positions())


def with_drawdown(snapshots: list[EquitySnapshot]) -> list[EquityPoint]:
    """Return each snapshot with its drawdown (percent) from the running peak of equity."""
    points: list[EquityPoint] = []
    peak: Decimal | None = None
    for snapshot in snapshots:
        peak = snapshot.equity if peak is None else max(peak, snapshot.equity)
        drawdown = (peak - snapshot.equity) / peak * _HUNDRED if peak > 0 else Decimal(0)
        points.append(EquityPoint(snapshot, peak, drawdown))
    return points
