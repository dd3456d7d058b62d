"""ADX v2.0: trend entries on a DI cross or an ADX cross while ADX is strong and rising.

The rules are those of shared/spec/strategy-adx-v2.md, "Signals", evaluated on every
closed candle at once with numpy.  `actions_from_indicators` holds the whole decision
logic as a pure function of the indicator columns, so it can be tested on hand-written
values; `AdxV2Strategy` adds the indicator computation.

Decisions per position state on candle `i`:

- flat: ENTER_LONG on a long entry signal, ENTER_SHORT on a short one (if `allow_short`);
- long: REVERSE on a short entry signal if `reverse_on_opposite_signal` (a short entry
  signal exists only if `allow_short`), else EXIT on a signal exit (`exit_on_di_cross`
  and a DI cross down, or ADX below `adx_exit_threshold`), else HOLD.  A reverse also
  closes the position, so it wins when both apply on one candle;
- short: mirrored (a reverse into a long is always allowed).

Same-direction entry signals while in a position are ignored (no pyramiding).  Candles
before index `warmup_candles - 1`, and candles where an indicator value at `i` or `i - 1`
is NaN, are HOLD in every state.
"""

from __future__ import annotations

import numpy as np

from adxbot.config import StrategySettings
from adxbot.domain.candles import BoolArray, CandleSeries, FloatArray
from adxbot.strategy.base import Action, ActionArray, SignalSeries
from adxbot.strategy.indicators import DirectionalIndicators, directional_movement


def _previous(values: FloatArray) -> FloatArray:
    """Return `values` shifted one candle later: out[i] = values[i - 1], out[0] = NaN."""
    out = np.empty_like(values)
    out[:1] = np.nan
    out[1:] = values[:-1]
    return out


def _column(length: int, choices: list[tuple[BoolArray, Action]]) -> ActionArray:
    """Build an action column: HOLD, unless a choice's mask is set (the first such wins)."""
    column = np.full(length, Action.HOLD, dtype=np.int8)
    for mask, action in reversed(choices):
        column[mask] = action
    return column


def actions_from_indicators(
    plus_di: FloatArray, minus_di: FloatArray, adx: FloatArray, settings: StrategySettings
) -> SignalSeries:
    """Return the per-state actions for indicator columns of one candle series."""
    length = plus_di.shape[0]
    if plus_di.shape != (length,) or minus_di.shape != (length,) or adx.shape != (length,):
        raise ValueError(
            f"plus_di, minus_di and adx must be 1-D arrays of one length, got shapes "
            f"{plus_di.shape}, {minus_di.shape} and {adx.shape}"
        )
    threshold = float(settings.adx_threshold)
    prev_plus, prev_minus, prev_adx = _previous(plus_di), _previous(minus_di), _previous(adx)

    usable = np.isfinite(plus_di) & np.isfinite(minus_di) & np.isfinite(adx)
    usable &= np.isfinite(prev_plus) & np.isfinite(prev_minus) & np.isfinite(prev_adx)
    usable[: max(settings.effective_warmup_candles - 1, 0)] = False

    # NaN compares False everywhere, and those candles are masked out by `usable` anyway.
    with np.errstate(invalid="ignore"):
        bull = plus_di > minus_di
        bear = minus_di > plus_di
        strong = adx >= threshold
        rising = adx > prev_adx
        di_cross_up = bull & (prev_plus <= prev_minus)
        di_cross_down = bear & (prev_minus <= prev_plus)
        adx_cross_up = strong & (prev_adx < threshold)
        trending = usable & strong & rising
        long_entry = trending & bull & (di_cross_up | adx_cross_up)
        short_entry = trending & bear & (di_cross_down | adx_cross_up)
        if not settings.allow_short:
            short_entry[:] = False

        exit_long = np.zeros(length, dtype=np.bool_)
        exit_short = np.zeros(length, dtype=np.bool_)
        if settings.exit_on_di_cross:
            exit_long |= usable & di_cross_down
            exit_short |= usable & di_cross_up
        if settings.adx_exit_threshold is not None:
            weak = usable & (adx < float(settings.adx_exit_threshold))
            exit_long |= weak
            exit_short |= weak

    # bull and bear exclude each other, so this never fires; if it did, stand aside.
    ambiguous = long_entry & short_entry
    long_entry &= ~ambiguous
    short_entry &= ~ambiguous

    no_signal = np.zeros(length, dtype=np.bool_)
    reverse = settings.reverse_on_opposite_signal
    return SignalSeries(
        when_flat=_column(
            length, [(long_entry, Action.ENTER_LONG), (short_entry, Action.ENTER_SHORT)]
        ),
        when_long=_column(
            length,
            [(short_entry if reverse else no_signal, Action.REVERSE), (exit_long, Action.EXIT)],
        ),
        when_short=_column(
            length,
            [(long_entry if reverse else no_signal, Action.REVERSE), (exit_short, Action.EXIT)],
        ),
    )


class AdxV2Strategy:
    """The ADX v2.0 strategy of shared/spec/strategy-adx-v2.md."""

    name: str = "adx_v2"

    def __init__(self, settings: StrategySettings) -> None:
        self._settings = settings

    @property
    def settings(self) -> StrategySettings:
        """Return the parameters this strategy was built with."""
        return self._settings

    @property
    def warmup_candles(self) -> int:
        """Return how many closed candles of history the first signal needs."""
        return self._settings.effective_warmup_candles

    def _directional(self, candles: CandleSeries) -> DirectionalIndicators:
        return directional_movement(
            candles.high, candles.low, candles.close, self._settings.adx_period
        )

    def signals(self, candles: CandleSeries) -> SignalSeries:
        """Compute the actions for every closed candle of `candles`."""
        di = self._directional(candles)
        return actions_from_indicators(di.plus_di, di.minus_di, di.adx, self._settings)

    def indicators(self, candles: CandleSeries) -> dict[str, FloatArray]:
        """Return +DI, -DI and ADX (NaN during TA-Lib's warm-up)."""
        di = self._directional(candles)
        return {"plus_di": di.plus_di, "minus_di": di.minus_di, "adx": di.adx}
