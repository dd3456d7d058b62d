"""`adxbot run --mode paper` as a real process: graceful SIGTERM, and SIGKILL mid-run.

The simulator serves from this process on a loopback port; the bot finds it through
BINGX_BASE_URL, exactly as an operator would point it at any BingX-compatible server.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
from pathlib import Path

from adxbot.clock import WallClock
from adxbot.config import parse_config
from adxbot.execution.paper_trader import PaperTrader
from adxbot.persistence.records import EventKind, TradingMode
from adxbot.persistence.store import TradeStore
from adxbot.risk.breakers import CircuitBreakers, RiskLimits
from adxbot.risk.manager import RiskManager
from adxbot.sim.server import SimulatorThread
from bot_support import bot_process, bot_simulator, read_store
from sim_support import eventually

SPEED = 60_000.0


def _trades(database: Path) -> int:
    store = read_store(database)
    if store is None:
        return 0
    with store:
        return store.trade_count()


def _output(process: subprocess.Popen[bytes]) -> str:
    out, _ = process.communicate(timeout=30)
    return out.decode(errors="replace")


def test_sigterm_when_running_then_finishes_step_records_stop_and_exits_zero(
    tmp_path: Path,
) -> None:
    database = tmp_path / "paper.sqlite3"
    with SimulatorThread(bot_simulator(SPEED)) as sim:
        process = bot_process(database, sim.base_url)
        try:
            eventually(lambda: _trades(database) >= 1, timeout=60)
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
        output = _output(process)

    assert code == 0, output
    assert "SIGTERM received" in output
    with TradeStore.open_read_only(database) as store:
        assert store.info("status") == "stopped"
        assert store.events(limit=1)[0].kind is EventKind.STOPPED
    _assert_consistent(database)


def test_sigkill_mid_run_when_restarted_then_database_intact_and_consistent(
    tmp_path: Path,
) -> None:
    database = tmp_path / "paper.sqlite3"
    with SimulatorThread(bot_simulator(SPEED)) as sim:
        for kill in range(3):
            process = bot_process(database, sim.base_url)
            try:
                target = kill + 1

                def reached(target: int = target) -> bool:
                    return _trades(database) >= target

                eventually(reached, timeout=60)
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=30)
            finally:
                if process.poll() is None:
                    process.kill()
                _output(process)
            connection = sqlite3.connect(database)
            try:
                assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            finally:
                connection.close()
            _assert_consistent(database)

    with TradeStore.open_read_only(database) as store:
        starts = store.events(limit=1000, kinds=[EventKind.STARTED])
        tripped = {name for name, b in store.breakers().items() if b.tripped}
    assert len(starts) >= 3
    assert "reconciliation" not in tripped


def _assert_consistent(database: Path) -> None:
    """The stored account snapshot and the tables agree (what a restart relies on)."""
    config = parse_config({})
    with TradeStore.open(database, TradingMode.PAPER) as store:
        breakers = CircuitBreakers(RiskLimits.from_config(config), store, WallClock())
        trader = PaperTrader(config, store, RiskManager(config, breakers), WallClock())
        report = asyncio.run(trader.reconcile_positions())
    assert report.consistent, report.discrepancies
