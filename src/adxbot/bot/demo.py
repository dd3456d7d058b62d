"""The offline demo: the exchange simulator on loopback and a paper bot trading against it.

The simulator replays the bundled real BTC-USDT candles on an accelerated clock; the
paper bot runs exactly as it would against BingX (HTTP, the exchange's clock, the
database), only faster.  Afterwards a backtest of the very candles the bot saw shows
that paper trading and backtesting agree, up to the first circuit-breaker trip
(backtests apply no breakers).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from adxbot.backtest.results import TradeRecord
from adxbot.backtest.runner import Backtester
from adxbot.bot.instance_lock import AlreadyRunning, InstanceLock
from adxbot.bot.runner import RunSummary
from adxbot.bot.session import run_paper_bot
from adxbot.config import BotConfig, MetricsSettings
from adxbot.domain.candles import CandleSeries
from adxbot.domain.enums import ExitReason
from adxbot.errors import ConfigError, DatabaseError
from adxbot.market.candle_file import bundled_sample_path, load_candle_csv
from adxbot.persistence.records import ClosedTrade, EventKind, EventRecord
from adxbot.persistence.store import TradeStore
from adxbot.sim.server import SimOptions, SimulatorThread, build_simulator
from adxbot.strategy.factory import build_strategy


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What the demo saw: the run, the stored trades and events, the backtest's verdict."""

    summary: RunSummary
    trades: list[ClosedTrade]
    trips: list[EventRecord]
    denials: int
    first_candle_ms: int
    last_candle_ms: int
    backtest_trades: list[TradeRecord]
    agreeing_trades: int
    """How many of the paper trades equal the backtest's, in order, before any difference."""
    compared_trades: int
    """How many paper trades closed before the first breaker trip (the comparable ones)."""
    equity: str
    database: Path


async def run_demo(
    config: BotConfig,
    *,
    database: Path,
    speed: float,
    duration_s: float,
    stop: asyncio.Event,
) -> DemoResult:
    """Serve the simulator, run the paper bot against it for `duration_s`, then compare."""
    _clear_demo_database(database)
    candles = load_candle_csv(bundled_sample_path())
    history = config.bot.history_candles
    tf = config.timeframe.ms
    start_ms = int(candles.open_time_ms[0]) + (history + 1) * tf
    simulator = build_simulator(
        SimOptions(speed=speed, start_ms=start_ms, rate_limits=False, symbol=config.symbol)
    )
    with SimulatorThread(simulator) as sim:
        summary = await run_paper_bot(  # offline: no alerts to real channels, no metrics port
            config.model_copy(update={"metrics": MetricsSettings()}),
            base_url=sim.base_url,
            environment=f"{DEMO_ENVIRONMENT_PREFIX}{sim.base_url} (bundled candles, x{speed:g})",
            database=database,
            stop=stop,
            duration_s=duration_s,
            alert_urls=(),
        )
    with TradeStore.open_read_only(database) as store:
        since = int(store.info("trading_since_ms") or start_ms)
        last = int(store.info("last_candle_ms") or since)
        trades = store.trades()
        trips = store.events(limit=10_000, kinds=[EventKind.BREAKER_TRIPPED])[::-1]
        denials = len(store.events(limit=100_000, kinds=[EventKind.RISK_DENIED]))
        latest = store.latest_equity()
    backtest = _backtest(config, candles, since, last, history)
    first_trip_ms = min((t.time_ms for t in trips), default=None)
    comparable = [t for t in trades if first_trip_ms is None or t.exit_time_ms < first_trip_ms]
    agreeing = 0
    for paper, reference in zip(comparable, backtest, strict=False):
        if _key(paper) != _key(reference):
            break
        agreeing += 1
    return DemoResult(
        summary=summary,
        trades=trades,
        trips=trips,
        denials=denials,
        first_candle_ms=since,
        last_candle_ms=last,
        backtest_trades=backtest,
        agreeing_trades=agreeing,
        compared_trades=len(comparable),
        equity="?" if latest is None else f"{latest.equity:.2f}",
        database=database,
    )


DEMO_ENVIRONMENT_PREFIX = "SIMULATOR on "


def _clear_demo_database(database: Path) -> None:
    """Delete a previous demo's database (every demo starts from scratch), refusing any
    database that a demo did not write, or one a running bot holds."""
    if database.exists():
        try:
            with TradeStore.open_read_only(database) as store:
                environment = store.info("environment") or ""
        except DatabaseError as e:
            raise ConfigError(
                f"{database} is not a demo database ({e}); choose another path"
            ) from e
        if not environment.startswith(DEMO_ENVIRONMENT_PREFIX):
            raise ConfigError(
                f"{database} holds a bot's records ({environment or 'unknown environment'}), "
                "not a demo's: the demo will not delete it; choose another --database"
            )
    try:
        with InstanceLock(database):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{database}{suffix}").unlink(missing_ok=True)
    except AlreadyRunning as e:
        raise ConfigError(str(e)) from e


def _backtest(
    config: BotConfig, candles: CandleSeries, since: int, last: int, history: int
) -> list[TradeRecord]:
    tf = config.timeframe.ms
    first = int(np.searchsorted(candles.open_time_ms, since - history * tf))
    stop = int(np.searchsorted(candles.open_time_ms, last, side="right"))
    result = Backtester(config, build_strategy(config.strategy), trade_from_ms=since).run(
        candles.slice(first, stop)
    )
    return [t for t in result.trades if t.exit_reason is not ExitReason.END_OF_DATA]


def _key(trade: ClosedTrade | TradeRecord) -> tuple[object, ...]:
    return (
        trade.signal_time_ms,
        trade.entry_time_ms,
        trade.direction,
        trade.entry_price,
        trade.quantity,
        trade.exit_time_ms,
        trade.exit_price,
        trade.exit_reason,
        trade.pnl,
    )
