"""The failure campaign, scenario by scenario.

Each scenario gets a fresh simulator and a fresh bot database, drives the live bot (the
operator's config; for a breaker scenario the *other* breakers are relaxed so the one under
test is the one that trips) through one failure, and records every check it made.  After
the scenario, whatever it did, the exchange and the database must agree (no duplicate,
nothing lost, every position protected): `check_consistency`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from adxbot.bot.live_setup import LiveSetupRefused, prepare_account
from adxbot.clock import WallClock
from adxbot.config import BotConfig, parse_config
from adxbot.exchange.client import BingXClient
from adxbot.exchange.server_clock import ServerClock
from adxbot.execution.emergency import emergency_stop
from adxbot.persistence.records import EventKind
from adxbot.persistence.store import TradeStore
from adxbot.rehearsal.driver import Driver, RehearsalError
from adxbot.rehearsal.stage import Stage, staged_simulator
from adxbot.risk.breakers import BreakerName, utc_day
from adxbot.sim.faults import FaultKind

ORDER_PATH = "/trade/order"


@dataclass(frozen=True, slots=True)
class RehearsalOptions:
    """How a rehearsal runs."""

    workdir: Path
    outage_s: float = 30.0
    """The network loss of the network scenario, in wall seconds."""


@dataclass(slots=True)
class Checks:
    """What a scenario saw: each check with its outcome."""

    items: list[tuple[bool, str]] = field(default_factory=list)

    def expect(self, ok: bool, text: str) -> bool:
        """Record one check; return its outcome."""
        self.items.append((bool(ok), text))
        return bool(ok)

    @property
    def passed(self) -> bool:
        """Return True when every check held (and there was at least one)."""
        return bool(self.items) and all(ok for ok, _ in self.items)

    def failures(self) -> list[str]:
        """Return the checks that did not hold."""
        return [text for ok, text in self.items if not ok]


@dataclass(slots=True)
class Ctx:
    """What a scenario works with."""

    driver: Driver
    stage: Stage
    config: BotConfig
    options: RehearsalOptions
    checks: Checks
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One failure to rehearse."""

    name: str
    done: str
    expected: str
    run: Callable[[Ctx], None]
    relax: tuple[str, ...] = ()
    """Breakers relaxed so that they do not trip first (all but the one under test)."""


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    """The outcome of one scenario."""

    name: str
    done: str
    expected: str
    happened: str
    passed: bool
    seconds: float
    checks: tuple[tuple[bool, str], ...]


# ---------------------------------------------------------------------------- helpers
def _open_position(ctx: Ctx) -> dict[str, Any]:
    """Trade until the bot holds a recorded position; return the exchange's view of it."""
    driver = ctx.driver
    if not driver.trade_until_entry(condition=driver.has_position):
        raise RehearsalError("the bot opened no position within 30 entry signals")
    return ctx.stage.positions()[0]


def _through_stop(ctx: Ctx, beyond_percent: float) -> None:
    """Gap the price `beyond_percent` past the held position's stop-loss, then close a candle."""
    (position,) = ctx.stage.positions()
    long = position["positionSide"] == "LONG"
    # From the stop's own level, not the entry's: the price may have moved since the entry.
    entry = Decimal(position["avgPrice"])
    stop_percent = ctx.config.exit_strategy.stop_loss_percent
    stop = entry * (1 - stop_percent / 100) if long else entry * (1 + stop_percent / 100)
    target = stop * (
        1 - Decimal(beyond_percent) / 100 if long else 1 + Decimal(beyond_percent) / 100
    )
    held = {p.position_id for p in ctx.driver.store.open_positions()}

    def closed() -> bool:  # that position: a new one may open on the same candle
        return not held & {p.position_id for p in ctx.driver.store.open_positions()}

    ctx.stage.jump(float((target / ctx.stage.price() - 1) * 100))
    if not ctx.driver.advance_until(closed, max_candles=3):
        # Later checks would count this position again: say what really went wrong.
        raise RehearsalError(f"the stop-loss did not close the position at {ctx.stage.price()}")


def _flatten(ctx: Ctx) -> None:
    """Stop out the held position, and any the bot opens on the same candle."""
    for _ in range(5):
        if not ctx.stage.positions():
            return
        _through_stop(ctx, 0.5)
    raise RehearsalError("the bot kept re-entering: not flat after 5 stop-outs")


def _balance(ctx: Ctx) -> Decimal:
    return Decimal(ctx.stage.account()["balance"]["balance"])


def _entry_count(ctx: Ctx) -> int:
    return ctx.driver.entries()


def _filled_entries(ctx: Ctx) -> int:
    account = ctx.stage.account()
    return sum(
        1
        for o in account["orders"]
        if o["clientOrderId"].endswith("-e") and o["status"] == "FILLED"
    )


def _api_errors(ctx: Ctx) -> int:
    """Return the exchange failures the bot counted (each one an ERROR event)."""
    return sum(
        1
        for e in ctx.driver.store.events(limit=100_000, kinds=[EventKind.ERROR])
        if not e.message.startswith("the exchange has no candle")
    )


def _more_rejected(ctx: Ctx, before: int) -> Callable[[], bool]:
    return lambda: _rejected(ctx) > before


def _rejected(ctx: Ctx) -> int:
    return sum(1 for o in ctx.driver.store.orders() if o.status.value == "rejected")


def _breaker(ctx: Ctx, name: BreakerName) -> bool:
    record = ctx.driver.store.breakers().get(name.value)
    return bool(record and record.tripped)


def _denied_next_signal(ctx: Ctx) -> bool:
    """Bring the next entry signal; return True when the bot denied it and sent nothing."""
    driver = ctx.driver
    denied, entries = driver.count(EventKind.RISK_DENIED), _entry_count(ctx)
    signals = driver.count(EventKind.SIGNAL)
    # A gap shifts the indicators for a while: the predicted signal may not come; try on.
    driver.trade_until_entry(condition=lambda: driver.count(EventKind.SIGNAL) > signals)
    return driver.count(EventKind.RISK_DENIED) > denied and _entry_count(ctx) == entries


def _restart(ctx: Ctx, *, kill: bool = False) -> int | None:
    life = ctx.driver.life
    assert life is not None
    code = life.kill() if kill else life.terminate()
    ctx.driver.start()
    return code


# ---------------------------------------------------------------------------- scenarios
def network_loss(ctx: Ctx) -> None:
    """An order's answer lost with the network; then a long outage with a position open."""
    c, driver, stage = ctx.checks, ctx.driver, ctx.stage
    stage.schedule(FaultKind.DROP_AFTER, 1, ORDER_PATH)  # the entry executes, its answer is cut
    stage.schedule(FaultKind.DROP, 4)  # and the next requests find no network
    _open_position(ctx)
    c.expect(
        _filled_entries(ctx) == 1, f"one entry filled on the exchange ({_filled_entries(ctx)})"
    )
    c.expect(driver.consistency().ok, "after the lost answer: one position, protected, recorded")
    errors_before = driver.count(EventKind.ERROR)
    started = time.monotonic()
    stage.disconnect(ctx.options.outage_s)
    stage.step(stage.timeframe_ms)  # a candle closes during the outage
    while time.monotonic() - started < ctx.options.outage_s:
        time.sleep(0.1)
    driver.wait_caught_up(timeout_s=60.0)
    life = driver.life
    c.expect(life is not None and life.alive, "the bot survived the outage")
    c.expect(driver.caught_up(), "reconnected and processed the candle closed during the outage")
    errors = _api_errors(ctx)  # the whole scenario lasts less than the breaker's window
    limit = ctx.config.risk_management.api_error_limit
    tripped = _breaker(ctx, BreakerName.API_ERRORS)
    c.expect(
        tripped == (errors > limit),
        f"{errors} API errors ({driver.count(EventKind.ERROR) - errors_before} in the "
        f"{ctx.options.outage_s:g} s outage; limit {limit}): breaker "
        f"{'tripped' if tripped else 'not tripped'}, as the rule says",
    )
    driver.advance_until(lambda: False, max_candles=2)
    c.expect(len(stage.positions()) == 1, "still exactly one position")


def restart(ctx: Ctx) -> None:
    """SIGTERM, then SIGKILL, with a position open; then its stop closes it."""
    c, driver = ctx.checks, ctx.driver
    balance_before = _balance(ctx)
    held = _open_position(ctx)
    (record,) = driver.store.open_positions()
    for kill in (False, True):
        code = _restart(ctx, kill=kill)
        how = "SIGKILL" if kill else "SIGTERM"
        c.expect(code == (-9 if kill else 0), f"{how}: the bot exited {code}")
        after = driver.store.open_positions()
        c.expect(
            [(p.position_id, p.quantity, p.entry_price) for p in after]
            == [(record.position_id, record.quantity, record.entry_price)],
            f"after {how}: the same position ({held['positionSide']} {record.quantity} @ "
            f"{record.entry_price}) carried on",
        )
        c.expect(driver.consistency().ok, f"after {how}: stop-loss and take-profit in place")
    _through_stop(ctx, 0.5)
    trades = driver.store.trades()
    change = _balance(ctx) - balance_before
    # A new position may have opened since: its entry fee is already off the balance.
    open_fees = sum((p.entry_fee for p in driver.store.open_positions()), Decimal(0))
    pnl = sum((t.pnl for t in trades), Decimal(0)) - open_fees
    c.expect(
        bool(trades) and abs(pnl - change) <= Decimal("0.0001"),  # the balance's precision
        f"P&L continuous: recorded {pnl:+.4f} USDT = the exchange's balance change {change:+.4f}",
    )


def order_timeout(ctx: Ctx) -> None:
    """The entry's answer times out: once executed, once not."""
    c, driver, stage = ctx.checks, ctx.driver, ctx.stage
    stage.random_faults({}, timeout_s=4.0)  # longer than the client's 2 s write timeout
    for kind, executed in ((FaultKind.TIMEOUT, True), (FaultKind.HANG, False)):
        stage.schedule(kind, 1, ORDER_PATH)
        before = _filled_entries(ctx)
        _open_position(ctx)
        what = "executed" if executed else "not executed"
        filled, held = _filled_entries(ctx) - before, len(stage.positions())
        c.expect(
            filled == 1 and held == 1,
            f"timeout, order {what}: exactly one position ({filled} entry filled, {held} held)",
        )
        c.expect(driver.consistency().ok, f"timeout, order {what}: recorded and protected")
        _flatten(ctx)  # the next case counts its own entry from flat


def order_rejected(ctx: Ctx) -> None:
    """The exchange rejects the entry: insufficient margin, then below the minimum."""
    c, driver, stage = ctx.checks, ctx.driver, ctx.stage
    for code, message in ((101204, "Insufficient margin"), (101400, "quantity below minimum")):
        requests_before, _ = stage.requests_and_faults()
        stage.reject_orders(1, code, message)
        before = _rejected(ctx)
        driver.trade_until_entry(condition=_more_rejected(ctx, before))
        order = next(o for o in driver.store.orders() if o.status.value == "rejected")
        c.expect(message in order.reason, f"{code}: recorded as rejected: {order.reason!r}")
        attempts = [
            e
            for e in driver.store.events(limit=10_000, kinds=[EventKind.ORDER])
            if order.client_order_id in e.message and "attempt" in e.message
        ]
        c.expect(len(attempts) <= 1, f"{code}: sent once, no retry ({len(attempts)} attempts)")
        requests, _ = stage.requests_and_faults()
        c.expect(
            requests - requests_before < 200,
            f"{code}: {requests - requests_before} requests in all around it (no storm)",
        )
    life = driver.life
    c.expect(life is not None and life.alive, "the bot kept running")
    _open_position(ctx)
    c.expect(True, "and opened the next position normally")
    _through_stop(ctx, 0.5)


def close_failure(ctx: Ctx) -> None:
    """The operator's emergency stop cannot close the position; its stop-loss still does."""
    c, driver, stage = ctx.checks, ctx.driver, ctx.stage
    _open_position(ctx)
    stage.reject_orders(10, 101204, "Insufficient margin")
    stage.admin("closes/fail", {"count": 10})
    report = asyncio.run(_emergency_stop(ctx))
    c.expect(not report.flat, "the emergency stop reports the account NOT flat")
    c.expect(
        any("protect" in p for p in report.problems),
        "and says the stop-loss and take-profit were left to protect the position",
    )
    c.expect(_breaker(ctx, BreakerName.MANUAL_HALT), "manual halt set: no new entries")
    c.expect(driver.consistency().ok, "the position still has its stop-loss and take-profit")
    stage.reset_faults()
    _through_stop(ctx, 0.5)
    trades = driver.store.trades()
    c.expect(
        bool(trades) and trades[0].exit_reason.value == "stop_loss" and not stage.positions(),
        "the exchange-side stop closed it; the bot recorded the stop-loss",
    )


async def _emergency_stop(ctx: Ctx) -> Any:
    async with httpx.AsyncClient() as http:
        client = BingXClient(
            http,
            ctx.stage.base_url,
            ServerClock(WallClock()),
            ctx.stage.credentials,
            backoff_s=0.01,
        )
        with TradeStore.open(ctx.driver.database, ctx.driver.store.mode) as store:
            return await emergency_stop(
                ctx.config, client, store, bot_running=True, clock=WallClock(), flat_timeout_s=1
            )


def stops_while_down(ctx: Ctx) -> None:
    """The stop-loss fills on the exchange while the bot is stopped."""
    c, driver, stage = ctx.checks, ctx.driver, ctx.stage
    _open_position(ctx)
    life = driver.life
    assert life is not None
    life.terminate()
    (position,) = stage.positions()
    stop = float(ctx.config.exit_strategy.stop_loss_percent) + 0.5
    stage.jump(-stop if position["positionSide"] == "LONG" else stop)
    stage.step(stage.timeframe_ms)
    c.expect(not stage.positions(), "the exchange's stop-loss closed the position meanwhile")
    driver.start()
    trades = driver.store.trades()
    filled = [
        o
        for o in stage.account()["orders"]
        if o["type"] == "STOP_MARKET" and o["status"] == "FILLED"
    ]
    c.expect(
        len(trades) == 1
        and trades[0].exit_reason.value == "stop_loss"
        and bool(filled)
        and trades[0].exit_price == Decimal(filled[0]["avgPrice"]),
        "on restart: recorded as a stop-loss at the exchange's fill price",
    )
    take_profits = [
        o["status"]
        for o in stage.account()["orders"]
        if o["type"] == "TAKE_PROFIT_MARKET" and o["clientOrderId"].endswith("-1-tp")
    ]
    c.expect(take_profits == ["CANCELLED"], f"its take-profit is no longer open: {take_profits}")


def liquidation(ctx: Ctx) -> None:
    """The exchange liquidates the position."""
    c, driver, stage = ctx.checks, ctx.driver, ctx.stage
    _open_position(ctx)
    entries = _entry_count(ctx)
    stage.liquidate()
    driver.advance_until(lambda: not driver.store.open_positions(), max_candles=3)
    trades = driver.store.trades()
    c.expect(
        len(trades) == 1 and trades[0].exit_reason.value == "external",
        "the bot recorded the position closed outside it (external)",
    )
    c.expect(not stage.account()["open_orders"], "its stop-loss and take-profit were cancelled")
    c.expect(_entry_count(ctx) == entries, "and it did not re-enter on its own")


def gap_through_stop(ctx: Ctx) -> None:
    """The price gaps far through the stop: the fill is worse than the stop price."""
    c, driver = ctx.checks, ctx.driver
    _open_position(ctx)
    (record,) = driver.store.open_positions()
    _through_stop(ctx, 6.0)
    trades = driver.store.trades()
    stop = record.stop_loss
    c.expect(len(trades) == 1, "the gap closed the position and the bot recorded it")
    if trades and stop is not None:
        trade = trades[0]
        worse = (
            trade.exit_price < stop if record.direction.value == "long" else trade.exit_price > stop
        )
        c.expect(
            worse and trade.exit_reason.value == "stop_loss",
            f"recorded at the real fill {trade.exit_price}, past the stop {stop}",
        )
        planned = float(ctx.config.position_sizing.risk_per_trade_percent)
        c.expect(True, f"loss {trade.pnl:+.2f} USDT against a planned {planned}% risk")


def rate_limited(ctx: Ctx) -> None:
    """BingX answers 'rate limited' and HTTP 429 for a while: the bot backs off."""
    c, driver, stage = ctx.checks, ctx.driver, ctx.stage
    _open_position(ctx)
    requests_before, faults_before = stage.requests_and_faults()
    started = time.monotonic()
    stage.schedule(FaultKind.RATE_LIMIT, 4)
    stage.schedule(FaultKind.HTTP_429, 4)
    stage.step(stage.timeframe_ms)
    driver.wait_caught_up(timeout_s=120.0)
    elapsed = time.monotonic() - started
    requests, faults = stage.requests_and_faults()
    limited = (faults.get("rate_limit", 0) - faults_before.get("rate_limit", 0)) + (
        faults.get("http_429", 0) - faults_before.get("http_429", 0)
    )
    rate = (requests - requests_before) / max(elapsed, 1e-3)
    c.expect(limited == 8, f"{limited} rate-limit answers served")
    c.expect(
        rate < 10,
        f"backed off: {requests - requests_before} requests in {elapsed:.1f} s "
        f"({rate:.1f}/s) while limited",
    )
    c.expect(driver.caught_up(), "then carried on with the candle")


def clock_skew(ctx: Ctx) -> None:
    """The machine's clock is far off the exchange's (beyond the receive window)."""
    c, driver, stage = ctx.checks, ctx.driver, ctx.stage
    skew_s = (WallClock().now_ms() - stage.now_ms()) / 1000
    window = ctx.config.exchange.recv_window_ms or 5000
    c.expect(abs(skew_s) * 1000 > window, f"machine clock {skew_s / 86400:+.1f} days off")
    _open_position(ctx)
    errors = [
        e
        for e in driver.store.events(limit=10_000, kinds=[EventKind.ERROR])
        if "100421" in e.message
    ]
    c.expect(not errors, "signed with the exchange's time: no request refused for its timestamp")
    refused = asyncio.run(_clock_checked_start(ctx))
    c.expect(
        refused is not None and "clock" in refused.lower(),
        f"a start that checks the machine clock is refused: {refused!r}"[:160],
    )
    _through_stop(ctx, 0.5)


async def _clock_checked_start(ctx: Ctx) -> str | None:
    async with httpx.AsyncClient() as http:
        client = BingXClient(
            http, ctx.stage.base_url, ServerClock(WallClock()), ctx.stage.credentials
        )
        try:
            await prepare_account(ctx.config, client, change=False, check_clock=True)
        except LiveSetupRefused as e:
            return str(e)
    return None


def _loss_until(
    ctx: Ctx, name: BreakerName, rule: Callable[[], bool], *, gaps: list[float]
) -> None:
    """Close positions at a loss (each gap past the stop) and check the breaker after each."""
    c = ctx.checks
    for n, gap in enumerate(gaps, 1):
        _open_position(ctx)
        _through_stop(ctx, gap)
        should, tripped = rule(), _breaker(ctx, name)
        c.expect(
            tripped == should,
            f"loss {n}: rule says {'trip' if should else 'hold'}, breaker "
            f"{'tripped' if tripped else 'holds'}",
        )
        if tripped:
            break
    _after_trip(ctx, name)


def _after_trip(ctx: Ctx, name: BreakerName) -> None:
    c = ctx.checks
    if not c.expect(_breaker(ctx, name), f"{name.value} tripped"):
        return
    c.expect(_denied_next_signal(ctx), "entries stop: the next signal was denied, nothing sent")
    _restart(ctx)
    c.expect(_breaker(ctx, name), "state persists: still tripped after a restart")
    signal = ctx.driver.next_signal_ms()
    tripped_on = utc_day(ctx.stage.now_ms())
    if name is BreakerName.DAILY_LOSS and signal is not None and utc_day(signal) != tripped_on:
        entries = _entry_count(ctx)
        ctx.driver.trade_until_entry(condition=lambda: _entry_count(ctx) > entries)
        c.expect(
            not _breaker(ctx, name) and _entry_count(ctx) > entries,
            "the next signal falls on a new UTC day: the breaker cleared and trading resumed",
        )
        return
    c.expect(_denied_next_signal(ctx), "and still denies entries")


def breaker_consecutive_losses(ctx: Ctx) -> None:
    """Lose until the consecutive-loss breaker trips."""
    limit = ctx.config.risk_management.consecutive_loss_limit

    def rule() -> bool:
        streak = 0
        for trade in reversed(ctx.driver.store.trades()):
            if trade.pnl > 0:
                break
            streak += 1
        return streak >= limit

    _loss_until(ctx, BreakerName.CONSECUTIVE_LOSSES, rule, gaps=[0.2] * (limit + 1))


def breaker_daily_loss(ctx: Ctx) -> None:
    """A small loss (holds), then a big one (trips) inside one UTC day."""
    limit = Decimal(str(ctx.config.risk_management.daily_loss_limit_percent))

    def rule() -> bool:
        day = ctx.driver.store.daily_pnl(utc_day(ctx.stage.now_ms()))
        if day is None:
            return False
        return _balance(ctx) <= day.start_equity * (1 - limit / 100)

    _loss_until(ctx, BreakerName.DAILY_LOSS, rule, gaps=[0.2, float(limit) + 3, float(limit) + 3])


def breaker_drawdown(ctx: Ctx) -> None:
    """A small loss (holds), then a gap deeper than the drawdown limit (trips)."""
    limit = Decimal(str(ctx.config.risk_management.max_drawdown_percent))
    peak = [Decimal(str(ctx.config.initial_capital))]

    def rule() -> bool:
        return _balance(ctx) <= peak[0] * (1 - limit / 100)

    _loss_until(ctx, BreakerName.MAX_DRAWDOWN, rule, gaps=[0.2, float(limit) + 3, float(limit) + 3])


def breaker_api_errors(ctx: Ctx) -> None:
    """Market data fails again and again with a position open: the API-error breaker trips;
    the open position's exits still run."""
    c, driver, stage = ctx.checks, ctx.driver, ctx.stage
    _open_position(ctx)
    limit = ctx.config.risk_management.api_error_limit
    stage.schedule(FaultKind.HTTP_5XX, 3 * (limit + 1), "klines")  # the client tries 3 times
    stage.step(stage.timeframe_ms)
    driver.wait_caught_up(timeout_s=60.0)
    errors = _api_errors(ctx)
    c.expect(
        _breaker(ctx, BreakerName.API_ERRORS) == (errors > limit),
        f"{errors} API errors (limit {limit}): tripped as the rule says",
    )
    _through_stop(ctx, 0.5)
    c.expect(
        bool(driver.store.trades()) and not stage.positions(),
        "exits run: the open position's stop-loss closed it and the bot recorded it",
    )
    _after_trip(ctx, BreakerName.API_ERRORS)


def breaker_reconciliation(ctx: Ctx) -> None:
    """The exchange cannot say which positions are open: reconciliation fails and trips."""
    c, driver, stage = ctx.checks, ctx.driver, ctx.stage
    _open_position(ctx)
    # Its reading of the open orders fails past the client's retries (3 tries).
    stage.schedule(FaultKind.HTTP_5XX, 3, "openOrders")
    for _ in range(3):
        stage.step(stage.timeframe_ms)
        driver.wait_caught_up(timeout_s=60.0)
        if _breaker(ctx, BreakerName.RECONCILIATION):
            break
    stage.reset_faults()
    failed = [
        e
        for e in driver.store.events(limit=1000, kinds=[EventKind.RECONCILIATION])
        if "failed" in e.message
    ]
    c.expect(bool(failed), f"reconciliation failed {len(failed)} time(s) and said so")
    _through_stop(ctx, 0.5)
    c.expect(
        bool(driver.store.trades()) and not stage.positions(),
        "exits run: the stop-loss closed the open position and the bot recorded it",
    )
    _after_trip(ctx, BreakerName.RECONCILIATION)


_ALL_BREAKERS = ("daily_loss", "max_drawdown", "consecutive_losses", "api_errors")

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "network-loss",
        "entry answer cut + network down; then a long outage with a position open",
        "no duplicate, nothing lost, reconnects and goes on; API-error breaker by its rule",
        network_loss,
    ),
    Scenario(
        "restart",
        "SIGTERM, then SIGKILL, with a position open; then its stop fills",
        "position carried on with SL/TP; recorded P&L = exchange balance change",
        restart,
    ),
    Scenario(
        "order-timeout",
        "entry answer times out: once executed, once not",
        "exactly one position either way",
        order_timeout,
    ),
    Scenario(
        "order-rejected",
        "entry rejected: insufficient margin, then below minimum",
        "recorded with the reason, sent once, bot runs on",
        order_rejected,
    ),
    Scenario(
        "close-failure",
        "emergency stop while every close is rejected",
        "reported not flat, halted, SL/TP kept; the exchange stop closes it",
        close_failure,
    ),
    Scenario(
        "stops-while-down",
        "stop-loss fills while the bot is stopped",
        "recorded on restart at the exchange's fill; no orphan order",
        stops_while_down,
    ),
    Scenario(
        "liquidation",
        "the exchange liquidates the position",
        "recorded as external, exits cancelled, no re-entry",
        liquidation,
    ),
    Scenario(
        "gap-through-stop",
        "price gaps 6 % beyond the stop",
        "recorded at the real (worse) fill price",
        gap_through_stop,
    ),
    Scenario(
        "rate-limit",
        "8 rate-limit answers (BingX 100410 and HTTP 429) in a row",
        "backs off, no request storm, carries on",
        rate_limited,
    ),
    Scenario(
        "clock-skew",
        "machine clock far beyond the receive window from the exchange's",
        "signs with the exchange's time; a clock-checked start is refused",
        clock_skew,
    ),
    Scenario(
        "breaker-consecutive-losses",
        "stop-outs in a row up to the limit",
        "trips at the limit; entries denied; persists across a restart",
        breaker_consecutive_losses,
        relax=("daily_loss", "max_drawdown"),
    ),
    Scenario(
        "breaker-daily-loss",
        "a small loss, then a big gap loss",
        "trips when the day's loss reaches the limit; entries denied; persists",
        breaker_daily_loss,
        relax=("consecutive_losses", "max_drawdown"),
    ),
    Scenario(
        "breaker-drawdown",
        "a small loss, then a gap deeper than the drawdown limit",
        "trips when equity falls past the limit from the peak; entries denied; persists",
        breaker_drawdown,
        relax=("consecutive_losses", "daily_loss"),
    ),
    Scenario(
        "breaker-api-errors",
        "market data fails over and over with a position open",
        "trips past the limit; exits still run; entries denied; persists",
        breaker_api_errors,
        relax=("consecutive_losses", "daily_loss", "max_drawdown"),
    ),
    Scenario(
        "breaker-reconciliation",
        "the exchange cannot report the open orders at reconciliation",
        "trips; exits still run; entries denied; persists",
        breaker_reconciliation,
        relax=("consecutive_losses", "daily_loss", "max_drawdown"),
    ),
)

SCENARIO_NAMES = tuple(s.name for s in SCENARIOS)

_RELAXED = {
    "daily_loss": ("daily_loss_limit_percent", 100),
    "max_drawdown": ("max_drawdown_percent", 100),
    "consecutive_losses": ("consecutive_loss_limit", 1_000_000),
    "api_errors": ("api_error_limit", 1_000_000),
}


def scenario_config(config: BotConfig, scenario: Scenario) -> BotConfig:
    """Return the operator's config with the breakers this scenario does not test relaxed."""
    data = config.model_dump(mode="json")
    for name in scenario.relax:
        key, value = _RELAXED[name]
        data["risk_management"][key] = value
    return parse_config(data)


def run_scenario(
    config: BotConfig, scenario: Scenario, options: RehearsalOptions
) -> ScenarioResult:
    """Run one scenario on a fresh simulator and database; never raises for a failure."""
    started = time.monotonic()
    settings = scenario_config(config, scenario)
    checks = Checks()
    workdir = options.workdir / scenario.name
    workdir.mkdir(parents=True, exist_ok=True)
    with staged_simulator(settings) as stage:
        driver = Driver(stage, settings, workdir)
        ctx = Ctx(driver, stage, settings, options, checks)
        try:
            driver.start()
            scenario.run(ctx)
            stage.reset_faults()
            driver.wait_caught_up(timeout_s=60.0)
            consistency = driver.consistency()
            checks.expect(
                consistency.ok,
                "exchange and database agree"
                if consistency.ok
                else "INCONSISTENT: " + "; ".join(consistency.violations),
            )
            life = driver.life
            checks.expect(life is not None and life.alive, "the bot is still running")
        except Exception as e:  # a scenario that cannot go on is a failed scenario
            life = driver.life
            tail = life.log_tail(5) if life is not None else ""
            checks.expect(False, f"{type(e).__name__}: {e}" + (f" [log: {tail}]" if tail else ""))
        finally:
            driver.close()
    failures = checks.failures()
    happened = "; ".join(failures) if failures else "; ".join(text for _, text in checks.items)
    return ScenarioResult(
        scenario.name,
        scenario.done,
        scenario.expected,
        happened,
        checks.passed,
        time.monotonic() - started,
        tuple(checks.items),
    )
