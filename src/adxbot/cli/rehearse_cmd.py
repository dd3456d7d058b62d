"""`adxbot rehearse`: the failure campaign against the local simulator, before real money."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console


def rehearse(
    config: Annotated[
        Path | None,
        typer.Option(
            help="The config you will trade live with (default: built-in defaults).", dir_okay=False
        ),
    ] = None,
    scenario: Annotated[
        list[str] | None,
        typer.Option(help="Run only this scenario (repeatable; default: all). See --list."),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(help="Also write an HTML report with every check.", dir_okay=False),
    ] = None,
    outage_seconds: Annotated[
        float,
        typer.Option(help="Length of the network loss in the network-loss scenario.", min=1),
    ] = 30.0,
    list_scenarios: Annotated[
        bool, typer.Option("--list", help="List the scenarios and exit.")
    ] = False,
) -> None:
    """Rehearse failures with the live bot against a local simulator: network loss,
    restarts and kills, timeouts, rejections, failed closes, every circuit breaker, stops
    filled while down, a liquidation, a gap, rate limits, clock skew.

    Each scenario starts a fresh simulator on a loopback port and runs the live code path
    with your config; nothing leaves this machine and no key of yours is used.  Prints a
    table and exits 1 if any scenario failed.
    """
    from adxbot.config import load_config
    from adxbot.errors import ConfigError
    from adxbot.rehearsal.report import results_html, results_table
    from adxbot.rehearsal.scenarios import (
        SCENARIO_NAMES,
        SCENARIOS,
        RehearsalOptions,
        run_scenario,
    )

    console = Console(highlight=False)
    if list_scenarios:
        for s in SCENARIOS:
            console.print(f"[bold]{s.name}[/]: {s.done}; expected: {s.expected}")
        return
    unknown = sorted(set(scenario or ()) - set(SCENARIO_NAMES))
    if unknown:
        raise ConfigError(
            f"unknown scenario(s) {', '.join(unknown)}; choose from: {', '.join(SCENARIO_NAMES)}"
        )
    settings = load_config(config)
    if settings.timeframe.value != "5m":
        raise ConfigError(
            f"the rehearsal replays 5-minute candles; the config's timeframe is "
            f"{settings.timeframe.value}: rehearse with timeframe 5m"
        )
    chosen = [s for s in SCENARIOS if not scenario or s.name in scenario]
    with tempfile.TemporaryDirectory(prefix="adxbot-rehearsal-") as work:
        workdir = Path(work)
        _log_to(workdir / "rehearsal.log")
        options = RehearsalOptions(workdir, outage_s=outage_seconds)
        console.print(
            f"[bold]adxbot rehearse[/]: {len(chosen)} scenarios, live bot vs a local "
            f"simulator, config {config or 'built-in defaults'}"
        )
        results = []
        for each in chosen:
            with console.status(f"{each.name}: {each.done}"):
                result = run_scenario(settings, each, options)
            mark = "[green]PASS[/]" if result.passed else "[bold red]FAIL[/]"
            console.print(f"{mark} {each.name} ({result.seconds:.1f} s)")
            results.append(result)
    console.print(results_table(results))
    if report is not None:
        report.write_text(results_html(results, config_name=str(config or "defaults")))
        console.print(f"report written to {report}")
    failed = [r.name for r in results if not r.passed]
    if failed:
        console.print(f"[bold red]{len(failed)} scenario(s) FAILED: {', '.join(failed)}[/]")
        raise typer.Exit(1)
    console.print(f"[green]all {len(results)} scenarios passed[/]")


def _log_to(path: Path) -> None:
    """Send this process's logs (the simulator's, the emergency stop's) to a file."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for name in ("uvicorn", "uvicorn.error", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
