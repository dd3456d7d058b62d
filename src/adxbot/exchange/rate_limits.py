"""BingX's rate limits, declared as data, enforced by one limiter before each request.

Limits (shared/spec/bingx-api.md §8): per account, place order 10/s and most other
private endpoints 5/s (margin type, position mode and the listen key 2/s; klines 5/s);
per IP, market data 500 per 10 s and account endpoints 2000 per 10 s.  A request takes
one slot of every rule it falls under; when a rule is full the request waits until its
oldest slot expires.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rule:
    """At most `limit` requests in any `period_s` seconds (per endpoint, or shared)."""

    name: str
    limit: int
    period_s: float
    per_endpoint: bool = False


MARKET_IP = Rule("market data per IP", 500, 10.0)
ACCOUNT_IP = Rule("account per IP", 2000, 10.0)
ORDER_PER_ACCOUNT = Rule("place order per account", 10, 1.0, per_endpoint=True)
PRIVATE_PER_ACCOUNT = Rule("private endpoint per account", 5, 1.0, per_endpoint=True)
SETTINGS_PER_ACCOUNT = Rule("settings endpoint per account", 2, 1.0, per_endpoint=True)
STREAM_PER_ACCOUNT = Rule("user data stream per account", 2, 1.0, per_endpoint=True)
KLINES = Rule("klines", 5, 1.0, per_endpoint=True)


class RateLimiter:
    """Sliding-window limiter over named rules, shared by every request of a client."""

    def __init__(
        self,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
        margin_s: float = 0.1,
    ) -> None:
        self._monotonic = monotonic
        self._sleep = sleep or asyncio.sleep
        # Each window is held `margin_s` longer than BingX's: BingX counts a request when it
        # arrives, and a later request can arrive sooner after its send than an earlier one.
        self._margin_s = margin_s
        self._windows: dict[tuple[str, str], deque[float]] = {}
        self._lock = asyncio.Lock()

    async def acquire(self, rules: tuple[Rule, ...], scope: str = "") -> None:
        """Wait until one more request fits every rule, then take it; `scope` names the endpoint."""
        while True:
            async with self._lock:
                now = self._monotonic()
                wait = 0.0
                for rule in rules:
                    period = rule.period_s + self._margin_s
                    window = self._window(rule, scope)
                    while window and now - window[0] >= period:
                        window.popleft()
                    if len(window) >= rule.limit:
                        wait = max(wait, period - (now - window[0]))
                if wait <= 0:
                    for rule in rules:
                        self._window(rule, scope).append(now)
                    return
            # Sleep outside the lock: a full window of one endpoint must not hold up others.
            await self._sleep(wait)  # type: ignore[misc]

    def _window(self, rule: Rule, scope: str) -> deque[float]:
        key = (rule.name, scope if rule.per_endpoint else "")
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = deque()
        return window
