"""`adxbot reset-breaker` and `adxbot halt`: an operator's hands on the circuit breakers.

Both write to the bot's trade database, the breakers' single source of truth: a running
bot sees the change at its next check (a signal, a candle close, a heartbeat).  Halting
needs no confirmation (it is the safe direction); resetting asks unless given `--yes`.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from adxbot.cli.config_cmd import ConfigOption
from adxbot.cli.run_cmd import Mode
from adxbot.cli.status_cmd import DatabaseOption, ModeOption, existing_database, format_utc
from adxbot.errors import ConfigError

if TYPE_CHECKING:  # the CLI imports the store only when a command runs
    from adxbot.persistence.records import BreakerRecord
    from adxbot.risk.breakers import BreakerName, CircuitBreakers

RESET_BY = "operator via adxbot reset-breaker"
DEFAULT_HALT_REASON = "halted by the operator (adxbot halt)"


def reset_breaker(
    name: Annotated[
        str, typer.Argument(help="The breaker, as 'adxbot status' names it (e.g. manual_halt).")
    ],
    yes: Annotated[bool, typer.Option("--yes", help="Reset without asking.")] = False,
    mode: ModeOption = Mode.PAPER,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Reset a tripped circuit breaker so the bot may open positions again.

    Shows the breaker's state and asks before resetting it (unless --yes).  The bot stays
    halted while any other breaker is tripped.
    """
    breaker = _breaker_name(name)
    console = Console(highlight=False)
    with _operator_breakers(config, mode, database) as breakers:
        record = _state(breakers, breaker)
        console.print(f"breaker {breaker}: {_describe(record)}")
        if not record.tripped:
            console.print("it is not tripped: nothing to reset")
            return
        question = (
            f"Reset breaker {breaker} (tripped: {record.reason})? New entries may resume. "
            "Type yes to confirm"
        )
        if not yes and _ask(question).strip().lower() != "yes":
            console.print("not reset: nothing changed")
            raise typer.Exit(1)
        if breakers.reset(breaker, by=RESET_BY):
            console.print(f"breaker {breaker} reset")
        else:
            console.print(f"breaker {breaker} was reset meanwhile by another process")
        still = breakers.tripped()
    if still:
        names = ", ".join(f"{b.name} ({escape(b.reason)})" for b in still)
        console.print(f"trading is still [bold red]HALTED[/] by: {names}")
    else:
        console.print(
            "trading [bold green]ACTIVE[/]: a running bot may open positions again from its "
            "next signal"
        )


def halt(
    reason: Annotated[
        str, typer.Option(help="Why trading is halted (stored; 'adxbot status' shows it).")
    ] = DEFAULT_HALT_REASON,
    mode: ModeOption = Mode.PAPER,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Halt trading now: the bot opens no new positions until the halt is reset.

    Open positions keep their stop-loss and take-profit, and exits still run.  No
    confirmation is asked: halting is the safe direction.
    """
    from adxbot.risk.breakers import BreakerName

    console = Console(highlight=False)
    with _operator_breakers(config, mode, database) as breakers:
        tripped = breakers.trip(BreakerName.MANUAL_HALT, reason)
        record = _state(breakers, BreakerName.MANUAL_HALT)
    if tripped is None:
        console.print(
            f"trading was already halted by hand since {format_utc(record.changed_ms)} "
            f"({escape(record.reason)}): nothing changed"
        )
    else:
        console.print(f"trading [bold red]HALTED[/]: {escape(reason)}")
    console.print(
        "a running bot opens no new positions from its next check on; open positions keep "
        "their stop-loss and take-profit, and exits still run\n"
        f"to resume: {_reset_command(mode, config, database)}"
    )


@contextmanager
def _operator_breakers(
    config: Path | None, mode: Mode, database: Path | None
) -> Iterator[CircuitBreakers]:
    """Yield the breakers of the existing database of `mode`."""
    from adxbot.bot.market_time import last_market_time
    from adxbot.clock import WallClock
    from adxbot.errors import DatabaseError
    from adxbot.persistence.records import TradingMode
    from adxbot.persistence.store import TradeStore
    from adxbot.risk.breakers import CircuitBreakers, RiskLimits

    settings, path = existing_database(config, mode, database)
    try:
        with TradeStore.open(path, TradingMode(mode.value)) as store:
            # Dated on the bot's market time, so a replayed simulator's UTC day is kept.
            market = last_market_time(
                store.info("last_candle_ms"), settings.timeframe.ms, WallClock()
            )
            yield CircuitBreakers(RiskLimits.from_config(settings), store, market, wall=WallClock())
    except DatabaseError as e:
        raise ConfigError(str(e)) from e


def _breaker_name(name: str) -> BreakerName:
    from adxbot.risk.breakers import BreakerName

    try:
        return BreakerName(name)
    except ValueError:
        valid = ", ".join(b.value for b in BreakerName)
        raise ConfigError(f"no circuit breaker named {name!r}; the breakers are: {valid}") from None


def _state(breakers: CircuitBreakers, name: BreakerName) -> BreakerRecord:
    return next(b for b in breakers.all_states() if b.name == name.value)


def _describe(record: BreakerRecord) -> str:
    if not record.tripped:
        return "[green]OK[/]"
    return f"[bold red]TRIPPED[/] since {format_utc(record.changed_ms)}: {escape(record.reason)}"


def _ask(question: str) -> str:
    answer: str = typer.prompt(question, default="", show_default=False)
    return answer


def _reset_command(mode: Mode, config: Path | None, database: Path | None) -> str:
    command = "adxbot reset-breaker manual_halt"
    if mode is not Mode.PAPER:
        command += f" --mode {mode.value}"
    if config is not None:
        command += f" --config {shlex.quote(str(config))}"
    if database is not None:
        command += f" --database {shlex.quote(str(database))}"
    return command
