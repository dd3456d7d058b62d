"""API credentials: read from the environment or a `.env` file, held as secrets.

`BINGX_API_KEY` and `BINGX_API_SECRET` come from the process environment first, then
from `config/.env` (the original plan's place) or `.env` in the working directory.
The secret is a `pydantic.SecretStr`: its `repr` and `str` show `**********`, and the
logging filter of `adxbot.logsetup` blanks both values wherever they would appear.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values
from pydantic import SecretStr

from adxbot.errors import ConfigError
from adxbot.logsetup import register_credentials

ENV_FILES = (Path("config/.env"), Path(".env"))


@dataclass(frozen=True, slots=True)
class Credentials:
    """An API key and its secret."""

    api_key: str
    api_secret: SecretStr

    def __repr__(self) -> str:
        return f"Credentials(api_key='{mask(self.api_key)}', api_secret=SecretStr('**********'))"


def mask(value: str) -> str:
    """Show only the first four characters of an identifier."""
    return value[:4] + "…" if len(value) > 4 else "…"


def load_credentials(
    environ: Mapping[str, str] | None = None, env_files: tuple[Path, ...] = ENV_FILES
) -> Credentials | None:
    """Return the credentials from the environment or a .env file; None when there are none.

    A key without a secret (or the other way round) is a configuration error.
    """
    source: dict[str, str | None] = {}
    for path in reversed(env_files):
        if path.is_file():
            source.update(dotenv_values(path))
    source.update(environ if environ is not None else os.environ)
    key = (source.get("BINGX_API_KEY") or "").strip()
    secret = (source.get("BINGX_API_SECRET") or "").strip()
    if not key and not secret:
        return None
    if not key or not secret:
        missing = "BINGX_API_KEY" if not key else "BINGX_API_SECRET"
        raise ConfigError(
            f"{missing} is not set while the other half of the key pair is; set both "
            "in the environment or in config/.env"
        )
    credentials = Credentials(key, SecretStr(secret))
    register_credentials(credentials)  # from now on no log line can carry them
    return credentials
