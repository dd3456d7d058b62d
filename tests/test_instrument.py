"""The contract's rounding rules: quantities truncate, taker prices round against the taker."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adxbot.domain.enums import OrderSide
from adxbot.domain.instrument import BINGX_CONTRACTS, Instrument, Rounding

D = Decimal
BTC = BINGX_CONTRACTS["BTC-USDT"]  # tick 0.1, step 0.0001
HALF = Instrument("HALF-USDT", D("0.5"), D("0.5"), D("0.5"), D("0"))  # non-power-of-ten grid

STEPS = [D("0.0001"), D("0.001"), D("0.01"), D("0.5"), D("0.003"), D("1"), D("5")]


TENTH = D("0.1")
TEN_THOUSANDTH = D("0.0001")


def instrument_with(tick: Decimal = TENTH, step: Decimal = TEN_THOUSANDTH) -> Instrument:
    return Instrument("TEST-USDT", tick, step, step, D("0"))


# ------------------------------------------------------------------ quantity


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (D("0.01059"), D("0.0105")),  # 105.9 steps -> 105
        (D("0.0105"), D("0.0105")),  # on the grid: unchanged
        (D("0.01050"), D("0.0105")),
        (D("0.010499999"), D("0.0104")),  # 104.9999 steps -> 104, never up to 105
        (D("0.01059999999999"), D("0.0105")),
        (D("0.00009999"), D("0.0000")),  # under one step -> zero
        (D("12.34567"), D("12.3456")),
    ],
)
def test_floor_quantity_when_off_or_on_the_step_then_truncates_down(
    quantity: Decimal, expected: Decimal
) -> None:
    assert BTC.floor_quantity(quantity) == expected


def test_floor_quantity_then_result_carries_the_step_exponent() -> None:
    # 100 BTC on a 0.0001 step prints as 100.0000: the exchange's precision
    assert str(BTC.floor_quantity(D("100"))) == "100.0000"


def test_floor_quantity_when_step_is_not_a_power_of_ten_then_truncates_to_its_multiples() -> None:
    assert HALF.floor_quantity(D("2.7")) == D("2.5")  # 5.4 steps -> 5
    assert HALF.floor_quantity(D("2.9999")) == D("2.5")
    assert HALF.floor_quantity(D("3.0")) == D("3.0")
    three_thousandths = instrument_with(step=D("0.003"))
    assert three_thousandths.floor_quantity(D("0.0179")) == D("0.015")  # 5.97 steps -> 5


def test_floor_quantity_when_digits_exceed_the_context_then_still_never_rounds_up() -> None:
    just_below = D("0.01049999999999999999999999999999")  # 32 significant digits
    assert BTC.floor_quantity(just_below) == D("0.0104")


def test_floor_quantity_when_half_step_quotient_exceeds_the_context_then_never_rounds_up() -> None:
    assert HALF.floor_quantity(D("9.999999999999999999999999999")) == D("9.5")


@given(
    quantity=st.decimals(min_value=0, max_value=1_000_000, places=8),
    step=st.sampled_from(STEPS),
)
def test_floor_quantity_property_then_at_most_the_input_and_within_one_step(
    quantity: Decimal, step: Decimal
) -> None:
    instrument = instrument_with(step=step)
    floored = instrument.floor_quantity(quantity)
    assert floored <= quantity
    assert quantity - floored < step
    assert instrument.is_quantity_on_grid(floored)


# ------------------------------------------------------------------ prices


@pytest.mark.parametrize(
    ("price", "side", "expected"),
    [
        (D("50010.30006"), OrderSide.BUY, D("50010.4")),  # a buyer pays up
        (D("50010.30006"), OrderSide.SELL, D("50010.3")),  # a seller gets less
        (D("49990.29994"), OrderSide.SELL, D("49990.2")),
        (D("49990.29994"), OrderSide.BUY, D("49990.3")),
        (D("50010.3"), OrderSide.BUY, D("50010.3")),  # already on the grid: unchanged
        (D("50010.3"), OrderSide.SELL, D("50010.3")),
        (D("50010.30"), OrderSide.BUY, D("50010.3")),
    ],
)
def test_taker_price_when_rounded_then_goes_against_the_taker(
    price: Decimal, side: OrderSide, expected: Decimal
) -> None:
    assert BTC.taker_price(price, side) == expected


def test_taker_price_when_tick_is_half_then_rounds_to_halves_against_the_taker() -> None:
    assert HALF.taker_price(D("100.1"), OrderSide.BUY) == D("100.5")
    assert HALF.taker_price(D("100.4"), OrderSide.SELL) == D("100.0")
    assert HALF.taker_price(D("100.5"), OrderSide.BUY) == D("100.5")
    assert HALF.taker_price(D("100.5"), OrderSide.SELL) == D("100.5")


@pytest.mark.parametrize(
    ("rounding", "expected"),
    [
        (Rounding.UP, D("100.5")),
        (Rounding.DOWN, D("100.0")),
        (Rounding.NEAREST, D("100.5")),  # 100.26 is 0.26 above 100.0, 0.24 below 100.5
    ],
)
def test_round_price_when_tick_is_half_then_each_rounding_goes_its_way(
    rounding: Rounding, expected: Decimal
) -> None:
    assert HALF.round_price(D("100.26"), rounding) == expected


def test_round_price_nearest_when_exactly_halfway_then_rounds_half_to_even() -> None:
    # 100.25 is 200.5 half-ticks: half-even takes 200 ticks = 100.0; 100.75 -> 202 = 101.0
    assert HALF.round_price(D("100.25"), Rounding.NEAREST) == D("100.0")
    assert HALF.round_price(D("100.75"), Rounding.NEAREST) == D("101.0")


def test_taker_price_when_buy_is_a_hair_above_a_tick_then_still_rounds_up() -> None:
    assert BTC.taker_price(D("50000.10000000000000000000000001"), OrderSide.BUY) == D("50000.2")


@given(
    ticks=st.integers(min_value=1, max_value=10**7),
    fraction=st.decimals(min_value=0, max_value=D("0.99999"), places=5),
    tick=st.sampled_from([D("0.1"), D("0.01"), D("0.5"), D("0.25"), D("5")]),
)
def test_taker_price_property_then_on_grid_against_the_taker_and_within_one_tick(
    ticks: int, fraction: Decimal, tick: Decimal
) -> None:
    instrument = instrument_with(tick=tick)
    price = (ticks + fraction) * tick
    bought = instrument.taker_price(price, OrderSide.BUY)
    sold = instrument.taker_price(price, OrderSide.SELL)
    assert instrument.is_price_on_grid(bought)
    assert instrument.is_price_on_grid(sold)
    assert price <= bought < price + tick
    assert price - tick < sold <= price


# ------------------------------------------------------------------ grid checks


@pytest.mark.parametrize(
    ("price", "on_grid"),
    [(D("94383.1"), True), (D("94383.10"), True), (D("94383.15"), False), (D("94383"), True)],
)
def test_is_price_on_grid_when_checked_then_true_only_for_whole_ticks(
    price: Decimal, on_grid: bool
) -> None:
    assert BTC.is_price_on_grid(price) is on_grid


@pytest.mark.parametrize(
    ("quantity", "on_grid"),
    [(D("0.0105"), True), (D("0.01050"), True), (D("0.01055"), False), (D("1"), True)],
)
def test_is_quantity_on_grid_when_checked_then_true_only_for_whole_steps(
    quantity: Decimal, on_grid: bool
) -> None:
    assert BTC.is_quantity_on_grid(quantity) is on_grid


def test_grid_checks_when_tick_is_half_then_accept_halves_only() -> None:
    assert HALF.is_price_on_grid(D("100.5"))
    assert HALF.is_price_on_grid(D("100"))
    assert not HALF.is_price_on_grid(D("100.25"))
    assert not HALF.is_price_on_grid(D("100.1"))
    assert HALF.is_quantity_on_grid(D("1.5"))
    assert not HALF.is_quantity_on_grid(D("1.2"))


# ------------------------------------------------------------------ construction


@pytest.mark.parametrize("field", ["price_tick", "quantity_step"])
@pytest.mark.parametrize("value", [D("0"), D("-0.1")])
def test_instrument_when_step_is_not_positive_then_refused_naming_it(
    field: str, value: Decimal
) -> None:
    rules = {"price_tick": D("0.1"), "quantity_step": D("0.0001")} | {field: value}
    with pytest.raises(ValueError, match=f"BAD-USDT: {field} must be positive"):
        Instrument("BAD-USDT", min_quantity=D("0"), min_notional=D("0"), **rules)


@pytest.mark.parametrize(
    ("min_quantity", "min_notional"), [(D("-0.0001"), D("2")), (D("0.0001"), D("-1"))]
)
def test_instrument_when_a_minimum_is_negative_then_refused(
    min_quantity: Decimal, min_notional: Decimal
) -> None:
    with pytest.raises(ValueError, match="minimums cannot be negative"):
        Instrument("BAD-USDT", D("0.1"), D("0.0001"), min_quantity, min_notional)


def test_bingx_contracts_then_btc_rules_match_the_exchange() -> None:
    expected = Instrument("BTC-USDT", D("0.1"), D("0.0001"), D("0.0001"), D("2"))
    assert expected == BTC
