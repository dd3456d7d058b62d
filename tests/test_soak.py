"""Soak (issue 7): the live bot for a long accelerated run against a simulator that fails.

The live bot (`run_live_bot`, in this event loop) trades the bundled BTC-USDT candles,
replayed from candle 1001 on by the simulator at `SPEED` times real time (funding 0, so the
account is plain to follow), for `HOURS` simulated hours of 5-minute candles, while:

- about 10 % of its requests fail at random, spread over every request-level fault the
  simulator knows (`FaultKind`: 502, "system busy", 100410, HTTP 429, dropped before
  execution, held beyond the client's timeout and not executed (`hang`), and the two where
  the request IS executed and the answer lost: `timeout`, held back beyond the client's
  timeout, and `drop_after`, cut mid-answer);
- the connection is cut completely (`/sim/disconnect`) twice every simulated day;
- an operator resets every tripped breaker `RESET_AFTER_CANDLES` candles after its trip,
  as `adxbot reset-breaker` would, so trading resumes and breakers can trip again.

If the bot task raises or returns unasked, that is a crash: it is recorded and the bot is
restarted on its database (as the service manager would), so the other checks still see
the whole run; any crash fails `test_soak_bot_never_crashed_and_stopped_only_when_told`.
At the end the simulator's clock is paused and stepped past the next candle close; the bot
processes that candle and is stopped: the account is at rest, and the checks compare it.

The run happens once per module (`soak` fixture); each test checks one promise of issue 7,
and the fixture prints what happened (run with `-s` to see it): simulated hours, candles,
requests, faults by kind, trades, breaker trips, wall time.

Sizes: `ADXBOT_SOAK_HOURS` sets the simulated length (default and minimum 24: 288 candles,
about 30 s of wall time); `ADXBOT_SOAK_SPEED` the simulator's speed (default 3000: a candle
every 100 ms, which leaves the bot room to keep up between faults; at 5000 it runs two or
more candles behind a quarter of the time); `ADXBOT_SOAK_SEED` the faults' random seed
(default 7).  The full size, a simulated week (about 3.5 minutes):

    ADXBOT_SOAK_HOURS=168 uv run pytest tests/test_soak.py -s

Test-only wiring: the bot's HTTP client is built (in `adxbot.bot.session`) with short
timeouts (`CLIENT_TIMEOUTS`), so that a `timeout` fault, held back `HOLD_S`, is a real
client timeout without stalling the accelerated run for seconds, and with its waits (the
back-off, a 429's Retry-After, 5 s by default) in exchange time, divided by `SPEED`, as
`BotTiming.rate_limit_speed` already does for the rate limiter's windows.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import json
import logging
import math
import os
import secrets
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from adxbot.bot import session
from adxbot.bot.market_time import last_market_time
from adxbot.bot.runner import RunSummary
from adxbot.bot.session import run_live_bot
from adxbot.clock import WallClock
from adxbot.config import BotConfig
from adxbot.domain.enums import OrderStatus
from adxbot.exchange.client import BingXClient, Timeouts
from adxbot.exchange.credentials import Credentials
from adxbot.persistence.records import (
    EventKind,
    EventRecord,
    OrderPurpose,
    Severity,
    TradingMode,
)
from adxbot.persistence.store import TradeStore
from adxbot.rehearsal.consistency import check_consistency
from adxbot.risk.breakers import BreakerName, CircuitBreakers, RiskLimits, utc_day
from adxbot.sim.account import ApiKey
from adxbot.sim.faults import FaultInjector, FaultKind
from bot_support import FAST, TIMEFRAME_MS, bot_simulator, config_with, read_store
from sim_support import RunningSim, serve

HOURS = max(24.0, float(os.environ.get("ADXBOT_SOAK_HOURS", "24")))
SPEED = float(os.environ.get("ADXBOT_SOAK_SPEED", "3000"))
SEED = int(os.environ.get("ADXBOT_SOAK_SEED", "7"))
FAULT_SHARE = 0.10
"""The share of requests a random fault hits (outside the disconnect windows)."""
WEIGHTS = {
    FaultKind.HTTP_5XX: 1.5,
    FaultKind.BUSY: 1.5,
    FaultKind.RATE_LIMIT: 1.5,
    FaultKind.HTTP_429: 1.0,
    FaultKind.DROP: 1.5,
    FaultKind.TIMEOUT: 1.0,
    FaultKind.DROP_AFTER: 2.0,
}
"""How the faults share the 10 % (a kind not named here, if the simulator has more: 1)."""
CLIENT_TIMEOUTS = Timeouts(connect_s=2.0, read_s=0.1, write_s=0.1)
HOLD_S = 0.3
"""How long a `timeout` fault holds the answer back: beyond the client's timeouts."""
DISCONNECTS = ((0.3, 0.4), (0.65, 0.4))
"""Within every simulated day: (where, as a fraction of the day; wall seconds cut off)."""
RESET_AFTER_CANDLES = 12
MAX_CRASHES = 10
POLL_S = 0.01
INITIAL_BALANCE = Decimal(1000)  # the simulator's default account
KEY = ApiKey(f"adxbot-soak-{secrets.token_hex(4)}", "adxbot-soak-secret")
"""A key of its own: the account lock is machine-wide, other live tests may run meanwhile."""
CREDENTIALS = Credentials(KEY.key, SecretStr(KEY.secret))

CONFIG: dict[str, Any] = {
    "strategy": {"exit_on_di_cross": True},  # trades several times a day
    "risk_management": {
        "consecutive_loss_limit": 2,
        "api_error_limit": 10,
        # Longer than any run: the window is wall time, and the trader's API-error events
        # are dated in market time, so the oracle can only recount errors since a reset.
        "api_error_window_minutes": 1440,
        "daily_loss_limit_percent": 1,
        "max_drawdown_percent": 1,
    },
}


def fault_rates() -> dict[FaultKind, float]:
    """Per-kind rates whose union hits FAULT_SHARE of the requests.

    The injector tries the kinds one after the other, each with its own rate, so the share
    hit is 1 - prod(1 - rate); the rates are the weights scaled until that is FAULT_SHARE.
    """
    weights = {kind: WEIGHTS.get(kind, 1.0) for kind in FaultKind}
    low, high = 0.0, 1.0 / max(weights.values())
    for _ in range(60):
        scale = (low + high) / 2
        hit = 1 - math.prod(1 - w * scale for w in weights.values())
        low, high = (scale, high) if hit < FAULT_SHARE else (low, scale)
    return {kind: w * low for kind, w in weights.items()}


# ---------------------------------------------------------------------------- the run
@dataclass(slots=True)
class Crash:
    """The bot task ended without being told to."""

    sim_ms: int
    error: str
    trace: str


@dataclass(slots=True)
class Soak:
    """What one soak run did, for the tests to check."""

    config: BotConfig
    database: Path
    speed: float
    hours: float
    seed: int
    summaries: list[RunSummary] = field(default_factory=list)
    crashes: list[Crash] = field(default_factory=list)
    final: RunSummary | None = None
    account: dict[str, Any] = field(default_factory=dict)
    requests: int = 0
    injected: Counter[str] = field(default_factory=Counter)
    disconnect_requests: int = 0
    """Requests that fell into a disconnect window (all dropped)."""
    disconnects: int = 0
    resets: list[tuple[str, int]] = field(default_factory=list)
    start_ms: int = 0
    end_ms: int = 0
    wall_s: float = 0.0
    behind: Counter[int] = field(default_factory=Counter)
    """Samples of how many closed candles the bot had not processed yet."""

    @property
    def random_share(self) -> float:
        """The share of requests outside the disconnect windows hit by a random fault."""
        outside = self.requests - self.disconnect_requests
        random_faults = sum(self.injected.values()) - self.disconnect_requests
        return random_faults / max(outside, 1)

    def store(self) -> TradeStore:
        """Open the bot's database read-only."""
        return TradeStore.open_read_only(self.database)


def _soak_client(speed: float) -> Callable[..., BingXClient]:
    """Build the bot's client with short timeouts and its waits in exchange time."""

    async def sleep(seconds: float) -> None:
        await asyncio.sleep(seconds / speed)

    def build(*args: Any, **kwargs: Any) -> BingXClient:
        kwargs["timeouts"] = CLIENT_TIMEOUTS
        kwargs["sleep"] = sleep
        return BingXClient(*args, **kwargs)

    return build


class _Driver:
    """Runs the bot, injects the faults, plays the operator, ends the run at rest."""

    def __init__(self, sim: RunningSim, soak: Soak) -> None:
        self.sim = sim
        self.soak = soak
        self.limits = RiskLimits.from_config(soak.config)
        self.stop = asyncio.Event()
        self.reader: TradeStore | None = None
        self.windows: list[int] = []

    def _start(self) -> asyncio.Task[RunSummary]:
        self.stop = asyncio.Event()
        return asyncio.create_task(
            run_live_bot(
                self.soak.config,
                base_url=self.sim.base_url,
                environment="simulator (soak)",
                database=self.soak.database,
                credentials=CREDENTIALS,
                stop=self.stop,
                check_clock=False,
                timing=replace(FAST, rate_limit_speed=self.soak.speed),
            )
        )

    async def run(self) -> None:
        task: asyncio.Task[RunSummary] | None = self._start()
        started = time.monotonic()
        deadline = started + 30 + 10 * self.soak.hours * 3600 / self.soak.speed
        stopping_after: int | None = None
        try:
            while task is not None:
                await asyncio.sleep(POLL_S)
                if time.monotonic() > deadline:
                    raise AssertionError(f"the soak did not end within {deadline - started} s")
                if task.done():
                    task = self._ended(task)
                    continue
                self.reader = self.reader or read_store(self.soak.database)
                if self.reader is None or self.reader.info("status") != "running":
                    continue
                now = self.sim.now_ms()
                if not self.soak.start_ms:
                    self._begin(now)
                self._disconnect(now)
                last = int(self.reader.info("last_candle_ms") or 0)
                self.soak.behind[max(0, (now - last - TIMEFRAME_MS) // TIMEFRAME_MS)] += 1
                self._operator(self.reader, last)
                if stopping_after is None and now >= self.soak.end_ms:
                    stopping_after = self._come_to_rest()
                if stopping_after is not None and last >= stopping_after:
                    self.stop.set()
        finally:
            self.stop.set()
            if task is not None and not task.done():
                await asyncio.wait([task])
            if self.reader is not None:
                self.reader.close()
            self.soak.wall_s = time.monotonic() - started

    def _ended(self, task: asyncio.Task[RunSummary]) -> asyncio.Task[RunSummary] | None:
        """Take an ended bot's outcome; return the next bot, or None when the run is over."""
        soak = self.soak
        error = task.exception()
        if error is None:
            summary = task.result()
            soak.summaries.append(summary)
            if self.stop.is_set():
                soak.final = summary
                return None
            crash = Crash(self.sim.now_ms(), f"returned: {summary.stopped_by}", "")
        else:
            trace = "".join(traceback.format_exception(error))
            crash = Crash(self.sim.now_ms(), f"{type(error).__name__}: {error}", trace)
        soak.crashes.append(crash)
        if self.stop.is_set() or len(soak.crashes) > MAX_CRASHES:
            return None
        return self._start()  # as the service manager would

    def _begin(self, now: int) -> None:
        soak = self.soak
        soak.start_ms = now
        soak.end_ms = now + int(soak.hours * 3_600_000)
        day = 86_400_000
        self.windows = [
            soak.start_ms + d * day + int(at * day)
            for d in range(math.ceil(soak.hours / 24))
            for at, _ in DISCONNECTS
        ]
        self.windows = [at for at in self.windows if at < soak.end_ms]
        rates = {kind.value: rate for kind, rate in fault_rates().items()}
        self.sim.admin("faults", {"rates": rates, "timeout_s": HOLD_S})

    def _disconnect(self, now: int) -> None:
        """Cut the connection when the next disconnect window is due."""
        if self.windows and now >= self.windows[0]:
            self.windows.pop(0)
            seconds = DISCONNECTS[self.soak.disconnects % len(DISCONNECTS)][1]
            self.sim.admin("disconnect", {"seconds": seconds})
            self.soak.disconnects += 1

    def _operator(self, reader: TradeStore, last: int) -> None:
        """Reset each breaker tripped RESET_AFTER_CANDLES candles ago (`adxbot reset-breaker`)."""
        due = [
            record
            for record in reader.breakers().values()
            if record.tripped and last >= record.changed_ms + RESET_AFTER_CANDLES * TIMEFRAME_MS
        ]
        if not due:
            return
        with TradeStore.open(self.soak.database, TradingMode.LIVE) as store:
            market = last_market_time(store.info("last_candle_ms"), TIMEFRAME_MS, WallClock())
            breakers = CircuitBreakers(self.limits, store, market, wall=WallClock())
            for record in due:
                if breakers.reset(BreakerName(record.name), by="the soak's operator"):
                    self.soak.resets.append((record.name, market.now_ms()))

    def _come_to_rest(self) -> int:
        """Pause the market, step it just past the next candle close; return that candle's
        open time: once the bot has processed it, nothing moves any more."""
        paused = int(self.sim.admin("market/pause")["time_ms"])
        close = -(-paused // TIMEFRAME_MS) * TIMEFRAME_MS
        self.sim.step(close + 1000 - paused)
        return close - TIMEFRAME_MS


def _count_disconnected(faults: FaultInjector, soak: Soak, patch: pytest.MonkeyPatch) -> None:
    """Count the requests dropped because they fell into a disconnect window."""
    choose = faults.choose

    def counting(path: str) -> FaultKind | None:
        cut = bool(faults.describe()["disconnected"])
        fault = choose(path)
        if cut and fault is FaultKind.DROP:
            soak.disconnect_requests += 1
        return fault

    patch.setattr(faults, "choose", counting)


def run_soak(
    database: Path, *, hours: float = HOURS, speed: float = SPEED, seed: int = SEED
) -> Soak:
    """Run one soak on a fresh simulator; return what happened."""
    soak = Soak(config_with(CONFIG), database, speed, hours, seed)
    simulator = bot_simulator(speed, funding_rate=0, keys=[KEY], fault_seed=seed)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(session, "BingXClient", _soak_client(speed))
        with serve(simulator) as sim:
            _count_disconnected(sim.simulator.faults, soak, patch)
            # A `drop_after` makes uvicorn log a traceback per cut answer: keep them out.
            patch.setattr(logging.getLogger("uvicorn.error"), "disabled", True)
            asyncio.run(_Driver(sim, soak).run())
            sim.admin("faults/reset")
            soak.account = sim.account_state(KEY.key)
            soak.requests = sim.simulator.faults.requests
            soak.injected = Counter(sim.simulator.faults.injected)
    return soak


@pytest.fixture(scope="module")
def soak(tmp_path_factory: pytest.TempPathFactory) -> Soak:
    result = run_soak(tmp_path_factory.mktemp("soak") / "live.sqlite3")
    print(f"\n{report(result)}")
    return result


def report(soak: Soak) -> str:
    """Describe a run in a few lines."""
    with soak.store() as store:
        trades = store.trades()
        candles = int(store.info("last_candle_ms") or 0)
        since = int(store.info("trading_since_ms") or 0)
        verdict = BreakerOracle(RiskLimits.from_config(soak.config)).judge(store)
    trips = Counter(t.name for t in verdict.actual)
    faults = ", ".join(f"{k} {v}" for k, v in sorted(soak.injected.items()))
    behind = sum(n for k, n in soak.behind.items() if k >= 2) / max(soak.behind.total(), 1)
    return "\n".join(
        [
            f"soak: {soak.hours:g} simulated hours at {soak.speed:g}x in {soak.wall_s:.1f} s "
            f"(fault seed {soak.seed})",
            f"  candles decided on: {(candles - since) // TIMEFRAME_MS + 1}; "
            f"summaries {soak.summaries}",
            f"  requests {soak.requests}, faults {sum(soak.injected.values())} "
            f"({sum(soak.injected.values()) / max(soak.requests, 1):.1%}): {faults}",
            f"  random faults {soak.random_share:.1%} of the requests outside "
            f"{soak.disconnects} disconnect windows ({soak.disconnect_requests} requests)",
            f"  trades {len(trades)}, P&L {sum((t.pnl for t in trades), Decimal(0)):+.2f}",
            f"  breaker trips {dict(trips)}, operator resets {len(soak.resets)}; the oracle "
            + ("agrees" if verdict.agrees else f"DISAGREES: {verdict}"),
            f"  crashes {len(soak.crashes)}: {[c.error for c in soak.crashes]}",
            f"  bot two or more candles behind in {behind:.1%} of the samples, at most "
            f"{max(soak.behind, default=0)}",
        ]
    )


# ---------------------------------------------------------------------------- the checks
def test_soak_bot_never_crashed_and_stopped_only_when_told(soak: Soak) -> None:
    assert soak.crashes == [], "\n\n".join(c.trace or c.error for c in soak.crashes)
    assert soak.final is not None
    assert soak.final.stopped_by == "stop requested"
    # It went the whole way: every candle up to the end taken, none left undecided.
    with soak.store() as store:
        last = int(store.info("last_candle_ms") or 0)
    assert last + TIMEFRAME_MS >= soak.end_ms
    assert sum(s.candles for s in soak.summaries) >= soak.hours * 3_600_000 // TIMEFRAME_MS


def test_soak_ends_consistent_with_the_exchange(soak: Soak) -> None:
    with soak.store() as store:
        consistency = check_consistency(soak.account, store)
        orders = {o.client_order_id: o for o in store.orders()}
        trades = store.trades()
        still_open = store.open_positions()
        ids = {o.position_id or 0 for o in orders.values()} | {t.position_id for t in trades}
        positions = [p for i in sorted(ids - {0}) if (p := store.position(i))]
    assert consistency.violations == []
    mine = {
        o["clientOrderId"]: o
        for o in soak.account["orders"]
        if str(o["clientOrderId"]).startswith("adxl")
    }
    # Every order of the bot the exchange executed is recorded as filled; every order the
    # database still holds open is open on the exchange.
    for client_id, order in mine.items():
        if order["status"] == "FILLED":
            assert orders[client_id].status is OrderStatus.FILLED, (client_id, order)
    for client_id, stored in orders.items():
        if not stored.status.is_final:
            assert mine.get(client_id, {}).get("status") in ("NEW", "PENDING"), stored
    # One entry per decision: no two filled entries of one signal, one position per filled
    # entry, one trade per closed position, and the positions one after the other.
    filled = [
        o
        for o in orders.values()
        if o.purpose is OrderPurpose.ENTRY and o.status is OrderStatus.FILLED
    ]
    signals = Counter(o.client_order_id.rsplit("-", 2)[1] for o in filled)
    assert [s for s, n in signals.items() if n > 1] == []
    entries_filled = [c for c, o in mine.items() if c.endswith("-e") and o["status"] == "FILLED"]
    assert sorted(entries_filled) == sorted(o.client_order_id for o in filled)
    assert sorted(o.position_id or 0 for o in filled) == [p.position_id for p in positions]
    closed = [t.position_id for t in trades]
    assert sorted(closed) == [p.position_id for p in positions if p.closed_ms is not None]
    assert [p.position_id for p in positions if p.closed_ms is None] == [
        p.position_id for p in still_open
    ]
    spans = sorted((p.opened_ms, p.closed_ms or 2 * soak.end_ms) for p in positions)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), spans


def test_soak_faults_hit_about_one_request_in_ten(soak: Soak) -> None:
    assert soak.disconnects >= 2
    assert soak.disconnect_requests > 0
    assert 0.07 <= soak.random_share <= 0.13, report(soak)
    missing = [kind.value for kind in FaultKind if soak.injected[kind.value] == 0]
    assert missing == [], report(soak)


def test_soak_traded(soak: Soak) -> None:
    with soak.store() as store:
        trades = store.trades()
    assert len(trades) >= 3, report(soak)


def test_soak_breakers_trip_exactly_when_their_rules_say(soak: Soak) -> None:
    limits = RiskLimits.from_config(soak.config)
    # The oracle counts API errors since the last reset: the window must cover the run.
    assert soak.wall_s * 1000 < limits.api_error_window_ms
    with soak.store() as store:
        verdict = BreakerOracle(limits).judge(store)
    assert verdict.expected == verdict.actual
    assert verdict.problems == []
    # The limits are chosen so that the soak really trips a breaker.
    assert verdict.actual, "no breaker tripped: the soak's limits no longer bite"


def test_soak_no_entry_while_a_breaker_is_tripped(soak: Soak) -> None:
    with soak.store() as store:
        events = sorted(store.events(limit=1_000_000), key=lambda e: e.event_id or 0)
        entries = {o.client_order_id for o in store.orders() if o.purpose is OrderPurpose.ENTRY}
    tripped: set[str] = set()
    sent: set[str] = set()
    wrong: list[str] = []
    for event in events:
        name = str(event.data.get("name"))
        if event.kind is EventKind.BREAKER_TRIPPED:
            tripped.add(name)
        elif event.kind is EventKind.BREAKER_RESET:
            tripped.discard(name)
        elif event.kind is EventKind.ORDER:
            client_id = str(event.data.get("client_order_id"))
            if client_id in entries and client_id not in sent:
                sent.add(client_id)
                if tripped:
                    wrong.append(f"{client_id} sent while {sorted(tripped)} tripped")
    assert wrong == []
    assert sent, "no entry was sent"


def test_soak_equity_breakers_watch_the_live_account(soak: Soak) -> None:
    """Every candle decided on left an equity observation; whenever it saw the account
    flat, it saw the exchange's wallet as it stood then (start plus every fill's realised
    P&L and fees), allowing for how far behind the market the bot ran."""
    with soak.store() as store:
        snapshots = store.equity_snapshots(limit=1_000_000)
        since = int(store.info("trading_since_ms") or 0)
        last = int(store.info("last_candle_ms") or 0)
    closes = {t + TIMEFRAME_MS for t in range(since, last + 1, TIMEFRAME_MS)}
    assert closes - {s.time_ms for s in snapshots} == set()
    fills = sorted(
        (int(o["updateTime"]), Decimal(o["profit"]) + Decimal(o["commission"]))
        for o in soak.account["orders"]
        if o["status"] == "FILLED"
    )
    times = [t for t, _ in fills]
    wallets = [INITIAL_BALANCE]
    for _, change in fills:
        wallets.append(wallets[-1] + change)
    lag_ms = (max(soak.behind, default=0) + 2) * TIMEFRAME_MS
    wrong = []
    for snapshot in snapshots:
        if snapshot.open_positions:
            continue
        first = bisect.bisect_right(times, snapshot.time_ms)
        then = wallets[first : bisect.bisect_right(times, snapshot.time_ms + lag_ms) + 1]
        if not any(abs(snapshot.equity - w) <= Decimal("0.001") for w in then):
            wrong.append((snapshot.time_ms, snapshot.equity, then))
    assert wrong == []


def test_soak_recorded_trades_match_the_exchange_fills(soak: Soak) -> None:
    with soak.store() as store:
        trades = store.trades()
        still_open = store.open_positions()
        orders = store.orders()
    fills = {o["clientOrderId"]: o for o in soak.account["orders"] if o["status"] == "FILLED"}
    # Each trade at its exchange fills: the entry's and the exit's price and fees.
    wrong = []
    for trade in trades:
        mine = [o for o in orders if o.position_id == trade.position_id]
        filled = [fills[o.client_order_id] for o in mine if o.client_order_id in fills]
        entry = [f for f in filled if f["clientOrderId"].endswith("-e")]
        exit_ = [f for f in filled if not f["clientOrderId"].endswith("-e")]
        fees = sum((-Decimal(f["commission"]) for f in filled), Decimal(0))
        if (
            len(entry) != 1
            or len(exit_) != 1
            or Decimal(entry[0]["avgPrice"]) != trade.entry_price
            or Decimal(exit_[0]["avgPrice"]) != trade.exit_price
            or fees != trade.fees
        ):
            wrong.append((trade, filled))
    assert wrong == []
    # The exchange's wallet is the start plus every recorded trade's net P&L, less the entry
    # fee of a position still open (funding is 0).
    open_fees = sum((p.entry_fee for p in still_open), Decimal(0))
    expected = INITIAL_BALANCE + sum((t.pnl for t in trades), Decimal(0)) - open_fees
    balance = Decimal(soak.account["balance"]["balance"])
    assert abs(balance - expected) <= Decimal("0.001"), (balance, expected)


# ---------------------------------------------------------------------------- the oracle
@dataclass(frozen=True, slots=True)
class Trip:
    """A breaker trip: which, the event it is (or must be) stored as, its time (market),
    the value that tripped it and the limit it was compared with."""

    name: str
    event_id: int | None
    """None while the rule can only place it in time (the equity breakers)."""
    time_ms: int
    value: str | None
    threshold: str | None


@dataclass(slots=True)
class Verdict:
    """The trips the rules call for, the trips stored, and any other disagreement."""

    expected: list[Trip] = field(default_factory=list)
    actual: list[Trip] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        """Return True when the stored trips are exactly the expected ones."""
        return self.expected == self.actual and not self.problems


class BreakerOracle:
    """Recompute from the stored records when each breaker had to trip.

    The rules, as `adxbot.risk.breakers` states them and this oracle applies them.  A
    tripped breaker latches: it trips once and counts on until it is reset; every reset is
    a `breaker_reset` event (by the operator, or by the new UTC day for the daily loss).

    - consecutive losses: each closed trade, in the order recorded, with net P&L <= 0 (a
      zero counts as a loss) extends the streak, any other ends it; a reset of this breaker
      sets it to 0.  It trips when the streak reaches the limit (>=), in the step that
      records the trade: the trip is the event right after the trade's `trade_closed`
      event, its value the streak.  The stored streak must end equal to the recount.
    - API errors: every exchange failure the bot gives up on counts once: the candle
      loop's (an `error` event of severity warning, 'exchange error: ...', 'processing a
      candle: ...', no closed candle at start-up: counted right after its event) and an
      order the trader could not place (an `error` event of severity critical '... not
      placed: ...': counted right before it).  It trips when the errors within the window
      number more than the limit (>): the trip is the event right after the loop's error,
      or right before the trader's, its value the count.  The window is wall time, and
      only the loop's error events are dated in wall time (the trader's are market time),
      so the soak sets a window longer than the run: the count is every error since the
      last reset of this breaker, and the stored error times must end as many.
    - daily loss and drawdown: at every equity observation (the equity snapshots, one per
      candle close, in time order; market time) the equity is compared with the stored
      start equity of its UTC day and with the highest equity seen: at or below
      start * (1 - limit%) trips the daily loss, at or below peak * (1 - limit%) the
      drawdown (<=), valued as the loss / the fall in percent.  A daily-loss trip clears at
      the first observation of the next UTC day.  A drawdown reset re-bases the peak to
      the next equity seen (the operator's reset runs outside the bot, which has seen no
      equity).  A reset at market time T applies from the next observation.  A candle whose
      step failed and was taken again is observed twice but stored once (the later
      equity): a trip's own event keeps the equity it saw, which counts as an observation
      just before the stored one.  The stored peak must end equal to the recomputed one.
    - reconciliation: it trips when a reconciliation fails on an exchange error (a
      `reconciliation` event 'reconciliation failed: ...', the trip right after it), or when
      a stop-loss cannot be placed (its order 'not placed' or 'rejected') and the position
      is still there: the trip right after that event, unless the position was gone (a
      `trade_closed` follows) or asking for it failed too (the candle loop's error
      follows: the step is taken again, and its reconciliation re-arms the stop).
    - manual halt: only a person trips it; nobody does here.
    """

    def __init__(self, limits: RiskLimits) -> None:
        self.limits = limits

    def judge(self, store: TradeStore) -> Verdict:
        """Compare the stored trips with the ones the stored records call for."""
        events = sorted(store.events(limit=10_000_000), key=lambda e: e.event_id or 0)
        verdict = Verdict()
        verdict.actual = [
            Trip(
                str(e.data["name"]),
                e.event_id,
                e.time_ms,
                _text(e.data.get("value")),
                _text(e.data.get("threshold")),
            )
            for e in events
            if e.kind is EventKind.BREAKER_TRIPPED
        ]
        expected = [
            *self._consecutive_losses(store, events, verdict),
            *self._api_errors(store, events, verdict),
            *self._reconciliation(events),
            *self._equity(store, events, verdict),
        ]
        # The equity breakers' trips are placed in time: take the id of the stored trip of
        # that breaker at that time, if there is one.
        by_time = {(t.name, t.time_ms): t.event_id for t in verdict.actual}
        verdict.expected = sorted(
            (
                replace(t, event_id=by_time.get((t.name, t.time_ms), 0))
                if t.event_id is None
                else t
                for t in expected
            ),
            key=lambda t: (t.event_id or 0, t.name),
        )
        return verdict

    def _consecutive_losses(
        self, store: TradeStore, events: list[EventRecord], verdict: Verdict
    ) -> list[Trip]:
        name = BreakerName.CONSECUTIVE_LOSSES.value
        limit = self.limits.consecutive_losses
        pnl = {t.trade_id or 0: t.pnl for t in store.trades()}
        recorded = [
            int(e.data["trade_id"])
            for e in events
            if e.kind is EventKind.TRADE_CLOSED and "trade_id" in e.data
        ]
        if sorted(recorded) != sorted(pnl):
            verdict.problems.append(f"trades {sorted(pnl)}, trade events {sorted(recorded)}")
        trips: list[Trip] = []
        streak, tripped = 0, False
        for event in events:
            if _is_reset(event, name):
                streak, tripped = 0, False
            elif event.kind is EventKind.TRADE_CLOSED and "trade_id" in event.data:
                streak = streak + 1 if pnl[int(event.data["trade_id"])] <= 0 else 0
                if streak >= limit and not tripped:
                    tripped = True
                    trips.append(Trip(name, _after(event), event.time_ms, str(streak), str(limit)))
        stored = _json_state(store, "breakers.loss_streak", 0)
        if stored != streak:
            verdict.problems.append(f"stored losing streak {stored}, recounted {streak}")
        return trips

    def _api_errors(
        self, store: TradeStore, events: list[EventRecord], verdict: Verdict
    ) -> list[Trip]:
        name = BreakerName.API_ERRORS.value
        limit = self.limits.api_error_limit
        times = {e.event_id: e.time_ms for e in events}
        # Each error counted at its place among the events: the loop's right after its
        # event, the trader's right before it (at id +- 0.5).
        stream: list[tuple[float, EventRecord]] = []
        for event in events:
            place = float(event.event_id or 0)
            if _is_loop_api_error(event):
                place += 0.5
            elif _is_order_api_error(event):
                place -= 0.5
            stream.append((place, event))
        trips: list[Trip] = []
        count, tripped = 0, False
        for place, event in sorted(stream, key=lambda item: item[0]):
            if place == event.event_id:
                if _is_reset(event, name):
                    count, tripped = 0, False
                continue
            count += 1
            if count > limit and not tripped:
                tripped = True
                trip_id = int(place + 0.5)
                trips.append(Trip(name, trip_id, times.get(trip_id, 0), str(count), str(limit)))
        stored = _json_state(store, "breakers.api_error_times_ms", [])
        if len(stored) != count:
            verdict.problems.append(f"{len(stored)} stored API error times, recounted {count}")
        return trips

    def _reconciliation(self, events: list[EventRecord]) -> list[Trip]:
        name = BreakerName.RECONCILIATION.value
        following = {a.event_id: b for a, b in itertools.pairwise(events)}
        trips: list[Trip] = []
        tripped = False
        for event in events:
            if _is_reset(event, name):
                tripped = False
            elif event.kind is EventKind.BREAKER_TRIPPED and event.data.get("name") == name:
                tripped = True  # whatever caused it: an unexpected one shows in the comparison
            if tripped:
                continue
            failed = event.kind is EventKind.RECONCILIATION and event.message.startswith(
                "reconciliation failed"
            )
            after = following.get(event.event_id)
            stop_lost = (
                _is_stop_loss_failure(event)
                and after is not None
                and after.kind is not EventKind.TRADE_CLOSED
                and not _is_loop_api_error(after)
            )
            if failed or stop_lost:
                trips.append(Trip(name, _after(event), event.time_ms, None, None))
                tripped = True
        return trips

    def _equity(self, store: TradeStore, events: list[EventRecord], verdict: Verdict) -> list[Trip]:
        daily, drawdown = BreakerName.DAILY_LOSS.value, BreakerName.MAX_DRAWDOWN.value
        daily_limit, drawdown_limit = (
            self.limits.daily_loss_percent,
            self.limits.max_drawdown_percent,
        )
        starts = {d.day: d.start_equity for d in store.daily_history(limit=100_000)}
        resets = sorted(
            (e.time_ms, str(e.data.get("name")))
            for e in events
            if e.kind is EventKind.BREAKER_RESET
        )
        seen_by_trips = {
            (e.time_ms, Decimal(str(e.data["equity"])))
            for e in events
            if e.kind is EventKind.BREAKER_TRIPPED
            and e.data.get("name") in (daily, drawdown)
            and "equity" in e.data
        }
        observations = sorted(
            {(s.time_ms, 1, s.equity) for s in store.equity_snapshots(limit=10_000_000)}
            | {(time_ms, 0, equity) for time_ms, equity in seen_by_trips}
        )
        trips: list[Trip] = []
        peak: Decimal | None = None
        daily_day: str | None = None  # the UTC day of a daily-loss trip still standing
        fallen = False
        for time_ms, _, equity in observations:
            while resets and resets[0][0] < time_ms:
                _, reset = resets.pop(0)
                if reset == drawdown:
                    fallen, peak = False, None
                elif reset == daily:
                    daily_day = None
            day = utc_day(time_ms)
            if daily_day is not None and daily_day != day:
                daily_day = None
            peak = equity if peak is None else max(peak, equity)
            start = starts.get(day, Decimal(0))
            if daily_day is None and start > 0 and equity <= start * (1 - daily_limit / 100):
                daily_day = day
                loss = (start - equity) / start * 100
                trips.append(Trip(daily, None, time_ms, str(loss), str(daily_limit)))
            if not fallen and peak > 0 and equity <= peak * (1 - drawdown_limit / 100):
                fallen = True
                fall = (peak - equity) / peak * 100
                trips.append(Trip(drawdown, None, time_ms, str(fall), str(drawdown_limit)))
        stored = _json_state(store, "breakers.peak_equity", None)
        stored_peak = None if stored is None else Decimal(str(stored))
        if stored_peak != peak:
            verdict.problems.append(f"stored peak equity {stored_peak}, recomputed {peak}")
        return trips


def _text(raw: object) -> str | None:
    return None if raw is None else str(raw)


def _is_reset(event: EventRecord, name: str) -> bool:
    return event.kind is EventKind.BREAKER_RESET and event.data.get("name") == name


def _is_loop_api_error(event: EventRecord) -> bool:
    """An exchange failure the candle loop gave up on (`TradingBot._note_error`)."""
    return (
        event.kind is EventKind.ERROR
        and event.severity is Severity.WARNING
        and not event.message.startswith("the exchange has no candle for")
    )


def _is_order_api_error(event: EventRecord) -> bool:
    """An order the live trader could not place (`LiveTrader._send`)."""
    return (
        event.kind is EventKind.ERROR
        and event.severity is Severity.CRITICAL
        and " not placed: " in event.message
    )


def _is_stop_loss_failure(event: EventRecord) -> bool:
    """A stop-loss order not placed (`LiveTrader._send`): failed, or rejected."""
    client_id = event.message.split(" ", 1)[0]
    return "-sl" in client_id and (
        _is_order_api_error(event)
        or (event.kind is EventKind.ORDER and " rejected: " in event.message)
    )


def _after(event: EventRecord) -> int:
    return (event.event_id or 0) + 1


def _json_state(store: TradeStore, key: str, default: Any) -> Any:
    """Return a breaker counter as the store keeps it (JSON), or `default`."""
    raw = store.state(key)
    return default if raw is None else json.loads(raw)
