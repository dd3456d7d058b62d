"""The candle window: the newest closed candles, in order, as the strategy's columns."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from adxbot.bot.candle_window import CandleWindow
from adxbot.domain.candles import Bar

FIVE_MINUTES_MS = 300_000
START_MS = 1_767_225_600_000


def bar(i: int, base: str = "50000.1") -> Bar:
    price = Decimal(base) + i
    return Bar(
        open_time_ms=START_MS + i * FIVE_MINUTES_MS,
        open=price,
        high=price + Decimal("12.3"),
        low=price - Decimal("7.7"),
        close=price + Decimal("0.3"),
    )


def test_last_open_ms_when_empty_then_none() -> None:
    window = CandleWindow(3)

    assert window.last_open_ms is None
    assert len(window) == 0


def test_series_when_empty_then_empty_columns() -> None:
    series = CandleWindow(3).series()

    assert len(series) == 0
    assert series.close.shape == (0,)


def test_append_when_more_than_size_then_keeps_only_newest() -> None:
    window = CandleWindow(3)

    for i in range(5):
        window.append(bar(i))

    assert len(window) == 3
    assert window.last_open_ms == bar(4).open_time_ms
    assert window.series().open_time_ms.tolist() == [bar(i).open_time_ms for i in (2, 3, 4)]


def test_append_when_candle_not_newer_than_last_then_value_error() -> None:
    window = CandleWindow(3)
    window.append(bar(1))

    with pytest.raises(ValueError, match="not newer"):
        window.append(bar(1))
    with pytest.raises(ValueError, match="not newer"):
        window.append(bar(0))

    assert len(window) == 1
    assert window.last_open_ms == bar(1).open_time_ms


def test_append_when_candles_skip_a_time_then_accepted() -> None:
    window = CandleWindow(3)
    window.append(bar(0))

    window.append(bar(5))

    assert window.last_open_ms == bar(5).open_time_ms


def test_series_when_filled_then_columns_equal_bars_floats_in_order() -> None:
    window = CandleWindow(4)
    bars = [bar(i, "0.1") for i in range(6)]  # 0.1 + i: decimals that floats only approximate
    for b in bars:
        window.append(b)
    kept = bars[2:]

    series = window.series()

    assert series.open_time_ms.dtype == np.int64
    assert series.open_time_ms.tolist() == [b.open_time_ms for b in kept]
    assert series.open.tolist() == [float(b.open) for b in kept]
    assert series.high.tolist() == [float(b.high) for b in kept]
    assert series.low.tolist() == [float(b.low) for b in kept]
    assert series.close.tolist() == [float(b.close) for b in kept]
    assert series.volume.tolist() == [0.0] * len(kept)


def test_series_when_taken_then_bar_gives_back_exact_decimals() -> None:
    window = CandleWindow(2)
    window.append(bar(0))
    window.append(bar(1))

    assert window.series().bar(1) == bar(1)


def test_series_when_window_changes_later_then_earlier_series_unchanged() -> None:
    window = CandleWindow(2)
    window.append(bar(0))
    window.append(bar(1))
    before = window.series()

    window.append(bar(2))

    assert before.open_time_ms.tolist() == [bar(0).open_time_ms, bar(1).open_time_ms]
