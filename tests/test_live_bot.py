"""The live bot end to end against the simulator: real orders over loopback HTTP."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from adxbot.bot.session import run_live_bot
from adxbot.domain.enums import OrderStatus
from adxbot.persistence.records import EventKind, OrderPurpose
from adxbot.persistence.store import TradeStore
from adxbot.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET
from bot_support import (
    FAST,
    NO_BREAKERS,
    backtest_of_run,
    bot_simulator,
    config_with,
    read_store,
    run_live_bot_until,
)
from live_support import SIM_CREDENTIALS
from sim_support import serve

SPEED = 30_000.0  # a 5-minute candle every 10 ms


def test_live_bot_when_trading_then_every_position_protected_and_records_match_exchange(
    tmp_path: Path,
) -> None:
    config = config_with(NO_BREAKERS)
    database = tmp_path / "live.sqlite3"
    with serve(bot_simulator(SPEED, funding_rate=0)) as sim:
        summary = asyncio.run(
            run_live_bot_until(
                config,
                sim.base_url,
                database,
                lambda store: store.trade_count() >= 2,
                speed=SPEED,
            )
        )
        account = sim.account_state()

    assert summary.errors == 0
    with TradeStore.open_read_only(database) as store:
        trades = store.trades()
        orders = store.orders()
        open_positions = store.open_positions()
    entries = [o for o in orders if o.purpose is OrderPurpose.ENTRY]
    stops = [o for o in orders if o.purpose is OrderPurpose.STOP_LOSS]
    takes = [o for o in orders if o.purpose is OrderPurpose.TAKE_PROFIT]
    assert len(trades) >= 2
    assert all(o.status is not OrderStatus.NEW or o.exchange_order_id for o in orders)
    # Every filled entry got both protective orders on the exchange.
    filled_entries = [o for o in entries if o.status is OrderStatus.FILLED]
    assert len(stops) >= len(filled_entries)
    assert len(takes) >= len(filled_entries)
    # The database agrees with the exchange: same number of open positions.
    held = [p for p in account["positions"] if float(p["positionAmt"]) != 0]
    assert len(held) == len(open_positions)


def test_live_on_stepped_simulator_when_compared_then_same_trades_as_backtest_and_paper(
    tmp_path: Path,
) -> None:
    """Live mode against the simulator, driven candle by candle, makes the trades a backtest
    (and so paper mode, which equals it) makes on the same candles.

    Inherent differences, and how this test treats them: live exits carry the exact time
    of the fill (compared by candle); the simulator walks each candle's path (open, low,
    high, close when it closed up), so a candle touching both the stop and the
    take-profit can exit differently from the backtest's pessimistic rule (none does in
    this stretch; the test would show it)."""
    config = config_with(NO_BREAKERS)
    database = tmp_path / "live.sqlite3"
    simulator = bot_simulator(0.0, funding_rate=0, slippage_bps=Decimal(2))
    clock = simulator.exchange.market.clock
    with serve(simulator) as sim:

        async def drive() -> None:
            stop = asyncio.Event()
            task = asyncio.create_task(
                run_live_bot(
                    config,
                    base_url=sim.base_url,
                    environment="simulator (stepped)",
                    database=database,
                    credentials=SIM_CREDENTIALS,
                    stop=stop,
                    check_clock=False,
                    timing=replace(FAST, rate_limit_speed=1e6, max_sleep_s=0.002),
                )
            )
            reader = None
            deadline = time.monotonic() + 120
            while not task.done() and time.monotonic() < deadline:
                await asyncio.sleep(0.002)
                reader = reader or read_store(database)
                if reader is None or reader.info("status") != "running":
                    continue
                closed = clock.now_ms() - 300_000
                if int(reader.info("last_candle_ms") or 0) >= closed:
                    if reader.trade_count() >= 3:
                        break
                    clock.step(300_000)
            stop.set()
            if reader is not None:
                reader.close()
            await task

        asyncio.run(drive())

    result = backtest_of_run(config, database)
    expected = [
        (t.entry_time_ms, t.direction, t.entry_price, t.quantity, t.exit_price, t.exit_reason)
        for t in result.trades
        if t.exit_reason.value != "end_of_data"
    ]
    with TradeStore.open_read_only(database) as store:
        trades = store.trades()
    got = [
        (
            t.signal_time_ms + 300_000,
            t.direction,
            t.entry_price,
            t.quantity,
            t.exit_price,
            t.exit_reason,
        )
        for t in trades
    ]
    assert len(got) >= 3
    assert got == expected[: len(got)]
    backtest_pnl = [t.pnl for t in result.trades][: len(trades)]
    assert [t.pnl for t in trades] == backtest_pnl


def test_emergency_stop_when_bot_runs_then_account_flat_and_bot_stays_out(
    tmp_path: Path,
) -> None:
    config = config_with(NO_BREAKERS)
    database = tmp_path / "live.sqlite3"
    state: dict[str, float] = {}
    with serve(bot_simulator(SPEED, funding_rate=0)) as sim:
        env = {
            **os.environ,
            "BINGX_BASE_URL": sim.base_url,
            "BINGX_API_KEY": DEFAULT_API_KEY,
            "BINGX_API_SECRET": DEFAULT_API_SECRET,
        }

        def scenario(store: TradeStore) -> bool:
            if "signals" not in state:
                if not store.open_positions():
                    return False
                done = subprocess.run(  # the operator, from another terminal
                    [
                        sys.executable,
                        "-m",
                        "adxbot",
                        "emergency-stop",
                        "--yes",
                        "--database",
                        str(database),
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=False,
                )
                assert done.returncode == 0, done.stdout + done.stderr
                state["signals"] = len(store.events(limit=100_000, kinds=[EventKind.SIGNAL]))
                return False
            # Run on until the strategy has asked for at least 3 more entries.
            signals = len(store.events(limit=100_000, kinds=[EventKind.SIGNAL]))
            return signals >= state["signals"] + 3

        asyncio.run(run_live_bot_until(config, sim.base_url, database, scenario, speed=SPEED))
        account = sim.account_state()

    assert [p for p in account["positions"] if float(p["positionAmt"]) != 0] == []
    with TradeStore.open_read_only(database) as store:
        halt = store.breakers()["manual_halt"]
        # The stop takes a moment to start (a new process); from the halt on, no entry.
        # The halt is stamped with the database's last finished candle, so the entry of
        # the candle in progress (the position the stop then closed) can carry a later
        # market time: it is not an entry after the halt.
        closed_by_stop = {t.position_id for t in store.trades() if t.exit_reason.value == "manual"}
        entries_after = [
            o
            for o in store.orders()
            if o.purpose is OrderPurpose.ENTRY
            and o.created_ms > halt.changed_ms
            and o.position_id not in closed_by_stop
        ]
        halted = halt.tripped
        reasons = [t.exit_reason.value for t in store.trades()]
        denials = store.events(limit=100, kinds=[EventKind.RISK_DENIED])
    assert halted
    assert entries_after == []
    assert "manual" in reasons
    assert any("manual_halt" in d.message for d in denials)
