"""The HTML backtest report: self-contained, complete, thinned for the browser, atomic.

The charts are checked in the written file itself: the test reads the arguments of the
page's `Plotly.newPlot(...)` call back as JSON and decodes plotly's base64 arrays.
"""

from __future__ import annotations

import base64
import json
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import plotly
import pytest

from adxbot.backtest.report_html import downsample_min_max, drawdown_pct, write_html_report
from adxbot.backtest.results import BacktestResult, BacktestSummary, TradeRecord
from adxbot.domain.candles import CandleSeries, FloatArray
from adxbot.domain.enums import Direction, ExitReason

N = 3_000
START_MS = 1_735_689_600_000  # 2025-01-01 00:00 UTC
STEP_MS = 300_000
SPIKE_HIGH_INDEX = 1_234
SPIKE_LOW_INDEX = 2_345
WARMUP = 27


def _candles() -> CandleSeries:
    i = np.arange(N, dtype=np.float64)
    close = 100.0 + 0.01 * i + 5.0 * np.sin(i / 50.0)
    close[SPIKE_HIGH_INDEX] = 250.0  # one-candle spikes that striding would drop
    close[SPIKE_LOW_INDEX] = 20.0
    open_ = np.concatenate(([close[0]], close[:-1]))
    return CandleSeries(
        open_time_ms=START_MS + STEP_MS * np.arange(N, dtype=np.int64),
        open=open_,
        high=np.maximum(open_, close) + 0.5,
        low=np.minimum(open_, close) - 0.5,
        close=close,
        volume=np.full(N, 10.0),
    )


def _indicators() -> dict[str, FloatArray]:
    i = np.arange(N, dtype=np.float64)
    adx = 25.0 + 10.0 * np.sin(i / 80.0)
    plus_di = 20.0 + 8.0 * np.sin(i / 30.0)
    minus_di = 20.0 - 8.0 * np.sin(i / 30.0)
    for column in (adx, plus_di, minus_di):
        column[:WARMUP] = np.nan
    return {"adx": adx, "plus_di": plus_di, "minus_di": minus_di}


def _trade(
    k: int,
    direction: Direction,
    entry_index: int,
    exit_index: int,
    reason: ExitReason,
    pnl: str,
) -> TradeRecord:
    return TradeRecord(
        signal_time_ms=START_MS + STEP_MS * (entry_index - 1),
        entry_time_ms=START_MS + STEP_MS * entry_index,
        direction=direction,
        entry_price=Decimal(f"{100 + k}.5"),
        quantity=Decimal("0.25"),
        exit_time_ms=START_MS + STEP_MS * exit_index + 61_234,  # an intra-candle fill
        exit_price=Decimal(f"{110 + k}.25"),
        exit_reason=reason,
        pnl=Decimal(pnl),
        fees=Decimal("0.8"),
        entry_index=entry_index,
        exit_index=exit_index,
    )


TRADES = [
    _trade(0, Direction.LONG, 100, 300, ExitReason.TAKE_PROFIT, "8.1234"),
    _trade(1, Direction.LONG, 700, 800, ExitReason.STOP_LOSS, "-4.5"),
    _trade(2, Direction.SHORT, 1_500, 1_900, ExitReason.SIGNAL, "12.75"),
    _trade(3, Direction.SHORT, 2_500, 2_999, ExitReason.END_OF_DATA, "-3.0234"),
]

SUMMARY = BacktestSummary(
    trades=4,
    wins=2,
    losses=2,
    win_rate=0.5,
    net_pnl=Decimal("13.35"),
    fees=Decimal("3.2"),
    funding=Decimal("-0.126"),
    max_drawdown_pct=7.891,
    initial_equity=Decimal("1000"),
    final_equity=Decimal("1013.35"),
    return_pct=1.336,
    profit_factor=2.7576,
    candles=N,
    first_candle_ms=START_MS,
    last_candle_ms=START_MS + STEP_MS * (N - 1),
    skipped_signals=5,
    elapsed_s=0.42,
)


def _equity() -> FloatArray:
    i = np.arange(N, dtype=np.float64)
    equity = 1000.0 + 0.004 * i + 20.0 * np.sin(i / 200.0)
    equity[2_000] = 900.0  # the deepest drawdown, one candle wide
    return equity


def _result(trades: list[TradeRecord] | None = None) -> BacktestResult:
    return BacktestResult(
        trades=TRADES if trades is None else trades,
        skipped=[],
        equity=_equity(),
        summary=SUMMARY,
    )


def _write(path: Path, *, title: str = "BTC-USDT 5m", max_points: int = 500) -> str:
    write_html_report(
        path,
        _candles(),
        _indicators(),
        _result(),
        title=title,
        adx_threshold=25.0,
        max_points_per_trace=max_points,
    )
    return path.read_text(encoding="utf-8")


def _plot_arguments(page: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Return the traces and the layout passed to the page's `Plotly.newPlot` call."""
    position = page.rindex("Plotly.newPlot(") + len("Plotly.newPlot(")
    decoder = json.JSONDecoder()
    arguments: list[Any] = []
    for _ in range(3):  # div id, traces, layout
        while page[position] in " \t\r\n,":
            position += 1
        value, position = decoder.raw_decode(page, position)
        arguments.append(value)
    return arguments[1], arguments[2]


def _numbers(field: Any) -> FloatArray:
    if isinstance(field, dict):
        raw = np.frombuffer(base64.b64decode(field["bdata"]), dtype=np.dtype(field["dtype"]))
        return raw.astype(np.float64)
    return np.asarray(field, dtype=np.float64)


def _times(field: list[str]) -> npt.NDArray[np.int64]:
    return np.asarray(field, dtype="datetime64[ms]").astype(np.int64)


def _trace(traces: list[dict[str, Any]], name: str) -> dict[str, Any]:
    matches = [trace for trace in traces if trace.get("name") == name]
    assert len(matches) == 1, f"expected one trace named {name!r}, got {len(matches)}"
    return matches[0]


def test_write_html_report_embeds_plotly_js_and_loads_no_external_script(tmp_path: Path) -> None:
    page = _write(tmp_path / "report.html")

    script_tags = re.findall(r"<script\b[^>]*>", page, flags=re.IGNORECASE)
    assert script_tags
    assert not [tag for tag in script_tags if "src" in tag.lower()]
    assert not re.search(r"<link\b[^>]*href=[\"']?https?:", page, flags=re.IGNORECASE)
    assert f"plotly.js v{plotly.offline.get_plotlyjs_version()}" in page
    assert len(page) > 3_000_000  # the library itself, not a loader stub


def test_write_html_report_shows_the_summary_figures_in_a_table(tmp_path: Path) -> None:
    page = _write(tmp_path / "report.html")

    for label, value in [
        ("Period", "2025-01-01 00:00 UTC to 2025-01-11 09:55 UTC (10.4 days)"),
        ("Candles", "3,000"),
        ("Trades", "4 (2 won, 2 lost)"),
        ("Win rate", "50.0 %"),
        ("Net P&amp;L", "+13.35 USDT"),
        ("Fees", "3.20 USDT"),
        ("Funding", "-0.13 USDT"),
        ("Max drawdown", "7.89 %"),
        ("Initial equity", "1,000.00 USDT"),
        ("Final equity", "1,013.35 USDT"),
        ("Return", "+1.34 %"),
        ("Profit factor", "2.76"),
        ("Skipped signals", "5"),
    ]:
        assert f"<tr><th>{label}</th><td>{value}</td></tr>" in page


def test_write_html_report_when_profit_factor_undefined_then_shows_na(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    summary = BacktestSummary(**{**_summary_fields(), "profit_factor": None})
    result = BacktestResult(trades=TRADES, skipped=[], equity=_equity(), summary=summary)

    write_html_report(path, _candles(), _indicators(), result, title="t")

    assert "<tr><th>Profit factor</th><td>n/a</td></tr>" in path.read_text(encoding="utf-8")


def _summary_fields() -> dict[str, Any]:
    return {name: getattr(SUMMARY, name) for name in BacktestSummary.__slots__}


def test_write_html_report_escapes_the_title(tmp_path: Path) -> None:
    page = _write(tmp_path / "report.html", title="BTC <script>alert(1)</script> & co")

    assert "<title>BTC &lt;script&gt;alert(1)&lt;/script&gt; &amp; co</title>" in page
    assert "<script>alert(1)" not in page


def test_write_html_report_marks_every_trade_entry_and_exit(tmp_path: Path) -> None:
    traces, _ = _plot_arguments(_write(tmp_path / "report.html"))

    for direction, name, symbol in [
        (Direction.LONG, "Long entry", "triangle-up"),
        (Direction.SHORT, "Short entry", "triangle-down"),
    ]:
        entries = [t for t in TRADES if t.direction is direction]
        trace = _trace(traces, name)
        assert trace["marker"]["symbol"] == symbol
        assert _times(trace["x"]).tolist() == [t.entry_time_ms for t in entries]
        assert _numbers(trace["y"]).tolist() == [float(t.entry_price) for t in entries]
    for name, won in [("Exit (win)", True), ("Exit (loss)", False)]:
        exits = [t for t in TRADES if (t.pnl > 0) is won]
        trace = _trace(traces, name)
        assert trace["marker"]["symbol"] == "x"
        assert _times(trace["x"]).tolist() == [t.exit_time_ms for t in exits]
        assert _numbers(trace["y"]).tolist() == [float(t.exit_price) for t in exits]
        for text, t in zip(trace["hovertext"], exits, strict=True):
            assert str(t.exit_reason) in text
            assert f"pnl {t.pnl:+,.2f} USDT" in text
    assert (
        _trace(traces, "Exit (win)")["marker"]["color"]
        != (_trace(traces, "Exit (loss)")["marker"]["color"])
    )


def test_write_html_report_bounds_points_per_trace_and_keeps_price_extremes(
    tmp_path: Path,
) -> None:
    candles = _candles()
    traces, _ = _plot_arguments(_write(tmp_path / "report.html", max_points=500))

    lines = [trace for trace in traces if trace.get("mode") == "lines"]
    assert {trace["name"] for trace in lines} == {
        "Close",
        "ADX",
        "+DI",
        "−DI",
        "Equity",
        "Drawdown",
    }
    for trace in lines:
        assert 250 <= len(trace["x"]) <= 500
        assert len(_numbers(trace["y"])) == len(trace["x"])
    close = _trace(traces, "Close")
    prices = _numbers(close["y"])
    assert prices.max() == 250.0
    assert prices.min() == 20.0
    times = _times(close["x"])
    assert times[0] == candles.open_time_ms[0]
    assert times[-1] == candles.open_time_ms[-1]
    assert np.all(np.diff(times) > 0)


def test_write_html_report_shows_drawdown_from_running_peak_with_its_deepest_point(
    tmp_path: Path,
) -> None:
    traces, _ = _plot_arguments(_write(tmp_path / "report.html", max_points=500))

    plotted = _numbers(_trace(traces, "Drawdown")["y"])
    assert plotted.min() == pytest.approx(drawdown_pct(_equity()).min())
    assert plotted.max() <= 0.0


def test_write_html_report_draws_dashed_adx_threshold_on_the_indicator_panel(
    tmp_path: Path,
) -> None:
    traces, layout = _plot_arguments(_write(tmp_path / "report.html"))

    adx_axis = _trace(traces, "ADX")["yaxis"]
    lines = [
        shape
        for shape in layout["shapes"]
        if shape["y0"] == shape["y1"] == 25.0 and shape["line"]["dash"] == "dash"
    ]
    assert len(lines) == 1
    assert lines[0]["yref"] == adx_axis.replace("yaxis", "y")
    assert {trace["xaxis"] for trace in traces} == {"x", "x2", "x3", "x4"}
    for axis in ("xaxis", "xaxis2", "xaxis3"):
        assert layout[axis]["matches"] == "x4"


def test_write_html_report_with_no_trades_writes_empty_marker_traces(tmp_path: Path) -> None:
    path = tmp_path / "report.html"

    write_html_report(path, _candles(), _indicators(), _result(trades=[]), title="t")

    traces, _ = _plot_arguments(path.read_text(encoding="utf-8"))
    assert _trace(traces, "Long entry")["x"] == []


def test_write_html_report_leaves_no_temporary_file(tmp_path: Path) -> None:
    _write(tmp_path / "report.html")

    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_write_html_report_replaces_an_existing_report_atomically(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text("old report", encoding="utf-8")

    with path.open(encoding="utf-8") as reader_of_old_report:
        page = _write(path)
        # A new file took the name; whoever had the old one open still reads all of it.
        assert reader_of_old_report.read() == "old report"

    assert page.startswith("<!DOCTYPE html>")
    assert page.rstrip().endswith("</html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_write_html_report_when_replace_fails_then_keeps_old_report_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "report.html"
    path.write_text("old report", encoding="utf-8")

    def failing_replace(src: object, dst: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk gone"):
        _write(path)

    assert path.read_text(encoding="utf-8") == "old report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_write_html_report_when_indicator_length_differs_then_raises_and_writes_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "report.html"
    indicators = {**_indicators(), "adx": np.zeros(N - 1)}

    with pytest.raises(ValueError, match="indicator 'adx'"):
        write_html_report(path, _candles(), indicators, _result(), title="t")

    assert list(tmp_path.iterdir()) == []


def test_downsample_min_max_keeps_short_series_whole() -> None:
    values = np.linspace(0.0, 1.0, 100)

    assert downsample_min_max(values, 100).tolist() == list(range(100))


def test_downsample_min_max_bounds_points_and_keeps_extremes_and_endpoints() -> None:
    rng = np.random.default_rng(7)
    values = np.cumsum(rng.normal(size=119_724))

    for max_points in (4, 5, 1_000, 20_000):
        keep = downsample_min_max(values, max_points)
        assert len(keep) <= max_points
        assert np.all(np.diff(keep) > 0)
        assert keep[0] == 0
        assert keep[-1] == len(values) - 1
        assert values[keep].min() == values.min()
        assert values[keep].max() == values.max()


def test_downsample_min_max_keeps_warm_up_nans_as_a_gap() -> None:
    values = np.arange(10_000, dtype=np.float64)
    values[:3_000] = np.nan

    kept = values[downsample_min_max(values, 200)]

    assert np.isnan(kept[0])
    assert np.nanmin(kept) == 3_000.0
    assert np.nanmax(kept) == 9_999.0


def test_downsample_min_max_when_max_points_below_four_then_raises() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        downsample_min_max(np.zeros(10), 3)


def test_write_html_report_with_no_candles_writes_an_empty_report(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    empty = _candles().slice(0, 0)
    summary = BacktestSummary(
        **{**_summary_fields(), "trades": 0, "wins": 0, "losses": 0, "candles": 0}
    )
    result = BacktestResult(trades=[], skipped=[], equity=np.zeros(0), summary=summary)

    write_html_report(path, empty, {}, result, title="nothing yet")

    page = path.read_text(encoding="utf-8")
    assert "<tr><th>Period</th><td>n/a</td></tr>" in page
    assert "<tr><th>Win rate</th><td>n/a</td></tr>" in page
    traces, _ = _plot_arguments(page)
    assert _trace(traces, "Close")["x"] == []
