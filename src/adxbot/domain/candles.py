"""Candles as columns of numbers: the vectorised form the strategy and backtester share."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def price_to_decimal(value: float) -> Decimal:
    """Turn a candle price into the exact decimal the exchange printed (shortest repr)."""
    return Decimal(repr(float(value)))


@dataclass(frozen=True, slots=True)
class Bar:
    """One candle with exact decimal prices: what the matching engine processes."""

    open_time_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal


@dataclass(frozen=True, slots=True)
class CandleSeries:
    """Closed candles in ascending time order, one numpy column per field."""

    open_time_ms: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def __len__(self) -> int:
        return int(self.open_time_ms.shape[0])

    def bar(self, i: int) -> Bar:
        """Return candle `i` with exact decimal prices."""
        return Bar(
            open_time_ms=int(self.open_time_ms[i]),
            open=price_to_decimal(self.open[i]),
            high=price_to_decimal(self.high[i]),
            low=price_to_decimal(self.low[i]),
            close=price_to_decimal(self.close[i]),
        )

    def slice(self, start: int, stop: int) -> CandleSeries:
        """Return candles `start` (inclusive) to `stop` (exclusive) as views, without copying."""
        return CandleSeries(
            open_time_ms=self.open_time_ms[start:stop],
            open=self.open[start:stop],
            high=self.high[start:stop],
            low=self.low[start:stop],
            close=self.close[start:stop],
            volume=self.volume[start:stop],
        )

    @classmethod
    def from_rows(cls, rows: list[tuple[int, float, float, float, float, float]]) -> CandleSeries:
        """Build a series from (open_time_ms, open, high, low, close, volume) tuples."""
        if rows:
            times, opens, highs, lows, closes, volumes = zip(*rows, strict=True)
        else:
            times = opens = highs = lows = closes = volumes = ()
        return cls(
            open_time_ms=np.asarray(times, dtype=np.int64),
            open=np.asarray(opens, dtype=np.float64),
            high=np.asarray(highs, dtype=np.float64),
            low=np.asarray(lows, dtype=np.float64),
            close=np.asarray(closes, dtype=np.float64),
            volume=np.asarray(volumes, dtype=np.float64),
        )
