"""The injected clocks."""

from __future__ import annotations

import pytest

from adxbot.clock import ManualClock, WallClock


def test_manual_clock_when_advanced_then_moves_by_exactly_that_much() -> None:
    clock = ManualClock(start_ms=1_000)
    clock.advance(300_000)
    assert clock.now_ms() == 301_000
    clock.set(400_000)
    assert clock.now_ms() == 400_000


def test_manual_clock_when_asked_to_go_backwards_then_refuses() -> None:
    clock = ManualClock(start_ms=1_000)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="backwards"):
        clock.set(999)
    assert clock.now_ms() == 1_000


def test_wall_clock_then_gives_epoch_milliseconds_that_never_decrease_in_a_row() -> None:
    clock = WallClock()
    first, second = clock.now_ms(), clock.now_ms()
    assert 1_700_000_000_000 < first <= second  # after Nov 2023, in ms
