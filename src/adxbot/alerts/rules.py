"""Which recorded events become alerts, and what they say (pure: no I/O but record lookups).

Every fact the bot records is an event in its database; `AlertRules.apply` turns one event
into at most one alert, given the state the previous events left (`RulesState`): the id of
the last event looked at, and the recent error times behind the repeated-errors alert.
The same events in the same order from the same state always give the same alerts, so a
dispatcher can recompute them after a failure or a restart and send each exactly once.

| event | category (`alerts.events`) | alert |
| --- | --- | --- |
| started, stopped | start_stop | with the mode and environment; a failed stop is a failure |
| trade_opened | trade_opened | direction, quantity, price, stop-loss, take-profit |
| trade_closed | trade_closed | direction, quantity, entry and exit, net P&L, exit reason |
| breaker_tripped, breaker_reset | breaker | which breaker and why |
| reconciliation (warning or critical) | reconciliation | the discrepancies |
| error | errors | `repeated_errors` in `repeated_errors_minutes`: one per window; critical: each |
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Protocol

from adxbot.alerts.messages import Alert, AlertContext, AlertLevel
from adxbot.config import AlertEvent, AlertSettings
from adxbot.persistence.records import (
    ClosedTrade,
    EventKind,
    EventRecord,
    PositionRecord,
    Severity,
)

ALERT_KINDS = frozenset(
    {
        EventKind.STARTED,
        EventKind.STOPPED,
        EventKind.TRADE_OPENED,
        EventKind.TRADE_CLOSED,
        EventKind.BREAKER_TRIPPED,
        EventKind.BREAKER_RESET,
        EventKind.RECONCILIATION,
        EventKind.ERROR,
    }
)
"""The event kinds an alert can come from; others (signals, orders, denials) never alert."""

RECENT_ERRORS = 3
"""How many of the latest error messages a repeated-errors alert quotes."""
TRADE_LOOKBACK = 200
"""How many latest trades are searched for a closed trade's details."""
MAX_DISCREPANCIES = 10
"""How many discrepancies a reconciliation alert lists."""
_MESSAGE_CHARS = 300


class Records(Protocol):
    """Where the rules look up the details of a trade event (a `TradeStore`)."""

    def position(self, position_id: int) -> PositionRecord | None:
        """Return the position with this id, or None."""
        ...

    def trades(self, *, since_ms: int | None = None, limit: int | None = None) -> list[ClosedTrade]:
        """Return the latest `limit` trades, oldest first."""
        ...


@dataclass(frozen=True, slots=True)
class ErrorWindow:
    """The error events behind the repeated-errors alert."""

    times_ms: tuple[int, ...] = ()
    """Times of the latest errors (at most `repeated_errors` of them)."""
    recent: tuple[str, ...] = ()
    """The latest error messages, newest last."""
    alerted_ms: int | None = None
    """When the last repeated-errors alert fired (its window is silent)."""
    suppressed: int = 0
    """Errors since that alert that no alert mentioned yet."""


@dataclass(frozen=True, slots=True)
class RulesState:
    """Where a channel's alerts stand: the last event looked at and the error window."""

    cursor: int
    errors: ErrorWindow = field(default_factory=ErrorWindow)

    def to_json(self) -> str:
        """Return the state as JSON text (the dispatcher keeps it in the database)."""
        errors = self.errors
        return json.dumps(
            {
                "cursor": self.cursor,
                "errors": {
                    "times_ms": list(errors.times_ms),
                    "recent": list(errors.recent),
                    "alerted_ms": errors.alerted_ms,
                    "suppressed": errors.suppressed,
                },
            }
        )

    @classmethod
    def from_json(cls, text: str) -> RulesState:
        """Read a state written by `to_json`; raise ValueError if it is not one."""
        try:
            data = json.loads(text)
            errors = data.get("errors") or {}
            alerted = errors.get("alerted_ms")
            return cls(
                cursor=int(data["cursor"]),
                errors=ErrorWindow(
                    times_ms=tuple(int(t) for t in errors.get("times_ms", ())),
                    recent=tuple(str(m) for m in errors.get("recent", ())),
                    alerted_ms=None if alerted is None else int(alerted),
                    suppressed=int(errors.get("suppressed", 0)),
                ),
            )
        except (TypeError, KeyError, AttributeError, json.JSONDecodeError) as e:
            raise ValueError(f"not an alert state: {text[:100]!r}") from e


class AlertRules:
    """Turn events into alerts according to the `alerts` settings."""

    def __init__(self, settings: AlertSettings) -> None:
        self._settings = settings
        self._enabled = frozenset(settings.events)

    def apply(
        self, event: EventRecord, state: RulesState, context: AlertContext, records: Records
    ) -> tuple[Alert | None, RulesState]:
        """Return the alert `event` gives (or None) and the state after it."""
        assert event.event_id is not None, "only stored events are alerted"
        after = replace(state, cursor=max(state.cursor, event.event_id))
        if event.kind is EventKind.ERROR:
            return self._error(event, after, context)
        headline = self._headline(event, records)
        if headline is None:
            return None, after
        title, details, level = headline
        body = "\n".join([*([details] if details else []), context.footer(event.event_id, None)])
        return Alert(context.title(title), body, level), after

    # ------------------------------------------------------------------ single events
    def _headline(self, event: EventRecord, records: Records) -> tuple[str, str, AlertLevel] | None:
        kind, on = event.kind, self._enabled.__contains__
        if kind in (EventKind.STARTED, EventKind.STOPPED) and on(AlertEvent.START_STOP):
            return _start_stop(event)
        if kind is EventKind.TRADE_OPENED and on(AlertEvent.TRADE_OPENED):
            return _trade_opened(event, records)
        if kind is EventKind.TRADE_CLOSED and on(AlertEvent.TRADE_CLOSED):
            return _trade_closed(event, records)
        if kind in (EventKind.BREAKER_TRIPPED, EventKind.BREAKER_RESET) and on(AlertEvent.BREAKER):
            return _breaker(event)
        if (
            kind is EventKind.RECONCILIATION
            and event.severity is not Severity.INFO
            and on(AlertEvent.RECONCILIATION)
        ):
            return _reconciliation(event)
        return None

    # ------------------------------------------------------------------ errors
    def _error(
        self, event: EventRecord, state: RulesState, context: AlertContext
    ) -> tuple[Alert | None, RulesState]:
        if AlertEvent.ERRORS not in self._enabled:
            return None, state
        limit = self._settings.repeated_errors
        window_ms = self._settings.repeated_errors_minutes * 60_000
        now = event.time_ms
        previous = state.errors
        times = (*(t for t in previous.times_ms if now - t < window_ms), now)[-limit:]
        recent = (*previous.recent, _short(event.message))[-RECENT_ERRORS:]
        # Times from mixed clocks may run backwards: an earlier time counts as inside.
        silent = previous.alerted_ms is not None and now - previous.alerted_ms < window_ms
        critical = event.severity is Severity.CRITICAL
        repeated = len(times) >= limit and not silent
        if not repeated and not critical:
            errors = replace(previous, times_ms=times, recent=recent)
            if silent:
                errors = replace(errors, suppressed=previous.suppressed + 1)
            return None, replace(state, errors=errors)
        lines: list[str] = []
        if repeated:
            minutes = self._settings.repeated_errors_minutes
            title = f"{len(times)} errors within {minutes} minutes"
            lines.append("latest:")
            lines.extend(f"- {message}" for message in recent)
            if previous.suppressed:
                lines.append(f"({previous.suppressed} more since the previous errors alert)")
            errors = ErrorWindow(times, recent, now, 0)
        else:
            title = f"error: {_short(event.message, 120)}"
            lines.append(_short(event.message))
            errors = replace(previous, times_ms=times, recent=recent)
        level = AlertLevel.FAILURE if critical else AlertLevel.WARNING
        body = "\n".join([*lines, context.footer(event.event_id, None)])
        return Alert(context.title(title), body, level), replace(state, errors=errors)


def _start_stop(event: EventRecord) -> tuple[str, str, AlertLevel]:
    if event.kind is EventKind.STARTED:
        if event.severity is not Severity.INFO:
            return "started after a stop", event.message, AlertLevel.WARNING
        return "started", event.message, AlertLevel.INFO
    why = event.message.removeprefix("stopped: ")
    failed = why.startswith("failed") or "task failed" in why
    level = AlertLevel.FAILURE if failed else AlertLevel.INFO
    return f"stopped ({_short(why, 120)})", event.message, level


def _trade_opened(event: EventRecord, records: Records) -> tuple[str, str, AlertLevel]:
    position_id = _int(event.data.get("position_id"))
    position = None if position_id is None else records.position(position_id)
    if position is None:
        return _short(event.message, 160), "", AlertLevel.INFO
    title = f"opened {position.direction.value} {position.quantity} @ {position.entry_price}"
    details = (
        f"stop-loss {_or_none(position.stop_loss)}, take-profit {_or_none(position.take_profit)}"
    )
    return title, details, AlertLevel.INFO


def _trade_closed(event: EventRecord, records: Records) -> tuple[str, str, AlertLevel]:
    trade_id = _int(event.data.get("trade_id"))
    trade = None
    if trade_id is not None:
        trade = next(
            (t for t in records.trades(limit=TRADE_LOOKBACK) if t.trade_id == trade_id), None
        )
    if trade is None:
        pnl = _decimal(event.data.get("pnl"))
        level = AlertLevel.INFO if pnl is None or pnl > 0 else AlertLevel.WARNING
        return _short(event.message, 160), "", level
    title = (
        f"closed {trade.direction.value} {trade.quantity}, P&L {trade.pnl:+.2f} USDT "
        f"({trade.exit_reason.value})"
    )
    details = (
        f"entry {trade.entry_price}, exit {trade.exit_price}; net P&L {trade.pnl:+.4f} USDT "
        f"after fees {trade.fees:.4f} and funding {trade.funding:.4f}"
    )
    return title, details, AlertLevel.SUCCESS if trade.pnl > 0 else AlertLevel.WARNING


def _breaker(event: EventRecord) -> tuple[str, str, AlertLevel]:
    name = str(event.data.get("name") or "?")
    if event.kind is EventKind.BREAKER_TRIPPED:
        return f"breaker {name} tripped", event.message, AlertLevel.FAILURE
    return f"breaker {name} reset", event.message, AlertLevel.WARNING


def _reconciliation(event: EventRecord) -> tuple[str, str, AlertLevel]:
    found = event.data.get("discrepancies")
    lines = [event.message]
    if isinstance(found, Sequence) and not isinstance(found, str):
        lines.extend(f"- {_short(str(item))}" for item in list(found)[:MAX_DISCREPANCIES])
        if len(found) > MAX_DISCREPANCIES:
            lines.append(f"(and {len(found) - MAX_DISCREPANCIES} more)")
    level = AlertLevel.FAILURE if event.severity is Severity.CRITICAL else AlertLevel.WARNING
    return f"reconciliation: {_short(event.message, 120)}", "\n".join(lines), level


def _short(text: str, limit: int = _MESSAGE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _or_none(value: Decimal | None) -> str:
    return "none" if value is None else str(value)


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _decimal(value: Any) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except ArithmeticError:
        return None
