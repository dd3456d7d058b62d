"""`directional_movement` against an independent Wilder DMI written from the spec's formulas.

The reference below follows shared/spec/strategy-adx-v2.md plus TA-Lib's seeding, which
the spec leaves implicit and which is checked here (period `n`, candle indices from 0):

- the one-candle +DM, -DM and TR exist from candle 1 (they need the previous candle);
- the smoothed sums are seeded with the plain sum over candles 1..n-1 (n - 1 deltas), and
  the first Wilder step `S = S - S / n + x` is applied on candle n, which carries the
  first +DI and -DI (NaN before);
- DX exists from candle n; the first ADX, on candle 2n - 1, is the mean of the n DX values
  of candles n..2n-1; after it `ADX = (ADX * (n - 1) + DX) / n`;
- a smoothed TR of exactly 0 (a flat start) gives +DI = -DI = 0 and no DX, and +DI + -DI = 0
  gives no DX; a missing DX counts as 0 in the seed mean and later leaves ADX unchanged
  (TA-Lib's source; the two readings cannot differ, as the smoothed sums never return to
  exactly 0 once non-zero).  The installed TA-Lib has no fixed epsilon band on the smoothed
  TR: old TA-Lib releases treated |TR| < 1e-8 as zero, this one divides by a smoothed TR of
  1e-18 (checked below).
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from adxbot.domain.candles import FloatArray
from adxbot.strategy.indicators import directional_movement

CANDLE_FILE = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "btcusdt_perp_binance_5m_20241231_20260219.csv.gz"
)


def reference_dmi(
    high: list[float], low: list[float], close: list[float], n: int
) -> tuple[list[float], list[float], list[float]]:
    """Return (+DI, -DI, ADX) per candle, NaN where TA-Lib gives no value."""
    size = len(high)
    plus_di = [math.nan] * size
    minus_di = [math.nan] * size
    adx = [math.nan] * size
    sm_plus = sm_minus = sm_tr = 0.0
    dx_sum = 0.0
    adx_value = math.nan
    for i in range(1, size):
        up = high[i] - high[i - 1]
        down = low[i - 1] - low[i]
        plus_dm = up if up > down and up > 0 else 0.0
        minus_dm = down if down > up and down > 0 else 0.0
        tr = max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
        if i < n:
            sm_plus += plus_dm
            sm_minus += minus_dm
            sm_tr += tr
            continue
        sm_plus = sm_plus - sm_plus / n + plus_dm
        sm_minus = sm_minus - sm_minus / n + minus_dm
        sm_tr = sm_tr - sm_tr / n + tr
        dx: float | None = None
        if sm_tr == 0.0:
            plus_di[i] = minus_di[i] = 0.0
        else:
            plus_di[i] = 100.0 * (sm_plus / sm_tr)
            minus_di[i] = 100.0 * (sm_minus / sm_tr)
            di_sum = plus_di[i] + minus_di[i]
            if di_sum != 0.0:
                dx = 100.0 * (abs(minus_di[i] - plus_di[i]) / di_sum)
        if i < 2 * n - 1:
            dx_sum += dx if dx is not None else 0.0
            continue
        if i == 2 * n - 1:
            adx_value = (dx_sum + (dx if dx is not None else 0.0)) / n
        elif dx is not None:
            adx_value = (adx_value * (n - 1) + dx) / n
        adx[i] = adx_value
    return plus_di, minus_di, adx


def _read_candle_columns(path: Path) -> tuple[FloatArray, FloatArray, FloatArray]:
    with gzip.open(path, "rt", encoding="ascii") as f:
        table = np.loadtxt(f, delimiter=",", skiprows=1, usecols=(2, 3, 4), dtype=np.float64)
    return (
        np.ascontiguousarray(table[:, 0]),
        np.ascontiguousarray(table[:, 1]),
        np.ascontiguousarray(table[:, 2]),
    )


@pytest.fixture(scope="module")
def real_hlc() -> tuple[FloatArray, FloatArray, FloatArray]:
    if not CANDLE_FILE.exists():
        pytest.skip(f"real candle file {CANDLE_FILE} is not present")
    return _read_candle_columns(CANDLE_FILE)


def _assert_matches_reference(
    high: FloatArray, low: FloatArray, close: FloatArray, period: int
) -> None:
    got = directional_movement(high, low, close, period)
    expected = reference_dmi(high.tolist(), low.tolist(), close.tolist(), period)
    for name, actual, wanted in zip(
        ("plus_di", "minus_di", "adx"),
        (got.plus_di, got.minus_di, got.adx),
        expected,
        strict=True,
    ):
        np.testing.assert_allclose(
            actual, np.asarray(wanted), rtol=1e-9, atol=0, equal_nan=True, err_msg=name
        )


def _hand_made_candles() -> tuple[FloatArray, FloatArray, FloatArray]:
    # Up moves, down moves, inside and outside bars, equal up and down moves (both DM 0),
    # gaps through the previous close and a flat candle.
    rows = [
        (10.0, 9.0, 9.5),
        (10.5, 9.4, 10.2),
        (11.0, 10.1, 10.9),
        (10.8, 10.2, 10.4),
        (10.9, 9.6, 9.8),
        (10.0, 9.0, 9.2),
        (9.5, 8.5, 9.4),
        (10.0, 8.0, 9.9),
        (9.9, 9.9, 9.9),
        (10.6, 9.7, 10.5),
        (11.4, 10.4, 11.2),
        (12.0, 11.0, 11.9),
        (11.5, 10.5, 10.6),
        (10.8, 9.9, 10.0),
        (10.2, 9.1, 9.3),
        (9.6, 8.8, 9.5),
        (10.3, 9.4, 10.1),
        (10.9, 10.0, 10.8),
        (11.6, 10.7, 11.5),
        (11.2, 10.6, 10.7),
    ]
    high, low, close = (np.array(column, dtype=np.float64) for column in zip(*rows, strict=True))
    return high, low, close


def _flat_start_then_trend() -> tuple[FloatArray, FloatArray, FloatArray]:
    # Four candles with no range, then a fixed range with no directional movement (TR > 0
    # but +DI + -DI = 0, so the seed sees no DX), then a trend up.
    high = np.array([10.0] * 4 + [11.0] * 6 + [11.5, 12.0, 12.6, 13.1, 13.0, 13.8, 14.4])
    low = np.array([10.0] * 4 + [9.0] * 6 + [10.4, 11.1, 11.5, 12.2, 12.1, 12.9, 13.5])
    close = np.array([10.0] * 4 + [9.5, 10.5, 10.0, 9.2, 10.8, 10.1])
    close = np.concatenate([close, [11.4, 11.9, 12.4, 12.5, 12.9, 13.7, 14.2]])
    return high, low, close


@pytest.mark.parametrize("period", [2, 3, 5])
@pytest.mark.parametrize("candles", [_hand_made_candles, _flat_start_then_trend])
def test_directional_movement_on_hand_made_candles_matches_reference(
    candles: Callable[[], tuple[FloatArray, FloatArray, FloatArray]], period: int
) -> None:
    _assert_matches_reference(*candles(), period)


def test_directional_movement_warm_up_is_period_for_di_and_twice_period_minus_one_for_adx() -> None:
    high, low, close = _hand_made_candles()
    got = directional_movement(high, low, close, 5)
    assert np.isnan(got.plus_di[:5]).all()
    assert np.isnan(got.minus_di[:5]).all()
    assert np.isfinite(got.plus_di[5:]).all()
    assert np.isfinite(got.minus_di[5:]).all()
    assert np.isnan(got.adx[:9]).all()
    assert np.isfinite(got.adx[9:]).all()


def test_directional_movement_on_steady_uptrend_gives_known_values() -> None:
    # Each candle is 1 higher with a range of 1 and closes mid-range: +DM = 1, -DM = 0 and
    # TR = 1.5 on every candle, so +DI = 100 / 1.5, -DI = 0, DX = 100 and ADX = 100.
    high = np.arange(10.0, 40.0)
    low = high - 1.0
    close = high - 0.5
    got = directional_movement(high, low, close, 4)
    np.testing.assert_allclose(got.plus_di[4:], 100.0 / 1.5, rtol=1e-12)
    np.testing.assert_array_equal(got.minus_di[4:], 0.0)
    np.testing.assert_allclose(got.adx[7:], 100.0, rtol=1e-12)


def test_directional_movement_on_flat_candles_gives_zero_without_dividing_by_zero() -> None:
    high = low = close = np.full(12, 100.0)
    got = directional_movement(high, low, close, 3)
    np.testing.assert_array_equal(got.plus_di[3:], 0.0)
    np.testing.assert_array_equal(got.minus_di[3:], 0.0)
    np.testing.assert_array_equal(got.adx[5:], 0.0)
    _assert_matches_reference(high, low, close, 3)


def test_directional_movement_divides_by_a_tiny_smoothed_true_range_without_epsilon_band() -> None:
    # A trend, then flat candles at the last close: +DM, -DM and TR are all 0 there, so the
    # smoothed sums halve every candle (period 2) and their ratio stays put.  After 60 flat
    # candles the smoothed TR is about 1e-18, far inside old TA-Lib's 1e-8 "zero" band, yet
    # +DI stays at 100 / 1.5 and ADX at 100.
    high = np.concatenate([np.arange(10.0, 20.0), np.full(60, 18.5)])
    low = high - 1.0
    low[10:] = 18.5
    close = high - 0.5
    close[10:] = 18.5
    got = directional_movement(high, low, close, 2)
    np.testing.assert_allclose(got.plus_di[-20:], 100.0 / 1.5, rtol=1e-12)
    np.testing.assert_array_equal(got.minus_di[-20:], 0.0)
    np.testing.assert_allclose(got.adx[-20:], 100.0, rtol=1e-12)
    _assert_matches_reference(high, low, close, 2)


def test_directional_movement_accepts_non_contiguous_views() -> None:
    high, low, close = _hand_made_candles()
    wide = np.stack([high, low, close], axis=1)
    got = directional_movement(wide[:, 0], wide[:, 1], wide[:, 2], 3)
    expected = directional_movement(high, low, close, 3)
    np.testing.assert_array_equal(got.adx, expected.adx)


def test_directional_movement_rejects_columns_of_different_lengths() -> None:
    high, low, close = _hand_made_candles()
    with pytest.raises(ValueError, match="one length"):
        directional_movement(high, low[:-1], close, 3)


@pytest.mark.slow
@pytest.mark.parametrize("period", [14, 7, 30])
def test_directional_movement_on_real_candles_matches_reference_to_1e_9(
    real_hlc: tuple[FloatArray, FloatArray, FloatArray], period: int
) -> None:
    _assert_matches_reference(*real_hlc, period)
