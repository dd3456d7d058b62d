"""Assemble a paper bot from its configuration and run it until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from adxbot import __version__
from adxbot.alerts import AlertDispatcher, Notifier
from adxbot.bot.exchange_clock import ExchangeClock
from adxbot.bot.instance_lock import AlreadyRunning, InstanceLock
from adxbot.bot.live_setup import LiveSetupRefused, account_lock_path, prepare_account
from adxbot.bot.market_time import last_market_time
from adxbot.bot.runner import MAX_SLEEP_S, RETRY_DELAYS_S, RunSummary, StartupRefused, TradingBot
from adxbot.clock import Clock, WallClock
from adxbot.config import BotConfig
from adxbot.errors import ConfigError, DatabaseError
from adxbot.exchange.client import BingXClient, Timeouts
from adxbot.exchange.credentials import Credentials
from adxbot.exchange.rate_limits import RateLimiter
from adxbot.exchange.server_clock import ServerClock
from adxbot.execution.live_trader import LiveTrader
from adxbot.execution.order_placement import PlacementPolicy
from adxbot.execution.paper_trader import PaperTrader
from adxbot.execution.trader import Trader
from adxbot.monitoring import BotMetrics, ReconciliationObserver, bot_metrics_endpoint
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
    timeouts: Timeouts = field(default_factory=Timeouts)
    """How long the client waits for BingX's answers."""
    alert_poll_s: float = 1.0
    """How often the alert dispatcher looks for new events."""
    alert_flush_s: float = 5.0
    """At shutdown, how long pending alerts (the "stopped" one) may take to go out."""

    def limiter(self) -> RateLimiter:
        """Return the client's rate limiter, its windows scaled to `rate_limit_speed`."""
        speed = self.rate_limit_speed
        if speed == 1.0:
            return RateLimiter()

        async def sleep(seconds: float) -> None:
            await asyncio.sleep(seconds / speed)

        return RateLimiter(monotonic=lambda: time.monotonic() * speed, sleep=sleep)


@dataclass(frozen=True, slots=True)
class _Parts:
    """What a trader is built from: shared by both modes."""

    config: BotConfig
    client: BingXClient
    store: TradeStore
    risk: RiskManager
    market_time: Clock
    timing: BotTiming


TraderFactory = Callable[[_Parts], Awaitable[tuple[Trader, str]]]
"""Build the trader; return it with the environment line for the banner."""


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
    alert_urls: Sequence[str] | None = None,
) -> RunSummary:
    """Run a paper bot on `base_url`'s market data until `stop` is set or time is up.

    `alert_urls` are apprise URLs; None reads ADXBOT_ALERT_URLS (environment, config/.env).
    """

    async def paper(parts: _Parts) -> tuple[Trader, str]:
        trader = PaperTrader(parts.config, parts.store, parts.risk, parts.market_time)
        return trader, environment

    return await _run_bot(
        config,
        TradingMode.PAPER,
        paper,
        base_url=base_url,
        database=database,
        credentials=None,
        stop=stop,
        duration_s=duration_s,
        wall=wall,
        timing=timing,
        alert_urls=alert_urls,
    )


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
    alert_urls: Sequence[str] | None = None,
) -> RunSummary:
    """Run the live bot on `base_url` (BingX, or a BingX-compatible simulator)."""

    async def live(parts: _Parts) -> tuple[Trader, str]:
        try:
            report = await prepare_account(parts.config, parts.client, check_clock=check_clock)
        except LiveSetupRefused as e:
            raise ConfigError(str(e)) from e
        settings = parts.config.live
        trader = LiveTrader(
            parts.config,
            parts.store,
            parts.risk,
            parts.client,
            parts.market_time,
            report.setup,
            policy=PlacementPolicy(
                attempts=settings.order_attempts,
                backoff_s=parts.timing.client_backoff_s,
                confirm_timeout_s=float(settings.order_confirm_timeout_seconds),
            ),
        )
        return trader, f"{environment}; account {report.balance}"

    return await _run_bot(
        config,
        TradingMode.LIVE,
        live,
        base_url=base_url,
        database=database,
        credentials=credentials,
        stop=stop,
        duration_s=duration_s,
        wall=wall,
        timing=timing,
        alert_urls=alert_urls,
    )


async def _run_bot(
    config: BotConfig,
    mode: TradingMode,
    make_trader: TraderFactory,
    *,
    base_url: str,
    database: Path,
    credentials: Credentials | None,
    stop: asyncio.Event,
    duration_s: float | None,
    wall: Clock | None,
    timing: BotTiming | None,
    alert_urls: Sequence[str] | None,
) -> RunSummary:
    """Lock, open the database, connect, build the trader, run the candle loop; alerts
    and metrics run beside it and can neither block nor stop it."""
    wall_clock = wall or WallClock()
    timing = timing or BotTiming()
    headers = {"User-Agent": f"adxbot/{__version__} ({mode.value})"}
    with contextlib.ExitStack() as resources:
        try:  # refusals before anything runs are the operator's to fix (exit 2)
            if credentials is not None:
                resources.enter_context(InstanceLock(account_lock_path(credentials)))
            resources.enter_context(InstanceLock(database))
            store = resources.enter_context(TradeStore.open(database, mode))
        except (AlreadyRunning, DatabaseError) as e:
            raise ConfigError(str(e)) from e
        notifier = (
            Notifier.from_environment() if alert_urls is None else Notifier.from_urls(alert_urls)
        )
        resources.callback(notifier.close)
        metrics = BotMetrics()
        async with (
            AlertDispatcher.running(
                store,
                notifier,
                config.alerts,
                wall=wall_clock,
                poll_s=timing.alert_poll_s,
                flush_s=timing.alert_flush_s,
            ),
            httpx.AsyncClient(headers=headers) as http,
        ):
            client = BingXClient(
                http,
                base_url,
                ServerClock(wall_clock),
                credentials,
                limiter=timing.limiter(),
                recv_window_ms=config.exchange.recv_window_ms,
                backoff_s=timing.client_backoff_s,
                timeouts=timing.timeouts,
                on_request=metrics.observe_request,
            )
            clock = ExchangeClock(client.server_time, fallback=wall_clock)
            # Until the first candle, market time is where this database left off.
            market_time = last_market_time(store.info("last_candle_ms"), config.timeframe.ms, clock)
            breakers = CircuitBreakers(
                RiskLimits.from_config(config), store, market_time, wall=wall_clock
            )
            parts = _Parts(
                config, client, store, RiskManager(config, breakers), market_time, timing
            )
            trader, environment = await make_trader(parts)
            bot = TradingBot(
                config,
                client=client,
                clock=clock,
                market_time=market_time,
                store=store,
                trader=ReconciliationObserver(trader, metrics.observe_reconciliation),
                breakers=breakers,
                strategy=build_strategy(config.strategy),
                wall=wall_clock,
                environment=environment,
                retry_delays_s=timing.retry_delays_s,
                max_sleep_s=timing.max_sleep_s,
            )
            endpoint = bot_metrics_endpoint(
                config.metrics,
                metrics,
                database,
                timeframe_ms=config.timeframe.ms,
                clock=clock,
                wall=wall_clock,
            )
            try:
                with endpoint:
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
