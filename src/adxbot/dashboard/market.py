"""What the dashboard asks the exchange: candles for the chart, and (live) the account.

Candles come from the configured environment's public market data (`BingXClient.klines`)
with ADX, +DI and -DI computed by the strategy's own indicator code.  In live mode the
account's balance and positions are read with its API key, so the overview can set the
exchange's figures beside the database's.  Answers are cached for a few seconds (several
open pages cost one request), reads are tried once, and a failure becomes a message the
page shows: the exchange being unreachable never fails a page.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import httpx
import numpy as np

from adxbot import __version__
from adxbot.clock import Clock, WallClock
from adxbot.config import BotConfig
from adxbot.dashboard.settings import DashboardOptions
from adxbot.domain.candles import FloatArray
from adxbot.exchange.client import BingXClient, Timeouts
from adxbot.exchange.errors import ExchangeError
from adxbot.exchange.models import Balance, Kline, PositionReport
from adxbot.exchange.server_clock import ServerClock
from adxbot.logsetup import redact
from adxbot.strategy.indicators import directional_movement

log = logging.getLogger("adxbot.dashboard")

CACHE_SECONDS = 5.0
MAX_CANDLES = 1000
_FETCH_LIMIT = 1440
"""BingX serves at most this many candles per request."""
_TIMEOUTS = Timeouts(connect_s=3.0, read_s=5.0, write_s=5.0)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CandleChart:
    """Candles (the last may still be forming) with ADX/DI, or why there are none."""

    candles: list[Kline]
    plus_di: list[float | None]
    minus_di: list[float | None]
    adx: list[float | None]
    error: str | None
    fetched_ms: int


@dataclass(frozen=True, slots=True)
class ExchangeAccount:
    """The account as the exchange reports it, or why it could not be read."""

    balance: Balance | None
    positions: list[PositionReport]
    error: str | None
    fetched_ms: int


class _Cached(Generic[T]):
    """One value, fetched at most once per `ttl_s` however many pages ask for it."""

    def __init__(self, ttl_s: float, monotonic: Callable[[], float]) -> None:
        self._ttl_s = ttl_s
        self._monotonic = monotonic
        self._lock = asyncio.Lock()
        self._value: T | None = None
        self._expires = 0.0

    async def get(self, fetch: Callable[[], Awaitable[T]]) -> T:
        async with self._lock:
            if self._value is None or self._monotonic() >= self._expires:
                self._value = await fetch()
                self._expires = self._monotonic() + self._ttl_s
            return self._value


class ExchangeView:
    """Cached reads of the exchange for the pages; never raises for the exchange's failures."""

    def __init__(
        self,
        options: DashboardOptions,
        clock: Clock,
        *,
        ttl_s: float = CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._options = options
        self._config: BotConfig = options.config
        self._clock = clock
        self._http: httpx.AsyncClient | None = None
        self._client: BingXClient | None = None
        self._candles: dict[int, _Cached[CandleChart]] = {}
        self._account: _Cached[ExchangeAccount] = _Cached(ttl_s, monotonic)
        self._ttl_s = ttl_s
        self._monotonic = monotonic

    @property
    def reads_account(self) -> bool:
        """Return True when the account can be read (live mode with an API key)."""
        return self._options.credentials is not None

    async def candles(self, limit: int) -> CandleChart:
        """Return the latest `limit` candles with ADX/DI (cached a few seconds)."""
        limit = max(1, min(limit, MAX_CANDLES))
        cached = self._candles.setdefault(limit, _Cached(self._ttl_s, self._monotonic))
        return await cached.get(lambda: self._fetch_candles(limit))

    async def account(self) -> ExchangeAccount | None:
        """Return the exchange's balance and positions (live mode), None without a key."""
        if not self.reads_account:
            return None
        return await self._account.get(self._fetch_account)

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None
            self._client = None

    def _bingx(self) -> BingXClient:
        if self._client is None:
            self._http = httpx.AsyncClient(
                headers={"User-Agent": f"adxbot/{__version__} (dashboard)"}
            )
            self._client = BingXClient(
                self._http,
                self._options.environment.base_url,
                ServerClock(WallClock()),
                self._options.credentials,
                timeouts=_TIMEOUTS,
                read_attempts=1,
                recv_window_ms=self._config.exchange.recv_window_ms,
            )
        return self._client

    async def _fetch_candles(self, limit: int) -> CandleChart:
        period = self._config.strategy.adx_period
        # Wilder's smoothing needs a run-in before the shown candles' ADX is settled.
        fetch = min(_FETCH_LIMIT, limit + 10 * period)
        try:
            klines = await self._bingx().klines(
                self._config.symbol, self._config.timeframe.value, limit=fetch
            )
        except ExchangeError as e:
            return CandleChart(
                [], [], [], [], self._failure("the candles", e), self._clock.now_ms()
            )
        plus_di, minus_di, adx = _indicators(klines, period)
        start = max(0, len(klines) - limit)
        return CandleChart(
            klines[start:],
            plus_di[start:],
            minus_di[start:],
            adx[start:],
            None,
            self._clock.now_ms(),
        )

    async def _fetch_account(self) -> ExchangeAccount:
        client = self._bingx()
        try:
            if not client.clock.synced:
                await client.sync_time()
            balance = await client.get_balance()
            positions = await client.get_all_positions(self._config.symbol)
        except ExchangeError as e:
            return ExchangeAccount(None, [], self._failure("the account", e), self._clock.now_ms())
        return ExchangeAccount(balance, positions, None, self._clock.now_ms())

    def _failure(self, what: str, error: ExchangeError) -> str:
        environment = self._options.environment
        message = redact(
            f"{environment.label} ({environment.base_url}) did not give {what}: {error}"
        )
        log.warning("%s", message)
        return message


def _indicators(
    klines: list[Kline], period: int
) -> tuple[list[float | None], list[float | None], list[float | None]]:
    if len(klines) < 2:
        empty: list[float | None] = [None] * len(klines)
        return empty, list(empty), list(empty)
    high = np.array([float(k.high) for k in klines])
    low = np.array([float(k.low) for k in klines])
    close = np.array([float(k.close) for k in klines])
    found = directional_movement(high, low, close, period)
    return _values(found.plus_di), _values(found.minus_di), _values(found.adx)


def _values(column: FloatArray) -> list[float | None]:
    return [None if math.isnan(v) else round(float(v), 4) for v in column.tolist()]
