"""Crash consistency: SIGKILL the live bot at every step of an order's life, restart, check.

The campaign runs the real live bot (a process per life, `adxbot.rehearsal.lives`) against
the simulator on a stepped clock and kills it, with no warning, at one step of an order's
life after another:

- at each named failpoint of the live trader (`adxbot.failpoints.POINTS`, all reached on
  the strategy's path): an entry, stop-loss, take-profit or close stored but not sent,
  sent and accepted but not recorded, an entry or a close seen filled, an exit being
  recorded;
- on the wire, where the bot cannot stop itself (`WireKiller`, a middleware around the
  simulator's app): `wire.<order>.sent` kills the bot while its order request is on its
  way and drops the request (the exchange never executes it); `wire.<order>.answered`
  lets the exchange execute it and kills the bot before the answer leaves; and
  `wire.cancel.answered` does the same to the cancel of a protective order during a close.

Each seed draws its plan from `random.Random(seed)`: the points in shuffled rounds (every
round kills once at every point), each armed to fire on its 1st or 2nd passage, and what
the exchange does while the bot is dead (half the time nothing; else 1-3 candles close,
after a price gap of 1-6 % one time in five).  The market is moved until the armed life
dies: to the strategy's next entry signal when flat, to its next close (a DI cross,
`exit_on_di_cross`) while holding, or through the stop (a 5 % gap) for an exit the
exchange makes.  A point not reached within its budget of moves ends with an external
SIGKILL (counted apart, checked all the same).

After every kill the next life starts at once (armed with the next planned point) and,
once it has reconciled and before the market moves again, the exchange and the database
are compared:
`check_consistency` (no duplicate, nothing lost, the same positions, every open position
with its stop-loss and take-profit), no client order id twice on the exchange, at most one
position, and no order of the bot resting on the exchange while it is flat.  A life
killed while still reconciling (the point lay on the start-up path) is checked at the next
start that completes.  A life that dies by itself (an exception, exit 1) is a violation
too, and counts as a crash, not a kill.  A life that could not protect a position closes
it and trips the reconciliation breaker (fail closed); the campaign then resets the
breaker between lives, as the operator would, so that it trades on.

Size: `ADXBOT_CRASH_KILLS` is the total number of kills (default 210, the CI run: about
2 minutes on two quiet cores).  The kills are shared out over seeds of at most
`KILLS_PER_SEED` kills, each seed a test with its own simulator and database; `-s` prints
the tally (kills per point, checks, violations, time):

    uv run pytest tests/test_crash_campaign.py -s
    ADXBOT_CRASH_KILLS=1000 uv run pytest tests/test_crash_campaign.py -s

Each bug the campaign found has a deterministic test of its own below: a close decided
again after a restart (it reuses or follows its earlier attempt), and a take-profit the
price passed while the bot was dead (the exit is taken at market).
"""

from __future__ import annotations

import asyncio
import bisect
import os
import random
import re
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import numpy as np
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adxbot import failpoints
from adxbot.clock import ManualClock
from adxbot.config import BotConfig, parse_config
from adxbot.domain.enums import Direction
from adxbot.errors import DatabaseError
from adxbot.persistence.records import EventKind, Severity, TradingMode
from adxbot.persistence.store import TradeStore
from adxbot.rehearsal.consistency import check_consistency
from adxbot.rehearsal.driver import Driver, RehearsalError
from adxbot.rehearsal.lives import BotLife
from adxbot.rehearsal.stage import Stage, staged_simulator
from adxbot.risk.breakers import BreakerName, CircuitBreakers, RiskLimits
from adxbot.strategy.base import Action
from adxbot.strategy.factory import build_strategy

DEFAULT_KILLS = 210
KILLS = int(os.environ.get("ADXBOT_CRASH_KILLS", str(DEFAULT_KILLS)))
KILLS_PER_SEED = 35
SEEDS = max(1, -(-KILLS // KILLS_PER_SEED))

CONFIG: dict[str, Any] = {
    # The bot closes positions itself (a DI cross), so "during a close" happens.
    "strategy": {"exit_on_di_cross": True},
    # Breakers relaxed: the campaign must keep trading through losses and kills.
    "risk_management": {
        "consecutive_loss_limit": 1000,
        "max_drawdown_percent": 100,
        "daily_loss_limit_percent": 100,
        "api_error_limit": 1000,
    },
    # A shorter start-up fetch than the default 1000 candles: every kill is a restart.
    "bot": {"history_candles": 300},
    # Reconciliation at every start-up only (almost): the driver steps the clock once the
    # bot has stored a candle, and a periodic reconciliation still running after it would
    # sign its requests one step (5 minutes) behind the exchange, fail and trip a breaker.
    "live": {"reconcile_interval_minutes": 1440},
}
ORDER_PATH = "/openApi/swap/v2/trade/order"
JUMP_PERCENT = 5.0  # a gap through the 2 % stop-loss (the stop fills at the gapped price)
EXIT_TRIES = 3  # jumps to the strategy's next close of a position before stopping it out
LEAD_CANDLES = 2  # a jump to a signal stops this many candles short of its close
CLOSING = (int(Action.EXIT), int(Action.REVERSE))
START_TIMEOUT_S = 60.0
CATCH_UP_TIMEOUT_S = 30.0
SIGKILL = -signal.SIGKILL


class Phase(Enum):
    """What the market must do for the bot to reach a point."""

    ENTRY = "an entry (then its protection)"
    SIGNAL_EXIT = "a held position closed by the strategy"
    STOP_OUT = "a held position closed by the exchange (its stop)"


@dataclass(frozen=True, slots=True)
class WireTarget:
    """A request the middleware kills the bot on: method, order kind, moment."""

    method: str
    kind: str  # "entry", "stop_loss", "take_profit", "exit", "protective" (cancels)
    moment: str  # "sent": dropped before the exchange sees it; "answered": executed

    def matches(self, scope: Scope) -> bool:
        """Return True when `scope` is this kind of order request."""
        if scope["type"] != "http" or scope["method"] != self.method:
            return False
        if scope["path"] != ORDER_PATH:
            return False
        query = parse_qs(scope["query_string"].decode())
        client_id = (query.get("clientOrderID") or query.get("clientOrderId") or [""])[0]
        if not client_id.startswith("adxl"):
            return False
        kind = _order_kind(client_id)
        return kind == self.kind or (self.kind == "protective" and kind in _PROTECTIVE)


_PROTECTIVE = ("stop_loss", "take_profit")


def _order_kind(client_id: str) -> str:
    """Return an order's kind from its client id (`adxl<salt>-<key>-<suffix>`)."""
    suffix = client_id.rsplit("-", 1)[-1]
    for prefix, kind in (("sl", "stop_loss"), ("tp", "take_profit"), ("x", "exit")):
        if suffix.startswith(prefix):
            return kind
    return "entry" if suffix == "e" else "other"


@dataclass(frozen=True, slots=True)
class KillPoint:
    """One step of an order's life the campaign kills the bot at."""

    name: str
    phase: Phase
    failpoint: str | None = None
    wire: WireTarget | None = None


def _kill_points() -> tuple[KillPoint, ...]:
    points = []
    for name in failpoints.POINTS:
        if name.startswith("exit.recording"):
            phase = Phase.STOP_OUT
        elif name.startswith("exit."):
            phase = Phase.SIGNAL_EXIT
        else:
            phase = Phase.ENTRY
        points.append(KillPoint(name, phase, failpoint=name))
    for kind in ("entry", "stop_loss", "take_profit", "exit"):
        phase = Phase.SIGNAL_EXIT if kind == "exit" else Phase.ENTRY
        for moment in ("sent", "answered"):
            target = WireTarget("POST", kind, moment)
            points.append(KillPoint(f"wire.{kind}.{moment}", phase, wire=target))
    cancel = WireTarget("DELETE", "protective", "answered")
    points.append(KillPoint("wire.cancel.answered", Phase.SIGNAL_EXIT, wire=cancel))
    return tuple(points)


KILL_POINTS = _kill_points()


@dataclass(frozen=True, slots=True)
class PlannedKill:
    """The kill one life is armed for: a point and its passage `n` (1 = the first); and
    what the market does while the bot is dead: `down_candles` candles close, after a
    gap of `down_gap_percent` (0: none)."""

    point: KillPoint
    n: int
    down_candles: int = 0
    down_gap_percent: float = 0.0

    @property
    def budget(self) -> int:
        """Return how many market moves the point may take to be reached."""
        per_passage = 12 if self.point.phase is Phase.SIGNAL_EXIT else 6
        return per_passage * self.n


def plan_kills(seed: int, kills: int) -> list[PlannedKill]:
    """Return `kills` kills drawn from `seed`: the points in shuffled rounds, n in 1..2;
    half restart at once, the rest after candles closed (and a gap) while the bot was dead."""
    rng = random.Random(seed)
    plan: list[PlannedKill] = []
    while len(plan) < kills:
        round_ = list(KILL_POINTS)
        rng.shuffle(round_)
        for point in round_:
            n = 1 if rng.random() < 0.75 else 2
            downtime = rng.random()
            candles = 0 if downtime < 0.5 else rng.randint(1, 3)
            gap = rng.choice((-1, 1)) * rng.uniform(1.0, 6.0) if downtime >= 0.8 else 0.0
            plan.append(PlannedKill(point, n, candles, round(gap, 2)))
    return plan[:kills]


# ---------------------------------------------------------------------- the wire killer
@dataclass(slots=True)
class _Armed:
    target: WireTarget
    remaining: int
    life_number: int


class WireKiller:
    """ASGI middleware: SIGKILL the armed bot life on its n-th matching order request."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._armed: _Armed | None = None
        self.lives: list[BotLife] = []  # the launcher's lives (set by the campaign)

    def arm(self, target: WireTarget, n: int, life_number: int) -> None:
        """Kill life `life_number` on its `n`-th request matching `target`."""
        self._armed = _Armed(target, n, life_number)

    def disarm(self) -> None:
        """Let every request through."""
        self._armed = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        armed = self._armed
        if armed is None or not armed.target.matches(scope):
            await self._app(scope, receive, send)
            return
        armed.remaining -= 1
        if armed.remaining > 0:
            await self._app(scope, receive, send)
            return
        self._armed = None
        pid = await self._pid_of(armed.life_number)
        if armed.target.moment == "sent":
            await _kill_and_wait(pid)  # the request dies with its sender
            await send({"type": "http.response.start", "status": 502, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        answer: list[Message] = []

        async def hold(message: Message) -> None:
            answer.append(message)

        await self._app(scope, receive, hold)  # the exchange executes it...
        await _kill_and_wait(pid)  # ...and the bot dies before the answer reaches it
        for message in answer:
            await send(message)  # to a closed connection: nobody reads it

    async def _pid_of(self, life_number: int) -> int:
        deadline = time.monotonic() + 10.0
        while len(self.lives) < life_number:  # the request may beat the launcher's return
            if time.monotonic() > deadline:
                raise RuntimeError(f"life {life_number} never appeared")
            await asyncio.sleep(0.001)
        return self.lives[life_number - 1].pid


async def _kill_and_wait(pid: int) -> None:
    """SIGKILL `pid` and wait until it is dead (gone or a zombie)."""
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10.0
    while _running(pid):
        if time.monotonic() > deadline:
            raise RuntimeError(f"process {pid} survived SIGKILL")
        await asyncio.sleep(0.001)


def _running(pid: int) -> bool:
    """Return True while `pid` runs (a zombie does not: it is dead, only not reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()  # a kernel table: never blocks
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


# ---------------------------------------------------------------------- the tally
@dataclass(slots=True)
class Violation:
    """What a check found wrong, and where."""

    seed: int
    kill: int
    point: str
    problems: list[str]
    logs: str
    kills: list[str] = field(default_factory=list)  # the last kills before the check
    events: list[str] = field(default_factory=list)  # the bot's latest warnings, newest first

    def describe(self) -> str:
        """Return a report: the seed, kill, point, problems, the kills before, the bot's
        warnings and log tails."""
        lines = "\n".join(f"  - {p}" for p in self.problems)
        before = "\n".join(f"  after {k}" for k in self.kills)
        events = "\n".join(f"  event: {e}" for e in self.events)
        return (
            f"seed {self.seed}, kill {self.kill} ({self.point}):\n{lines}\n{before}\n"
            f"{events}\n{self.logs}"
        )


@dataclass(slots=True)
class Tally:
    """Kills by point and how they happened, checks, violations."""

    kills: Counter[str] = field(default_factory=Counter)
    at_start: Counter[str] = field(default_factory=Counter)
    crashes: Counter[str] = field(default_factory=Counter)  # lives that died by themselves
    external: Counter[str] = field(default_factory=Counter)
    checks: int = 0
    checked_kills: int = 0
    down_candles: int = 0  # candles closed while the bot was dead
    down_gaps: int = 0  # price gaps while the bot was dead
    lives: int = 0
    seeds: list[int] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    history: list[str] = field(default_factory=list)  # one line per kill
    breaker_resets: Counter[str] = field(default_factory=Counter)  # by the trip's reason
    seconds: float = 0.0
    start_seconds: float = 0.0  # of `seconds`: starting lives until they had reconciled
    check_seconds: float = 0.0  # of `seconds`: comparing the exchange with the database

    def add(self, other: Tally) -> None:
        """Add another tally to this one."""
        self.kills.update(other.kills)
        self.at_start.update(other.at_start)
        self.crashes.update(other.crashes)
        self.external.update(other.external)
        self.checks += other.checks
        self.checked_kills += other.checked_kills
        self.down_candles += other.down_candles
        self.down_gaps += other.down_gaps
        self.lives += other.lives
        self.seeds.extend(other.seeds)
        self.violations.extend(other.violations)
        self.history.extend(other.history)
        self.breaker_resets.update(other.breaker_resets)
        self.seconds += other.seconds
        self.start_seconds += other.start_seconds
        self.check_seconds += other.check_seconds

    def report(self, title: str) -> str:
        """Return the tally as a table."""
        total = sum(self.kills.values())
        lines = [
            f"{title}: seeds {self.seeds}, {total} kills "
            f"({total - sum(self.external.values())} at the point, "
            f"{sum(self.external.values())} external), {sum(self.crashes.values())} crashes, "
            f"{self.lives} lives, "
            f"{self.checks} checks, {len(self.violations)} violations, {self.seconds:.1f} s "
            f"({self.start_seconds:.1f} s starting lives, {self.check_seconds:.1f} s checking); "
            f"while dead: {self.down_candles} candles closed, {self.down_gaps} price gaps",
            f"  {'point':<28}{'kills':>6}{'at start-up':>13}{'external':>10}{'crashes':>9}",
        ]
        for point in KILL_POINTS:
            name = point.name
            lines.append(
                f"  {name:<28}{self.kills[name]:>6}{self.at_start[name]:>13}"
                f"{self.external[name]:>10}{self.crashes[name]:>9}"
            )
        lines.extend(
            f"  breaker reset x{count} (tripped: {reason})"
            for reason, count in self.breaker_resets.items()
        )
        distinct = Counter(_shape(p) for v in self.violations for p in v.problems)
        lines.extend(f"  violation x{count}: {shape}" for shape, count in distinct.items())
        return "\n".join(lines)


def _shape(problem: str) -> str:
    """Return a problem without its ids and numbers (to count distinct problems)."""
    return re.sub(r"\d+(\.\d+)?", "N", re.sub(r"adxl[0-9a-z-]+", "<order>", problem))


CAMPAIGN = Tally()


@pytest.fixture(scope="module", autouse=True)
def campaign_report() -> Iterator[None]:
    """Print the whole campaign's tally after the last seed."""
    yield
    if CAMPAIGN.seeds:
        print("\n" + CAMPAIGN.report(f"crash campaign, ADXBOT_CRASH_KILLS={KILLS}"))


# ---------------------------------------------------------------------- the campaign
class Campaign:
    """One seed: one simulator, one database, a life per kill."""

    def __init__(
        self, seed: int, stage: Stage, wire: WireKiller, config: BotConfig, workdir: Path
    ) -> None:
        self.seed = seed
        self.stage = stage
        self.wire = wire
        self.driver = Driver(stage, config, workdir)
        wire.lives = self.driver.launcher.lives
        self.tally = Tally(seeds=[seed])
        self._factor = 1.0  # the product of the price jumps not yet undone
        # The stepped clock moves only when this campaign steps it: tracked here, so that
        # waiting for the bot costs no reading of the exchange's whole state.
        self._now = stage.now_ms()
        self._tf = stage.timeframe_ms
        self._entry_times = stage.entry_signals(config)
        signals = build_strategy(config.strategy).signals(stage.candles)
        opens = stage.candles.open_time_ms
        self._exit_times = {
            side.value.upper(): [
                int(opens[i]) for i in np.nonzero(np.isin(signals.column(side), CLOSING))[0]
            ]
            for side in (Direction.LONG, Direction.SHORT)
        }
        self._unchecked: list[tuple[int, PlannedKill, BotLife]] = []
        self._born = time.monotonic()

    # ------------------------------------------------------------------ the run
    def run(self, plan: list[PlannedKill]) -> None:
        """Kill once per planned kill, checking after every restart; then a last check."""
        for index, kill in enumerate(plan, 1):
            self.kill(index, kill)
            self.while_down(kill.down_candles, kill.down_gap_percent)
        self.restart()

    def kill(self, index: int, kill: PlannedKill) -> BotLife:
        """Start a life armed for `kill`, move the market until it dies; return it, dead."""
        life = self._start(kill)
        at_start = not life.alive
        external = False
        if life.alive:
            try:
                self.provoke(kill, life)
            except RehearsalError as e:  # the bot stopped following the market
                raise RehearsalError(
                    f"seed {self.seed} kill {index} ({kill.point.name}:{kill.n}), life "
                    f"{life.number}: {e}\n{life.log_tail(40)}"
                ) from e
            if life.alive:  # not reached within its budget: kill it from outside
                self.wire.disarm()
                life.kill()
                external = True
        code = life.wait(10.0)
        name = kill.point.name
        if code != SIGKILL:  # no kill: the bot failed by itself (a bug, always reported)
            self.tally.crashes[name] += 1
            how = f"crashed by itself (exit {code})"
            problems = [f"life {life.number} crashed: exit {code}"]
            self._violation(index, kill.point.name, problems, [life])
        else:
            self.tally.kills[name] += 1
            how = "at the point"
            if external:
                self.tally.external[name] += 1
                how = "external (not reached)"
            elif at_start:
                self.tally.at_start[name] += 1
                how = "at the point, during start-up"
        self.tally.history.append(
            f"seed {self.seed} kill {index}: {name}:{kill.n}, life {life.number} {how}; "
            f"while dead: {kill.down_candles} candles, gap {kill.down_gap_percent} %"
        )
        self._unchecked.append((index, kill, life))
        return life

    def restart(self) -> BotLife:
        """Start a life armed for nothing (it checks once it has reconciled); return it."""
        life = self._start(None)
        if not life.alive:  # armed for nothing: it failed by itself
            code = life.wait(10.0)
            self._violation(0, "(restart)", [f"life {life.number} crashed: exit {code}"], [life])
        return life

    def close(self) -> None:
        """Kill every life; note the time spent."""
        self.tally.seconds = time.monotonic() - self._born
        self.driver.close()

    def _start(self, kill: PlannedKill | None) -> BotLife:
        """Start the next life armed for `kill`; once it has reconciled, check."""
        driver = self.driver
        started = time.monotonic()
        self._reset_breakers()
        before = self._started_count()
        number = len(driver.launcher.lives) + 1
        self.wire.disarm()
        failpoint = None
        if kill is not None and kill.point.wire is not None:
            self.wire.arm(kill.point.wire, kill.n, number)
        elif kill is not None:
            failpoint = f"{kill.point.failpoint}:{kill.n}"
        life = driver.launcher.start(failpoint=failpoint)
        driver.life = life
        self.tally.lives += 1
        if not _poll(lambda: self._started_count() > before or not life.alive, START_TIMEOUT_S):
            raise RehearsalError(f"life {life.number} did not start:\n{life.log_tail()}")
        self.tally.start_seconds += time.monotonic() - started
        if life.alive or self._started_count() > before:
            started = time.monotonic()
            self._check(life)
            self.tally.check_seconds += time.monotonic() - started
        return life

    def _reset_breakers(self) -> None:
        """Reset every tripped breaker while no life runs, as the operator would.

        A life that cannot protect a position closes it and trips the reconciliation
        breaker (fail closed): checked at its start like any other, then reset here so
        that the campaign trades on."""
        try:
            tripped = [r for r in self.driver.store.breakers().values() if r.tripped]
        except DatabaseError:
            return  # no database yet
        if not tripped:
            return
        with TradeStore.open(self.driver.database, TradingMode.LIVE) as store:
            clock = ManualClock(self._now)
            breakers = CircuitBreakers(RiskLimits.from_config(self.driver.config), store, clock)
            for record in tripped:
                breakers.reset(BreakerName(record.name), by="the crash campaign (as the operator)")
                self.tally.breaker_resets[record.reason.split(":")[0]] += 1

    def _started_count(self) -> int:
        try:
            return self.driver.count(EventKind.STARTED)
        except DatabaseError:
            return 0  # no database yet

    # ------------------------------------------------------------------ the check
    def _check(self, life: BotLife) -> None:
        """Compare the exchange with the database now that `life` has reconciled."""
        self.tally.checks += 1
        problems = self.problems()
        if problems:
            index, kill, killed = self._unchecked[-1] if self._unchecked else (0, None, None)
            lives = [x for x in (killed, life) if x is not None]
            name = kill.point.name if kill is not None else "(none)"
            self.tally.violations.append(
                Violation(
                    self.seed,
                    index,
                    name,
                    problems,
                    _logs(lives, self._unchecked),
                    self.tally.history[-3:],
                    self._warnings(),
                )
            )
        self.tally.checked_kills += len(self._unchecked)
        self._unchecked.clear()

    def problems(self) -> list[str]:
        """Return what is wrong between the exchange and the database now."""
        state = self.stage.state()
        assert int(state["time_ms"]) == self._now, "the clock moved behind the campaign's back"
        account = self.stage.account(state)
        store = self.driver.store
        problems = list(check_consistency(account, store).violations)
        ours = [o for o in account["orders"] if o["clientOrderId"].startswith("adxl")]
        for client_id, count in Counter(o["clientOrderId"] for o in ours).items():
            if count > 1:
                problems.append(f"duplicate: client id {client_id} {count} times on the exchange")
        positions = [p for p in account["positions"] if Decimal(p["positionAmt"]) != 0]
        if len(positions) > 1:
            problems.append(f"duplicate: the exchange holds {len(positions)} positions")
        if len(store.open_positions()) > 1:
            problems.append(f"duplicate: the database has {len(store.open_positions())} open")
        # Cross-checks of the oracle: said once, by whichever sees it first.
        resting = [o for o in account["open_orders"] if o["clientOrderId"].startswith("adxl")]
        for position in positions:
            side = "SELL" if position["positionSide"] == "LONG" else "BUY"
            types = {o["type"] for o in resting if o["side"] == side}
            for kind in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
                if kind not in types and not _said(problems, "unprotected"):
                    problems.append(f"unprotected: the {position['positionSide']} has no {kind}")
        if not positions and resting and not _said(problems, "orphan"):
            ids = ", ".join(f"{o['clientOrderId']} {o['type']}" for o in resting)
            problems.append(f"orphan: flat, yet the bot's orders rest on the exchange: {ids}")
        return problems

    def _violation(self, index: int, point: str, problems: list[str], lives: list[BotLife]) -> None:
        self.tally.violations.append(
            Violation(
                self.seed,
                index,
                point,
                problems,
                _logs(lives, []),
                self.tally.history[-2:],
                self._warnings(),
            )
        )

    def _warnings(self) -> list[str]:
        try:
            events = self.driver.store.events(limit=20)
        except DatabaseError:
            return []
        return [f"{e.kind.value}: {e.message}" for e in events if e.severity is not Severity.INFO][
            :6
        ]

    # ------------------------------------------------------------------ the market
    def provoke(self, kill: PlannedKill, life: BotLife) -> None:
        """Move the market the way `kill`'s point needs until `life` dies or the budget ends."""
        exit_tries = 0
        for _ in range(kill.budget):
            if not life.alive:
                return
            side = self.held_side()
            if side is None:
                self._restore_price()
                self._enter(life)
                exit_tries = 0
            elif kill.point.phase is Phase.SIGNAL_EXIT and exit_tries < EXIT_TRIES:
                self._exit_by_signal(side, life)
                exit_tries += 1
            else:
                self._stop_out(side, life)
        life.wait(0.5)  # a point reached on the last move: let the process finish dying

    def held_side(self) -> str | None:
        """Return the side of the exchange's position ("LONG", "SHORT"), None when flat."""
        positions = self.stage.positions()
        if not positions:
            return None
        position = positions[0]
        side = str(position["positionSide"])
        if side in ("LONG", "SHORT"):
            return side
        return "LONG" if Decimal(position["positionAmt"]) > 0 else "SHORT"

    def _enter(self, life: BotLife) -> None:
        """Jump to the next entry signal and close candles until a position opens."""
        self._jump_to_signal(self._entry_times, life)
        self._advance_until(lambda: self.held_side() is not None, life, 2 * LEAD_CANDLES)

    def _exit_by_signal(self, side: str, life: BotLife) -> None:
        """Jump to the strategy's next close of `side`, then close candles."""
        self._jump_to_signal(self._exit_times[side], life)
        self._advance_until(lambda: self.held_side() != side, life, 2 * LEAD_CANDLES)

    def _stop_out(self, side: str, life: BotLife) -> None:
        """Gap the price through the stop-loss and close candles until it has fired."""
        self._jump(-JUMP_PERCENT if side == "LONG" else JUMP_PERCENT)
        self._advance_until(lambda: self.held_side() is None, life, 3)

    def _jump_to_signal(self, signal_times: list[int], life: BotLife) -> None:
        """Step the clock to `LEAD_CANDLES` before the close of the next signal candle."""
        i = bisect.bisect_right(signal_times, self._now - self._tf)  # not the last closed
        if i == len(signal_times):
            raise RehearsalError("the candles hold no further signal")
        wanted = signal_times[i] + self._tf - LEAD_CANDLES * self._tf
        if wanted > self._now:
            self._wait_caught_up(life)
            self._step(wanted - self._now)

    def _advance_until(self, condition: Callable[[], bool], life: BotLife, candles: int) -> None:
        """Close candles one by one (each once the bot has dealt with the last) until
        `condition()` holds or `life` dies."""
        for _ in range(candles):
            if not life.alive or condition():
                return
            self._wait_caught_up(life)
            if not life.alive:
                return
            self._step(self._tf)
        self._wait_caught_up(life)

    def _wait_caught_up(self, life: BotLife) -> None:
        """Wait until the bot has stored the last closed candle (or died)."""
        store = self.driver.store

        def caught_up() -> bool:
            last = store.info("last_candle_ms")
            return last is not None and int(last) >= self._now - self._tf

        if not _poll(lambda: not life.alive or caught_up(), CATCH_UP_TIMEOUT_S):
            raise RehearsalError(f"the bot did not take the last candle in {CATCH_UP_TIMEOUT_S} s")

    def _step(self, ms: int) -> None:
        self.stage.step(ms)
        self._now += ms

    def while_down(self, candles: int, gap_percent: float) -> None:
        """Let the exchange go on while the bot is dead: a price gap, candles closing."""
        if gap_percent:
            self._jump(gap_percent)
            self.tally.down_gaps += 1
        if candles:
            self._step(candles * self._tf)
            self.tally.down_candles += candles

    def _jump(self, percent: float) -> None:
        self.stage.jump(percent)
        self._factor *= 1 + percent / 100

    def _restore_price(self) -> None:
        """Undo the jumps while flat, so the replayed market stays near its own prices."""
        if abs(self._factor - 1.0) > 1e-9:
            self.stage.jump((1 / self._factor - 1) * 100)
            self._factor = 1.0


def _said(problems: list[str], kind: str) -> bool:
    return any(p.startswith(f"{kind}:") for p in problems)


def _logs(lives: list[BotLife], unchecked: list[tuple[int, PlannedKill, BotLife]]) -> str:
    seen: dict[int, BotLife] = {life.number: life for _, _, life in unchecked}
    seen.update({life.number: life for life in lives})
    parts = []
    for number in sorted(seen):
        life = seen[number]
        parts.append(
            f"--- life {number} (failpoint {life.plan.failpoint}, exit {life.exit_code}):\n"
            f"{life.log_tail(25)}"
        )
    return "\n".join(parts)


def _poll(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


def _kills_of(seed: int) -> int:
    """Return seed `seed`'s share of KILLS."""
    return KILLS // SEEDS + (1 if seed < KILLS % SEEDS else 0)


def _assert_no_violation(tally: Tally) -> None:
    assert not tally.violations, "\n\n".join(v.describe() for v in tally.violations)


@contextmanager
def staged_campaign(seed: int, workdir: Path) -> Iterator[Campaign]:
    """Yield a campaign on its own stepped simulator (behind a `WireKiller`)."""
    config = parse_config(CONFIG)
    wire: WireKiller | None = None

    def wrap(app: ASGIApp) -> ASGIApp:
        nonlocal wire
        wire = WireKiller(app)
        return wire

    with staged_simulator(config, wrap=wrap) as stage:
        assert wire is not None
        campaign = Campaign(seed, stage, wire, config, workdir)
        try:
            yield campaign
        finally:
            campaign.close()


def _point(name: str) -> KillPoint:
    return next(point for point in KILL_POINTS if point.name == name)


@pytest.mark.parametrize("seed", range(SEEDS))
def test_crash_campaign_when_killed_at_every_order_step_then_restart_reconciles(
    seed: int, tmp_path: Path
) -> None:
    kills = _kills_of(seed)
    plan = plan_kills(seed, kills)

    tally = Tally()
    try:
        with staged_campaign(seed, tmp_path) as campaign:
            tally = campaign.tally
            campaign.run(plan)
    finally:
        CAMPAIGN.add(tally)
        print("\n" + tally.report(f"seed {seed}"))

    _assert_no_violation(tally)
    assert sum(tally.kills.values()) + sum(tally.crashes.values()) == kills
    assert tally.checked_kills == kills  # every death was followed by a check


def test_crash_check_when_killed_between_fill_and_protection_then_sees_it_until_restart(
    tmp_path: Path,
) -> None:
    """The check is no formality: between the kill and the restart it sees the crash."""
    kill = PlannedKill(_point("entry.filled"), 1)

    with staged_campaign(0, tmp_path) as campaign:
        life = campaign.kill(1, kill)
        before_restart = campaign.problems()
        campaign.restart()

    assert life.exit_code == SIGKILL
    assert any(p.startswith("lost: the exchange holds") for p in before_restart)
    assert any(p.startswith("unprotected") for p in before_restart)
    assert campaign.tally.checked_kills == 1
    assert not campaign.tally.violations


@pytest.mark.parametrize(("moment", "executed"), [("sent", False), ("answered", True)])
def test_wire_killer_when_entry_request_killed_then_executed_only_once_answered(
    moment: str, executed: bool, tmp_path: Path
) -> None:
    kill = PlannedKill(_point(f"wire.entry.{moment}"), 1)

    with staged_campaign(0, tmp_path) as campaign:
        life = campaign.kill(1, kill)
        held_while_dead = campaign.held_side()
        campaign.restart()
        held_after_restart = campaign.held_side()

    assert life.exit_code == SIGKILL
    assert not campaign.tally.external  # killed by the middleware, not from outside
    assert (held_while_dead is not None) is executed
    assert held_after_restart == held_while_dead
    assert not campaign.tally.violations


def test_crash_when_killed_after_storing_a_close_then_restart_at_once_runs_on(
    tmp_path: Path,
) -> None:
    kill = PlannedKill(_point("exit.intent_stored"), 1)  # restarted at once: no candle passes

    with staged_campaign(0, tmp_path) as campaign:
        campaign.kill(1, kill)
        campaign.restart()

    _assert_no_violation(campaign.tally)


def test_crash_when_killed_closing_a_position_it_cannot_protect_then_restart_closes_it(
    tmp_path: Path,
) -> None:
    with staged_campaign(0, tmp_path) as campaign:
        campaign.kill(1, PlannedKill(_point("entry.filled"), 1))  # filled, not protected
        side = campaign.held_side()
        assert side is not None
        gap = -5.0 if side == "LONG" else 5.0  # through the 2 % stop-loss: it cannot be placed
        campaign.while_down(0, gap)  # and no candle closes (no signal to act on at restart)
        # The restart closes the position at market instead; killed as it stores that close:
        campaign.kill(2, PlannedKill(_point("exit.intent_stored"), 1))
        campaign.restart()
        held = campaign.held_side()

    assert campaign.tally.at_start["exit.intent_stored"] == 1
    _assert_no_violation(campaign.tally)
    assert held is None


def test_crash_when_price_passes_take_profit_while_dead_then_restart_protects_position(
    tmp_path: Path,
) -> None:
    kill = PlannedKill(_point("entry.filled"), 1)  # filled, not yet recorded nor protected

    with staged_campaign(0, tmp_path) as campaign:
        campaign.kill(1, kill)
        side = campaign.held_side()
        assert side is not None
        gap = 6.0 if side == "LONG" else -6.0  # beyond the 4 % take-profit, in its favour
        campaign.while_down(1, gap)
        campaign.restart()

    _assert_no_violation(campaign.tally)


def test_crash_plan_when_drawn_then_every_point_is_killed_each_round() -> None:
    plan = plan_kills(seed=7, kills=2 * len(KILL_POINTS))

    first, second = plan[: len(KILL_POINTS)], plan[len(KILL_POINTS) :]

    assert {k.point for k in first} == set(KILL_POINTS)
    assert {k.point for k in second} == set(KILL_POINTS)
    assert {k.n for k in plan} <= {1, 2}
    assert plan_kills(seed=7, kills=10) == plan[:10]
