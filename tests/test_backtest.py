"""The backtester end to end: the fast path against the per-candle oracle, and the figures."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adxbot.backtest.outputs import TRADE_COLUMNS, trades_csv, write_summary_json
from adxbot.backtest.results import BacktestResult
from adxbot.backtest.runner import Backtester
from adxbot.config import BotConfig, parse_config
from adxbot.domain.candles import CandleSeries
from adxbot.domain.enums import Direction, ExitReason
from adxbot.domain.instrument import Rounding
from adxbot.strategy.factory import build_strategy


def run(candles: CandleSeries, config: BotConfig, *, oracle: bool = False) -> BacktestResult:
    return Backtester(config, build_strategy(config.strategy), visit_every_candle=oracle).run(
        candles
    )


def config_with(**sections: Any) -> BotConfig:
    return parse_config(sections)


VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "di_cross_exit": {"strategy": {"exit_on_di_cross": True}},
    "adx_exit": {"strategy": {"adx_exit_threshold": 20}},
    "reverse": {"strategy": {"reverse_on_opposite_signal": True, "exit_on_di_cross": True}},
    "limit_take_profit": {"exit_strategy": {"take_profit_order": "limit"}},
    "long_only": {"strategy": {"allow_short": False}},
    "funding": {"fees": {"funding_rate_per_8h": 0.0001}},
    "tight_levels": {"exit_strategy": {"stop_loss_percent": 0.3, "take_profit_percent": 0.5}},
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_fast_path_when_compared_with_visiting_every_candle_then_trades_are_identical(
    sample_candles: CandleSeries, variant: str
) -> None:
    config = config_with(**VARIANTS[variant])
    fast = run(sample_candles, config)
    oracle = run(sample_candles, config, oracle=True)
    assert fast.trades, "the variant should trade on three months of real candles"
    assert fast.trades == oracle.trades
    assert fast.skipped == oracle.skipped
    assert fast.summary.final_equity == oracle.summary.final_equity
    assert (fast.equity == oracle.equity).all()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_backtest_then_trade_pnls_add_up_to_the_change_in_balance(
    sample_candles: CandleSeries, variant: str
) -> None:
    result = run(sample_candles, config_with(**VARIANTS[variant]))
    total = sum((t.pnl for t in result.trades), Decimal(0))
    assert result.summary.initial_equity + total == result.summary.final_equity
    assert result.summary.net_pnl == total


def test_entry_when_signal_on_candle_i_then_fills_at_next_open_with_adverse_slippage(
    sample_candles: CandleSeries,
) -> None:
    config = BotConfig()
    instrument = config.instrument()
    for trade in run(sample_candles, config).trades[:20]:
        i = trade.entry_index
        assert int(sample_candles.open_time_ms[i - 1]) == trade.signal_time_ms
        open_price = sample_candles.bar(i).open
        slip = Decimal(1) + trade.direction.sign * Decimal("0.0002")
        rounding = Rounding.UP if trade.direction is Direction.LONG else Rounding.DOWN
        assert trade.entry_price == instrument.round_price(open_price * slip, rounding)
        assert trade.entry_time_ms == int(sample_candles.open_time_ms[i])


def test_quantity_when_sized_then_from_decision_close_and_truncated_to_step(
    sample_candles: CandleSeries,
) -> None:
    config = BotConfig()
    first = run(sample_candles, config).trades[0]
    close = sample_candles.bar(first.entry_index - 1).close
    # equity 1000, risk 2 % at a 2 % stop -> 1000 USDT notional, under the 2500 leverage cap
    expected = (Decimal(1000) / close).quantize(Decimal("0.0001"), rounding="ROUND_DOWN")
    assert first.quantity == expected


def test_stop_loss_exits_when_not_gapped_then_fill_at_the_stop_less_slippage(
    sample_candles: CandleSeries,
) -> None:
    config = BotConfig()
    instrument = config.instrument()
    stops = [t for t in run(sample_candles, config).trades if t.exit_reason is ExitReason.STOP_LOSS]
    assert stops
    for trade in stops:
        bar = sample_candles.bar(trade.exit_index)
        sign = trade.direction.sign
        stop = trade.entry_price * (1 - sign * Decimal("0.02"))
        stop = instrument.round_price(stop, Rounding.UP if sign > 0 else Rounding.DOWN)
        gapped = bar.open <= stop if sign > 0 else bar.open >= stop
        basis = bar.open if gapped else stop
        slipped = basis * (1 - sign * Decimal("0.0002"))
        expected = instrument.round_price(slipped, Rounding.DOWN if sign > 0 else Rounding.UP)
        assert trade.exit_price == expected


def test_trade_when_still_open_at_end_of_data_then_closed_at_last_close(
    sample_candles: CandleSeries,
) -> None:
    config = BotConfig()
    full = run(sample_candles, config)
    entry = full.trades[5].entry_index
    cut = sample_candles.slice(0, entry + 3)
    result = run(cut, config)
    last = result.trades[-1]
    assert last.exit_reason is ExitReason.END_OF_DATA
    assert last.exit_index == len(cut) - 1
    close = cut.bar(len(cut) - 1).close
    sign = last.direction.sign
    expected = config.instrument().round_price(
        close * (1 - sign * Decimal("0.0002")), Rounding.DOWN if sign > 0 else Rounding.UP
    )
    assert last.exit_price == expected


def test_signal_when_on_the_last_candle_then_declined_for_lack_of_a_fill(
    sample_candles: CandleSeries,
) -> None:
    config = BotConfig()
    first = run(sample_candles, config).trades[0]
    cut = sample_candles.slice(0, first.entry_index)  # the signal candle is the last one
    result = run(cut, config)
    assert result.trades == []
    assert [s.reason for s in result.skipped] == ["no candle left to fill"]


def test_signals_when_account_too_small_then_every_entry_declined_with_reason(
    sample_candles: CandleSeries,
) -> None:
    # 1000 USDT x 0.01 % = 0.1 USDT at risk; at a 2 % stop that is a 5 USDT notional,
    # under the 10 USDT min_trade_size_usdt
    tiny = run(sample_candles, config_with(position_sizing={"risk_per_trade_percent": 0.01}))
    assert tiny.trades == []
    assert tiny.skipped
    assert all("below min_trade_size_usdt" in s.reason for s in tiny.skipped)


def test_trailing_stop_when_enabled_then_stops_never_lose_more_than_the_initial_stop(
    sample_candles: CandleSeries,
) -> None:
    plain = run(sample_candles, BotConfig())
    trailing = run(sample_candles, config_with(exit_strategy={"trailing_stop": True}))
    assert trailing.trades != plain.trades
    for trade in trailing.trades:
        if trade.exit_reason is ExitReason.STOP_LOSS:
            move = (trade.exit_price - trade.entry_price) * trade.direction.sign
            assert move / trade.entry_price >= Decimal("-0.0205")  # 2 % stop + slippage, gaps


def test_trades_csv_when_written_then_has_documented_columns_in_order(
    sample_candles: CandleSeries,
) -> None:
    result = run(sample_candles, BotConfig())
    rows = list(csv.reader(io.StringIO(trades_csv(result))))
    assert tuple(rows[0]) == TRADE_COLUMNS
    assert len(rows) == len(result.trades) + 1
    assert {row[2] for row in rows[1:]} <= {"long", "short"}
    assert {row[7] for row in rows[1:]} <= {"stop_loss", "take_profit", "signal", "end_of_data"}
    first = result.trades[0]
    assert Decimal(rows[1][8]) == first.pnl.quantize(Decimal("0.00000001"))


def test_summary_json_when_written_then_has_required_keys(
    sample_candles: CandleSeries, tmp_path: Path
) -> None:
    result = run(sample_candles, BotConfig())
    path = tmp_path / "summary.json"
    write_summary_json(path, result)
    summary = json.loads(path.read_text())
    required = {"trades", "wins", "losses", "win_rate", "net_pnl", "fees", "max_drawdown_pct"}
    assert required | {"final_equity", "candles", "elapsed_s"} <= summary.keys()
    assert summary["candles"] == len(sample_candles)
    assert summary["trades"] == summary["wins"] + summary["losses"]


def test_equity_curve_when_flat_then_equals_balance_and_ends_at_final_equity(
    sample_candles: CandleSeries,
) -> None:
    result = run(sample_candles, BotConfig())
    assert result.equity.shape == (len(sample_candles),)
    assert result.equity[-1] == pytest.approx(float(result.summary.final_equity), abs=1e-6)
    assert result.equity[0] == float(result.summary.initial_equity)


@pytest.mark.slow
def test_full_real_file_when_backtested_with_defaults_then_matches_recorded_figures(
    full_candles: CandleSeries,
) -> None:
    """Regression: the figures of the 14-month file; a change here must be explained."""
    result = run(full_candles, BotConfig())
    s = result.summary
    assert s.candles == 119_724
    assert (s.trades, s.wins, s.losses) == (240, 85, 155)
    assert s.net_pnl == Decimal("-82.020057885")
    assert s.final_equity == Decimal("917.979942115")
    assert s.fees == Decimal("280.204407885")
    assert s.max_drawdown_pct == pytest.approx(49.4131726566, abs=1e-6)


@pytest.mark.slow
def test_full_real_file_when_di_cross_exit_on_then_churns_into_heavy_losses(
    full_candles: CandleSeries,
) -> None:
    """The spec's warning: the DI-cross exit makes 1,700+ short trades that fees eat."""
    result = run(full_candles, config_with(strategy={"exit_on_di_cross": True}))
    assert result.summary.trades > 1700
    assert result.summary.return_pct < -80


def test_config_instrument_is_used_by_backtest(sample_candles: CandleSeries) -> None:
    coarse = config_with(
        contract={
            "price_tick": 1,
            "quantity_step": 0.001,
            "min_quantity": 0.001,
            "min_notional_usdt": 5,
        }
    )
    result = run(sample_candles, coarse)
    assert all(t.quantity % Decimal("0.001") == 0 for t in result.trades)
    assert all(t.entry_price % 1 == 0 for t in result.trades)
    assert replace(result.summary, elapsed_s=0).trades == len(result.trades)
