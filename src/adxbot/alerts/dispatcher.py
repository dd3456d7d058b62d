"""The alert dispatcher: tails the bot's events table and sends alerts, never in its way.

The events table is the queue.  Each channel has a cursor (the last event it has dealt
with) and the repeated-errors window, kept in the database (`component_state`, key
`alerts.channel.<id>`) and advanced only after the channel accepted the alert, so:

- an event recorded just before a crash is alerted after the restart;
- nothing is alerted twice (short of a crash between a send and its cursor write);
- a failing channel keeps its place and is tried again after `alerts.retry_seconds`,
  doubling up to an hour, while the other channels go on; no alert is lost meanwhile;
- a backlog of more than `DIGEST_AFTER` alerts goes out as digests of `DIGEST_SIZE`.

A channel seen for the first time starts at the newest event (no alerts for history).
Events are read through a second, read-only connection, so only committed facts are
alerted; sends run in worker threads (`Notifier`).  Every failure is caught and logged:
the dispatcher can neither block nor stop trading.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from adxbot.alerts.channels import AlertChannel, Notifier
from adxbot.alerts.messages import Alert, AlertContext, digest
from adxbot.alerts.rules import ALERT_KINDS, AlertRules, RulesState
from adxbot.clock import Clock
from adxbot.config import AlertSettings
from adxbot.errors import DatabaseError
from adxbot.persistence.store import TradeStore

log = logging.getLogger("adxbot.alerts")

STATE_KEY = "alerts.channel.{}"
DIGEST_AFTER = 5
"""More alerts than this pending for a channel are sent as digests."""
DIGEST_SIZE = 10
"""Alerts per digest message."""
SCAN_LIMIT = 100_000
"""Most events read in one pass (a bigger backlog keeps only its newest)."""
MAX_RETRY_S = 3600.0


class AlertDispatcher:
    """Send the alerts of one bot's events to every channel, each at its own pace."""

    def __init__(
        self,
        store: TradeStore,
        notifier: Notifier,
        settings: AlertSettings,
        *,
        wall: Clock,
        poll_s: float = 1.0,
    ) -> None:
        """Set up every new channel's cursor at the newest event (so every event recorded
        from now on is alerted); `start` begins sending."""
        self._store = store
        self._notifier = notifier
        self._rules = AlertRules(settings)
        self._retry_s = float(settings.retry_seconds)
        self._wall = wall
        self._poll_s = poll_s
        self._closing = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._reader: TradeStore | None = None
        if notifier.enabled:
            for channel in notifier.channels:
                if store.state(_key(channel)) is None:
                    self._restart_at_newest(channel)

    @classmethod
    @contextlib.asynccontextmanager
    async def running(
        cls,
        store: TradeStore,
        notifier: Notifier,
        settings: AlertSettings,
        *,
        wall: Clock,
        poll_s: float = 1.0,
        flush_s: float = 5.0,
    ) -> AsyncIterator[AlertDispatcher]:
        """Run a dispatcher for the block; at its end, send what is pending for up to
        `flush_s` (e.g. the "stopped" alert), then stop."""
        dispatcher = cls(store, notifier, settings, wall=wall, poll_s=poll_s)
        dispatcher.start()
        try:
            yield dispatcher
        finally:
            await dispatcher.close(flush_s)

    def start(self) -> None:
        """Start one sending task per channel."""
        if not self._notifier.enabled or self._tasks:
            return
        try:
            self._reader = TradeStore.open_read_only(self._store.path)
        except DatabaseError as e:
            log.error("alerts: off, the database cannot be read for them: %s", e)
            return
        for channel in self._notifier.channels:
            task = asyncio.create_task(self._run(channel), name=f"alerts {channel.name}")
            self._tasks.append(task)

    async def close(self, flush_s: float) -> None:
        """Make one last attempt at every channel's pending alerts, for at most `flush_s`."""
        self._closing.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=flush_s)
            for task in pending:
                log.warning("alerts: %s still had alerts to send at shutdown", task.get_name())
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._tasks.clear()
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # ------------------------------------------------------------------ one channel
    async def _run(self, channel: AlertChannel) -> None:
        failures = 0
        while True:
            final = self._closing.is_set()
            try:
                delivered = await self._deliver_pending(channel)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a bug or the database: log it, never stop the bot
                log.error("alerts: %s: %s: %s", channel.name, type(e).__name__, e, exc_info=True)
                delivered = False
            if final:
                return
            if delivered:
                if failures:
                    log.info(
                        "alerts: %s delivers again after %d failure(s)", channel.name, failures
                    )
                failures = 0
                delay = self._poll_s
            else:
                failures += 1
                delay = min(self._retry_s * 2 ** (failures - 1), MAX_RETRY_S)
                log.warning(
                    "alerts: %s failed (%d in a row); trying again in %.0f s, nothing is lost",
                    channel.name,
                    failures,
                    delay,
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), timeout=delay)

    async def _deliver_pending(self, channel: AlertChannel) -> bool:
        """Send the channel's pending alerts in order; return False at the first failure."""
        reader = self._reader
        assert reader is not None
        key = _key(channel)
        stored = self._store.state(key)
        try:
            state = RulesState.from_json(stored or "")
        except ValueError:
            log.error("alerts: %s: its saved place is unreadable; going on from now", channel.name)
            self._restart_at_newest(channel)
            return True
        events = reader.events(limit=SCAN_LIMIT, kinds=ALERT_KINDS, after_id=state.cursor)[::-1]
        if not events:
            return True
        context = _context(reader)
        pending: list[tuple[Alert, RulesState]] = []
        for event in events:
            alert, state = self._rules.apply(event, state, context, reader)
            if alert is not None:
                pending.append((alert, state))
        batches = [[item] for item in pending]
        if len(pending) > DIGEST_AFTER:
            batches = [pending[i : i + DIGEST_SIZE] for i in range(0, len(pending), DIGEST_SIZE)]
        for batch in batches:
            alerts = [alert for alert, _ in batch]
            message = alerts[0] if len(alerts) == 1 else digest(context, alerts)
            if not await self._notifier.send(channel, message):
                return False
            self._save(key, batch[-1][1])
        self._save(key, state)  # past the events that gave no alert, too
        return True

    def _save(self, key: str, state: RulesState) -> None:
        self._store.set_state(key, state.to_json(), self._wall.now_ms())

    def _restart_at_newest(self, channel: AlertChannel) -> None:
        newest = self._store.events(limit=1)
        self._save(_key(channel), RulesState(cursor=(newest[0].event_id or 0) if newest else 0))


def _key(channel: AlertChannel) -> str:
    return STATE_KEY.format(channel.id)


def _context(reader: TradeStore) -> AlertContext:
    info: dict[str, Any] = reader.all_info()
    return AlertContext(reader.mode, str(info.get("symbol", "")), str(info.get("environment", "")))
