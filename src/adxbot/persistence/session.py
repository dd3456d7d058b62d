"""One SQLite connection behind a lock: explicit re-entrant transactions, typed errors."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from adxbot.errors import DatabaseError


class Session:
    """Run SQL on one connection from any thread; every SQLite failure is a DatabaseError."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, read_only: bool) -> None:
        self._conn = conn
        self._path = path
        self._read_only = read_only
        self._lock = threading.RLock()
        self._depth = 0

    @property
    def read_only(self) -> bool:
        """Return True when the connection may not write."""
        return self._read_only

    def close(self) -> None:
        """Close the connection; SQLite rolls back a transaction still open."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the block in one transaction: all its writes are kept, or none on an exception.

        A nested transaction joins the outer one as a savepoint, so an exception caught
        inside the outer block undoes only the inner block's writes.
        """
        if self._read_only:
            raise DatabaseError(f"{self._path} is open read-only: it cannot be written")
        with self._lock:
            savepoint = f"s{self._depth}" if self._depth else None
            self.execute("BEGIN IMMEDIATE" if savepoint is None else f"SAVEPOINT {savepoint}")
            self._depth += 1
            try:
                yield
                self.execute("COMMIT" if savepoint is None else f"RELEASE {savepoint}")
            except BaseException:
                if savepoint is not None:
                    self.execute(f"ROLLBACK TO {savepoint}")
                    self.execute(f"RELEASE {savepoint}")
                elif self._conn.in_transaction:
                    self.execute("ROLLBACK")
                raise
            finally:
                self._depth -= 1

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        """Run one statement and return its cursor."""
        with self._lock:
            try:
                return self._conn.execute(sql, params)
            except sqlite3.Error as e:
                raise DatabaseError(f"{self._path}: {e}") from e

    def one(self, sql: str, params: Any = ()) -> Any:
        """Return the first row of a query, or None."""
        with self._lock:
            try:
                return self.execute(sql, params).fetchone()
            except sqlite3.Error as e:
                raise DatabaseError(f"{self._path}: {e}") from e

    def all(self, sql: str, params: Any = ()) -> list[Any]:
        """Return every row of a query."""
        with self._lock:
            try:
                return self.execute(sql, params).fetchall()
            except sqlite3.Error as e:
                raise DatabaseError(f"{self._path}: {e}") from e
