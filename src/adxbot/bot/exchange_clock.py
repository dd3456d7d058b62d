"""The exchange's clock as the bot sees it: offset *and* rate, measured by round trips.

Candle closes are decided on the exchange's time, never the machine's.  BingX's clock
runs at the rate of ours, but the exchange simulator can run faster; measuring the rate
lets the same bot follow either without being told which it talks to.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable

from adxbot.clock import Clock

_RATE_SNAP = 0.02
"""A measured rate within 2 % of 1 is taken as exactly 1 (network jitter, not a fast clock)."""
_MIN_SPAN_S = 1.0
"""Samples closer than this in local time say nothing reliable about the rate."""


class ExchangeClock:
    """Estimates the exchange's time between the round trips that measure it."""

    def __init__(
        self,
        fetch_server_ms: Callable[[], Awaitable[int]],
        *,
        fallback: Clock,
        monotonic: Callable[[], float] = time.monotonic,
        samples: int = 16,
    ) -> None:
        """`fallback` answers `now_ms` until the first round trip has measured the exchange."""
        self._fetch = fetch_server_ms
        self._fallback = fallback
        self._monotonic = monotonic
        self._samples: deque[tuple[float, int]] = deque(maxlen=samples)
        self.rate = 1.0
        """Exchange milliseconds per local millisecond (1.0 for BingX)."""
        self._rate_measured = False

    @property
    def rate_measured(self) -> bool:
        """Return True once round trips at least a second apart have measured the rate."""
        return self._rate_measured

    @property
    def synced(self) -> bool:
        """Return True once at least one round trip measured the exchange's time."""
        return bool(self._samples)

    async def sync(self) -> int:
        """Ask the exchange for its time, update offset and rate; return the time."""
        sent = self._monotonic()
        server_ms = await self._fetch()
        received = self._monotonic()
        self._samples.append(((sent + received) / 2, server_ms))
        self._update_rate()
        return server_ms

    def now_ms(self) -> int:
        """Return the estimated exchange time in epoch milliseconds."""
        if not self._samples:
            return self._fallback.now_ms()
        local, server_ms = self._samples[-1]
        return server_ms + int((self._monotonic() - local) * 1000 * self.rate)

    def seconds_until(self, exchange_ms: int) -> float:
        """Return the local seconds until the exchange's clock reaches `exchange_ms` (≥ 0)."""
        return max(0.0, (exchange_ms - self.now_ms()) / 1000 / self.rate)

    def _update_rate(self) -> None:
        first_local, first_server = self._samples[0]
        last_local, last_server = self._samples[-1]
        span = last_local - first_local
        if span < _MIN_SPAN_S:
            return
        measured = (last_server - first_server) / (span * 1000)
        self._rate_measured = True
        # An exchange clock never runs slower than ours; a paused simulator may seem to.
        self.rate = 1.0 if measured < 1 + _RATE_SNAP else measured
