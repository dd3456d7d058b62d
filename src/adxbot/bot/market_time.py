"""Market time: the close time of the candle the bot is processing.

The trader and the circuit breakers date what they record (fills, trades, trips, the UTC
day of the daily-loss limit) by the market, not by when the bot got round to it.  Live
on BingX the two differ by a second; when a bot catches up on several candles (after a
slow request, or against an accelerated simulator) they can differ by hours, and a trip
dated by the candle that caused it is the only meaningful date.
"""

from __future__ import annotations

from adxbot.clock import Clock


class MarketTime:
    """A clock the candle loop moves forward; before the first candle it reads `initial`."""

    def __init__(self, initial: Clock) -> None:
        self._initial = initial
        self._now_ms: int | None = None

    def now_ms(self) -> int:
        """Return the close time of the latest candle processed (or the initial clock)."""
        return self._initial.now_ms() if self._now_ms is None else self._now_ms

    def advance_to(self, time_ms: int) -> None:
        """Move to `time_ms`; market time never goes back."""
        if self._now_ms is None or time_ms > self._now_ms:
            self._now_ms = time_ms


def last_market_time(last_candle_ms: str | None, timeframe_ms: int, wall: Clock) -> MarketTime:
    """Return the market time a bot last reached (its last candle's close), for tools that
    act on its database from outside (`adxbot halt`, `reset-breaker`); the wall clock when
    the bot has processed no candle yet."""
    market = MarketTime(wall)
    if last_candle_ms is not None:
        market.advance_to(int(last_candle_ms) + timeframe_ms)
    return market
