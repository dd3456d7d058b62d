"""The one error tree of adxbot.

Errors are sorted by what the caller must do about them::

    AdxbotError                             base of everything adxbot raises on purpose
    ├── ConfigError                         the user's configuration is wrong: fix it (CLI exit 2)
    ├── DataError                           input file unusable: fix or replace it (CLI exit 2)
    │   └── CandleDataError                 a candle file row is malformed, unsorted, duplicated...
    ├── DatabaseError                       the trade database is unusable as it is: see the message
    ├── OrderRejected                       the order is refused and must not be retried as is
    │   ├── InsufficientMargin              not enough margin for the order
    │   ├── BelowMinimum                    quantity or notional under the contract's minimum
    │   │   ├── BelowMinimumQuantity        quantity under the minimum quantity
    │   │   └── BelowMinimumNotional        quantity × price under the minimum notional
    │   └── InvalidOrder                    off-grid price, bad parameters
    │       ├── NoPositionToReduce          reduce-only / close order with nothing to reduce
    │       ├── PostOnlyWouldTake           a post-only order would take liquidity
    │       └── TriggerWouldFireImmediately the trigger is already reached at submit
    └── InternalInvariantError              a bug: state the code promises can never exist

Callers that must tell rejections apart (the exchange simulator maps each to a BingX
error code) catch the specific class; never match on the message.

Later slices add the exchange side (retry, back off, fix the setup, outcome unknown)
under the same root.  Every error carries a message that names the problem and, where
there is one, the fix.
"""

from __future__ import annotations

from decimal import Decimal


class AdxbotError(Exception):
    """Base class of every error adxbot raises on purpose."""


class ConfigError(AdxbotError):
    """The configuration is invalid; the message names the key, the value and the fix."""


class DataError(AdxbotError):
    """An input data file cannot be used."""


class CandleDataError(DataError):
    """A candle file is malformed; `row` is the 1-based line number in the file (0 = whole file)."""

    def __init__(self, path: str, row: int, problem: str) -> None:
        where = f"{path}, line {row}" if row else path
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.row = row
        self.problem = problem


class OrderRejected(AdxbotError):
    """The order was refused; retrying it unchanged would be refused again."""


class InsufficientMargin(OrderRejected):
    """The account does not have the margin the order needs."""


class BelowMinimum(OrderRejected):
    """The order's quantity or notional is under the contract's minimum."""


class BelowMinimumQuantity(BelowMinimum):
    """The order's quantity is under the contract's minimum quantity."""

    def __init__(self, quantity: Decimal, minimum: Decimal) -> None:
        super().__init__(f"quantity {quantity} is below the minimum {minimum}")
        self.quantity = quantity
        self.minimum = minimum


class BelowMinimumNotional(BelowMinimum):
    """The order's notional (quantity × reference price, USDT) is under the contract's minimum."""

    def __init__(self, notional: Decimal, minimum: Decimal) -> None:
        super().__init__(f"notional {notional} USDT is below the minimum {minimum}")
        self.notional = notional
        self.minimum = minimum


class InvalidOrder(OrderRejected):
    """The order's parameters are not acceptable (grid, side, missing prices, unknown id)."""


class NoPositionToReduce(InvalidOrder):
    """A reduce-only, close-position or hedge-mode closing order has no position to reduce."""


class PostOnlyWouldTake(InvalidOrder):
    """A post-only order would take liquidity (marketable on arrival, or a market order)."""


class TriggerWouldFireImmediately(InvalidOrder):
    """A trigger order's trigger price is already reached at the last price."""


class InternalInvariantError(AdxbotError):
    """A state the code guarantees cannot happen has happened: a bug, stop and report it."""


class DatabaseError(AdxbotError):
    """The trade database cannot be used as it is: wrong mode, newer schema, corrupt.

    The message names the file and says what to do.
    """
