"""The `adxbot` command line: one CLI for every mode and operator tool."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from adxbot import __version__
from adxbot.cli.backtest_cmd import backtest
from adxbot.cli.breaker_cmd import halt, reset_breaker
from adxbot.cli.check_cmd import check
from adxbot.cli.config_cmd import init, show_config
from adxbot.cli.dashboard_cmd import dashboard
from adxbot.cli.demo_cmd import demo
from adxbot.cli.emergency_cmd import emergency_stop
from adxbot.cli.reconcile_cmd import reconcile
from adxbot.cli.rehearse_cmd import rehearse
from adxbot.cli.run_cmd import run
from adxbot.cli.sim_cmd import sim
from adxbot.cli.simctl_cmd import sim_ctl
from adxbot.cli.status_cmd import status
from adxbot.errors import ConfigError, DataError

EXIT_BAD_INPUT = 2
"""Exit code for a bad config or input file (the fix is the user's, retrying won't help)."""

app = typer.Typer(
    name="adxbot",
    help="A safety-first trading bot for BingX USDT-M perpetual futures (ADX v2.0 strategy).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(backtest)
app.command()(check)
app.command()(dashboard)
app.command()(demo)
app.command("emergency-stop")(emergency_stop)
app.command()(halt)
app.command()(init)
app.command()(reconcile)
app.command()(rehearse)
app.command("reset-breaker")(reset_breaker)
app.command()(run)
app.command("show-config")(show_config)
app.command()(sim)
app.command()(status)
app.add_typer(sim_ctl)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"adxbot {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """adxbot: backtest, paper-trade and live-trade ADX v2.0 on BingX perpetual futures."""


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; a bad config or input file exits with code 2 and a message naming it."""
    stderr = Console(stderr=True)
    try:
        app(args=argv)  # usage errors, --help and typer.Exit end in SystemExit here
    except (ConfigError, DataError) as e:
        stderr.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False)
        sys.exit(EXIT_BAD_INPUT)
