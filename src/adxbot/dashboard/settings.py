"""The dashboard's options: the config's `dashboard` section, the command's overrides, and
the password, a secret read from the environment or a `.env` file, never from the config.

Authentication is always required: without a password, or with a short one, the
dashboard refuses to start (a `ConfigError`, exit 2), whatever address it binds.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values
from pydantic import SecretStr

from adxbot.config import BotConfig, load_config
from adxbot.errors import ConfigError, DatabaseError
from adxbot.exchange.credentials import ENV_FILES, Credentials, load_credentials
from adxbot.exchange.environment import ResolvedEnvironment, resolve_environment
from adxbot.logsetup import register_secret
from adxbot.persistence.paths import database_path
from adxbot.persistence.records import TradingMode
from adxbot.persistence.store import TradeStore

PASSWORD_VARIABLE = "ADXBOT_DASHBOARD_PASSWORD"  # noqa: S105 - the variable's name
MIN_PASSWORD_LENGTH = 12


@dataclass(frozen=True, slots=True)
class DashboardOptions:
    """Everything `create_app` needs, resolved and checked."""

    config: BotConfig
    mode: TradingMode
    database: Path
    host: str
    port: int
    password: SecretStr
    environment: ResolvedEnvironment
    """The BingX server the dashboard reads candles from (and the emergency stop acts on)."""
    credentials: Credentials | None
    """The account's API key (live mode only): the emergency stop and the exchange's view."""
    session_hours: int
    refresh_seconds: int

    @property
    def loopback(self) -> bool:
        """Return True when the dashboard listens on this machine only."""
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    """Return True for a loopback address (127.0.0.0/8, ::1) or `localhost`."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        return False


def load_password(
    environ: Mapping[str, str] | None = None, env_files: tuple[Path, ...] = ENV_FILES
) -> SecretStr:
    """Return the dashboard's password from the environment or a .env file, or refuse.

    The value is registered with the log redaction at once, so no log line can carry it.
    """
    source: dict[str, str | None] = {}
    for path in reversed(env_files):
        if path.is_file():
            source.update(dotenv_values(path))
    source.update(environ if environ is not None else os.environ)
    password = source.get(PASSWORD_VARIABLE) or ""
    if not password.strip():
        raise ConfigError(
            f"the dashboard always requires a password: set {PASSWORD_VARIABLE} in the "
            "environment or in config/.env (at least "
            f"{MIN_PASSWORD_LENGTH} characters, e.g. from 'openssl rand -base64 18')"
        )
    register_secret(password)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ConfigError(
            f"{PASSWORD_VARIABLE} is {len(password)} characters long: use at least "
            f"{MIN_PASSWORD_LENGTH} (e.g. from 'openssl rand -base64 18')"
        )
    return SecretStr(password)


def dashboard_options(
    config_path: Path | None,
    mode: TradingMode,
    *,
    database: Path | None = None,
    host: str | None = None,
    port: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> DashboardOptions:
    """Resolve the options of `adxbot dashboard`; refuse what would be unsafe or unusable."""
    env = os.environ if environ is None else environ
    settings = load_config(config_path)
    section = settings.dashboard
    bind = (host if host is not None else section.host).strip()
    if not bind:
        raise ConfigError("--host is empty: give an address to listen on, e.g. 127.0.0.1")
    chosen_port = port if port is not None else section.port
    if not 0 <= chosen_port <= 65535:
        raise ConfigError(f"--port {chosen_port} is not a TCP port (0-65535)")
    password = load_password(env)
    path = database_path(settings, mode, database)
    check_database_mode(path, mode)
    credentials = load_credentials(env) if mode is TradingMode.LIVE else None
    return DashboardOptions(
        config=settings,
        mode=mode,
        database=path,
        host=bind,
        port=chosen_port,
        password=password,
        environment=resolve_environment(settings.exchange, env),
        credentials=credentials,
        session_hours=section.session_hours,
        refresh_seconds=section.refresh_seconds,
    )


def check_database_mode(path: Path, mode: TradingMode) -> None:
    """Refuse a database of the other mode; a missing one is fine (the bot creates it)."""
    if not path.is_file():
        return
    try:
        with TradeStore.open_read_only(path) as store:
            owner = store.mode
    except DatabaseError as e:
        raise ConfigError(str(e)) from e
    if owner is not mode:
        raise ConfigError(
            f"{path} belongs to {owner.value} trading, not {mode.value}: use "
            f"--mode {owner.value} or the {mode.value} database"
        )
