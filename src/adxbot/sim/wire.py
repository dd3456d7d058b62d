"""BingX's spellings on the simulator side: enum tables and the JSON shapes of answers.

Shapes follow shared/spec/bingx-api.md §5 and the recorded responses in
shared/spec/bingx-recorded/response.json: decimals as strings, ids as strings,
`positionSide` on every order, string booleans where BingX uses them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from adxbot.domain.enums import OrderSide, OrderStatus, OrderType, PositionSide, TimeInForce
from adxbot.domain.instrument import Instrument

SIDES = {"BUY": OrderSide.BUY, "SELL": OrderSide.SELL}
SIDE_NAMES = {v: k for k, v in SIDES.items()}

POSITION_SIDES = {"BOTH": PositionSide.BOTH, "LONG": PositionSide.LONG, "SHORT": PositionSide.SHORT}
POSITION_SIDE_NAMES = {v: k for k, v in POSITION_SIDES.items()}

ORDER_TYPES = {
    "MARKET": OrderType.MARKET,
    "LIMIT": OrderType.LIMIT,
    "STOP_MARKET": OrderType.STOP_MARKET,
    "TAKE_PROFIT_MARKET": OrderType.TAKE_PROFIT_MARKET,
    "STOP": OrderType.STOP,
    "TAKE_PROFIT": OrderType.TAKE_PROFIT,
}
ORDER_TYPE_NAMES = {v: k for k, v in ORDER_TYPES.items()}
UNSUPPORTED_ORDER_TYPES = frozenset(
    {"TRIGGER_LIMIT", "TRIGGER_MARKET", "TRAILING_STOP_MARKET", "TRAILING_TP_SL"}
)

TIME_IN_FORCE = {
    "GTC": TimeInForce.GTC,
    "POSTONLY": TimeInForce.POST_ONLY,
    "IOC": TimeInForce.IOC,
    "FOK": TimeInForce.FOK,
}
TIME_IN_FORCE_NAMES = {
    TimeInForce.GTC: "GTC",
    TimeInForce.POST_ONLY: "PostOnly",
    TimeInForce.IOC: "IOC",
    TimeInForce.FOK: "FOK",
}

_UTC8 = timedelta(hours=8)


def order_status_name(status: OrderStatus, order_type: OrderType, triggered: bool) -> str:
    """Return BingX's status word: untriggered conditionals are NEW, resting orders PENDING."""
    if status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
        if status is OrderStatus.PARTIALLY_FILLED:
            return "PARTIALLY_FILLED"
        return "NEW" if order_type.is_trigger and not triggered else "PENDING"
    return {
        OrderStatus.FILLED: "FILLED",
        OrderStatus.CANCELED: "CANCELLED",
        OrderStatus.REJECTED: "FAILED",
        OrderStatus.EXPIRED: "EXPIRED",
    }[status]


def text(value: Decimal | None) -> str:
    """Render a decimal as BingX does: plain notation, no exponent ("0" for none)."""
    if value is None:
        return "0"
    rendered = format(value, "f")
    return rendered


def price_text(value: Decimal | None, instrument: Instrument) -> str:
    """Render a price with the contract's number of decimals."""
    if value is None:
        return "0"
    return text(value.quantize(instrument.price_tick))


def fill_times(time_ms: int) -> tuple[str, str]:
    """Return (`filledTm`, `filledTime`): BingX writes UTC+8 wall time, the first marked `Z`."""
    local = datetime.fromtimestamp(time_ms / 1000, tz=UTC) + _UTC8
    millis = time_ms % 1000
    return (
        local.strftime("%Y-%m-%dT%H:%M:%SZ"),
        local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis:03d}+0800",
    )


def envelope(data: Any) -> dict[str, Any]:
    """Wrap a success answer."""
    return {"code": 0, "msg": "", "data": data}


def error_body(code: int, msg: str) -> dict[str, Any]:
    """Build an error answer (HTTP 200 with a non-zero code, as BingX does)."""
    return {"code": code, "msg": msg, "data": {}}
