"""`adxbot sim-ctl`: steer a running simulator through its admin API (/sim/...)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from adxbot.sim.faults import FaultKind

sim_ctl = typer.Typer(
    name="sim-ctl",
    help="Steer a running `adxbot sim`: faults, market, clock, state.",
    no_args_is_help=True,
)

UrlOption = Annotated[str, typer.Option("--url", help="The simulator's base URL.")]
DEFAULT_URL = "http://127.0.0.1:8000"


def _call(url: str, path: str, body: dict[str, Any] | None = None) -> None:
    import httpx

    try:
        if body is None and path == "/sim/state":
            response = httpx.get(url + path, timeout=10)
        else:
            response = httpx.post(url + path, json=body or {}, timeout=10)
    except httpx.HTTPError as e:
        typer.echo(f"cannot reach the simulator at {url}: {e}", err=True)
        raise typer.Exit(1) from e
    if response.status_code != 200:
        typer.echo(f"the simulator refused: HTTP {response.status_code} {response.text}", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(response.json(), indent=2))


@sim_ctl.command()
def state(url: UrlOption = DEFAULT_URL) -> None:
    """Print balances, positions, orders and faults."""
    _call(url, "/sim/state")


@sim_ctl.command()
def jump(percent: float, url: UrlOption = DEFAULT_URL) -> None:
    """Jump the price by PERCENT from now on (negative = down): a gap."""
    _call(url, "/sim/market/jump", {"percent": percent})


@sim_ctl.command()
def step(ms: int, url: UrlOption = DEFAULT_URL) -> None:
    """Move the simulated clock forward by MS milliseconds."""
    _call(url, "/sim/clock/step", {"ms": ms})


@sim_ctl.command()
def pause(url: UrlOption = DEFAULT_URL) -> None:
    """Stop the simulated clock and market."""
    _call(url, "/sim/market/pause")


@sim_ctl.command()
def resume(url: UrlOption = DEFAULT_URL) -> None:
    """Let the simulated clock run again."""
    _call(url, "/sim/market/resume")


@sim_ctl.command()
def disconnect(seconds: float, url: UrlOption = DEFAULT_URL) -> None:
    """Drop every request for SECONDS."""
    _call(url, "/sim/disconnect", {"seconds": seconds})


@sim_ctl.command("reject-orders")
def reject_orders(
    count: int,
    code: Annotated[int, typer.Option(help="BingX error code to answer with.")] = 101204,
    msg: Annotated[str, typer.Option(help="Its message.")] = "Insufficient margin",
    url: UrlOption = DEFAULT_URL,
) -> None:
    """Reject the next COUNT orders with a BingX error."""
    _call(url, "/sim/orders/reject", {"count": count, "code": code, "msg": msg})


@sim_ctl.command("fail-closes")
def fail_closes(count: int, url: UrlOption = DEFAULT_URL) -> None:
    """Make the next COUNT position closes fail."""
    _call(url, "/sim/closes/fail", {"count": count})


@sim_ctl.command()
def schedule(
    kind: FaultKind,
    count: Annotated[int, typer.Option(help="How many requests.")] = 1,
    path: Annotated[str, typer.Option(help="Only requests whose path contains this.")] = "",
    url: UrlOption = DEFAULT_URL,
) -> None:
    """Make the next COUNT matching requests fail with KIND."""
    _call(url, "/sim/faults/schedule", {"kind": kind.value, "count": count, "path_contains": path})


@sim_ctl.command()
def faults(
    latency_ms: Annotated[float, typer.Option(help="Added latency per request.")] = 0,
    jitter_ms: Annotated[float, typer.Option(help="Added random latency, up to this.")] = 0,
    rate: Annotated[list[str] | None, typer.Option(help="KIND=P, repeatable.")] = None,
    timeout_s: Annotated[float, typer.Option(help="How long a 'timeout' holds its answer.")] = 30,
    path: Annotated[str, typer.Option(help="Only requests whose path contains this.")] = "",
    url: UrlOption = DEFAULT_URL,
) -> None:
    """Set random faults (replaces the previous settings)."""
    from adxbot.cli.sim_cmd import parse_fault_rates

    rates = {k.value: v for k, v in parse_fault_rates(rate or []).items()}
    body = {"latency_ms": latency_ms, "jitter_ms": jitter_ms, "rates": rates,
            "timeout_s": timeout_s, "path_contains": path}  # fmt: skip
    _call(url, "/sim/faults", body)


@sim_ctl.command()
def reset(url: UrlOption = DEFAULT_URL) -> None:
    """Remove every fault."""
    _call(url, "/sim/faults/reset")
