"""`adxbot reconcile`: compare the exchange's positions and orders with the live database.

Without `--fix` it only reports (the discrepancies are stored as an event too).  With
`--fix` it repairs as the bot would at start-up: adopts positions the database does not
know, closes out records of positions the exchange no longer holds, and re-arms missing
stop-losses and take-profits; then it checks again and reports what is left.  `--fix`
refuses to run while a bot holds the database: that bot reconciles by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from adxbot.cli.config_cmd import ConfigOption
from adxbot.cli.emergency_cmd import LiveDatabaseOption
from adxbot.errors import ConfigError

if TYPE_CHECKING:  # the CLI imports the trading code only when a command runs
    from adxbot.config import BotConfig
    from adxbot.exchange.credentials import Credentials
    from adxbot.persistence.records import EventRecord
    from adxbot.persistence.store import TradeStore


def reconcile(
    fix: Annotated[
        bool,
        typer.Option(
            "--fix", help="Repair: adopt, close out, re-arm stops (default: report only)."
        ),
    ] = False,
    config: ConfigOption = None,
    database: LiveDatabaseOption = None,
) -> None:
    """Compare the exchange's positions and orders with the live database; report them.

    Exits 0 when they agree (or were repaired), 1 when discrepancies remain.
    """
    from adxbot.bot.instance_lock import AlreadyRunning, InstanceLock
    from adxbot.config import LogFormat, load_config
    from adxbot.errors import DatabaseError
    from adxbot.exchange.credentials import load_credentials, mask
    from adxbot.exchange.environment import resolve_environment
    from adxbot.exchange.errors import ExchangeError
    from adxbot.logsetup import configure_logging
    from adxbot.persistence.paths import database_path
    from adxbot.persistence.records import TradingMode
    from adxbot.persistence.store import TradeStore

    console = Console(highlight=False)
    settings = load_config(config)
    configure_logging(logging.WARNING, json_lines=settings.bot.log_format is LogFormat.JSON)
    environment = resolve_environment(settings.exchange, os.environ)
    credentials = load_credentials()
    if credentials is None:
        raise ConfigError(
            f"reconciling with {environment.label} ({environment.base_url}) needs the "
            "account's API key: set BINGX_API_KEY and BINGX_API_SECRET in the environment "
            "or config/.env"
        )
    path = database_path(settings, TradingMode.LIVE, database)
    if not path.is_file():
        raise ConfigError(f"no live database at {path}: has the live bot run yet?")
    console.print(
        f"[bold]{environment.label}[/] {environment.base_url}, API key "
        f"{mask(credentials.api_key)}, {settings.symbol}; database {path}"
    )
    with contextlib.ExitStack() as resources:
        try:
            if fix:
                resources.enter_context(InstanceLock(path))
            store = resources.enter_context(TradeStore.open(path, TradingMode.LIVE))
        except AlreadyRunning as e:
            raise ConfigError(
                f"{e}; the running bot reconciles by itself: run without --fix to only look"
            ) from e
        except DatabaseError as e:
            raise ConfigError(str(e)) from e
        try:
            outcome = asyncio.run(
                _reconcile(settings, environment.base_url, credentials, store, fix)
            )
        except ExchangeError as e:
            console.print(f"[bold red]cannot reconcile[/]: {escape(str(e))}")
            raise typer.Exit(1) from e
    if not _report(console, outcome, fix):
        raise typer.Exit(1)


@dataclass(frozen=True, slots=True)
class _Outcome:
    """A reconciliation's findings and, after a repair, what a second look still finds."""

    problems: tuple[str, ...]
    failed: bool
    remaining: tuple[str, ...] | None = None


def _report(console: Console, outcome: _Outcome, fix: bool) -> bool:
    """Print the findings; return True when the database and the exchange now agree."""
    for problem in outcome.problems:
        console.print(f"- {escape(problem)}")
    count = len(outcome.problems)
    if outcome.failed:
        console.print(
            "[bold red]reconciliation failed[/]: the reconciliation breaker is tripped; "
            "fix the cause, run again, then reset the breaker"
        )
        return False
    if not count:
        console.print("[bold green]consistent[/]: the database agrees with the exchange")
        return True
    if not fix:
        console.print(f"[bold red]{count} discrepancies[/] (not changed: run with --fix to repair)")
        return False
    if not outcome.remaining:
        console.print(f"{count} discrepancies repaired; checked again: [bold green]consistent[/]")
        return True
    console.print(f"{count} discrepancies; after repairing, [bold red]still[/]:")
    for problem in outcome.remaining:
        console.print(f"- {escape(problem)}")
    return False


async def _reconcile(
    settings: BotConfig, base_url: str, credentials: Credentials, store: TradeStore, fix: bool
) -> _Outcome:
    """Reconcile (repairing if `fix`, then looking again); return the findings."""
    import httpx

    from adxbot import __version__
    from adxbot.bot.live_setup import LiveSetupRefused, prepare_account
    from adxbot.bot.market_time import last_market_time
    from adxbot.clock import WallClock
    from adxbot.exchange.client import BingXClient
    from adxbot.exchange.server_clock import ServerClock
    from adxbot.execution.live_trader import LiveTrader
    from adxbot.execution.order_placement import PlacementPolicy
    from adxbot.persistence.records import Severity
    from adxbot.risk.breakers import CircuitBreakers, RiskLimits
    from adxbot.risk.manager import RiskManager

    headers = {"User-Agent": f"adxbot/{__version__} (reconcile)"}
    async with httpx.AsyncClient(headers=headers) as http:
        client = BingXClient(
            http,
            base_url,
            ServerClock(WallClock()),
            credentials,
            recv_window_ms=settings.exchange.recv_window_ms,
        )
        try:
            checked = await prepare_account(settings, client, change=False)
        except LiveSetupRefused as e:
            raise ConfigError(str(e)) from e
        market = last_market_time(store.info("last_candle_ms"), settings.timeframe.ms, client.clock)
        breakers = CircuitBreakers(RiskLimits.from_config(settings), store, market)
        trader = LiveTrader(
            settings,
            store,
            RiskManager(settings, breakers),
            client,
            market,
            checked.setup,
            policy=PlacementPolicy(
                attempts=settings.live.order_attempts,
                confirm_timeout_s=float(settings.live.order_confirm_timeout_seconds),
            ),
        )
        seen = _last_reconciliation_event(store)
        report = await trader.reconcile_positions(fix=fix)
        latest = _last_reconciliation_event(store)
        # Only a failure stores a critical reconciliation event (and trips the breaker).
        failed = (
            latest is not None
            and (seen is None or latest.event_id != seen.event_id)
            and latest.severity is Severity.CRITICAL
        )
        problems = report.discrepancies  # a repair lists the records it closed out too
        if failed or not fix or not problems:
            return _Outcome(problems, failed=failed)
        again = await trader.reconcile_positions(fix=False)
        return _Outcome(problems, failed=False, remaining=again.discrepancies)


def _last_reconciliation_event(store: TradeStore) -> EventRecord | None:
    from adxbot.persistence.records import EventKind

    found = store.events(limit=1, kinds=[EventKind.RECONCILIATION])
    return found[0] if found else None
