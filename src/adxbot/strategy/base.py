"""The strategy interface: a pure function of closed candles to per-candle decisions.

A strategy never sees the clock, the account or the network.  It turns a series of
*closed* candles into three action columns, one per position state, so that the caller
(backtester, paper or live bot) looks up what to do on candle `i` given what it holds.
Candle `i`'s actions depend only on candles `0..i` (no repainting), which
`tests/test_strategy_adx_v2.py` checks by recomputing on prefixes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

import numpy as np
import numpy.typing as npt

from adxbot.domain.candles import CandleSeries, FloatArray
from adxbot.domain.enums import Direction

ActionArray = npt.NDArray[np.int8]


class Action(IntEnum):
    """What the strategy asks for on a closed candle, given the current position."""

    HOLD = 0
    ENTER_LONG = 1
    ENTER_SHORT = 2
    EXIT = 3
    REVERSE = 4
    """Close the position and open the opposite direction (subject to the risk manager)."""


@dataclass(frozen=True, slots=True)
class SignalSeries:
    """Per-candle actions for each position state; every array has one entry per candle."""

    when_flat: ActionArray
    when_long: ActionArray
    when_short: ActionArray

    def action(self, i: int, position: Direction | None) -> Action:
        """Return the action on closed candle `i` for a holder of `position` (None = flat)."""
        if position is None:
            column = self.when_flat
        elif position is Direction.LONG:
            column = self.when_long
        else:
            column = self.when_short
        return Action(int(column[i]))

    def column(self, position: Direction | None) -> ActionArray:
        """Return the whole action column for a position state."""
        if position is None:
            return self.when_flat
        return self.when_long if position is Direction.LONG else self.when_short


class Strategy(Protocol):
    """What the bot needs from a strategy."""

    name: str

    @property
    def warmup_candles(self) -> int:
        """Return how many closed candles of history the first signal needs."""
        ...

    def signals(self, candles: CandleSeries) -> SignalSeries:
        """Compute the actions for every closed candle of `candles`."""
        ...

    def indicators(self, candles: CandleSeries) -> dict[str, FloatArray]:
        """Return the indicator columns to chart (name -> values, NaN during warm-up)."""
        ...
