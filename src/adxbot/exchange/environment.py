"""Which BingX server the bot talks to, and who decided it.

The config's `exchange` section names an environment (`production`, `demo` or `custom`
with a `base_url`); the environment variable `BINGX_BASE_URL` overrides it and makes the
environment `custom`.  `resolve_environment` returns the outcome with its source, so
every command can announce where its orders would go before it sends any.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from adxbot.config import ExchangeEnvironment, ExchangeSettings, check_base_url
from adxbot.errors import ConfigError
from adxbot.exchange.client import DEMO_URL, PRODUCTION_URL

BASE_URL_VARIABLE = "BINGX_BASE_URL"

_FIXED_URLS = {
    ExchangeEnvironment.PRODUCTION: PRODUCTION_URL,
    ExchangeEnvironment.DEMO: DEMO_URL,
}


@dataclass(frozen=True, slots=True)
class ResolvedEnvironment:
    """The BingX server in use and what chose it."""

    environment: ExchangeEnvironment
    base_url: str
    source: str
    """`BINGX_BASE_URL`, `config exchange.environment` or `default`."""

    @property
    def label(self) -> str:
        """Return the loud name shown first by every command: PRODUCTION, VST DEMO or CUSTOM."""
        if self.environment is ExchangeEnvironment.PRODUCTION:
            return "PRODUCTION"
        if self.environment is ExchangeEnvironment.DEMO:
            return "VST DEMO"
        return "CUSTOM"

    @property
    def real_bingx(self) -> bool:
        """Return True for BingX's own servers (production or demo), False for a custom one."""
        return self.environment is not ExchangeEnvironment.CUSTOM


def resolve_environment(
    settings: ExchangeSettings, environ: Mapping[str, str]
) -> ResolvedEnvironment:
    """Return the server to use: `BINGX_BASE_URL` if set, else the config's environment.

    A blank `BINGX_BASE_URL` counts as unset; a malformed one is a `ConfigError`.
    """
    override = (environ.get(BASE_URL_VARIABLE) or "").strip()
    if override:
        try:
            url = check_base_url(override)
        except ValueError as e:
            raise ConfigError(f"{BASE_URL_VARIABLE} = {override!r}: {e}") from None
        return ResolvedEnvironment(ExchangeEnvironment.CUSTOM, url, BASE_URL_VARIABLE)
    source = (
        "config exchange.environment" if "environment" in settings.model_fields_set else "default"
    )
    if settings.environment is ExchangeEnvironment.CUSTOM:
        assert settings.base_url is not None  # the config's validator requires it
        return ResolvedEnvironment(settings.environment, settings.base_url, source)
    return ResolvedEnvironment(settings.environment, _FIXED_URLS[settings.environment], source)
