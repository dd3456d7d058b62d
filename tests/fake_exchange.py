"""A hand-driven exchange for the bot's candle loop: real candles, a time the test sets.

`FakeExchange` serves a `CandleSeries` as BingX's klines endpoint does (see
`adxbot.sim.market.Market.klines`): candles opening at or before the exchange's time,
the last one still forming (its four prices all equal to its open), the last `limit` of
them or, with `start_ms`, the first `limit` from it.  Its time (`time_ms`) only moves when
the test moves it.  Knobs make it misbehave: duplicates, missing candles, empty answers,
temporary errors, and answers that lag behind its own clock.

`monotonic(speed)` gives an `ExchangeClock` a local clock that runs `speed` times slower
than the exchange's: with `speed` 1 the bot measures delays in exchange time (BingX);
with a large `speed` the bot's sleeps until the next candle close last microseconds, and
every candle counts as just closed (an accelerated simulator).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from adxbot.domain.candles import CandleSeries, price_to_decimal
from adxbot.exchange.errors import TemporaryError
from adxbot.exchange.models import Kline


@dataclass(frozen=True, slots=True)
class KlineRequest:
    """One klines call as the bot made it, with the exchange's time when it was served."""

    limit: int
    start_ms: int | None
    end_ms: int | None
    served_at_ms: int


@dataclass(slots=True)
class FakeExchange:
    """One symbol's candles on a clock the test moves by hand."""

    candles: CandleSeries = field(repr=False)
    time_ms: int
    """The exchange's time (epoch ms); it moves only when the test moves it."""
    symbol: str = "BTC-USDT"
    interval: str = "5m"
    duplicate: bool = False
    """Return every candle of an answer twice."""
    rewind_candles: int = 0
    """Start answers to a `start_ms` request this many candles early (already sent ones)."""
    dropped: set[int] = field(default_factory=set)
    """Open times of candles the exchange does not have."""
    empty_answers: int = 0
    """Answer this many klines calls with no candle at all."""
    failures: int = 0
    """Raise `TemporaryError` on this many klines calls."""
    view_lag_ms: int = 0
    """Serve klines as of this long before `time_ms` (an exchange slow to roll a candle
    over): a candle that closed on the clock comes without its successor, still forming."""
    requests: list[KlineRequest] = field(default_factory=list, repr=False)
    _closed_cache: dict[int, Kline] = field(default_factory=dict, repr=False)

    @property
    def timeframe_ms(self) -> int:
        """Return the candle length of the series."""
        return int(self.candles.open_time_ms[1] - self.candles.open_time_ms[0])

    def open_ms(self, index: int) -> int:
        """Return the open time of candle `index` of the series."""
        return int(self.candles.open_time_ms[index])

    def now_ms(self) -> int:
        """Return the exchange's time (a `Clock`: the bot's wall clock reads it too)."""
        return self.time_ms

    def set_candle(self, index: int, offset_ms: int = 0) -> None:
        """Move the time to `offset_ms` after candle `index` opened (it is forming then)."""
        self.time_ms = self.open_ms(index) + offset_ms

    def now_index(self) -> int:
        """Return the index of the candle forming now."""
        return int(np.searchsorted(self.candles.open_time_ms, self.time_ms, side="right")) - 1

    def monotonic(self, speed: float) -> Callable[[], float]:
        """Return a local clock (seconds) running `speed` times slower than the exchange."""
        return lambda: self.time_ms / 1000 / speed

    # ------------------------------------------------------------------ the API
    async def server_time(self) -> int:
        """Return the exchange's time."""
        return self.time_ms

    async def klines(
        self,
        symbol: str,
        interval: str,
        *,
        limit: int = 500,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[Kline]:
        """Return candles in ascending order, the last one possibly still forming."""
        assert (symbol, interval) == (self.symbol, self.interval), (symbol, interval)
        await asyncio.sleep(0)  # a request lets other tasks run, as a real one does
        self.requests.append(KlineRequest(limit, start_ms, end_ms, self.time_ms))
        if self.failures > 0:
            self.failures -= 1
            raise TemporaryError("503 Service Unavailable (injected by the test)")
        if self.empty_answers > 0:
            self.empty_answers -= 1
            return []
        view = self.time_ms - self.view_lag_ms
        times = self.candles.open_time_ms
        end = view if end_ms is None else min(end_ms, view)
        last = int(np.searchsorted(times, end, side="right")) - 1
        if start_ms is None:  # the last `limit` candles up to `end`
            indices = self._present(range(last, -1, -1), limit)[::-1]
        else:  # the first `limit` candles from `start_ms`
            first = max(int(np.searchsorted(times, start_ms)) - self.rewind_candles, 0)
            indices = self._present(range(first, last + 1), limit)
        answer = [self._kline(k, view) for k in indices]
        if self.duplicate:
            answer = [kline for kline in answer for _ in range(2)]
        return answer

    def _present(self, candidates: range, limit: int) -> list[int]:
        """Return the first `limit` of `candidates` the exchange has (not dropped)."""
        found: list[int] = []
        for k in candidates:
            if len(found) >= limit:
                break
            if self.open_ms(k) not in self.dropped:
                found.append(k)
        return found

    def _kline(self, k: int, view_ms: int) -> Kline:
        open_ms = self.open_ms(k)
        if open_ms + self.timeframe_ms > view_ms:
            opening = price_to_decimal(float(self.candles.open[k]))
            return Kline(open_ms, opening, opening, opening, opening, Decimal(0))
        kline = self._closed_cache.get(k)
        if kline is None:
            s = self.candles
            kline = Kline(
                open_ms,
                price_to_decimal(float(s.open[k])),
                price_to_decimal(float(s.high[k])),
                price_to_decimal(float(s.low[k])),
                price_to_decimal(float(s.close[k])),
                price_to_decimal(float(s.volume[k])),
            )
            self._closed_cache[k] = kline
        return kline
