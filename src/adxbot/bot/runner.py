"""The running bot: on every closed candle, strategy -> risk manager -> trader -> database.

The loop follows the exchange's clock (`ExchangeClock`): it sleeps until the next candle
is due to close, fetches the closed candles it has not seen, and for each one in order
lets the trader match it (resting stop-loss and take-profit), asks the strategy for the
candle's action and has the trader execute it.  The open of the candle now forming then
fills any market order just decided.  Candles that closed while the bot was stopped are
given to the trader (an exchange keeps matching resting orders while the bot is down) but
never traded on: a decision is only taken on a candle that closed while the bot ran.

Failures are sorted at this edge: exchange errors count toward the API-error breaker and
the loop backs off and goes on; anything else is a bug and stops the bot (the service
manager restarts it, and the database holds every completed step).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from adxbot.bot.candle_window import CandleWindow
from adxbot.bot.exchange_clock import ExchangeClock
from adxbot.bot.market_time import MarketTime
from adxbot.bot.systemd_notify import SystemdNotifier
from adxbot.clock import Clock
from adxbot.config import BotConfig
from adxbot.domain.candles import Bar
from adxbot.errors import AdxbotError
from adxbot.exchange.errors import ExchangeError
from adxbot.exchange.models import Kline
from adxbot.execution.trader import MarketUpdate, Signal, Trader
from adxbot.persistence.records import EventKind, EventRecord, Severity
from adxbot.persistence.store import TradeStore
from adxbot.risk.breakers import BreakerName, CircuitBreakers
from adxbot.strategy.base import Action, Strategy

log = logging.getLogger("adxbot.bot")
T = TypeVar("T")

MAX_SLEEP_S = 30.0
"""Never sleep longer than this at once: the clock estimate is re-measured after it."""
RETRY_DELAYS_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
"""Back-off between attempts after an exchange error (the last one repeats)."""


class CandleSource(Protocol):
    """Where the bot gets candles: `BingXClient.klines` (tests pass a fake)."""

    async def klines(
        self,
        symbol: str,
        interval: str,
        *,
        limit: int = 500,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[Kline]:
        """Return candles in ascending order; the last one may still be forming."""
        ...


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What one run of the bot did."""

    candles: int
    signals: int
    trades_closed: int
    errors: int
    stopped_by: str


class TradingBot:
    """One bot: one symbol, one strategy, one trader, one database."""

    def __init__(
        self,
        config: BotConfig,
        *,
        client: CandleSource,
        clock: ExchangeClock,
        market_time: MarketTime,
        store: TradeStore,
        trader: Trader,
        breakers: CircuitBreakers,
        strategy: Strategy,
        wall: Clock,
        environment: str,
        retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S,
        max_sleep_s: float = MAX_SLEEP_S,
        monotonic: Callable[[], float] = time.monotonic,
        systemd: SystemdNotifier | None = None,
    ) -> None:
        """`systemd` tells systemd the bot's state and feeds its watchdog from the candle
        loop (default: the one `NOTIFY_SOCKET` and `WATCHDOG_USEC` ask for, if any)."""
        self._config = config
        self._client = client
        self._clock = clock
        self._market_time = market_time
        self._store = store
        self._trader = trader
        self._breakers = breakers
        self._strategy = strategy
        self._wall = wall
        self._environment = environment
        self._monotonic = monotonic
        self._retry_delays_s = retry_delays_s
        self._max_sleep_s = max_sleep_s
        self._systemd = systemd or SystemdNotifier.from_environment()
        interval = self._systemd.watchdog_interval_s
        # Wake at least twice per watchdog interval, so the loop feeds it in time however
        # long it waits (for the next candle, or after an exchange error).
        self._wake_s = math.inf if interval is None else interval / 2
        self._tf_ms = config.timeframe.ms
        self._window = CandleWindow(config.bot.history_candles)
        self._candles = 0
        self._signals = 0
        self._trades = 0
        self._errors = 0
        self._step_failures = 0
        self._task_failure: BaseException | None = None
        self._last_reconcile_ms = 0

    # ------------------------------------------------------------------ lifecycle
    async def run(self, stop: asyncio.Event, *, duration_s: float | None = None) -> RunSummary:
        """Trade until `stop` is set or `duration_s` (local seconds) have passed."""
        deadline = None if duration_s is None else self._monotonic() + duration_s
        if not await self._start(stop):
            self._systemd.stopping("stopping: stop requested during start-up")
            self._finish("stop requested during start-up")
            return RunSummary(0, 0, 0, self._errors, "stop requested during start-up")
        self._systemd.ready(self._status_line() if self._systemd.enabled else "")
        heartbeat = self._supervised(self._heartbeat(stop), "heartbeat", stop)
        stopped_by = "stop requested"
        try:
            while not stop.is_set():
                # The watchdog is fed here and in `_pause`, never by a task of its own:
                # if this loop hangs, systemd stops hearing from it and restarts the bot.
                self._systemd.alive()
                if deadline is not None and self._monotonic() >= deadline:
                    stopped_by = "duration reached"
                    break
                await self._next_candles(stop, deadline)
        except Exception as e:
            stopped_by = f"failed: {type(e).__name__}: {e}"
            raise
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            if self._task_failure is not None:
                stopped_by = f"the {heartbeat.get_name()} task failed"
            self._systemd.stopping(f"stopping: {stopped_by}")
            self._finish(stopped_by)
        if self._task_failure is not None:
            raise self._task_failure
        return RunSummary(self._candles, self._signals, self._trades, self._errors, stopped_by)

    def _supervised(
        self, work: Coroutine[Any, Any, None], name: str, stop: asyncio.Event
    ) -> asyncio.Task[None]:
        """Run a background task; if it fails, log it loudly and stop the bot gracefully
        (the current step finishes), then re-raise its error from `run`."""

        async def guarded() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.critical("background task %s failed: %s; stopping", name, e, exc_info=True)
                self._task_failure = e
                stop.set()

        return asyncio.create_task(guarded(), name=name)

    async def _start(self, stop: asyncio.Event) -> bool:
        store = self._store
        self._check_database_matches_config()
        last_done = _int_or_none(store.info("last_candle_ms"))
        while True:
            synced_ms = await self._retrying(self._clock.sync, stop)
            if synced_ms is None:
                return False
            klines = await self._retrying(
                lambda: self._client.klines(
                    self._config.symbol,
                    self._config.timeframe.value,
                    limit=self._config.bot.history_candles + 1,
                ),
                stop,
            )
            if klines is None:
                return False
            closed, forming = self._split(klines, synced_ms)
            if closed:
                break
            self._note_error("the exchange sent no closed candle at start-up")
            if await self._pause(stop, self._retry_delays_s[-1] / self._clock.rate):
                return False
        # One candle behind is a lagging view at a rollover (the guards make re-processing
        # harmless); more means this database saw a market this exchange has not.
        if last_done is not None and closed[-1].open_time_ms < last_done - self._tf_ms:
            raise StartupRefused(
                f"the database {store.path} has processed candles up to {_utc(last_done)}, "
                f"but the exchange's newest closed candle is {_utc(closed[-1].open_time_ms)}: "
                "it belongs to another exchange or run; use another --database"
            )
        missed = 0
        if last_done is not None:
            missed = await self._match_candles_missed_before(closed[0], last_done, stop)
        history = [bar for bar in closed if last_done is None or bar.open_time_ms <= last_done]
        for bar in history:
            self._window.append(bar)
        if last_done is None:
            store.set_info("last_candle_ms", str(closed[-1].open_time_ms))
            if store.info("trading_since_ms") is None:
                store.set_info("trading_since_ms", str(closed[-1].open_time_ms + self._tf_ms))
        for bar in closed[len(history) :]:
            missed += 0 if await self._on_closed_candle(bar) else 1
        await self._on_open(forming)
        wall = self._wall.now_ms()
        store.set_info("symbol", self._config.symbol)
        store.set_info("timeframe", self._config.timeframe.value)
        store.set_info("environment", self._environment)
        store.set_info("pid", str(os.getpid()))
        store.set_info("started_ms", str(wall))
        store.set_info("heartbeat_ms", str(wall))
        store.set_info("status", "running")
        report = await self._trader.reconcile_positions()
        self._last_reconcile_ms = self._market_time.now_ms()
        if not report.consistent:
            self._breakers.trip(BreakerName.RECONCILIATION, "; ".join(report.discrepancies)[:500])
        status = await self._trader.get_account_status()
        if missed:
            self._event(
                EventKind.STARTED,
                f"{missed} candles closed while the bot was stopped: resting orders were "
                "matched against them, no new trades were decided on them",
                Severity.WARNING,
            )
        lines = [
            f"adxbot {self._trader.mode.value.upper()} trading {self._config.symbol} "
            f"{self._config.timeframe.value}",
            f"environment: {self._environment}",
            f"balance {status.balance:.2f} USDT, equity {status.equity:.2f} USDT, "
            f"{len(status.positions)} open position(s)",
            f"trading state: {self._breakers.state.value.upper()}"
            + "".join(
                f"\n  breaker {b.name}: TRIPPED ({b.reason})" for b in self._breakers.tripped()
            ),
            f"database: {store.path}",
        ]
        banner = "\n".join(lines)
        log.info("starting\n%s", banner)
        self._event(EventKind.STARTED, banner)
        return True

    def _check_database_matches_config(self) -> None:
        for key, wanted in (
            ("symbol", self._config.symbol),
            ("timeframe", self._config.timeframe.value),
        ):
            stored = self._store.info(key)
            if stored is not None and stored != wanted:
                raise StartupRefused(
                    f"the database {self._store.path} belongs to {key} {stored}, the config "
                    f"says {wanted}: its account and positions are not this market's; use "
                    "another --database (or bot.database) for it"
                )

    async def _match_candles_missed_before(
        self, first: Bar, last_done: int, stop: asyncio.Event
    ) -> int:
        """Give the trader the candles between `last_done` and the start-up history (a
        stop longer than the history), page by page; return how many there were."""
        missed = 0
        start = last_done + self._tf_ms
        while start < first.open_time_ms and not stop.is_set():
            klines = await self._retrying(
                lambda start=start: self._client.klines(  # type: ignore[misc]
                    self._config.symbol,
                    self._config.timeframe.value,
                    start_ms=start,
                    end_ms=first.open_time_ms - 1,
                    limit=1440,
                ),
                stop,
            )
            bars = [
                bar
                for bar in _unique_bars(klines or [])
                if start <= bar.open_time_ms < first.open_time_ms
            ]
            if not bars:
                break
            for bar in bars:
                with self._trader.candle_scope():
                    self._market_time.advance_to(bar.open_time_ms + self._tf_ms)
                    await self._trader.monitor_positions(MarketUpdate(closed=bar))
                    self._store.set_info("last_candle_ms", str(bar.open_time_ms))
            missed += len(bars)
            start = bars[-1].open_time_ms + self._tf_ms
        return missed

    def _finish(self, stopped_by: str) -> None:
        self._store.set_info("status", "stopped")
        self._store.set_info("heartbeat_ms", str(self._wall.now_ms()))
        self._event(EventKind.STOPPED, f"stopped: {stopped_by}")
        log.info(
            "stopped (%s): %d candles, %d signals, %d trades closed, %d exchange errors",
            stopped_by,
            self._candles,
            self._signals,
            self._trades,
            self._errors,
        )

    async def _heartbeat(self, stop: asyncio.Event) -> None:
        period = self._config.bot.heartbeat_seconds
        while not stop.is_set():
            self._store.set_info("heartbeat_ms", str(self._wall.now_ms()))
            self._store.set_info("trading_state", self._breakers.state.value)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=period)

    # ------------------------------------------------------------------ the candle loop
    async def _next_candles(self, stop: asyncio.Event, deadline: float | None) -> None:
        last = self._window.last_open_ms
        if last is None:
            raise RuntimeError("the candle window is empty after start-up")
        due_ms = last + 2 * self._tf_ms  # the close of the candle after `last`
        # Until two round trips a second apart have measured the exchange clock's rate,
        # look again every second (a simulator's clock may run much faster than ours).
        longest = self._max_sleep_s if self._clock.rate_measured else min(1.0, self._max_sleep_s)
        wait = min(self._clock.seconds_until(due_ms), longest)
        if deadline is not None:
            wait = min(wait, max(0.0, deadline - self._monotonic()))
        if wait > 0 and await self._pause(stop, wait):
            return
        now = await self._retrying(self._clock.sync, stop)
        if now is None:
            return
        if now < due_ms:  # early (a paused or stepped simulator): look again shortly
            await self._pause(stop, min(max(self._clock.seconds_until(due_ms), 0.01), longest))
            return
        klines = await self._retrying(
            lambda: self._client.klines(
                self._config.symbol,
                self._config.timeframe.value,
                start_ms=last + self._tf_ms,
                limit=1440,
            ),
            stop,
        )
        if klines is None:
            return
        closed, forming = self._split(klines, now)
        fresh = [bar for bar in closed if bar.open_time_ms > last]
        if not fresh:
            # Closed on the clock but not served yet: ask again shortly.
            await self._pause(stop, self._retry_delays_s[0] / self._clock.rate)
            return
        if fresh[0].open_time_ms != last + self._tf_ms:
            skipped = (fresh[0].open_time_ms - last) // self._tf_ms - 1
            self._event(
                EventKind.ERROR,
                f"the exchange has no candle for {skipped} interval(s) after {_utc(last)}",
                Severity.WARNING,
            )
        try:
            for bar in fresh:
                await self._on_closed_candle(bar)
            await self._on_open(forming)
            await self._reconcile_when_due()
        except ExchangeError as e:
            # A live trader talks to the exchange inside a candle's step: a failure there
            # leaves the candle unprocessed (not marked done), to be taken again after a
            # back-off.  Every step is idempotent: orders carry their decision's client id.
            self._note_error(f"processing a candle: {e}")
            self._step_failures += 1
            delays = self._retry_delays_s
            delay = delays[min(self._step_failures, len(delays)) - 1]
            await self._pause(stop, delay / self._clock.rate)
            return
        self._step_failures = 0
        self._report_status()

    async def _reconcile_when_due(self) -> None:
        """Compare records with the account every `live.reconcile_interval_minutes` of
        market time; a failure trips the reconciliation breaker (inside the trader)."""
        now = self._market_time.now_ms()
        interval_ms = self._config.live.reconcile_interval_minutes * 60_000
        if now - self._last_reconcile_ms < interval_ms:
            return
        self._last_reconcile_ms = now
        report = await self._trader.reconcile_positions()
        if not report.consistent:
            self._breakers.trip(BreakerName.RECONCILIATION, "; ".join(report.discrepancies)[:500])

    async def _on_closed_candle(self, bar: Bar) -> bool:
        """Process one closed candle as one transaction; return False if it was too old to
        trade on (only its resting orders were matched)."""
        close_ms = bar.open_time_ms + self._tf_ms
        # Paper: one transaction, so a crash leaves the candle wholly done or wholly to do
        # (the paper trader does not suspend inside; the heartbeat's writes may join it).
        # Live: no outer transaction; every order intent is committed before it is sent.
        with self._trader.candle_scope():
            self._market_time.advance_to(close_ms)
            closed_trades = await self._trader.monitor_positions(MarketUpdate(closed=bar))
            self._trades += len(closed_trades)
            self._window.append(bar)
            delay_s = (self._clock.now_ms() - close_ms) / 1000 / self._clock.rate
            tradable = delay_s <= self._config.bot.max_decision_delay_seconds
            try:
                if tradable:
                    await self._decide(bar)
            except ExchangeError:
                self._window.drop_last()  # taken again from the start after a back-off
                raise
            self._candles += 1
            self._store.set_info("last_candle_ms", str(bar.open_time_ms))
        return tradable

    async def _decide(self, bar: Bar) -> None:
        holding = await self._trader.held_direction()
        series = self._window.series()
        if len(series) < self._strategy.warmup_candles:
            return
        action = self._strategy.signals(series).action(len(series) - 1, holding)
        if action is Action.HOLD:
            return
        self._signals += 1
        values = {
            name: round(float(column[-1]), 4)
            for name, column in self._strategy.indicators(series).items()
        }
        self._event(
            EventKind.SIGNAL,
            f"{action.name.lower()} on the candle of {_utc(bar.open_time_ms)} (close {bar.close})",
            data={"action": action.name.lower(), "candle_ms": bar.open_time_ms, **values},
        )
        await self._trader.execute_signal(Signal(action, bar))

    async def _on_open(self, forming: Kline | None) -> None:
        if forming is None:
            return
        with self._trader.candle_scope():
            self._market_time.advance_to(forming.open_time_ms)
            await self._trader.monitor_positions(
                MarketUpdate(opened_at_ms=forming.open_time_ms, open_price=forming.open)
            )

    # ------------------------------------------------------------------ helpers
    def _split(self, klines: list[Kline], now_ms: int) -> tuple[list[Bar], Kline | None]:
        """Split an answer into final closed candles and the one forming.

        A candle is final when its close is at or before `now_ms` (an exchange time
        measured *before* the request) and the answer already holds a later candle (so the
        exchange has moved on from it).  Duplicates are dropped, the order is ascending.
        """
        bars = _unique_bars(klines)
        by_open = {k.open_time_ms: k for k in klines}
        closed = [
            bar
            for i, bar in enumerate(bars)
            if bar.open_time_ms + self._tf_ms <= now_ms and i + 1 < len(bars)
        ]
        after = closed[-1].open_time_ms if closed else None
        forming = next(
            (by_open[b.open_time_ms] for b in bars if after is None or b.open_time_ms > after),
            None,
        )
        return closed, forming

    def _note_error(self, description: str) -> None:
        self._errors += 1
        log.warning("exchange problem: %s", description)
        self._event(EventKind.ERROR, description, Severity.WARNING)
        self._breakers.on_api_error(description)

    async def _retrying(self, call: Callable[[], Awaitable[T]], stop: asyncio.Event) -> T | None:
        """Call the exchange until it answers; return None if `stop` is set meanwhile.

        Each failed call (after the client's own retries) is one API error for the breaker.
        """
        attempt = 0
        while True:
            try:
                answer = await call()
            except ExchangeError as e:
                delays = self._retry_delays_s
                delay = delays[min(attempt, len(delays) - 1)]
                attempt += 1
                self._note_error(f"exchange error: {e}; trying again in {delay:.1f} s")
                self._systemd.status(f"exchange error ({attempt} in a row), retrying: {e}")
                if await self._pause(stop, delay):
                    return None
            else:
                if attempt and self._window.last_open_ms is not None:
                    self._report_status()
                return answer

    async def _pause(self, stop: asyncio.Event, seconds: float) -> bool:
        """Wait up to `seconds`, feeding the watchdog on the way; return True if `stop` was
        set meanwhile."""
        slices = 1 if math.isinf(self._wake_s) else max(1, math.ceil(seconds / self._wake_s))
        for _ in range(slices):
            self._systemd.alive()
            if await _stopped_within(stop, seconds / slices):
                return True
        return False

    def _report_status(self) -> None:
        if self._systemd.enabled:  # the line reads the database: only when systemd listens
            self._systemd.status(self._status_line())

    def _status_line(self) -> str:
        """Return what `systemctl status` shows: mode, market, last candle, positions."""
        last = self._window.last_open_ms
        candle = "none yet" if last is None else _utc(last)
        positions = len(self._store.open_positions())
        tripped = ", ".join(b.name for b in self._breakers.tripped())
        state = f"HALTED ({tripped})" if tripped else "ACTIVE"
        return (
            f"{self._trader.mode.value.upper()} {self._config.symbol} "
            f"{self._config.timeframe.value}: last candle {candle}, "
            f"{positions} open position(s), trading {state}"
        )

    def _event(
        self,
        kind: EventKind,
        message: str,
        severity: Severity = Severity.INFO,
        data: dict[str, object] | None = None,
    ) -> None:
        self._store.add_event(
            EventRecord(self._wall.now_ms(), kind, message, severity, dict(data or {}))
        )


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    """Wait up to `seconds`; return True if `stop` was set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


class StartupRefused(AdxbotError):
    """The bot must not start on this database as things are; the message says why."""


def _unique_bars(klines: list[Kline]) -> list[Bar]:
    """Return the candles of an answer as bars, one per open time, oldest first."""
    unique = {k.open_time_ms: k for k in klines}
    return [
        Bar(k.open_time_ms, k.open, k.high, k.low, k.close)
        for k in sorted(unique.values(), key=lambda k: k.open_time_ms)
    ]


def _utc(time_ms: int) -> str:
    return datetime.fromtimestamp(time_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _int_or_none(text: str | None) -> int | None:
    return None if text is None else int(text)
