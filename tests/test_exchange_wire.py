"""BingX's spellings and error codes: the two translation points of the exchange package.

`errors.translate_code` / `translate_status` turn BingX failures into the error tree; the
`wire` tables and parsers turn BingX's strings into domain values and refuse what they do
not know (a malformed answer is a `TemporaryError`, never a silent default).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from adxbot.domain.enums import OrderSide, OrderStatus, OrderType, PositionSide, TimeInForce
from adxbot.errors import (
    AdxbotError,
    BelowMinimum,
    InsufficientMargin,
    InvalidOrder,
    NoPositionToReduce,
    OrderRejected,
    PostOnlyWouldTake,
)
from adxbot.exchange import errors, wire
from adxbot.exchange.errors import (
    AuthenticationFailed,
    BelowExchangeMinimum,
    ClockSkew,
    DuplicateClientOrderId,
    ExchangeError,
    IpNotWhitelisted,
    OrderNotFound,
    PermissionDenied,
    RateLimited,
    SetupError,
    TemporaryError,
    UnexpectedAnswer,
    translate_code,
    translate_status,
)

# What each code means (shared/spec/bingx-api.md §7.2) -> what the caller must do.
DOCUMENTED: dict[int, type[AdxbotError]] = {
    # a person must fix the setup
    100001: AuthenticationFailed,  # signature mismatch
    100412: AuthenticationFailed,  # null signature
    100413: AuthenticationFailed,  # incorrect or null API key
    100421: ClockSkew,  # null timestamp or timestamp mismatch
    100419: IpNotWhitelisted,
    100004: PermissionDenied,
    # back off
    100410: RateLimited,
    109429: RateLimited,
    # retry later
    100500: TemporaryError,  # internal error / system busy
    100503: TemporaryError,  # server busy
    109500: TemporaryError,  # system error
    110500: TemporaryError,  # order system busy
    101500: TemporaryError,  # rpc timeout
    80012: TemporaryError,  # service unavailable (catch-all)
    # the order is refused
    101204: InsufficientMargin,
    100202: InsufficientMargin,
    101400: BelowExchangeMinimum,  # minimum amount
    110425: BelowExchangeMinimum,  # minimum nominal value
    101205: NoPositionToReduce,  # no position to close
    80017: NoPositionToReduce,  # position does not exist
    101481: DuplicateClientOrderId,  # clientOrderID cannot be repeated
    109201: DuplicateClientOrderId,  # same order number only once within 1 s
    101215: PostOnlyWouldTake,
    109400: InvalidOrder,  # parameter invalid
    80014: InvalidOrder,  # invalid parameter (old code of 109400)
    100400: InvalidOrder,  # invalid parameter / missing arguments
    80001: InvalidOrder,  # request failed (old code of 109400)
    101211: InvalidOrder,  # order price should be lower/higher than ...
    101212: InvalidOrder,  # pending orders exist under the pair
    101414: InvalidOrder,  # leverage above the pair's maximum
    80018: InvalidOrder,  # order is already filled
    109422: InvalidOrder,  # new code of 80017 / 80018
    # the order does not exist
    80016: OrderNotFound,
    109421: OrderNotFound,
}


# ---------------------------------------------------------------- translate_code
def test_code_table_when_compared_with_the_documented_meanings_then_identical() -> None:
    assert errors._BY_CODE == DOCUMENTED


@pytest.mark.parametrize(("code", "expected"), sorted(DOCUMENTED.items()))
def test_translate_code_when_known_code_then_exactly_the_documented_class(
    code: int, expected: type[AdxbotError]
) -> None:
    error = translate_code(code, "what BingX said", "/openApi/swap/v2/trade/order")
    assert type(error) is expected
    assert str(code) in str(error)
    assert "what BingX said" in str(error)
    assert "/openApi/swap/v2/trade/order" in str(error)
    if isinstance(error, ExchangeError):
        assert error.code == code


@pytest.mark.parametrize("code", sorted(DOCUMENTED))
def test_translate_code_then_every_error_is_either_a_rejection_or_an_exchange_error(
    code: int,
) -> None:
    error = translate_code(code, "", "/p")
    assert isinstance(error, OrderRejected) != isinstance(error, ExchangeError)


def test_translate_code_when_code_unknown_then_unexpected_answer_with_code_and_msg() -> None:
    error = translate_code(424242, "the moon is in the wrong phase", "/openApi/x")
    assert type(error) is UnexpectedAnswer
    assert error.code == 424242
    assert "424242" in str(error)
    assert "the moon is in the wrong phase" in str(error)


def test_translate_code_when_rate_limit_names_unblock_time_then_kept_in_ms() -> None:
    msg = (
        "endpoint trigger frequency limit rule is currently in the disabled period "
        "and will be unblocked after 1700000300000"
    )
    error = translate_code(100410, msg, "/p")
    assert isinstance(error, RateLimited)
    assert error.unblocked_at_ms == 1_700_000_300_000


def test_translate_code_when_repeated_error_throttle_names_retry_time_then_kept() -> None:
    msg = (
        "over 20 error code:100202 requests within 480000 ms for this api, please verify "
        "and fix it, can retry after time: 1700000480000"
    )
    error = translate_code(100410, msg, "/p")
    assert isinstance(error, RateLimited)
    assert error.unblocked_at_ms == 1_700_000_480_000


def test_translate_code_when_rate_limit_names_no_time_then_waits_one_second() -> None:
    error = translate_code(109429, "APIRateLimit", "/p")
    assert isinstance(error, RateLimited)
    assert error.unblocked_at_ms is None
    assert error.retry_after_s == 1.0


def test_below_exchange_minimum_then_is_a_below_minimum_rejection() -> None:
    assert issubclass(BelowExchangeMinimum, BelowMinimum)
    assert issubclass(DuplicateClientOrderId, InvalidOrder)


@pytest.mark.parametrize(
    "kind", [AuthenticationFailed, ClockSkew, IpNotWhitelisted, PermissionDenied]
)
def test_setup_errors_then_each_carries_its_own_fix(kind: type[SetupError]) -> None:
    assert kind.fix
    assert kind.fix != SetupError.fix


# ---------------------------------------------------------------- translate_status
@pytest.mark.parametrize(("status", "retry_after_s"), [(429, 5.0), (418, 60.0)])
def test_translate_status_when_429_or_418_then_rate_limited_with_a_wait(
    status: int, retry_after_s: float
) -> None:
    error = translate_status(status, "/p")
    assert type(error) is RateLimited
    assert error.retry_after_s == retry_after_s
    assert str(status) in str(error)


def test_translate_status_when_retry_after_header_in_seconds_then_used() -> None:
    error = translate_status(429, "/p", "12")
    assert isinstance(error, RateLimited)
    assert error.retry_after_s == 12.0


def test_translate_status_when_retry_after_is_a_date_then_default_wait() -> None:
    error = translate_status(429, "/p", "Wed, 21 Oct 2015 07:28:00 GMT")
    assert isinstance(error, RateLimited)
    assert error.retry_after_s == 5.0


def test_translate_status_when_401_then_authentication_failed() -> None:
    assert type(translate_status(401, "/p")) is AuthenticationFailed


def test_translate_status_when_403_then_temporary_error_naming_the_firewall() -> None:
    error = translate_status(403, "/p")
    assert type(error) is TemporaryError
    assert "firewall" in str(error)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_translate_status_when_5xx_then_temporary_error(status: int) -> None:
    error = translate_status(status, "/openApi/p")
    assert type(error) is TemporaryError
    assert f"HTTP {status}" in str(error)


# ---------------------------------------------------------------- wire tables
@pytest.mark.parametrize(
    ("to_wire", "from_wire", "members"),
    [
        (wire.SIDE_TO_WIRE, wire.SIDE_FROM_WIRE, list(OrderSide)),
        (wire.POSITION_SIDE_TO_WIRE, wire.POSITION_SIDE_FROM_WIRE, list(PositionSide)),
        (wire.ORDER_TYPE_TO_WIRE, wire.ORDER_TYPE_FROM_WIRE, list(OrderType)),
    ],
)
def test_tables_when_every_member_sent_then_read_back_as_itself(
    to_wire: dict[Any, str], from_wire: dict[str, Any], members: list[Any]
) -> None:
    assert set(to_wire) == set(members)
    for member in members:
        assert wire.lookup(from_wire, to_wire[member], "value") is member


def test_time_in_force_when_every_member_sent_then_read_back_in_any_case() -> None:
    for member in TimeInForce:
        spelled = wire.TIME_IN_FORCE_TO_WIRE[member]
        for variant in (spelled, spelled.lower(), spelled.upper()):
            assert wire.lookup(wire.TIME_IN_FORCE_FROM_WIRE, variant, "tif") is member


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("NEW", OrderStatus.NEW),
        ("PENDING", OrderStatus.NEW),
        ("PARTIALLY_FILLED", OrderStatus.PARTIALLY_FILLED),
        ("FILLED", OrderStatus.FILLED),
        ("CANCELED", OrderStatus.CANCELED),
        ("CANCELLED", OrderStatus.CANCELED),
        ("FAILED", OrderStatus.REJECTED),
        ("EXPIRED", OrderStatus.EXPIRED),
        ("filled", OrderStatus.FILLED),
    ],
)
def test_status_when_any_documented_spelling_then_mapped(text: str, status: OrderStatus) -> None:
    assert wire.lookup(wire.STATUS_FROM_WIRE, text, "order status") is status


@pytest.mark.parametrize(
    ("table", "value"),
    [
        (wire.STATUS_FROM_WIRE, "RUNNING"),
        (wire.ORDER_TYPE_FROM_WIRE, "TRAILING_STOP_MARKET"),
        (wire.SIDE_FROM_WIRE, "Ask"),
        (wire.POSITION_SIDE_FROM_WIRE, "NET"),
        (wire.TIME_IN_FORCE_FROM_WIRE, "GTX"),
        (wire.SIDE_FROM_WIRE, None),
    ],
)
def test_lookup_when_value_unknown_then_temporary_error_not_a_default(
    table: dict[str, Any], value: Any
) -> None:
    with pytest.raises(TemporaryError, match="unknown thing"):
        wire.lookup(table, value, "thing")


# ---------------------------------------------------------------- wire parsers
@pytest.mark.parametrize(
    ("value", "expected"),
    [("0.0012", Decimal("0.0012")), (65.2965, Decimal("65.2965")), (7, Decimal(7))],
)
def test_decimal_when_string_or_number_then_exact_decimal(value: Any, expected: Decimal) -> None:
    assert wire.decimal(value, "x") == expected


@pytest.mark.parametrize("value", [None, True, "", "abc", "NaN", "Infinity"])
def test_decimal_when_not_a_finite_number_then_temporary_error(value: Any) -> None:
    with pytest.raises(TemporaryError):
        wire.decimal(value, "x")


@pytest.mark.parametrize("value", [None, "", "0", 0])
def test_optional_decimal_when_bingx_writes_none_then_none(value: Any) -> None:
    assert wire.optional_decimal(value, "x") is None


def test_optional_decimal_when_zero_with_decimals_then_none_and_other_values_parsed() -> None:
    assert wire.optional_decimal("0.0", "x") is None
    assert wire.optional_decimal("95.61", "x") == Decimal("95.61")


@pytest.mark.parametrize(
    ("value", "expected"), [("5X", 5), ("20x", 20), (125, 125), ("1700000000000", 1700000000000)]
)
def test_integer_when_number_string_or_leverage_then_int(value: Any, expected: int) -> None:
    assert wire.integer(value, "x") == expected


@pytest.mark.parametrize("value", [None, "", "five", "X"])
def test_integer_when_malformed_then_temporary_error(value: Any) -> None:
    with pytest.raises(TemporaryError):
        wire.integer(value, "x")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), ("true", True), ("false", False), ("True", True), ("", False)],
)
def test_flag_when_json_boolean_or_string_then_bool(value: Any, expected: bool) -> None:
    assert wire.flag(value) is expected


def test_field_when_present_under_an_alias_then_returned() -> None:
    assert wire.field({"clientOrderID": "a"}, "clientOrderId", "clientOrderID") == "a"


def test_field_when_missing_then_temporary_error_naming_it() -> None:
    with pytest.raises(TemporaryError, match="orderId"):
        wire.field({"symbol": "BTC-USDT"}, "orderId")
