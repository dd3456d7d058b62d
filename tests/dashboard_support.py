"""Helpers of the dashboard tests: a live database the real bot wrote against the
simulator, the dashboard served on a random loopback port, a logged-in client.

- `traded_live_bot(database)` runs the live bot against an accelerated simulator until
  it has closed trades and holds a position, then pauses the simulated market (so the
  position, its stop-loss and take-profit stay as they are) and stops the bot.
- `running_live_bot(database)` keeps the live bot running in a thread while the
  simulator is paused with a position open (the browser test: a bot that is alive, with
  a position, while the dashboard is used).
- `serve_dashboard(...)` builds the options as `adxbot dashboard` does (environment
  variables for the password, the simulator's URL and keys) and serves `create_app`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from adxbot.bot.runner import RunSummary
from adxbot.bot.session import run_live_bot
from adxbot.config import BotConfig, config_to_json
from adxbot.dashboard.app import create_app
from adxbot.dashboard.server import DashboardThread
from adxbot.dashboard.settings import PASSWORD_VARIABLE, DashboardOptions, dashboard_options
from adxbot.execution.trader import Signal
from adxbot.persistence.records import TradingMode
from adxbot.persistence.store import TradeStore
from adxbot.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET
from adxbot.strategy.base import Action
from bot_support import (
    FAST,
    NO_BREAKERS,
    bot_simulator,
    config_with,
    read_store,
    run_live_bot_until,
)
from live_support import SIM_CREDENTIALS, candle_at, live_rig
from sim_support import RunningSim, serve

PASSWORD = "correct horse battery staple"
SPEED = 30_000.0


def bot_config() -> BotConfig:
    """Return the config the tests' bot trades with (breakers out of the way)."""
    return config_with(NO_BREAKERS)


def sim_environment(sim: RunningSim, password: str = PASSWORD) -> dict[str, str]:
    """Return the environment an operator sets to watch a bot trading the simulator."""
    return {
        PASSWORD_VARIABLE: password,
        "BINGX_BASE_URL": sim.base_url,
        "BINGX_API_KEY": DEFAULT_API_KEY,
        "BINGX_API_SECRET": DEFAULT_API_SECRET,
    }


def write_config(directory: Path, refresh_seconds: int = 1) -> Path:
    """Write the bot's config (as JSON) for `--config`."""
    path = directory / "config.json"
    overrides = {**NO_BREAKERS, "dashboard": {"refresh_seconds": refresh_seconds}}
    path.write_text(config_to_json(config_with(overrides)), encoding="utf-8")
    return path


@contextmanager
def traded_live_bot(database: Path) -> Iterator[RunningSim]:
    """Yield a paused simulator whose account the live bot traded, holding one position."""
    with serve(bot_simulator(SPEED, funding_rate=0)) as sim:

        def done(store: TradeStore) -> bool:
            if store.trade_count() >= 2 and store.open_positions():
                sim.admin("market/pause")
                return True
            return False

        asyncio.run(run_live_bot_until(bot_config(), sim.base_url, database, done, speed=SPEED))
        with TradeStore.open_read_only(database) as store:
            assert store.open_positions(), "the bot closed its position while stopping"
            assert _settled(store, sim)
        yield sim


class LiveBotThread:
    """The live bot running in a thread of its own (the test process is its machine)."""

    def __init__(self, sim: RunningSim, database: Path, config: BotConfig, speed: float) -> None:
        self._sim = sim
        self._database = database
        self._config = config
        self._speed = speed
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._summary: RunSummary | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="adxbot-test-bot", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            self._summary = await run_live_bot(
                self._config,
                base_url=self._sim.base_url,
                environment="simulator",
                database=self._database,
                credentials=SIM_CREDENTIALS,
                stop=self._stop,
                check_clock=False,
                timing=replace(FAST, rate_limit_speed=self._speed),
            )

        try:
            asyncio.run(main())
        except BaseException as e:  # re-raised by stop()
            self._error = e

    def start(self) -> LiveBotThread:
        """Start the bot."""
        self._thread.start()
        assert self._ready.wait(10), "the bot's thread did not start"
        return self

    def wait_until(self, condition: Callable[[TradeStore], bool], timeout_s: float = 90) -> None:
        """Poll the bot's database (read-only) until `condition` holds."""
        deadline = time.monotonic() + timeout_s
        reader: TradeStore | None = None
        try:
            while time.monotonic() < deadline:
                if not self._thread.is_alive():
                    raise AssertionError(f"the bot stopped: {self._error!r}")
                reader = reader or read_store(self._database)
                if reader is not None and condition(reader):
                    return
                time.sleep(0.02)
            raise AssertionError(f"the bot did not reach the condition in {timeout_s} s")
        finally:
            if reader is not None:
                reader.close()

    def stop(self) -> RunSummary | None:
        """Stop the bot and wait for it; re-raise what it failed with."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)
        if self._error is not None:
            raise self._error
        return self._summary


def _exchange_positions(sim: RunningSim) -> int:
    return len(exchange_positions(sim))


def _settled(store: TradeStore, sim: RunningSim) -> bool:
    held = store.open_positions()
    protected = all(p.stop_loss is not None and p.take_profit is not None for p in held)
    orders = len(sim.account_state()["open_orders"])
    return protected and len(held) == _exchange_positions(sim) and orders == 2 * len(held)


@contextmanager
def running_live_bot(
    database: Path, *, trades: int = 1
) -> Iterator[tuple[RunningSim, LiveBotThread]]:
    """Yield a paused simulator and the live bot still running on it, holding a position
    with its stop-loss and take-profit, after at least `trades` closed trades."""
    with serve(bot_simulator(SPEED, funding_rate=0)) as sim:
        bot = LiveBotThread(sim, database, bot_config(), SPEED).start()
        try:
            while True:
                bot.wait_until(lambda s: s.trade_count() >= trades and bool(s.open_positions()))
                sim.admin("market/pause")
                # The bot may be inside a step: wait until its records agree with the exchange
                # and every position has its stop-loss and take-profit.
                bot.wait_until(lambda s: _settled(s, sim))
                if _exchange_positions(sim):
                    break
                sim.admin("market/resume")  # the position closed just before the pause
            yield sim, bot
        finally:
            bot.stop()


def options_for(
    sim: RunningSim, database: Path, config: Path | None = None, **environment: str
) -> DashboardOptions:
    """Return the options `adxbot dashboard --mode live` builds in the operator's shell."""
    return dashboard_options(
        config,
        TradingMode.LIVE,
        database=database,
        environ=sim_environment(sim) | environment,
    )


@dataclass(slots=True)
class ServedDashboard:
    """A dashboard on loopback, with its options."""

    options: DashboardOptions
    thread: DashboardThread

    @property
    def base_url(self) -> str:
        """Return `http://127.0.0.1:<port>`."""
        return self.thread.base_url

    def client(self) -> httpx.Client:
        """Return a new client (no session yet)."""
        return httpx.Client(base_url=self.base_url, timeout=30.0, follow_redirects=False)

    def logged_in(self) -> tuple[httpx.Client, str]:
        """Return a logged-in client and its CSRF token (read from the overview page)."""
        client = self.client()
        response = client.post("/login", data={"password": PASSWORD, "next": "/"})
        assert response.status_code == 303, response.text
        page = client.get("/")
        assert page.status_code == 200, page.text
        marker = 'name="csrf-token" content="'
        start = page.text.index(marker) + len(marker)
        return client, page.text[start : page.text.index('"', start)]


@contextmanager
def serve_dashboard(options: DashboardOptions) -> Iterator[ServedDashboard]:
    """Serve `create_app(options)` on a random loopback port."""
    with DashboardThread(create_app(options)) as thread:
        yield ServedDashboard(options, thread)


def enter_long(sim: RunningSim, database: Path) -> None:
    """Let the live trader open a long position (with its stop-loss and take-profit)."""

    async def go() -> None:
        async with live_rig(sim.base_url, database) as rig:
            report = await rig.trader.execute_signal(
                Signal(Action.ENTER_LONG, candle_at(sim.price(), sim.now_ms() - 300_000))
            )
            assert report.denied is None, report

    asyncio.run(go())


def exchange_positions(sim: RunningSim) -> list[dict[str, object]]:
    """Return the simulator account's open positions."""
    return [p for p in sim.account_state()["positions"] if float(p["positionAmt"]) != 0]
