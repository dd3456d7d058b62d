"""A LiveTrader wired to a simulator on loopback, for scenario tests (real HTTP, real
signatures, the simulator's matching engine; a stepped clock the test moves)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
from pydantic import SecretStr

from adxbot.bot.live_setup import prepare_account
from adxbot.clock import WallClock
from adxbot.config import BotConfig, parse_config
from adxbot.domain.candles import Bar
from adxbot.exchange.client import BingXClient, Timeouts
from adxbot.exchange.credentials import Credentials
from adxbot.exchange.server_clock import ServerClock
from adxbot.execution.live_trader import LiveTrader
from adxbot.execution.order_placement import PlacementPolicy
from adxbot.persistence.records import TradingMode
from adxbot.persistence.store import TradeStore
from adxbot.risk.breakers import CircuitBreakers, RiskLimits
from adxbot.risk.manager import RiskManager
from adxbot.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET

SIM_CREDENTIALS = Credentials(DEFAULT_API_KEY, SecretStr(DEFAULT_API_SECRET))
FAST_POLICY = PlacementPolicy(attempts=3, backoff_s=0.01, confirm_timeout_s=2.0, poll_s=0.01)


@dataclass(slots=True)
class LiveRig:
    """Everything a live scenario needs."""

    trader: LiveTrader
    client: BingXClient
    store: TradeStore
    breakers: CircuitBreakers
    config: BotConfig


@asynccontextmanager
async def live_rig(
    base_url: str,
    database: Path,
    *,
    config: BotConfig | None = None,
    client_class: type[BingXClient] = BingXClient,
    write_timeout_s: float = 8.0,
) -> AsyncIterator[LiveRig]:
    """Yield a LiveTrader on the simulator at `base_url` with a live database."""
    settings = config or parse_config({})
    async with httpx.AsyncClient() as http:
        client = client_class(
            http,
            base_url,
            ServerClock(WallClock()),
            SIM_CREDENTIALS,
            backoff_s=0.01,
            timeouts=Timeouts(read_s=5.0, write_s=write_timeout_s),
        )
        report = await prepare_account(settings, client, check_clock=False)
        with TradeStore.open(database, TradingMode.LIVE) as store:
            breakers = CircuitBreakers(RiskLimits.from_config(settings), store, WallClock())
            trader = LiveTrader(
                settings,
                store,
                RiskManager(settings, breakers),
                client,
                WallClock(),
                report.setup,
                policy=FAST_POLICY,
            )
            yield LiveRig(trader, client, store, breakers, settings)


def candle_at(price: Decimal, open_time_ms: int) -> Bar:
    """Return a closed candle whose close is `price` (what the trader sizes from)."""
    return Bar(open_time_ms, price, price, price, price)
