"""Which BingX the bot talks to: the config's `exchange` section and `BINGX_BASE_URL`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adxbot.config import (
    BotConfig,
    ExchangeEnvironment,
    ExchangeSettings,
    config_to_json,
    load_config,
    parse_config,
)
from adxbot.errors import ConfigError
from adxbot.exchange.client import DEMO_URL, PRODUCTION_URL
from adxbot.exchange.environment import ResolvedEnvironment, resolve_environment

SIM_URL = "http://127.0.0.1:8000"


def settings(**exchange: Any) -> ExchangeSettings:
    return parse_config({"exchange": exchange}).exchange


def refusal(**exchange: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config({"exchange": exchange})
    return str(caught.value)


# ------------------------------------------------------------------ the config section


def test_exchange_section_when_absent_then_production_without_base_url() -> None:
    exchange = BotConfig().exchange
    assert exchange.environment is ExchangeEnvironment.PRODUCTION
    assert exchange.base_url is None
    assert exchange.recv_window_ms is None


def test_exchange_section_when_custom_with_base_url_then_accepted_without_trailing_slash() -> None:
    exchange = settings(environment="custom", base_url="http://127.0.0.1:8000/")
    assert (exchange.environment, exchange.base_url) == (ExchangeEnvironment.CUSTOM, SIM_URL)


def test_exchange_section_when_custom_without_base_url_then_refused_naming_both() -> None:
    message = refusal(environment="custom")
    assert 'environment "custom" needs "base_url"' in message


@pytest.mark.parametrize("environment", ["production", "demo"])
def test_exchange_section_when_base_url_with_fixed_environment_then_refused(
    environment: str,
) -> None:
    message = refusal(environment=environment, base_url=SIM_URL)
    assert '"base_url" is only used with environment "custom"' in message
    assert f'this is "{environment}"' in message


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://127.0.0.1", "http:// or https://"),
        ("127.0.0.1:8000", "http:// or https://"),
        ("http://", "with a host"),
        ("http://user:pw@127.0.0.1:8000", "user name or password"),
        ("http://127.0.0.1:8000/?x=1", "query"),
        ("http://127.0.0.1:99999", "invalid port"),
    ],
)
def test_exchange_section_when_base_url_malformed_then_refused_naming_the_key(
    url: str, problem: str
) -> None:
    message = refusal(environment="custom", base_url=url)
    assert f"exchange.base_url = {json.dumps(url)}" in message
    assert problem in message


def test_exchange_section_when_environment_unknown_then_refused_listing_the_choices() -> None:
    message = refusal(environment="testnet")
    assert 'exchange.environment = "testnet"' in message
    assert "'production', 'demo' or 'custom'" in message


@pytest.mark.parametrize("window", [0, 60_001, -5, "5000", 5000.5, True])
def test_exchange_section_when_recv_window_out_of_range_or_not_integer_then_refused(
    window: object,
) -> None:
    assert "exchange.recv_window_ms" in refusal(recv_window_ms=window)


@pytest.mark.parametrize("window", [1, 5000, 60_000])
def test_exchange_section_when_recv_window_in_range_then_kept(window: int) -> None:
    assert settings(recv_window_ms=window).recv_window_ms == window


def test_exchange_section_when_unknown_key_then_lists_the_allowed_ones() -> None:
    assert "allowed here: base_url, environment, margin_type, recv_window_ms" in refusal(
        api_key="abc"
    )


def test_exchange_section_when_written_and_read_back_then_equal(tmp_path: Path) -> None:
    config = parse_config(
        {"exchange": {"environment": "custom", "base_url": SIM_URL, "recv_window_ms": 10_000}}
    )
    path = tmp_path / "c.json"
    path.write_text(config_to_json(config))
    assert load_config(path) == config


# ------------------------------------------------------------------ resolution


def test_resolve_when_nothing_set_then_production_by_default() -> None:
    resolved = resolve_environment(BotConfig().exchange, {})
    assert resolved == ResolvedEnvironment(
        ExchangeEnvironment.PRODUCTION, PRODUCTION_URL, "default"
    )
    assert resolved.label == "PRODUCTION"
    assert resolved.real_bingx


def test_resolve_when_config_says_production_then_the_config_decided() -> None:
    resolved = resolve_environment(settings(environment="production"), {})
    assert (resolved.base_url, resolved.source) == (PRODUCTION_URL, "config exchange.environment")


def test_resolve_when_config_says_demo_then_vst_url_and_label() -> None:
    resolved = resolve_environment(settings(environment="demo"), {})
    assert (resolved.environment, resolved.base_url) == (ExchangeEnvironment.DEMO, DEMO_URL)
    assert resolved.label == "VST DEMO"
    assert resolved.real_bingx


def test_resolve_when_config_says_custom_then_its_base_url() -> None:
    resolved = resolve_environment(settings(environment="custom", base_url=SIM_URL), {})
    assert (resolved.environment, resolved.base_url) == (ExchangeEnvironment.CUSTOM, SIM_URL)
    assert resolved.label == "CUSTOM"
    assert not resolved.real_bingx


@pytest.mark.parametrize("environment", ["production", "demo"])
def test_resolve_when_bingx_base_url_set_then_it_overrides_the_config_as_custom(
    environment: str,
) -> None:
    resolved = resolve_environment(
        settings(environment=environment), {"BINGX_BASE_URL": " http://127.0.0.1:9000/ "}
    )
    assert resolved == ResolvedEnvironment(
        ExchangeEnvironment.CUSTOM, "http://127.0.0.1:9000", "BINGX_BASE_URL"
    )


def test_resolve_when_bingx_base_url_blank_then_ignored() -> None:
    resolved = resolve_environment(settings(environment="demo"), {"BINGX_BASE_URL": "  "})
    assert resolved.environment is ExchangeEnvironment.DEMO


def test_resolve_when_bingx_base_url_malformed_then_config_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"BINGX_BASE_URL = 'localhost:8000': must be an http"):
        resolve_environment(BotConfig().exchange, {"BINGX_BASE_URL": "localhost:8000"})
