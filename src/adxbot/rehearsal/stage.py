"""The stage of a rehearsal: a simulator on a stepped clock, its admin API, and the hand
that moves the market.

The simulator replays the bundled BTC-USDT candles on a loopback port, its clock moved
only by the rehearsal (one candle at a time, or a jump to just before the strategy's next
entry signal), so that every scenario is the same on every run.  Faults go through the
simulator's own admin API (`/sim/...`), exactly as `adxbot sim-ctl` sends them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal
from typing import Any, cast

import httpx
import numpy as np
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.types import ASGIApp

from adxbot.config import BotConfig
from adxbot.domain.candles import CandleSeries
from adxbot.exchange.credentials import Credentials
from adxbot.market.candle_file import bundled_sample_path, load_candle_csv
from adxbot.sim.account import ApiKey
from adxbot.sim.faults import FaultKind
from adxbot.sim.server import SimOptions, SimulatorThread, build_simulator
from adxbot.strategy.factory import build_strategy


class Stage:
    """A served simulator and its admin API."""

    def __init__(
        self,
        thread: SimulatorThread,
        candles: CandleSeries,
        timeframe_ms: int,
        credentials: Credentials,
    ) -> None:
        self._thread = thread
        self.credentials = credentials
        """The rehearsal account's key: its own, so that rehearsals never share a lock."""
        self._admin = httpx.Client(base_url=thread.base_url, timeout=30.0)
        self.candles = candles
        self.timeframe_ms = timeframe_ms

    @property
    def base_url(self) -> str:
        """Return the simulator's `http://127.0.0.1:<port>`."""
        return self._thread.base_url

    def close(self) -> None:
        """Close the admin connection."""
        self._admin.close()

    # ------------------------------------------------------------------ reading
    def state(self) -> dict[str, Any]:
        """Return `/sim/state`: market, accounts, positions, orders, faults."""
        response = self._admin.get("/sim/state")
        response.raise_for_status()
        state: dict[str, Any] = response.json()
        return state

    def account(self, state: dict[str, Any] | None = None) -> dict[str, Any]:
        """Return the rehearsal account's part of the state."""
        for account in (state or self.state())["accounts"]:
            if account["api_key"] == self.credentials.api_key:
                result: dict[str, Any] = account
                return result
        raise RuntimeError("the simulator has no rehearsal account")

    def positions(self) -> list[dict[str, Any]]:
        """Return the account's open positions."""
        return [p for p in self.account()["positions"] if Decimal(p["positionAmt"]) != 0]

    def now_ms(self) -> int:
        """Return the simulated time."""
        return int(self.state()["time_ms"])

    def price(self) -> Decimal:
        """Return the last price."""
        return Decimal(self.state()["price"])

    def requests_and_faults(self) -> tuple[int, dict[str, int]]:
        """Return how many requests the simulator served and the faults it injected."""
        faults = self.state()["faults"]
        return int(faults["requests"]), dict(faults["injected"])

    # ------------------------------------------------------------------ acting
    def admin(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST to `/sim/<path>` and return the answer."""
        response = self._admin.post(f"/sim/{path}", json=body or {})
        if response.status_code != 200:
            raise RuntimeError(f"the simulator refused {path}: {response.text}")
        answer: dict[str, Any] = response.json()
        return answer

    def step(self, ms: int) -> None:
        """Move the simulated clock forward by `ms`."""
        self.admin("clock/step", {"ms": ms})

    def jump(self, percent: float) -> None:
        """Move the price by `percent` at once (a gap)."""
        self.admin("market/jump", {"percent": percent})

    def disconnect(self, seconds: float) -> None:
        """Drop every request for `seconds` of wall time."""
        self.admin("disconnect", {"seconds": seconds})

    def schedule(self, kind: FaultKind, count: int = 1, path_contains: str = "") -> None:
        """Make the next `count` requests whose path contains `path_contains` fail so."""
        self.admin(
            "faults/schedule",
            {"kind": kind.value, "count": count, "path_contains": path_contains},
        )

    def random_faults(self, rates: dict[FaultKind, float], *, timeout_s: float = 30.0) -> None:
        """Fail requests at random by `rates` (per request), from now on."""
        self.admin(
            "faults",
            {"rates": {k.value: v for k, v in rates.items()}, "timeout_s": timeout_s},
        )

    def reject_orders(self, count: int, code: int = 101204, msg: str = "Insufficient margin"):  # type: ignore[no-untyped-def]
        """Reject the next `count` orders with a BingX error."""
        self.admin("orders/reject", {"count": count, "code": code, "msg": msg})

    def liquidate(self) -> None:
        """Force-close every position at the current price (a liquidation)."""
        self.admin("liquidate")

    def reset_faults(self) -> None:
        """Remove every fault."""
        self.admin("faults/reset")

    # ------------------------------------------------------------------ the strategy's plan
    def entry_signals(self, config: BotConfig) -> list[int]:
        """Return the open times of the candles on which a flat strategy would enter."""
        signals = build_strategy(config.strategy).signals(self.candles)
        flat = signals.when_flat
        indexes = np.nonzero((flat == 1) | (flat == 2))[0]
        return [int(self.candles.open_time_ms[i]) for i in indexes]


@contextmanager
def staged_simulator(
    config: BotConfig,
    *,
    balance: Decimal | None = None,
    fault_seed: int = 0,
    wrap: Callable[[ASGIApp], ASGIApp] | None = None,
) -> Iterator[Stage]:
    """Serve the bundled candles on a stepped clock, history enough for `config`'s bot.

    `wrap`, if given, wraps the simulator's ASGI app before it is served (a test's
    middleware that watches or interferes with the bot's requests on the wire).
    """
    candles = load_candle_csv(bundled_sample_path())
    key = ApiKey(f"rehearsal-{secrets.token_hex(8)}", secrets.token_hex(32))
    timeframe_ms = config.timeframe.ms
    history = config.bot.history_candles
    start = int(candles.open_time_ms[0]) + (history + 1) * timeframe_ms
    options = SimOptions(
        speed=0.0,
        start_ms=start,
        rate_limits=False,
        balance=balance if balance is not None else Decimal(str(config.initial_capital)),
        symbol=config.symbol,
        timeframe=config.timeframe,
        funding_rate=Decimal(0),
        fault_seed=fault_seed,
        keys=[key],
    )
    simulator = build_simulator(options)
    if wrap is not None:
        # Served as is by uvicorn: any ASGI app does (the field's type says Starlette).
        simulator = replace(simulator, app=cast(Starlette, wrap(simulator.app)))
    with SimulatorThread(simulator) as thread:
        stage = Stage(thread, candles, timeframe_ms, Credentials(key.key, SecretStr(key.secret)))
        try:
            yield stage
        finally:
            stage.close()
