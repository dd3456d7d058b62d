"""Find the next candle whose range reaches a resting order, without a Python loop per candle."""

from __future__ import annotations

import math

import numpy as np

from adxbot.domain.candles import FloatArray

_FIRST_CHUNK = 256


def first_touch(
    lows: FloatArray,
    highs: FloatArray,
    start: int,
    falling: float | None,
    rising: float | None,
) -> int:
    """Return the first index >= `start` with low <= `falling` or high >= `rising`, else len.

    The bounds are widened by one float ulp so that a candle the exact decimal comparison
    would call touched is never skipped; a false alarm only costs one candle visit.
    """
    n = int(lows.shape[0])
    low_bound = -math.inf if falling is None else math.nextafter(falling, math.inf)
    high_bound = math.inf if rising is None else math.nextafter(rising, -math.inf)
    position = start
    chunk = _FIRST_CHUNK
    while position < n:
        end = min(n, position + chunk)
        hit = (lows[position:end] <= low_bound) | (highs[position:end] >= high_bound)
        first = int(np.argmax(hit))
        if hit[first]:
            return position + first
        position = end
        chunk *= 4
    return n
