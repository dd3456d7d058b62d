"""What a backtest produces: closed trades, the equity curve and the summary figures."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from adxbot.domain.candles import FloatArray
from adxbot.domain.enums import Direction, ExitReason


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """One round trip: entry fill to exit fill.  `pnl` is net of both fees and funding."""

    signal_time_ms: int
    entry_time_ms: int
    direction: Direction
    entry_price: Decimal
    quantity: Decimal
    exit_time_ms: int
    exit_price: Decimal
    exit_reason: ExitReason
    pnl: Decimal
    fees: Decimal
    entry_index: int
    exit_index: int
    funding: Decimal = Decimal(0)
    """Funding received (+) or paid (-) while the position was open; included in `pnl`."""


@dataclass(frozen=True, slots=True)
class SkippedSignal:
    """An entry signal the risk manager declined, with its reason."""

    signal_time_ms: int
    direction: Direction
    reason: str


@dataclass(frozen=True, slots=True)
class BacktestSummary:
    """The headline figures of a backtest (the keys of summary.json)."""

    trades: int
    wins: int
    losses: int
    win_rate: float
    net_pnl: Decimal
    fees: Decimal
    funding: Decimal
    max_drawdown_pct: float
    initial_equity: Decimal
    final_equity: Decimal
    return_pct: float
    profit_factor: float | None
    candles: int
    first_candle_ms: int
    last_candle_ms: int
    skipped_signals: int
    elapsed_s: float


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """Everything a backtest produced.  `equity[k]` is the equity at candle k's close."""

    trades: list[TradeRecord]
    skipped: list[SkippedSignal]
    equity: FloatArray
    summary: BacktestSummary
