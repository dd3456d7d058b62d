"""Where the simulated market's candles come from: a replayed file or a seeded generator."""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from adxbot.domain.candles import CandleSeries
from adxbot.errors import DataError


class CandleSource(Protocol):
    """Candles in time order, addressed by open time."""

    timeframe_ms: int

    @property
    def first_open_ms(self) -> int:
        """Return the open time of the first candle."""
        ...

    def index_at(self, time_ms: int) -> int:
        """Return the index of the last candle opening at or before `time_ms` (-1 if none)."""
        ...

    def series(self, stop: int) -> CandleSeries:
        """Return candles 0..stop-1 (generating them if needed)."""
        ...

    def is_exhausted(self, time_ms: int) -> bool:
        """Return True when `time_ms` is past the last candle the source can give."""
        ...


class ReplaySource:
    """Replays a candle series; after its end, the last close stands still."""

    def __init__(self, candles: CandleSeries, timeframe_ms: int) -> None:
        if len(candles) == 0:
            raise ValueError("a replay needs at least one candle")
        spacing = int(np.diff(candles.open_time_ms).min()) if len(candles) > 1 else timeframe_ms
        if spacing != timeframe_ms:  # else each candle's path is cut short or left flat
            raise DataError(
                f"the candles are {spacing // 60_000}m apart but the market's timeframe is "
                f"{timeframe_ms // 60_000}m: replay a file of {timeframe_ms // 60_000}m candles"
            )
        self._candles = candles
        self.timeframe_ms = timeframe_ms

    @property
    def first_open_ms(self) -> int:
        """Return the open time of the first candle."""
        return int(self._candles.open_time_ms[0])

    def index_at(self, time_ms: int) -> int:
        """Return the index of the last candle opening at or before `time_ms`."""
        return int(np.searchsorted(self._candles.open_time_ms, time_ms, side="right")) - 1

    def series(self, stop: int) -> CandleSeries:
        """Return candles 0..stop-1."""
        return self._candles.slice(0, min(stop, len(self._candles)))

    def is_exhausted(self, time_ms: int) -> bool:
        """Return True once the last candle has closed."""
        return time_ms >= int(self._candles.open_time_ms[-1]) + self.timeframe_ms


class SyntheticSource:
    """A seeded random market with trend and volatility regimes, so ADX signals occur.

    Log-returns per candle are drawn from a normal distribution whose drift and volatility
    switch between regimes (quiet range, trending up, trending down, volatile) every few
    hundred candles.  Each candle's high and low extend beyond its open and close by a
    random share of the regime's volatility; prices sit on a 0.1 tick.  The same seed
    always gives the same market.
    """

    _BLOCK = 2_048
    _REGIMES = (  # (drift per candle, volatility per candle)
        (0.0, 0.0012),
        (0.0006, 0.0015),
        (-0.0006, 0.0015),
        (0.0, 0.0035),
    )

    def __init__(
        self, seed: int, start_ms: int, timeframe_ms: int, start_price: float = 60_000.0
    ) -> None:
        self.timeframe_ms = timeframe_ms
        self._start_ms = start_ms - start_ms % timeframe_ms
        self._rng = np.random.default_rng(seed)
        self._last_close = start_price
        self._regime = 0
        self._regime_left = 0
        self._columns: list[np.typing.NDArray[np.float64]] = []
        self._count = 0

    @property
    def first_open_ms(self) -> int:
        """Return the open time of the first candle."""
        return self._start_ms

    def index_at(self, time_ms: int) -> int:
        """Return the index of the candle covering `time_ms`."""
        return math.floor((time_ms - self._start_ms) / self.timeframe_ms)

    def is_exhausted(self, time_ms: int) -> bool:
        """Return False: the generator never runs out."""
        return False

    def series(self, stop: int) -> CandleSeries:
        """Return candles 0..stop-1, generating blocks as needed."""
        while self._count < stop:
            self._generate_block()
        block = np.concatenate(self._columns, axis=0)[:stop]
        times = self._start_ms + np.arange(stop, dtype=np.int64) * self.timeframe_ms
        return CandleSeries(
            open_time_ms=times,
            open=block[:, 0].copy(),
            high=block[:, 1].copy(),
            low=block[:, 2].copy(),
            close=block[:, 3].copy(),
            volume=block[:, 4].copy(),
        )

    def _generate_block(self) -> None:
        rng = self._rng
        rows = np.empty((self._BLOCK, 5), dtype=np.float64)
        close = self._last_close
        for i in range(self._BLOCK):
            if self._regime_left <= 0:
                self._regime = int(rng.integers(len(self._REGIMES)))
                self._regime_left = int(rng.integers(150, 600))
            self._regime_left -= 1
            drift, vol = self._REGIMES[self._regime]
            open_ = close
            close = open_ * math.exp(drift + vol * float(rng.standard_normal()))
            wick_up, wick_down = rng.exponential(vol * 0.6, size=2)
            high = max(open_, close) * (1 + float(wick_up))
            low = min(open_, close) * (1 - float(wick_down))
            rows[i] = (
                round(open_, 1),
                round(high, 1),
                round(low, 1),
                round(close, 1),
                round(float(rng.gamma(2.0, 50.0)), 4),
            )
            rows[i, 1] = max(rows[i, 1], rows[i, 0], rows[i, 3])
            rows[i, 2] = min(rows[i, 2], rows[i, 0], rows[i, 3])
        self._last_close = float(rows[-1, 3])
        self._columns.append(rows)
        self._count += self._BLOCK
