"""Equity curve and summary figures of a backtest.

- Equity is marked to market at every candle close: the wallet balance after that
  candle's fills plus the open position's unrealised P&L at the close.
- Max drawdown is the largest fall of that curve from its running peak, in percent of
  the peak.
- A win is a trade whose net P&L (after both fees and funding) is above zero; every other
  trade counts as a loss.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from adxbot.backtest.results import BacktestSummary, TradeRecord
from adxbot.domain.candles import CandleSeries, FloatArray, IntArray

ZERO = Decimal(0)


def equity_curve(
    closes: FloatArray,
    trades: list[TradeRecord],
    balance_points: tuple[IntArray, FloatArray],
    initial_balance: float,
) -> FloatArray:
    """Return equity at each candle close from balance changes and the trades' open spans."""
    n = int(closes.shape[0])
    indices, balances = balance_points
    equity = np.full(n, initial_balance, dtype=np.float64)
    if indices.shape[0]:
        # balance at candle j = the last recorded balance at an index <= j
        slot = np.searchsorted(indices, np.arange(n), side="right") - 1
        known = slot >= 0
        equity[known] = balances[slot[known]]
    for trade in trades:
        start, stop = trade.entry_index, trade.exit_index
        if stop > start:
            sign = 1.0 if trade.direction.sign > 0 else -1.0
            quantity = float(trade.quantity)
            entry = float(trade.entry_price)
            equity[start:stop] += sign * quantity * (closes[start:stop] - entry)
    return equity


def max_drawdown_pct(equity: FloatArray) -> float:
    """Return the largest peak-to-trough fall of `equity`, in percent of the peak."""
    if equity.shape[0] == 0:
        return 0.0
    peaks = np.maximum.accumulate(equity)
    drawdowns = (peaks - equity) / peaks
    return float(drawdowns.max() * 100.0)


def summarize(
    trades: list[TradeRecord],
    skipped_signals: int,
    equity: FloatArray,
    candles: CandleSeries,
    *,
    initial: Decimal,
    final: Decimal,
    elapsed_s: float,
) -> BacktestSummary:
    """Compute the headline figures."""
    wins = [t for t in trades if t.pnl > 0]
    gross_win = sum((t.pnl for t in wins), ZERO)
    gross_loss = -sum((t.pnl for t in trades if t.pnl <= 0), ZERO)
    funding = sum((t.funding for t in trades), ZERO)
    n = len(candles)
    return BacktestSummary(
        trades=len(trades),
        wins=len(wins),
        losses=len(trades) - len(wins),
        win_rate=len(wins) / len(trades) if trades else 0.0,
        net_pnl=final - initial,
        fees=sum((t.fees for t in trades), ZERO),
        funding=funding,
        max_drawdown_pct=max_drawdown_pct(equity),
        initial_equity=initial,
        final_equity=final,
        return_pct=float((final - initial) / initial * 100),
        profit_factor=float(gross_win / gross_loss) if gross_loss > 0 else None,
        candles=n,
        first_candle_ms=int(candles.open_time_ms[0]) if n else 0,
        last_candle_ms=int(candles.open_time_ms[-1]) if n else 0,
        skipped_signals=skipped_signals,
        elapsed_s=elapsed_s,
    )
