"""`adxbot reset-breaker` and `adxbot halt` on real trade databases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from adxbot.cli.app import app, main
from adxbot.clock import WallClock
from adxbot.config import BotConfig
from adxbot.persistence.records import EventKind, TradingMode
from adxbot.persistence.store import TradeStore
from adxbot.risk.breakers import BreakerName, CircuitBreakers, RiskLimits, TradingState

BAD_INPUT = 2
LIMITS = RiskLimits.from_config(BotConfig())
LOSSES_REASON = "3 losing trades in a row, the last -2.50 USDT (limit 3)"


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # rich wraps long paths at the terminal's width


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A paper database whose losing-streak breaker is tripped."""
    path = tmp_path / "adxbot-paper.sqlite3"
    with TradeStore.open(path, TradingMode.PAPER) as store:
        store.set_info("status", "stopped")
        store.set_info("heartbeat_ms", str(WallClock().now_ms()))
        CircuitBreakers(LIMITS, store, WallClock()).trip(
            BreakerName.CONSECUTIVE_LOSSES, LOSSES_REASON
        )
    return path


def invoke(*args: str | Path, input: str | None = None) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def exit_code_and_stderr(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    assert isinstance(exit_info.value.code, int)
    return exit_info.value.code, capsys.readouterr().err


def tripped(path: Path) -> dict[str, str]:
    with TradeStore.open_read_only(path) as store:
        return {name: b.reason for name, b in store.breakers().items() if b.tripped}


def status_json(path: Path) -> dict[str, Any]:
    result = invoke("status", "--database", path, "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


# ------------------------------------------------------------------------- reset-breaker
def test_reset_breaker_with_yes_then_clears_it_without_asking_and_records_who(db: Path) -> None:
    result = invoke("reset-breaker", "consecutive_losses", "--yes", "--database", db)
    assert result.exit_code == 0, result.output
    assert LOSSES_REASON in result.stdout
    assert "Type yes" not in result.stdout
    assert "breaker consecutive_losses reset" in result.stdout
    assert "trading ACTIVE" in result.stdout
    assert tripped(db) == {}
    with TradeStore.open_read_only(db) as store:
        (event,) = store.events(kinds=[EventKind.BREAKER_RESET])
    assert event.data["by"] == "operator via adxbot reset-breaker"


def test_reset_breaker_when_operator_types_yes_then_clears_it(db: Path) -> None:
    result = invoke("reset-breaker", "consecutive_losses", "--database", db, input="yes\n")
    assert result.exit_code == 0, result.output
    assert (
        f"Reset breaker consecutive_losses (tripped: {LOSSES_REASON})? New entries may resume. "
        "Type yes to confirm" in result.stdout
    )
    assert tripped(db) == {}


@pytest.mark.parametrize("answer", ["no", "y", "", "yes please"])
def test_reset_breaker_when_answer_is_not_yes_then_exit_1_and_nothing_changes(
    db: Path, answer: str
) -> None:
    result = invoke("reset-breaker", "consecutive_losses", "--database", db, input=f"{answer}\n")
    assert result.exit_code == 1
    assert "not reset: nothing changed" in result.stdout
    assert tripped(db) == {"consecutive_losses": LOSSES_REASON}
    with TradeStore.open_read_only(db) as store:
        assert store.events(kinds=[EventKind.BREAKER_RESET]) == []


def test_reset_breaker_when_not_tripped_then_says_so_and_exits_0_without_event(db: Path) -> None:
    result = invoke("reset-breaker", "api_errors", "--database", db)
    assert result.exit_code == 0, result.output
    assert "breaker api_errors: OK" in result.stdout
    assert "not tripped: nothing to reset" in result.stdout
    with TradeStore.open_read_only(db) as store:
        assert store.events(kinds=[EventKind.BREAKER_RESET]) == []


def test_reset_breaker_when_others_still_tripped_then_says_trading_stays_halted(
    db: Path,
) -> None:
    assert invoke("halt", "--reason", "exchange maintenance", "--database", db).exit_code == 0
    result = invoke("reset-breaker", "consecutive_losses", "--yes", "--database", db)
    assert result.exit_code == 0, result.output
    assert "still HALTED by: manual_halt (exchange maintenance)" in result.stdout


def test_reset_breaker_when_name_unknown_then_exit_2_listing_valid_names(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = exit_code_and_stderr(capsys, "reset-breaker", "daily_los", "--database", db)
    assert code == BAD_INPUT
    assert "no circuit breaker named 'daily_los'" in err
    assert ", ".join(name.value for name in BreakerName) in err


def test_reset_breaker_when_database_missing_then_exit_2_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "state" / "adxbot-paper.sqlite3"
    code, err = exit_code_and_stderr(
        capsys, "reset-breaker", "manual_halt", "--yes", "--database", path
    )
    assert code == BAD_INPUT
    assert f"no database at {path}: has the bot run yet?" in err
    assert not path.parent.exists()


def test_reset_breaker_when_database_belongs_to_paper_and_mode_live_then_exit_2(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = exit_code_and_stderr(
        capsys, "reset-breaker", "consecutive_losses", "--yes", "--mode", "live", "--database", db
    )
    assert code == BAD_INPUT
    assert "belongs to paper trading, not live" in err
    assert tripped(db) == {"consecutive_losses": LOSSES_REASON}


# ---------------------------------------------------------------------------------- halt
def test_halt_then_status_shows_halted_with_the_reason(db: Path) -> None:
    result = invoke("halt", "--reason", "exchange maintenance at 14:00", "--database", db)
    assert result.exit_code == 0, result.output
    assert "HALTED: exchange maintenance at 14:00" in result.stdout
    assert "exits still run" in result.stdout
    assert f"adxbot reset-breaker manual_halt --database {db}" in result.stdout
    data = status_json(db)
    assert data["trading_state"] == "halted"
    (manual,) = [b for b in data["breakers"] if b["name"] == "manual_halt"]
    assert manual["tripped"] is True
    assert manual["reason"] == "exchange maintenance at 14:00"
    text = invoke("status", "--database", db).stdout
    assert "HALTED" in text
    assert "exchange maintenance at 14:00" in text


def test_halt_when_already_halted_then_keeps_the_first_reason(db: Path) -> None:
    invoke("halt", "--reason", "first", "--database", db)
    result = invoke("halt", "--reason", "second", "--database", db)
    assert result.exit_code == 0, result.output
    assert "already halted" in result.stdout
    assert "(first)" in result.stdout
    assert tripped(db)["manual_halt"] == "first"


def test_halt_without_reason_then_records_a_default_reason(db: Path) -> None:
    assert invoke("halt", "--database", db).exit_code == 0
    assert tripped(db)["manual_halt"] == "halted by the operator (adxbot halt)"


def test_reset_breaker_manual_halt_after_halt_then_status_active(db: Path) -> None:
    invoke("reset-breaker", "consecutive_losses", "--yes", "--database", db)
    invoke("halt", "--database", db)
    result = invoke("reset-breaker", "manual_halt", "--yes", "--database", db)
    assert result.exit_code == 0, result.output
    assert status_json(db)["trading_state"] == "active"


def test_halt_when_bot_is_running_then_its_breakers_halt_and_follow_the_reset(db: Path) -> None:
    with TradeStore.open(db, TradingMode.PAPER) as bot_store:
        bot = CircuitBreakers(LIMITS, bot_store, WallClock())
        invoke("reset-breaker", "consecutive_losses", "--yes", "--database", db)
        assert bot.entry_denial(open_positions=0) is None

        assert invoke("halt", "--reason", "going on holiday", "--database", db).exit_code == 0
        denial = bot.entry_denial(open_positions=0)
        assert denial == "trading halted: manual_halt (going on holiday)"

        invoke("reset-breaker", "manual_halt", "--yes", "--database", db)
        assert bot.state is TradingState.ACTIVE
