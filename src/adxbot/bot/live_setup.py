"""Everything the live bot checks and sets on the account before it may trade.

It refuses to start, with the reason and the fix, when the key can withdraw funds, when
the clock is off beyond the receive window, when the contract is closed to API trading,
or when another adxbot holds the same account.  Then it reads the contract's rules and
the position mode, and sets the configured leverage (side BOTH in one-way mode, LONG and
SHORT in hedge mode) and margin type.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from adxbot.config import BotConfig
from adxbot.domain.enums import PositionMode, PositionSide
from adxbot.errors import AdxbotError, OrderRejected
from adxbot.exchange.client import BingXClient
from adxbot.exchange.credentials import Credentials
from adxbot.exchange.errors import ExchangeError
from adxbot.execution.live_trader import AccountSetup

log = logging.getLogger("adxbot.live")
DEFAULT_RECV_WINDOW_MS = 5000


class LiveSetupRefused(AdxbotError):
    """The account or machine is not fit to trade live; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class SetupReport:
    """What the start-up found, for the banner."""

    setup: AccountSetup
    balance: str
    clock_offset_ms: int
    margin_type: str


def account_lock_path(credentials: Credentials, lock_dir: Path | None = None) -> Path:
    """Return the machine-wide lock naming this API key's account (a hash, never the key).

    It lives in the system's temporary directory, not beside a database, so two bots on
    one account are refused whatever databases they use (on one machine)."""
    digest = hashlib.sha256(credentials.api_key.encode()).hexdigest()[:16]
    return (lock_dir or Path(tempfile.gettempdir())) / f"adxbot-account-{digest}"


async def prepare_account(
    config: BotConfig, client: BingXClient, *, change: bool = True, check_clock: bool = True
) -> SetupReport:
    """Check the key, the clock and the contract; set leverage and margin type (unless
    `change` is False: the read-only look the confirmation banner needs).

    `check_clock` False skips the machine-clock check: a simulator replaying the past has
    its own clock (requests are stamped with the measured offset either way)."""
    permissions = await client.api_permissions()
    if permissions.can_withdraw:
        raise LiveSetupRefused(
            "this API key can withdraw funds: a trading bot must never hold such a key. "
            "Create a key with read and futures-trading permission only (BingX > API "
            "management), and bind it to this machine's IP address"
        )
    if not permissions.can_trade:
        raise LiveSetupRefused("this API key may not trade futures: enable futures trading on it")
    offset = await client.sync_time()
    window = config.exchange.recv_window_ms or DEFAULT_RECV_WINDOW_MS
    if check_clock and abs(offset) >= window:
        raise LiveSetupRefused(
            f"this machine's clock is {offset} ms off BingX's, beyond the receive window of "
            f"{window} ms: synchronise it (e.g. enable systemd-timesyncd or chrony)"
        )
    contract = await client.contract(config.symbol)
    if not contract.trading_open:
        raise LiveSetupRefused(f"{config.symbol} is closed to API trading on BingX right now")
    if config.leverage > contract.max_leverage:
        raise LiveSetupRefused(
            f"leverage {config.leverage} is above {config.symbol}'s maximum "
            f"{contract.max_leverage}: lower it in the config"
        )
    mode = await client.get_position_mode()
    sides = (
        [PositionSide.BOTH]
        if mode is PositionMode.ONE_WAY
        else [PositionSide.LONG, PositionSide.SHORT]
    )
    if change:
        for side in sides:
            await client.set_leverage(config.symbol, config.leverage, side)
    wanted = config.exchange.margin_type.upper()  # ISOLATED or CROSSED
    current = await client.get_margin_type(config.symbol)
    if change and current.upper() != wanted:
        try:
            await client.set_margin_type(config.symbol, wanted)
            current = wanted
        except (ExchangeError, OrderRejected) as e:  # refused while positions or orders are open
            log.warning("margin type stays %s (could not set %s: %s)", current, wanted, e)
    balance = await client.get_balance()
    return SetupReport(
        setup=AccountSetup(contract.instrument, mode),
        balance=f"{balance.balance:.2f} USDT (equity {balance.equity:.2f})",
        clock_offset_ms=offset,
        margin_type=current.upper(),
    )
