"""Position sizing per the spec's "Sizing" section: risk a share of equity at the stop distance."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adxbot.config import PositionSizing
from adxbot.domain.instrument import BINGX_CONTRACTS, Instrument
from adxbot.risk.sizing import MARGIN_RESERVE, SizingDecision, size_entry

D = Decimal
BTC = BINGX_CONTRACTS["BTC-USDT"]  # step 0.0001, min 0.0001 BTC, min notional 2 USDT
PRICE = D("94383.1")
EQUITY = D("1000")
STOP_PERCENT = D("2.0")
DEFAULTS = PositionSizing()


def size(
    *,
    equity: Decimal = EQUITY,
    price: Decimal = PRICE,
    stop_loss_percent: Decimal = STOP_PERCENT,
    leverage: int = 5,
    open_positions: int = 0,
    sizing: PositionSizing = DEFAULTS,
    instrument: Instrument = BTC,
) -> SizingDecision:
    return size_entry(
        equity=equity,
        price=price,
        stop_loss_percent=stop_loss_percent,
        leverage=leverage,
        open_positions=open_positions,
        sizing=sizing,
        instrument=instrument,
    )


def test_size_entry_when_defaults_then_spec_example_of_0_0105_btc() -> None:
    # risk = 1000 * 2 / 100 = 20 USDT; notional = 20 / 0.02 = 1000 USDT (cap 1000*5/2 = 2500)
    # 1000 / 94383.1 = 0.0105951... -> floor to 0.0105 BTC; 0.0105 * 94383.1 = 991.02255
    decision = size()
    assert decision == SizingDecision(
        approved=True,
        quantity=D("0.0105"),
        notional=D("991.02255"),
        reason="risk 20.00 USDT at 2.0% stop",
    )


def test_size_entry_when_risk_exceeds_leverage_cap_then_capped_per_position_slot() -> None:
    # risk = 1000 * 10 % = 100 USDT -> wants 100 / 0.02 = 5000 USDT
    # cap = 1000 * 1 / 2 = 500 USDT; 500 / 94383.1 = 0.0052975 -> 0.0052 BTC
    # 0.0052 * 94383.1 = 490.79212
    sizing = PositionSizing(risk_per_trade_percent=D("10"))
    decision = size(leverage=1, sizing=sizing)
    assert decision.approved
    assert decision.quantity == D("0.0052")
    assert decision.notional == D("490.79212")
    assert decision.reason == "risk 100.00 USDT at 2.0% stop (capped by leverage / max_positions)"


def test_size_entry_when_cap_is_not_binding_then_reason_does_not_mention_it() -> None:
    assert "capped" not in size(leverage=5).reason


def test_size_entry_when_one_position_allowed_then_cap_is_the_leveraged_equity_less_reserve() -> (
    None
):
    # wants 5000 USDT; cap = 1000 * 2 / 1 * 0.99 (margin reserve) = 1980 USDT;
    # 1980 / 94383.1 = 0.0209783 -> 0.0209
    sizing = PositionSizing(risk_per_trade_percent=D("10"), max_positions=1)
    decision = size(leverage=2, sizing=sizing)
    assert decision.quantity == D("0.0209")
    assert decision.notional == D("1972.60679")  # 0.0209 * 94383.1
    assert "capped" in decision.reason


def test_size_entry_when_other_stop_distance_then_notional_scales_inversely() -> None:
    # risk 20 USDT at a 4 % stop -> 500 USDT; 500 / 94383.1 -> 0.0052 BTC
    assert size(stop_loss_percent=D("4")).quantity == D("0.0052")


def test_size_entry_when_max_positions_open_then_denied_naming_the_count() -> None:
    decision = size(open_positions=2)
    assert decision == SizingDecision(
        approved=False,
        quantity=D("0"),
        notional=D("0"),
        reason="max_positions reached: 2 of 2 open",
    )


def test_size_entry_when_one_of_two_positions_open_then_still_sized() -> None:
    assert size(open_positions=1).quantity == D("0.0105")


def test_size_entry_when_notional_below_min_trade_size_then_denied_with_both_numbers() -> None:
    # equity 10: risk 0.2 USDT -> 10 USDT notional; 10 / 94383.1 -> 0.0001 BTC
    # 0.0001 * 94383.1 = 9.43831 USDT < 10.0
    decision = size(equity=D("10"))
    assert not decision.approved
    assert decision.quantity == 0
    assert decision.notional == D("9.43831")
    assert decision.reason == "notional 9.44 USDT is below min_trade_size_usdt 10.0"


def test_size_entry_when_quantity_below_contract_minimum_then_denied_with_both_numbers() -> None:
    # equity 100 -> 100 USDT notional; 100 / 94383.1 = 0.00105951 -> 0.0010 BTC < 0.01 minimum
    coarse_minimum = Instrument("BTC-USDT", D("0.1"), D("0.0001"), D("0.01"), D("2"))
    sizing = PositionSizing(min_trade_size_usdt=D("0"))
    decision = size(equity=D("100"), sizing=sizing, instrument=coarse_minimum)
    assert not decision.approved
    assert decision.reason == "quantity 0.0010 is below the contract minimum 0.01"
    assert decision.notional == D("94.38310")


def test_size_entry_when_notional_below_contract_minimum_then_denied_with_both_numbers() -> None:
    # the default 0.0105 BTC is 991.02255 USDT, under a 1000 USDT contract minimum
    big_minimum = Instrument("BTC-USDT", D("0.1"), D("0.0001"), D("0.0001"), D("1000"))
    decision = size(instrument=big_minimum)
    assert not decision.approved
    assert decision.reason == "notional 991.02 USDT is below the contract minimum 1000 USDT"


def test_size_entry_when_quantity_truncates_to_zero_then_denied() -> None:
    # 1 USDT equity -> 1 USDT notional -> 0.0000 BTC
    decision = size(equity=D("1"), sizing=PositionSizing(min_trade_size_usdt=D("0")))
    assert not decision.approved
    assert decision.reason == "quantity 0.0000 is below the contract minimum 0.0001"


@pytest.mark.parametrize(("equity", "shown"), [(D("0"), "0"), (D("-5.5"), "-5.5")])
def test_size_entry_when_equity_not_positive_then_denied_naming_it(
    equity: Decimal, shown: str
) -> None:
    decision = size(equity=equity)
    assert not decision.approved
    assert decision.quantity == 0
    assert decision.reason == f"equity is {shown} USDT: nothing to risk"


@given(
    equity=st.decimals(min_value=D("50"), max_value=D("1000000"), places=2),
    price_ticks=st.integers(min_value=100_000, max_value=2_000_000),
    risk=st.decimals(min_value=D("0.1"), max_value=D("20"), places=1),
    stop=st.decimals(min_value=D("0.1"), max_value=D("20"), places=1),
    leverage=st.integers(min_value=1, max_value=125),
    max_positions=st.integers(min_value=1, max_value=5),
)
def test_size_entry_property_then_never_above_risk_budget_nor_margin_and_truncated_only(
    equity: Decimal,
    price_ticks: int,
    risk: Decimal,
    stop: Decimal,
    leverage: int,
    max_positions: int,
) -> None:
    price = price_ticks * BTC.price_tick
    sizing = PositionSizing(risk_per_trade_percent=risk, max_positions=max_positions)
    decision = size(
        equity=equity, price=price, stop_loss_percent=stop, leverage=leverage, sizing=sizing
    )
    cap = equity * leverage / max_positions * MARGIN_RESERVE
    target = min(equity * risk / 100 / (stop / 100), cap)
    if not decision.approved:
        assert decision.quantity == 0
        return
    assert decision.notional == decision.quantity * price
    assert decision.notional <= target
    assert target - decision.notional < BTC.quantity_step * price  # only the truncation lost
    assert decision.notional / leverage <= equity / max_positions  # margin per slot
    assert BTC.is_quantity_on_grid(decision.quantity)
