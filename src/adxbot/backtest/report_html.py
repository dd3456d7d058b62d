"""The self-contained HTML report of a backtest: summary table and interactive charts.

The page embeds plotly.js from the installed plotly package, so it opens offline and
never loads anything from the network.  One figure holds four rows on a shared time
axis (UTC, candle open times): close price with trade markers, ADX and the DI lines,
the equity curve, and the drawdown from the running equity peak.

Long series are thinned for the browser by `downsample_min_max`: every trace keeps at
most `MAX_POINTS_PER_TRACE` points, and the extremes (price spikes, the deepest
drawdown) survive.
"""

from __future__ import annotations

import html
import os
import tempfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import numpy.typing as npt
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from adxbot.backtest.results import BacktestResult, BacktestSummary, TradeRecord
from adxbot.domain.candles import CandleSeries, FloatArray, IntArray
from adxbot.domain.enums import Direction

MAX_POINTS_PER_TRACE = 20_000

_INDICATOR_STYLES: dict[str, tuple[str, str]] = {
    "adx": ("ADX", "#444444"),
    "plus_di": ("+DI", "#2ca02c"),
    "minus_di": ("−DI", "#d62728"),
}
_WIN_COLOUR = "#2ca02c"
_LOSS_COLOUR = "#d62728"

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }}
table.summary {{ border-collapse: collapse; margin-bottom: 1em; }}
table.summary th, table.summary td {{ padding: 0.2em 0.8em; border-bottom: 1px solid #ddd; }}
table.summary th {{ text-align: left; font-weight: 600; }}
table.summary td {{ text-align: right; font-variant-numeric: tabular-nums; }}
</style>
</head>
<body>
<h1>{title}</h1>
{summary}
{figure}
</body>
</html>
"""


def write_html_report(
    path: Path,
    candles: CandleSeries,
    indicators: dict[str, FloatArray],
    result: BacktestResult,
    *,
    title: str,
    adx_threshold: float | None = None,
    max_points_per_trace: int = MAX_POINTS_PER_TRACE,
) -> None:
    """Write the backtest report to `path` as one self-contained HTML file.

    `indicators` maps column names to one value per candle (NaN during warm-up); `adx`,
    `plus_di` and `minus_di` get their usual labels and colours, any other column is
    drawn in the same panel under its own name.  `adx_threshold` adds a dashed line.

    Lines longer than `max_points_per_trace` are thinned by `downsample_min_max`.  The
    page is written to a temporary file in the same directory and moved over `path` with
    `os.replace`, so `path` holds the previous report or the complete new one, never a part.
    """
    n = len(candles)
    for name, values in indicators.items():
        _require_length(f"indicator {name!r}", values, n)
    _require_length("equity", result.equity, n)

    figure = _figure(candles, indicators, result, adx_threshold, max_points_per_trace)
    figure_html = figure.to_html(
        full_html=False,
        include_plotlyjs=True,
        config={"displaylogo": False, "responsive": True},
    )
    page = _PAGE.format(
        title=html.escape(title),
        summary=_summary_table(result.summary),
        figure=figure_html,
    )
    _write_atomically(path, page)


def downsample_min_max(values: FloatArray, max_points: int = MAX_POINTS_PER_TRACE) -> IntArray:
    """Return ascending indices of `values` to plot, at most `max_points` of them.

    Series no longer than `max_points` are kept whole.  Longer ones are cut into equal
    buckets of consecutive samples and each bucket contributes the index of its minimum
    and of its maximum (NaNs ignored; an all-NaN bucket keeps one NaN, so warm-up gaps
    stay gaps), plus the first and last sample.  So the global minimum and maximum and
    every spike wider than a pixel survive, which plain striding would drop.
    """
    if max_points < 4:
        raise ValueError(f"max_points must be at least 4, got {max_points}")
    n = int(values.shape[0])
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    buckets = (max_points - 2) // 2
    size = -(-n // buckets)
    rows = -(-n // size)
    missing = np.isnan(values)
    lows = np.full(rows * size, np.inf)
    lows[:n] = np.where(missing, np.inf, values)
    highs = np.full(rows * size, -np.inf)
    highs[:n] = np.where(missing, -np.inf, values)
    starts = np.arange(rows, dtype=np.int64) * size
    argmins = lows.reshape(rows, size).argmin(axis=1) + starts
    argmaxs = highs.reshape(rows, size).argmax(axis=1) + starts
    ends = np.array([0, n - 1], dtype=np.int64)
    return np.unique(np.concatenate((argmins, argmaxs, ends))).astype(np.int64)


def drawdown_pct(equity: FloatArray) -> FloatArray:
    """Return the drawdown from the running equity peak in percent (0 at a peak, else < 0)."""
    peak = np.maximum.accumulate(equity) if equity.size else equity
    with np.errstate(divide="ignore", invalid="ignore"):
        drawdown = np.where(peak > 0, (equity / peak - 1.0) * 100.0, np.nan)
    return np.asarray(drawdown, dtype=np.float64)


def _require_length(what: str, values: FloatArray, n: int) -> None:
    if values.ndim != 1 or values.shape[0] != n:
        raise ValueError(f"{what} has shape {values.shape}, expected one value per candle ({n})")


def _times(ms: IntArray | list[int]) -> npt.NDArray[np.datetime64]:
    return np.asarray(ms, dtype=np.int64).astype("datetime64[ms]")


def _line(
    times: npt.NDArray[np.datetime64],
    values: FloatArray,
    name: str,
    colour: str,
    max_points: int,
) -> go.Scatter:
    keep = downsample_min_max(values, max_points)
    return go.Scatter(
        x=times[keep],
        y=values[keep],
        name=name,
        mode="lines",
        line={"color": colour, "width": 1},
    )


def _figure(
    candles: CandleSeries,
    indicators: dict[str, FloatArray],
    result: BacktestResult,
    adx_threshold: float | None,
    max_points: int,
) -> go.Figure:
    times = _times(candles.open_time_ms)
    figure = make_subplots(
        rows=4,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.03,
        row_heights=[0.42, 0.2, 0.23, 0.15],
        subplot_titles=("Close price", "ADX / DI", "Equity", "Drawdown from peak"),
    )
    figure.add_trace(_line(times, candles.close, "Close", "#1f77b4", max_points), row=1, col=1)
    for trace in _trade_markers(result.trades):
        figure.add_trace(trace, row=1, col=1)
    for name, values in indicators.items():
        label, colour = _INDICATOR_STYLES.get(name, (name, "#9467bd"))
        figure.add_trace(_line(times, values, label, colour, max_points), row=2, col=1)
    if adx_threshold is not None:
        figure.add_hline(
            y=adx_threshold,
            line={"dash": "dash", "color": "#888888", "width": 1},
            annotation_text=f"threshold {adx_threshold:g}",
            row=2,
            col=1,
        )
    figure.add_trace(_line(times, result.equity, "Equity", "#17becf", max_points), row=3, col=1)
    drawdown = _line(times, drawdown_pct(result.equity), "Drawdown", _LOSS_COLOUR, max_points)
    drawdown.update(fill="tozeroy")
    figure.add_trace(drawdown, row=4, col=1)

    figure.update_yaxes(title_text="USDT", row=1, col=1)
    figure.update_yaxes(title_text="index", row=2, col=1)
    figure.update_yaxes(title_text="USDT", row=3, col=1)
    figure.update_yaxes(title_text="%", row=4, col=1)
    figure.update_xaxes(type="date", showspikes=True, spikemode="across", spikethickness=1)
    figure.update_xaxes(title_text="time (UTC)", row=4, col=1)
    figure.update_layout(
        template="plotly_white",
        height=1300,
        hovermode="closest",
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        margin={"l": 60, "r": 30, "t": 60, "b": 50},
    )
    return figure


def _trade_markers(trades: list[TradeRecord]) -> list[go.Scatter]:
    markers: list[go.Scatter] = []
    for direction, symbol, colour in (
        (Direction.LONG, "triangle-up", _WIN_COLOUR),
        (Direction.SHORT, "triangle-down", _LOSS_COLOUR),
    ):
        entries = [t for t in trades if t.direction is direction]
        markers.append(
            go.Scatter(
                x=_times([t.entry_time_ms for t in entries]),
                y=[float(t.entry_price) for t in entries],
                hovertext=[
                    f"{direction} entry<br>price {t.entry_price}<br>quantity {t.quantity}"
                    for t in entries
                ],
                name=f"{direction.capitalize()} entry",
                mode="markers",
                marker={"symbol": symbol, "color": colour, "size": 10},
                hoverinfo="x+text",
            )
        )
    for won, label, colour in (
        (True, "Exit (win)", _WIN_COLOUR),
        (False, "Exit (loss)", _LOSS_COLOUR),
    ):
        exits = [t for t in trades if (t.pnl > 0) is won]
        markers.append(
            go.Scatter(
                x=_times([t.exit_time_ms for t in exits]),
                y=[float(t.exit_price) for t in exits],
                hovertext=[
                    f"{t.direction} exit: {t.exit_reason}<br>price {t.exit_price}"
                    f"<br>pnl {_money(t.pnl, signed=True)}"
                    for t in exits
                ],
                name=label,
                mode="markers",
                marker={"symbol": "x", "color": colour, "size": 9},
                hoverinfo="x+text",
            )
        )
    return markers


def _money(value: Decimal, *, signed: bool = False) -> str:
    return f"{value:{'+' if signed else ''},.2f} USDT"


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _summary_rows(s: BacktestSummary) -> list[tuple[str, str]]:
    win_rate = f"{100 * s.wins / s.trades:.1f} %" if s.trades else "n/a"
    days = (s.last_candle_ms - s.first_candle_ms) / 86_400_000
    profit_factor = "n/a" if s.profit_factor is None else f"{s.profit_factor:.2f}"
    period = f"{_utc(s.first_candle_ms)} to {_utc(s.last_candle_ms)} ({days:,.1f} days)"
    return [
        ("Period", period if s.candles else "n/a"),
        ("Candles", f"{s.candles:,}"),
        ("Trades", f"{s.trades:,} ({s.wins:,} won, {s.losses:,} lost)"),
        ("Win rate", win_rate),
        ("Net P&L", _money(s.net_pnl, signed=True)),
        ("Fees", _money(s.fees)),
        ("Funding", _money(s.funding, signed=True)),
        ("Max drawdown", f"{s.max_drawdown_pct:.2f} %"),
        ("Initial equity", _money(s.initial_equity)),
        ("Final equity", _money(s.final_equity)),
        ("Return", f"{s.return_pct:+.2f} %"),
        ("Profit factor", profit_factor),
        ("Skipped signals", f"{s.skipped_signals:,}"),
    ]


def _summary_table(summary: BacktestSummary) -> str:
    rows = "\n".join(
        f"<tr><th>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
        for label, value in _summary_rows(summary)
    )
    return f'<table class="summary">\n{rows}\n</table>'


def _write_atomically(path: Path, text: str) -> None:
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        temp.chmod(0o644)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
