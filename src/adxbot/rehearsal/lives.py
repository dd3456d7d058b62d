"""Bot lives: the live bot in its own process, started, stopped and killed by a rehearsal.

Each life is a real OS process running `run_live_bot` (the code path `adxbot run --mode
live` runs) against the simulator with the simulator's keys.  SIGTERM stops it the way
systemd does; SIGKILL (from outside, or from an armed failpoint inside) ends it with no
warning at all.

Processes come from a fork server that imported the bot once: a new life starts in tens
of milliseconds instead of the second a fresh interpreter needs, which is what makes
hundreds of kills affordable.  Each life writes its log to its own file.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import sys
from dataclasses import dataclass
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path

from pydantic import SecretStr

from adxbot import failpoints
from adxbot.bot.session import BotTiming, run_live_bot, stop_on_signals
from adxbot.config import MetricsSettings, parse_config
from adxbot.errors import ConfigError
from adxbot.exchange.client import Timeouts
from adxbot.exchange.credentials import Credentials
from adxbot.logsetup import configure_logging
from adxbot.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET

SIM_CREDENTIALS = Credentials(DEFAULT_API_KEY, SecretStr(DEFAULT_API_SECRET))

REHEARSAL_TIMING = BotTiming(
    retry_delays_s=(0.2, 0.5, 1.0, 2.0),
    client_backoff_s=0.05,
    rate_limit_speed=1e6,  # the simulator's clock is stepped: BingX's windows mean nothing
    max_sleep_s=0.005,  # look at the stepped clock often
    timeouts=Timeouts(connect_s=2.0, read_s=2.0, write_s=2.0),  # faults hold answers longer
)
"""Timing of a rehearsal's bot: the live bot's logic, with waits fit for a stepped clock."""

_context: ForkServerContext | None = None


def _fork_server() -> ForkServerContext:
    global _context
    if _context is None:
        context = multiprocessing.get_context("forkserver")
        # Also what a life imports lazily (the HTTP transport): once here, not in every life.
        context.set_forkserver_preload(
            ["adxbot.rehearsal.lives", "httpcore", "anyio._backends._asyncio", "certifi"]
        )
        _context = context
    return _context


@dataclass(frozen=True, slots=True)
class LifePlan:
    """What one life runs: the config (JSON), where, and what may kill it."""

    config_json: str
    base_url: str
    database: Path
    log_file: Path
    credentials: Credentials
    failpoint: str | None = None
    timing: BotTiming = REHEARSAL_TIMING


class BotLife:
    """One bot process."""

    def __init__(self, process: BaseProcess, plan: LifePlan, number: int) -> None:
        self._process = process
        self.plan = plan
        self.number = number

    @property
    def pid(self) -> int:
        """Return the process id."""
        assert self._process.pid is not None
        return self._process.pid

    @property
    def alive(self) -> bool:
        """Return True while the process runs."""
        return self._process.is_alive()

    @property
    def exit_code(self) -> int | None:
        """Return the exit code (negative: killed by that signal), None while running."""
        return self._process.exitcode

    def terminate(self, timeout_s: float = 30.0) -> int | None:
        """Send SIGTERM (a graceful stop) and wait for the exit; return the exit code."""
        if self.alive:
            os.kill(self.pid, signal.SIGTERM)
        return self.wait(timeout_s)

    def kill(self) -> int | None:
        """Send SIGKILL and wait; return the exit code."""
        if self.alive:
            os.kill(self.pid, signal.SIGKILL)
        return self.wait(10.0)

    def wait(self, timeout_s: float) -> int | None:
        """Wait up to `timeout_s` for the process to end; return its exit code."""
        self._process.join(timeout_s)
        return self._process.exitcode

    def log_tail(self, lines: int = 20) -> str:
        """Return the end of this life's log."""
        try:
            text = self.plan.log_file.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class BotLauncher:
    """Starts numbered lives of one bot (one database) on one simulator."""

    def __init__(
        self,
        config_json: str,
        base_url: str,
        database: Path,
        log_dir: Path,
        credentials: Credentials = SIM_CREDENTIALS,
    ) -> None:
        self._credentials = credentials
        self._config_json = config_json
        self._base_url = base_url
        self._database = database
        self._log_dir = log_dir
        self.lives: list[BotLife] = []

    def start(self, *, failpoint: str | None = None, timing: BotTiming | None = None) -> BotLife:
        """Start the next life; `failpoint` (`point[:n]`) makes it kill itself there."""
        if failpoint is not None:
            failpoints.parse(failpoint)  # a typo must fail here, not silently never fire
        number = len(self.lives) + 1
        plan = LifePlan(
            self._config_json,
            self._base_url,
            self._database,
            self._log_dir / f"bot-life-{number}.log",
            self._credentials,
            failpoint,
            timing or REHEARSAL_TIMING,
        )
        process = _fork_server().Process(
            target=_live_main, args=(plan,), name=f"adxbot-life-{number}", daemon=True
        )
        process.start()
        life = BotLife(process, plan, number)
        self.lives.append(life)
        return life

    def stop_all(self) -> None:
        """Kill whatever still runs (the end of a rehearsal, or a failure)."""
        for life in self.lives:
            if life.alive:
                life.kill()


def _live_main(plan: LifePlan) -> None:
    """The body of a life: log to its file, arm the failpoint, run the live bot."""
    log = open(plan.log_file, "a", buffering=1)  # noqa: SIM115 - the process's stderr until exit
    os.dup2(log.fileno(), sys.stderr.fileno())
    os.dup2(log.fileno(), sys.stdout.fileno())
    configure_logging(logging.INFO)
    import faulthandler

    faulthandler.register(signal.SIGUSR1, all_threads=True)
    failpoints.arm(plan.failpoint)
    # A rehearsal never alerts the operator's channels nor takes the metrics port.
    config = parse_config(_json(plan.config_json)).model_copy(update={"metrics": MetricsSettings()})

    async def main() -> None:
        stop = asyncio.Event()
        with stop_on_signals(stop):
            await run_live_bot(
                config,
                base_url=plan.base_url,
                environment=f"simulator {plan.base_url} (rehearsal)",
                database=plan.database,
                credentials=plan.credentials,
                stop=stop,
                check_clock=False,
                timing=plan.timing,
                alert_urls=(),
            )

    try:
        asyncio.run(main())
    except ConfigError as e:
        logging.getLogger("adxbot.rehearsal").error("refused: %s", e)
        sys.exit(2)
    except Exception:
        logging.getLogger("adxbot.rehearsal").exception("the bot failed")
        sys.exit(1)


def _json(text: str) -> dict[str, object]:
    import json

    value = json.loads(text)
    assert isinstance(value, dict)
    return value
