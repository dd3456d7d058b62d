"""Helpers for tests that run the paper bot against the simulator on loopback.

- `bot_simulator(speed)` serves the bundled candles from candle 1001 on (1000 closed
  candles of history for the bot's warm-up) on an accelerated clock, rate limits off.
- `run_bot_until(...)` runs `run_paper_bot` in this event loop and sets its stop event
  once a condition on the database (read through a second, read-only connection) holds.
- `backtest_of_run(...)` backtests exactly the candles a bot run saw, trading from the
  first candle it decided on, so its trades can be compared with the database's.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from adxbot.backtest.results import BacktestResult
from adxbot.backtest.runner import Backtester
from adxbot.bot.runner import RunSummary
from adxbot.bot.session import BotTiming, run_paper_bot
from adxbot.config import BotConfig, parse_config
from adxbot.domain.candles import CandleSeries
from adxbot.errors import DatabaseError
from adxbot.market.candle_file import bundled_sample_path, load_candle_csv
from adxbot.persistence.store import TradeStore
from adxbot.sim.server import SimOptions, Simulator, build_simulator
from adxbot.strategy.factory import build_strategy

TIMEFRAME_MS = 300_000
HISTORY = 1000
FAST = BotTiming(retry_delays_s=(0.05,), client_backoff_s=0.01)
NO_BREAKERS: dict[str, Any] = {
    "risk_management": {
        "consecutive_loss_limit": 1000,
        "max_drawdown_percent": 100,
        "daily_loss_limit_percent": 100,
    }
}
"""Limits a backtest never reaches: backtests apply no breakers, so comparisons need these."""

_CANDLES: list[CandleSeries] = []


def sample() -> CandleSeries:
    """Return the bundled candles the simulator replays (loaded once)."""
    if not _CANDLES:
        _CANDLES.append(load_candle_csv(bundled_sample_path()))
    return _CANDLES[0]


def config_with(overrides: dict[str, Any] | None = None) -> BotConfig:
    """Return the default config with `overrides` (a partial config dict)."""
    return parse_config(overrides or {})


def bot_simulator(speed: float, **options: Any) -> Simulator:
    """Build a simulator replaying the sample from candle 1001 on at `speed`."""
    start = int(sample().open_time_ms[0]) + (HISTORY + 1) * TIMEFRAME_MS
    return build_simulator(SimOptions(speed=speed, start_ms=start, rate_limits=False, **options))


def read_store(path: Path) -> TradeStore | None:
    """Open the bot's database read-only, or return None while it does not exist yet."""
    try:
        return TradeStore.open_read_only(path)
    except DatabaseError:
        return None


async def run_bot_until(
    config: BotConfig,
    base_url: str,
    database: Path,
    until: Callable[[TradeStore], bool],
    *,
    timeout_s: float = 90.0,
    on_stop: Callable[[], None] | None = None,
    timing: BotTiming = FAST,
    alert_urls: Sequence[str] | None = None,
) -> RunSummary:
    """Run a paper bot until `until(store)` holds; fail after `timeout_s`."""
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_paper_bot(
            config,
            base_url=base_url,
            environment="simulator",
            database=database,
            stop=stop,
            timing=timing,
            alert_urls=alert_urls,
        )
    )
    return await _stop_when(task, stop, database, until, timeout_s, on_stop)


async def _stop_when(
    task: asyncio.Task[RunSummary],
    stop: asyncio.Event,
    database: Path,
    until: Callable[[TradeStore], bool],
    timeout_s: float,
    on_stop: Callable[[], None] | None = None,
) -> RunSummary:
    """Watch the bot's database; set `stop` once `until(store)` holds; fail on timeout."""
    reader: TradeStore | None = None
    deadline = time.monotonic() + timeout_s
    try:
        while not task.done():
            await asyncio.sleep(0.05)
            reader = reader or read_store(database)
            if reader is not None and until(reader):
                if on_stop is not None:
                    on_stop()
                stop.set()
                break
            if time.monotonic() > deadline:
                stop.set()
                await task
                raise AssertionError(f"the bot did not reach the condition in {timeout_s} s")
        return await task
    finally:
        if reader is not None:
            reader.close()


def trades_closed(n: int) -> Callable[[TradeStore], bool]:
    """Return a condition: at least `n` trades are in the database."""
    return lambda store: store.trade_count() >= n


def backtest_of_run(config: BotConfig, database: Path) -> BacktestResult:
    """Backtest the candles a bot run saw, trading from its first decision candle."""
    with TradeStore.open_read_only(database) as store:
        since = int(store.info("trading_since_ms") or 0)
        last = int(store.info("last_candle_ms") or 0)
    candles = sample()
    first = int(np.searchsorted(candles.open_time_ms, since - HISTORY * TIMEFRAME_MS))
    stop = int(np.searchsorted(candles.open_time_ms, last, side="right"))
    backtester = Backtester(config, build_strategy(config.strategy), trade_from_ms=since)
    return backtester.run(candles.slice(first, stop))


def trade_rows(result: BacktestResult) -> list[tuple[object, ...]]:
    """Return a backtest's closed trades (not the end-of-data close) as comparable rows."""
    return [
        (
            t.signal_time_ms,
            t.entry_time_ms,
            t.direction,
            t.entry_price,
            t.quantity,
            t.exit_time_ms,
            t.exit_price,
            t.exit_reason,
            t.pnl,
            t.fees,
        )
        for t in result.trades
        if t.exit_reason.value != "end_of_data"
    ]


def stored_trade_rows(database: Path) -> list[tuple[object, ...]]:
    """Return the database's closed trades as rows comparable with `trade_rows`."""
    with TradeStore.open_read_only(database) as store:
        return [
            (
                t.signal_time_ms,
                t.entry_time_ms,
                t.direction,
                t.entry_price,
                t.quantity,
                t.exit_time_ms,
                t.exit_price,
                t.exit_reason,
                t.pnl,
                t.fees,
            )
            for t in store.trades()
        ]


def bot_process(
    database: Path, base_url: str, config: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start `adxbot run --mode paper` as a real process on the simulator's URL."""
    args = [sys.executable, "-m", "adxbot", "run", "--mode", "paper", "--database", str(database)]
    if config is not None:
        args += ["--config", str(config)]
    env = {**os.environ, "BINGX_BASE_URL": base_url}
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


async def run_live_bot_until(
    config: BotConfig,
    base_url: str,
    database: Path,
    until: Callable[[TradeStore], bool],
    *,
    speed: float,
    timeout_s: float = 90.0,
) -> RunSummary:
    """Run the live bot (simulator keys, no machine-clock check, rate-limit windows at the
    simulator's `speed`) until `until(store)`."""
    from adxbot.bot.session import run_live_bot
    from live_support import SIM_CREDENTIALS

    stop = asyncio.Event()
    task = asyncio.create_task(
        run_live_bot(
            config,
            base_url=base_url,
            environment="simulator",
            database=database,
            credentials=SIM_CREDENTIALS,
            stop=stop,
            check_clock=False,
            timing=replace(FAST, rate_limit_speed=speed),
        )
    )
    return await _stop_when(task, stop, database, until, timeout_s)
