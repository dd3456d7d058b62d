"""Enumerations of the trading domain.  Exchange spellings live only in the exchange package."""

from __future__ import annotations

from enum import StrEnum


class OrderSide(StrEnum):
    """The side of an order."""

    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> OrderSide:
        """Return the other side."""
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY


class Direction(StrEnum):
    """The direction of a position or of an entry signal."""

    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        """Return +1 for long and -1 for short: the sign of P&L per unit of price rise."""
        return 1 if self is Direction.LONG else -1

    @property
    def entry_side(self) -> OrderSide:
        """Return the order side that opens this direction."""
        return OrderSide.BUY if self is Direction.LONG else OrderSide.SELL

    @property
    def exit_side(self) -> OrderSide:
        """Return the order side that closes this direction."""
        return OrderSide.SELL if self is Direction.LONG else OrderSide.BUY

    @property
    def opposite(self) -> Direction:
        """Return the other direction."""
        return Direction.SHORT if self is Direction.LONG else Direction.LONG


class PositionMode(StrEnum):
    """How the account holds positions: one net position, or a long and a short side."""

    ONE_WAY = "one_way"
    HEDGE = "hedge"


class PositionSide(StrEnum):
    """The position slot an order acts on: BOTH in one-way mode, LONG or SHORT in hedge mode."""

    BOTH = "both"
    LONG = "long"
    SHORT = "short"


class OrderType(StrEnum):
    """Order types the matching engine executes."""

    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"
    TAKE_PROFIT_MARKET = "take_profit_market"
    STOP = "stop"
    TAKE_PROFIT = "take_profit"

    @property
    def is_trigger(self) -> bool:
        """Return True for orders that rest until a trigger price is reached."""
        return self in _TRIGGER_TYPES

    @property
    def executes_as_market(self) -> bool:
        """Return True when the order fills as a taker at the market once it is live."""
        return self in (OrderType.MARKET, OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET)


_TRIGGER_TYPES = frozenset(
    {OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET, OrderType.STOP, OrderType.TAKE_PROFIT}
)


class OrderStatus(StrEnum):
    """The lifecycle state of an order."""

    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        """Return True when the order can no longer change."""
        return self in (
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.REJECTED,
            OrderStatus.EXPIRED,
        )


class TimeInForce(StrEnum):
    """How long a limit order may rest."""

    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    POST_ONLY = "post_only"


class Liquidity(StrEnum):
    """Whether a fill added liquidity (maker) or took it (taker); decides the fee."""

    MAKER = "maker"
    TAKER = "taker"


class ExitReason(StrEnum):
    """Why a position was closed."""

    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    SIGNAL = "signal"
    END_OF_DATA = "end_of_data"
    PROTECTION_FAILED = "protection_failed"
    """The stop-loss or take-profit could not be placed, so the position was closed at once."""
    MANUAL = "manual"
    """An operator closed it (close-all, emergency stop)."""
    EXTERNAL = "external"
    """It closed on the exchange without the bot's orders: by hand in the app, liquidation."""


class TakeProfitOrderKind(StrEnum):
    """How the take-profit rests on the exchange."""

    MARKET = "market"
    LIMIT = "limit"


class Timeframe(StrEnum):
    """Candle timeframes BingX serves for perpetual swaps."""

    M1 = "1m"
    M3 = "3m"
    M5 = "5m"
    M15 = "15m"
    M30 = "30m"
    H1 = "1h"
    H2 = "2h"
    H4 = "4h"
    H6 = "6h"
    H8 = "8h"
    H12 = "12h"
    D1 = "1d"

    @property
    def ms(self) -> int:
        """Return the candle length in milliseconds."""
        unit = self.value[-1]
        count = int(self.value[:-1])
        return count * {"m": 60_000, "h": 3_600_000, "d": 86_400_000}[unit]
