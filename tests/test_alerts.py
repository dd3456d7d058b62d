"""Alerts through apprise to a real JSON webhook on loopback: from a real paper bot against
the simulator, across failures and restarts, and the heartbeat watchdogs."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adxbot.alerts import Alert, AlertDispatcher, Notifier, load_alert_urls, watch_heartbeat
from adxbot.alerts.heartbeat import heartbeat_state_path
from adxbot.alerts.messages import AlertContext, AlertLevel
from adxbot.alerts.rules import AlertRules, RulesState
from adxbot.bot.runner import RunSummary
from adxbot.cli.app import app
from adxbot.clock import ManualClock, WallClock
from adxbot.config import AlertEvent, AlertSettings, BotConfig
from adxbot.domain.enums import Direction, ExitReason
from adxbot.logsetup import redact, redactor
from adxbot.persistence.records import (
    ClosedTrade,
    EventKind,
    EventRecord,
    Severity,
    TradingMode,
)
from adxbot.persistence.store import TradeStore
from adxbot.sim.server import SimulatorThread
from bot_support import FAST, NO_BREAKERS, bot_simulator, config_with, run_bot_until
from sim_support import eventually

SPEED = 60_000.0
TIMING = replace(FAST, alert_poll_s=0.02, alert_flush_s=10.0)
EVENT_ID = re.compile(r"event #(\d+)")
ALWAYS_ALERTED = (
    EventKind.STARTED,
    EventKind.STOPPED,
    EventKind.TRADE_OPENED,
    EventKind.TRADE_CLOSED,
    EventKind.BREAKER_TRIPPED,
)


# ---------------------------------------------------------------------------- the webhook
class Webhook:
    """An HTTP server on loopback that takes apprise's JSON posts (500 while `failing`)."""

    def __init__(self, port: int = 0) -> None:
        self.received: list[dict[str, Any]] = []
        self.refused = 0
        self.failing = False
        self._lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with hook._lock:
                    if hook.failing:
                        hook.refused += 1
                        status = 500
                    else:
                        hook.received.append(json.loads(body))
                        status = 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = int(self._server.server_address[1])
        self.secret = f"hook-{secrets.token_hex(8)}"
        self.url = f"json://127.0.0.1:{self.port}/{self.secret}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Webhook:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.received)

    def titles(self) -> list[str]:
        return [m["title"] for m in self.messages()]

    def text(self) -> str:
        return "\n".join(f"{m['title']}\n{m['message']}" for m in self.messages())

    def event_ids(self) -> list[int]:
        """Return the event ids the received alerts name, in arrival order."""
        return [int(i) for i in EVENT_ID.findall(self.text())]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    with Webhook() as hook:
        yield hook


def alertable_ids(database: Path, kinds: tuple[EventKind, ...] = ALWAYS_ALERTED) -> list[int]:
    with TradeStore.open_read_only(database) as store:
        return sorted(e.event_id or 0 for e in store.events(limit=100_000, kinds=kinds))


# ---------------------------------------------------------------------------- a bot run
async def run_bot(
    config: BotConfig,
    base_url: str,
    database: Path,
    urls: list[str],
    until: Callable[[TradeStore], bool],
) -> RunSummary:
    """Run a paper bot with alerts to `urls` until `until(store)` holds."""
    return await run_bot_until(config, base_url, database, until, timing=TIMING, alert_urls=urls)


def test_bot_run_when_trades_and_breaker_trips_then_webhook_receives_each_alert_once(
    tmp_path: Path, webhook: Webhook
) -> None:
    config = config_with({"risk_management": {"consecutive_loss_limit": 2}})
    database = tmp_path / "paper.sqlite3"

    def breaker_alerted(_: TradeStore) -> bool:
        return "breaker" in webhook.text()

    with SimulatorThread(bot_simulator(SPEED)) as sim:
        asyncio.run(run_bot(config, sim.base_url, database, [webhook.url], breaker_alerted))

    # A burst of alerts may arrive as one digest: look at the text, not only the titles.
    text = webhook.text()
    assert "adxbot PAPER: breaker consecutive_losses tripped\n" in text
    assert "adxbot PAPER: started\n" in text
    assert "adxbot PAPER: stopped (stop requested)\n" in text
    assert re.search(r"adxbot PAPER: opened (long|short) 0\.\d+ @ \d+", text)
    assert re.search(r"adxbot PAPER: closed (long|short) 0\.\d+, P&L [+-]\d+\.\d\d USDT", text)
    assert "environment: simulator" in text
    delivered = webhook.event_ids()
    assert len(delivered) == len(set(delivered)), "an alert was sent twice"
    assert set(alertable_ids(database)) <= set(delivered)
    assert delivered == sorted(delivered)  # in the order the bot recorded them
    with TradeStore.open_read_only(database) as store:
        kinds = {e.kind for e in store.events(limit=100_000) if e.event_id in delivered}
    assert {EventKind.TRADE_OPENED, EventKind.TRADE_CLOSED, EventKind.BREAKER_TRIPPED} <= kinds


def test_failing_channel_when_server_errors_then_trading_goes_on_and_alerts_come_later(
    tmp_path: Path, webhook: Webhook
) -> None:
    config = config_with({**NO_BREAKERS, "alerts": {"retry_seconds": 1}})
    database = tmp_path / "paper.sqlite3"
    webhook.failing = True
    seen: dict[str, list[int]] = {}

    def recovered(store: TradeStore) -> bool:
        if webhook.failing:
            if webhook.refused >= 2 and store.trade_count() >= 3:
                seen["closed"] = [
                    e.event_id or 0 for e in store.events(kinds=[EventKind.TRADE_CLOSED])
                ]
                webhook.failing = False
            return False
        return set(seen["closed"]) <= set(webhook.event_ids())

    with SimulatorThread(bot_simulator(SPEED)) as sim:
        asyncio.run(run_bot(config, sim.base_url, database, [webhook.url], recovered))

    assert webhook.refused >= 2
    assert len(seen["closed"]) >= 3  # trades went on while the channel failed
    delivered = webhook.event_ids()
    assert len(delivered) == len(set(delivered))
    assert set(alertable_ids(database)) <= set(delivered)  # nothing lost, the stop included


def test_restart_when_alerts_were_sent_then_none_repeats_and_new_ones_follow(
    tmp_path: Path, webhook: Webhook
) -> None:
    config = config_with(NO_BREAKERS)
    database = tmp_path / "paper.sqlite3"
    with SimulatorThread(bot_simulator(SPEED)) as sim:
        asyncio.run(
            run_bot(config, sim.base_url, database, [webhook.url], lambda s: s.trade_count() >= 1)
        )
        first = webhook.event_ids()
        asyncio.run(
            run_bot(config, sim.base_url, database, [webhook.url], lambda s: s.trade_count() >= 3)
        )

    delivered = webhook.event_ids()
    assert delivered[: len(first)] == first
    assert len(delivered) == len(set(delivered)), "an alert was repeated after the restart"
    assert set(alertable_ids(database)) <= set(delivered)
    assert webhook.text().count("adxbot PAPER: started\n") == 2


def test_exchange_unreachable_when_errors_repeat_then_one_errors_alert_and_breaker_alert(
    tmp_path: Path, webhook: Webhook
) -> None:
    config = config_with(NO_BREAKERS)
    database = tmp_path / "paper.sqlite3"
    simulator = bot_simulator(SPEED)
    seen: dict[str, int] = {}

    def breaker_alerted(store: TradeStore) -> bool:
        if "disconnected" not in seen and store.info("status") == "running":
            simulator.faults.disconnect(2.0)  # every request dropped for 2 s
            seen["disconnected"] = 1
        # The breaker trips at its sixth error: twice the alert's limit of three.
        return "breaker api_errors tripped" in webhook.text()

    with SimulatorThread(simulator) as sim:
        asyncio.run(run_bot(config, sim.base_url, database, [webhook.url], breaker_alerted))

    with TradeStore.open_read_only(database) as store:
        assert len(store.events(limit=1000, kinds=[EventKind.ERROR])) >= 6
    text = webhook.text()
    assert text.count("errors within 10 minutes") == 1
    assert "latest:\n- exchange error: BingX" in text


# ---------------------------------------------------------------------------- the dispatcher
def _event(kind: EventKind, message: str, time_ms: int, **data: Any) -> EventRecord:
    severity = Severity.WARNING if kind is EventKind.ERROR else Severity.INFO
    return EventRecord(time_ms, kind, message, severity, data)


async def _dispatch(
    store: TradeStore,
    urls: list[str],
    settings: AlertSettings,
    until: Callable[[], bool],
    *,
    flush_s: float = 5.0,
) -> None:
    notifier = Notifier.from_urls(urls)
    try:
        async with AlertDispatcher.running(
            store, notifier, settings, wall=WallClock(), poll_s=0.02, flush_s=flush_s
        ):
            deadline = time.monotonic() + 30
            while not until():
                assert time.monotonic() < deadline, "the alerts did not arrive"
                await asyncio.sleep(0.02)
    finally:
        notifier.close()


def test_event_recorded_before_a_crash_when_restarted_then_alerted_once(
    tmp_path: Path, webhook: Webhook
) -> None:
    settings = AlertSettings(retry_seconds=1)
    now = WallClock().now_ms()
    with TradeStore.open(tmp_path / "paper.sqlite3", TradingMode.PAPER) as store:
        store.add_event(_event(EventKind.STARTED, "history: never alerted", now))

        async def first_life() -> None:
            notifier = Notifier.from_urls([webhook.url])
            dispatcher = AlertDispatcher(store, notifier, settings, wall=WallClock(), poll_s=0.02)
            dispatcher.start()
            store.add_event(_event(EventKind.STOPPED, "stopped: one", now))
            await asyncio.to_thread(eventually, lambda: len(webhook.received) == 1)
            webhook.failing = True  # the next one is recorded, then the process dies
            store.add_event(_event(EventKind.STOPPED, "stopped: two", now))
            await asyncio.to_thread(eventually, lambda: webhook.refused >= 1)
            await dispatcher.close(flush_s=0)
            notifier.close()

        asyncio.run(first_life())
        webhook.failing = False
        asyncio.run(_dispatch(store, [webhook.url], settings, lambda: len(webhook.received) >= 2))

    assert webhook.titles() == [
        "adxbot PAPER: stopped (one)",
        "adxbot PAPER: stopped (two)",
    ]


def test_repeated_errors_when_many_in_a_window_then_one_alert_per_window(
    tmp_path: Path, webhook: Webhook
) -> None:
    settings = AlertSettings(repeated_errors=3, repeated_errors_minutes=10)
    t0 = WallClock().now_ms()
    with TradeStore.open(tmp_path / "paper.sqlite3", TradingMode.PAPER) as store:

        def record_errors() -> None:
            for i in range(10):  # 10 errors within a minute: one alert
                store.add_event(_event(EventKind.ERROR, f"timeout {i}", t0 + i * 1000))
            store.add_event(_event(EventKind.STOPPED, "stopped: marker one", t0 + 60_000))
            for i in range(2):  # two more, 11 minutes later: below the limit alone
                store.add_event(_event(EventKind.ERROR, f"late {i}", t0 + 660_000 + i))
            store.add_event(_event(EventKind.ERROR, "third", t0 + 661_000))
            store.add_event(_event(EventKind.STOPPED, "stopped: marker two", t0 + 662_000))

        async def run() -> None:
            notifier = Notifier.from_urls([webhook.url])
            async with AlertDispatcher.running(
                store, notifier, settings, wall=WallClock(), poll_s=0.02
            ):
                record_errors()
                await asyncio.to_thread(
                    eventually, lambda: "marker two" in webhook.text(), timeout=30
                )
            notifier.close()

        asyncio.run(run())

    titles = [t for t in webhook.titles() if "errors within" in t]
    assert titles == ["adxbot PAPER: 3 errors within 10 minutes"] * 2
    assert "(7 more since the previous errors alert)" in webhook.text()


def test_backlog_when_many_alerts_pending_then_sent_as_digests(
    tmp_path: Path, webhook: Webhook
) -> None:
    now = WallClock().now_ms()
    with TradeStore.open(tmp_path / "paper.sqlite3", TradingMode.PAPER) as store:
        notifier = Notifier.from_urls([webhook.url])
        AlertDispatcher(store, notifier, AlertSettings(), wall=WallClock())  # places the cursor
        notifier.close()
        for i in range(12):
            store.add_event(_event(EventKind.STOPPED, f"stopped: number {i}", now))
        asyncio.run(
            _dispatch(store, [webhook.url], AlertSettings(), lambda: len(webhook.event_ids()) >= 12)
        )

    assert webhook.titles() == ["adxbot PAPER: 10 alerts", "adxbot PAPER: 2 alerts"]
    assert len(set(webhook.event_ids())) == 12


def test_notifier_when_port_closed_then_send_fails_without_raising() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    notifier = Notifier.from_urls([f"json://127.0.0.1:{port}/nobody"])
    try:
        (channel,) = notifier.channels
        assert not asyncio.run(notifier.send(channel, Alert("t", "b")))
    finally:
        notifier.close()


# ---------------------------------------------------------------------------- secrets
def test_alert_urls_when_loaded_then_never_in_logs(tmp_path: Path, webhook: Webhook) -> None:
    env_file = tmp_path / ".env"
    token = "tk_" + secrets.token_hex(12)
    env_file.write_text(f"ADXBOT_ALERT_URLS='{webhook.url} ntfy://user:{token}@ntfy.sh/topic'\n")

    urls = load_alert_urls({}, (env_file,))

    assert urls == (webhook.url, f"ntfy://user:{token}@ntfy.sh/topic")
    assert webhook.secret not in redact(f"posting to {webhook.url}")
    assert token not in redact(f"auth {token}")
    assert "127.0.0.1" in redact("host 127.0.0.1")  # addresses are not secrets
    # Every library logging at DEBUG (apprise, urllib3) through the bot's redaction filter.
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.addFilter(redactor())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    webhook.failing = True
    try:
        notifier = Notifier.from_urls(urls[:1])
        assert not asyncio.run(notifier.send(notifier.channels[0], Alert("t", "b")))
        notifier.close()
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    logged = output.getvalue()
    assert "json #1" in logged
    assert "/***" in logged  # apprise and urllib3 did try to show the path
    assert webhook.secret not in logged


def test_no_alert_urls_when_bot_starts_then_alerts_off_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="adxbot.alerts"):
        notifier = Notifier.from_environment({}, ())
    assert not notifier.enabled
    assert [r.getMessage() for r in caplog.records] == [
        "alerts: off (ADXBOT_ALERT_URLS is not set)"
    ]


# ---------------------------------------------------------------------------- the rules
def test_rules_when_trade_closed_then_alert_names_direction_quantity_prices_and_pnl(
    tmp_path: Path,
) -> None:
    with TradeStore.open(tmp_path / "live.sqlite3", TradingMode.LIVE) as store:
        trade = store.add_trade(
            ClosedTrade(
                position_id=1,
                direction=Direction.SHORT,
                signal_time_ms=1,
                entry_time_ms=2,
                entry_price=Decimal("50000"),
                quantity=Decimal("0.012"),
                exit_time_ms=3,
                exit_price=Decimal("51000"),
                exit_reason=ExitReason.STOP_LOSS,
                pnl=Decimal("-12.6"),
                fees=Decimal("0.6"),
            )
        )
        event = store.add_event(
            _event(EventKind.TRADE_CLOSED, "closed", 4, trade_id=trade.trade_id, pnl="-12.6")
        )
        context = AlertContext(TradingMode.LIVE, "BTC-USDT", "PRODUCTION")
        alert, state = AlertRules(AlertSettings()).apply(event, RulesState(0), context, store)

    assert alert is not None
    assert alert.title == "adxbot LIVE: closed short 0.012, P&L -12.60 USDT (stop_loss)"
    assert "entry 50000, exit 51000" in alert.body
    assert f"LIVE · BTC-USDT · PRODUCTION · event #{event.event_id}" in alert.body
    assert alert.level is AlertLevel.WARNING
    assert state.cursor == event.event_id


def test_rules_when_category_not_chosen_or_event_harmless_then_no_alert(tmp_path: Path) -> None:
    rules = AlertRules(AlertSettings(events=(AlertEvent.BREAKER,)))
    context = AlertContext(TradingMode.PAPER)
    with TradeStore.open(tmp_path / "paper.sqlite3", TradingMode.PAPER) as store:
        started = store.add_event(_event(EventKind.STARTED, "started", 1))
        harmless = store.add_event(
            EventRecord(2, EventKind.RECONCILIATION, "in step", Severity.INFO)
        )
        tripped = store.add_event(
            EventRecord(3, EventKind.BREAKER_TRIPPED, "why", Severity.CRITICAL, {"name": "x"})
        )
        results = [rules.apply(e, RulesState(0), context, store)[0] for e in (started, harmless)]
        alert, _ = rules.apply(tripped, RulesState(0), context, store)

    assert results == [None, None]
    assert alert is not None
    assert (alert.title, alert.level) == ("adxbot PAPER: breaker x tripped", AlertLevel.FAILURE)


def test_rules_state_when_saved_then_read_back_equal() -> None:
    state = RulesState(41)
    assert RulesState.from_json(state.to_json()) == state
    with pytest.raises(ValueError, match="not an alert state"):
        RulesState.from_json("[]")


# ---------------------------------------------------------------------------- heartbeat
def _bot_database(path: Path, *, heartbeat_ms: int, status: str = "running") -> None:
    with TradeStore.open(path, TradingMode.PAPER) as store:
        for key, value in {
            "symbol": "BTC-USDT",
            "environment": "simulator",
            "status": status,
            "heartbeat_ms": str(heartbeat_ms),
        }.items():
            store.set_info(key, value)


def test_status_alert_if_stale_when_heartbeat_old_then_exit_1_and_alert_once(
    tmp_path: Path, webhook: Webhook
) -> None:
    database = tmp_path / "paper.sqlite3"
    now = WallClock().now_ms()
    _bot_database(database, heartbeat_ms=now - 600_000)
    runner = CliRunner()
    args = ["status", "--database", str(database), "--alert-if-stale"]
    env = {"ADXBOT_ALERT_URLS": webhook.url}

    first = runner.invoke(app, args, env=env)
    second = runner.invoke(app, args, env=env)

    assert (first.exit_code, second.exit_code) == (1, 1)
    assert "HEARTBEAT MISSING" in first.output
    assert webhook.titles() == ["adxbot PAPER: heartbeat missing"]
    assert "the last heartbeat was 10 min ago" in webhook.text()
    assert heartbeat_state_path(database).is_file()

    _bot_database(database, heartbeat_ms=WallClock().now_ms())
    fresh = runner.invoke(app, args, env=env)
    assert fresh.exit_code == 0
    assert webhook.titles() == ["adxbot PAPER: heartbeat missing", "adxbot PAPER: heartbeat back"]


def test_status_alert_if_stale_when_bot_stopped_or_no_channel_then_exit_codes(
    tmp_path: Path,
) -> None:
    database = tmp_path / "paper.sqlite3"
    old = WallClock().now_ms() - 3_600_000
    args = ["status", "--database", str(database), "--alert-if-stale"]
    _bot_database(database, heartbeat_ms=old, status="stopped")
    assert CliRunner().invoke(app, args, env={"ADXBOT_ALERT_URLS": ""}).exit_code == 0
    _bot_database(database, heartbeat_ms=old, status="running")
    result = CliRunner().invoke(app, args, env={"ADXBOT_ALERT_URLS": ""})
    assert result.exit_code == 1
    assert "no alert channel is configured" in result.output


def test_watch_heartbeat_when_bot_goes_silent_then_one_alert_and_one_when_back(
    tmp_path: Path, webhook: Webhook
) -> None:
    database = tmp_path / "live.sqlite3"
    clock = ManualClock(WallClock().now_ms())
    with TradeStore.open(database, TradingMode.LIVE) as store:
        store.set_info("status", "running")
        store.set_info("heartbeat_ms", str(clock.now_ms()))

        async def watch() -> None:
            stop = asyncio.Event()
            notifier = Notifier.from_urls([webhook.url])
            settings = AlertSettings(heartbeat_stale_seconds=60)
            task = asyncio.create_task(
                watch_heartbeat(database, settings, notifier, clock, stop, interval_s=0.02)
            )
            clock.advance(61_000)
            await asyncio.to_thread(eventually, lambda: len(webhook.received) == 1)
            clock.advance(61_000)  # still silent: nothing new
            store.set_info("heartbeat_ms", str(clock.now_ms()))
            await asyncio.to_thread(eventually, lambda: len(webhook.received) == 2)
            stop.set()
            await task
            notifier.close()

        asyncio.run(watch())

    assert webhook.titles() == ["adxbot LIVE: heartbeat missing", "adxbot LIVE: heartbeat back"]


def test_heartbeat_when_no_database_yet_then_not_stale(tmp_path: Path) -> None:
    from adxbot.alerts.heartbeat import read_heartbeat

    reading = read_heartbeat(tmp_path / "none.sqlite3", 120, 0)
    assert not reading.stale
    assert reading.status is None


def test_dashboard_when_bot_heartbeat_stale_then_dashboard_process_alerts_missing(
    tmp_path: Path, webhook: Webhook
) -> None:
    from adxbot.dashboard.app import create_app
    from adxbot.dashboard.server import DashboardThread
    from adxbot.dashboard.settings import dashboard_options

    database = tmp_path / "paper.sqlite3"
    clock = ManualClock(WallClock().now_ms())
    _bot_database(database, heartbeat_ms=clock.now_ms() - 600_000)  # silent for 10 minutes
    options = dashboard_options(
        None,
        TradingMode.PAPER,
        database=database,
        environ={"ADXBOT_DASHBOARD_PASSWORD": "a-long-test-password"},
    )
    app = create_app(options, clock=clock, notifier=Notifier.from_urls([webhook.url]))

    with DashboardThread(app):  # served on loopback: the watchdog runs beside it
        eventually(lambda: len(webhook.received) == 1)

    assert webhook.titles() == ["adxbot PAPER: heartbeat missing"]
