"""Shared fixtures: the real candle files."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from adxbot.domain.candles import CandleSeries
from adxbot.market.candle_file import bundled_sample_path, load_candle_csv

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FULL_FILE = SHARED_DATA / "btcusdt_perp_binance_5m_20241231_20260219.csv.gz"


@pytest.fixture(scope="session")
def full_candles() -> CandleSeries:
    """The 14-month real BTCUSDT perpetual 5m file from ../shared/data (skips if absent)."""
    if not FULL_FILE.exists():
        pytest.skip(f"{FULL_FILE} is not present (it lives in the shared folder beside the repo)")
    return load_candle_csv(FULL_FILE)


@pytest.fixture(scope="session")
def sample_candles() -> CandleSeries:
    """The 3-month sample bundled inside the package."""
    return load_candle_csv(bundled_sample_path())


@pytest.fixture(autouse=True)
def _library_log_levels() -> Iterator[None]:
    """Restore the levels a command's `configure_logging` sets on libraries' loggers, so
    a test that logs at DEBUG sees httpx's records whatever ran before it."""
    names = ("httpx", "httpcore", "asyncio", "apprise")
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
