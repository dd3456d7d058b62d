"""BingX's spellings: two-way tables that raise on values adxbot does not know.

Parsing helpers turn BingX's strings (or numbers) into Decimals, ints and enums; a value
of an unknown shape is a malformed answer (`TemporaryError`), never a silent default.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from adxbot.domain.enums import OrderSide, OrderStatus, OrderType, PositionSide, TimeInForce
from adxbot.exchange.errors import TemporaryError

T = TypeVar("T")

SIDE_TO_WIRE = {OrderSide.BUY: "BUY", OrderSide.SELL: "SELL"}
SIDE_FROM_WIRE = {v: k for k, v in SIDE_TO_WIRE.items()}

POSITION_SIDE_TO_WIRE = {
    PositionSide.BOTH: "BOTH",
    PositionSide.LONG: "LONG",
    PositionSide.SHORT: "SHORT",
}
POSITION_SIDE_FROM_WIRE = {v: k for k, v in POSITION_SIDE_TO_WIRE.items()}

ORDER_TYPE_TO_WIRE = {
    OrderType.MARKET: "MARKET",
    OrderType.LIMIT: "LIMIT",
    OrderType.STOP_MARKET: "STOP_MARKET",
    OrderType.TAKE_PROFIT_MARKET: "TAKE_PROFIT_MARKET",
    OrderType.STOP: "STOP",
    OrderType.TAKE_PROFIT: "TAKE_PROFIT",
}
ORDER_TYPE_FROM_WIRE = {v: k for k, v in ORDER_TYPE_TO_WIRE.items()}

TIME_IN_FORCE_TO_WIRE = {
    TimeInForce.GTC: "GTC",
    TimeInForce.POST_ONLY: "PostOnly",
    TimeInForce.IOC: "IOC",
    TimeInForce.FOK: "FOK",
}
TIME_IN_FORCE_FROM_WIRE = {v.upper(): k for k, v in TIME_IN_FORCE_TO_WIRE.items()}

STATUS_FROM_WIRE = {
    "NEW": OrderStatus.NEW,
    "PENDING": OrderStatus.NEW,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "CANCELLED": OrderStatus.CANCELED,
    "FAILED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
}


def lookup(table: Mapping[str, T], value: Any, what: str) -> T:
    """Return `table[value]`; an unknown value is a malformed answer."""
    try:
        return table[str(value).upper()]
    except KeyError:
        raise TemporaryError(f"BingX sent an unknown {what}: {value!r}") from None


def decimal(value: Any, what: str) -> Decimal:
    """Parse a decimal BingX sent as a string or a number."""
    if isinstance(value, bool) or value is None:
        raise TemporaryError(f"BingX sent no number for {what}: {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise TemporaryError(f"BingX sent a malformed {what}: {value!r}") from None
    if not number.is_finite():
        raise TemporaryError(f"BingX sent a malformed {what}: {value!r}")
    return number


def optional_decimal(value: Any, what: str) -> Decimal | None:
    """Parse a decimal where BingX writes 0 or "" for none."""
    if value in (None, "", "0", 0):
        return None
    number = decimal(value, what)
    return number if number != 0 else None


def integer(value: Any, what: str) -> int:
    """Parse an integer sent as a number or a string (`"5X"` leverage included)."""
    text = str(value).rstrip("Xx") if value is not None else ""
    try:
        return int(Decimal(text))
    except (InvalidOperation, ValueError):
        raise TemporaryError(f"BingX sent a malformed {what}: {value!r}") from None


def flag(value: Any) -> bool:
    """Parse BingX's booleans, sent as JSON booleans or as the strings "true"/"false"."""
    if isinstance(value, bool):
        return value
    return str(value).lower() == "true"


def field(row: Mapping[str, Any], name: str, *aliases: str) -> Any:
    """Return a required field of an answer."""
    for key in (name, *aliases):
        if key in row:
            return row[key]
    raise TemporaryError(f"BingX's answer lacks {name!r}: {dict(row)!r:.200}")
