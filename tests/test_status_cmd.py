"""`adxbot status` over real trade databases written the way the paper bot writes them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from adxbot.cli.app import app, main
from adxbot.cli.run_cmd import Mode
from adxbot.cli.status_cmd import Liveness, StatusReport, read_status
from adxbot.clock import ManualClock, WallClock
from adxbot.config import BotConfig
from adxbot.domain.enums import Direction, ExitReason, PositionSide
from adxbot.persistence.records import (
    ClosedTrade,
    EquitySnapshot,
    EventKind,
    EventRecord,
    PositionRecord,
    Severity,
    TradingMode,
)
from adxbot.persistence.rows import day_bounds_ms, utc_day
from adxbot.persistence.store import TradeStore
from adxbot.risk.breakers import BreakerName, CircuitBreakers, RiskLimits

D = Decimal
BAD_INPUT = 2
HEARTBEAT_S = 10  # the default bot.heartbeat_seconds
NOON_MS = int(datetime(2026, 11, 24, 12, tzinfo=UTC).timestamp() * 1000)
RECONCILIATION_REASON = "exchange holds a SHORT position the bot does not know"


def build_database(
    path: Path,
    now_ms: int,
    *,
    status: str = "running",
    heartbeat_ms: int | None = None,
    direction: Direction = Direction.LONG,
    mode: TradingMode = TradingMode.PAPER,
) -> None:
    """Write what a paper bot leaves after a morning's trading, as of `now_ms`."""
    day_start, _ = day_bounds_ms(utc_day(now_ms))
    with TradeStore.open(path, mode) as store:
        for key, value in {
            "symbol": "BTC-USDT",
            "timeframe": "5m",
            "environment": "BingX production market data, simulated account",
            "pid": "4242",
            "started_ms": str(day_start),
            "heartbeat_ms": str(now_ms if heartbeat_ms is None else heartbeat_ms),
            "status": status,
            "trading_state": "halted",
            "last_candle_ms": str(now_ms - 300_000),
            "last_price": "50100.5",
            "trading_since_ms": str(day_start),
        }.items():
            store.set_info(key, value)
        store.ensure_day(utc_day(now_ms), D("1000"), day_start)
        for i, (pnl, reason) in enumerate(
            [
                (D("12.5"), ExitReason.TAKE_PROFIT),
                (D("-4.25"), ExitReason.STOP_LOSS),
                (D("-1.10"), ExitReason.STOP_LOSS),
            ]
        ):
            store.add_trade(
                ClosedTrade(
                    position_id=i + 1,
                    direction=Direction.LONG,
                    signal_time_ms=day_start + i * 1000,
                    entry_time_ms=day_start + i * 1000 + 1,
                    entry_price=D("50000"),
                    quantity=D("0.02"),
                    exit_time_ms=day_start + i * 1000 + 2,
                    exit_price=D("50625"),
                    exit_reason=reason,
                    pnl=pnl,
                    fees=D("0.4"),
                )
            )
        store.add_position(
            PositionRecord(
                direction=direction,
                position_side=PositionSide.BOTH,
                quantity=D("0.020"),
                entry_price=D("50000.0"),
                opened_ms=now_ms - 600_000,
                signal_time_ms=now_ms - 900_000,
                entry_fee=D("0.5"),
                stop_loss=D("49000") if direction is Direction.LONG else D("51000"),
                take_profit=D("52000") if direction is Direction.LONG else D("48000"),
            )
        )
        store.add_equity(EquitySnapshot(now_ms - 1, D("1006.75"), D("1008.76"), D("2.01"), 1))
        store.add_event(
            EventRecord(now_ms - 5000, EventKind.SIGNAL, "long on the candle", Severity.INFO)
        )
        store.add_event(
            EventRecord(
                now_ms - 4000,
                EventKind.RISK_DENIED,
                "max_positions reached: 1 of 1 open",
                Severity.WARNING,
            )
        )
        CircuitBreakers(
            RiskLimits.from_config(BotConfig()), store, ManualClock(now_ms - 3000)
        ).trip(BreakerName.RECONCILIATION, RECONCILIATION_REASON)


def status_at(path: Path, now_ms: int, mode: Mode = Mode.PAPER) -> StatusReport:
    return read_status(path, mode, HEARTBEAT_S, ManualClock(now_ms))


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def exit_code_and_stderr(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    assert isinstance(exit_info.value.code, int)
    return exit_info.value.code, capsys.readouterr().err


def status_json(path: Path, *extra: str) -> dict[str, Any]:
    result = invoke("status", "--database", path, "--json", *extra)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # rich wraps long paths at the terminal's width


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "adxbot-paper.sqlite3"


# ------------------------------------------------------------------------------ liveness
@pytest.mark.parametrize(
    ("age_ms", "expected"),
    [
        (0, Liveness.RUNNING),
        (3 * HEARTBEAT_S * 1000, Liveness.RUNNING),
        (3 * HEARTBEAT_S * 1000 + 1, Liveness.NOT_RESPONDING),
        (3_600_000, Liveness.NOT_RESPONDING),
    ],
)
def test_status_when_bot_says_running_then_heartbeat_age_decides_if_it_responds(
    db: Path, age_ms: int, expected: Liveness
) -> None:
    build_database(db, NOON_MS, status="running")
    report = status_at(db, NOON_MS + age_ms)
    assert report.liveness is expected
    assert report.heartbeat_age_s == age_ms // 1000


def test_status_when_bot_stopped_then_stopped_even_with_fresh_heartbeat(db: Path) -> None:
    build_database(db, NOON_MS, status="stopped")
    report = status_at(db, NOON_MS + 7000)
    assert report.liveness is Liveness.STOPPED
    assert report.heartbeat_age_s == 7


def test_status_text_when_heartbeat_fresh_then_says_running_with_pid(db: Path) -> None:
    build_database(db, WallClock().now_ms())
    result = invoke("status", "--database", db)
    assert result.exit_code == 0, result.output
    assert "running (last heartbeat 0s ago, pid 4242)" in result.stdout
    assert "NOT RESPONDING" not in result.stdout


def test_status_text_when_heartbeat_stale_then_says_not_responding_with_age(db: Path) -> None:
    now = WallClock().now_ms()
    build_database(db, now, heartbeat_ms=now - 95_000)
    result = invoke("status", "--database", db)
    assert result.exit_code == 0, result.output
    assert "NOT RESPONDING (last heartbeat 95s ago, pid 4242)" in result.stdout


def test_status_text_when_stopped_then_says_stopped_with_age(db: Path) -> None:
    now = WallClock().now_ms()
    build_database(db, now, status="stopped", heartbeat_ms=now - 7_200_000)
    result = invoke("status", "--database", db)
    assert result.exit_code == 0, result.output
    assert "stopped (7200s ago, 2h 0m, pid 4242)" in result.stdout


def test_status_when_database_was_only_created_then_stopped_and_empty(db: Path) -> None:
    TradeStore.open(db, TradingMode.PAPER).close()
    report = status_at(db, NOON_MS)
    assert report.liveness is Liveness.STOPPED
    assert report.account is None
    assert (report.positions, report.trades, report.events) == ([], [], [])
    assert not report.halted
    result = invoke("status", "--database", db)
    assert result.exit_code == 0, result.output
    assert "stopped (it has not run on this database yet)" in result.stdout
    assert "no equity recorded yet" in result.stdout


# ------------------------------------------------------------------------------ figures
@pytest.mark.parametrize(
    ("direction", "expected"),
    [(Direction.LONG, D("2.0100")), (Direction.SHORT, D("-2.0100"))],
)
def test_status_unrealized_pnl_when_price_above_entry_then_sign_follows_direction(
    db: Path, direction: Direction, expected: Decimal
) -> None:
    build_database(db, NOON_MS, direction=direction)
    (line,) = status_at(db, NOON_MS).positions
    assert line.unrealized_pnl == expected
    assert str(line.unrealized_pnl) == str(expected)  # exact: (50100.5 - 50000.0) x 0.020


def test_status_json_then_parses_with_every_figure_as_exact_strings(db: Path) -> None:
    now = WallClock().now_ms()
    build_database(db, now)
    data = status_json(db)
    assert data["mode"] == "paper"
    assert (data["symbol"], data["timeframe"]) == ("BTC-USDT", "5m")
    assert data["bot"]["state"] == "running"
    assert data["bot"]["pid"] == 4242
    assert data["last_candle_ms"] == now - 300_000
    assert data["account"]["balance"] == "1006.75"
    assert data["account"]["equity"] == "1008.76"
    (position,) = data["positions"]
    assert position["direction"] == "long"
    assert position["entry_price"] == "50000.0"
    assert position["quantity"] == "0.020"
    assert (position["stop_loss"], position["take_profit"]) == ("49000", "52000")
    assert position["unrealized_pnl"] == "2.0100"
    today = data["today"]
    assert today["day"] == utc_day(now)
    assert today["realized_pnl"] == "7.15"
    assert today["fees"] == "1.2"
    assert today["trades"] == 3
    assert today["start_equity"] == "1000"
    assert today["equity_change"] == "8.76"
    assert data["trading_state"] == "halted"
    breakers = {b["name"]: b for b in data["breakers"]}
    assert list(breakers) == [str(name) for name in BreakerName]
    assert breakers["reconciliation"]["tripped"] is True
    assert breakers["reconciliation"]["reason"] == RECONCILIATION_REASON
    assert breakers["reconciliation"]["since_ms"] == now - 3000
    assert breakers["daily_loss"] == {
        "name": "daily_loss",
        "tripped": False,
        "reason": None,
        "since_ms": None,
    }
    assert [t["pnl"] for t in data["trades"]] == ["-1.10", "-4.25", "12.5"]  # newest first
    assert [(e["severity"], e["kind"]) for e in data["events"]] == [
        ("critical", "breaker_tripped"),
        ("warning", "risk_denied"),
    ]


def test_status_text_then_shows_account_positions_today_breakers_trades_and_warnings(
    db: Path,
) -> None:
    build_database(db, WallClock().now_ms())
    result = invoke("status", "--database", db)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "PAPER" in out
    assert "BTC-USDT 5m" in out
    assert "balance 1006.75 USDT, equity 1008.76 USDT" in out
    assert "last price 50100.5" in out
    assert "realised +7.15 USDT, fees 1.20 USDT, 3 trade(s); equity +8.76 USDT (+0.88%)" in out
    assert "trading      HALTED" in out
    assert "TRIPPED" in out
    assert RECONCILIATION_REASON in out
    assert out.count(" OK ") == len(BreakerName) - 1
    for figure in ("LONG", "0.020", "50000.0", "49000", "52000", "+2.01"):
        assert figure in out
    assert "take_profit" in out
    assert "max_positions reached: 1 of 1 open" in out
    assert "long on the candle" not in out  # info events are not warnings


def test_status_when_more_than_five_trades_and_warnings_then_shows_the_latest_five(
    db: Path,
) -> None:
    build_database(db, NOON_MS)
    with TradeStore.open(db, TradingMode.PAPER) as store:
        for i in range(6):
            store.add_event(
                EventRecord(NOON_MS + i, EventKind.ERROR, f"exchange error {i}", Severity.WARNING)
            )
            store.add_event(EventRecord(NOON_MS + i, EventKind.SIGNAL, "noise"))
    report = status_at(db, NOON_MS)
    assert [e.message for e in report.events] == [f"exchange error {i}" for i in range(5, 0, -1)]


def test_status_when_mode_live_then_header_says_live(tmp_path: Path) -> None:
    db = tmp_path / "adxbot-live.sqlite3"
    build_database(db, WallClock().now_ms(), mode=TradingMode.LIVE)
    result = invoke("status", "--mode", "live", "--database", db)
    assert result.exit_code == 0, result.output
    assert " LIVE " in result.stdout
    assert "PAPER" not in result.stdout


def test_status_when_writer_holds_a_write_transaction_then_reads_committed_state(
    db: Path,
) -> None:
    build_database(db, WallClock().now_ms())
    with TradeStore.open(db, TradingMode.PAPER) as bot, bot.transaction():
        bot.set_info("status", "stopped")  # not committed: a reader must not see it
        data = status_json(db)
        assert data["bot"]["state"] == "running"
        assert data["account"]["equity"] == "1008.76"
    assert status_json(db)["bot"]["status"] == "stopped"


# ------------------------------------------------------------------------------ errors
def test_status_when_database_missing_then_exit_2_saying_how_to_start_the_bot(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = exit_code_and_stderr(capsys, "status", "--database", db)
    assert code == BAD_INPUT
    assert f"no database at {db}: has the bot run yet?" in err
    assert "start it with 'adxbot run --mode paper'" in err
    assert not db.exists()


def test_status_when_database_belongs_to_other_mode_then_exit_2(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build_database(db, NOON_MS)
    code, err = exit_code_and_stderr(capsys, "status", "--mode", "live", "--database", db)
    assert code == BAD_INPUT
    assert "belongs to paper trading, not live" in err


def test_status_when_file_is_not_a_database_then_exit_2_naming_it(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db.write_text("not sqlite at all, just some notes\n" * 100)
    code, err = exit_code_and_stderr(capsys, "status", "--database", db)
    assert code == BAD_INPUT
    assert str(db) in err
