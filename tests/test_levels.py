"""Stop-loss and take-profit levels: spec distances from the entry, rounded toward the entry."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from adxbot.domain.enums import Direction
from adxbot.domain.instrument import BINGX_CONTRACTS, Instrument
from adxbot.risk.levels import ProtectiveLevels, protective_levels, trailed_stop

D = Decimal
BTC = BINGX_CONTRACTS["BTC-USDT"]  # tick 0.1
HALF = Instrument("HALF-USDT", D("0.5"), D("0.5"), D("0.5"), D("0"))
SL = D("2.0")
TP = D("4.0")


def test_protective_levels_when_long_off_grid_then_stop_rounds_up_and_target_down() -> None:
    # 94383.1 * 0.98 = 92495.438 -> up to 92495.5 (a tighter stop, never more risk)
    # 94383.1 * 1.04 = 98158.424 -> down to 98158.4 (never promise more than 4 %)
    levels = protective_levels(D("94383.1"), Direction.LONG, SL, TP, BTC)
    assert levels == ProtectiveLevels(stop_loss=D("92495.5"), take_profit=D("98158.4"))


def test_protective_levels_when_short_off_grid_then_stop_rounds_down_and_target_up() -> None:
    # 94383.1 * 1.02 = 96270.762 -> down to 96270.7
    # 94383.1 * 0.96 = 90607.776 -> up to 90607.8
    levels = protective_levels(D("94383.1"), Direction.SHORT, SL, TP, BTC)
    assert levels == ProtectiveLevels(stop_loss=D("96270.7"), take_profit=D("90607.8"))


def test_protective_levels_when_on_grid_then_unchanged() -> None:
    # 50000 * 0.98 = 49000, 50000 * 1.04 = 52000: already whole ticks
    assert protective_levels(D("50000"), Direction.LONG, SL, TP, BTC) == ProtectiveLevels(
        D("49000"), D("52000")
    )
    assert protective_levels(D("50000"), Direction.SHORT, SL, TP, BTC) == ProtectiveLevels(
        D("51000"), D("48000")
    )


def test_protective_levels_when_tick_is_half_then_rounded_toward_entry_on_halves() -> None:
    # long:  101 * 0.98 = 98.98 -> up 99.0;   101 * 1.04 = 105.04 -> down 105.0
    # short: 101 * 1.02 = 103.02 -> down 103.0; 101 * 0.96 = 96.96 -> up 97.0
    assert protective_levels(D("101"), Direction.LONG, SL, TP, HALF) == ProtectiveLevels(
        D("99.0"), D("105.0")
    )
    assert protective_levels(D("101"), Direction.SHORT, SL, TP, HALF) == ProtectiveLevels(
        D("103.0"), D("97.0")
    )


def test_protective_levels_when_other_percentages_then_uses_them() -> None:
    # 50010.0 * (1 - 0.3 %) = 49859.97 -> up 49860.0; * (1 + 0.5 %) = 50260.05 -> down 50260.0
    levels = protective_levels(D("50010.0"), Direction.LONG, D("0.3"), D("0.5"), BTC)
    assert levels == ProtectiveLevels(D("49860.0"), D("50260.0"))


@given(
    entry_ticks=st.integers(min_value=10_000, max_value=2_000_000),
    stop_percent=st.decimals(min_value=D("0.1"), max_value=D("50"), places=2),
    take_percent=st.decimals(min_value=D("0.1"), max_value=D("50"), places=2),
    direction=st.sampled_from(Direction),
)
def test_protective_levels_property_then_never_farther_than_configured_and_within_a_tick(
    entry_ticks: int, stop_percent: Decimal, take_percent: Decimal, direction: Direction
) -> None:
    entry = entry_ticks * BTC.price_tick
    levels = protective_levels(entry, direction, stop_percent, take_percent, BTC)
    risk = (entry - levels.stop_loss) * direction.sign  # distance to the stop, toward loss
    reward = (levels.take_profit - entry) * direction.sign
    exact_risk = entry * stop_percent / 100
    exact_reward = entry * take_percent / 100
    assert exact_risk - BTC.price_tick < risk <= exact_risk
    assert exact_reward - BTC.price_tick < reward <= exact_reward
    assert BTC.is_price_on_grid(levels.stop_loss)
    assert BTC.is_price_on_grid(levels.take_profit)


# ------------------------------------------------------------------ trailing


def test_trailed_stop_when_long_makes_a_new_high_then_follows_two_percent_behind() -> None:
    # 51000 * 0.98 = 49980, above the 49000 stop
    assert trailed_stop(D("51000"), D("49000"), Direction.LONG, SL, BTC) == D("49980")


def test_trailed_stop_when_long_best_is_off_grid_then_rounds_up_toward_the_price() -> None:
    # 94383.1 * 0.98 = 92495.438 -> 92495.5
    assert trailed_stop(D("94383.1"), D("90000"), Direction.LONG, SL, BTC) == D("92495.5")


def test_trailed_stop_when_long_price_falls_then_stop_never_loosens() -> None:
    # 49000 * 0.98 = 48020 would be looser than the 49980 stop: keep 49980
    assert trailed_stop(D("49000"), D("49980"), Direction.LONG, SL, BTC) == D("49980")


def test_trailed_stop_when_short_makes_a_new_low_then_follows_two_percent_above() -> None:
    # 49000 * 1.02 = 49980, below the 51000 stop
    assert trailed_stop(D("49000"), D("51000"), Direction.SHORT, SL, BTC) == D("49980")


def test_trailed_stop_when_short_best_is_off_grid_then_rounds_down_toward_the_price() -> None:
    # 94383.1 * 1.02 = 96270.762 -> 96270.7
    assert trailed_stop(D("94383.1"), D("99000"), Direction.SHORT, SL, BTC) == D("96270.7")


def test_trailed_stop_when_short_price_rises_then_stop_never_loosens() -> None:
    # 51000 * 1.02 = 52020 would be looser than the 49980 stop: keep 49980
    assert trailed_stop(D("51000"), D("49980"), Direction.SHORT, SL, BTC) == D("49980")


@given(
    path=st.lists(st.integers(min_value=100_000, max_value=1_000_000), min_size=1, max_size=30),
    direction=st.sampled_from(Direction),
)
def test_trailed_stop_property_then_monotone_and_tracks_the_best_price(
    path: list[int], direction: Direction
) -> None:
    prices = [p * BTC.price_tick for p in path]
    entry = prices[0]
    stop = protective_levels(entry, direction, SL, TP, BTC).stop_loss
    best = entry
    for price in prices:
        best = max(best, price) if direction is Direction.LONG else min(best, price)
        new_stop = trailed_stop(best, stop, direction, SL, BTC)
        assert (new_stop - stop) * direction.sign >= 0  # never loosens
        # never farther from the best price than the configured 2 %, and on the grid
        assert (best - new_stop) * direction.sign <= best * SL / 100
        assert BTC.is_price_on_grid(new_stop)
        stop = new_stop
    # the best price only improves, so the final stop is the one computed from it
    assert stop == protective_levels(best, direction, SL, TP, BTC).stop_loss
