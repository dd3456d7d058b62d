"""Files a backtest writes: trades.csv and summary.json, each written atomically."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from adxbot.atomic_file import write_atomically
from adxbot.backtest.results import BacktestResult

TRADE_COLUMNS = (
    "signal_time_ms",
    "entry_time_ms",
    "side",
    "entry_price",
    "qty",
    "exit_time_ms",
    "exit_price",
    "exit_reason",
    "pnl",
    "fees",
)

_MONEY_PLACES = Decimal("0.00000001")


def _money(value: Decimal) -> str:
    return str(value.quantize(_MONEY_PLACES).normalize())


def trades_csv(result: BacktestResult) -> str:
    """Render the trades as CSV text with the documented columns."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TRADE_COLUMNS)
    for trade in result.trades:
        writer.writerow(
            (
                trade.signal_time_ms,
                trade.entry_time_ms,
                trade.direction.value,
                str(trade.entry_price),
                str(trade.quantity),
                trade.exit_time_ms,
                str(trade.exit_price),
                trade.exit_reason.value,
                _money(trade.pnl),
                _money(trade.fees),
            )
        )
    return buffer.getvalue()


def summary_dict(result: BacktestResult) -> dict[str, Any]:
    """Return the summary as JSON-ready values (money as numbers rounded to 1e-8 USDT)."""
    out: dict[str, Any] = {}
    for key, value in asdict(result.summary).items():
        if isinstance(value, Decimal):
            out[key] = float(value.quantize(_MONEY_PLACES))
        elif isinstance(value, float):
            out[key] = round(value, 6)
        else:
            out[key] = value
    return out


def write_trades_csv(path: Path, result: BacktestResult) -> None:
    """Write trades.csv atomically."""
    write_atomically(path, trades_csv(result))


def write_summary_json(path: Path, result: BacktestResult) -> None:
    """Write summary.json atomically."""
    write_atomically(path, json.dumps(summary_dict(result), indent=2) + "\n")
