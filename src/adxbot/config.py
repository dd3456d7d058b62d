"""The bot's configuration: the original plan's `config_live.json` shape, validated by pydantic.

Secrets never live here: API keys come from the environment or a `.env` file.
`load_config` turns every problem into a `ConfigError` whose message names the key, the
value and what is allowed; the CLI exits with code 2 on it.
"""

from __future__ import annotations

import json
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from adxbot.domain.enums import TakeProfitOrderKind, Timeframe
from adxbot.domain.instrument import BINGX_CONTRACTS, Instrument
from adxbot.errors import ConfigError

# Decimals are read exactly from the JSON text and written back as JSON numbers.
Number = Annotated[
    Decimal, PlainSerializer(lambda d: float(d), return_type=float, when_used="json")
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, defer_build=True)


class PositionSizing(_Section):
    """How big a trade is and how many may be open."""

    risk_per_trade_percent: Number = Field(Decimal("2.0"), gt=0, le=100)
    max_positions: StrictInt = Field(2, ge=1, le=20)
    min_trade_size_usdt: Number = Field(Decimal("10.0"), ge=0)


class RiskManagement(_Section):
    """Circuit-breaker limits."""

    daily_loss_limit_percent: Number = Field(Decimal("5.0"), gt=0, le=100)
    max_drawdown_percent: Number = Field(Decimal("15.0"), gt=0, le=100)
    consecutive_loss_limit: StrictInt = Field(3, ge=1)
    api_error_limit: StrictInt = Field(5, ge=1)
    """Halt when more API errors than this fall inside the window."""
    api_error_window_minutes: StrictInt = Field(10, ge=1, le=1440)
    """The sliding window the API errors are counted in."""


class ExitStrategy(_Section):
    """Stop-loss and take-profit placed with every position."""

    stop_loss_percent: Number = Field(Decimal("2.0"), gt=0, lt=100)
    take_profit_percent: Number = Field(Decimal("4.0"), gt=0, lt=100)
    trailing_stop: StrictBool = False
    take_profit_order: TakeProfitOrderKind = TakeProfitOrderKind.MARKET


class StrategySettings(_Section):
    """ADX v2.0 parameters and its optional signal exits (see shared/spec/strategy-adx-v2.md)."""

    name: Literal["adx_v2"] = "adx_v2"
    adx_period: StrictInt = Field(14, ge=2, le=200)
    adx_threshold: Number = Field(Decimal("25"), gt=0, lt=100)
    warmup_candles: StrictInt | None = Field(
        None, ge=1, description="history needed before the first signal; null = 10 * adx_period"
    )
    exit_on_di_cross: StrictBool = False
    adx_exit_threshold: Number | None = Field(None, gt=0, lt=100)
    reverse_on_opposite_signal: StrictBool = False
    allow_short: StrictBool = True

    @property
    def effective_warmup_candles(self) -> int:
        """Return the history length required before a signal may be taken."""
        return self.warmup_candles if self.warmup_candles is not None else 10 * self.adx_period

    @model_validator(mode="after")
    def _warmup_covers_indicator(self) -> StrategySettings:
        if self.warmup_candles is not None and self.warmup_candles < 2 * self.adx_period + 1:
            raise ValueError(
                f"warmup_candles = {self.warmup_candles} is shorter than ADX's own warm-up "
                f"(2 * adx_period + 1 = {2 * self.adx_period + 1}); use at least that, "
                "or null for the default of 10 * adx_period"
            )
        return self


class Fees(_Section):
    """Trading costs of the fill model (fractions of notional, like BingX's fee rates)."""

    taker_fee_rate: Number = Field(Decimal("0.0005"), ge=0, lt=Decimal("0.01"))
    maker_fee_rate: Number = Field(Decimal("0.0002"), ge=Decimal("-0.01"), lt=Decimal("0.01"))
    slippage_bps: Number = Field(Decimal("2"), ge=0, le=1000)
    funding_rate_per_8h: Number = Field(Decimal("0"), gt=Decimal("-0.05"), lt=Decimal("0.05"))


class ContractRules(_Section):
    """A contract's tick, step and minimums for backtests and paper mode of unlisted symbols."""

    price_tick: Number = Field(gt=0)
    quantity_step: Number = Field(gt=0)
    min_quantity: Number = Field(ge=0)
    min_notional_usdt: Number = Field(ge=0)


class ExchangeEnvironment(StrEnum):
    """Which BingX the bot talks to."""

    PRODUCTION = "production"
    """open-api.bingx.com: real money."""
    DEMO = "demo"
    """open-api-vst.bingx.com: BingX's demo trading with virtual USDT (VST)."""
    CUSTOM = "custom"
    """Any other BingX-compatible server at `base_url`, e.g. `adxbot sim`."""


def check_base_url(url: str) -> str:
    """Return `url` without a trailing slash; raise ValueError naming what is wrong with it."""
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            "must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:8000"
        )
    if parts.username or parts.password:
        raise ValueError("must not contain a user name or password")
    if parts.query or parts.fragment:
        raise ValueError("must not contain a query (?...) or fragment (#...)")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ValueError("has an invalid port") from None
    return text.rstrip("/")


class ExchangeSettings(_Section):
    """Where the BingX API is; keys never live here (environment or config/.env)."""

    environment: ExchangeEnvironment = ExchangeEnvironment.PRODUCTION
    base_url: str | None = Field(
        None, description="the server of environment 'custom' (e.g. http://127.0.0.1:8000)"
    )
    recv_window_ms: StrictInt | None = Field(
        None, ge=1, le=60_000, description="BingX's recvWindow; null = BingX's default, 5000 ms"
    )
    margin_type: Literal["isolated", "crossed"] = "isolated"
    """Live mode sets it on the symbol at start: isolated risks only a position's margin."""

    @field_validator("base_url")
    @classmethod
    def _base_url_is_a_server(cls, value: str | None) -> str | None:
        return None if value is None else check_base_url(value)

    @model_validator(mode="after")
    def _base_url_matches_environment(self) -> ExchangeSettings:
        if self.environment is ExchangeEnvironment.CUSTOM and self.base_url is None:
            raise ValueError('environment "custom" needs "base_url" (e.g. "http://127.0.0.1:8000")')
        if self.environment is not ExchangeEnvironment.CUSTOM and self.base_url is not None:
            raise ValueError(
                f'"base_url" is only used with environment "custom" (this is '
                f'"{self.environment.value}", whose address is fixed): remove base_url, or '
                'set environment to "custom"'
            )
        return self


class LogFormat(StrEnum):
    """How the running bot writes its log."""

    CONSOLE = "console"
    JSON = "json"
    """One JSON object per line (journald, log shippers)."""


class BotSettings(_Section):
    """How the running bot (paper or live) keeps its records and follows the market."""

    database: str | None = None
    """Path of the trade database; null = state/adxbot-<mode>.sqlite3 (one file per mode,
    so paper and live never share one; ADXBOT_STATE_DIR moves the state directory)."""
    history_candles: StrictInt = Field(1000, ge=200, le=1440)
    """Closed candles fetched at start and kept for the indicators (BingX sends ≤ 1440)."""
    log_format: LogFormat = LogFormat.CONSOLE
    heartbeat_seconds: StrictInt = Field(10, ge=1, le=300)
    """How often the bot records that it is alive (`adxbot status` shows the age)."""
    max_decision_delay_seconds: StrictInt = Field(60, ge=1, le=3600)
    """Trade on a closed candle only this long after its close (real time); older candles
    (after a stop, a suspend, an outage) only have their resting orders matched."""


class LiveSettings(_Section):
    """How the live trader places orders and checks the account."""

    order_attempts: StrictInt = Field(3, ge=1, le=10)
    """Sends of one order at most; each retry only after BingX confirms it has no such order."""
    order_confirm_timeout_seconds: Number = Field(Decimal("10"), gt=0, le=120)
    """How long to wait for a market order to fill before cancelling what is left of it."""
    reconcile_interval_minutes: StrictInt = Field(5, ge=1, le=1440)
    """Compare the exchange's positions and orders with the database this often."""


class DashboardSettings(_Section):
    """`adxbot dashboard`: where it listens and how its sessions and watchdog behave.

    Its password is a secret: ADXBOT_DASHBOARD_PASSWORD in the environment or config/.env.
    """

    host: str = "127.0.0.1"
    """Loopback by default; any other address also needs the password (it always does)."""
    port: StrictInt = Field(5900, ge=1, le=65535)
    session_hours: StrictInt = Field(12, ge=1, le=720)
    """How long a login lasts."""
    refresh_seconds: StrictInt = Field(5, ge=1, le=300)
    """How often the pages fetch fresh data."""


class AlertEvent(StrEnum):
    """What an alert can be sent for."""

    START_STOP = "start_stop"
    TRADE_OPENED = "trade_opened"
    TRADE_CLOSED = "trade_closed"
    BREAKER = "breaker"
    RECONCILIATION = "reconciliation"
    ERRORS = "errors"
    HEARTBEAT = "heartbeat"


class AlertSettings(_Section):
    """Alerts through apprise; the channels are secrets: ADXBOT_ALERT_URLS (space separated
    apprise URLs, e.g. tgram://..., discord://..., mailto://..., ntfy://..., json://...)
    in the environment or config/.env."""

    events: tuple[AlertEvent, ...] = tuple(AlertEvent)
    """Which kinds of alert to send (default: all)."""
    repeated_errors: StrictInt = Field(3, ge=1, le=1000)
    """Alert when this many error events fall inside `repeated_errors_minutes`."""
    repeated_errors_minutes: StrictInt = Field(10, ge=1, le=1440)
    heartbeat_stale_seconds: StrictInt = Field(120, ge=10, le=86400)
    """The bot's heartbeat older than this is 'missing' (dashboard watchdog, `status`)."""
    retry_seconds: StrictInt = Field(30, ge=1, le=3600)
    """A channel that failed is tried again after this long (doubling, at most an hour)."""


class MetricsSettings(_Section):
    """Prometheus `/metrics` served by the running bot itself."""

    enabled: StrictBool = False
    host: str = "127.0.0.1"
    port: StrictInt = Field(9310, ge=1, le=65535)


class BotConfig(_Section):
    """The whole configuration file."""

    initial_capital: Number = Field(Decimal("1000.0"), gt=0)
    leverage: StrictInt = Field(5, ge=1, le=125)
    symbol: str = Field("BTC-USDT", pattern=r"^[A-Z0-9]{1,20}-USDT$")
    timeframe: Timeframe = Timeframe.M5
    position_sizing: PositionSizing = PositionSizing()
    risk_management: RiskManagement = RiskManagement()
    exit_strategy: ExitStrategy = ExitStrategy()
    strategy: StrategySettings = StrategySettings()
    fees: Fees = Fees()
    contract: ContractRules | None = None
    exchange: ExchangeSettings = ExchangeSettings()
    bot: BotSettings = BotSettings()
    live: LiveSettings = LiveSettings()
    dashboard: DashboardSettings = DashboardSettings()
    alerts: AlertSettings = AlertSettings()
    metrics: MetricsSettings = MetricsSettings()

    @model_validator(mode="after")
    def _history_covers_warmup(self) -> BotConfig:
        # ADX's smoothing remembers where its input starts; this much more history than
        # the warm-up makes a rolling window give the backtest's signals.
        needed = self.strategy.effective_warmup_candles + 5 * self.strategy.adx_period
        if self.bot.history_candles < needed:
            raise ValueError(
                f"bot.history_candles = {self.bot.history_candles} is too short for the "
                f"strategy: it needs at least {needed} (warm-up + 5 x adx_period); raise it "
                "or lower strategy.warmup_candles"
            )
        return self

    def instrument(self) -> Instrument:
        """Return the contract rules: the `contract` section, else the known BingX rules."""
        if self.contract is not None:
            return Instrument(
                symbol=self.symbol,
                price_tick=self.contract.price_tick,
                quantity_step=self.contract.quantity_step,
                min_quantity=self.contract.min_quantity,
                min_notional=self.contract.min_notional_usdt,
            )
        known = BINGX_CONTRACTS.get(self.symbol)
        if known is None:
            raise ConfigError(
                f"no contract rules are known for symbol {self.symbol!r} "
                f"(known: {', '.join(sorted(BINGX_CONTRACTS))}); add a 'contract' section with "
                "price_tick, quantity_step, min_quantity and min_notional_usdt"
            )
        return known


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    model: type[BaseModel] = BotConfig
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        candidates = getattr(annotation, "__args__", (annotation,))
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return []
        model = nested[0]
    return sorted(model.model_fields)


def _describe(error: Any) -> str:
    loc = tuple(error["loc"])
    key = _location(loc)
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(_allowed_keys(loc))
        return f"unknown key '{key}' (allowed here: {allowed})"
    value = json.dumps(error.get("input"), default=str)
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{key} = {value}: {message}"


def parse_config(data: Any, source: str = "config") -> BotConfig:
    """Validate already-parsed JSON data; raise ConfigError naming every bad key."""
    try:
        return BotConfig.model_validate(data)
    except ValidationError as e:
        problems = "\n".join(f"  - {_describe(err)}" for err in e.errors())
        raise ConfigError(f"{source} is not a valid adxbot config:\n{problems}") from e


def load_config(path: Path | None) -> BotConfig:
    """Read and validate a config file; `None` gives the defaults."""
    if path is None:
        return BotConfig()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError(
            f"config file {path} does not exist; create one with 'adxbot init {path}'"
        ) from e
    except OSError as e:
        raise ConfigError(f"config file {path} cannot be read: {e.strerror}") from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(
            f"{path} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}"
        ) from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object ({{...}}) at the top level")
    return parse_config(data, source=str(path))


def config_to_json(config: BotConfig) -> str:
    """Render a config as the JSON a user would write (defaults included)."""
    return json.dumps(config.model_dump(mode="json", exclude_none=False), indent=2) + "\n"
