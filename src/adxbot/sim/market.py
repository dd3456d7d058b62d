"""The simulated market: the price at any moment, and the path it took between two moments.

Inside each candle the price walks in straight lines through four points: the open at the
candle's open time, then the low and the high (low first when the candle closed at or
above its open, high first otherwise) at one third and two thirds of the candle, and the
close at its end.  The next candle starts from its own open, so a difference between a
close and the next open is a gap, exactly as in the data.

A price *jump* (fault injection) multiplies every price from its moment on by a factor.

The matching engine sees this path as a chain of small bars (one per straight leg, split
at jumps), so its gap and touch rules apply as they do in backtests.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass
from decimal import Decimal

from adxbot.domain.candles import Bar, CandleSeries
from adxbot.domain.instrument import Instrument, Rounding
from adxbot.sim.clock import SimClock
from adxbot.sim.feed import CandleSource

_GROW = 4_096


@dataclass(frozen=True, slots=True)
class Kline:
    """One candle as the klines endpoint reports it (the last one may still be forming)."""

    open_time_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


class Market:
    """One symbol's market on the simulator's clock."""

    def __init__(
        self, symbol: str, source: CandleSource, clock: SimClock, instrument: Instrument
    ) -> None:
        self.symbol = symbol
        self.instrument = instrument
        self.clock = clock
        self._source = source
        self._series: CandleSeries = source.series(_GROW)
        self._jump_times: list[int] = []
        self._jump_factors: list[float] = [1.0]

    @property
    def timeframe_ms(self) -> int:
        """Return the candle length of the source."""
        return self._source.timeframe_ms

    @property
    def first_open_ms(self) -> int:
        """Return when the source's first candle opens."""
        return self._source.first_open_ms

    def now_ms(self) -> int:
        """Return the simulated time."""
        return self.clock.now_ms()

    def jump(self, percent: float) -> None:
        """Multiply every price from now on by (1 + percent / 100)."""
        factor = self._jump_factors[-1] * (1 + percent / 100)
        if factor <= 0:
            raise ValueError(f"a jump of {percent} % would make prices non-positive")
        self._jump_times.append(self.now_ms())
        self._jump_factors.append(factor)

    def price_at(self, time_ms: int) -> Decimal:
        """Return the last price at `time_ms`, on the tick grid."""
        return self._to_price(self._raw_at(time_ms) * self._factor_at(time_ms))

    def last_price(self) -> Decimal:
        """Return the price now."""
        return self.price_at(self.now_ms())

    def bars_between(self, start_ms: int, end_ms: int) -> list[Bar]:
        """Return the path from `start_ms` (exclusive) to `end_ms` as small bars."""
        if end_ms <= start_ms:
            return []
        cuts = {start_ms, end_ms}
        first = max(self._index_at(start_ms), 0)
        last = self._index_at(end_ms)
        for k in range(first, last + 1):
            for t, _ in self._points(k):
                if start_ms < t < end_ms:
                    cuts.add(t)
        for t in self._jump_times:
            if start_ms < t < end_ms:
                cuts.add(t)
        times = sorted(cuts)
        bars: list[Bar] = []
        for a, b in itertools.pairwise(times):
            opening = self.price_at(a)  # right limit: a new candle starts at its open
            closing = self._price_before(b)  # left limit: a leg ends at its own price
            bars.append(
                Bar(
                    open_time_ms=a,
                    open=opening,
                    high=max(opening, closing),
                    low=min(opening, closing),
                    close=closing,
                )
            )
        return bars

    def klines(self, end_ms: int, limit: int, start_ms: int | None = None) -> list[Kline]:
        """Return up to `limit` candles opening at or before `end_ms` (the last may be forming)."""
        now = self.now_ms()
        end = min(end_ms, now)
        last = self._index_at(end)
        if last < 0:
            return []
        first = max(0, last - limit + 1)
        if start_ms is not None:
            first = max(0, self._index_at(start_ms - 1) + 1)  # `limit` candles from start
            last = min(last, first + limit - 1)
        return [self._kline(k, now) for k in range(first, last + 1)]

    # ---------------------------------------------------------------- internals
    def _ensure(self, index: int) -> None:
        if index >= len(self._series):
            self._series = self._source.series(index + _GROW)

    def _index_at(self, time_ms: int) -> int:
        index = self._source.index_at(time_ms)
        self._ensure(index)
        return min(index, len(self._series) - 1)

    def _points(self, k: int) -> list[tuple[int, float]]:
        s = self._series
        t0 = int(s.open_time_ms[k])
        tf = self.timeframe_ms
        o, h, low, c = float(s.open[k]), float(s.high[k]), float(s.low[k]), float(s.close[k])
        first, second = (low, h) if c >= o else (h, low)
        return [(t0, o), (t0 + tf // 3, first), (t0 + 2 * tf // 3, second), (t0 + tf, c)]

    def _raw_at(self, time_ms: int) -> float:
        k = self._index_at(time_ms)
        if k < 0:
            return float(self._series.open[0])
        return self._along(k, time_ms)

    def _along(self, k: int, time_ms: int) -> float:
        points = self._points(k)
        if time_ms >= points[-1][0]:
            return points[-1][1]  # a gap in the data or the end of a replay: hold the close
        for (ta, pa), (tb, pb) in itertools.pairwise(points):
            if ta <= time_ms <= tb:
                return pa + (pb - pa) * (time_ms - ta) / (tb - ta)
        return points[0][1]

    def _factor_at(self, time_ms: int) -> float:
        return self._jump_factors[bisect.bisect_right(self._jump_times, time_ms)]

    def _price_before(self, time_ms: int) -> Decimal:
        k = self._index_at(time_ms - 1)
        raw = float(self._series.open[0]) if k < 0 else self._along(k, time_ms)
        return self._to_price(raw * self._factor_at(time_ms - 1))

    def _to_price(self, value: float) -> Decimal:
        return self.instrument.round_price(Decimal(repr(value)), Rounding.NEAREST)

    def _kline(self, k: int, now: int) -> Kline:
        s = self._series
        t0 = int(s.open_time_ms[k])
        t_end = min(t0 + self.timeframe_ms, now)
        samples = {t for t, _ in self._points(k) if t0 < t < t_end}
        samples |= {t for t in self._jump_times if t0 < t < t_end}
        opening = self.price_at(t0)
        prices = [opening]
        for t in sorted(samples):
            prices += [self._price_before(t), self.price_at(t)]
        closing = self._price_before(t_end) if t_end > t0 else opening
        prices.append(closing)
        share = Decimal(min(1.0, (t_end - t0) / self.timeframe_ms))
        volume = (Decimal(repr(float(s.volume[k]))) * share).quantize(Decimal("0.0001"))
        return Kline(t0, opening, max(prices), min(prices), closing, volume)
