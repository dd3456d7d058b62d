"""ADX v2.0 signals: the rules of shared/spec/strategy-adx-v2.md, "Signals".

The rules are tested on hand-written +DI / -DI / ADX values through
`actions_from_indicators`, then end to end on the real candle file: against a plain
candle-by-candle reading of the spec, for no repainting, and for the default settings
giving entries at all.
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from adxbot.config import StrategySettings
from adxbot.domain.candles import CandleSeries, FloatArray
from adxbot.domain.enums import Direction
from adxbot.strategy.adx_v2 import AdxV2Strategy, actions_from_indicators
from adxbot.strategy.base import Action, SignalSeries, Strategy
from adxbot.strategy.factory import build_strategy
from adxbot.strategy.indicators import directional_movement

CANDLE_FILE = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "btcusdt_perp_binance_5m_20241231_20260219.csv.gz"
)

# Period 2 with the shortest allowed warm-up (2 * period + 1 = 5): candle 4 is the first
# that may carry an action.
SMALL: dict[str, Any] = {"adx_period": 2, "warmup_candles": 5}
# DIs level and ADX weak: no rule fires on a candle following this one.
FILLER = (20.0, 20.0, 10.0)

HOLD, LONG, SHORT, EXIT, REVERSE = (
    Action.HOLD,
    Action.ENTER_LONG,
    Action.ENTER_SHORT,
    Action.EXIT,
    Action.REVERSE,
)

Row = tuple[float, float, float]


def settings(**overrides: Any) -> StrategySettings:
    return StrategySettings.model_validate(SMALL | overrides)


def signals_for(rows: list[Row], **overrides: Any) -> SignalSeries:
    plus_di, minus_di, adx = (
        np.array(column, dtype=np.float64) for column in zip(*rows, strict=True)
    )
    return actions_from_indicators(plus_di, minus_di, adx, settings(**overrides))


def decide(prev: Row, now: Row, **overrides: Any) -> tuple[Action, Action, Action]:
    """Return the (flat, long, short) actions on a candle `now` that follows `prev`."""
    signals = signals_for([FILLER] * 4 + [prev, now], **overrides)
    return (
        signals.action(5, None),
        signals.action(5, Direction.LONG),
        signals.action(5, Direction.SHORT),
    )


# --- entries -----------------------------------------------------------------------------


def test_when_flat_and_di_crosses_up_with_strong_rising_adx_then_enters_long() -> None:
    assert decide((20, 25, 30), (26, 22, 31)) == (LONG, HOLD, HOLD)


def test_when_flat_and_adx_crosses_threshold_rising_with_plus_di_above_then_enters_long() -> None:
    assert decide((30, 20, 24), (31, 20, 26)) == (LONG, HOLD, HOLD)


def test_when_flat_and_di_crosses_down_with_strong_rising_adx_then_enters_short() -> None:
    assert decide((25, 20, 30), (22, 26, 31)) == (SHORT, HOLD, HOLD)


def test_when_flat_and_adx_crosses_threshold_rising_with_minus_di_above_then_enters_short() -> None:
    assert decide((20, 30, 24), (20, 31, 26)) == (SHORT, HOLD, HOLD)


def test_when_adx_is_exactly_at_threshold_then_it_counts_as_strong_and_as_a_cross() -> None:
    assert decide((30, 20, 24), (31, 20, 25)) == (LONG, HOLD, HOLD)
    assert decide((20, 25, 24), (26, 22, 25)) == (LONG, HOLD, HOLD)


def test_when_previous_adx_is_exactly_at_threshold_then_there_is_no_adx_cross() -> None:
    assert decide((30, 20, 25), (31, 20, 27)) == (HOLD, HOLD, HOLD)


def test_when_dis_were_equal_on_previous_candle_then_separating_counts_as_a_cross() -> None:
    assert decide((22, 22, 30), (26, 22, 31)) == (LONG, HOLD, HOLD)
    assert decide((22, 22, 30), (22, 26, 31)) == (SHORT, HOLD, HOLD)


def test_when_dis_are_equal_on_the_decision_candle_then_holds() -> None:
    assert decide((20, 25, 24), (24, 24, 31)) == (HOLD, HOLD, HOLD)


def test_when_adx_is_below_threshold_then_a_di_cross_does_not_enter() -> None:
    assert decide((20, 25, 23), (26, 22, 24.9)) == (HOLD, HOLD, HOLD)
    assert decide((25, 20, 23), (22, 26, 24.9)) == (HOLD, HOLD, HOLD)


def test_when_adx_is_not_rising_then_a_di_cross_does_not_enter() -> None:
    assert decide((20, 25, 31), (26, 22, 30)) == (HOLD, HOLD, HOLD)
    assert decide((20, 25, 30), (26, 22, 30)) == (HOLD, HOLD, HOLD)
    assert decide((25, 20, 30), (22, 26, 30)) == (HOLD, HOLD, HOLD)


def test_when_a_trend_is_already_strong_without_a_fresh_cross_then_does_not_enter() -> None:
    assert decide((30, 20, 30), (31, 20, 31)) == (HOLD, HOLD, HOLD)
    assert decide((20, 30, 30), (20, 31, 31)) == (HOLD, HOLD, HOLD)


def test_when_adx_threshold_is_configured_then_strong_and_cross_use_it() -> None:
    assert decide((30, 20, 24), (31, 20, 26), adx_threshold="30") == (HOLD, HOLD, HOLD)
    assert decide((30, 20, 29.5), (31, 20, 30), adx_threshold="30") == (LONG, HOLD, HOLD)


def test_when_shorts_are_disallowed_then_short_signals_hold_and_longs_still_enter() -> None:
    assert decide((25, 20, 30), (22, 26, 31), allow_short=False) == (HOLD, HOLD, HOLD)
    assert decide((20, 30, 24), (20, 31, 26), allow_short=False) == (HOLD, HOLD, HOLD)
    assert decide((20, 25, 30), (26, 22, 31), allow_short=False) == (LONG, HOLD, HOLD)


# --- exits -------------------------------------------------------------------------------


def test_when_di_cross_exit_is_off_then_a_di_cross_keeps_the_position() -> None:
    assert decide((25, 20, 15), (22, 26, 14)) == (HOLD, HOLD, HOLD)
    assert decide((20, 25, 15), (26, 22, 14)) == (HOLD, HOLD, HOLD)


def test_when_long_and_di_crosses_down_with_di_cross_exit_on_then_exits() -> None:
    assert decide((25, 20, 15), (22, 26, 14), exit_on_di_cross=True) == (HOLD, EXIT, HOLD)


def test_when_short_and_di_crosses_up_with_di_cross_exit_on_then_exits() -> None:
    assert decide((20, 25, 15), (26, 22, 14), exit_on_di_cross=True) == (HOLD, HOLD, EXIT)


def test_when_di_cross_exit_is_on_and_dis_only_touch_then_keeps_the_position() -> None:
    assert decide((25, 20, 15), (23, 23, 14), exit_on_di_cross=True) == (HOLD, HOLD, HOLD)


def test_when_adx_exit_threshold_is_off_then_a_weak_adx_keeps_the_position() -> None:
    assert decide((25, 20, 6), (25, 20, 5)) == (HOLD, HOLD, HOLD)


def test_when_adx_falls_below_exit_threshold_then_exits_long_and_short() -> None:
    assert decide((25, 20, 21), (25, 20, 19), adx_exit_threshold="20") == (HOLD, EXIT, EXIT)


def test_when_adx_is_exactly_at_exit_threshold_then_keeps_the_position() -> None:
    assert decide((25, 20, 21), (25, 20, 20), adx_exit_threshold="20") == (HOLD, HOLD, HOLD)


def test_when_reverse_is_off_then_an_opposite_entry_signal_keeps_the_position() -> None:
    assert decide((25, 20, 30), (22, 26, 31)) == (SHORT, HOLD, HOLD)
    assert decide((20, 25, 30), (26, 22, 31)) == (LONG, HOLD, HOLD)


def test_when_long_and_short_entry_signal_with_reverse_on_then_reverses() -> None:
    rev = {"reverse_on_opposite_signal": True}
    assert decide((25, 20, 30), (22, 26, 31), **rev) == (SHORT, REVERSE, HOLD)
    assert decide((20, 30, 24), (20, 31, 26), **rev) == (SHORT, REVERSE, HOLD)


def test_when_short_and_long_entry_signal_with_reverse_on_then_reverses() -> None:
    rev = {"reverse_on_opposite_signal": True}
    assert decide((20, 25, 30), (26, 22, 31), **rev) == (LONG, HOLD, REVERSE)
    assert decide((30, 20, 24), (31, 20, 26), **rev) == (LONG, HOLD, REVERSE)


def test_when_shorts_are_disallowed_then_long_never_reverses_but_short_still_does() -> None:
    opts = {"reverse_on_opposite_signal": True, "allow_short": False}
    assert decide((25, 20, 30), (22, 26, 31), **opts) == (HOLD, HOLD, HOLD)
    assert decide((20, 25, 30), (26, 22, 31), **opts) == (LONG, HOLD, REVERSE)


def test_when_an_exit_and_a_reverse_apply_on_one_candle_then_reverse_wins() -> None:
    both = {"reverse_on_opposite_signal": True, "exit_on_di_cross": True}
    assert decide((25, 20, 30), (22, 26, 31), **both) == (SHORT, REVERSE, HOLD)
    assert decide((20, 25, 30), (26, 22, 31), **both) == (LONG, HOLD, REVERSE)
    high_exit = {"reverse_on_opposite_signal": True, "adx_exit_threshold": "40"}
    assert decide((25, 20, 30), (22, 26, 31), **high_exit) == (SHORT, REVERSE, EXIT)


def test_when_an_opposite_signal_comes_with_di_cross_exit_but_no_reverse_then_exits() -> None:
    assert decide((25, 20, 30), (22, 26, 31), exit_on_di_cross=True) == (SHORT, EXIT, HOLD)


def test_when_in_a_position_and_a_same_direction_signal_fires_then_holds() -> None:
    every_option = {
        "reverse_on_opposite_signal": True,
        "exit_on_di_cross": True,
        "adx_exit_threshold": "10",
    }
    long_flat, long_long, _ = decide((20, 25, 30), (26, 22, 31), **every_option)
    short_flat, _, short_short = decide((25, 20, 30), (22, 26, 31), **every_option)
    assert (long_flat, long_long) == (LONG, HOLD)
    assert (short_flat, short_short) == (SHORT, HOLD)


# --- warm-up and missing values ----------------------------------------------------------


def _signal_on_every_candle(length: int) -> list[Row]:
    # The DIs swap every candle while ADX rises above the threshold: every candle from
    # index 1 on is an entry (alternately long and short) if the rules may act.
    return [((26.0, 22.0) if i % 2 == 0 else (22.0, 26.0)) + (26.0 + i,) for i in range(length)]


def _columns(signals: SignalSeries) -> list[list[int]]:
    return [signals.when_flat.tolist(), signals.when_long.tolist(), signals.when_short.tolist()]


def test_before_warm_up_every_action_is_hold() -> None:
    signals = signals_for(_signal_on_every_candle(10), reverse_on_opposite_signal=True)
    flat, long, short = _columns(signals)
    assert flat == [HOLD] * 4 + [LONG, SHORT] * 3
    assert long == [HOLD] * 4 + [HOLD, REVERSE] * 3
    assert short == [HOLD] * 4 + [REVERSE, HOLD] * 3


def test_default_warm_up_is_ten_adx_periods_of_history() -> None:
    rows = _signal_on_every_candle(200)
    plus_di, minus_di, adx = (np.array(column) for column in zip(*rows, strict=True))
    signals = actions_from_indicators(plus_di, minus_di, adx, StrategySettings())
    flat = signals.when_flat
    assert not flat[:139].any()
    assert (flat[139:] != HOLD).all()


def test_when_an_indicator_value_is_nan_then_that_candle_and_the_next_hold() -> None:
    for column_index in range(3):
        rows = [list(row) for row in _signal_on_every_candle(12)]
        rows[7][column_index] = math.nan
        signals = signals_for([(r[0], r[1], r[2]) for r in rows], exit_on_di_cross=True)
        flat = signals.when_flat.tolist()
        assert flat[6] != HOLD
        assert flat[7:9] == [HOLD, HOLD]
        assert flat[9] != HOLD
        assert signals.when_long.tolist()[7:9] == [HOLD, HOLD]
        assert signals.when_short.tolist()[7:9] == [HOLD, HOLD]


def test_actions_from_indicators_rejects_columns_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="one length"):
        actions_from_indicators(np.zeros(5), np.zeros(5), np.zeros(4), settings())


def test_actions_from_indicators_on_no_candles_gives_empty_columns() -> None:
    empty = np.zeros(0)
    signals = actions_from_indicators(empty, empty, empty, settings())
    assert [column.shape for column in (signals.when_flat, signals.when_long)] == [(0,), (0,)]
    assert signals.when_short.dtype == np.int8


# --- the strategy object -----------------------------------------------------------------


def test_build_strategy_returns_adx_v2_with_settings_warm_up() -> None:
    strategy: Strategy = build_strategy(StrategySettings(adx_period=10))
    assert isinstance(strategy, AdxV2Strategy)
    assert strategy.name == "adx_v2"
    assert strategy.warmup_candles == 100
    assert AdxV2Strategy(settings()).warmup_candles == 5


def test_signals_on_fewer_candles_than_the_indicator_needs_are_all_hold() -> None:
    rows = [(i * 300_000, 100.0 + i, 101.0 + i, 99.0 + i, 100.5 + i, 1.0) for i in range(6)]
    for candles in (CandleSeries.from_rows(rows), CandleSeries.from_rows([])):
        signals = AdxV2Strategy(StrategySettings()).signals(candles)
        for column in _columns(signals):
            assert column == [HOLD] * len(candles)


# --- end to end on the real candles ------------------------------------------------------


def _load_candles(path: Path) -> CandleSeries:
    with gzip.open(path, "rt", encoding="ascii") as f:
        table = np.loadtxt(f, delimiter=",", skiprows=1, dtype=np.float64)
    return CandleSeries(
        open_time_ms=table[:, 0].astype(np.int64),
        open=np.ascontiguousarray(table[:, 1]),
        high=np.ascontiguousarray(table[:, 2]),
        low=np.ascontiguousarray(table[:, 3]),
        close=np.ascontiguousarray(table[:, 4]),
        volume=np.ascontiguousarray(table[:, 5]),
    )


@pytest.fixture(scope="module")
def real_candles() -> CandleSeries:
    if not CANDLE_FILE.exists():
        pytest.skip(f"real candle file {CANDLE_FILE} is not present")
    return _load_candles(CANDLE_FILE)


SETTING_VARIANTS: list[dict[str, Any]] = [
    {},
    {"exit_on_di_cross": True, "reverse_on_opposite_signal": True, "adx_exit_threshold": "20"},
    {"allow_short": False, "reverse_on_opposite_signal": True, "adx_threshold": "30"},
    {"adx_period": 7, "adx_exit_threshold": "15"},
]


def _spec_reading(
    plus_di: FloatArray, minus_di: FloatArray, adx: FloatArray, s: StrategySettings
) -> list[list[int]]:
    """Apply the spec's rules one candle at a time, as a person would read them."""
    threshold = float(s.adx_threshold)
    exit_threshold = None if s.adx_exit_threshold is None else float(s.adx_exit_threshold)
    p, m, a = plus_di.tolist(), minus_di.tolist(), adx.tolist()
    flat: list[int] = []
    long: list[int] = []
    short: list[int] = []
    for i in range(len(p)):
        values = (p[i], m[i], a[i], p[i - 1], m[i - 1], a[i - 1]) if i > 0 else (math.nan,)
        if i < s.effective_warmup_candles - 1 or any(math.isnan(v) for v in values):
            flat.append(HOLD)
            long.append(HOLD)
            short.append(HOLD)
            continue
        bull, bear = p[i] > m[i], m[i] > p[i]
        strong, rising = a[i] >= threshold, a[i] > a[i - 1]
        cross_up = bull and p[i - 1] <= m[i - 1]
        cross_down = bear and m[i - 1] <= p[i - 1]
        adx_cross = a[i] >= threshold and a[i - 1] < threshold
        go_long = strong and rising and bull and (cross_up or adx_cross)
        go_short = strong and rising and bear and (cross_down or adx_cross) and s.allow_short
        weak = exit_threshold is not None and a[i] < exit_threshold
        flat.append(LONG if go_long else SHORT if go_short else HOLD)
        if s.reverse_on_opposite_signal and go_short:
            long.append(REVERSE)
        elif (s.exit_on_di_cross and cross_down) or weak:
            long.append(EXIT)
        else:
            long.append(HOLD)
        if s.reverse_on_opposite_signal and go_long:
            short.append(REVERSE)
        elif (s.exit_on_di_cross and cross_up) or weak:
            short.append(EXIT)
        else:
            short.append(HOLD)
    return [flat, long, short]


@pytest.mark.slow
@pytest.mark.parametrize("overrides", SETTING_VARIANTS)
def test_signals_on_real_candles_equal_a_candle_by_candle_reading_of_the_spec(
    real_candles: CandleSeries, overrides: dict[str, Any]
) -> None:
    s = StrategySettings.model_validate(overrides)
    strategy = AdxV2Strategy(s)
    di = strategy.indicators(real_candles)
    expected = _spec_reading(di["plus_di"], di["minus_di"], di["adx"], s)
    assert _columns(strategy.signals(real_candles)) == expected


@pytest.mark.slow
@pytest.mark.parametrize("overrides", SETTING_VARIANTS[:2])
def test_signals_on_a_prefix_of_real_candles_equal_the_start_of_the_full_signals(
    real_candles: CandleSeries, overrides: dict[str, Any]
) -> None:
    strategy = AdxV2Strategy(StrategySettings.model_validate(overrides))
    full = strategy.signals(real_candles)
    total = len(real_candles)
    warmup = strategy.warmup_candles
    for stop in (warmup, warmup + 1, 5_003, 60_000, total - 1):
        prefix = strategy.signals(real_candles.slice(0, stop))
        for position in (None, Direction.LONG, Direction.SHORT):
            np.testing.assert_array_equal(
                prefix.column(position), full.column(position)[:stop], err_msg=f"{stop=}"
            )


@pytest.mark.slow
def test_default_settings_on_real_candles_give_long_and_short_entries(
    real_candles: CandleSeries,
) -> None:
    flat = AdxV2Strategy(StrategySettings()).signals(real_candles).when_flat
    longs = int(np.count_nonzero(flat == LONG))
    shorts = int(np.count_nonzero(flat == SHORT))
    assert longs > 100
    assert shorts > 100
    assert not flat[:139].any()


@pytest.mark.slow
def test_indicators_are_the_directional_movement_columns(real_candles: CandleSeries) -> None:
    columns = AdxV2Strategy(StrategySettings()).indicators(real_candles)
    expected = directional_movement(real_candles.high, real_candles.low, real_candles.close, 14)
    assert sorted(columns) == ["adx", "minus_di", "plus_di"]
    np.testing.assert_array_equal(columns["plus_di"], expected.plus_di)
    np.testing.assert_array_equal(columns["minus_di"], expected.minus_di)
    np.testing.assert_array_equal(columns["adx"], expected.adx)
