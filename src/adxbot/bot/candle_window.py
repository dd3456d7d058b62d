"""The closed candles the bot keeps for its indicators: a bounded, ordered window."""

from __future__ import annotations

from collections import deque

import numpy as np

from adxbot.domain.candles import Bar, CandleSeries


class CandleWindow:
    """The most recent `size` closed candles, oldest first."""

    def __init__(self, size: int) -> None:
        self._times: deque[int] = deque(maxlen=size)
        self._prices: deque[tuple[float, float, float, float]] = deque(maxlen=size)

    def __len__(self) -> int:
        return len(self._times)

    @property
    def last_open_ms(self) -> int | None:
        """Return the open time of the newest candle, or None when empty."""
        return self._times[-1] if self._times else None

    def append(self, bar: Bar) -> None:
        """Add a newly closed candle; it must be newer than the last one."""
        last = self.last_open_ms
        if last is not None and bar.open_time_ms <= last:
            raise ValueError(f"candle {bar.open_time_ms} is not newer than {last}")
        self._times.append(bar.open_time_ms)
        self._prices.append((float(bar.open), float(bar.high), float(bar.low), float(bar.close)))

    def drop_last(self) -> None:
        """Remove the newest candle (its step failed and will be taken again)."""
        self._times.pop()
        self._prices.pop()

    def series(self) -> CandleSeries:
        """Return the window as numpy columns for the strategy."""
        prices = np.array(self._prices, dtype=np.float64).reshape(-1, 4)
        return CandleSeries(
            open_time_ms=np.array(self._times, dtype=np.int64),
            open=prices[:, 0],
            high=prices[:, 1],
            low=prices[:, 2],
            close=prices[:, 3],
            volume=np.zeros(len(self._times), np.float64),
        )
