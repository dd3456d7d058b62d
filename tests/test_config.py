"""The config file: the spec's defaults, the original plan's shape, and refusals that explain."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adxbot.config import BotConfig, config_to_json, load_config, parse_config
from adxbot.domain.enums import TakeProfitOrderKind, Timeframe
from adxbot.domain.instrument import BINGX_CONTRACTS, Instrument
from adxbot.errors import ConfigError

D = Decimal

ORIGINAL_PLAN = """{"initial_capital": 1000.0, "leverage": 5, "symbol": "BTC-USDT",
 "timeframe": "5m",
 "position_sizing": {"risk_per_trade_percent": 2.0, "max_positions": 2,
                     "min_trade_size_usdt": 10.0},
 "risk_management": {"daily_loss_limit_percent": 5.0, "max_drawdown_percent": 15.0,
                     "consecutive_loss_limit": 3},
 "exit_strategy": {"stop_loss_percent": 2.0, "take_profit_percent": 4.0, "trailing_stop": false}}
"""

TOP_LEVEL_KEYS = (
    "alerts, bot, contract, dashboard, exchange, exit_strategy, fees, initial_capital, "
    "leverage, live, metrics, position_sizing, risk_management, strategy, symbol, timeframe"
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config_live.json"
    path.write_text(text, encoding="utf-8")
    return path


def refusal(data: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    return str(caught.value)


# ------------------------------------------------------------------ defaults


def test_defaults_then_equal_the_spec() -> None:
    config = BotConfig()
    assert (config.symbol, config.timeframe) == ("BTC-USDT", Timeframe.M5)
    assert config.initial_capital == D("1000")
    assert config.leverage == 5
    sizing = config.position_sizing
    assert (sizing.risk_per_trade_percent, sizing.max_positions, sizing.min_trade_size_usdt) == (
        D("2.0"),
        2,
        D("10.0"),
    )
    risk = config.risk_management
    assert (
        risk.daily_loss_limit_percent,
        risk.max_drawdown_percent,
        risk.consecutive_loss_limit,
    ) == (D("5.0"), D("15.0"), 3)
    exits = config.exit_strategy
    assert (exits.stop_loss_percent, exits.take_profit_percent) == (D("2.0"), D("4.0"))
    assert exits.trailing_stop is False
    assert exits.take_profit_order is TakeProfitOrderKind.MARKET  # trigger-market by default
    strategy = config.strategy
    assert (strategy.name, strategy.adx_period, strategy.adx_threshold) == ("adx_v2", 14, D("25"))
    assert strategy.effective_warmup_candles == 140  # 10 * adx_period
    assert strategy.exit_on_di_cross is False
    assert strategy.adx_exit_threshold is None
    assert strategy.reverse_on_opposite_signal is False
    assert strategy.allow_short is True
    fees = config.fees
    assert (fees.taker_fee_rate, fees.maker_fee_rate) == (
        D("0.0005"),
        D("0.0002"),
    )  # 0.05 %, 0.02 %
    assert fees.slippage_bps == D("2")
    assert fees.funding_rate_per_8h == D("0")
    assert config.contract is None


def test_load_config_when_no_path_then_defaults() -> None:
    assert load_config(None) == BotConfig()


def test_load_config_when_empty_object_then_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "{}")) == BotConfig()


def test_config_to_json_when_read_back_then_same_config(tmp_path: Path) -> None:
    config = parse_config({"exit_strategy": {"take_profit_order": "limit"}, "leverage": 3})
    assert load_config(write(tmp_path, config_to_json(config))) == config


# ------------------------------------------------------------------ the original plan's shape


def test_load_config_when_original_plan_shape_then_accepted_as_written(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ORIGINAL_PLAN))
    assert config == BotConfig()  # the plan's values are the defaults
    assert config.initial_capital == D("1000.0")
    assert config.exit_strategy.trailing_stop is False


def test_parse_config_when_decimals_given_then_read_exactly() -> None:
    config = parse_config({"initial_capital": 1234.56, "exit_strategy": {"stop_loss_percent": 1.1}})
    assert config.initial_capital == D("1234.56")
    assert config.exit_strategy.stop_loss_percent == D("1.1")


# ------------------------------------------------------------------ unknown keys


def test_parse_config_when_unknown_top_level_key_then_names_it_and_lists_allowed_keys() -> None:
    message = refusal({"levrage": 5})
    assert f"unknown key 'levrage' (allowed here: {TOP_LEVEL_KEYS})" in message


def test_parse_config_when_unknown_nested_key_then_names_its_path_and_the_section_keys() -> None:
    message = refusal({"exit_strategy": {"stop_loss": 2.0}})
    assert (
        "unknown key 'exit_strategy.stop_loss' (allowed here: stop_loss_percent, "
        "take_profit_order, take_profit_percent, trailing_stop)"
    ) in message


def test_parse_config_when_unknown_key_in_optional_contract_section_then_lists_its_keys() -> None:
    contract = {
        "price_tick": 0.01,
        "quantity_step": 1,
        "min_quantity": 1,
        "min_notional_usdt": 5,
        "tick": 1,
    }
    message = refusal({"symbol": "DOGE-USDT", "contract": contract})
    assert (
        "unknown key 'contract.tick' (allowed here: min_notional_usdt, min_quantity, "
        "price_tick, quantity_step)"
    ) in message


def test_parse_config_when_several_problems_then_names_every_one() -> None:
    message = refusal({"leverage": 0, "timeframe": "2m", "fees": {"slippage": 2}})
    assert "leverage = 0" in message
    assert 'timeframe = "2m"' in message
    assert "unknown key 'fees.slippage'" in message


# ------------------------------------------------------------------ wrong types


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"leverage": "five"}, 'leverage = "five"'),
        ({"leverage": [5]}, "leverage = [5]"),
        ({"leverage": None}, "leverage = null"),
        ({"position_sizing": {"max_positions": 2.5}}, "position_sizing.max_positions = 2.5"),
        ({"position_sizing": 5}, "position_sizing = 5"),
        ({"exit_strategy": None}, "exit_strategy = null"),
        ({"exit_strategy": {"trailing_stop": "maybe"}}, 'exit_strategy.trailing_stop = "maybe"'),
        ({"symbol": 5}, "symbol = 5"),
        ({"fees": {"taker_fee_rate": "5%"}}, 'fees.taker_fee_rate = "5%"'),
        ({"strategy": {"name": "rsi"}}, 'strategy.name = "rsi"'),
    ],
)
def test_parse_config_when_value_has_wrong_type_then_names_key_and_value(
    data: dict[str, Any], named: str
) -> None:
    message = refusal(data)
    assert message.startswith("config is not a valid adxbot config:")
    assert named in message


# ------------------------------------------------------------------ impossible values


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"leverage": -1}, "leverage = -1: Input should be greater than or equal to 1"),
        ({"leverage": 0}, "leverage = 0"),
        ({"leverage": 126}, "leverage = 126"),
        ({"initial_capital": 0}, "initial_capital = 0"),
        ({"initial_capital": float("inf")}, "initial_capital = Infinity"),
        (
            {"exit_strategy": {"stop_loss_percent": 100}},
            "exit_strategy.stop_loss_percent = 100: Input should be less than 100",
        ),
        ({"exit_strategy": {"stop_loss_percent": 0}}, "exit_strategy.stop_loss_percent = 0"),
        ({"exit_strategy": {"take_profit_percent": -4}}, "exit_strategy.take_profit_percent = -4"),
        ({"timeframe": "7m"}, 'timeframe = "7m"'),
        ({"symbol": "btc-usdt"}, 'symbol = "btc-usdt"'),
        ({"symbol": "BTCUSDT"}, 'symbol = "BTCUSDT"'),
        # percents typed where fractions are expected: 0.05 is 5 %, not 0.05 %
        ({"fees": {"taker_fee_rate": 0.05}}, "fees.taker_fee_rate = 0.05: Input should be less"),
        ({"fees": {"maker_fee_rate": 0.02}}, "fees.maker_fee_rate = 0.02"),
        ({"fees": {"funding_rate_per_8h": 0.05}}, "fees.funding_rate_per_8h = 0.05"),
        ({"fees": {"slippage_bps": -1}}, "fees.slippage_bps = -1"),
        ({"position_sizing": {"risk_per_trade_percent": 0}}, "risk_per_trade_percent = 0"),
        ({"position_sizing": {"risk_per_trade_percent": 101}}, "risk_per_trade_percent = 101"),
        ({"position_sizing": {"max_positions": 0}}, "position_sizing.max_positions = 0"),
        ({"risk_management": {"max_drawdown_percent": 0}}, "max_drawdown_percent = 0"),
        ({"risk_management": {"consecutive_loss_limit": 0}}, "consecutive_loss_limit = 0"),
        ({"strategy": {"adx_threshold": 100}}, "strategy.adx_threshold = 100"),
        ({"exit_strategy": {"take_profit_order": "LIMIT"}}, "take_profit_order"),
    ],
)
def test_parse_config_when_value_impossible_then_refused_naming_key_and_value(
    data: dict[str, Any], named: str
) -> None:
    assert named in refusal(data)


def test_parse_config_when_warmup_shorter_than_adx_warmup_then_refused_with_the_minimum() -> None:
    message = refusal({"strategy": {"warmup_candles": 10}})
    assert "warmup_candles = 10 is shorter than ADX's own warm-up" in message
    assert "2 * adx_period + 1 = 29" in message


def test_parse_config_when_take_profit_percent_at_least_100_then_refused() -> None:
    assert "exit_strategy.take_profit_percent = 100" in refusal(
        {"exit_strategy": {"take_profit_percent": 100}}
    )


# ------------------------------------------------------------------ the file


def test_load_config_when_json_invalid_then_message_has_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, '{"leverage": 5,\n  "symbol": }\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    # the "}" sits on line 2, column 13
    assert str(caught.value) == f"{path} is not valid JSON: Expecting value at line 2, column 13"


def test_load_config_when_file_missing_then_suggests_adxbot_init(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"
    with pytest.raises(ConfigError, match="does not exist") as caught:
        load_config(path)
    assert f"'adxbot init {path}'" in str(caught.value)


@pytest.mark.parametrize("text", ["[1, 2]", '"config"', "5", "null"])
def test_load_config_when_top_level_not_an_object_then_refused(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(
        ConfigError, match=r"must hold a JSON object \(\{\.\.\.\}\) at the top level"
    ):
        load_config(path)


def test_load_config_when_invalid_then_message_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps({"leverage": 0}))
    with pytest.raises(ConfigError, match="is not a valid adxbot config") as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path} is not a valid adxbot config:")


# ------------------------------------------------------------------ instrument()


def test_instrument_when_known_symbol_then_bingx_rules() -> None:
    assert BotConfig().instrument() is BINGX_CONTRACTS["BTC-USDT"]
    assert parse_config({"symbol": "ETH-USDT"}).instrument() is BINGX_CONTRACTS["ETH-USDT"]


def test_instrument_when_unknown_symbol_without_contract_then_config_error_naming_the_fix() -> None:
    config = parse_config({"symbol": "SOL-USDT"})
    with pytest.raises(ConfigError) as caught:
        config.instrument()
    message = str(caught.value)
    assert "no contract rules are known for symbol 'SOL-USDT' (known: BTC-USDT, ETH-USDT)" in (
        message
    )
    assert "add a 'contract' section" in message


def test_instrument_when_contract_section_given_then_its_rules() -> None:
    config = parse_config(
        {
            "symbol": "SOL-USDT",
            "contract": {
                "price_tick": 0.01,
                "quantity_step": 0.1,
                "min_quantity": 0.1,
                "min_notional_usdt": 5,
            },
        }
    )
    assert config.instrument() == Instrument(
        symbol="SOL-USDT",
        price_tick=D("0.01"),
        quantity_step=D("0.1"),
        min_quantity=D("0.1"),
        min_notional=D("5"),
    )


@pytest.mark.parametrize("field", ["price_tick", "quantity_step"])
def test_parse_config_when_contract_step_not_positive_then_refused(field: str) -> None:
    contract = {"price_tick": 0.01, "quantity_step": 0.1, "min_quantity": 0, "min_notional_usdt": 0}
    contract[field] = 0
    assert f"contract.{field} = 0" in refusal({"symbol": "SOL-USDT", "contract": contract})
