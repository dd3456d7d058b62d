"""`adxbot demo`: the offline main job: simulator + paper bot, then what happened."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

DEFAULT_DEMO_DATABASE = Path("state/demo/adxbot-paper.sqlite3")


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def demo(
    minutes: Annotated[
        float, typer.Option(help="How long to run, in real minutes.", min=0.1, max=60)
    ] = 1.5,
    speed: Annotated[
        float,
        typer.Option(
            help="Simulated seconds per real second (20000: a 5m candle every 15 ms).", min=1
        ),
    ] = 20_000,
    config: Annotated[
        Path | None,
        typer.Option(help="Config file (default: built-in defaults).", dir_okay=False),
    ] = None,
    database: Annotated[
        Path,
        typer.Option(help="The demo's own database (recreated on every demo).", dir_okay=False),
    ] = DEFAULT_DEMO_DATABASE,
) -> None:
    """Run the paper bot against the local exchange simulator on the bundled real candles.

    Offline: no keys, no internet.  The simulator replays real BTC-USDT 5m candles on a
    fast clock; the bot trades them exactly as it would trade BingX in paper mode, then
    the demo prints the trades, P&L, breaker events, and how a backtest of the same
    candles compares.
    """
    from adxbot.bot.demo import run_demo
    from adxbot.bot.session import stop_on_signals
    from adxbot.config import load_config
    from adxbot.logsetup import configure_logging
    from adxbot.persistence.store import TradeStore

    settings = load_config(config)
    configure_logging(logging.ERROR)  # breaker trips (critical) still show; the report follows
    console = Console(highlight=False)
    console.print(
        f"[bold]adxbot demo[/]: a paper bot against the local BingX simulator "
        f"({settings.symbol} {settings.timeframe.value}, real candles at x{speed:g}) "
        f"for {minutes:g} minutes. Offline; Ctrl-C ends it early."
    )

    async def progress() -> None:
        while True:
            await asyncio.sleep(5)
            with contextlib.suppress(Exception):
                with TradeStore.open_read_only(database) as store:
                    last = store.info("last_candle_ms")
                    equity = store.latest_equity()
                    trades = store.trade_count()
                    state = store.info("trading_state") or "?"
                if last is not None and equity is not None:
                    console.print(
                        f"  market time {_when(int(last))} UTC: {trades} trades closed, "
                        f"equity {equity.equity:.2f} USDT, trading {state}"
                    )

    async def main() -> None:
        stop = asyncio.Event()
        reporter = asyncio.create_task(progress())
        try:
            with stop_on_signals(stop):
                result = await run_demo(
                    settings,
                    database=database,
                    speed=speed,
                    duration_s=minutes * 60,
                    stop=stop,
                )
        finally:
            reporter.cancel()
        _report(console, result)
        if result.agreeing_trades != result.compared_trades:
            raise typer.Exit(1)  # paper and backtest disagree: a bug worth a failing exit

    asyncio.run(main())


def _report(console: Console, result: object) -> None:
    from adxbot.bot.demo import DemoResult

    assert isinstance(result, DemoResult)
    summary = result.summary
    console.print(
        f"\n[bold]What happened[/] ({_when(result.first_candle_ms)} to "
        f"{_when(result.last_candle_ms)} UTC, {summary.candles} candles):"
    )
    table = Table(show_edge=False)
    for column in ("entry (UTC)", "side", "qty", "entry", "exit", "reason", "P&L USDT"):
        table.add_column(column, justify="right" if column in ("qty", "entry", "exit") else "left")
    for trade in result.trades:
        colour = "green" if trade.pnl > 0 else "red"
        table.add_row(
            _when(trade.entry_time_ms),
            trade.direction.value,
            f"{trade.quantity}",
            f"{trade.entry_price}",
            f"{trade.exit_price}",
            trade.exit_reason.value,
            f"[{colour}]{trade.pnl:+.2f}[/]",
        )
    if result.trades:
        console.print(table)
    wins = sum(1 for t in result.trades if t.pnl > 0)
    net = sum((t.pnl for t in result.trades), start=0)
    console.print(
        f"trades: {len(result.trades)} ({wins} won), net P&L {net:+.2f} USDT, "
        f"equity now {result.equity} USDT; {summary.signals} signals, "
        f"{result.denials} entries denied by the risk manager"
    )
    for trip in result.trips:
        console.print(f"[bold red]breaker tripped[/] at {_when(trip.time_ms)}: {trip.message}")
    if result.compared_trades:
        verdict = (
            "[green]identical[/]"
            if result.agreeing_trades == result.compared_trades
            else f"[red]{result.agreeing_trades} of {result.compared_trades} identical[/]"
        )
        console.print(
            f"backtest of the same candles: the {result.compared_trades} paper trades "
            f"before any breaker trip are {verdict} to the backtest's "
            "(entry, exit, prices, quantity, P&L to the last digit)"
        )
    console.print(
        f"\nThe run is in [cyan]{result.database}[/]; look at it with "
        f"[bold]adxbot status --database {result.database}[/]"
    )
