"""The simulated market: the price path inside candles, its bars, and the synthetic source.

The path rules (adxbot.sim.market): open at the candle's open time, then low and high (low
first for a rising candle, high first for a falling one) at one and two thirds, close at
the end; the next candle starts at its own open (a gap when it differs); after the last
candle of a replay the close stands still.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from adxbot.clock import ManualClock
from adxbot.config import StrategySettings
from adxbot.domain.candles import CandleSeries
from adxbot.domain.enums import Timeframe
from adxbot.domain.instrument import BINGX_CONTRACTS
from adxbot.errors import DataError
from adxbot.sim.clock import SimClock
from adxbot.sim.feed import ReplaySource, SyntheticSource
from adxbot.sim.market import Market
from adxbot.sim.server import build_simulator
from adxbot.strategy.base import Action
from adxbot.strategy.factory import build_strategy
from sim_support import sim_options

TF = 300_000
T0 = 1_699_999_800_000
INSTRUMENT = BINGX_CONTRACTS["BTC-USDT"]

RISING = (T0, 100.0, 110.0, 95.0, 105.0, 10.0)
FALLING = (T0 + TF, 105.0, 108.0, 90.0, 92.0, 20.0)
GAPPED = (T0 + 2 * TF, 93.0, 94.0, 91.0, 93.5, 30.0)


def replay(*rows: tuple[int, float, float, float, float, float], start: int = T0) -> Market:
    source = ReplaySource(CandleSeries.from_rows(list(rows)), TF)
    return Market("BTC-USDT", source, SimClock(ManualClock(0), start, 0.0), INSTRUMENT)


def d(value: str | float) -> Decimal:
    return Decimal(str(value))


# ---------------------------------------------------------------- the path in a candle
def test_price_path_when_candle_rises_then_open_low_high_close() -> None:
    market = replay(RISING, FALLING)
    at = [market.price_at(T0 + k * TF // 3) for k in range(3)]
    assert at == [d(100), d(95), d(110)]
    assert market.price_at(T0 + TF - 1) == d(105)  # the last leg ends at the close


def test_price_path_when_candle_falls_then_open_high_low_close() -> None:
    market = replay(RISING, FALLING, GAPPED)
    t1 = T0 + TF
    at = [market.price_at(t1 + k * TF // 3) for k in range(3)]
    assert at == [d(105), d(108), d(90)]
    assert market.price_at(t1 + TF - 1) == d(92)


def test_price_path_when_between_points_then_moves_in_a_straight_line() -> None:
    market = replay(RISING, FALLING)
    assert market.price_at(T0 + TF // 6) == d("97.5")  # halfway from 100 down to 95
    assert market.price_at(T0 + TF // 2) == d("102.5")  # halfway from 95 up to 110


def test_price_path_when_a_candle_opens_away_from_the_previous_close_then_it_gaps() -> None:
    market = replay(RISING, FALLING, GAPPED)
    t2 = T0 + 2 * TF
    assert market.price_at(t2 - 1) == d(92)
    assert market.price_at(t2) == d(93)


def test_price_path_when_the_replay_has_ended_then_the_last_close_holds() -> None:
    market = replay(RISING, FALLING, GAPPED)
    end = T0 + 3 * TF
    for t in (end, end + 1, end + 10 * TF, end + 1_000 * TF):
        assert market.price_at(t) == d("93.5")


def test_price_path_when_the_clock_runs_past_the_replay_then_last_price_holds() -> None:
    market = replay(RISING, FALLING)
    market.clock.step(50 * TF)
    assert market.last_price() == d(92)
    assert market.bars_between(T0 + 10 * TF, T0 + 20 * TF)[-1].close == d(92)


def test_price_path_when_before_the_first_candle_then_the_first_open() -> None:
    assert replay(RISING).price_at(T0 - 60_000) == d(100)


def test_price_path_when_between_ticks_then_every_price_is_on_the_tick() -> None:
    market = replay((T0, 100.0, 100.3, 100.0, 100.3, 1.0))
    prices = {market.price_at(t) for t in range(T0, T0 + TF, 7_777)}
    assert {p % INSTRUMENT.price_tick for p in prices} == {Decimal(0)}
    assert prices == {d(100), d("100.1"), d("100.2"), d("100.3")}


def test_replay_when_candles_are_another_timeframe_than_the_market_then_refused() -> None:
    hourly = CandleSeries.from_rows([RISING, (T0 + 3_600_000, 105.0, 108.0, 90.0, 92.0, 1.0)])
    with pytest.raises(DataError, match="60m apart but the market's timeframe is 5m"):
        ReplaySource(hourly, TF)


def test_replay_when_the_file_has_gaps_then_accepted() -> None:
    gapped = CandleSeries.from_rows([RISING, FALLING, (T0 + 10 * TF, 93.0, 94.0, 91.0, 93.5, 1.0)])
    assert ReplaySource(gapped, TF).index_at(T0 + 5 * TF) == 1


def test_simulator_when_given_a_one_minute_file_for_a_five_minute_market_then_data_error(
    tmp_path: Path,
) -> None:
    rows = [f"{T0 + i * 60_000},100.0,101.0,99.0,100.5,1.0" for i in range(300)]
    path = tmp_path / "btc_1m.csv"
    path.write_text("open_time_ms,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match="1m apart"):
        build_simulator(sim_options(data=path))
    assert build_simulator(sim_options(data=path, timeframe=Timeframe.M1)).exchange


# ---------------------------------------------------------------- bars between moments
def test_bars_between_when_spanning_candles_then_each_opens_where_the_last_closed() -> None:
    market = replay(RISING, FALLING, GAPPED)
    bars = market.bars_between(T0, T0 + 3 * TF)
    gaps = [
        (previous.close, bar.open, bar.open_time_ms)
        for previous, bar in itertools.pairwise(bars)
        if previous.close != bar.open
    ]
    assert gaps == [(d(92), d(93), T0 + 2 * TF)]  # only the candle boundary that gaps


def test_bars_between_when_spanning_candles_then_legs_meet_each_path_point() -> None:
    market = replay(RISING, FALLING, GAPPED)
    bars = market.bars_between(T0, T0 + 3 * TF)
    assert [b.open_time_ms - T0 for b in bars] == [k * TF // 3 for k in range(9)]
    assert [b.open for b in bars[:4]] == [d(100), d(95), d(110), d(105)]
    assert [b.close for b in bars[:4]] == [d(95), d(110), d(105), d(108)]
    for bar in bars:
        assert bar.low == min(bar.open, bar.close)
        assert bar.high == max(bar.open, bar.close)


def test_bars_between_when_covering_a_candle_then_they_reach_its_high_and_low() -> None:
    market = replay(RISING, FALLING, GAPPED)
    for t0, _, high, low, _, _ in (RISING, FALLING, GAPPED):
        bars = market.bars_between(t0, t0 + TF)
        assert min(b.low for b in bars) == d(low)
        assert max(b.high for b in bars) == d(high)


def test_bars_between_when_starting_mid_leg_then_the_first_bar_opens_at_that_moment() -> None:
    market = replay(RISING, FALLING)
    start = T0 + TF // 6
    bars = market.bars_between(start, T0 + TF // 2)
    assert [b.open_time_ms for b in bars] == [start, T0 + TF // 3]
    assert (bars[0].open, bars[0].close) == (d("97.5"), d(95))
    assert (bars[-1].open, bars[-1].close) == (d(95), d("102.5"))


def test_bars_between_when_the_interval_is_empty_then_no_bars() -> None:
    market = replay(RISING)
    assert market.bars_between(T0 + 1_000, T0 + 1_000) == []
    assert market.bars_between(T0 + 2_000, T0 + 1_000) == []


def test_bars_between_when_a_jump_happened_then_the_path_gaps_at_its_moment() -> None:
    market = replay(RISING, FALLING)
    market.clock.step(TF // 6)  # the path is at 97.5
    market.jump(-10)
    bars = market.bars_between(T0, T0 + TF // 3)
    assert [b.open_time_ms - T0 for b in bars] == [0, TF // 6]
    assert (bars[0].close, bars[1].open) == (d("97.5"), d("87.8"))  # 97.5 * 0.9 = 87.75
    assert bars[1].close == d("85.5")  # the low 95, scaled
    assert market.price_at(T0) == d(100)  # the past stays as it was


def test_bars_between_when_chained_over_consecutive_windows_then_continuous() -> None:
    market = replay(RISING, FALLING, GAPPED)
    windows = [T0 + k * 70_000 for k in range(13)]
    chained = [b for a, z in itertools.pairwise(windows) for b in market.bars_between(a, z)]
    for previous, bar in itertools.pairwise(chained):
        boundary = (bar.open_time_ms - T0) % TF == 0
        assert previous.close == bar.open or boundary


# ---------------------------------------------------------------- klines from the path
def test_klines_when_candles_are_closed_then_equal_the_replayed_rows() -> None:
    market = replay(RISING, FALLING, GAPPED)
    market.clock.step(3 * TF)
    klines = market.klines(market.now_ms(), 10)
    assert [(k.open_time_ms, k.open, k.high, k.low, k.close) for k in klines[:3]] == [
        (t, d(o), d(h), d(low), d(c)) for t, o, h, low, c, _ in (RISING, FALLING, GAPPED)
    ]


def test_klines_when_a_candle_is_forming_then_it_covers_the_path_so_far() -> None:
    market = replay(RISING, FALLING)
    market.clock.step(TF // 2)  # after the low (95), halfway up to the high (110)
    (forming,) = market.klines(market.now_ms(), 10)
    assert (forming.open, forming.low, forming.high, forming.close) == (
        d(100),
        d(95),
        d("102.5"),
        d("102.5"),
    )
    assert forming.volume == d("5.0000")  # half the candle's volume so far


# ---------------------------------------------------------------- synthetic source
def test_synthetic_source_when_seeded_alike_then_identical_candles() -> None:
    first = SyntheticSource(7, T0, TF).series(3_000)
    second = SyntheticSource(7, T0, TF).series(3_000)
    for column in ("open_time_ms", "open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(first, column), getattr(second, column)), column


def test_synthetic_source_when_read_in_pieces_then_the_same_as_at_once() -> None:
    piecewise = SyntheticSource(7, T0, TF)
    piecewise.series(100)
    piecewise.series(2_500)
    once = SyntheticSource(7, T0, TF).series(5_000)
    assert np.array_equal(piecewise.series(5_000).close, once.close)


def test_synthetic_source_when_seeds_differ_then_markets_differ() -> None:
    a = SyntheticSource(1, T0, TF).series(500)
    b = SyntheticSource(2, T0, TF).series(500)
    assert not np.array_equal(a.close, b.close)


def test_synthetic_source_when_generated_then_candles_are_consistent_and_on_the_tick() -> None:
    candles = SyntheticSource(3, T0 + 12_345, TF).series(3_000)
    assert int(candles.open_time_ms[0]) % TF == 0  # aligned to the timeframe
    assert np.all(np.diff(candles.open_time_ms) == TF)
    assert np.all(candles.high >= np.maximum(candles.open, candles.close))
    assert np.all(candles.low <= np.minimum(candles.open, candles.close))
    assert np.all(candles.open[1:] == candles.close[:-1])
    assert np.all(candles.low > 0)
    ticks = {Decimal(repr(float(p))) % Decimal("0.1") for p in candles.close[:500]}
    assert ticks == {Decimal(0)}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_synthetic_market_when_read_by_the_default_strategy_then_it_signals_entries(
    seed: int,
) -> None:
    settings = StrategySettings()
    strategy = build_strategy(settings)
    simulator = build_simulator(
        sim_options(synthetic=True, seed=seed, start_ms=1_700_000_000_000),
        wall=ManualClock(1_700_000_000_000),
    )
    market = simulator.exchange.market
    market.clock.step(3_000 * TF)
    klines = market.klines(market.now_ms(), 3_500)[:-1]  # closed candles only
    candles = CandleSeries.from_rows(
        [
            (k.open_time_ms, float(k.open), float(k.high), float(k.low), float(k.close), 1.0)
            for k in klines
        ]
    )
    assert len(candles) >= 3_000
    when_flat = strategy.signals(candles).when_flat
    assert np.any(when_flat == Action.ENTER_LONG)
    assert np.any(when_flat == Action.ENTER_SHORT)


def test_synthetic_market_when_served_then_klines_equal_the_generated_candles() -> None:
    simulator = build_simulator(
        sim_options(synthetic=True, seed=5, start_ms=1_700_000_000_000),
        wall=ManualClock(1_700_000_000_000),
    )
    market = simulator.exchange.market
    market.clock.step(50 * TF)
    source = SyntheticSource(5, 1_700_000_000_000 - 200 * TF, TF).series(300)
    klines = market.klines(market.now_ms(), 100)[:-1]
    for k in klines:
        i = (k.open_time_ms - int(source.open_time_ms[0])) // TF
        assert (k.open, k.high, k.low, k.close) == tuple(
            Decimal(repr(float(column[i])))
            for column in (source.open, source.high, source.low, source.close)
        )
