"""Crash consistency: SIGKILL the live bot at every step of an order's life, restart, check.

The campaign runs the real live bot (a process per life, `adxbot.rehearsal.lives`) against
the simulator on a stepped clock and kills it, with no warning, at one step of an order's
life after another:

- at each named failpoint of the live trader the strategy's path reaches
  (`adxbot.failpoints.POINTS`): an entry, stop-loss, take-profit or close stored but not
  sent, sent and accepted but not recorded, an entry or a close seen filled, an exit being
  recorded;
- on the wire, where the bot cannot stop itself (`WireKiller`, a middleware around the
  simulator's app): `wire.<order>.sent` kills the bot while its order request is on its
  way and drops the request (the exchange never executes it); `wire.<order>.answered`
  lets the exchange execute it and kills the bot before the answer leaves; and
  `wire.cancel.answered` does the same to the cancel of a protective order during a close.

Each seed draws its plan from `random.Random(seed)`: the points in shuffled rounds (every
round kills once at every point), each armed to fire on its 1st or 2nd passage (`n`).  The
market is then moved until the armed life dies: to the next entry signal when flat, candle
by candle while holding (the strategy closes on a DI cross, `exit_on_di_cross`), or through
the stop (a price jump) for an exit the exchange makes.  A point not reached within its
budget of moves ends with an external SIGKILL (counted apart, checked all the same).

After every kill the next life starts (armed with the next planned point) and, once it has
reconciled and before the market moves again, the exchange and the database are compared:
`check_consistency` (no duplicate, nothing lost, the same positions, every open position
with its stop-loss and take-profit), no client order id twice on the exchange, at most one
position, and no order of the bot resting on the exchange while it is flat.  A life
killed while still reconciling (the point lay on the start-up path) is checked at the next
start that completes.

Size: `ADXBOT_CRASH_KILLS` is the total number of kills (default 210, the CI run, about
90 s on two cores: `uv run pytest tests/test_crash_campaign.py -s` prints the tally).
The kills are shared out over seeds of at most `KILLS_PER_SEED` kills, each seed a test
with its own simulator and database:

    ADXBOT_CRASH_KILLS=1000 uv run pytest tests/test_crash_campaign.py -s
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
from adxbot.config import BotConfig, parse_config
from adxbot.domain.enums import Direction
from adxbot.errors import DatabaseError
from adxbot.persistence.records import EventKind
from adxbot.rehearsal.driver import Driver, RehearsalError
from adxbot.rehearsal.lives import BotLife
from adxbot.rehearsal.stage import Stage, staged_simulator
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
}
ORDER_PATH = "/openApi/swap/v2/trade/order"
JUMP_PERCENT = 5.0  # through the 2 % stop-loss, short of nothing: a gap the stop fills at
EXIT_TRIES = 3  # jumps to the strategy's next close of a position before stopping it out
LEAD_CANDLES = 2  # a jump to a signal stops this many candles short of its close
CLOSING = (int(Action.EXIT), int(Action.REVERSE))
START_TIMEOUT_S = 60.0
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
        self.fired: list[tuple[int, WireTarget]] = []

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
            self.fired.append((armed.life_number, armed.target))
            await send({"type": "http.response.start", "status": 502, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        answer: list[Message] = []

        async def hold(message: Message) -> None:
            answer.append(message)

        await self._app(scope, receive, hold)  # the exchange executes it...
        await _kill_and_wait(pid)  # ...and the bot dies before the answer reaches it
        self.fired.append((armed.life_number, armed.target))
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

    def describe(self) -> str:
        """Return a report: the seed, kill, point, problems and log tails."""
        lines = "\n".join(f"  - {p}" for p in self.problems)
        return f"seed {self.seed}, kill {self.kill} ({self.point}):\n{lines}\n{self.logs}"


@dataclass(slots=True)
class Tally:
    """Kills by point and how they happened, checks, violations."""

    kills: Counter[str] = field(default_factory=Counter)
    at_start: Counter[str] = field(default_factory=Counter)
    external: Counter[str] = field(default_factory=Counter)
    checks: int = 0
    checked_kills: int = 0
    down_candles: int = 0  # candles closed while the bot was dead
    down_gaps: int = 0  # price gaps while the bot was dead
    lives: int = 0
    seeds: list[int] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    seconds: float = 0.0
    start_seconds: float = 0.0  # of `seconds`: starting lives until they had reconciled
    check_seconds: float = 0.0  # of `seconds`: comparing the exchange with the database

    def add(self, other: Tally) -> None:
        """Add another tally to this one."""
        self.kills.update(other.kills)
        self.at_start.update(other.at_start)
        self.external.update(other.external)
        self.checks += other.checks
        self.checked_kills += other.checked_kills
        self.down_candles += other.down_candles
        self.down_gaps += other.down_gaps
        self.lives += other.lives
        self.seeds.extend(other.seeds)
        self.violations.extend(other.violations)
        self.seconds += other.seconds
        self.start_seconds += other.start_seconds
        self.check_seconds += other.check_seconds

    def report(self, title: str) -> str:
        """Return the tally as a table."""
        total = sum(self.kills.values())
        lines = [
            f"{title}: seeds {self.seeds}, {total} kills "
            f"({total - sum(self.external.values())} at the point, "
            f"{sum(self.external.values())} external), {self.lives} lives, "
            f"{self.checks} checks, {len(self.violations)} violations, {self.seconds:.1f} s "
            f"({self.start_seconds:.1f} s starting lives, {self.check_seconds:.1f} s checking); "
            f"while dead: {self.down_candles} candles closed, {self.down_gaps} price gaps",
            f"  {'point':<28}{'kills':>6}{'at start-up':>13}{'external':>10}",
        ]
        for point in KILL_POINTS:
            name = point.name
            lines.append(
                f"  {name:<28}{self.kills[name]:>6}{self.at_start[name]:>13}"
                f"{self.external[name]:>10}"
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
        signals = build_strategy(config.strategy).signals(stage.candles)
        opens = stage.candles.open_time_ms
        self._exit_times = {
            side.value.upper(): [
                int(opens[i]) for i in np.nonzero(np.isin(signals.column(side), CLOSING))[0]
            ]
            for side in (Direction.LONG, Direction.SHORT)
        }
        self._unchecked: list[tuple[int, PlannedKill, BotLife]] = []

    # ------------------------------------------------------------------ the run
    def run(self, plan: list[PlannedKill]) -> None:
        """Kill once per planned kill, checking after every restart; then a last check."""
        started = time.monotonic()
        try:
            for index, kill in enumerate(plan, 1):
                life = self._start(kill)
                if life.alive:
                    self._provoke(kill, life)
                    if life.alive:  # not reached within its budget: kill it from outside
                        self.wire.disarm()
                        life.kill()
                        self.tally.external[kill.point.name] += 1
                else:
                    self.tally.at_start[kill.point.name] += 1
                self._record_death(index, kill, life)
                self._while_down(kill)
            life = self._start(None)
            if not life.alive:
                raise RehearsalError(f"the last life died at start:\n{life.log_tail()}")
        finally:
            self.tally.seconds = time.monotonic() - started
            self.driver.close()

    def _start(self, kill: PlannedKill | None) -> BotLife:
        """Start the next life armed for `kill`; once it has reconciled, check."""
        driver = self.driver
        started = time.monotonic()
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

    def _started_count(self) -> int:
        try:
            return self.driver.count(EventKind.STARTED)
        except DatabaseError:
            return 0  # no database yet

    def _record_death(self, index: int, kill: PlannedKill, life: BotLife) -> None:
        code = life.wait(10.0)
        self.tally.kills[kill.point.name] += 1
        self._unchecked.append((index, kill, life))
        if code != SIGKILL:
            self._violation(
                index, kill, [f"life {life.number} exited {code}, not by SIGKILL"], [life]
            )

    # ------------------------------------------------------------------ the check
    def _check(self, life: BotLife) -> None:
        """Compare the exchange with the database now that `life` has reconciled."""
        self.tally.checks += 1
        problems = self._problems()
        if problems:
            index, kill, killed = self._unchecked[-1] if self._unchecked else (0, None, None)
            lives = [x for x in (killed, life) if x is not None]
            name = kill.point.name if kill is not None else "(none)"
            self.tally.violations.append(
                Violation(self.seed, index, name, problems, _logs(lives, self._unchecked))
            )
        self.tally.checked_kills += len(self._unchecked)
        self._unchecked.clear()

    def _problems(self) -> list[str]:
        account = self.stage.account()
        store = self.driver.store
        problems = list(self.driver.consistency().violations)
        ours = [o for o in account["orders"] if o["clientOrderId"].startswith("adxl")]
        for client_id, count in Counter(o["clientOrderId"] for o in ours).items():
            if count > 1:
                problems.append(f"duplicate: client id {client_id} {count} times on the exchange")
        positions = [p for p in account["positions"] if Decimal(p["positionAmt"]) != 0]
        if len(positions) > 1:
            problems.append(f"duplicate: the exchange holds {len(positions)} positions")
        if len(store.open_positions()) > 1:
            problems.append(f"duplicate: the database has {len(store.open_positions())} open")
        resting = [o for o in account["open_orders"] if o["clientOrderId"].startswith("adxl")]
        for position in positions:
            types = {o["type"] for o in resting}
            for kind in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
                if kind not in types:
                    problems.append(f"unprotected: the {position['positionSide']} has no {kind}")
        if not positions and resting:
            ids = ", ".join(f"{o['clientOrderId']} {o['type']}" for o in resting)
            problems.append(f"orphan: flat, yet the bot's orders rest on the exchange: {ids}")
        return list(dict.fromkeys(problems))

    def _violation(
        self, index: int, kill: PlannedKill, problems: list[str], lives: list[BotLife]
    ) -> None:
        self.tally.violations.append(
            Violation(self.seed, index, kill.point.name, problems, _logs(lives, []))
        )

    # ------------------------------------------------------------------ the market
    def _provoke(self, kill: PlannedKill, life: BotLife) -> None:
        """Move the market the way `kill`'s point needs until `life` dies or the budget ends."""
        exit_tries = 0
        for _ in range(kill.budget):
            if not life.alive:
                return
            side = self._held_side()
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

    def _held_side(self) -> str | None:
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
        self.driver.fast_forward()
        self.driver.advance_until(
            lambda: not life.alive or self._held_side() is not None, max_candles=4
        )

    def _exit_by_signal(self, side: str, life: BotLife) -> None:
        """Jump to just before the strategy's next close of `side`, then close candles."""
        tf = self.stage.timeframe_ms
        now = self.stage.now_ms()
        times = self._exit_times[side]
        i = bisect.bisect_left(times, now - tf)
        if i == len(times):
            raise RehearsalError("the candles hold no further exit signal")
        wanted = times[i] + tf - LEAD_CANDLES * tf  # the signal candle closes at times[i] + tf
        if wanted > now:
            self.driver.wait_caught_up()
            self.stage.step(wanted - now)
        self.driver.advance_until(
            lambda: not life.alive or self._held_side() != side, max_candles=2 * LEAD_CANDLES
        )

    def _stop_out(self, side: str, life: BotLife) -> None:
        """Gap the price through the stop-loss and close candles until it has fired."""
        self._jump(-JUMP_PERCENT if side == "LONG" else JUMP_PERCENT)
        self.driver.advance_until(
            lambda: not life.alive or self._held_side() is None, max_candles=3
        )

    def _while_down(self, kill: PlannedKill) -> None:
        """Let the exchange go on while the bot is dead: a gap, candles closing."""
        if kill.down_gap_percent:
            self._jump(kill.down_gap_percent)
            self.tally.down_gaps += 1
        if kill.down_candles:
            self.stage.step(kill.down_candles * self.stage.timeframe_ms)
            self.tally.down_candles += kill.down_candles

    def _jump(self, percent: float) -> None:
        self.stage.jump(percent)
        self._factor *= 1 + percent / 100

    def _restore_price(self) -> None:
        """Undo the jumps while flat, so the replayed market stays near its own prices."""
        if abs(self._factor - 1.0) > 1e-9:
            self.stage.jump((1 / self._factor - 1) * 100)
            self._factor = 1.0


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


_OPEN_BUG = (
    "open bug (issue 7 note): after some kill sequences (a kill at take_profit.intent_stored, "
    "or at wire.take_profit.answered during start-up) the next reconciliation leaves a "
    "position with its stop-loss but without its take-profit"
)
KNOWN_FAILING = {2: _OPEN_BUG, 4: _OPEN_BUG, 5: _OPEN_BUG}
"""Seeds of the CI size that find the open bug; the others must stay clean."""


def _seed_param(seed: int) -> Any:
    reason = KNOWN_FAILING.get(seed) if KILLS == DEFAULT_KILLS else None
    marks = [pytest.mark.xfail(strict=False, reason=reason)] if reason else []
    return pytest.param(seed, marks=marks)


@pytest.mark.parametrize("seed", [_seed_param(seed) for seed in range(SEEDS)])
def test_crash_campaign_when_killed_at_every_order_step_then_restart_reconciles(
    seed: int, tmp_path: Path
) -> None:
    kills = _kills_of(seed)
    plan = plan_kills(seed, kills)
    config = parse_config(CONFIG)
    wire: WireKiller | None = None

    def wrap(app: ASGIApp) -> ASGIApp:
        nonlocal wire
        wire = WireKiller(app)
        return wire

    with staged_simulator(config, wrap=wrap) as stage:
        assert wire is not None
        campaign = Campaign(seed, stage, wire, config, tmp_path)
        try:
            campaign.run(plan)
        finally:
            CAMPAIGN.add(campaign.tally)
            print("\n" + campaign.tally.report(f"seed {seed}"))

    tally = campaign.tally
    assert sum(tally.kills.values()) == kills
    assert tally.checked_kills == kills  # every kill was followed by a check
    assert not tally.violations, "\n\n".join(v.describe() for v in tally.violations)


def test_crash_plan_when_drawn_then_every_point_is_killed_each_round() -> None:
    plan = plan_kills(seed=7, kills=2 * len(KILL_POINTS))

    first, second = plan[: len(KILL_POINTS)], plan[len(KILL_POINTS) :]

    assert {k.point for k in first} == set(KILL_POINTS)
    assert {k.point for k in second} == set(KILL_POINTS)
    assert {k.n for k in plan} <= {1, 2}
    assert plan_kills(seed=7, kills=10) == plan[:10]
