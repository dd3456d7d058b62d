"""`adxbot emergency-stop`: cancel every order, close every position, confirm flat.

It needs only the API key: the live database is used when it is there (to set the
manual halt, store the closing orders and record the trades) and skipped, with a
warning, when it is missing or unusable.  Whether a bot is running is read from the
database's instance lock: a running bot records the closed trades itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from adxbot.cli.config_cmd import ConfigOption
from adxbot.errors import ConfigError

if TYPE_CHECKING:  # the CLI imports the trading code only when a command runs
    from adxbot.config import BotConfig
    from adxbot.exchange.credentials import Credentials
    from adxbot.exchange.environment import ResolvedEnvironment
    from adxbot.execution.emergency import EmergencyReport
    from adxbot.persistence.store import TradeStore

LiveDatabaseOption = Annotated[
    Path | None,
    typer.Option(
        help="Live trade database (default: the config's bot.database, else "
        "state/adxbot-live.sqlite3).",
        dir_okay=False,
    ),
]


def emergency_stop(
    yes: Annotated[bool, typer.Option("--yes", help="Act at once, without asking.")] = False,
    config: ConfigOption = None,
    database: LiveDatabaseOption = None,
    timeout: Annotated[
        float,
        typer.Option(help="Seconds to wait for BingX to confirm the positions closed.", min=0),
    ] = 10.0,
) -> None:
    """Close ALL positions of the symbol at market and cancel all its orders, now.

    Sets the manual-halt breaker first, so a running bot opens nothing new; works while
    the bot runs, and without the database.  Exits 1 unless the account is confirmed flat.
    """
    from adxbot.config import LogFormat, load_config
    from adxbot.exchange.credentials import load_credentials, mask
    from adxbot.exchange.environment import resolve_environment
    from adxbot.logsetup import configure_logging
    from adxbot.persistence.paths import database_path
    from adxbot.persistence.records import TradingMode

    started = time.perf_counter()
    console = Console(highlight=False)
    settings = load_config(config)
    configure_logging(logging.WARNING, json_lines=settings.bot.log_format is LogFormat.JSON)
    environment = resolve_environment(settings.exchange, os.environ)
    credentials = load_credentials()
    if credentials is None:
        raise ConfigError(
            f"the emergency stop on {environment.label} ({environment.base_url}) needs the "
            "account's API key: set BINGX_API_KEY and BINGX_API_SECRET in the environment "
            "or config/.env"
        )
    target = f"{environment.label} {settings.symbol}"
    console.print(
        Panel(
            f"environment  [bold]{environment.label}[/] {environment.base_url} "
            f"(chosen by {environment.source})\n"
            f"account      API key {mask(credentials.api_key)}\n"
            f"symbol       {settings.symbol}",
            title=f"EMERGENCY STOP on {environment.label}",
            border_style="bold red",
        )
    )
    if not yes:
        answer: str = typer.prompt(
            f"Close ALL positions and cancel all orders on {target}? (yes/no)",
            default="",
            show_default=False,
        )
        if answer.strip().lower() != "yes":
            console.print("not confirmed: nothing was done")
            raise typer.Exit(1)
        started = time.perf_counter()
    path = database_path(settings, TradingMode.LIVE, database)
    with contextlib.ExitStack() as resources:
        store, bot_running = open_live_database(path, resources, console)
        report = asyncio.run(
            stop_account(settings, environment, credentials, store, bot_running, timeout)
        )
    _print_report(console, report, store is not None, bot_running)
    console.print(f"elapsed {time.perf_counter() - started:.2f} s")
    if not report.flat:
        raise typer.Exit(1)


def open_live_database(
    path: Path, resources: contextlib.ExitStack, console: Console
) -> tuple[TradeStore | None, bool]:
    """Return the live store (None when unusable) and whether a bot holds it."""
    from adxbot.bot.instance_lock import AlreadyRunning, InstanceLock
    from adxbot.errors import DatabaseError
    from adxbot.persistence.records import TradingMode
    from adxbot.persistence.store import TradeStore

    if not path.is_file():
        _warn(console, f"no live database at {path}: nothing is halted or recorded")
        return None, False
    try:
        resources.enter_context(InstanceLock(path))  # held: no bot starts meanwhile
        bot_running = False
    except AlreadyRunning:
        bot_running = True
    except OSError as e:  # cannot tell: assume a bot runs (it records; never twice)
        _warn(console, f"cannot check whether a bot runs on {path} ({e}); assuming one does")
        bot_running = True
    try:
        store = resources.enter_context(TradeStore.open(path, TradingMode.LIVE))
    except DatabaseError as e:
        _warn(console, f"the database is unavailable ({e}): nothing is halted or recorded")
        return None, bot_running
    console.print(
        f"database     {path} ("
        + ("a bot is running on it: it records the closed trades" if bot_running else "no bot")
        + ")"
    )
    return store, bot_running


async def stop_account(
    settings: BotConfig,
    environment: ResolvedEnvironment,
    credentials: Credentials,
    store: TradeStore | None,
    bot_running: bool,
    timeout_s: float,
) -> EmergencyReport:
    import httpx

    from adxbot import __version__
    from adxbot.clock import WallClock
    from adxbot.exchange.client import BingXClient
    from adxbot.exchange.errors import ExchangeError
    from adxbot.exchange.server_clock import ServerClock
    from adxbot.execution.emergency import emergency_stop

    headers = {"User-Agent": f"adxbot/{__version__} (emergency-stop)"}
    async with httpx.AsyncClient(headers=headers) as http:
        client = BingXClient(
            http,
            environment.base_url,
            ServerClock(WallClock()),
            credentials,
            recv_window_ms=settings.exchange.recv_window_ms,
            backoff_s=0.2,
        )
        with contextlib.suppress(ExchangeError):  # a signed call re-syncs on a clock error
            await client.sync_time()
        return await emergency_stop(
            settings,
            client,
            store,
            bot_running=bot_running,
            clock=client.clock,
            flat_timeout_s=timeout_s,
        )


def _print_report(
    console: Console, report: EmergencyReport, with_database: bool, bot_running: bool
) -> None:
    for order in report.cancelled:
        trigger = "" if order.stop_price is None else f" at {order.stop_price}"
        console.print(
            f"cancelled    {order.order_type.value} {order.side.value}{trigger} "
            f"({order.client_order_id or order.order_id})"
        )
    if not report.cancelled:
        console.print("cancelled    no open orders")
    for closed in report.closed:
        price = "price unknown" if closed.price is None else f"@ {closed.price}"
        console.print(f"closed       {closed.direction.value} {closed.quantity} {price}")
    if not report.closed and not report.used_close_all:
        console.print("closed       no open position")
    if report.used_close_all:
        console.print("closed       the rest with BingX's close-all")
    if report.halted:
        console.print("manual halt  set: a running bot opens no new positions until reset")
    for trade in report.recorded:
        console.print(
            f"recorded     {trade.direction.value} {trade.quantity} exit {trade.exit_price} "
            f"({trade.exit_reason.value}), P&L {trade.pnl:+.4f} USDT"
        )
    if with_database and bot_running:
        console.print("recorded     left to the running bot (at its next check)")
    for problem in report.problems:
        _warn(console, problem)
    if report.flat:
        console.print("account flat: [bold green]confirmed[/]")
        return
    held = (
        "unknown (BingX did not answer)"
        if report.remaining_positions is None
        else ", ".join(f"{p.direction.value} {p.quantity}" for p in report.remaining_positions)
        or "none"
    )
    orders = "unknown" if report.remaining_orders is None else str(report.remaining_orders)
    console.print(
        f"[bold red]ACCOUNT NOT CONFIRMED FLAT[/]: positions {escape(held)}, open orders "
        f"{orders}. Close them in the BingX app NOW, then run this again."
    )


def _warn(console: Console, message: str) -> None:
    console.print(f"[bold yellow]warning:[/] {escape(message)}")
