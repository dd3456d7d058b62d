"""The exchange's clock as seen from here: local time plus a measured offset."""

from __future__ import annotations

from adxbot.clock import Clock


class ServerClock:
    """Estimates the exchange's time; request timestamps come from it.

    `update` takes the server time from one round trip and assumes the server read its
    clock halfway through it (the usual NTP-style estimate).
    """

    def __init__(self, local: Clock) -> None:
        self._local = local
        self.offset_ms = 0
        self.synced = False

    def now_ms(self) -> int:
        """Return the estimated server time."""
        return self._local.now_ms() + self.offset_ms

    def local_ms(self) -> int:
        """Return the local clock's time."""
        return self._local.now_ms()

    def update(self, server_ms: int, sent_ms: int, received_ms: int) -> None:
        """Set the offset from one measured round trip."""
        midpoint = (sent_ms + received_ms) // 2
        self.offset_ms = server_ms - midpoint
        self.synced = True
