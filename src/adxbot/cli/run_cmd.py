"""`adxbot run`: the trading bot (paper by default)."""

from __future__ import annotations

import asyncio
import logging
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console


class Mode(StrEnum):
    """Which money the bot trades."""

    PAPER = "paper"
    LIVE = "live"


def run(
    mode: Annotated[
        Mode,
        typer.Option(help="paper: simulated account on real market data; live: real money."),
    ] = Mode.PAPER,
    config: Annotated[
        Path | None,
        typer.Option(help="Config file (default: built-in defaults).", dir_okay=False),
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option(help="Stop after this many hours (default: run until SIGINT/SIGTERM).", min=0),
    ] = None,
    database: Annotated[
        Path | None,
        typer.Option(
            help="Trade database (default: the config's bot.database, else "
            "state/adxbot-<mode>.sqlite3).",
            dir_okay=False,
        ),
    ] = None,
    confirm_live: Annotated[
        bool,
        typer.Option(
            "--confirm-live",
            help="Live mode without the typed confirmation (services; or ADXBOT_CONFIRM_LIVE=yes).",
        ),
    ] = False,
) -> None:
    """Run the bot: on every closed candle, strategy -> risk manager -> trader -> database.

    Paper mode (the default) trades a simulated account on the configured BingX
    environment's real market data: no keys needed, no orders sent.  Live mode trades the
    account of BINGX_API_KEY with real orders, after a banner and a typed confirmation
    (or --confirm-live).  Stop it with Ctrl-C or SIGTERM: it finishes the current step,
    saves and exits.
    """
    from adxbot.bot.session import database_path, run_paper_bot, stop_on_signals
    from adxbot.config import LogFormat, load_config
    from adxbot.exchange.environment import resolve_environment
    from adxbot.logsetup import configure_logging
    from adxbot.persistence.records import TradingMode

    settings = load_config(config)
    configure_logging(logging.INFO, json_lines=settings.bot.log_format is LogFormat.JSON)
    if mode is Mode.LIVE:
        from adxbot.cli.live_start import start_live

        start_live(settings, database=database, duration_hours=duration, confirm_live=confirm_live)
        return
    environment = resolve_environment(settings.exchange, os.environ)
    path = database_path(settings, TradingMode.PAPER, database)
    label = f"{environment.label} market data ({environment.base_url}), simulated account"
    console = Console(stderr=True, highlight=False)
    console.print(
        f"[bold]adxbot PAPER[/] - {settings.symbol} {settings.timeframe.value} - {label}\n"
        f"database {path}; no orders are sent to any exchange"
    )

    async def main() -> None:
        stop = asyncio.Event()
        with stop_on_signals(stop):
            summary = await run_paper_bot(
                settings,
                base_url=environment.base_url,
                environment=label,
                database=path,
                stop=stop,
                duration_s=None if duration is None else duration * 3600,
            )
        console.print(
            f"stopped ({summary.stopped_by}): {summary.candles} candles, "
            f"{summary.signals} signals, {summary.trades_closed} trades closed"
        )

    asyncio.run(main())
