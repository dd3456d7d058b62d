"""The one error tree of adxbot.

Errors are sorted by what the caller must do about them::

    AdxbotError                      base of everything adxbot raises on purpose
    ├── ConfigError                  the user's configuration is wrong: fix it (CLI exit 2)
    ├── DataError                    an input file is unusable: fix or replace it (CLI exit 2)
    │   └── CandleDataError          a candle file row is malformed, unsorted, duplicated...
    ├── OrderRejected                the order is refused and must not be retried as is
    │   ├── InsufficientMargin       not enough margin for the order
    │   ├── BelowMinimum             quantity or notional under the contract's minimum
    │   └── InvalidOrder             off-grid price, no position to reduce, bad parameters
    └── InternalInvariantError       a bug: state the code promises can never exist

Later slices add the exchange side (retry, back off, fix the setup, outcome unknown)
under the same root.  Every error carries a message that names the problem and, where
there is one, the fix.
"""

from __future__ import annotations


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


class InvalidOrder(OrderRejected):
    """The order's parameters are not acceptable (grid, side, reduce-only with no position)."""


class InternalInvariantError(AdxbotError):
    """A state the code guarantees cannot happen has happened: a bug, stop and report it."""
