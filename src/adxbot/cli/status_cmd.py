"""`adxbot status`: what the bot is doing, read from its trade database.

The database is opened read-only (WAL lets a reader in while the bot writes), so the
command is safe to run at any time and never changes anything.  Whether the bot is alive
is judged from its heartbeat (wall-clock time it refreshes every `bot.heartbeat_seconds`):
older than three periods while the bot says "running" means it is not responding.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from adxbot.cli.config_cmd import ConfigOption
from adxbot.cli.run_cmd import Mode
from adxbot.errors import ConfigError

if TYPE_CHECKING:  # the CLI imports the store only when a command runs
    from adxbot.clock import Clock
    from adxbot.config import BotConfig
    from adxbot.persistence.records import (
        BreakerRecord,
        ClosedTrade,
        DailyPnl,
        EquitySnapshot,
        EventRecord,
        PositionRecord,
    )
    from adxbot.persistence.store import TradeStore

ModeOption = Annotated[
    Mode, typer.Option(help="Which bot's database: paper or live (they never share one).")
]
DatabaseOption = Annotated[
    Path | None,
    typer.Option(
        help="Trade database (default: the config's bot.database, else "
        "state/adxbot-<mode>.sqlite3).",
        dir_okay=False,
    ),
]

STALE_HEARTBEATS = 3
"""A running bot whose heartbeat is older than this many periods is not responding."""
RECENT = 5
"""How many closed trades and warning events the status shows."""
EVENT_SCAN = 1000
"""How many latest events are searched for warnings (the store filters by kind only)."""


class Liveness(StrEnum):
    """Whether the bot behind a database is alive, judged from its status and heartbeat."""

    RUNNING = "running"
    NOT_RESPONDING = "not_responding"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class OpenPosition:
    """An open position and its P&L at the bot's last price (None when it has none)."""

    position: PositionRecord
    unrealized_pnl: Decimal | None


@dataclass(frozen=True, slots=True)
class StatusReport:
    """Everything `adxbot status` shows, read at one moment."""

    database: Path
    mode: str
    info: dict[str, str]
    liveness: Liveness
    heartbeat_age_s: int | None
    account: EquitySnapshot | None
    positions: list[OpenPosition]
    day: str
    today: DailyPnl | None
    breakers: list[BreakerRecord]
    trades: list[ClosedTrade]
    """The latest closed trades, newest first."""
    events: list[EventRecord]
    """The latest warning and critical events, newest first."""

    @property
    def halted(self) -> bool:
        """Return True while any breaker is tripped."""
        return any(breaker.tripped for breaker in self.breakers)


def existing_database(
    config: Path | None, mode: Mode, database: Path | None
) -> tuple[BotConfig, Path]:
    """Return the configuration and the database path of `mode`; refuse a missing file."""
    from adxbot.config import load_config
    from adxbot.persistence.paths import database_path
    from adxbot.persistence.records import TradingMode

    settings = load_config(config)
    path = database_path(settings, TradingMode(mode.value), database)
    if not path.is_file():
        raise ConfigError(
            f"no database at {path}: has the bot run yet? "
            f"start it with 'adxbot run --mode {mode.value}'"
        )
    return settings, path


def read_status(path: Path, mode: Mode, heartbeat_seconds: int, clock: Clock) -> StatusReport:
    """Open the database at `path` read-only and return its status as of `clock`'s now."""
    from adxbot.errors import DatabaseError
    from adxbot.persistence.store import TradeStore

    try:
        with TradeStore.open_read_only(path) as store:
            if store.mode.value != mode.value:
                raise ConfigError(
                    f"{path} belongs to {store.mode.value} trading, not {mode.value}: "
                    f"use --mode {store.mode.value} or the {mode.value} database"
                )
            return collect_status(store, heartbeat_seconds, clock)
    except DatabaseError as e:
        raise ConfigError(str(e)) from e


def collect_status(store: TradeStore, heartbeat_seconds: int, clock: Clock) -> StatusReport:
    """Read the status of the bot behind `store` as of `clock`'s now."""
    from adxbot.persistence.records import BreakerRecord, Severity
    from adxbot.persistence.rows import utc_day
    from adxbot.risk.breakers import BreakerName

    now = clock.now_ms()
    info = store.all_info()
    liveness, age_s = judge_liveness(info, now, heartbeat_seconds)
    price = _decimal(info.get("last_price"))
    stored = store.breakers()
    account = store.latest_equity()
    # "Today" is the market's UTC day: the day of the bot's latest candle close (the same
    # as the calendar day live; a replayed simulator's day otherwise).
    day = utc_day(now if account is None else account.time_ms)
    return StatusReport(
        database=store.path,
        mode=store.mode.value,
        info=info,
        liveness=liveness,
        heartbeat_age_s=age_s,
        account=account,
        positions=[
            OpenPosition(p, None if price is None else unrealized_pnl(p, price))
            for p in store.open_positions()
        ],
        day=day,
        today=store.daily_pnl(day),
        breakers=[
            stored.get(str(name), BreakerRecord(str(name), False, "", 0)) for name in BreakerName
        ],
        trades=store.trades(limit=RECENT)[::-1],
        events=[e for e in store.events(limit=EVENT_SCAN) if e.severity is not Severity.INFO][
            :RECENT
        ],
    )


def judge_liveness(
    info: dict[str, str], now_ms: int, heartbeat_seconds: int
) -> tuple[Liveness, int | None]:
    """Return whether the bot is alive and its heartbeat's age in seconds (None if unknown)."""
    heartbeat = _int(info.get("heartbeat_ms"))
    age_ms = None if heartbeat is None else max(0, now_ms - heartbeat)
    age_s = None if age_ms is None else age_ms // 1000
    if info.get("status") != "running":
        return Liveness.STOPPED, age_s
    if age_ms is not None and age_ms <= STALE_HEARTBEATS * heartbeat_seconds * 1000:
        return Liveness.RUNNING, age_s
    return Liveness.NOT_RESPONDING, age_s


def unrealized_pnl(position: PositionRecord, price: Decimal) -> Decimal:
    """Return the position's P&L if closed at `price`, before fees (exact)."""
    return (price - position.entry_price) * position.quantity * position.direction.sign


def status(
    mode: ModeOption = Mode.PAPER,
    config: ConfigOption = None,
    database: DatabaseOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object (money as exact strings).")
    ] = False,
    alert_if_stale: Annotated[
        bool,
        typer.Option(
            "--alert-if-stale",
            help="Exit 1 when the running bot's heartbeat is older than "
            "alerts.heartbeat_stale_seconds, and alert it once (for cron or a systemd timer).",
        ),
    ] = False,
) -> None:
    """Show the bot's state: alive or not, account, positions, today's P&L, breakers.

    Reads the trade database only; safe to run while the bot trades.
    """
    from adxbot.clock import WallClock

    settings, path = existing_database(config, mode, database)
    report = read_status(path, mode, settings.bot.heartbeat_seconds, WallClock())
    if as_json:
        typer.echo(json.dumps(status_json(report), indent=2))
    else:
        render_status(report, Console(highlight=False))
    if alert_if_stale and heartbeat_missing(path, settings, WallClock()):
        raise typer.Exit(1)


def heartbeat_missing(path: Path, settings: BotConfig, clock: Clock) -> bool:
    """Alert a missing heartbeat (once per silence; its end too); return True if missing."""
    import logging

    from adxbot.alerts import Notifier, check_heartbeat
    from adxbot.alerts.messages import format_age
    from adxbot.config import LogFormat
    from adxbot.errors import DatabaseError
    from adxbot.logsetup import configure_logging

    # Channel failures are logged, with the URLs' secrets blanked.
    configure_logging(logging.WARNING, json_lines=settings.bot.log_format is LogFormat.JSON)
    notifier = Notifier.from_environment()
    try:
        reading = asyncio.run(check_heartbeat(path, settings.alerts, notifier, clock))
    except DatabaseError as e:
        raise ConfigError(str(e)) from e
    finally:
        notifier.close()
    if not reading.stale:
        return False
    age = "never" if reading.age_s is None else format_age(reading.age_s) + " ago"
    typer.echo(
        f"HEARTBEAT MISSING: last heartbeat {age} (limit "
        f"{settings.alerts.heartbeat_stale_seconds} s)"
        + ("" if notifier.enabled else "; no alert channel is configured (ADXBOT_ALERT_URLS)"),
        err=True,
    )
    return True


# ---------------------------------------------------------------------------- JSON
def status_json(report: StatusReport) -> dict[str, Any]:
    """Return the report as JSON-ready data: times in epoch ms, Decimals as strings."""
    info = report.info
    account = report.account
    today = report.today
    return {
        "database": str(report.database),
        "mode": report.mode,
        "symbol": info.get("symbol"),
        "timeframe": info.get("timeframe"),
        "environment": info.get("environment"),
        "bot": {
            "state": report.liveness.value,
            "status": info.get("status"),
            "pid": _int(info.get("pid")),
            "started_ms": _int(info.get("started_ms")),
            "heartbeat_ms": _int(info.get("heartbeat_ms")),
            "heartbeat_age_s": report.heartbeat_age_s,
        },
        "last_candle_ms": _int(info.get("last_candle_ms")),
        "last_price": info.get("last_price"),
        "account": None
        if account is None
        else {
            "time_ms": account.time_ms,
            "balance": str(account.balance),
            "equity": str(account.equity),
            "unrealized_pnl": str(account.unrealized_pnl),
            "open_positions": account.open_positions,
        },
        "positions": [_position_json(line) for line in report.positions],
        "today": {"day": report.day}
        | (
            {}
            if today is None
            else {
                "start_equity": str(today.start_equity),
                "last_equity": str(today.last_equity),
                "equity_change": str(today.last_equity - today.start_equity),
                "realized_pnl": str(today.realized_pnl),
                "fees": str(today.fees),
                "trades": today.trades,
            }
        ),
        "trading_state": "halted" if report.halted else "active",
        "breakers": [
            {
                "name": b.name,
                "tripped": b.tripped,
                "reason": b.reason if b.tripped else None,
                "since_ms": b.changed_ms if b.tripped else None,
            }
            for b in report.breakers
        ],
        "trades": [
            {
                "trade_id": t.trade_id,
                "direction": t.direction.value,
                "entry_time_ms": t.entry_time_ms,
                "entry_price": str(t.entry_price),
                "exit_time_ms": t.exit_time_ms,
                "exit_price": str(t.exit_price),
                "quantity": str(t.quantity),
                "exit_reason": t.exit_reason.value,
                "pnl": str(t.pnl),
                "fees": str(t.fees),
            }
            for t in report.trades
        ],
        "events": [
            {
                "event_id": e.event_id,
                "time_ms": e.time_ms,
                "severity": e.severity.value,
                "kind": e.kind.value,
                "message": e.message,
            }
            for e in report.events
        ],
    }


def _position_json(line: OpenPosition) -> dict[str, Any]:
    p = line.position
    return {
        "position_id": p.position_id,
        "direction": p.direction.value,
        "quantity": str(p.quantity),
        "entry_price": str(p.entry_price),
        "stop_loss": _text(p.stop_loss),
        "take_profit": _text(p.take_profit),
        "opened_ms": p.opened_ms,
        "unrealized_pnl": _text(line.unrealized_pnl),
    }


# ---------------------------------------------------------------------------- text
def render_status(report: StatusReport, console: Console) -> None:
    """Print the report for a person."""
    info = report.info
    badge = (
        "[bold white on red] LIVE [/]"
        if report.mode == "live"
        else "[bold black on cyan] PAPER [/]"
    )
    market = f"{info.get('symbol', '?')} {info.get('timeframe', '?')}"
    console.print(f"{badge} adxbot status - {escape(market)}")
    candle = _int(info.get("last_candle_ms"))
    price = info.get("last_price")
    account = report.account
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    grid.add_row("environment", escape(info.get("environment", "unknown")))
    grid.add_row("database", escape(str(report.database)))
    grid.add_row("bot", _liveness_text(report))
    grid.add_row(
        "last candle",
        ("none processed yet" if candle is None else f"{format_utc(candle)} (open time)")
        + ("" if price is None else f", last price {escape(price)}"),
    )
    grid.add_row("trading", "[bold red]HALTED[/]" if report.halted else "[bold green]ACTIVE[/]")
    grid.add_row(
        "account",
        "no equity recorded yet"
        if account is None
        else f"balance {account.balance:.2f} USDT, equity {account.equity:.2f} USDT "
        f"(at {format_utc(account.time_ms)})",
    )
    grid.add_row("today", _today_text(report))
    console.print(grid)
    console.print()
    console.print(_positions_table(report))
    console.print(_breakers_table(report))
    console.print(_trades_table(report))
    console.print(_events_table(report))


def _liveness_text(report: StatusReport) -> str:
    age = report.heartbeat_age_s
    pid = report.info.get("pid")
    pid_text = "" if pid is None else f", pid {escape(pid)}"
    if report.liveness is Liveness.RUNNING:
        return f"[bold green]running[/] (last heartbeat {_ago(age)}{pid_text})"
    if report.liveness is Liveness.NOT_RESPONDING:
        return f"[bold red]NOT RESPONDING[/] (last heartbeat {_ago(age)}{pid_text})"
    if report.info.get("status") is None:
        return "stopped (it has not run on this database yet)"
    return f"stopped ({_ago(age)}{pid_text})"


def _today_text(report: StatusReport) -> str:
    today = report.today
    if today is None:
        return f"{report.day} (UTC): no trading recorded"
    change = today.last_equity - today.start_equity
    percent = "" if today.start_equity <= 0 else f" ({change / today.start_equity * 100:+.2f}%)"
    return (
        f"{report.day} (UTC): realised {today.realized_pnl:+.2f} USDT, fees {today.fees:.2f} "
        f"USDT, {today.trades} trade(s); equity {change:+.2f} USDT{percent} since the day's "
        f"start {today.start_equity:.2f}"
    )


def _positions_table(report: StatusReport) -> Table | str:
    if not report.positions:
        return "open positions: none"
    table = Table(title="open positions", title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("side", "qty", "entry", "stop-loss", "take-profit", "unrealised P&L"):
        table.add_column(column, justify="left" if column == "side" else "right")
    for line in report.positions:
        p = line.position
        pnl = line.unrealized_pnl
        table.add_row(
            p.direction.value.upper(),
            str(p.quantity),
            str(p.entry_price),
            _text(p.stop_loss) or "[red]none[/]",
            _text(p.take_profit) or "none",
            "? (no price yet)" if pnl is None else _signed(pnl),
        )
    return table


def _breakers_table(report: StatusReport) -> Table:
    table = Table(title="circuit breakers", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("breaker")
    table.add_column("state")
    table.add_column("since (UTC)", no_wrap=True)
    table.add_column("reason")
    for b in report.breakers:
        if b.tripped:
            table.add_row(
                b.name, "[bold red]TRIPPED[/]", _table_time(b.changed_ms), escape(b.reason)
            )
        else:
            table.add_row(b.name, "[green]OK[/]", "", "")
    return table


def _trades_table(report: StatusReport) -> Table | str:
    if not report.trades:
        return "closed trades: none yet"
    table = Table(
        title=f"last {len(report.trades)} closed trades", title_justify="left", box=box.SIMPLE_HEAD
    )
    table.add_column("exit (UTC)", no_wrap=True)
    for column in ("side", "qty", "entry", "exit", "reason", "net P&L"):
        table.add_column(column, justify="right" if column in ("qty", "net P&L") else "left")
    for t in report.trades:
        table.add_row(
            _table_time(t.exit_time_ms),
            t.direction.value.upper(),
            str(t.quantity),
            str(t.entry_price),
            str(t.exit_price),
            t.exit_reason.value,
            _signed(t.pnl),
        )
    return table


def _events_table(report: StatusReport) -> Table | str:
    if not report.events:
        return "warnings: none"
    table = Table(
        title=f"last {len(report.events)} warnings", title_justify="left", box=box.SIMPLE_HEAD
    )
    table.add_column("time (UTC)", no_wrap=True)
    for column in ("severity", "kind", "message"):
        table.add_column(column)
    for e in report.events:
        style = "bold red" if e.severity.value == "critical" else "yellow"
        table.add_row(
            _table_time(e.time_ms),
            f"[{style}]{e.severity.value.upper()}[/]",
            e.kind.value,
            escape(e.message),
        )
    return table


# ---------------------------------------------------------------------------- helpers
def format_utc(time_ms: int) -> str:
    """Return an epoch-millisecond time as "YYYY-MM-DD HH:MM:SS UTC"."""
    return datetime.fromtimestamp(time_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _table_time(time_ms: int) -> str:
    return datetime.fromtimestamp(time_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _ago(age_s: int | None) -> str:
    if age_s is None:
        return "unknown time ago"
    if age_s < 120:
        return f"{age_s}s ago"
    hours, rest = divmod(age_s, 3600)
    return f"{age_s}s ago, {hours}h {rest // 60}m" if hours else f"{age_s}s ago, {rest // 60}m"


def _signed(value: Decimal) -> str:
    style = "green" if value > 0 else "red" if value < 0 else ""
    text = f"{value:+.2f}"
    return f"[{style}]{text}[/]" if style else text


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _int(text: str | None) -> int | None:
    try:
        return None if text is None else int(text)
    except ValueError:
        return None


def _decimal(text: str | None) -> Decimal | None:
    try:
        value = None if text is None else Decimal(text)
    except InvalidOperation:
        return None
    return value if value is not None and value.is_finite() else None
