"""The systemd service: the unit files in deploy/, and the bot talking to systemd.

The unit files are checked twice: by `systemd-analyze verify` (systemd's own parser: no
unknown key, no value it cannot parse) and by reading them here for the settings the
service depends on.  The bot's side of sd_notify is checked against a real `AF_UNIX`
datagram socket standing in for systemd's: a real `adxbot run --mode paper` process on
the simulator sends READY, WATCHDOG, STATUS and STOPPING; in process, a main loop that
hangs stops the watchdog pings while the heartbeat task goes on beating.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import typer
import typer.core

from adxbot.bot.exchange_clock import ExchangeClock
from adxbot.bot.market_time import last_market_time
from adxbot.bot.runner import RunSummary, TradingBot
from adxbot.bot.systemd_notify import SystemdNotifier
from adxbot.cli.app import EXIT_BAD_INPUT, app
from adxbot.config import BotConfig
from adxbot.execution.paper_trader import PaperTrader
from adxbot.logsetup import register_secret
from adxbot.persistence.records import TradingMode
from adxbot.persistence.store import TradeStore
from adxbot.risk.breakers import CircuitBreakers, RiskLimits
from adxbot.risk.manager import RiskManager
from adxbot.sim.server import SimulatorThread
from adxbot.strategy.factory import build_strategy
from bot_support import bot_process, bot_simulator, config_with, sample
from fake_exchange import FakeExchange
from sim_support import eventually

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
BOT_UNIT = DEPLOY / "adxbot.service"
DASHBOARD_UNIT = DEPLOY / "adxbot-dashboard.service"
CHECK_UNIT = DEPLOY / "adxbot-stale-check.service"
CHECK_TIMER = DEPLOY / "adxbot-stale-check.timer"
UNITS = (BOT_UNIT, DASHBOARD_UNIT, CHECK_UNIT, CHECK_TIMER)
INSTALLED_ADXBOT = "/opt/adxbot/.venv/bin/adxbot"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
PARSE_PROBLEM = re.compile(r"unknown|invalid|failed to parse|ignoring|not executable|warning", re.I)
"""What `systemd-analyze verify` says about a key or value systemd would not apply."""

START = 3440
"""The in-process bot starts while this candle of the bundled sample forms."""
FAST = 1e6
"""Exchange ms per local ms: the bot never waits long for a candle close."""
REAL_TIME = 1.0
"""The exchange's clock runs at ours: the bot waits minutes for the next close."""
WATCHDOG_USEC = 100_000
"""In process: a 100 ms watchdog, so the bot pings every 50 ms at least."""
TIMEOUT_S = 30.0


# ---------------------------------------------------------------------- unit files


Unit = dict[str, dict[str, list[str]]]


def read_unit(path: Path) -> Unit:
    """Read a unit file as systemd does: sections of keys, each key with all its values."""
    unit: Unit = {}
    section: dict[str, list[str]] | None = None
    pending = ""
    for raw in path.read_text().splitlines():
        line = pending + raw.strip()
        pending = ""
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.startswith("[") and line.endswith("]"):
            section = unit.setdefault(line[1:-1], {})
            continue
        assert section is not None, f"{path.name}: {line!r} outside a section"
        key, _, value = line.partition("=")
        section.setdefault(key.strip(), []).append(value.strip())
    return unit


def one(unit: Unit, section: str, key: str) -> str:
    """Return the last value of `key` (the one systemd applies)."""
    values = unit.get(section, {}).get(key)
    assert values, f"[{section}] {key}= is not set"
    return values[-1]


def seconds(span: str) -> float:
    """Return a systemd time span ("90", "30s", "2min", "1h 30min") in seconds."""
    units = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", span):
        total += float(number) * units[unit]
    return total


def command_line(unit: Unit) -> list[str]:
    """Return ExecStart split into arguments, checking it runs the installed adxbot."""
    args = one(unit, "Service", "ExecStart").split()
    assert args[0] == INSTALLED_ADXBOT
    return args[1:]


def cli_command(name: str) -> typer.core.TyperCommand | None:
    """Return the CLI's command `name`, None if this checkout has no such command."""
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    command = group.commands.get(name)
    assert command is None or isinstance(command, typer.core.TyperCommand)
    return command


def cli_accepts(args: list[str]) -> None:
    """Parse `args` with the real CLI (nothing runs); raise if an option is unknown."""
    command = cli_command(args[0])
    assert command is not None, f"adxbot has no command {args[0]!r}"
    command.make_context(args[0], list(args[1:]))


def cli_has_option(name: str, option: str) -> bool:
    """Return whether command `name` exists and takes `option` (built in parallel work)."""
    command = cli_command(name)
    return command is not None and any(option in p.opts for p in command.params)


def test_bot_unit_runs_live_explicitly_as_notify_service_with_watchdog_and_restart() -> None:
    unit = read_unit(BOT_UNIT)
    args = command_line(unit)
    assert args[:4] == ["run", "--mode", "live", "--confirm-live"]
    assert args[args.index("--config") + 1] == "/etc/adxbot/config_live.json"
    cli_accepts(args)
    assert one(unit, "Service", "Type") == "notify"
    assert one(unit, "Service", "NotifyAccess") == "main"
    assert seconds(one(unit, "Service", "WatchdogSec")) >= 30
    assert one(unit, "Service", "Restart") == "on-failure"
    assert seconds(one(unit, "Service", "RestartSec")) > 0
    assert "StartLimitBurst" in unit["Unit"]
    assert "StartLimitIntervalSec" in unit["Unit"]
    # A bad config (exit 2) must not restart in a loop.
    assert str(EXIT_BAD_INPUT) in one(unit, "Service", "RestartPreventExitStatus").split()
    assert one(unit, "Service", "KillSignal") == "SIGTERM"
    assert seconds(one(unit, "Service", "TimeoutStopSec")) >= 60
    assert one(unit, "Service", "StandardOutput") == "journal"
    assert one(unit, "Service", "EnvironmentFile") == "/etc/adxbot/adxbot.env"
    assert one(unit, "Service", "StateDirectory") == "adxbot"


@pytest.mark.parametrize("path", [BOT_UNIT, DASHBOARD_UNIT, CHECK_UNIT], ids=lambda p: p.name)
def test_every_service_runs_unprivileged_and_sandboxed(path: Path) -> None:
    unit = read_unit(path)
    assert one(unit, "Service", "User") not in {"root", "0"}
    assert one(unit, "Service", "Group") not in {"root", "0"}
    assert one(unit, "Service", "NoNewPrivileges") == "yes"
    assert one(unit, "Service", "ProtectSystem") == "strict"
    assert one(unit, "Service", "ProtectHome") == "yes"
    assert one(unit, "Service", "CapabilityBoundingSet") == ""
    assert "DynamicUser" not in unit["Service"]  # the database must keep one owner


def test_bot_unit_keeps_the_hosts_tmp_for_the_account_lock() -> None:
    # `adxbot run --mode live` locks the account in the system's temporary directory: a
    # private /tmp would let a second bot, started by hand, trade the same account.
    unit = read_unit(BOT_UNIT)
    assert unit["Service"].get("PrivateTmp", ["no"])[-1] in {"no", "false"}
    assert "/tmp" in " ".join(unit["Service"]["ReadWritePaths"]).split()


def test_dashboard_unit_never_starts_or_stops_the_bot() -> None:
    unit = read_unit(DASHBOARD_UNIT)
    args = command_line(unit)
    assert args[:3] == ["dashboard", "--mode", "live"]  # its default is paper
    assert args[args.index("--config") + 1] == "/etc/adxbot/config_live.json"
    assert one(unit, "Service", "Type") == "simple"
    assert one(unit, "Service", "Restart") == "on-failure"
    for key in ("Requires", "Requisite", "BindsTo", "PartOf", "Wants", "Upholds"):
        assert "adxbot.service" not in " ".join(unit["Unit"].get(key, [])), key
    bot = read_unit(BOT_UNIT)
    assert "dashboard" not in " ".join(v for values in bot["Unit"].values() for v in values)
    if cli_command("dashboard") is not None:  # the dashboard is built in parallel work
        cli_accepts(args)


def test_stale_check_runs_status_alert_if_stale_every_few_minutes() -> None:
    unit = read_unit(CHECK_UNIT)
    args = command_line(unit)
    assert args[:3] == ["status", "--mode", "live"]
    assert "--alert-if-stale" in args
    assert one(unit, "Service", "Type") == "oneshot"
    timer = read_unit(CHECK_TIMER)
    assert seconds(one(timer, "Timer", "OnUnitActiveSec")) <= 600
    assert one(timer, "Install", "WantedBy") == "timers.target"
    if cli_has_option("status", "--alert-if-stale"):  # the flag comes with the alerts work
        cli_accepts(args)


def _units_runnable_here(directory: Path) -> list[Path]:
    """Copy the units to `directory`, their ExecStart pointed at this checkout's adxbot
    (verify checks that the program exists, and /opt/adxbot is not installed here)."""
    here = Path(sys.executable).with_name("adxbot")
    program = here if here.exists() else Path(sys.executable)
    copies = []
    for path in UNITS:
        copy = directory / path.name
        copy.write_text(path.read_text().replace(INSTALLED_ADXBOT, str(program)))
        copies.append(copy)
    return copies


def _verify(units: list[Path]) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE is not None
    return subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", *map(str, units)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_then_no_unknown_key_or_unparsable_value(tmp_path: Path) -> None:
    result = _verify(_units_runnable_here(tmp_path))
    output = result.stdout + result.stderr
    problems = [line for line in output.splitlines() if PARSE_PROBLEM.search(line)]
    assert result.returncode == 0, output
    assert problems == [], output


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_on_a_misspelt_unit_then_the_check_sees_it(
    tmp_path: Path,
) -> None:
    # The check above means something: systemd-analyze does report such mistakes.
    units = _units_runnable_here(tmp_path)
    broken = units[0].read_text().replace("WatchdogSec=", "WatchdogSecs=")
    units[0].write_text(broken.replace("Restart=on-failure", "Restart=sometimes"))
    result = _verify(units[:1])
    problems = [
        line for line in (result.stdout + result.stderr).splitlines() if PARSE_PROBLEM.search(line)
    ]
    assert len(problems) == 2, problems


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("name", [BOT_UNIT.name, DASHBOARD_UNIT.name, CHECK_UNIT.name])
def test_systemd_analyze_security_then_exposure_at_most_two(tmp_path: Path, name: str) -> None:
    assert SYSTEMD_ANALYZE is not None
    _units_runnable_here(tmp_path)
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=yes", "--threshold=20", "--no-pager", name],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    if "--offline" in result.stderr:  # systemd before 250 cannot rate a unit file
        pytest.skip(f"this systemd-analyze has no --offline: {result.stderr.strip()}")
    overall = re.search(r"Overall exposure level for \S+: (\d+\.\d)", result.stdout)
    assert overall is not None, result.stdout + result.stderr
    assert float(overall.group(1)) <= 2.0, result.stdout
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------------- a fake systemd


class NotifySocket:
    """systemd's side of sd_notify: a datagram socket that keeps every message."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.messages: list[str] = []
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(address)
        self._socket.setblocking(False)

    @property
    def environment_value(self) -> str:
        """Return the address as `NOTIFY_SOCKET` gives it (`@name` for an abstract one)."""
        return "@" + self.address[1:] if self.address.startswith("\0") else self.address

    def received(self) -> list[str]:
        """Return every message received so far (reading what has arrived meanwhile)."""
        while True:
            try:
                self.messages.append(self._socket.recv(4096).decode())
            except BlockingIOError:
                return self.messages

    def count(self, line: str) -> int:
        """Return how many messages received so far hold `line`."""
        return sum(line in message.split("\n") for message in self.received())

    def close(self) -> None:
        self._socket.close()


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    # A short directory: socket paths are limited to 108 bytes, pytest's tmp_path is long.
    with tempfile.TemporaryDirectory(prefix="adxbot-sd-") as directory:
        receiver = NotifySocket(str(Path(directory) / "notify"))
        try:
            yield receiver
        finally:
            receiver.close()


@pytest.fixture
def abstract_socket() -> Iterator[NotifySocket]:
    receiver = NotifySocket(f"\0adxbot-test-{uuid.uuid4().hex}")
    try:
        yield receiver
    finally:
        receiver.close()


@dataclass
class ManualMonotonic:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------------- the notifier


def test_notify_socket_unset_then_every_call_does_nothing() -> None:
    notifier = SystemdNotifier.from_environment({"WATCHDOG_USEC": "2000000"})
    assert not notifier.enabled
    assert notifier.watchdog_interval_s is None
    notifier.ready("up")
    notifier.alive()
    notifier.status("working")
    notifier.stopping("down")


def test_abstract_socket_name_then_messages_arrive_there(abstract_socket: NotifySocket) -> None:
    notifier = SystemdNotifier.from_environment(
        {"NOTIFY_SOCKET": abstract_socket.environment_value, "WATCHDOG_USEC": "2000000"}
    )
    assert abstract_socket.environment_value.startswith("@")
    assert notifier.watchdog_interval_s == 1.0
    notifier.ready("LIVE BTC-USDT 5m\nwith a second line")
    notifier.stopping("stopping: stop requested")
    assert abstract_socket.received() == [
        "READY=1\nSTATUS=LIVE BTC-USDT 5m with a second line",
        "STOPPING=1\nSTATUS=stopping: stop requested",
    ]


def test_alive_before_ready_extends_start_timeout_after_ready_feeds_watchdog_throttled(
    notify_socket: NotifySocket,
) -> None:
    clock = ManualMonotonic()
    notifier = SystemdNotifier(notify_socket.address, watchdog_usec=2_000_000, monotonic=clock)
    notifier.alive()  # start-up, retrying: one more watchdog period to start in
    notifier.ready("up")
    clock.now += 0.1
    notifier.alive()  # just after READY: dropped (a quarter interval has not passed)
    clock.now += 0.2
    notifier.alive()
    notifier.alive()  # same instant: dropped
    notifier.status("up")  # unchanged: not sent
    notifier.status("up, one position")
    assert notify_socket.received() == [
        "EXTEND_TIMEOUT_USEC=2000000",
        "READY=1\nSTATUS=up",
        "WATCHDOG=1",
        "STATUS=up, one position",
    ]


def test_watchdog_meant_for_another_process_then_no_pings(notify_socket: NotifySocket) -> None:
    environment = {
        "NOTIFY_SOCKET": notify_socket.address,
        "WATCHDOG_USEC": "2000000",
        "WATCHDOG_PID": str(os.getpid() + 1),
    }
    notifier = SystemdNotifier.from_environment(environment)
    assert notifier.watchdog_interval_s is None
    notifier.ready("up")
    notifier.alive()
    assert notify_socket.received() == ["READY=1\nSTATUS=up"]
    environment["WATCHDOG_PID"] = str(os.getpid())
    assert SystemdNotifier.from_environment(environment).watchdog_interval_s == 1.0


def test_socket_gone_then_nothing_raised_and_failure_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualMonotonic()
    notifier = SystemdNotifier(str(tmp_path / "gone"), watchdog_usec=2_000_000, monotonic=clock)
    with caplog.at_level(logging.WARNING, logger="adxbot.systemd"):
        notifier.ready("up")
        for _ in range(3):
            clock.now += 1
            notifier.alive()
        notifier.stopping("down")
    [record] = [r for r in caplog.records if r.name == "adxbot.systemd"]
    assert "cannot notify systemd" in record.getMessage()


def test_unsupported_address_then_disabled_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="adxbot.systemd"):
        notifier = SystemdNotifier.from_environment({"NOTIFY_SOCKET": "vsock:2:1234"})
    assert not notifier.enabled
    assert "vsock:2:1234" in caplog.text


def test_status_holding_a_secret_then_blanked(notify_socket: NotifySocket) -> None:
    secret = f"S3cr3t{uuid.uuid4().hex}"
    register_secret(secret)
    notifier = SystemdNotifier(notify_socket.address)
    notifier.status(f"exchange error: signature for {secret} refused")
    assert notify_socket.received() == ["STATUS=exchange error: signature for *** refused"]


# ---------------------------------------------------------------------- the bot, in process


class TimeGate:
    """The exchange's time endpoint, which the test can make hang (a hung main loop)."""

    def __init__(self, fetch: Callable[[], Awaitable[int]]) -> None:
        self._fetch = fetch
        self.calls = 0
        self._open = asyncio.Event()
        self._open.set()
        self.waiting = asyncio.Event()

    def close(self) -> None:
        self._open.clear()
        self.waiting.clear()

    def open(self) -> None:
        self._open.set()

    async def server_time(self) -> int:
        self.calls += 1
        if not self._open.is_set():
            self.waiting.set()
            await self._open.wait()
        return await self._fetch()


class BeatCountingStore(TradeStore):
    """The trade database, counting the heartbeat task's beats."""

    beats = 0

    def set_info(self, key: str, value: str) -> None:
        if key == "heartbeat_ms":
            self.beats += 1
        super().set_info(key, value)


@dataclass
class InProcessBot:
    notify: NotifySocket
    gate: TimeGate
    store: BeatCountingStore
    stop: asyncio.Event
    task: asyncio.Task[RunSummary]
    finished: bool = field(default=False)

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        """Wait until `condition` holds; fail if the bot stops or time runs out first."""
        deadline = asyncio.get_running_loop().time() + TIMEOUT_S
        while not condition():
            if self.task.done():
                self.task.result()
                raise AssertionError(f"the bot stopped before {what}")
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no {what} within {TIMEOUT_S} s: {self.notify.messages}")
            await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def in_process_bot(
    notify: NotifySocket,
    database: Path,
    *,
    speed: float,
    config: BotConfig,
    failures: int = 0,
) -> AsyncIterator[InProcessBot]:
    """Run a paper bot on the bundled candles (the exchange's clock stands still), its
    notifier on `notify` with a 100 ms watchdog; the first `failures` klines calls fail."""
    exchange = FakeExchange(sample(), 0, failures=failures)
    exchange.set_candle(START)
    gate = TimeGate(exchange.server_time)
    clock = ExchangeClock(gate.server_time, fallback=exchange, monotonic=exchange.monotonic(speed))
    clock.rate = speed
    store = BeatCountingStore.open(database, TradingMode.PAPER)
    assert isinstance(store, BeatCountingStore)
    market_time = last_market_time(store.info("last_candle_ms"), config.timeframe.ms, clock)
    breakers = CircuitBreakers(RiskLimits.from_config(config), store, market_time, wall=exchange)
    bot = TradingBot(
        config,
        client=exchange,
        clock=clock,
        market_time=market_time,
        store=store,
        trader=PaperTrader(config, store, RiskManager(config, breakers), market_time),
        breakers=breakers,
        strategy=build_strategy(config.strategy),
        wall=exchange,
        environment="fake exchange",
        retry_delays_s=(0.001,),
        systemd=SystemdNotifier(notify.address, watchdog_usec=WATCHDOG_USEC),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(bot.run(stop))
    run = InProcessBot(notify, gate, store, stop, task)
    try:
        yield run
    finally:
        gate.open()
        stop.set()
        await asyncio.wait([task], timeout=TIMEOUT_S)
        task.cancel()
        if task.done() and not task.cancelled():
            task.exception()
        store.close()


def test_main_loop_hangs_then_watchdog_pings_stop_while_heartbeat_task_beats_on(
    tmp_path: Path, notify_socket: NotifySocket
) -> None:
    config = config_with({"bot": {"heartbeat_seconds": 1}})

    async def scenario() -> None:
        async with in_process_bot(
            notify_socket, tmp_path / "paper.sqlite3", speed=FAST, config=config
        ) as run:
            await run.until(lambda: notify_socket.count("READY=1") == 1, "READY=1")
            await run.until(lambda: notify_socket.count("WATCHDOG=1") >= 3, "watchdog pings")
            run.gate.close()  # the next clock check never returns: the loop hangs
            await run.gate.waiting.wait()
            pings = notify_socket.count("WATCHDOG=1")
            beats = run.store.beats
            # The heartbeat task (a task of its own) beats twice: a second or more, ten
            # watchdog intervals at least, and not one ping from the hung loop.
            await run.until(lambda: run.store.beats >= beats + 2, "two heartbeats")
            assert notify_socket.count("WATCHDOG=1") == pings
            run.gate.open()
            await run.until(lambda: notify_socket.count("WATCHDOG=1") > pings, "pings again")
            run.stop.set()
            await asyncio.wait_for(run.task, TIMEOUT_S)
        assert notify_socket.received()[-1].startswith("STOPPING=1\n")

    asyncio.run(scenario())


def test_long_wait_for_the_next_candle_then_watchdog_fed_during_the_wait(
    tmp_path: Path, notify_socket: NotifySocket
) -> None:
    # On BingX's clock the next close is minutes away; the loop checks the clock once a
    # second, and between two checks it still pings every 25 ms (half the interval).
    async def scenario() -> None:
        async with in_process_bot(
            notify_socket, tmp_path / "paper.sqlite3", speed=REAL_TIME, config=config_with()
        ) as run:
            await run.until(lambda: notify_socket.count("READY=1") == 1, "READY=1")
            checks = run.gate.calls
            await run.until(lambda: notify_socket.count("WATCHDOG=1") >= 12, "watchdog pings")
            clock_checks = run.gate.calls - checks
            assert notify_socket.count("WATCHDOG=1") >= 4 * (clock_checks + 1)
            status = next(m for m in notify_socket.received() if m.startswith("READY=1"))
            assert "STATUS=PAPER BTC-USDT 5m: last candle" in status
            assert "0 open position(s), trading ACTIVE" in status

    asyncio.run(scenario())


def test_exchange_failing_at_start_up_then_start_timeout_extended_and_no_watchdog_yet(
    tmp_path: Path, notify_socket: NotifySocket
) -> None:
    async def scenario() -> None:
        async with in_process_bot(
            notify_socket, tmp_path / "paper.sqlite3", speed=FAST, config=config_with(), failures=3
        ) as run:
            await run.until(lambda: notify_socket.count("READY=1") == 1, "READY=1")
        messages = notify_socket.received()
        ready = next(i for i, m in enumerate(messages) if m.startswith("READY=1"))
        before = [line.partition("=")[0] for m in messages[:ready] for line in m.split("\n")]
        assert "EXTEND_TIMEOUT_USEC" in before
        assert set(before) == {"EXTEND_TIMEOUT_USEC", "STATUS"}
        assert any(m.startswith("STATUS=exchange error (1 in a row)") for m in messages[:ready])

    asyncio.run(scenario())


# ---------------------------------------------------------------------- the bot, a process


def test_paper_bot_process_then_ready_watchdog_status_and_stopping_after_sigterm(
    tmp_path: Path, notify_socket: NotifySocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", notify_socket.address)
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    database = tmp_path / "paper.sqlite3"
    with SimulatorThread(bot_simulator(60_000.0)) as sim:
        process = bot_process(database, sim.base_url)
        try:
            eventually(lambda: notify_socket.count("READY=1") == 1, timeout=60)
            eventually(lambda: notify_socket.count("WATCHDOG=1") >= 3, timeout=60)
            eventually(
                lambda: any(
                    line.startswith("STATUS=PAPER BTC-USDT 5m: last candle")
                    for message in notify_socket.received()
                    for line in message.split("\n")
                ),
                timeout=60,
            )
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
        output, _ = process.communicate(timeout=30)

    assert code == 0, output.decode(errors="replace")
    messages = notify_socket.received()
    ready = next(i for i, m in enumerate(messages) if m.startswith("READY=1"))
    assert messages[ready].startswith("READY=1\nSTATUS=PAPER BTC-USDT 5m: last candle")
    assert "WATCHDOG=1" not in messages[:ready]
    assert messages[-1] == "STOPPING=1\nSTATUS=stopping: stop requested"
