"""`adxbot backtest`: the strategy and fill model over historical candles."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from adxbot.cli.config_cmd import ConfigOption

if TYPE_CHECKING:  # the CLI imports the heavy modules only when this command runs
    from adxbot.backtest.results import BacktestResult
    from adxbot.config import BotConfig
    from adxbot.domain.candles import CandleSeries


def _load_with_progress(path: Path, console: Console) -> CandleSeries:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from adxbot.market.candle_file import load_candle_csv

    columns = (TextColumn("loading {task.description}"), BarColumn(), DownloadColumn())
    with Progress(*columns, TimeRemainingColumn(), console=console, transient=True) as progress:
        task = progress.add_task(path.name, total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return load_candle_csv(path, on_progress=report)


def check_timeframe(candles: CandleSeries, config: BotConfig, path: Path) -> None:
    """Refuse candles whose spacing does not match the config's timeframe."""
    import numpy as np

    from adxbot.errors import ConfigError

    if len(candles) < 2:
        return
    steps = np.diff(candles.open_time_ms)
    expected = config.timeframe.ms
    if int(steps.min()) != expected or bool(np.any(steps % expected)):
        found = int(np.median(steps)) // 1000
        raise ConfigError(
            f"{path} holds candles about {found} s apart, but the config's timeframe is "
            f"{config.timeframe.value} ({expected // 1000} s): set 'timeframe' to match the data"
        )


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _summary_table(result: BacktestResult, source: str) -> Table:
    s = result.summary
    table = Table(title=f"Backtest of {source}", show_header=False, title_justify="left")
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    pnl_style = "green" if s.net_pnl > 0 else "red"
    rows = [
        ("period (UTC)", f"{_utc(s.first_candle_ms)} → {_utc(s.last_candle_ms)}"),
        ("candles", f"{s.candles:,}"),
        ("trades", f"{s.trades} ({s.wins} won, {s.losses} lost)"),
        ("win rate", f"{s.win_rate:.1%}"),
        ("net P&L", f"[{pnl_style}]{s.net_pnl:+.2f} USDT ({s.return_pct:+.2f} %)[/]"),
        ("fees paid", f"{s.fees:.2f} USDT"),
        ("funding", f"{s.funding:+.2f} USDT"),
        ("profit factor", "n/a" if s.profit_factor is None else f"{s.profit_factor:.2f}"),
        ("max drawdown", f"{s.max_drawdown_pct:.2f} %"),
        ("final equity", f"{s.final_equity:.2f} USDT (from {s.initial_equity:.2f})"),
        ("signals declined", str(s.skipped_signals)),
        ("backtest time", f"{s.elapsed_s * 1000:.0f} ms"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def backtest(
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            "-d",
            help="Candle CSV (.csv or .csv.gz, header open_time_ms,open,high,low,close,volume). "
            "Default: the bundled 3-month BTC-USDT 5m sample.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    config: ConfigOption = None,
    trades_out: Annotated[
        Path | None,
        typer.Option(dir_okay=False, help="Write every closed trade as CSV (columns in README)."),
    ] = None,
    summary_out: Annotated[
        Path | None,
        typer.Option(dir_okay=False, help="Write the summary figures as JSON."),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(dir_okay=False, help="Write a self-contained HTML report (charts, trades)."),
    ] = None,
) -> None:
    """Backtest the strategy with the same sizing and fill model paper and live mode use."""
    from adxbot.backtest.outputs import write_summary_json, write_trades_csv
    from adxbot.backtest.runner import Backtester
    from adxbot.config import load_config
    from adxbot.market.candle_file import bundled_sample_path
    from adxbot.strategy.factory import build_strategy

    console = Console()
    settings = load_config(config)
    settings.instrument()  # an unknown symbol fails here, before any loading
    path = data if data is not None else bundled_sample_path()
    candles = _load_with_progress(path, console)
    check_timeframe(candles, settings, path)
    strategy = build_strategy(settings.strategy)
    result = Backtester(settings, strategy).run(candles)
    console.print(_summary_table(result, path.name))
    if trades_out is not None:
        write_trades_csv(trades_out, result)
        console.print(f"trades written to {trades_out}")
    if summary_out is not None:
        write_summary_json(summary_out, result)
        console.print(f"summary written to {summary_out}")
    if report is not None:
        from adxbot.backtest.report_html import write_html_report  # plotly: 0.2 s to import

        write_html_report(
            report,
            candles,
            strategy.indicators(candles),
            result,
            title=f"adxbot backtest: {settings.symbol} {settings.timeframe.value}, {path.name}",
            adx_threshold=float(settings.strategy.adx_threshold),
        )
        console.print(f"report written to {report}")
