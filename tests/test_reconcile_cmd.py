"""`adxbot reconcile` against the simulator on loopback: report, repair, agree.

The simulator runs a synthetic market at real speed, its clock set to this machine's,
as `prepare_account` demands of BingX's.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from adxbot.bot.instance_lock import InstanceLock
from adxbot.cli.app import app, main
from adxbot.clock import WallClock
from adxbot.config import BotConfig
from adxbot.domain.enums import Direction, ExitReason
from adxbot.persistence.records import OrderPurpose, TradingMode
from adxbot.persistence.store import TradeStore
from adxbot.risk.levels import protective_levels
from sim_support import RunningSim, running_simulator, sim_options
from test_emergency_stop import (
    QUANTITY,
    exchange_orders,
    exchange_positions,
    live_database,
    point_at,
    restore_logging,  # noqa: F401 (an autouse fixture: the commands configure logging)
)

BAD_INPUT = 2


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[RunningSim]:
    with running_simulator(sim_options(synthetic=True, speed=1.0)) as sim:
        sim.step(max(0, WallClock().now_ms() - sim.now_ms()))  # it starts on a candle's open
        point_at(monkeypatch, tmp_path, sim)
        yield sim


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def buy_by_hand(sim: RunningSim) -> None:
    sim.client.data(
        "POST",
        "/openApi/swap/v2/trade/order",
        {
            "symbol": "BTC-USDT",
            "side": "BUY",
            "positionSide": "BOTH",
            "type": "MARKET",
            "quantity": QUANTITY,
        },
    )


def test_reconcile_when_a_position_was_opened_by_hand_then_reports_fixes_and_agrees(
    live: RunningSim, tmp_path: Path
) -> None:
    database = live_database(tmp_path / "live.sqlite3")
    buy_by_hand(live)
    (held,) = exchange_positions(live)

    report = invoke("reconcile", "--database", database)

    assert report.exit_code == 1, report.output
    assert "CUSTOM" in report.output
    assert "the exchange holds long 0.01 @ " in report.output
    assert "that the database does not know" in report.output
    assert "1 discrepancies (not changed: run with --fix to repair)" in report.output
    assert exchange_orders(live) == []
    with TradeStore.open_read_only(database) as store:
        assert store.open_positions() == []

    fixed = invoke("reconcile", "--fix", "--database", database)

    assert fixed.exit_code == 0, fixed.output
    assert "repaired; checked again: consistent" in fixed.output
    with TradeStore.open_read_only(database) as store:
        (adopted,) = store.open_positions()
        purposes = sorted(o.purpose.value for o in store.orders())
    assert adopted.direction is Direction.LONG
    assert adopted.quantity == QUANTITY
    assert adopted.entry_price == Decimal(held["avgPrice"])
    assert purposes == [OrderPurpose.STOP_LOSS.value, OrderPurpose.TAKE_PROFIT.value]
    exits = BotConfig().exit_strategy
    levels = protective_levels(
        adopted.entry_price,
        Direction.LONG,
        exits.stop_loss_percent,
        exits.take_profit_percent,
        BotConfig().instrument(),
    )
    resting = {o["type"]: Decimal(o["stopPrice"]) for o in exchange_orders(live)}
    assert resting == {
        "STOP_MARKET": levels.stop_loss,
        "TAKE_PROFIT_MARKET": levels.take_profit,
    }
    assert (adopted.stop_loss, adopted.take_profit) == (levels.stop_loss, levels.take_profit)

    again = invoke("reconcile", "--database", database)

    assert again.exit_code == 0, again.output
    assert "consistent" in again.output
    assert "discrepancies" not in again.output


def test_reconcile_when_the_database_holds_a_position_the_exchange_does_not_then_closes_it_out(
    live: RunningSim, tmp_path: Path
) -> None:
    database = live_database(tmp_path / "live.sqlite3", long_at=live.price())

    report = invoke("reconcile", "--database", database)

    assert report.exit_code == 1, report.output
    assert "the database holds long 0.01, the exchange has no such position" in report.output
    with TradeStore.open_read_only(database) as store:
        assert len(store.open_positions()) == 1

    fixed = invoke("reconcile", "--fix", "--database", database)

    assert fixed.exit_code == 0, fixed.output
    assert "the database held long 0.01, the exchange no longer: recorded as closed" in (
        " ".join(fixed.output.split())
    )
    assert "1 discrepancies repaired; checked again: consistent" in fixed.output
    with TradeStore.open_read_only(database) as store:
        assert store.open_positions() == []
        (trade,) = store.trades()
    assert trade.exit_reason is ExitReason.EXTERNAL


def test_reconcile_when_consistent_then_exits_0(live: RunningSim, tmp_path: Path) -> None:
    database = live_database(tmp_path / "live.sqlite3")

    result = invoke("reconcile", "--database", database)

    assert result.exit_code == 0, result.output
    assert "consistent: the database agrees with the exchange" in result.output


def test_reconcile_when_the_database_is_missing_then_exits_2(
    live: RunningSim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["reconcile", "--database", str(tmp_path / "absent.sqlite3")])

    assert exit_info.value.code == BAD_INPUT
    assert "no live database at" in capsys.readouterr().err
    assert not (tmp_path / "absent.sqlite3").exists()


def test_reconcile_fix_while_a_bot_runs_then_refuses_and_changes_nothing(
    live: RunningSim, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = live_database(tmp_path / "live.sqlite3")
    buy_by_hand(live)

    with InstanceLock(database), pytest.raises(SystemExit) as exit_info:
        main(["reconcile", "--fix", "--database", str(database)])

    assert exit_info.value.code == BAD_INPUT
    assert "the running bot reconciles by itself" in capsys.readouterr().err
    assert exchange_orders(live) == []
    with TradeStore.open(database, TradingMode.LIVE) as store:
        assert store.open_positions() == []


def test_reconcile_when_the_exchange_does_not_answer_then_exits_1_saying_so(
    live: RunningSim, tmp_path: Path
) -> None:
    database = live_database(tmp_path / "live.sqlite3")
    live.admin("disconnect", {"seconds": 30})

    result = invoke("reconcile", "--database", database)

    assert result.exit_code == 1, result.output
    assert "cannot reconcile" in result.output
