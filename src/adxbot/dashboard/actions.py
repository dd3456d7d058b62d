"""The dashboard's two writes: the emergency stop and the breaker reset.

Both run the cores the commands run, never a copy of them:

- live emergency stop: exactly `adxbot emergency-stop --yes` (its own database opening,
  which tells whether a bot runs from the instance lock, and its exchange client around
  `adxbot.execution.emergency.emergency_stop`), then an audit event;
- paper emergency stop: the paper account lives inside the bot, so nothing outside it
  can close its positions; the stop trips `manual_halt` as `adxbot halt` does (no new
  entries; the simulated stop-losses and take-profits keep working), then an audit event;
- breaker reset: `CircuitBreakers.reset` as `adxbot reset-breaker` calls it; the reset
  event it stores names the dashboard and the client, and is the audit record.

One action runs at a time; a second one meanwhile is refused, not queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from starlette.concurrency import run_in_threadpool

from adxbot.bot.market_time import last_market_time
from adxbot.cli.emergency_cmd import open_live_database, stop_account
from adxbot.clock import Clock
from adxbot.dashboard.settings import DashboardOptions
from adxbot.errors import AdxbotError, DatabaseError
from adxbot.exchange.credentials import mask
from adxbot.execution.emergency import EmergencyReport
from adxbot.logsetup import redact
from adxbot.persistence.records import EventKind, EventRecord, Severity, TradingMode
from adxbot.persistence.store import TradeStore
from adxbot.risk.breakers import BreakerName, CircuitBreakers, RiskLimits

EMERGENCY_TIMEOUT_S = 10.0
"""Seconds to wait for the exchange to confirm the positions closed (the CLI's default)."""


class ActionRefused(AdxbotError):
    """The action cannot run now (another is running, no API key): the message says why."""


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    """What an action did, for the page and the audit record."""

    ok: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)


class Actions:
    """The emergency stop and the breaker reset of one dashboard."""

    def __init__(self, options: DashboardOptions, clock: Clock) -> None:
        self._options = options
        self._clock = clock
        self._lock = asyncio.Lock()

    async def emergency_stop(self, client: str) -> ActionOutcome:
        """Stop trading now: live, close everything on the exchange; paper, halt entries."""
        async with self._exclusive():
            if self._options.mode is TradingMode.LIVE:
                return await self._live_stop(client)
            return await run_in_threadpool(self._paper_stop, client)

    async def reset_breaker(self, name: BreakerName, client: str) -> ActionOutcome:
        """Reset a tripped circuit breaker, as `adxbot reset-breaker` does."""
        async with self._exclusive():
            return await run_in_threadpool(self._reset, name, client)

    @contextlib.asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[None]:
        if self._lock.locked():
            raise ActionRefused("another action is running: wait for its result")
        async with self._lock:
            yield

    # ------------------------------------------------------------------ emergency stop
    async def _live_stop(self, client: str) -> ActionOutcome:
        options = self._options
        if options.credentials is None:
            raise ActionRefused(
                "the emergency stop needs the account's API key: set BINGX_API_KEY and "
                "BINGX_API_SECRET for the dashboard (environment or config/.env) and restart "
                "it, or run 'adxbot emergency-stop' in a terminal"
            )
        notes = io.StringIO()  # the command's warnings (no database, a bot running...)
        console = Console(file=notes, width=200, highlight=False, color_system=None)
        with contextlib.ExitStack() as resources:
            store, bot_running = open_live_database(options.database, resources, console)
            report = await stop_account(
                options.config,
                options.environment,
                options.credentials,
                store,
                bot_running,
                EMERGENCY_TIMEOUT_S,
            )
            outcome = _live_outcome(report, bot_running, notes.getvalue())
            message = f"emergency stop from the dashboard (client {client}): {outcome.message}"
            details = outcome.details | {
                "environment": f"{options.environment.label} {options.environment.base_url}",
                "api_key": mask(options.credentials.api_key),
            }
            audited = self._audit(
                store, message, Severity.WARNING if outcome.ok else Severity.CRITICAL, details
            )
        return _audited(outcome, audited)

    def _paper_stop(self, client: str) -> ActionOutcome:
        reason = f"emergency stop from the dashboard (client {client})"
        with self._store() as store:
            tripped = self._breakers(store).trip(BreakerName.MANUAL_HALT, reason)
            message = (
                "paper mode: manual_halt "
                + ("set" if tripped is not None else "was already set")
                + ": the bot opens no new positions until it is reset. The paper account "
                "lives inside the bot, so its open positions are not closed from here: they "
                "keep their stop-loss and take-profit"
            )
            details = {"action": "emergency_stop", "mode": "paper", "halted": True}
            audited = self._audit(store, f"{reason}: {message}", Severity.WARNING, details)
        return _audited(ActionOutcome(True, message, details), audited)

    # ------------------------------------------------------------------ breaker reset
    def _reset(self, name: BreakerName, client: str) -> ActionOutcome:
        with self._store() as store:
            breakers = self._breakers(store)
            record = next(b for b in breakers.all_states() if b.name == name.value)
            if not record.tripped:
                return ActionOutcome(False, f"breaker {name} is not tripped: nothing to reset")
            by = f"operator via the adxbot dashboard (client {client})"
            done = breakers.reset(name, by=by)  # stores the breaker_reset event: the audit
            still = [b.name for b in breakers.tripped()]
        message = (
            f"breaker {name} reset" if done else f"breaker {name} was reset meanwhile elsewhere"
        ) + (
            f"; trading is still HALTED by {', '.join(still)}"
            if still
            else "; trading ACTIVE: a running bot may open positions again from its next signal"
        )
        return ActionOutcome(True, message, {"breaker": str(name), "still_tripped": still})

    # ------------------------------------------------------------------ the database
    @contextlib.contextmanager
    def _store(self) -> Iterator[TradeStore]:
        path = self._options.database
        if not path.is_file():  # never create one: the bot does
            raise DatabaseError(f"no database at {path}: has the bot run yet?")
        with TradeStore.open(path, self._options.mode) as store:
            yield store

    def _breakers(self, store: TradeStore) -> CircuitBreakers:
        """Return the database's breakers, dated by the bot's market time (as the CLI does)."""
        config = self._options.config
        market = last_market_time(store.info("last_candle_ms"), config.timeframe.ms, self._clock)
        return CircuitBreakers(RiskLimits.from_config(config), store, market, wall=self._clock)

    def _audit(
        self, store: TradeStore | None, message: str, severity: Severity, data: dict[str, Any]
    ) -> bool:
        """Store the action's audit event; return False when there is no usable database."""
        if store is None:
            return False
        try:
            store.add_event(
                EventRecord(
                    time_ms=self._clock.now_ms(),
                    kind=EventKind.ORDER,
                    message=redact(message),
                    severity=severity,
                    data={"source": "dashboard", **data},
                )
            )
        except DatabaseError:
            return False
        return True


def _live_outcome(report: EmergencyReport, bot_running: bool, notes: str) -> ActionOutcome:
    closed = [
        f"{c.direction.value} {c.quantity}" + ("" if c.price is None else f" @ {c.price}")
        for c in report.closed
    ]
    parts = [f"closed {', '.join(closed)}" if closed else "no position of its own to close"]
    if report.used_close_all:
        parts.append("the rest closed with BingX's close-all")
    parts.append(f"cancelled {len(report.cancelled)} order(s)")
    if report.halted:
        parts.append("manual_halt set: no new entries until it is reset")
    if bot_running:
        parts.append("the running bot records the closed trades")
    elif report.recorded:
        parts.append(f"recorded {len(report.recorded)} closed trade(s)")
    if report.flat:
        parts.append("account flat: confirmed")
    else:
        held = (
            "unknown (the exchange did not answer)"
            if report.remaining_positions is None
            else ", ".join(f"{p.direction.value} {p.quantity}" for p in report.remaining_positions)
            or "none"
        )
        parts.append(
            f"ACCOUNT NOT CONFIRMED FLAT: positions {held}, open orders "
            f"{'unknown' if report.remaining_orders is None else report.remaining_orders}; "
            "close them in the BingX app NOW"
        )
    problems = [redact(p) for p in report.problems]
    warnings = [
        redact(line.removeprefix("warning: ").strip())
        for line in notes.splitlines()
        if line.startswith("warning:")
    ]
    details: dict[str, Any] = {
        "action": "emergency_stop",
        "mode": "live",
        "flat": report.flat,
        "halted": report.halted,
        "bot_running": bot_running,
        "closed": [
            {
                "direction": c.direction.value,
                "quantity": str(c.quantity),
                "price": None if c.price is None else str(c.price),
            }
            for c in report.closed
        ],
        "cancelled": len(report.cancelled),
        "recorded": [str(t.pnl) for t in report.recorded],
        "used_close_all": report.used_close_all,
        "problems": problems,
        "warnings": warnings,
    }
    return ActionOutcome(report.flat, "; ".join(parts), details)


def _audited(outcome: ActionOutcome, audited: bool) -> ActionOutcome:
    if audited:
        return ActionOutcome(outcome.ok, outcome.message, outcome.details | {"audited": True})
    return ActionOutcome(
        outcome.ok,
        outcome.message + " (no usable database: this action is not recorded there)",
        outcome.details | {"audited": False},
    )
