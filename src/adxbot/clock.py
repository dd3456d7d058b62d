"""Injected time.  Every component asks a `Clock`; nothing calls `time.time()` itself."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """A source of the current time in epoch milliseconds (UTC)."""

    def now_ms(self) -> int:
        """Return the current time in milliseconds since the Unix epoch."""
        ...


class WallClock:
    """The machine's real-time clock."""

    def now_ms(self) -> int:
        """Return the system time in epoch milliseconds."""
        return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that only moves when told to: for tests, backtests and stepped simulations."""

    def __init__(self, start_ms: int = 0) -> None:
        self._now_ms = start_ms

    def now_ms(self) -> int:
        """Return the time the clock was last set or advanced to."""
        return self._now_ms

    def advance(self, ms: int) -> None:
        """Move the clock forward by `ms` milliseconds (never backwards)."""
        if ms < 0:
            raise ValueError(f"a clock cannot go backwards (advance by {ms} ms)")
        self._now_ms += ms

    def set(self, now_ms: int) -> None:
        """Jump to `now_ms`, which must not be earlier than the current time."""
        if now_ms < self._now_ms:
            raise ValueError(f"a clock cannot go backwards ({now_ms} < {self._now_ms})")
        self._now_ms = now_ms
