"""Exchange errors, sorted by what the caller must do about them.

    AdxbotError
    ├── OrderRejected (adxbot.errors)      the order is refused: do not retry it unchanged
    │   ├── InsufficientMargin                101204, 100202
    │   ├── BelowExchangeMinimum              101400, 110425
    │   ├── InvalidOrder                      109400, 80014, 100400, 101211, 101215...
    │   │   ├── NoPositionToReduce            101205, 80017
    │   │   └── DuplicateClientOrderId        101481, 109201
    └── ExchangeError                      anything else the exchange said or failed to say
        ├── TemporaryError                 retry later: 5xx, system busy, a malformed answer
        │   └── NotSent                    no connection was made: nothing reached BingX
        ├── RateLimited                    back off for `retry_after_s`: 100410, 109429, 429
        ├── SetupError                     a person must fix the setup; retrying cannot help
        │   ├── AuthenticationFailed       bad key or signature: 100413, 100412, 100001
        │   ├── ClockSkew                  timestamp outside recvWindow: 100421
        │   ├── IpNotWhitelisted           100419
        │   └── PermissionDenied           100004
        ├── OrderNotFound                  80016, 109421: the order does not exist
        ├── UnexpectedAnswer               any other non-zero code (kept with code and msg)
        └── OutcomeUnknown                 a write was sent but its answer was lost or was a
                                           temporary failure: look the order up by its client
                                           order id before anything else

The translation happens in one place (`translate_code`, `translate_status`), always
`raise ... from` the original.
"""

from __future__ import annotations

import re

from adxbot.errors import (
    AdxbotError,
    BelowMinimum,
    InsufficientMargin,
    InvalidOrder,
    NoPositionToReduce,
    OrderRejected,
    PostOnlyWouldTake,
)


class ExchangeError(AdxbotError):
    """The exchange failed or answered with an error that is not an order rejection."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TemporaryError(ExchangeError):
    """A passing failure (5xx, busy, broken answer): retrying later may succeed."""


class NotSent(TemporaryError):
    """The request never left: no connection could be made (safe to retry, even a write)."""


class RateLimited(ExchangeError):
    """Too many requests: wait `retry_after_s`, or until `unblocked_at_ms` when BingX says."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        retry_after_s: float = 1.0,
        unblocked_at_ms: int | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after_s = retry_after_s
        self.unblocked_at_ms = unblocked_at_ms

    def wait_s(self, now_ms: int) -> float:
        """Return how long BingX asks to wait, from `now_ms` (the exchange's time)."""
        if self.unblocked_at_ms is not None:
            return max(0.0, (self.unblocked_at_ms - now_ms) / 1000)
        return self.retry_after_s


class SetupError(ExchangeError):
    """The keys, the clock, the IP whitelist or the permissions need a person's fix."""

    fix: str = "check the BingX API key setup"


class AuthenticationFailed(SetupError):
    """BingX did not accept the key or the signature."""

    fix = "check BINGX_API_KEY and BINGX_API_SECRET (signature or key rejected)"


class ClockSkew(SetupError):
    """The request's timestamp was outside the receive window even after re-syncing."""

    fix = "the machine's clock is off: enable NTP (timedatectl set-ntp true)"


class IpNotWhitelisted(SetupError):
    """The key is restricted to other IP addresses."""

    fix = "add this server's IP address to the API key's whitelist on BingX"


class PermissionDenied(SetupError):
    """The key lacks a permission the call needs."""

    fix = "enable 'Perpetual Futures Trading' for the API key on BingX"


class OrderNotFound(ExchangeError):
    """BingX knows no such order."""


class UnexpectedAnswer(ExchangeError):
    """BingX answered with an error code adxbot has no rule for."""


class OutcomeUnknown(ExchangeError):
    """A write was sent and its answer was lost: it may or may not have been executed."""

    def __init__(self, message: str, *, client_order_id: str | None = None) -> None:
        super().__init__(message)
        self.client_order_id = client_order_id


class DuplicateClientOrderId(InvalidOrder):
    """An order with this client order id exists already."""


class BelowExchangeMinimum(BelowMinimum):
    """BingX refused the order's quantity or notional as under the contract's minimum."""


_UNBLOCK_AT = re.compile(r"(?:after|time:?)\s*(\d{13})")

_BY_CODE: dict[int, type[AdxbotError]] = {
    100001: AuthenticationFailed,
    100412: AuthenticationFailed,
    100413: AuthenticationFailed,
    100421: ClockSkew,
    100419: IpNotWhitelisted,
    100004: PermissionDenied,
    100410: RateLimited,
    109429: RateLimited,
    100500: TemporaryError,
    100503: TemporaryError,
    109500: TemporaryError,
    110500: TemporaryError,
    101500: TemporaryError,
    80012: TemporaryError,
    101204: InsufficientMargin,
    100202: InsufficientMargin,
    101400: BelowExchangeMinimum,
    110425: BelowExchangeMinimum,
    101205: NoPositionToReduce,
    80017: NoPositionToReduce,
    101481: DuplicateClientOrderId,
    109201: DuplicateClientOrderId,
    101215: PostOnlyWouldTake,
    109400: InvalidOrder,
    80014: InvalidOrder,
    100400: InvalidOrder,
    80001: InvalidOrder,
    101211: InvalidOrder,
    101212: InvalidOrder,
    101414: InvalidOrder,
    80016: OrderNotFound,
    109421: OrderNotFound,
    80018: InvalidOrder,
    109422: InvalidOrder,
}
"""BingX business codes -> the error the caller acts on (shared/spec/bingx-api.md §7.2)."""


def translate_code(code: int, msg: str, path: str) -> AdxbotError:
    """Return the error for a BingX answer with a non-zero `code`."""
    kind = _BY_CODE.get(code, UnexpectedAnswer)
    text = f"BingX {path}: {code} {msg}"
    if issubclass(kind, OrderRejected):
        return _rejection(kind, text)
    if kind is RateLimited:
        # "...in the disabled period and will be unblocked after 1700000000000"
        stamp = _UNBLOCK_AT.search(msg)
        unblocked = int(stamp.group(1)) if stamp else None
        return RateLimited(text, code=code, retry_after_s=1.0, unblocked_at_ms=unblocked)
    assert issubclass(kind, ExchangeError)
    return kind(text, code=code)


def _rejection(kind: type[AdxbotError], text: str) -> AdxbotError:
    return kind(text)


def translate_status(status: int, path: str, retry_after: str | None = None) -> ExchangeError:
    """Return the error for an HTTP status other than 200 (body not a BingX envelope)."""
    text = f"BingX {path}: HTTP {status}"
    if status in (429, 418):
        default = 60.0 if status == 418 else 5.0
        asked = float(retry_after) if retry_after and retry_after.isdigit() else None
        return RateLimited(text, retry_after_s=asked if asked is not None else default)
    if status in (401,):
        return AuthenticationFailed(text)
    if status == 403:
        return TemporaryError(text + " (blocked by BingX's firewall; wait and retry)")
    return TemporaryError(text)
