"""The rehearsal's driver: one bot (its database, its lives) on one stage.

It starts and stops bot lives, moves the stepped clock only once the bot has dealt with
the last candle (so every run makes the same decisions), fast-forwards to the strategy's
next entry signal, and reads the bot's database through a read-only connection.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from adxbot.config import BotConfig
from adxbot.errors import DatabaseError
from adxbot.persistence.records import EventKind, OrderPurpose
from adxbot.persistence.store import TradeStore
from adxbot.rehearsal.consistency import Consistency, check_consistency
from adxbot.rehearsal.lives import BotLauncher, BotLife
from adxbot.rehearsal.stage import Stage


class RehearsalError(Exception):
    """The bot did not do what the rehearsal waited for (with what was seen instead)."""


class Driver:
    """Drives one bot against one stage."""

    def __init__(self, stage: Stage, config: BotConfig, workdir: Path) -> None:
        self.stage = stage
        self.config = config
        self.database = workdir / "rehearsal-live.sqlite3"
        self.launcher = BotLauncher(
            config.model_dump_json(), stage.base_url, self.database, workdir, stage.credentials
        )
        self._reader: TradeStore | None = None
        self._signals = stage.entry_signals(config)
        self.life: BotLife | None = None

    # ------------------------------------------------------------------ the database
    @property
    def store(self) -> TradeStore:
        """Return a read-only view of the bot's database (opened on first use)."""
        if self._reader is None:
            self._reader = TradeStore.open_read_only(self.database)
        return self._reader

    def close(self) -> None:
        """Kill every life and close the database view."""
        self.launcher.stop_all()
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def count(self, kind: EventKind) -> int:
        """Return how many events of `kind` the bot stored."""
        return len(self.store.events(limit=1_000_000, kinds=[kind]))

    def entries(self) -> int:
        """Return how many entry orders the bot decided on (sent or not)."""
        return sum(1 for o in self.store.orders() if o.purpose is OrderPurpose.ENTRY)

    def consistency(self) -> Consistency:
        """Compare the exchange with the database now."""
        return check_consistency(self.stage.account(), self.store)

    # ------------------------------------------------------------------ lives
    def start(self, *, failpoint: str | None = None, timeout_s: float = 60.0) -> BotLife:
        """Start a life and wait until it has reconciled and runs (or died trying)."""
        before = self._started_count()
        life = self.launcher.start(failpoint=failpoint)
        self.life = life

        def started() -> bool:
            return self._started_count() > before or not life.alive

        if not _poll(started, timeout_s):
            raise RehearsalError(f"life {life.number} did not start in {timeout_s} s")
        if not life.alive and self._started_count() <= before and failpoint is None:
            raise RehearsalError(
                f"life {life.number} exited {life.exit_code} at start:\n{life.log_tail()}"
            )
        return life

    def _started_count(self) -> int:
        try:
            return self.count(EventKind.STARTED)
        except DatabaseError:
            return 0

    # ------------------------------------------------------------------ the clock
    def caught_up(self) -> bool:
        """Return True when the bot has processed the last closed candle."""
        last = self.store.info("last_candle_ms")
        now = self.stage.now_ms()
        return last is not None and int(last) >= now - self.stage.timeframe_ms

    def wait_caught_up(self, timeout_s: float = 30.0) -> None:
        """Wait until the bot has processed the last closed candle."""
        life = self.life
        if not _poll(lambda: self.caught_up() or (life is not None and not life.alive), timeout_s):
            raise RehearsalError(f"the bot did not process the last candle in {timeout_s} s")

    def step_candle(self, timeout_s: float = 30.0) -> None:
        """Wait for the bot to catch up, then close one more candle (none for a dead bot:
        what a restart does must be seen before the market moves on)."""
        self.wait_caught_up(timeout_s)
        life = self.life
        if life is not None and not life.alive:
            return
        self.stage.step(self.stage.timeframe_ms)

    def advance_until(
        self, condition: Callable[[], bool], *, max_candles: int, timeout_s: float = 30.0
    ) -> bool:
        """Close candles one by one until `condition()` holds; return whether it did."""
        for _ in range(max_candles):
            if condition():
                return True
            life = self.life
            if life is not None and not life.alive:
                return condition()
            self.step_candle(timeout_s)
        self.wait_caught_up(timeout_s)
        return condition()

    def next_signal_ms(self) -> int | None:
        """Return the open time of the next candle on which a flat strategy would enter."""
        now = self.stage.now_ms()
        last_closed = now - self.stage.timeframe_ms
        for open_ms in self._signals:
            if open_ms > last_closed:  # the last closed candle was decided on already
                return open_ms
        return None

    def fast_forward(self, *, lead_candles: int = 2) -> None:
        """Jump the clock to `lead_candles` before the next entry signal's close."""
        target = self.next_signal_ms()
        if target is None:
            raise RehearsalError("the candles hold no further entry signal")
        tf = self.stage.timeframe_ms
        # The signal candle closes at target + tf; stop `lead_candles` short of that.
        wanted = target + tf - lead_candles * tf
        now = self.stage.now_ms()
        if wanted > now:
            self.wait_caught_up()
            self.stage.step(wanted - now)

    def trade_until_entry(self, *, signals: int = 30, condition: Callable[[], bool]) -> bool:
        """Fast-forward signal by signal until `condition()` holds (e.g. a position opened)."""
        for _ in range(signals):
            if condition():
                return True
            self.fast_forward()
            if self.advance_until(condition, max_candles=4):
                return True
        return condition()

    def has_position(self) -> bool:
        """Return True when the exchange holds a position and the bot has recorded it."""
        return bool(self.stage.positions()) and bool(self.store.open_positions())


def _poll(condition: Callable[[], bool], timeout_s: float, interval_s: float = 0.005) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval_s)
    return condition()
