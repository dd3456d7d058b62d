"""The heartbeat-missing alert: sent from outside the bot (a dead bot cannot say it died).

The running bot writes its heartbeat (`heartbeat_ms`, wall clock) every
`bot.heartbeat_seconds`.  A bot that says it is running but whose heartbeat is older than
`alerts.heartbeat_stale_seconds` has crashed, hung or lost its machine.  Two watchers look:

- `watch_heartbeat(...)`: a task for a long-running process (the dashboard);
- `adxbot status --alert-if-stale`: one look, for a cron job or a systemd timer.

Both read the database read-only and remember, per channel, which silence they already
reported in a small file beside it (`<database>.heartbeat-alert.json`, written
atomically), so a silence is reported once (not every minute, not by both watchers), and
once more when the heartbeat is back.  A bot stopped cleanly (status "stopped") is not
missing: its "stopped" alert came from the bot itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from adxbot.alerts.channels import Notifier
from adxbot.alerts.messages import Alert, AlertContext, AlertLevel, format_age, format_utc
from adxbot.atomic_file import write_atomically
from adxbot.clock import Clock
from adxbot.config import AlertEvent, AlertSettings
from adxbot.errors import DatabaseError
from adxbot.persistence.records import TradingMode
from adxbot.persistence.store import TradeStore

log = logging.getLogger("adxbot.alerts")

STATE_SUFFIX = ".heartbeat-alert.json"


@dataclass(frozen=True, slots=True)
class HeartbeatReading:
    """What the database says about the bot's heartbeat at one moment."""

    database: Path
    now_ms: int
    stale: bool
    """True when the bot says it is running and its heartbeat is too old (or absent)."""
    status: str | None = None
    """The bot's status ("running", "stopped"); None when there is no database yet."""
    heartbeat_ms: int | None = None
    context: AlertContext | None = None

    @property
    def age_s(self) -> float | None:
        """Return the heartbeat's age in seconds (None when there is none)."""
        return None if self.heartbeat_ms is None else max(0, self.now_ms - self.heartbeat_ms) / 1000


def read_heartbeat(database: Path, stale_after_s: int, now_ms: int) -> HeartbeatReading:
    """Read the heartbeat of the bot behind `database` (read-only; no file: not stale)."""
    if not database.is_file():
        return HeartbeatReading(database, now_ms, stale=False)
    with TradeStore.open_read_only(database) as store:
        info = store.all_info()
        context = AlertContext(store.mode, info.get("symbol", ""), info.get("environment", ""))
    status = info.get("status")
    raw = info.get("heartbeat_ms")
    heartbeat_ms = int(raw) if raw is not None and raw.isdigit() else None
    stale = status == "running" and (
        heartbeat_ms is None or now_ms - heartbeat_ms > stale_after_s * 1000
    )
    return HeartbeatReading(database, now_ms, stale, status, heartbeat_ms, context)


def heartbeat_state_path(database: Path) -> Path:
    """Return the file that remembers which silences were reported."""
    return database.with_name(database.name + STATE_SUFFIX)


class HeartbeatAlerts:
    """Look at one bot's heartbeat and alert once per silence (and once when it is back)."""

    def __init__(
        self,
        database: Path,
        settings: AlertSettings,
        notifier: Notifier,
        clock: Clock,
        *,
        state_path: Path | None = None,
    ) -> None:
        self._database = database
        self._settings = settings
        self._notifier = notifier
        self._clock = clock
        self._state_path = state_path or heartbeat_state_path(database)
        self._memory: dict[str, int] = {}
        """Channel id -> the heartbeat time whose silence it was told about."""
        self._unwritable = False

    async def check(self) -> HeartbeatReading:
        """Read the heartbeat and send what is due; return the reading."""
        reading = read_heartbeat(
            self._database, self._settings.heartbeat_stale_seconds, self._clock.now_ms()
        )
        if AlertEvent.HEARTBEAT not in self._settings.events or not self._notifier.enabled:
            return reading
        memory = self._load()
        changed = False
        if reading.stale:
            silence = reading.heartbeat_ms or 0
            targets = [c for c in self._notifier.channels if memory.get(c.id) != silence]
            if targets:
                for channel in await self._notifier.broadcast(
                    _missing(reading, self._settings), targets
                ):
                    memory[channel.id] = silence
                    changed = True
        elif reading.status is not None:
            told = [c for c in self._notifier.channels if c.id in memory]
            if told:
                for channel in await self._notifier.broadcast(_back(reading), told):
                    del memory[channel.id]
                    changed = True
        if changed:
            self._save(memory)
        return reading

    def _load(self) -> dict[str, int]:
        try:
            raw = json.loads(self._state_path.read_text(encoding="utf-8"))
            self._memory = {str(k): int(v) for k, v in dict(raw.get("told", {})).items()}
        except FileNotFoundError:
            if not self._unwritable:
                self._memory = {}
        except (OSError, ValueError, TypeError, AttributeError) as e:
            log.warning(
                "heartbeat alerts: %s is unreadable (%s); using memory", self._state_path, e
            )
        return dict(self._memory)

    def _save(self, memory: dict[str, int]) -> None:
        self._memory = memory
        try:
            write_atomically(self._state_path, json.dumps({"told": memory}) + "\n")
            self._unwritable = False
        except OSError as e:
            if not self._unwritable:
                log.warning(
                    "heartbeat alerts: cannot write %s (%s); remembering in memory only",
                    self._state_path,
                    e,
                )
            self._unwritable = True


async def check_heartbeat(
    database: Path, settings: AlertSettings, notifier: Notifier, clock: Clock
) -> HeartbeatReading:
    """Look once (`adxbot status --alert-if-stale`): alert a new silence, or its end."""
    return await HeartbeatAlerts(database, settings, notifier, clock).check()


async def watch_heartbeat(
    database: Path,
    settings: AlertSettings,
    notifier: Notifier,
    clock: Clock,
    stop: asyncio.Event,
    *,
    interval_s: float | None = None,
) -> None:
    """Watch the heartbeat of the bot behind `database` until `stop` is set.

    Looks every `interval_s` (default: a quarter of `heartbeat_stale_seconds`, 5 to 60 s);
    alerts once when the heartbeat goes missing and once when it is back.  Never raises
    (every failure is logged and the watch goes on), so it can run beside a web server.
    """
    every = interval_s or min(60.0, max(5.0, settings.heartbeat_stale_seconds / 4))
    alerts = HeartbeatAlerts(database, settings, notifier, clock)
    while not stop.is_set():
        try:
            await alerts.check()
        except asyncio.CancelledError:
            raise
        except (DatabaseError, OSError, ValueError) as e:
            log.warning("heartbeat watch: cannot read %s: %s", database, e)
        except Exception as e:
            log.error("heartbeat watch failed: %s: %s", type(e).__name__, e, exc_info=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


def _missing(reading: HeartbeatReading, settings: AlertSettings) -> Alert:
    context = reading.context or AlertContext(TradingMode.PAPER)
    age = reading.age_s
    seen = (
        "no heartbeat was ever recorded"
        if reading.heartbeat_ms is None or age is None
        else f"the last heartbeat was {format_age(age)} ago ({format_utc(reading.heartbeat_ms)})"
    )
    mode = context.mode.value
    body = "\n".join(
        [
            f"The bot says it is running, but {seen}; the limit is "
            f"{settings.heartbeat_stale_seconds} s. It may have crashed, hung or lost its machine.",
            f"Check: systemctl status adxbot; journalctl -u adxbot; adxbot status --mode {mode}",
            f"database: {reading.database}",
            context.footer(None, reading.now_ms),
        ]
    )
    return Alert(context.title("heartbeat missing"), body, AlertLevel.FAILURE)


def _back(reading: HeartbeatReading) -> Alert:
    context = reading.context or AlertContext(TradingMode.PAPER)
    if reading.status == "running":
        headline, text = "heartbeat back", "The bot's heartbeat is fresh again."
    else:
        headline, text = "no longer missing: stopped", f"The bot's status is {reading.status}."
    body = "\n".join([text, f"database: {reading.database}", context.footer(None, reading.now_ms)])
    return Alert(context.title(headline), body, AlertLevel.SUCCESS)
