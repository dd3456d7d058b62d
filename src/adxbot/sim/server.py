"""Assemble a simulator from options, and serve it (in the foreground, or in a thread)."""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from adxbot.clock import Clock, WallClock
from adxbot.config import Fees
from adxbot.domain.enums import Timeframe
from adxbot.domain.instrument import BINGX_CONTRACTS, Instrument
from adxbot.engine.fees import FeeSchedule
from adxbot.market.candle_file import bundled_sample_path, load_candle_csv
from adxbot.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET
from adxbot.sim.account import ApiKey
from adxbot.sim.app import create_app
from adxbot.sim.clock import SimClock
from adxbot.sim.exchange import SimExchange
from adxbot.sim.faults import FaultInjector
from adxbot.sim.feed import CandleSource, ReplaySource, SyntheticSource
from adxbot.sim.market import Market


@dataclass(slots=True)
class SimOptions:
    """Everything that shapes a simulator."""

    data: Path | None = None
    """Candle file to replay; None with `synthetic` False replays the bundled sample."""
    synthetic: bool = False
    seed: int = 1
    speed: float = 1.0
    start_ms: int | None = None
    """Simulated start time; default: after the first 200 candles (history for warm-up)."""
    balance: Decimal = Decimal(1000)
    keys: list[ApiKey] = field(
        default_factory=lambda: [ApiKey(DEFAULT_API_KEY, DEFAULT_API_SECRET)]
    )
    hedge_mode: bool = False
    leverage: int = 5
    symbol: str = "BTC-USDT"
    timeframe: Timeframe = Timeframe.M5
    funding_rate: Decimal = Decimal("0.0001")
    slippage_bps: Decimal = Decimal(0)
    """Adverse slippage on taker fills; 0 = a deep book (set 2 to mirror the backtest)."""
    rate_limits: bool = True
    fault_seed: int = 0


@dataclass(slots=True)
class Simulator:
    """A built simulator: the exchange, its fault injector and its ASGI app."""

    exchange: SimExchange
    faults: FaultInjector
    app: Starlette


def build_simulator(options: SimOptions, wall: Clock | None = None) -> Simulator:
    """Build the market, exchange, faults and app described by `options`."""
    wall_clock = wall or WallClock()
    instrument = BINGX_CONTRACTS.get(options.symbol) or Instrument(
        options.symbol, Decimal("0.1"), Decimal("0.0001"), Decimal("0.0001"), Decimal(2)
    )
    source: CandleSource
    if options.synthetic:
        start = options.start_ms or wall_clock.now_ms()
        source = SyntheticSource(
            options.seed, start - 200 * options.timeframe.ms, options.timeframe.ms
        )
    else:
        candles = load_candle_csv(options.data or bundled_sample_path())
        source = ReplaySource(candles, options.timeframe.ms)
    start_ms = options.start_ms or source.first_open_ms + 200 * options.timeframe.ms
    clock = SimClock(wall_clock, start_ms, options.speed)
    market = Market(options.symbol, source, clock, instrument)
    fees = FeeSchedule.from_config(Fees(slippage_bps=options.slippage_bps))
    exchange = SimExchange(
        market,
        fees,
        keys=options.keys,
        balance=options.balance,
        leverage=options.leverage,
        hedge_mode=options.hedge_mode,
        funding_rate=options.funding_rate,
    )
    faults = FaultInjector(wall_clock, options.fault_seed)
    return Simulator(
        exchange, faults, create_app(exchange, faults, rate_limits=options.rate_limits)
    )


def loopback_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """Bind a listening TCP socket (port 0 = a free port chosen by the system)."""
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it every answer waits ~40 ms for the client's delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(512)
    return sock


class SimulatorThread:
    """Serve a simulator from a background thread on a loopback port (tests, benchmarks)."""

    def __init__(self, simulator: Simulator, host: str = "127.0.0.1") -> None:
        self.simulator = simulator
        self._socket = loopback_socket(host)
        self.port: int = self._socket.getsockname()[1]
        self.base_url = f"http://{host}:{self.port}"
        config = uvicorn.Config(  # no log_config: records go to the host's own logging
            simulator.app, log_level="warning", access_log=False, lifespan="off", log_config=None
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._run, name=f"adxbot-sim-{self.port}", daemon=True
        )

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._socket]))

    def start(self) -> SimulatorThread:
        """Start serving and wait until the server accepts requests."""
        self._thread.start()
        for _ in range(500):
            if self._server.started:
                return self
            threading.Event().wait(0.01)
        raise RuntimeError("the simulator did not start within 5 s")

    def stop(self) -> None:
        """Stop the server and wait for its thread."""
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
