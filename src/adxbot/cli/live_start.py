"""Starting live mode: the loud banner, the typed confirmation, then the live bot."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import typer
from rich.console import Console
from rich.panel import Panel

from adxbot.config import BotConfig
from adxbot.errors import ConfigError

CONFIRM_VARIABLE = "ADXBOT_CONFIRM_LIVE"
CONFIRM_WORD = "LIVE"


def start_live(
    settings: BotConfig,
    *,
    database: Path | None,
    duration_hours: float | None,
    confirm_live: bool,
) -> None:
    """Announce live trading, get the operator's confirmation, run the live bot."""
    import httpx

    from adxbot.bot.live_setup import LiveSetupRefused, prepare_account
    from adxbot.bot.session import database_path, run_live_bot, stop_on_signals
    from adxbot.clock import WallClock
    from adxbot.exchange.client import BingXClient
    from adxbot.exchange.credentials import load_credentials, mask
    from adxbot.exchange.environment import resolve_environment
    from adxbot.exchange.server_clock import ServerClock
    from adxbot.logsetup import register_credentials
    from adxbot.persistence.records import TradingMode

    console = Console(stderr=True, highlight=False)
    environment = resolve_environment(settings.exchange, os.environ)
    credentials = load_credentials()
    if credentials is None:
        raise ConfigError(
            f"live mode on {environment.label} ({environment.base_url}) needs an API key: set "
            "BINGX_API_KEY and BINGX_API_SECRET in the environment or config/.env"
        )
    register_credentials(credentials)
    path = database_path(settings, TradingMode.LIVE, database)

    async def look() -> str:
        async with httpx.AsyncClient() as http:
            client = BingXClient(http, environment.base_url, ServerClock(WallClock()), credentials)
            report = await prepare_account(
                settings, client, change=False, check_clock=environment.real_bingx
            )
            return report.balance

    try:
        balance = asyncio.run(look())
    except LiveSetupRefused as e:
        raise ConfigError(str(e)) from e
    risk = settings.risk_management
    money = "REAL MONEY" if environment.label == "PRODUCTION" else f"{environment.label} funds"
    console.print(
        Panel(
            f"[bold]adxbot LIVE[/] - trades {money}\n"
            f"environment  [bold]{environment.label}[/] {environment.base_url} "
            f"(chosen by {environment.source})\n"
            f"account      API key {mask(credentials.api_key)}, balance {balance}\n"
            f"market       {settings.symbol} {settings.timeframe.value}, leverage "
            f"{settings.leverage}x, margin {settings.exchange.margin_type}\n"
            f"risk         {settings.position_sizing.risk_per_trade_percent}% per trade, stop "
            f"{settings.exit_strategy.stop_loss_percent}%, take-profit "
            f"{settings.exit_strategy.take_profit_percent}%, max "
            f"{settings.position_sizing.max_positions} positions\n"
            f"breakers     daily loss {risk.daily_loss_limit_percent}%, drawdown "
            f"{risk.max_drawdown_percent}%, {risk.consecutive_loss_limit} losses in a row, "
            f"{risk.api_error_limit} API errors / {risk.api_error_window_minutes} min\n"
            f"database     {path}",
            title=f"LIVE TRADING on {environment.label}",
            border_style="bold red",
        )
    )
    confirmed = confirm_live or os.environ.get(CONFIRM_VARIABLE, "").strip().lower() == "yes"
    if not confirmed:
        answer = typer.prompt(
            f"Type {CONFIRM_WORD} to trade on {environment.label} with this account",
            default="",
            show_default=False,
        )
        if answer.strip() != CONFIRM_WORD:
            console.print("not confirmed: nothing was done")
            raise typer.Exit(1)

    async def main() -> None:
        stop = asyncio.Event()
        with stop_on_signals(stop):
            summary = await run_live_bot(
                settings,
                base_url=environment.base_url,
                environment=f"{environment.label} {environment.base_url}",
                database=path,
                credentials=credentials,
                stop=stop,
                check_clock=environment.real_bingx,
                duration_s=None if duration_hours is None else duration_hours * 3600,
            )
        console.print(
            f"stopped ({summary.stopped_by}): {summary.candles} candles, "
            f"{summary.signals} signals, {summary.trades_closed} trades closed"
        )

    asyncio.run(main())
