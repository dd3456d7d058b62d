"""The backtester: the strategy, the risk manager and the matching engine over historical candles.

Per candle `k` that matters it runs the steps of `SimulatedAccount` (the account the
paper trader runs too): open the candle (funding, market fills), close it (resting
orders against its range), then take the strategy's action for it.

Candles on which nothing can happen (flat and no signal; or in a position, no signal, no
funding time and a range that reaches no resting order) are skipped with a vectorised scan.
`visit_every_candle=True` processes every candle instead: the tests use it as the oracle
that the fast path must match, and trailing stops need it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from adxbot.backtest.results import BacktestResult
from adxbot.backtest.scan import first_touch
from adxbot.backtest.stats import equity_curve, summarize
from adxbot.config import BotConfig
from adxbot.domain.candles import CandleSeries
from adxbot.domain.enums import Direction, ExitReason
from adxbot.execution.simulated_account import FUNDING_INTERVAL_MS, SimulatedAccount
from adxbot.strategy.base import Action, Strategy


@dataclass(slots=True)
class _BalancePoints:
    indices: list[int] = field(default_factory=list)
    balances: list[float] = field(default_factory=list)

    def arrays(self) -> tuple[np.typing.NDArray[np.int64], np.typing.NDArray[np.float64]]:
        return (
            np.asarray(self.indices, dtype=np.int64),
            np.asarray(self.balances, dtype=np.float64),
        )


class Backtester:
    """Runs one strategy over one candle series with one configuration."""

    def __init__(
        self,
        config: BotConfig,
        strategy: Strategy,
        *,
        visit_every_candle: bool = False,
        trade_from_ms: int | None = None,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        """`trade_from_ms`: ignore signals on candles opening before it (extra warm-up)."""
        self._config = config
        self._strategy = strategy
        self._per_candle = visit_every_candle or config.exit_strategy.trailing_stop
        self._funding_rate = config.fees.funding_rate_per_8h
        self._trade_from_ms = trade_from_ms
        self._timer = timer

    def run(self, candles: CandleSeries) -> BacktestResult:
        """Backtest `candles` and return the trades, skipped signals, equity and summary."""
        started = self._timer()
        n = len(candles)
        account = SimulatedAccount(self._config)
        engine = account.engine
        balance_points = _BalancePoints()
        signals = self._strategy.signals(candles)
        first_signal = (
            0
            if self._trade_from_ms is None
            else int(np.searchsorted(candles.open_time_ms, self._trade_from_ms))
        )
        events = {
            position: np.flatnonzero(signals.column(position)[first_signal:] != Action.HOLD)
            + first_signal
            for position in (None, *_DIRECTIONS)
        }
        funding_times = (
            np.flatnonzero(candles.open_time_ms % FUNDING_INTERVAL_MS == 0)
            if self._funding_rate != 0
            else None
        )

        def next_candle(start: int) -> int:
            if self._per_candle or engine.has_waiting_market_orders():
                return start
            trade = account.open_trade
            found = _next_at_or_after(events[None if trade is None else trade.direction], start, n)
            bounds = engine.trigger_bounds()
            if bounds.falling is not None or bounds.rising is not None:
                touch = first_touch(
                    candles.low,
                    candles.high,
                    start,
                    None if bounds.falling is None else float(bounds.falling),
                    None if bounds.rising is None else float(bounds.rising),
                )
                found = min(found, touch)
            if trade is not None and funding_times is not None:
                found = min(found, _next_at_or_after(funding_times, start, n))
            return found

        k = next_candle(0)
        while k < n:
            bar = candles.bar(k)
            balance_before = engine.balance
            account.open_candle(bar.open, bar.open_time_ms, k)
            account.close_candle(bar, k)
            if engine.balance != balance_before:
                balance_points.indices.append(k)
                balance_points.balances.append(float(engine.balance))
            if k >= first_signal:
                trade = account.open_trade
                action = signals.action(k, None if trade is None else trade.direction)
                if action is not Action.HOLD:
                    account.act(action, bar)
            k = next_candle(k + 1)

        if n:
            last = candles.bar(n - 1)
            balance_before = engine.balance
            account.close_at(last.close, last.open_time_ms, n - 1, ExitReason.END_OF_DATA)
            if engine.balance != balance_before:
                balance_points.indices.append(n - 1)
                balance_points.balances.append(float(engine.balance))
        equity = equity_curve(
            candles.close,
            account.trades,
            balance_points.arrays(),
            float(self._config.initial_capital),
        )
        elapsed = self._timer() - started
        summary = summarize(
            account.trades,
            len(account.skipped),
            equity,
            candles,
            initial=self._config.initial_capital,
            final=engine.balance,
            elapsed_s=elapsed,
        )
        return BacktestResult(account.trades, account.skipped, equity, summary)


_DIRECTIONS = tuple(Direction)


def _next_at_or_after(indices: np.typing.NDArray[np.int64], start: int, n: int) -> int:
    position = int(np.searchsorted(indices, start))
    return int(indices[position]) if position < indices.shape[0] else n
