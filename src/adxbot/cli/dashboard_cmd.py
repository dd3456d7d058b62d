"""`adxbot dashboard`: the web dashboard over the bot's database (a separate process)."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from adxbot.cli.config_cmd import ConfigOption
from adxbot.cli.run_cmd import Mode
from adxbot.cli.status_cmd import DatabaseOption, ModeOption


def dashboard(
    mode: ModeOption = Mode.PAPER,
    config: ConfigOption = None,
    database: DatabaseOption = None,
    host: Annotated[
        str | None,
        typer.Option(
            help="Address to listen on (default: the config's dashboard.host, 127.0.0.1)."
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(help="TCP port (default: the config's dashboard.port, 5900).", min=0),
    ] = None,
) -> None:
    """Serve the web dashboard: status, positions, chart, equity, trades, events.

    Reads the bot's database (read-only) and the exchange's market data; its only
    writes are the emergency stop and the breaker reset, each confirmed and recorded.
    Needs ADXBOT_DASHBOARD_PASSWORD (environment or config/.env, 12+ characters).
    """
    from adxbot.config import LogFormat
    from adxbot.dashboard.app import create_app
    from adxbot.dashboard.server import listening_socket, serve
    from adxbot.dashboard.settings import dashboard_options
    from adxbot.errors import ConfigError
    from adxbot.logsetup import configure_logging
    from adxbot.persistence.records import TradingMode

    console = Console(highlight=False)
    options = dashboard_options(
        config, TradingMode(mode.value), database=database, host=host, port=port
    )
    configure_logging(logging.INFO, json_lines=options.config.bot.log_format is LogFormat.JSON)
    try:
        sock = listening_socket(options.host, options.port)
    except OSError as e:
        raise ConfigError(f"cannot listen on {options.host}:{options.port}: {e}") from e
    address = sock.getsockname()
    host_text = f"[{address[0]}]" if ":" in str(address[0]) else str(address[0])
    url = f"http://{host_text}:{address[1]}"
    environment = options.environment
    live = options.mode is TradingMode.LIVE
    console.print(
        Panel(
            f"mode         [bold]{options.mode.value.upper()}[/]\n"
            f"environment  {environment.label} {escape(environment.base_url)} "
            f"(chosen by {environment.source})\n"
            f"database     {escape(str(options.database))}"
            + ("" if options.database.is_file() else " (not there yet: the pages say so)")
            + "\n"
            + (
                "api key      "
                + (
                    "none: the emergency stop button cannot act"
                    if options.credentials is None
                    else "set (the emergency stop and the exchange's view of the account)"
                )
                + "\n"
                if live
                else ""
            )
            + f"listening    {url}  (Ctrl-C stops)",
            title="adxbot dashboard",
            border_style="bold red" if live else "bold blue",
        )
    )
    if not options.loopback:
        console.print(
            Panel(
                f"The dashboard listens on {escape(options.host)}: anyone who can reach this "
                "port can try the password, and the login cookie is marked Secure, so "
                "browsers keep it only over HTTPS. Put it behind a TLS reverse proxy (or "
                "use an SSH tunnel to 127.0.0.1 instead).",
                title="WARNING: NOT LOOPBACK",
                border_style="bold yellow",
            )
        )
        logging.getLogger("adxbot.dashboard").warning(
            "the dashboard listens on %s, not loopback: use TLS in front of it", options.host
        )
    sys.stdout.flush()
    serve(create_app(options), sock)
