"""The trade database on real SQLite files: schema, exact round trips, transactions, crashes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adxbot.domain.enums import (
    Direction,
    ExitReason,
    Liquidity,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionSide,
)
from adxbot.domain.ids import ClientOrderId
from adxbot.errors import DatabaseError
from adxbot.persistence import database
from adxbot.persistence.database import (
    LATEST_SCHEMA_VERSION,
    MIGRATIONS,
    Migration,
    connect,
    default_database_path,
    migrate,
)
from adxbot.persistence.records import (
    BreakerRecord,
    ClosedTrade,
    DailyPnl,
    EquitySnapshot,
    EventKind,
    EventRecord,
    FillRecord,
    OrderPurpose,
    OrderRecord,
    OrderStatusChange,
    PositionRecord,
    Severity,
    TradingMode,
)
from adxbot.persistence.store import TradeStore, utc_day
from sim_support import eventually

DAY_MS = 86_400_000
T0 = 1_764_000_000_000  # 2025-11-24 16:00:00 UTC
TRICKY = [
    Decimal("0.10000000"),
    Decimal("-1E-8"),
    Decimal("0E-8"),
    Decimal("-0"),
    Decimal("123456789012345678901234567890.123456789"),
    Decimal("1E+3"),
]
TABLES = {
    "bot_info",
    "orders",
    "order_status_history",
    "fills",
    "positions",
    "trades",
    "equity_snapshots",
    "daily_pnl",
    "events",
    "breakers",
    "component_state",
}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "adxbot-paper.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Iterator[TradeStore]:
    with TradeStore.open(db_path, TradingMode.PAPER) as opened:
        yield opened


def same(a: Decimal | None, b: Decimal | None) -> bool:
    """Equal in value *and* representation (sign, digits, exponent)."""
    if a is None or b is None:
        return a is b
    return a.as_tuple() == b.as_tuple()


def an_order(client_id: str = "e-1", **changes: object) -> OrderRecord:
    fields: dict[str, object] = {
        "client_order_id": ClientOrderId(client_id),
        "purpose": OrderPurpose.ENTRY,
        "side": OrderSide.BUY,
        "position_side": PositionSide.BOTH,
        "order_type": OrderType.MARKET,
        "quantity": Decimal("0.0010"),
        "price": None,
        "trigger_price": None,
        "reduce_only": False,
        "close_position": False,
        "status": OrderStatus.NEW,
        "created_ms": T0,
        "updated_ms": T0,
    }
    fields.update(changes)
    return OrderRecord(**fields)  # type: ignore[arg-type]


def a_position(**changes: object) -> PositionRecord:
    fields: dict[str, object] = {
        "direction": Direction.LONG,
        "position_side": PositionSide.BOTH,
        "quantity": Decimal("0.0010"),
        "entry_price": Decimal("95000.1"),
        "opened_ms": T0,
        "signal_time_ms": T0 - 300_000,
        "entry_fee": Decimal("0.0475"),
        "stop_loss": Decimal("94000.0"),
        "take_profit": Decimal("97000.0"),
    }
    fields.update(changes)
    return PositionRecord(**fields)  # type: ignore[arg-type]


def a_trade(
    position_id: int = 1, exit_ms: int = T0, pnl: str = "1.5", fees: str = "0.1"
) -> ClosedTrade:
    return ClosedTrade(
        position_id=position_id,
        direction=Direction.SHORT,
        signal_time_ms=exit_ms - 3_600_000,
        entry_time_ms=exit_ms - 3_000_000,
        entry_price=Decimal("95000.1"),
        quantity=Decimal("0.0010"),
        exit_time_ms=exit_ms,
        exit_price=Decimal("93500.0"),
        exit_reason=ExitReason.TAKE_PROFIT,
        pnl=Decimal(pnl),
        fees=Decimal(fees),
        funding=Decimal("-0.00012"),
    )


def an_equity(time_ms: int, equity: str) -> EquitySnapshot:
    return EquitySnapshot(time_ms, Decimal(equity), Decimal(equity), Decimal(0), 0)


# schema and migrations


def test_open_when_new_then_creates_every_table_and_sets_the_latest_version(db_path: Path) -> None:
    with TradeStore.open(db_path, TradingMode.PAPER) as store:
        assert store.schema_version == LATEST_SCHEMA_VERSION
        assert store.mode is TradingMode.PAPER
        assert store.path == db_path
    conn = sqlite3.connect(db_path)
    try:
        names = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        assert names >= TABLES
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_schema_when_inspected_then_has_no_real_columns(store: TradeStore) -> None:
    conn = sqlite3.connect(store.path)
    try:
        for table in TABLES:
            for column in conn.execute(f"PRAGMA table_info({table})"):
                assert column[2] in {"TEXT", "INTEGER"}, (table, column[1], column[2])
    finally:
        conn.close()


def test_open_when_reopened_then_keeps_data_and_version(db_path: Path) -> None:
    with TradeStore.open(db_path, TradingMode.PAPER) as store:
        store.set_info("symbol", "BTC-USDT")
    with TradeStore.open(db_path, TradingMode.PAPER) as store:
        assert store.schema_version == LATEST_SCHEMA_VERSION
        assert store.info("symbol") == "BTC-USDT"
        assert store.all_info() == {"mode": "paper", "symbol": "BTC-USDT"}


def test_migrate_when_already_current_then_changes_nothing(db_path: Path) -> None:
    conn = connect(db_path)
    try:
        assert migrate(conn) == LATEST_SCHEMA_VERSION
        assert migrate(conn) == LATEST_SCHEMA_VERSION
    finally:
        conn.close()


def test_migrate_when_a_later_migration_fails_halfway_then_keeps_the_old_version(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    TradeStore.open(db_path, TradingMode.PAPER).close()
    broken = Migration(
        2, "0002_broken.sql", "CREATE TABLE half (x TEXT);\nINSERT INTO nowhere VALUES (1);\n"
    )
    monkeypatch.setattr(database, "MIGRATIONS", (*MIGRATIONS, broken))
    monkeypatch.setattr(database, "LATEST_SCHEMA_VERSION", 2)
    conn = connect(db_path)
    try:
        with pytest.raises(sqlite3.OperationalError, match="nowhere"):
            migrate(conn)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'half'").fetchall() == []
        assert not conn.in_transaction
    finally:
        conn.close()


def test_migrate_when_a_new_migration_exists_then_applies_it_and_bumps_the_version(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    TradeStore.open(db_path, TradingMode.PAPER).close()
    added = Migration(2, "0002_notes.sql", "-- notes; for later\nCREATE TABLE notes (x TEXT);\n")
    monkeypatch.setattr(database, "MIGRATIONS", (*MIGRATIONS, added))
    monkeypatch.setattr(database, "LATEST_SCHEMA_VERSION", 2)
    conn = connect(db_path)
    try:
        assert migrate(conn) == 2
        assert conn.execute("SELECT count(*) FROM notes").fetchone()[0] == 0
    finally:
        conn.close()


def test_open_when_file_is_another_programs_database_then_refuses(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.close()
    with pytest.raises(DatabaseError, match="some other database"):
        TradeStore.open(path, TradingMode.PAPER)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 1
    finally:
        conn.close()


def test_connect_when_writer_then_uses_wal_full_sync_and_foreign_keys(db_path: Path) -> None:
    conn = connect(db_path)
    try:
        assert db_path.parent.is_dir()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        assert conn.isolation_level is None
    finally:
        conn.close()


def test_open_when_schema_is_newer_than_the_code_then_refuses(db_path: Path) -> None:
    TradeStore.open(db_path, TradingMode.PAPER).close()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {LATEST_SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(DatabaseError, match=r"newer adxbot.*upgrade adxbot or use another"):
        TradeStore.open(db_path, TradingMode.PAPER)
    with pytest.raises(DatabaseError, match="newer adxbot"):
        TradeStore.open_read_only(db_path)


def test_open_when_file_is_not_a_database_then_refuses(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite3"
    path.write_bytes(b"these are not the pages you are looking for\n" * 200)
    with pytest.raises(DatabaseError, match=r"notes\.sqlite3"):
        TradeStore.open(path, TradingMode.PAPER)
    with pytest.raises(DatabaseError, match=r"notes\.sqlite3"):
        TradeStore.open_read_only(path)


def test_open_when_file_belongs_to_live_then_refuses(tmp_path: Path) -> None:
    path = tmp_path / "trades.sqlite3"
    TradeStore.open(path, TradingMode.LIVE).close()
    with pytest.raises(DatabaseError, match=r"live.*paper.*never share a database") as raised:
        TradeStore.open(path, TradingMode.PAPER)
    assert str(path) in str(raised.value)
    with TradeStore.open(path, TradingMode.LIVE) as store:
        assert store.mode is TradingMode.LIVE


def test_set_info_when_key_is_mode_then_accepts_only_the_same_mode(store: TradeStore) -> None:
    store.set_info("mode", "paper")
    with pytest.raises(DatabaseError, match="never share a database"):
        store.set_info("mode", "live")
    assert store.info("mode") == "paper"


def test_default_database_path_when_no_base_then_uses_state_dir_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ADXBOT_STATE_DIR", raising=False)
    assert default_database_path(TradingMode.PAPER) == Path("state/adxbot-paper.sqlite3")
    monkeypatch.setenv("ADXBOT_STATE_DIR", str(tmp_path))
    assert default_database_path(TradingMode.LIVE) == tmp_path / "adxbot-live.sqlite3"
    assert default_database_path(TradingMode.LIVE, Path("x")) == Path("x/adxbot-live.sqlite3")


def test_utc_day_when_given_epoch_ms_then_returns_the_utc_date() -> None:
    assert utc_day(0) == "1970-01-01"
    assert utc_day(T0) == "2025-11-24"
    assert utc_day(T0 - T0 % DAY_MS - 1) == "2025-11-23"
    assert utc_day(-1) == "1969-12-31"


# round trips


def test_order_when_stored_then_reads_back_exactly(store: TradeStore) -> None:
    orders = [
        an_order("e-1", quantity=TRICKY[0], price=TRICKY[1], trigger_price=TRICKY[4]),
        an_order(
            "sl-1",
            purpose=OrderPurpose.STOP_LOSS,
            side=OrderSide.SELL,
            position_side=PositionSide.LONG,
            order_type=OrderType.STOP_MARKET,
            quantity=None,
            trigger_price=Decimal("94000.0"),
            reduce_only=True,
            close_position=True,
            exchange_order_id="1999",
            reason="",
            position_id=7,
            created_ms=T0 + 1,
            updated_ms=T0 + 2,
        ),
    ]
    for order in orders:
        store.add_order(order)
    for order in orders:
        stored = store.order(order.client_order_id)
        assert stored == order
        assert stored is not None
        assert same(stored.quantity, order.quantity)
        assert same(stored.price, order.price)
        assert same(stored.trigger_price, order.trigger_price)
    assert store.order(ClientOrderId("nope")) is None


def test_fill_when_stored_then_reads_back_exactly(store: TradeStore) -> None:
    fill = FillRecord(
        client_order_id=ClientOrderId("e-1"),
        side=OrderSide.SELL,
        quantity=TRICKY[0],
        price=Decimal("95000.10"),
        fee=TRICKY[1],
        liquidity=Liquidity.MAKER,
        realized_pnl=TRICKY[2],
        time_ms=T0,
        exchange_order_id="42",
    )
    other = FillRecord(
        client_order_id=ClientOrderId("e-2"),
        side=OrderSide.BUY,
        quantity=TRICKY[3],
        price=TRICKY[4],
        fee=Decimal(0),
        liquidity=Liquidity.TAKER,
        realized_pnl=Decimal(0),
        time_ms=T0 + 1,
    )
    store.add_fill(fill)
    store.add_fill(other)
    assert store.fills() == [fill, other]
    [stored] = store.fills(ClientOrderId("e-1"))
    assert same(stored.quantity, fill.quantity)
    assert same(stored.fee, fill.fee)
    assert same(store.fills(ClientOrderId("e-2"))[0].price, TRICKY[4])


def test_position_when_added_and_updated_then_reads_back_exactly(store: TradeStore) -> None:
    first = store.add_position(a_position())
    second = store.add_position(a_position(direction=Direction.SHORT, stop_loss=None))
    assert first.position_id is not None
    assert second.position_id is not None
    assert second.position_id > first.position_id
    assert store.position(first.position_id) == first
    assert store.open_positions() == [first, second]

    closed = replace(first, closed_ms=T0 + 5, funding=TRICKY[1])
    store.update_position(closed)
    assert store.position(first.position_id) == closed
    assert store.open_positions() == [second]
    assert store.position(999) is None


def test_update_position_when_unknown_then_refuses(store: TradeStore) -> None:
    with pytest.raises(DatabaseError, match="no position 5"):
        store.update_position(a_position(position_id=5))
    with pytest.raises(ValueError, match="position_id"):
        store.update_position(a_position())


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    money=st.lists(
        st.decimals(allow_nan=False, allow_infinity=False, places=None), min_size=5, max_size=5
    )
)
def test_decimal_when_stored_then_round_trips_in_value_and_representation(
    store: TradeStore, money: list[Decimal]
) -> None:
    position = store.add_position(
        a_position(
            quantity=money[0],
            entry_price=money[1],
            entry_fee=money[2],
            stop_loss=money[3],
            funding=money[4],
        )
    )
    assert position.position_id is not None
    stored = store.position(position.position_id)
    assert stored is not None
    for name in ("quantity", "entry_price", "entry_fee", "stop_loss", "funding"):
        assert same(getattr(stored, name), getattr(position, name)), name


def test_decimal_when_not_finite_then_refuses(store: TradeStore) -> None:
    with pytest.raises(ValueError, match="finite"):
        store.add_position(a_position(entry_price=Decimal("NaN")))
    assert store.open_positions() == []


def test_trade_when_added_then_reads_back_with_its_id(store: TradeStore) -> None:
    trade = a_trade(pnl="-1E-8", fees="0.10000000")
    stored = store.add_trade(trade)
    assert stored.trade_id is not None
    assert store.trades() == [stored]
    assert same(store.trades()[0].pnl, Decimal("-1E-8"))
    assert same(store.trades()[0].fees, Decimal("0.10000000"))
    assert store.trade_count() == 1


def test_trades_when_limited_then_keeps_the_latest_in_exit_order(store: TradeStore) -> None:
    late = store.add_trade(a_trade(exit_ms=T0 + 3_000))
    early = store.add_trade(a_trade(exit_ms=T0 + 1_000))
    middle = store.add_trade(a_trade(exit_ms=T0 + 2_000))
    tie = store.add_trade(a_trade(exit_ms=T0 + 3_000))
    assert store.trades() == [early, middle, late, tie]
    assert store.trades(limit=2) == [late, tie]
    assert store.trades(since_ms=T0 + 2_000) == [middle, late, tie]
    assert store.trades(since_ms=T0 + 2_000, limit=1) == [tie]
    assert store.trade_count() == 4


def test_equity_when_stored_then_reads_back_ascending_and_upserts(store: TradeStore) -> None:
    snapshots = [
        EquitySnapshot(T0 + i, Decimal("1000.00"), Decimal(f"100{i}.5"), TRICKY[1], i)
        for i in range(4)
    ]
    for snapshot in reversed(snapshots):
        store.add_equity(snapshot)
    assert store.equity_snapshots() == snapshots
    assert store.equity_snapshots(limit=2) == snapshots[2:]
    assert store.equity_snapshots(since_ms=T0 + 1, limit=2) == snapshots[2:]
    assert store.equity_snapshots(since_ms=T0 + 1) == snapshots[1:]
    assert store.latest_equity() == snapshots[-1]
    replaced = EquitySnapshot(T0 + 3, Decimal(1), Decimal(2), Decimal(1), 1)
    store.add_equity(replaced)
    assert store.latest_equity() == replaced
    assert len(store.equity_snapshots()) == 4


def test_event_when_added_then_reads_back_with_json_data(store: TradeStore) -> None:
    event = EventRecord(
        time_ms=T0,
        kind=EventKind.RISK_DENIED,
        message="daily loss limit reached",
        severity=Severity.WARNING,
        data={"loss": Decimal("-30.50"), "limit": "30", "count": 2, "nested": {"a": [1, None]}},
    )
    stored = store.add_event(event)
    assert stored.event_id is not None
    assert stored.data == {"loss": "-30.50", "limit": "30", "count": 2, "nested": {"a": [1, None]}}
    assert store.events() == [stored]


def test_events_when_filtered_then_returns_newest_first(store: TradeStore) -> None:
    kinds = [EventKind.SIGNAL, EventKind.ERROR, EventKind.SIGNAL, EventKind.STARTED]
    added = [store.add_event(EventRecord(T0 + i, kind, f"e{i}")) for i, kind in enumerate(kinds)]
    assert store.events() == added[::-1]
    assert store.events(limit=2) == added[:1:-1]
    assert store.events(kinds={EventKind.SIGNAL}) == [added[2], added[0]]
    assert store.events(kinds=[EventKind.SIGNAL, EventKind.ERROR], limit=2) == added[2:0:-1]
    assert store.events(after_id=added[1].event_id) == added[:1:-1]
    assert store.events(kinds=[]) == []


def test_breaker_when_saved_then_upserts_by_name(store: TradeStore) -> None:
    tripped = BreakerRecord("daily_loss", tripped=True, reason="-3.1% today", changed_ms=T0)
    store.save_breaker(tripped)
    store.save_breaker(BreakerRecord("errors", tripped=False, reason="", changed_ms=T0))
    reset = BreakerRecord("daily_loss", tripped=False, reason="", changed_ms=T0 + 1)
    store.save_breaker(reset)
    assert store.breakers() == {
        "daily_loss": reset,
        "errors": BreakerRecord("errors", False, "", T0),
    }


def test_state_when_set_twice_then_keeps_the_latest(store: TradeStore) -> None:
    assert store.state("paper_account") is None
    store.set_state("paper_account", '{"balance": "1000"}', T0)
    store.set_state("paper_account", '{"balance": "999.5"}', T0 + 1)
    assert store.state("paper_account") == '{"balance": "999.5"}'


# orders


def test_add_order_when_client_id_is_known_then_refuses(store: TradeStore) -> None:
    store.add_order(an_order("e-1"))
    with pytest.raises(DatabaseError, match="e-1 is already"):
        store.add_order(an_order("e-1", quantity=Decimal(5)))
    assert store.order(ClientOrderId("e-1")) == an_order("e-1")
    assert len(store.order_history(ClientOrderId("e-1"))) == 1


def test_update_order_when_status_changes_then_history_records_every_change(
    store: TradeStore,
) -> None:
    cid = ClientOrderId("e-1")
    store.add_order(an_order("e-1"))
    store.update_order(cid, OrderStatus.NEW, T0 + 1, exchange_order_id="777")
    store.update_order(cid, OrderStatus.PARTIALLY_FILLED, T0 + 2, position_id=3)
    final = store.update_order(cid, OrderStatus.CANCELED, T0 + 3, reason="expired by bot")
    assert final.status is OrderStatus.CANCELED
    assert final.exchange_order_id == "777"  # None leaves the column as it was
    assert final.position_id == 3
    assert final.reason == "expired by bot"
    assert final.updated_ms == T0 + 3
    assert final.created_ms == T0
    assert store.order(cid) == final
    assert store.order_history(cid) == [
        OrderStatusChange(cid, OrderStatus.NEW, T0),
        OrderStatusChange(cid, OrderStatus.NEW, T0 + 1),
        OrderStatusChange(cid, OrderStatus.PARTIALLY_FILLED, T0 + 2),
        OrderStatusChange(cid, OrderStatus.CANCELED, T0 + 3, "expired by bot"),
    ]


def test_update_order_when_unknown_then_refuses(store: TradeStore) -> None:
    with pytest.raises(DatabaseError, match="no order ghost"):
        store.update_order(ClientOrderId("ghost"), OrderStatus.FILLED, T0)
    assert store.order_history(ClientOrderId("ghost")) == []


def test_open_orders_when_some_are_final_then_returns_the_rest_oldest_first(
    store: TradeStore,
) -> None:
    store.add_order(an_order("b", created_ms=T0 + 2))
    store.add_order(an_order("a", created_ms=T0 + 1))
    store.add_order(an_order("c", created_ms=T0 + 3, status=OrderStatus.PARTIALLY_FILLED))
    store.add_order(an_order("d", created_ms=T0 + 4))
    store.update_order(ClientOrderId("d"), OrderStatus.FILLED, T0 + 5)
    assert [o.client_order_id for o in store.open_orders()] == ["a", "b", "c"]
    assert [o.client_order_id for o in store.orders()] == ["d", "c", "b", "a"]
    assert [o.client_order_id for o in store.orders(limit=2)] == ["d", "c"]


# transactions


def test_transaction_when_block_raises_then_leaves_nothing(store: TradeStore) -> None:
    def write_then_fail() -> None:
        with store.transaction():
            store.add_order(an_order("e-1"))
            store.add_position(a_position())
            store.add_trade(a_trade())
            store.set_state("k", "v", T0)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        write_then_fail()
    assert store.orders() == []
    assert store.order_history(ClientOrderId("e-1")) == []
    assert store.open_positions() == []
    assert store.trades() == []
    assert store.daily_pnl(utc_day(T0)) is None
    assert store.state("k") is None
    store.add_order(an_order("e-1"))  # the store is usable afterwards
    assert store.order(ClientOrderId("e-1")) is not None


def test_transaction_when_nested_then_joins_the_outer_one(store: TradeStore) -> None:
    def nest_then_fail() -> None:
        with store.transaction():
            with store.transaction():
                store.add_order(an_order("inner"))
            assert store.order(ClientOrderId("inner")) is not None
            raise RuntimeError("outer")

    with pytest.raises(RuntimeError, match="outer"):
        nest_then_fail()
    assert store.order(ClientOrderId("inner")) is None


def test_transaction_when_nested_block_fails_and_is_caught_then_undoes_only_it(
    store: TradeStore,
) -> None:
    def add_two_then_a_duplicate() -> None:
        with store.transaction():
            store.add_order(an_order("undone"))
            store.add_order(an_order("kept"))  # duplicate: refused

    with store.transaction():
        store.add_order(an_order("kept"))
        with pytest.raises(DatabaseError, match="kept is already"):
            add_two_then_a_duplicate()
    assert store.order(ClientOrderId("kept")) is not None
    assert store.order(ClientOrderId("undone")) is None


def test_transaction_when_committed_then_visible_to_another_connection(
    store: TradeStore,
) -> None:
    with store.transaction():
        store.add_order(an_order("e-1"))
        with TradeStore.open_read_only(store.path) as reader:
            assert reader.orders() == []
    with TradeStore.open_read_only(store.path) as reader:
        assert [o.client_order_id for o in reader.orders()] == ["e-1"]


# daily P&L


def test_add_trade_when_day_is_new_then_creates_the_day_from_the_latest_equity(
    store: TradeStore,
) -> None:
    store.add_equity(an_equity(T0 - DAY_MS, "1000.00"))
    store.add_trade(a_trade(exit_ms=T0, pnl="12.5", fees="0.75"))
    store.add_trade(a_trade(exit_ms=T0 + 1, pnl="-2.25", fees="0.25"))
    day = store.daily_pnl(utc_day(T0))
    assert day == DailyPnl(
        day="2025-11-24",
        start_equity=Decimal("1000.00"),
        realized_pnl=Decimal("10.25"),
        fees=Decimal("1.00"),
        trades=2,
        last_equity=Decimal("1000.00"),
        updated_ms=T0 + 1,
    )


def test_add_trade_when_no_equity_is_known_then_starts_the_day_at_zero(
    store: TradeStore,
) -> None:
    store.add_trade(a_trade(exit_ms=T0))
    day = store.daily_pnl(utc_day(T0))
    assert day is not None
    assert day.start_equity == day.last_equity == 0
    assert day.trades == 1


def test_ensure_day_when_row_exists_then_returns_it_unchanged(store: TradeStore) -> None:
    created = store.ensure_day("2025-11-24", Decimal("500.0"), T0)
    assert created == DailyPnl("2025-11-24", Decimal("500.0"), Decimal(0), Decimal(0), 0,
                               Decimal("500.0"), T0)  # fmt: skip
    assert store.ensure_day("2025-11-24", Decimal("1"), T0 + 9) == created


def test_add_equity_when_day_exists_then_latest_snapshot_sets_last_equity(
    store: TradeStore,
) -> None:
    store.add_equity(an_equity(T0, "1000"))  # no day row yet: nothing to update
    assert store.daily_pnl(utc_day(T0)) is None
    store.ensure_day(utc_day(T0), Decimal("1000"), T0)
    store.add_equity(an_equity(T0 + 10, "1010"))
    store.add_equity(an_equity(T0 + 5, "1005"))  # older than the day's latest: ignored
    store.add_equity(an_equity(T0 + DAY_MS, "1020"))  # the next day has no row
    day = store.daily_pnl(utc_day(T0))
    assert day is not None
    assert day.last_equity == Decimal("1010")
    assert day.updated_ms == T0 + 10
    assert day.start_equity == Decimal("1000")


def test_daily_history_when_limited_then_returns_newest_days_first(store: TradeStore) -> None:
    for i in range(4):
        store.add_trade(a_trade(exit_ms=T0 + i * DAY_MS))
    days = [day.day for day in store.daily_history(limit=3)]
    assert days == ["2025-11-27", "2025-11-26", "2025-11-25"]
    assert len(store.daily_history()) == 4


# read-only access


def test_open_read_only_when_writer_is_open_then_reads_and_refuses_writes(
    store: TradeStore,
) -> None:
    store.add_order(an_order("e-1"))
    with store.transaction():  # a writer holding the write lock does not block readers
        store.add_order(an_order("e-2"))
        with TradeStore.open_read_only(store.path) as reader:
            assert reader.mode is TradingMode.PAPER
            assert reader.read_only
            assert reader.schema_version == LATEST_SCHEMA_VERSION
            assert [o.client_order_id for o in reader.orders()] == ["e-1"]
            with pytest.raises(DatabaseError, match="read-only"):
                reader.add_order(an_order("e-3"))
            with pytest.raises(DatabaseError, match="read-only"):
                reader.set_state("k", "v", T0)
            with pytest.raises(DatabaseError, match="read-only"), reader.transaction():
                pass
    assert store.order(ClientOrderId("e-3")) is None


def test_open_read_only_when_file_is_missing_then_says_the_bot_has_not_run(
    tmp_path: Path,
) -> None:
    path = tmp_path / "absent.sqlite3"
    with pytest.raises(DatabaseError, match=r"no database at .*absent\.sqlite3: has the bot run"):
        TradeStore.open_read_only(path)
    assert not path.exists()


def test_open_read_only_when_file_is_empty_sqlite_then_refuses(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite3"
    sqlite3.connect(path).close()
    path.touch()
    with pytest.raises(DatabaseError, match="not an initialised adxbot database"):
        TradeStore.open_read_only(path)


# crash safety

_WRITER = textwrap.dedent(
    """
    import sys
    from decimal import Decimal
    from pathlib import Path

    from adxbot.domain.enums import Direction, ExitReason, PositionSide
    from adxbot.persistence.records import ClosedTrade, PositionRecord, TradingMode
    from adxbot.persistence.store import TradeStore

    store = TradeStore.open(Path(sys.argv[1]), TradingMode.PAPER)
    i = 0
    while True:
        t = 1_764_000_000_000 + i * 60_000
        with store.transaction():
            position = store.add_position(PositionRecord(
                Direction.LONG, PositionSide.BOTH, Decimal("0.001"), Decimal("95000.1"),
                t, t, Decimal("0.05"), Decimal("94000"), None))
            store.add_trade(ClosedTrade(
                position.position_id, Direction.LONG, t, t, Decimal("95000.1"),
                Decimal("0.001"), t + 1, Decimal("95100.1"), ExitReason.SIGNAL,
                Decimal("0.05"), Decimal("0.05")))
            store.update_position(PositionRecord(
                Direction.LONG, PositionSide.BOTH, Decimal("0.001"), Decimal("95000.1"),
                t, t, Decimal("0.05"), Decimal("94000"), None, closed_ms=t + 1,
                position_id=position.position_id))
        i += 1
    """
)


def test_store_when_writer_is_killed_mid_stream_then_database_is_whole(db_path: Path) -> None:
    TradeStore.open(db_path, TradingMode.PAPER).close()
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(db_path)])
    try:
        with TradeStore.open_read_only(db_path) as reader:
            eventually(lambda: writer.poll() is None and reader.trade_count() >= 30, timeout=30)
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait()
    assert writer.returncode == -signal.SIGKILL

    with TradeStore.open(db_path, TradingMode.PAPER) as store:
        conn = sqlite3.connect(db_path)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        finally:
            conn.close()
        trades = store.trades()
        assert len(trades) >= 30
        days = store.daily_history(limit=1000)
        assert sum(day.trades for day in days) == len(trades)
        assert sum(day.realized_pnl for day in days) == Decimal("0.05") * len(trades)
        assert store.open_positions() == []  # every transaction is whole: opened, traded, closed
        for trade in trades:
            position = store.position(trade.position_id)
            assert position is not None
            assert position.closed_ms == trade.exit_time_ms
        store.add_trade(a_trade())  # and the database takes writes again
