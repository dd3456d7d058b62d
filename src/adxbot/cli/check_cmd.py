"""`adxbot check`: is everything in place to trade live on BingX? It only reads; no order is sent.

The original plan's `test_bingx_connection.py`.  Against the resolved environment
(`adxbot.exchange.environment`), with the keys from the environment or `config/.env`,
it runs in order: server time and clock skew, authentication (a signed balance call),
balance, the symbol's price, the contract's rules, open positions and orders, leverage,
margin type, position mode and the API key's permissions.  Each row says ✓, ! or ✗
(– when it could not run), what was found and, when something is wrong, the likely
cause and the fix.

Exit codes: 0 when everything live trading needs is in place (warnings may remain),
1 when something is missing or wrong (a ✗ row, a key without trade permission) and
when the key can withdraw funds (refused), 2 for a bad config.

Clock skew is judged only against BingX's own servers (production, demo): beyond the
receive window BingX refuses signed requests.  A custom server such as `adxbot sim`
keeps its own, possibly replayed, clock; its offset is shown and not judged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from adxbot.cli.config_cmd import ConfigOption

if TYPE_CHECKING:  # the CLI imports the client (httpx) only when this command runs
    from adxbot.config import BotConfig
    from adxbot.errors import AdxbotError
    from adxbot.exchange.client import BingXClient
    from adxbot.exchange.credentials import Credentials
    from adxbot.exchange.environment import ResolvedEnvironment
    from adxbot.exchange.models import Balance, ContractSpec

BINGX_DEFAULT_RECV_WINDOW_MS = 5_000
SKEW_WARNING_MS = 1_000
NO_KEYS_FIX = "set BINGX_API_KEY / BINGX_API_SECRET in the environment or in config/.env"


class Verdict(StrEnum):
    """The outcome of one check."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "skipped"


MARKS = {Verdict.OK: "✓", Verdict.WARN: "!", Verdict.FAIL: "✗", Verdict.SKIPPED: "–"}
STYLES = {
    Verdict.OK: "green",
    Verdict.WARN: "yellow",
    Verdict.FAIL: "bold red",
    Verdict.SKIPPED: "dim",
}


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One row of the check's table."""

    name: str
    verdict: Verdict
    detail: str
    fix: str = ""
    blocks_live: bool = False
    """True when live trading cannot go ahead with this result (every ✗ and –, some !)."""


def ok(name: str, detail: str) -> CheckResult:
    """Return a passed check."""
    return CheckResult(name, Verdict.OK, detail)


def warn(name: str, detail: str, fix: str, *, blocks_live: bool = False) -> CheckResult:
    """Return a warning; `blocks_live` when live trading cannot work despite it."""
    return CheckResult(name, Verdict.WARN, detail, fix, blocks_live)


def fail(name: str, detail: str, fix: str) -> CheckResult:
    """Return a failed check."""
    return CheckResult(name, Verdict.FAIL, detail, fix, blocks_live=True)


def skipped(name: str, why: str) -> CheckResult:
    """Return a check that could not run."""
    return CheckResult(name, Verdict.SKIPPED, why, blocks_live=True)


@dataclass(slots=True)
class CheckContext:
    """What the checks share: the client, the settings, and what earlier checks learned."""

    client: BingXClient
    config: BotConfig
    environment: ResolvedEnvironment
    credentials: Credentials | None
    recv_window_ms: int
    offset_ms: int | None = None
    balance: Balance | None = None
    contract: ContractSpec | None = None
    can_withdraw: bool = False

    @property
    def masked_key(self) -> str:
        """Return the API key's first characters, e.g. `adxb…`."""
        from adxbot.exchange.credentials import mask

        return mask(self.credentials.api_key) if self.credentials else "none"


@dataclass(frozen=True, slots=True)
class Check:
    """A named check; `keyed` checks need the API key, `hint` is the fix of an odd answer."""

    name: str
    run: Callable[[CheckContext], Awaitable[CheckResult]]
    keyed: bool
    hint: str = ""


# ---------------------------------------------------------------------------- checks


def _duration(ms: int) -> str:
    seconds = abs(ms) / 1000
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.0f} days"


async def check_server_time(ctx: CheckContext) -> CheckResult:
    """Measure the offset between this machine's clock and the server's; judge it on BingX."""
    from adxbot.exchange.errors import ClockSkew

    name = "server time"
    await ctx.client.server_time()  # open the connection (TLS) first: it would skew the estimate
    sent = ctx.client.clock.local_ms()
    offset = await ctx.client.sync_time()
    round_trip = ctx.client.clock.local_ms() - sent
    ctx.offset_ms = offset
    if not ctx.environment.real_bingx:
        side = "ahead of" if offset > 0 else "behind"
        return ok(
            name,
            f"server clock {_duration(offset)} {side} this machine (round trip {round_trip} "
            "ms); not judged on a custom server, which keeps its own clock",
        )
    window = ctx.recv_window_ms
    off = f"clock is {_duration(offset)} off"
    measured = f"(this machine {'behind' if offset > 0 else 'ahead'}; round trip {round_trip} ms)"
    if abs(offset) > window:
        return fail(
            name,
            f"{off} {measured}: beyond BingX's receive window of {window / 1000:g} s",
            ClockSkew.fix,
        )
    if abs(offset) > SKEW_WARNING_MS:
        return warn(
            name,
            f"{off} {measured}: within the {window / 1000:g} s receive window, but drifting",
            ClockSkew.fix,
        )
    return ok(name, f"clock within {abs(offset)} ms of BingX's (round trip {round_trip} ms)")


async def check_authentication(ctx: CheckContext) -> CheckResult:
    """Make a signed call (the balance): the key, the secret and the IP are accepted."""
    ctx.balance = await ctx.client.get_balance()
    return ok("authentication", f"key {ctx.masked_key} accepted (signed balance request)")


async def check_balance(ctx: CheckContext) -> CheckResult:
    """Show the USDT futures balance; none, or too little for the smallest trade, is wrong."""
    name = "balance"
    balance = ctx.balance
    assert balance is not None  # authentication ran first
    detail = (
        f"{balance.equity:,.2f} USDT equity, {balance.available_margin:,.2f} available "
        f"({balance.used_margin:,.2f} in use)"
    )
    if balance.equity <= 0:
        return fail(
            name,
            f"no USDT in the perpetual futures account: {detail}",
            "transfer USDT to the USDT-M perpetual futures account on BingX",
        )
    sizing = ctx.config.position_sizing
    needed = sizing.min_trade_size_usdt / ctx.config.leverage
    if balance.available_margin < needed:
        return warn(
            name,
            f"{detail}: less than the {needed:,.2f} USDT margin of the smallest trade "
            f"({sizing.min_trade_size_usdt} USDT at {ctx.config.leverage}x)",
            "transfer USDT to the perpetual futures account, or close what holds the margin",
        )
    return ok(name, detail)


async def check_price(ctx: CheckContext) -> CheckResult:
    """Read the symbol's last price."""
    symbol = ctx.config.symbol
    price = await ctx.client.get_current_price(symbol)
    return ok("price", f"{symbol} last price {price:,} USDT")


def _rules_text(spec: ContractSpec) -> str:
    rules = spec.instrument
    base = rules.symbol.split("-")[0]
    return (
        f"tick {rules.price_tick}, step {rules.quantity_step}, minimum {rules.min_quantity} "
        f"{base} / {rules.min_notional} USDT, leverage up to {spec.max_leverage}x"
    )


async def check_contract(ctx: CheckContext) -> CheckResult:
    """Read the contract's rules, compare them with the bot's, and see that trading is open."""
    from adxbot.errors import ConfigError

    name = "contract rules"
    symbol = ctx.config.symbol
    spec = await ctx.client.contract(symbol)
    ctx.contract = spec
    detail = _rules_text(spec)
    if not spec.trading_open:
        return fail(
            name,
            f"API trading is closed for {symbol}: {detail}",
            f"wait until BingX reopens {symbol}, or choose another symbol in the config",
        )
    try:
        local = ctx.config.instrument()
    except ConfigError:
        return ok(name, f"{detail} (used as they are: the bot has no rules of its own for it)")
    remote = spec.instrument
    differences = [
        f"{what} {theirs} on BingX, {ours} in the bot"
        for what, theirs, ours in (
            ("tick", remote.price_tick, local.price_tick),
            ("step", remote.quantity_step, local.quantity_step),
            ("minimum quantity", remote.min_quantity, local.min_quantity),
            ("minimum notional", remote.min_notional, local.min_notional),
        )
        if theirs.normalize() != ours.normalize()
    ]
    if differences:
        return warn(
            name,
            f"{detail}; differs from the bot's rules: {'; '.join(differences)}",
            "put BingX's values in the config's 'contract' section",
        )
    return ok(name, f"{detail}; trading open")


async def check_positions_and_orders(ctx: CheckContext) -> CheckResult:
    """List open positions (every symbol) and the symbol's open orders."""
    name = "open positions & orders"
    symbol = ctx.config.symbol
    positions = await ctx.client.get_all_positions()
    orders = await ctx.client.get_open_orders(symbol)
    if not positions and not orders:
        return ok(name, f"no open position; no open order on {symbol}")
    held = ", ".join(
        f"{p.symbol} {p.direction.value} {p.quantity} @ {p.entry_price}" for p in positions
    )
    parts = [f"{len(positions)} open position(s)" + (f": {held}" if held else "")]
    parts.append(f"{len(orders)} open order(s) on {symbol}")
    return warn(
        name,
        "; ".join(parts),
        "the bot takes the exchange as the truth and adopts them; close them on BingX "
        "first if they are not meant for it",
    )


async def check_leverage(ctx: CheckContext) -> CheckResult:
    """Compare the symbol's leverage on BingX with the config's."""
    name = "leverage"
    symbol, wanted = ctx.config.symbol, ctx.config.leverage
    if ctx.contract is not None and 0 < ctx.contract.max_leverage < wanted:
        return fail(
            name,
            f"the config's {wanted}x exceeds {symbol}'s maximum of {ctx.contract.max_leverage}x",
            f"set 'leverage' in the config to at most {ctx.contract.max_leverage}",
        )
    leverage = await ctx.client.get_leverage(symbol)
    if leverage.long == leverage.short == wanted:
        return ok(name, f"{wanted}x long and short, as the config says")
    return warn(
        name,
        f"BingX has {leverage.long}x long / {leverage.short}x short for {symbol}; "
        f"the config says {wanted}x",
        f"set {symbol}'s leverage to {wanted}x on BingX, or change 'leverage' in the config",
    )


async def check_margin_type(ctx: CheckContext) -> CheckResult:
    """Show the symbol's margin type."""
    margin_type = await ctx.client.get_margin_type(ctx.config.symbol)
    meaning = {
        "CROSSED": "the whole futures balance backs the position",
        "ISOLATED": "each position risks only its own margin",
        "SEPARATE_ISOLATED": "each position risks only its own margin",
    }.get(margin_type, "")
    return ok("margin type", f"{margin_type}" + (f": {meaning}" if meaning else ""))


async def check_position_mode(ctx: CheckContext) -> CheckResult:
    """Check the account holds one net position per symbol (one-way), as the bot trades."""
    from adxbot.domain.enums import PositionMode

    name = "position mode"
    mode = await ctx.client.get_position_mode()
    if mode is PositionMode.ONE_WAY:
        return ok(name, "one-way: one net position per symbol, as the bot trades")
    return warn(
        name,
        "hedge mode: the bot trades, and was backtested, in one-way mode",
        "switch the futures account to one-way mode on BingX (only possible with no open "
        "position or order)",
        blocks_live=True,
    )


async def check_permissions(ctx: CheckContext) -> CheckResult:
    """Refuse a key that can withdraw; warn when it cannot trade perpetual futures."""
    from adxbot.exchange.errors import IpNotWhitelisted, PermissionDenied

    name = "API key permissions"
    permissions = await ctx.client.api_permissions()
    key = ctx.masked_key
    if permissions.can_withdraw:
        ctx.can_withdraw = True
        return fail(
            name,
            f"REFUSED: key {key} can WITHDRAW funds; adxbot never runs with such a key",
            "create a key with only Read and Perpetual Futures Trading, and delete this one",
        )
    if not permissions.can_trade:
        return warn(
            name,
            f"key {key} can read but not trade perpetual futures: fine for paper, not for live",
            PermissionDenied.fix,
            blocks_live=True,
        )
    granted = f"key {key}: read and perpetual futures trading, no withdrawal"
    if permissions.ip_restricted:
        return ok(name, f"{granted}; restricted to whitelisted IP addresses")
    if ctx.environment.real_bingx:
        return warn(name, f"{granted}; usable from any IP address", IpNotWhitelisted.fix)
    return ok(name, f"{granted}; not restricted to an IP address")


CHECKS: tuple[Check, ...] = (
    Check("server time", check_server_time, keyed=False),
    Check("authentication", check_authentication, keyed=True),
    Check("balance", check_balance, keyed=True),
    Check(
        "price",
        check_price,
        keyed=False,
        hint="is 'symbol' in the config a BingX USDT-M perpetual, e.g. BTC-USDT?",
    ),
    Check(
        "contract rules",
        check_contract,
        keyed=False,
        hint="is 'symbol' in the config a BingX USDT-M perpetual, e.g. BTC-USDT?",
    ),
    Check("open positions & orders", check_positions_and_orders, keyed=True),
    Check("leverage", check_leverage, keyed=True),
    Check("margin type", check_margin_type, keyed=True),
    Check("position mode", check_position_mode, keyed=True),
    Check("API key permissions", check_permissions, keyed=True),
)


# ---------------------------------------------------------------------------- failures


def explain(error: AdxbotError, ctx: CheckContext, hint: str = "") -> tuple[str, str]:
    """Return (likely cause, fix) for an error a check met."""
    import httpx

    from adxbot.exchange.errors import (
        AuthenticationFailed,
        ClockSkew,
        IpNotWhitelisted,
        PermissionDenied,
        RateLimited,
        SetupError,
        TemporaryError,
    )

    key = ctx.masked_key
    if isinstance(error, AuthenticationFailed):
        if error.code == 100001:
            return (
                "signature rejected: check BINGX_API_SECRET",
                f"BINGX_API_SECRET is not the secret of key {key}: copy it again from BingX's "
                "API management page",
            )
        if error.code == 100413:
            return (
                f"API key {key} rejected: check BINGX_API_KEY",
                "BingX does not know this key (mistyped, deleted, or made for another "
                "account): copy it again from BingX's API management page",
            )
        return (f"key or signature rejected: {error}", error.fix)
    if isinstance(error, ClockSkew):
        return ("timestamp refused even after re-syncing with the server's clock", error.fix)
    if isinstance(error, IpNotWhitelisted):
        return ("IP not whitelisted: this machine's address may not use the key", error.fix)
    if isinstance(error, PermissionDenied):
        return (f"permission denied: {error}", error.fix)
    if isinstance(error, SetupError):
        return (str(error), error.fix)
    if isinstance(error, RateLimited):
        return (
            f"rate limited: {error}",
            "wait a minute and check again; is another program using this key?",
        )
    if isinstance(error, TemporaryError):
        url = ctx.environment.base_url
        if isinstance(error.__cause__, httpx.TransportError):
            if ctx.environment.real_bingx:
                fix = "check this machine's internet connection, DNS and firewall (HTTPS out)"
            else:
                fix = (
                    "is the server (e.g. `adxbot sim`) running there? check BINGX_BASE_URL "
                    "or the config's exchange.base_url"
                )
            return (f"cannot reach {url} ({type(error.__cause__).__name__})", fix)
        return (f"no usable answer: {error}", "try again in a minute; if it persists, ask BingX")
    return (str(error), hint)


async def run_checks(ctx: CheckContext) -> list[CheckResult]:
    """Run every check in order; a check that cannot run is reported, never raised."""
    from adxbot.errors import AdxbotError

    results: list[CheckResult] = []
    reachable = authenticated = True
    for check in CHECKS:
        if check.keyed and ctx.credentials is None:
            results.append(fail(check.name, "no API key", NO_KEYS_FIX))
            continue
        if not reachable:
            results.append(skipped(check.name, "not checked: the server did not answer properly"))
            continue
        if check.keyed and not authenticated:
            results.append(skipped(check.name, "not checked: authentication failed"))
            continue
        try:
            result = await check.run(ctx)
        except AdxbotError as e:
            detail, fix = explain(e, ctx, check.hint)
            result = fail(check.name, detail, fix)
        results.append(result)
        if check.run is check_server_time and ctx.offset_ms is None:
            reachable = False
        if check.run is check_authentication and ctx.balance is None:
            authenticated = False
    return results


async def _check_against(
    config: BotConfig, environment: ResolvedEnvironment, credentials: Credentials | None
) -> tuple[list[CheckResult], bool]:
    import httpx

    from adxbot import __version__
    from adxbot.clock import WallClock
    from adxbot.exchange.client import BingXClient
    from adxbot.exchange.server_clock import ServerClock

    window = config.exchange.recv_window_ms
    headers = {"User-Agent": f"adxbot/{__version__} (check)"}
    async with httpx.AsyncClient(headers=headers) as http:
        client = BingXClient(
            http,
            environment.base_url,
            ServerClock(WallClock()),
            credentials,
            read_attempts=2,
            recv_window_ms=window,
        )
        ctx = CheckContext(
            client, config, environment, credentials, window or BINGX_DEFAULT_RECV_WINDOW_MS
        )
        results = await run_checks(ctx)
    return results, ctx.can_withdraw


# ---------------------------------------------------------------------------- output


def _banner(environment: ResolvedEnvironment) -> Text:
    styles = {"PRODUCTION": "bold white on red", "VST DEMO": "bold black on yellow"}
    notes = {"PRODUCTION": "real money", "VST DEMO": "virtual USDT"}
    label = environment.label
    banner = Text(f" {label} ", style=styles.get(label, "bold black on cyan"))
    banner.append(f" {environment.base_url}", style="bold")
    chosen = "default" if environment.source == "default" else f"from {environment.source}"
    banner.append(f" {notes.get(label, 'not BingX')} ({chosen})")
    return banner


def _key_source(environ: Mapping[str, str]) -> str:
    from dotenv import dotenv_values

    from adxbot.exchange.credentials import ENV_FILES

    if (environ.get("BINGX_API_KEY") or "").strip():
        return "the environment"
    for path in ENV_FILES:  # the first file wins, as in load_credentials
        if path.is_file() and (dotenv_values(path).get("BINGX_API_KEY") or "").strip():
            return str(path)
    return "?"


def _table(results: list[CheckResult]) -> Table:
    from adxbot.logsetup import redact

    table = Table(title_justify="left", show_lines=False)
    table.add_column("check", style="bold", no_wrap=True)
    table.add_column("result", justify="center")
    table.add_column("detail")
    table.add_column("fix")
    for result in results:
        style = STYLES[result.verdict]
        table.add_row(
            result.name,
            Text(MARKS[result.verdict], style=style),
            Text(redact(result.detail), style=style if result.verdict is Verdict.FAIL else ""),
            Text(redact(result.fix)),
        )
    return table


def _summary(results: list[CheckResult], refused: bool, label: str) -> Text:
    if refused:
        return Text(
            "REFUSED: this API key can withdraw funds; adxbot will not trade with it.",
            style="bold red",
        )
    failed = sum(r.verdict is Verdict.FAIL for r in results)
    blocking = [r for r in results if r.blocks_live and r.verdict is not Verdict.FAIL]
    warnings = sum(r.verdict is Verdict.WARN and not r.blocks_live for r in results)
    if failed or blocking:
        parts = [f"{failed} check(s) failed"] if failed else []
        if blocking:
            parts.append(f"{len(blocking)} more stand(s) in the way")
        return Text(
            f"NOT READY for live trading on {label}: {', '.join(parts)}; see the fix column.",
            style="bold red",
        )
    extra = f" ({warnings} warning(s) to read)" if warnings else ""
    return Text(f"READY for live trading on {label}{extra}.", style="bold green")


def check(config: ConfigOption = None) -> None:
    """Check that everything is in place to trade live on BingX (reads only; sends no order)."""
    import asyncio
    import os

    from adxbot.config import load_config
    from adxbot.exchange.credentials import load_credentials, mask
    from adxbot.exchange.environment import resolve_environment
    from adxbot.logsetup import configure_logging, register_credentials

    configure_logging(logging.WARNING)
    settings = load_config(config)
    environment = resolve_environment(settings.exchange, os.environ)
    console = Console(highlight=False)
    console.print(_banner(environment))
    credentials = load_credentials()
    if credentials is not None:
        register_credentials(credentials)
        key = f"API key {mask(credentials.api_key)} from {_key_source(os.environ)}"
    else:
        key = "no API key"
    source = str(config) if config is not None else "built-in defaults"
    console.print(f"{key}; config {source}: {settings.symbol}, {settings.leverage}x", markup=False)
    results, refused = asyncio.run(_check_against(settings, environment, credentials))
    console.print(_table(results))
    console.print(_summary(results, refused, environment.label))
    raise typer.Exit(1 if refused or any(r.blocks_live for r in results) else 0)
