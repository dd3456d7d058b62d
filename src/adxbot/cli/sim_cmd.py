"""`adxbot sim`: serve the BingX-compatible exchange simulator."""

from __future__ import annotations

import logging
import sys
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from adxbot.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET
from adxbot.sim.faults import FaultKind, FaultSettings


def sim(
    host: Annotated[
        str, typer.Option(help="Address to bind; loopback unless you say otherwise.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0 = any free port).")] = 8000,
    data: Annotated[
        Path | None,
        typer.Option(
            help="Candle CSV to replay (default: the bundled 3-month sample).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    synthetic: Annotated[
        bool, typer.Option("--synthetic", help="Generate a seeded random market instead.")
    ] = False,
    seed: Annotated[
        int, typer.Option(help="Seed of the synthetic market and of random faults.")
    ] = 1,
    speed: Annotated[
        float,
        typer.Option(
            help="Simulated seconds per real second "
            "(300 = a 5m candle per second; 0 = stepped only)."
        ),
    ] = 1.0,
    balance: Annotated[float, typer.Option(help="Starting USDT balance of each account.")] = 1000.0,
    api_key: Annotated[str, typer.Option(help="API key the simulator accepts.")] = DEFAULT_API_KEY,
    api_secret: Annotated[str, typer.Option(help="Its secret.")] = DEFAULT_API_SECRET,
    no_trade_permission: Annotated[
        bool, typer.Option(help="The key may read but not trade.")
    ] = False,
    withdraw_permission: Annotated[
        bool, typer.Option(help="The key also shows withdraw permission.")
    ] = False,
    hedge_mode: Annotated[
        bool, typer.Option("--hedge-mode", help="Start accounts in hedge (dual-side) mode.")
    ] = False,
    no_rate_limits: Annotated[
        bool, typer.Option(help="Do not enforce BingX's per-key rate limits.")
    ] = False,
    latency_ms: Annotated[float, typer.Option(help="Added latency per request.")] = 0.0,
    jitter_ms: Annotated[float, typer.Option(help="Added random latency, up to this much.")] = 0.0,
    fault_rate: Annotated[
        list[str] | None,
        typer.Option(
            help="KIND=P: probability per request of a fault (repeatable); kinds: "
            + ", ".join(k.value for k in FaultKind)
        ),
    ] = None,
    debug: Annotated[bool, typer.Option(help="Log a line per request.")] = False,
) -> None:
    """Serve a local BingX-compatible exchange (REST API, matching engine, fault injection)."""
    import uvicorn

    from adxbot.sim.account import ApiKey
    from adxbot.sim.server import SimOptions, build_simulator, loopback_socket

    console = Console()
    rates = parse_fault_rates(fault_rate or [])
    options = SimOptions(
        data=data,
        synthetic=synthetic,
        seed=seed,
        speed=speed,
        balance=Decimal(repr(balance)),
        keys=[
            ApiKey(
                api_key,
                api_secret,
                can_trade=not no_trade_permission,
                can_withdraw=withdraw_permission,
            )
        ],
        hedge_mode=hedge_mode,
        rate_limits=not no_rate_limits,
        fault_seed=seed,
    )
    simulator = build_simulator(options)
    simulator.faults.configure(
        FaultSettings(latency_ms=latency_ms, jitter_ms=jitter_ms, rates=rates)
    )
    sock = loopback_socket(host, port)
    bound_port = sock.getsockname()[1]
    market = simulator.exchange.market
    console.print(
        f"[bold]adxbot sim[/] serving BingX's swap API at [cyan]http://{host}:{bound_port}[/]"
    )
    console.print(
        f"  api key: {api_key}   secret: {api_secret}  (simulator credentials, not BingX's)"
    )
    source = f"synthetic seed {seed}" if synthetic else str(data or "bundled sample")
    minutes = market.timeframe_ms // 60_000
    console.print(f"  market: {market.symbol} {minutes}m, {source}, speed x{speed:g}")
    console.print(f"  admin: http://{host}:{bound_port}/sim/state (loopback only); Ctrl-C stops")
    if host not in ("127.0.0.1", "::1", "localhost"):
        console.print(
            f"[yellow]warning:[/] bound to {host}: the simulator is reachable from the network"
        )
    sys.stdout.flush()  # the URL line must reach a supervising process before serving
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING, format="%(asctime)s %(message)s"
    )
    config = uvicorn.Config(
        simulator.app, log_level="debug" if debug else "warning", access_log=debug
    )
    uvicorn.Server(config).run(sockets=[sock])


def parse_fault_rates(items: list[str]) -> dict[FaultKind, float]:
    """Parse KIND=PROBABILITY items into fault rates."""
    kinds = ", ".join(k.value for k in FaultKind)
    rates: dict[FaultKind, float] = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            kind = FaultKind(name)
            rate = float(value)
        except ValueError:
            raise typer.BadParameter(
                f"{item!r}: expected KIND=PROBABILITY with KIND one of {kinds}",
                param_hint="--fault-rate",
            ) from None
        if not 0 <= rate <= 1:
            raise typer.BadParameter(
                f"{item!r}: the probability must be between 0 and 1", param_hint="--fault-rate"
            )
        rates[kind] = rate
    return rates
