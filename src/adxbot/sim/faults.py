"""Fault injection: the failures a live bot must survive, on demand.

Each request may be hit by one fault, chosen first from the schedule (the next N requests
whose path contains a given text) and otherwise at random by the configured rates:

- `http_5xx`: HTTP 502 with an HTML body (a gateway failure), not executed;
- `busy`: BingX error 100500 "system busy" in an HTTP 200 envelope, not executed;
- `rate_limit`: BingX error 100410 (HTTP 200), not executed;
- `http_429`: HTTP 429, not executed;
- `drop`: the connection is cut before the request is executed;
- `hang`: the answer is held back for `timeout_s` seconds and the request is NOT executed
  (it never reached the matching engine: the client times out all the same);
- `timeout`: the request IS executed, but the answer is held back for `timeout_s`
  seconds (the dangerous case: the client cannot know the outcome);
- `drop_after`: the request IS executed, then the connection is cut mid-answer.

Latency (plus uniform jitter) is added to every request.  `disconnect(seconds)` drops
every request for that long.  Order-level faults (reject the next N orders with a code,
make closes fail) live in `SimExchange.faults`.
"""

from __future__ import annotations

import random
from collections import Counter, deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from adxbot.clock import Clock


class FaultKind(StrEnum):
    """The kinds of request-level fault."""

    HTTP_5XX = "http_5xx"
    BUSY = "busy"
    RATE_LIMIT = "rate_limit"
    HTTP_429 = "http_429"
    DROP = "drop"
    HANG = "hang"
    TIMEOUT = "timeout"
    DROP_AFTER = "drop_after"

    @property
    def executes(self) -> bool:
        """Return True when the request still reaches the exchange."""
        return self in (FaultKind.TIMEOUT, FaultKind.DROP_AFTER)


@dataclass(slots=True)
class FaultSettings:
    """Random faults: rates are probabilities per request (0..1)."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    rates: dict[FaultKind, float] = field(default_factory=dict)
    timeout_s: float = 30.0
    path_contains: str = ""
    """Only requests whose path contains this text are hit by random faults ('' = all)."""


@dataclass(frozen=True, slots=True)
class ScheduledFault:
    """A fault for the next matching request."""

    kind: FaultKind
    path_contains: str = ""


class FaultInjector:
    """Decides, per request, whether and how it fails."""

    def __init__(self, wall: Clock, seed: int = 0) -> None:
        self._wall = wall
        self._random = random.Random(seed)  # noqa: S311 - fault timing, not cryptography
        self.settings = FaultSettings()
        self._schedule: deque[ScheduledFault] = deque()
        self._disconnected_until_ms = 0
        self.injected: Counter[str] = Counter()
        self.requests = 0

    def configure(self, settings: FaultSettings) -> None:
        """Replace the random-fault settings."""
        for kind, rate in settings.rates.items():
            if not 0 <= rate <= 1:
                raise ValueError(f"rate of {kind.value} must be between 0 and 1, not {rate}")
        self.settings = settings

    def schedule(self, kind: FaultKind, count: int = 1, path_contains: str = "") -> None:
        """Make the next `count` requests whose path contains `path_contains` fail so."""
        for _ in range(count):
            self._schedule.append(ScheduledFault(kind, path_contains))

    def disconnect(self, seconds: float) -> None:
        """Drop every request for `seconds` of wall time."""
        self._disconnected_until_ms = self._wall.now_ms() + int(seconds * 1000)

    def reset(self) -> None:
        """Remove every fault (counters are kept)."""
        self.settings = FaultSettings()
        self._schedule.clear()
        self._disconnected_until_ms = 0

    def delay_s(self) -> float:
        """Return the latency to add to this request, in seconds."""
        s = self.settings
        if s.latency_ms <= 0 and s.jitter_ms <= 0:
            return 0.0
        return max(0.0, s.latency_ms + self._random.uniform(0, s.jitter_ms)) / 1000

    def choose(self, path: str) -> FaultKind | None:
        """Return the fault for a request to `path`, or None."""
        self.requests += 1
        fault = self._choose(path)
        if fault is not None:
            self.injected[fault.value] += 1
        return fault

    def _choose(self, path: str) -> FaultKind | None:
        if self._wall.now_ms() < self._disconnected_until_ms:
            return FaultKind.DROP
        for scheduled in self._schedule:
            if scheduled.path_contains in path:
                self._schedule.remove(scheduled)
                return scheduled.kind
        settings = self.settings
        if settings.path_contains and settings.path_contains not in path:
            return None
        for kind, rate in settings.rates.items():
            if rate > 0 and self._random.random() < rate:
                return kind
        return None

    def describe(self) -> dict[str, Any]:
        """Return the current settings and counters (for the state dump)."""
        s = self.settings
        return {
            "latency_ms": s.latency_ms,
            "jitter_ms": s.jitter_ms,
            "rates": {k.value: v for k, v in s.rates.items()},
            "timeout_s": s.timeout_s,
            "path_contains": s.path_contains,
            "scheduled": [f.kind.value for f in self._schedule],
            "disconnected": self._wall.now_ms() < self._disconnected_until_ms,
            "requests": self.requests,
            "injected": dict(self.injected),
        }
