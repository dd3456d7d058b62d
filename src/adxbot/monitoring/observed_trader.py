"""A trader that reports each reconciliation's result, and is otherwise the trader itself."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager

from adxbot.domain.enums import Direction
from adxbot.execution.trader import (
    AccountStatus,
    ExecutionReport,
    MarketUpdate,
    ReconciliationReport,
    Signal,
    Trader,
)
from adxbot.persistence.records import ClosedTrade, TradingMode

log = logging.getLogger("adxbot.metrics")


class ReconciliationObserver:
    """Wrap a `Trader`: every reconciliation's report also goes to `on_report`."""

    def __init__(self, trader: Trader, on_report: Callable[[ReconciliationReport], None]) -> None:
        self.inner = trader
        self._on_report = on_report

    @property
    def mode(self) -> TradingMode:
        """Return the wrapped trader's mode."""
        return self.inner.mode

    def candle_scope(self) -> AbstractContextManager[None]:
        """Return the wrapped trader's candle scope."""
        return self.inner.candle_scope()

    async def execute_signal(self, signal: Signal) -> ExecutionReport:
        """Let the wrapped trader act on a signal."""
        return await self.inner.execute_signal(signal)

    async def monitor_positions(self, update: MarketUpdate) -> list[ClosedTrade]:
        """Let the wrapped trader process market data."""
        return await self.inner.monitor_positions(update)

    async def get_account_status(self) -> AccountStatus:
        """Return the wrapped trader's account."""
        return await self.inner.get_account_status()

    async def held_direction(self) -> Direction | None:
        """Return the wrapped trader's held direction."""
        return await self.inner.held_direction()

    async def close_all_positions(self, reason: str) -> list[ClosedTrade]:
        """Let the wrapped trader close everything."""
        return await self.inner.close_all_positions(reason)

    async def reconcile_positions(self) -> ReconciliationReport:
        """Reconcile through the wrapped trader and report the result."""
        report = await self.inner.reconcile_positions()
        try:
            self._on_report(report)
        except Exception as e:  # a metrics problem never disturbs trading
            log.error("recording a reconciliation failed: %s: %s", type(e).__name__, e)
        return report
