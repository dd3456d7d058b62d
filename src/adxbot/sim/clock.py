"""The simulator's clock: simulated market time driven by a wall clock at a speed factor."""

from __future__ import annotations

from adxbot.clock import Clock


class SimClock:
    """Simulated time: `start_ms` plus wall time elapsed times `speed`; can pause and step.

    With `speed = 0` the clock only moves when stepped (deterministic tests).
    """

    def __init__(self, wall: Clock, start_ms: int, speed: float = 1.0) -> None:
        if speed < 0:
            raise ValueError(f"speed must be >= 0, not {speed}")
        self._wall = wall
        self._speed = speed
        self._anchor_sim = start_ms
        self._anchor_wall = wall.now_ms()
        self._paused = speed == 0

    @property
    def speed(self) -> float:
        """Return simulated milliseconds per wall millisecond."""
        return self._speed

    @property
    def paused(self) -> bool:
        """Return True while simulated time stands still."""
        return self._paused

    def now_ms(self) -> int:
        """Return the simulated time in epoch milliseconds."""
        if self._paused:
            return self._anchor_sim
        elapsed = self._wall.now_ms() - self._anchor_wall
        return self._anchor_sim + int(elapsed * self._speed)

    def pause(self) -> None:
        """Stop simulated time where it is."""
        self._rebase()
        self._paused = True

    def resume(self) -> None:
        """Let simulated time run again at the configured speed (no-op at speed 0)."""
        self._rebase()
        self._paused = self._speed == 0

    def step(self, ms: int) -> None:
        """Move simulated time forward by `ms` at once."""
        if ms < 0:
            raise ValueError(f"the clock cannot step backwards ({ms} ms)")
        self._rebase()
        self._anchor_sim += ms

    def wall_ms_to_sim_ms(self, wall_ms: int) -> int:
        """Convert a wall-clock duration into simulated milliseconds (at least 1:1)."""
        return int(wall_ms * max(self._speed, 1.0))

    def _rebase(self) -> None:
        self._anchor_sim = self.now_ms()
        self._anchor_wall = self._wall.now_ms()
