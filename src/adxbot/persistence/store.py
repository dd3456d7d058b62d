"""The trade store: the only code that reads and writes the bot's SQLite database.

Every write method runs in a transaction of its own, or joins the caller's
`transaction()`. Do not await inside a transaction: the store serialises threads, not
coroutines, so another coroutine on the same thread would join it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

from adxbot.domain.enums import OrderStatus
from adxbot.domain.ids import ClientOrderId
from adxbot.errors import DatabaseError
from adxbot.persistence import rows
from adxbot.persistence.database import check_not_newer, connect, migrate
from adxbot.persistence.records import (
    BreakerRecord,
    ClosedTrade,
    DailyPnl,
    EquitySnapshot,
    EventKind,
    EventRecord,
    FillRecord,
    OrderRecord,
    OrderStatusChange,
    PositionRecord,
    TradingMode,
)
from adxbot.persistence.rows import utc_day
from adxbot.persistence.session import Session

__all__ = ["TradeStore", "utc_day"]

_MODE_KEY = "mode"
_FINAL_STATUSES = tuple(status.value for status in OrderStatus if status.is_final)


class TradeStore:
    """The bot's trade database: orders, fills, positions, trades, equity, events, breakers."""

    def __init__(
        self, conn: sqlite3.Connection, path: Path, mode: TradingMode, *, read_only: bool
    ) -> None:
        self._db = Session(conn, path, read_only=read_only)
        self._path = path
        self._mode = mode

    @classmethod
    def open(cls, path: Path, mode: TradingMode) -> TradeStore:
        """Open (creating and migrating as needed) the database of `mode` at `path`."""

        def claim(conn: sqlite3.Connection) -> TradingMode:
            if check_not_newer(conn) > 0:  # refuse another mode's file before migrating it
                _check_owner(path, _stored_mode(conn), mode)
            migrate(conn)
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT OR IGNORE INTO bot_info VALUES (?, ?)", (_MODE_KEY, mode.value))
            owner = _stored_mode(conn)
            conn.execute("COMMIT")
            _check_owner(path, owner, mode)
            return mode

        return cls._opened(path, claim, read_only=False)

    @classmethod
    def open_read_only(cls, path: Path) -> TradeStore:
        """Open an existing database for reading only; it may be open in a writer meanwhile."""
        if not path.is_file():
            raise DatabaseError(f"no database at {path}: has the bot run yet?")

        def owner(conn: sqlite3.Connection) -> TradingMode:
            stored = _stored_mode(conn) if check_not_newer(conn) > 0 else None
            if stored is None:
                raise DatabaseError(f"{path} is not an initialised adxbot database: start the bot")
            return stored

        return cls._opened(path, owner, read_only=True)

    @classmethod
    def _opened(
        cls, path: Path, setup: Callable[[sqlite3.Connection], TradingMode], *, read_only: bool
    ) -> TradeStore:
        try:
            conn = connect(path, read_only=read_only)
        except sqlite3.Error as e:
            raise _unusable(path, e) from e
        try:
            mode = setup(conn)
        except BaseException as e:
            conn.close()  # rolls back a transaction left open
            if isinstance(e, sqlite3.Error):
                raise _unusable(path, e) from e
            raise
        return cls(conn, path, mode, read_only=read_only)

    @property
    def mode(self) -> TradingMode:
        """Return the trading mode the database belongs to."""
        return self._mode

    @property
    def path(self) -> Path:
        """Return the database file's path."""
        return self._path

    @property
    def read_only(self) -> bool:
        """Return True when the store was opened for reading only."""
        return self._db.read_only

    @property
    def schema_version(self) -> int:
        """Return the schema version of the database file."""
        return int(self._db.one("PRAGMA user_version")[0])

    def close(self) -> None:
        """Close the connection; a transaction still open is rolled back by SQLite."""
        self._db.close()

    def __enter__(self) -> TradeStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the block in one transaction: all its writes are kept, or none on an exception.

        A nested `transaction()` joins the outer one (as a savepoint, so an exception caught
        inside the outer block undoes only the inner block's writes). Every write method
        outside a transaction runs in one of its own.
        """
        with self._db.transaction():
            yield

    # bot info

    def set_info(self, key: str, value: str) -> None:
        """Set one bot-info entry (heartbeat_ms, pid, started_ms, symbol, status...).

        The "mode" entry is fixed when the database is created: setting it to the same mode
        does nothing; setting it to the other one raises DatabaseError.
        """
        with self.transaction():
            if key == _MODE_KEY:
                _check_owner(self._path, self._mode, TradingMode(value))
                return
            self._db.execute(
                "INSERT INTO bot_info (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def info(self, key: str) -> str | None:
        """Return one bot-info entry, or None when it was never set."""
        row = self._db.one("SELECT value FROM bot_info WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    def all_info(self) -> dict[str, str]:
        """Return every bot-info entry."""
        return {row["key"]: row["value"] for row in self._db.all("SELECT key, value FROM bot_info")}

    # orders

    def add_order(self, order: OrderRecord) -> None:
        """Record a new order and its first status; refuse a client order id already known."""
        with self.transaction():
            if self.order(order.client_order_id) is not None:
                raise DatabaseError(f"order {order.client_order_id} is already in {self._path}")
            params = rows.order_params(order)
            self._db.execute(rows.insert_sql("orders", params), params)
            self._add_status(order.client_order_id, order.status, order.created_ms, order.reason)

    def update_order(
        self,
        client_order_id: ClientOrderId,
        status: OrderStatus,
        time_ms: int,
        *,
        reason: str = "",
        exchange_order_id: str | None = None,
        position_id: int | None = None,
    ) -> OrderRecord:
        """Set an order's status (and ids given); record the change; return the updated order."""
        with self.transaction():
            cursor = self._db.execute(
                "UPDATE orders SET status = ?, reason = ?, updated_ms = ?, "
                "exchange_order_id = coalesce(?, exchange_order_id), "
                "position_id = coalesce(?, position_id) WHERE client_order_id = ?",
                (status.value, reason, time_ms, exchange_order_id, position_id, client_order_id),
            )
            if cursor.rowcount != 1:
                raise DatabaseError(f"no order {client_order_id} in {self._path}")
            self._add_status(client_order_id, status, time_ms, reason)
            updated = self.order(client_order_id)
        assert updated is not None
        return updated

    def order(self, client_order_id: ClientOrderId) -> OrderRecord | None:
        """Return the order with this client order id, or None."""
        row = self._db.one("SELECT * FROM orders WHERE client_order_id = ?", (client_order_id,))
        return None if row is None else rows.order_from_row(row)

    def open_orders(self) -> list[OrderRecord]:
        """Return the orders whose status is not final, oldest first."""
        marks = ", ".join("?" for _ in _FINAL_STATUSES)
        found = self._db.all(
            f"SELECT * FROM orders WHERE status NOT IN ({marks}) ORDER BY created_ms, rowid",  # noqa: S608
            _FINAL_STATUSES,
        )
        return [rows.order_from_row(row) for row in found]

    def orders(self, *, limit: int | None = None) -> list[OrderRecord]:
        """Return the orders, newest first (at most `limit`)."""
        found = self._db.all(
            "SELECT * FROM orders ORDER BY created_ms DESC, rowid DESC LIMIT ?", (_limit(limit),)
        )
        return [rows.order_from_row(row) for row in found]

    def order_history(self, client_order_id: ClientOrderId) -> list[OrderStatusChange]:
        """Return every status an order has had, in the order they were recorded."""
        found = self._db.all(
            "SELECT * FROM order_status_history WHERE client_order_id = ? ORDER BY id",
            (client_order_id,),
        )
        return [rows.status_change_from_row(row) for row in found]

    def _add_status(
        self, client_order_id: ClientOrderId, status: OrderStatus, time_ms: int, reason: str
    ) -> None:
        self._db.execute(
            "INSERT INTO order_status_history (client_order_id, status, reason, time_ms) "
            "VALUES (?, ?, ?, ?)",
            (client_order_id, status.value, reason, time_ms),
        )

    # fills

    def add_fill(self, fill: FillRecord) -> None:
        """Record an execution of one of the bot's orders."""
        with self.transaction():
            params = rows.fill_params(fill)
            self._db.execute(rows.insert_sql("fills", params), params)

    def fills(self, client_order_id: ClientOrderId | None = None) -> list[FillRecord]:
        """Return the fills (of one order when given), in the order they were recorded."""
        if client_order_id is None:
            found = self._db.all("SELECT * FROM fills ORDER BY id")
        else:
            found = self._db.all(
                "SELECT * FROM fills WHERE client_order_id = ? ORDER BY id", (client_order_id,)
            )
        return [rows.fill_from_row(row) for row in found]

    # positions

    def add_position(self, position: PositionRecord) -> PositionRecord:
        """Record a position; return it with the position_id the store assigned."""
        with self.transaction():
            params = rows.position_params(position)
            cursor = self._db.execute(rows.insert_sql("positions", params), params)
        return replace(position, position_id=cursor.lastrowid)

    def update_position(self, position: PositionRecord) -> None:
        """Overwrite the stored position with the same position_id."""
        if position.position_id is None:
            raise ValueError("update_position needs a position with its position_id")
        params = rows.position_params(position)
        columns = ", ".join(f"{name} = :{name}" for name in params if name != "position_id")
        with self.transaction():
            cursor = self._db.execute(
                f"UPDATE positions SET {columns} WHERE position_id = :position_id",  # noqa: S608
                params,
            )
            if cursor.rowcount != 1:
                raise DatabaseError(f"no position {position.position_id} in {self._path}")

    def position(self, position_id: int) -> PositionRecord | None:
        """Return the position with this id, or None."""
        row = self._db.one("SELECT * FROM positions WHERE position_id = ?", (position_id,))
        return None if row is None else rows.position_from_row(row)

    def open_positions(self) -> list[PositionRecord]:
        """Return the positions not closed yet, oldest first."""
        found = self._db.all("SELECT * FROM positions WHERE closed_ms IS NULL ORDER BY position_id")
        return [rows.position_from_row(row) for row in found]

    # trades

    def add_trade(self, trade: ClosedTrade) -> ClosedTrade:
        """Record a closed trade and add it to its exit day's P&L; return it with its trade_id."""
        day = utc_day(trade.exit_time_ms)
        with self.transaction():
            params = rows.trade_params(trade)
            cursor = self._db.execute(rows.insert_sql("trades", params), params)
            latest = self.latest_equity()
            current = self.ensure_day(
                day, Decimal(0) if latest is None else latest.equity, trade.exit_time_ms
            )
            self._db.execute(
                "UPDATE daily_pnl SET realized_pnl = ?, fees = ?, trades = trades + 1, "
                "updated_ms = max(updated_ms, ?) WHERE day = ?",
                (
                    rows.text(rows.exact_sum(current.realized_pnl, trade.pnl)),
                    rows.text(rows.exact_sum(current.fees, trade.fees)),
                    trade.exit_time_ms,
                    day,
                ),
            )
        return replace(trade, trade_id=cursor.lastrowid)

    def trades(self, *, since_ms: int | None = None, limit: int | None = None) -> list[ClosedTrade]:
        """Return trades that exited at or after `since_ms`, by exit time; the latest `limit`."""
        found = self._db.all(
            "SELECT * FROM trades WHERE exit_time_ms >= ? "
            "ORDER BY exit_time_ms DESC, trade_id DESC LIMIT ?",
            (_since(since_ms), _limit(limit)),
        )
        return [rows.trade_from_row(row) for row in reversed(found)]

    def trade_count(self) -> int:
        """Return how many trades are recorded."""
        return int(self._db.one("SELECT count(*) FROM trades")[0])

    # equity

    def add_equity(self, snapshot: EquitySnapshot) -> None:
        """Record (or replace) the snapshot at its time; the day's latest one sets last_equity."""
        start_ms, end_ms = rows.day_bounds_ms(utc_day(snapshot.time_ms))
        with self.transaction():
            params = rows.equity_params(snapshot)
            self._db.execute(
                rows.insert_sql("equity_snapshots", params)
                + " ON CONFLICT (time_ms) DO UPDATE SET balance = excluded.balance, "
                "equity = excluded.equity, unrealized_pnl = excluded.unrealized_pnl, "
                "open_positions = excluded.open_positions",
                params,
            )
            latest = self._db.one(
                "SELECT max(time_ms) FROM equity_snapshots WHERE time_ms >= ? AND time_ms < ?",
                (start_ms, end_ms),
            )[0]
            if latest == snapshot.time_ms:
                self._db.execute(
                    "UPDATE daily_pnl SET last_equity = ?, updated_ms = max(updated_ms, ?) "
                    "WHERE day = ?",
                    (rows.text(snapshot.equity), snapshot.time_ms, utc_day(snapshot.time_ms)),
                )

    def equity_snapshots(
        self, *, since_ms: int | None = None, limit: int | None = None
    ) -> list[EquitySnapshot]:
        """Return snapshots at or after `since_ms`, oldest first; the latest `limit` of them."""
        found = self._db.all(
            "SELECT * FROM equity_snapshots WHERE time_ms >= ? ORDER BY time_ms DESC LIMIT ?",
            (_since(since_ms), _limit(limit)),
        )
        return [rows.equity_from_row(row) for row in reversed(found)]

    def latest_equity(self) -> EquitySnapshot | None:
        """Return the most recent equity snapshot, or None."""
        row = self._db.one("SELECT * FROM equity_snapshots ORDER BY time_ms DESC LIMIT 1")
        return None if row is None else rows.equity_from_row(row)

    # daily P&L

    def ensure_day(self, day: str, start_equity: Decimal, time_ms: int) -> DailyPnl:
        """Create the UTC day's P&L row starting at `start_equity` unless it exists; return it."""
        fresh = DailyPnl(day, start_equity, Decimal(0), Decimal(0), 0, start_equity, time_ms)
        with self.transaction():
            params = rows.daily_params(fresh)
            sql = rows.insert_sql("daily_pnl", params) + " ON CONFLICT DO NOTHING"
            self._db.execute(sql, params)
            stored = self.daily_pnl(day)
        assert stored is not None
        return stored

    def daily_pnl(self, day: str) -> DailyPnl | None:
        """Return the P&L row of a UTC day ("YYYY-MM-DD"), or None."""
        row = self._db.one("SELECT * FROM daily_pnl WHERE day = ?", (day,))
        return None if row is None else rows.daily_from_row(row)

    def daily_history(self, *, limit: int = 30) -> list[DailyPnl]:
        """Return the latest `limit` days' P&L rows, newest first."""
        found = self._db.all("SELECT * FROM daily_pnl ORDER BY day DESC LIMIT ?", (limit,))
        return [rows.daily_from_row(row) for row in found]

    # events

    def add_event(self, event: EventRecord) -> EventRecord:
        """Record an event; return it as stored (its event_id set, data as JSON gives it back)."""
        with self.transaction():
            params = rows.event_params(event)
            cursor = self._db.execute(rows.insert_sql("events", params), params)
            row = self._db.one("SELECT * FROM events WHERE event_id = ?", (cursor.lastrowid,))
        return rows.event_from_row(row)

    def events(
        self,
        *,
        limit: int = 100,
        kinds: Collection[EventKind] | None = None,
        after_id: int | None = None,
    ) -> list[EventRecord]:
        """Return the latest `limit` events (of `kinds`, newer than `after_id`), newest first."""
        where = ["event_id > ?"]
        params: list[Any] = [-1 if after_id is None else after_id]
        if kinds is not None:
            values = sorted({kind.value for kind in kinds})
            where.append(f"kind IN ({', '.join('?' for _ in values)})")
            params.extend(values)
        found = self._db.all(
            f"SELECT * FROM events WHERE {' AND '.join(where)} "  # noqa: S608
            "ORDER BY event_id DESC LIMIT ?",
            (*params, limit),
        )
        return [rows.event_from_row(row) for row in found]

    # breakers

    def breakers(self) -> dict[str, BreakerRecord]:
        """Return the stored state of every circuit breaker, by name."""
        found = self._db.all("SELECT * FROM breakers ORDER BY name")
        return {row["name"]: rows.breaker_from_row(row) for row in found}

    def save_breaker(self, breaker: BreakerRecord) -> None:
        """Store a breaker's state, replacing the previous one."""
        with self.transaction():
            params = rows.breaker_params(breaker)
            self._db.execute(
                rows.insert_sql("breakers", params)
                + " ON CONFLICT (name) DO UPDATE SET tripped = excluded.tripped, "
                "reason = excluded.reason, changed_ms = excluded.changed_ms",
                params,
            )

    # component state

    def state(self, key: str) -> str | None:
        """Return a component's saved state (JSON text), or None."""
        row = self._db.one("SELECT value FROM component_state WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    def set_state(self, key: str, value: str, time_ms: int) -> None:
        """Save a component's state (JSON text), replacing the previous one."""
        with self.transaction():
            self._db.execute(
                "INSERT INTO component_state (key, value, updated_ms) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                "updated_ms = excluded.updated_ms",
                (key, value, time_ms),
            )


def _limit(limit: int | None) -> int:
    return -1 if limit is None else limit


def _since(since_ms: int | None) -> int:
    return -(2**63) if since_ms is None else since_ms


def _stored_mode(conn: sqlite3.Connection) -> TradingMode | None:
    row = conn.execute("SELECT value FROM bot_info WHERE key = ?", (_MODE_KEY,)).fetchone()
    return None if row is None else TradingMode(row["value"])


def _check_owner(path: Path, owner: TradingMode | None, mode: TradingMode) -> None:
    if owner is not None and owner is not mode:
        raise DatabaseError(
            f"{path} belongs to {owner.value} trading, not {mode.value}: paper and live never "
            f"share a database; use the {mode.value} database or another path"
        )


def _unusable(path: Path, error: sqlite3.Error) -> DatabaseError:
    return DatabaseError(
        f"{path} cannot be used as a trade database ({error}): if it is not an adxbot "
        "database or it is damaged, move it away or choose another path"
    )
