"""Assemble a paper bot from its configuration and run it until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from adxbot import __version__
from adxbot.bot.exchange_clock import ExchangeClock
from adxbot.bot.instance_lock import AlreadyRunning, InstanceLock
from adxbot.bot.live_setup import LiveSetupRefused, account_lock_path, prepare_account
from adxbot.bot.market_time import last_market_time
from adxbot.bot.runner import MAX_SLEEP_S, RETRY_DELAYS_S, RunSummary, StartupRefused, TradingBot
from adxbot.clock import Clock, WallClock
from adxbot.config import BotConfig
from adxbot.errors import ConfigError, DatabaseError
from adxbot.exchange.client import BingXClient
from adxbot.exchange.credentials import Credentials
from adxbot.exchange.rate_limits import RateLimiter
from adxbot.exchange.server_clock import ServerClock
from adxbot.execution.live_trader import LiveTrader
from adxbot.execution.order_placement import PlacementPolicy
from adxbot.execution.paper_trader import PaperTrader
from adxbot.persistence.paths import database_path as database_path
from adxbot.persistence.records import TradingMode
from adxbot.persistence.store import TradeStore
from adxbot.risk.breakers import CircuitBreakers, RiskLimits
from adxbot.risk.manager import RiskManager
from adxbot.strategy.factory import build_strategy

log = logging.getLogger("adxbot.bot")


@dataclass(frozen=True, slots=True)
class BotTiming:
    """How long the bot waits after failures (tests shorten them)."""

    retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S
    client_backoff_s: float = 0.5
    rate_limit_speed: float = 1.0
    """Run the client's rate-limit windows this much faster (a simulator at that speed)."""
    max_sleep_s: float = MAX_SLEEP_S
    """Longest sleep between looks at the exchange's clock (a stepped simulator: short)."""

    def limiter(self) -> RateLimiter:
        """Return the client's rate limiter, its windows scaled to `rate_limit_speed`."""
        speed = self.rate_limit_speed
        if speed == 1.0:
            return RateLimiter()

        async def sleep(seconds: float) -> None:
            await asyncio.sleep(seconds / speed)

        return RateLimiter(monotonic=lambda: time.monotonic() * speed, sleep=sleep)


async def run_paper_bot(
    config: BotConfig,
    *,
    base_url: str,
    environment: str,
    database: Path,
    stop: asyncio.Event,
    duration_s: float | None = None,
    wall: Clock | None = None,
    timing: BotTiming | None = None,
) -> RunSummary:
    """Run a paper bot on `base_url`'s market data until `stop` is set or time is up."""
    wall_clock = wall or WallClock()
    timing = timing or BotTiming()
    headers = {"User-Agent": f"adxbot/{__version__} (paper)"}
    with contextlib.ExitStack() as resources:
        try:  # refusals before anything runs are the operator's to fix (exit 2)
            resources.enter_context(InstanceLock(database))
            store = resources.enter_context(TradeStore.open(database, TradingMode.PAPER))
        except (AlreadyRunning, DatabaseError) as e:
            raise ConfigError(str(e)) from e
        async with httpx.AsyncClient(headers=headers) as http:
            client = BingXClient(
                http,
                base_url,
                ServerClock(wall_clock),
                None,
                recv_window_ms=config.exchange.recv_window_ms,
                backoff_s=timing.client_backoff_s,
            )
            clock = ExchangeClock(client.server_time, fallback=wall_clock)
            # Until the first candle, market time is where this database left off.
            market_time = last_market_time(store.info("last_candle_ms"), config.timeframe.ms, clock)
            breakers = CircuitBreakers(
                RiskLimits.from_config(config), store, market_time, wall=wall_clock
            )
            trader = PaperTrader(config, store, RiskManager(config, breakers), market_time)
            bot = TradingBot(
                config,
                client=client,
                clock=clock,
                market_time=market_time,
                store=store,
                trader=trader,
                breakers=breakers,
                strategy=build_strategy(config.strategy),
                wall=wall_clock,
                environment=environment,
                retry_delays_s=timing.retry_delays_s,
                max_sleep_s=timing.max_sleep_s,
            )
            try:
                return await bot.run(stop, duration_s=duration_s)
            except StartupRefused as e:
                raise ConfigError(str(e)) from e


async def run_live_bot(
    config: BotConfig,
    *,
    base_url: str,
    environment: str,
    database: Path,
    credentials: Credentials,
    stop: asyncio.Event,
    check_clock: bool = True,
    duration_s: float | None = None,
    wall: Clock | None = None,
    timing: BotTiming | None = None,
) -> RunSummary:
    """Run the live bot on `base_url` (BingX, or a BingX-compatible simulator)."""
    wall_clock = wall or WallClock()
    timing = timing or BotTiming()
    headers = {"User-Agent": f"adxbot/{__version__} (live)"}
    with contextlib.ExitStack() as resources:
        try:  # refusals before anything runs are the operator's to fix (exit 2)
            resources.enter_context(InstanceLock(account_lock_path(credentials)))
            resources.enter_context(InstanceLock(database))
            store = resources.enter_context(TradeStore.open(database, TradingMode.LIVE))
        except (AlreadyRunning, DatabaseError) as e:
            raise ConfigError(str(e)) from e
        async with httpx.AsyncClient(headers=headers) as http:
            client = BingXClient(
                http,
                base_url,
                ServerClock(wall_clock),
                credentials,
                limiter=timing.limiter(),
                recv_window_ms=config.exchange.recv_window_ms,
                backoff_s=timing.client_backoff_s,
            )
            try:
                report = await prepare_account(config, client, check_clock=check_clock)
            except LiveSetupRefused as e:
                raise ConfigError(str(e)) from e
            clock = ExchangeClock(client.server_time, fallback=wall_clock)
            market_time = last_market_time(store.info("last_candle_ms"), config.timeframe.ms, clock)
            breakers = CircuitBreakers(
                RiskLimits.from_config(config), store, market_time, wall=wall_clock
            )
            live = config.live
            trader = LiveTrader(
                config,
                store,
                RiskManager(config, breakers),
                client,
                market_time,
                report.setup,
                policy=PlacementPolicy(
                    attempts=live.order_attempts,
                    backoff_s=timing.client_backoff_s,
                    confirm_timeout_s=float(live.order_confirm_timeout_seconds),
                ),
            )
            bot = TradingBot(
                config,
                client=client,
                clock=clock,
                market_time=market_time,
                store=store,
                trader=trader,
                breakers=breakers,
                strategy=build_strategy(config.strategy),
                wall=wall_clock,
                environment=f"{environment}; account {report.balance}",
                retry_delays_s=timing.retry_delays_s,
                max_sleep_s=timing.max_sleep_s,
            )
            try:
                return await bot.run(stop, duration_s=duration_s)
            except StartupRefused as e:
                raise ConfigError(str(e)) from e


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[asyncio.Event]:
    """Set `stop` on SIGINT and SIGTERM while the context is open (graceful shutdown)."""
    loop = asyncio.get_running_loop()

    def request_stop(name: str) -> None:
        if not stop.is_set():
            log.warning("%s received: finishing the current step, then stopping", name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop, sig.name)
    try:
        yield stop
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
