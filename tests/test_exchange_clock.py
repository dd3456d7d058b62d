"""The exchange clock: offset and rate measured by round trips, on a fake local clock."""

from __future__ import annotations

import asyncio

import pytest

from adxbot.bot.exchange_clock import ExchangeClock
from adxbot.clock import ManualClock

SERVER_START_MS = 1_767_225_600_000  # 2026-01-01 00:00 UTC
ROUND_TRIP_S = 0.0625  # 62.5 ms, exact in binary so the arithmetic below stays exact


class FakeMonotonic:
    """The machine's monotonic clock, moved by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeServer:
    """An exchange whose clock runs `rate` times as fast as ours; each call takes a round trip."""

    def __init__(self, local: FakeMonotonic, rate: float, round_trip_s: float = ROUND_TRIP_S):
        self.local = local
        self.rate = rate
        self.round_trip_s = round_trip_s
        self.local_start = local.now
        self.calls = 0

    def time_at(self, local: float) -> int:
        return SERVER_START_MS + int((local - self.local_start) * 1000 * self.rate)

    async def fetch(self) -> int:
        self.calls += 1
        self.local.advance(self.round_trip_s / 2)
        server_ms = self.time_at(self.local.now)
        self.local.advance(self.round_trip_s / 2)
        return server_ms


def make_clock(
    rate: float, fallback_ms: int = 42
) -> tuple[ExchangeClock, FakeServer, FakeMonotonic]:
    local = FakeMonotonic()
    server = FakeServer(local, rate)
    clock = ExchangeClock(server.fetch, fallback=ManualClock(fallback_ms), monotonic=local)
    return clock, server, local


def sync_every(clock: ExchangeClock, local: FakeMonotonic, gap_s: float, times: int) -> None:
    for _ in range(times):
        asyncio.run(clock.sync())
        local.advance(gap_s)


def test_now_ms_when_never_synced_then_gives_fallback_time() -> None:
    clock, server, _ = make_clock(rate=1.0, fallback_ms=123_456)

    assert clock.now_ms() == 123_456
    assert not clock.synced
    assert server.calls == 0


def test_sync_when_called_then_returns_server_time_and_marks_synced() -> None:
    clock, server, local = make_clock(rate=1.0)

    returned = asyncio.run(clock.sync())

    assert returned == server.time_at(local.now - ROUND_TRIP_S / 2)
    assert clock.synced


def test_now_ms_when_synced_once_then_server_time_plus_local_elapsed() -> None:
    clock, _, local = make_clock(rate=1.0)
    server_ms = asyncio.run(clock.sync())

    local.advance(2.5)

    # The sample sits at the round trip's middle: half a round trip has passed since.
    assert clock.now_ms() == server_ms + int((2.5 + ROUND_TRIP_S / 2) * 1000)


def test_rate_when_samples_span_less_than_a_second_then_stays_one_unmeasured() -> None:
    clock, _, local = make_clock(rate=600.0)

    sync_every(clock, local, gap_s=0.25, times=4)  # 0.75 s + round trips < 1 s

    assert clock.rate == 1.0
    assert not clock.rate_measured


def test_rate_when_simulator_runs_600_times_faster_then_measured_near_600() -> None:
    clock, _, local = make_clock(rate=600.0)

    sync_every(clock, local, gap_s=0.5, times=3)

    assert clock.rate_measured
    assert clock.rate == pytest.approx(600.0, rel=0.01)


def test_now_ms_when_rate_measured_then_scales_local_elapsed_by_rate() -> None:
    clock, server, local = make_clock(rate=600.0)
    sync_every(clock, local, gap_s=0.5, times=3)
    last_sample_local = local.now - 0.5 - ROUND_TRIP_S / 2
    last_server_ms = server.time_at(last_sample_local)

    local.advance(1.5)

    elapsed_s = local.now - last_sample_local
    assert clock.now_ms() == last_server_ms + int(elapsed_s * 1000 * clock.rate)
    assert clock.now_ms() == pytest.approx(server.time_at(local.now), abs=600 * 10)


def test_rate_when_within_two_percent_of_one_then_snaps_to_exactly_one() -> None:
    for rate in (1.015, 1.019):
        clock, _, local = make_clock(rate=rate)

        sync_every(clock, local, gap_s=0.75, times=3)

        assert clock.rate_measured
        assert clock.rate == 1.0


def test_rate_when_more_than_two_percent_fast_then_kept() -> None:
    clock, _, local = make_clock(rate=1.5)

    sync_every(clock, local, gap_s=0.75, times=3)

    assert clock.rate == pytest.approx(1.5, rel=0.01)


def test_rate_when_server_paused_then_one_never_below() -> None:
    clock, _, local = make_clock(rate=0.0)

    sync_every(clock, local, gap_s=0.75, times=3)

    assert clock.rate_measured
    assert clock.rate == 1.0


def test_seconds_until_when_time_is_past_then_zero() -> None:
    clock, _, _ = make_clock(rate=1.0)
    now_ms = asyncio.run(clock.sync())

    assert clock.seconds_until(now_ms - 60_000) == 0.0
    assert clock.seconds_until(clock.now_ms()) == 0.0


def test_seconds_until_when_rate_is_one_then_exchange_ms_as_seconds() -> None:
    clock, _, _ = make_clock(rate=1.0)
    asyncio.run(clock.sync())

    assert clock.seconds_until(clock.now_ms() + 30_000) == pytest.approx(30.0)


def test_seconds_until_when_rate_measured_then_divides_by_rate() -> None:
    clock, _, local = make_clock(rate=600.0)
    sync_every(clock, local, gap_s=0.5, times=3)

    # Five minutes of exchange time pass in half a second of ours.
    wait = clock.seconds_until(clock.now_ms() + 300_000)

    assert wait == pytest.approx(300.0 / clock.rate)
    assert wait == pytest.approx(0.5, rel=0.01)


def test_seconds_until_when_never_synced_then_measured_on_fallback() -> None:
    clock, _, _ = make_clock(rate=600.0, fallback_ms=10_000)

    assert clock.seconds_until(12_500) == pytest.approx(2.5)
