"""Wilder's Directional Movement System, computed by TA-Lib.

TA-Lib is the reference the spec names (shared/spec/strategy-adx-v2.md, "Indicators"):
`tests/test_indicators.py` checks it against an independent implementation of the
formulas.  With period `n`, +DI and -DI are NaN before index `n` and ADX before index
`2 * n - 1` (TA-Lib's default unstable period of 0 is assumed and never changed here).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import talib

from adxbot.domain.candles import FloatArray


@dataclass(frozen=True, slots=True)
class DirectionalIndicators:
    """+DI, -DI and ADX columns, one value per candle, NaN during TA-Lib's warm-up."""

    plus_di: FloatArray
    minus_di: FloatArray
    adx: FloatArray


def _column(values: FloatArray) -> FloatArray:
    return np.ascontiguousarray(values, dtype=np.float64)


def directional_movement(
    high: FloatArray, low: FloatArray, close: FloatArray, period: int
) -> DirectionalIndicators:
    """Return +DI, -DI and ADX of `period` for the given price columns."""
    if not high.shape == low.shape == close.shape or high.ndim != 1:
        raise ValueError(
            f"high, low and close must be 1-D arrays of one length, got shapes "
            f"{high.shape}, {low.shape} and {close.shape}"
        )
    if period < 2:
        raise ValueError(f"period must be at least 2, got {period}")
    h, lo, c = _column(high), _column(low), _column(close)
    return DirectionalIndicators(
        plus_di=np.asarray(talib.PLUS_DI(h, lo, c, timeperiod=period), dtype=np.float64),
        minus_di=np.asarray(talib.MINUS_DI(h, lo, c, timeperiod=period), dtype=np.float64),
        adx=np.asarray(talib.ADX(h, lo, c, timeperiod=period), dtype=np.float64),
    )
