"""SQLite connections and schema migrations for the trade database.

The schema version is `PRAGMA user_version`. Each `migrations/NNNN_name.sql` file moves the
schema from version NNNN-1 to NNNN; it is applied in one transaction together with the
version bump, so a crash leaves the old schema or the new one, never a half.
"""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from adxbot.errors import DatabaseError, InternalInvariantError
from adxbot.persistence.records import TradingMode

STATE_DIR_ENV = "ADXBOT_STATE_DIR"
"""Environment variable that overrides the directory of the default database paths."""

BUSY_TIMEOUT_MS = 5000

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: the version it produces and its SQL script."""

    version: int
    name: str
    script: str


def _load_migrations() -> tuple[Migration, ...]:
    folder = resources.files("adxbot.persistence") / "migrations"
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            script = entry.read_text(encoding="utf-8")
            found.append(Migration(int(match.group(1)), entry.name, script))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if versions != list(range(1, len(found) + 1)):
        raise InternalInvariantError(
            f"migrations must be numbered 1, 2, 3... without gaps: {versions}"
        )
    return tuple(found)


MIGRATIONS = _load_migrations()
LATEST_SCHEMA_VERSION = MIGRATIONS[-1].version


def default_database_path(mode: TradingMode, base: Path | None = None) -> Path:
    """Return `<base>/adxbot-<mode>.sqlite3`; base defaults to $ADXBOT_STATE_DIR or `state`."""
    if base is None:
        base = Path(os.environ.get(STATE_DIR_ENV) or "state")
    return base / f"adxbot-{mode.value}.sqlite3"


def connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """Open the database at `path` in WAL mode with full synchronous commits.

    A writer creates the file and its parent directories when missing. A reader opens the
    file read-only (it may do so while a writer holds it). Transactions are explicit: the
    connection is in autocommit mode until the caller issues BEGIN.
    """
    if read_only:
        uri = f"{path.absolute().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        if read_only:
            conn.execute("PRAGMA query_only = ON")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # fails on a non-database
        else:
            journal_mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(journal_mode).lower() != "wal":
                raise DatabaseError(
                    f"{path}: SQLite refused write-ahead logging (journal mode {journal_mode}); "
                    "put the database on a local disk"
                )
            conn.execute("PRAGMA synchronous = FULL")
    except BaseException:
        conn.close()
        raise
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    """Return the schema version stored in the database file (0 for a new file)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def check_not_newer(conn: sqlite3.Connection) -> int:
    """Return the schema version, or raise DatabaseError when this adxbot is too old for it."""
    version = schema_version(conn)
    if version > LATEST_SCHEMA_VERSION:
        raise DatabaseError(
            f"{_file_name(conn)} has schema version {version}, made by a newer adxbot "
            f"(this one knows up to {LATEST_SCHEMA_VERSION}); "
            "upgrade adxbot or use another database"
        )
    return version


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every migration above the file's schema version, in order; return the new version."""
    current = check_not_newer(conn)
    for migration in MIGRATIONS:
        if migration.version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated between our read and our lock.
            current = check_not_newer(conn)
            if current == 0:
                _check_empty(conn)
            if migration.version > current:
                for statement in _statements(migration.script):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {migration.version}")
                current = migration.version
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return current


def _check_empty(conn: sqlite3.Connection) -> None:
    if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
        raise DatabaseError(
            f"{_file_name(conn)} holds tables but no adxbot schema version: it is some other "
            "database; choose another path"
        )


def _statements(script: str) -> list[str]:
    """Split a script into complete statements (sqlite3 cannot run a script inside BEGIN)."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip() and not _only_comments(pending):
        raise InternalInvariantError(f"migration ends with an incomplete statement: {pending!r}")
    return statements


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in text.splitlines())


def _file_name(conn: sqlite3.Connection) -> str:
    for row in conn.execute("PRAGMA database_list"):
        if row[1] == "main":
            return str(row[2]) or "the database"
    return "the database"
