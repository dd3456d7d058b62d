"""`adxbot init` and `adxbot show-config`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (JSON). Without it the built-in defaults apply.",
        dir_okay=False,
    ),
]


def init(
    path: Annotated[
        Path, typer.Argument(help="Where to write the example config.", dir_okay=False)
    ] = Path("config_live.json"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write an example config with every setting at its default."""
    from adxbot.atomic_file import write_atomically
    from adxbot.config import BotConfig, config_to_json

    console = Console()
    if path.exists() and not force:
        console.print(f"[red]{path} already exists[/]; pass --force to overwrite it")
        raise typer.Exit(1)
    write_atomically(path, config_to_json(BotConfig()))
    console.print(f"wrote {path}: review every value before trading with it")


def show_config(config: ConfigOption = None) -> None:
    """Print the effective config: the file's values with every default filled in."""
    from adxbot.config import config_to_json, load_config

    typer.echo(config_to_json(load_config(config)), nl=False)
