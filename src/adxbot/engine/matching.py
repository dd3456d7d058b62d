"""The matching engine: a pure, synchronous model of a perpetual-futures venue.

It holds one account on one contract: a wallet balance, positions per slot, and orders.
Callers feed it prices; it returns fills.  It never reads a clock or does I/O: every
method that changes state takes the time it happens at.

How orders execute (the fill model of shared/spec/strategy-adx-v2.md):

- MARKET orders wait for the next price the caller reports (`fill_market_orders`) and fill
  there as takers with adverse slippage.
- STOP_MARKET and TAKE_PROFIT_MARKET orders rest until triggered, then fill as takers with
  adverse slippage.  A sell stop triggers when the price falls to its trigger, a buy stop
  when it rises to it; take-profits the other way round.
- LIMIT orders rest and fill at exactly their price as makers when the price reaches it.
- `match_bar` applies the candle rules: an order whose trigger the open has already passed
  fills at the open (a gap); otherwise, among orders the candle's range touches, stops fill
  before take-profits and limits (pessimistic when one candle touches both).
- Reduce-only and close-position orders never open or increase a position; when a slot
  goes flat, its remaining reduce-only orders are cancelled (one-cancels-the-other).

Not modelled yet: liquidation, STOP / TAKE_PROFIT (trigger-limit) orders, IOC and FOK
(they are refused with `InvalidOrder`, never silently mis-executed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from adxbot.domain.candles import Bar
from adxbot.domain.enums import (
    Direction,
    Liquidity,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionMode,
    PositionSide,
    TimeInForce,
)
from adxbot.domain.ids import OrderId
from adxbot.domain.instrument import Instrument
from adxbot.engine.fees import FeeSchedule
from adxbot.engine.orders import Fill, FundingPayment, Order, OrderRequest
from adxbot.engine.positions import Position, apply_fill
from adxbot.errors import BelowMinimum, InsufficientMargin, InvalidOrder

ZERO = Decimal(0)
_SUPPORTED_TYPES = frozenset(
    {OrderType.MARKET, OrderType.LIMIT, OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET}
)
_SUPPORTED_TIF = frozenset({TimeInForce.GTC, TimeInForce.POST_ONLY})


@dataclass(frozen=True, slots=True)
class TriggerBounds:
    """The price band inside which no resting order can execute.

    An order executes once the price is at or below `falling` or at or above `rising`;
    None means no order waits on that side.  Backtests use it to skip quiet candles.
    """

    falling: Decimal | None
    rising: Decimal | None


def _waits_for_falling_price(request: OrderRequest) -> bool:
    if request.order_type is OrderType.STOP_MARKET:
        return request.side is OrderSide.SELL
    # TAKE_PROFIT_MARKET and LIMIT: a buy waits for the price to come down to it.
    return request.side is OrderSide.BUY


def _level(request: OrderRequest) -> Decimal:
    level = request.price if request.order_type is OrderType.LIMIT else request.trigger_price
    assert level is not None
    return level


def _reached(request: OrderRequest, price: Decimal) -> bool:
    level = _level(request)
    return price <= level if _waits_for_falling_price(request) else price >= level


_RANGE_PRIORITY = {OrderType.STOP_MARKET: 0, OrderType.TAKE_PROFIT_MARKET: 1, OrderType.LIMIT: 2}


class MatchingEngine:
    """One account on one contract, matched against the prices it is given."""

    def __init__(
        self,
        instrument: Instrument,
        fees: FeeSchedule,
        *,
        balance: Decimal,
        leverage: int,
        position_mode: PositionMode = PositionMode.ONE_WAY,
    ) -> None:
        if leverage < 1:
            raise ValueError(f"leverage must be at least 1, not {leverage}")
        self.instrument = instrument
        self.fees = fees
        self.balance = balance
        self.leverage = leverage
        self.position_mode = position_mode
        self.last_price: Decimal | None = None
        self._positions: dict[PositionSide, Position] = {}
        self._orders: dict[OrderId, Order] = {}
        self._open: dict[OrderId, Order] = {}
        self._next_id = 1

    # ----------------------------------------------------------------- queries
    def position(self, slot: PositionSide = PositionSide.BOTH) -> Position | None:
        """Return the open position of a slot, or None when it is flat."""
        return self._positions.get(slot)

    def positions(self) -> list[Position]:
        """Return every open position."""
        return list(self._positions.values())

    def order(self, order_id: OrderId) -> Order:
        """Return an order by id (open or final)."""
        try:
            return self._orders[order_id]
        except KeyError:
            raise InvalidOrder(f"order {order_id} does not exist") from None

    def open_orders(self) -> list[Order]:
        """Return the orders that can still fill, oldest first."""
        return list(self._open.values())

    def unrealized_pnl(self, mark_price: Decimal) -> Decimal:
        """Return the open positions' P&L at `mark_price`."""
        return sum((p.unrealized_pnl(mark_price) for p in self._positions.values()), ZERO)

    def equity(self, mark_price: Decimal) -> Decimal:
        """Return wallet balance plus unrealised P&L at `mark_price`."""
        return self.balance + self.unrealized_pnl(mark_price)

    def used_margin(self) -> Decimal:
        """Return the initial margin the open positions hold (at their entry prices)."""
        return sum(
            (p.notional(p.entry_price) / self.leverage for p in self._positions.values()), ZERO
        )

    def available_margin(self, mark_price: Decimal) -> Decimal:
        """Return what new positions may still use as margin."""
        return self.equity(mark_price) - self.used_margin()

    def has_waiting_market_orders(self) -> bool:
        """Return True when a market order waits for the next price."""
        return any(o.request.order_type is OrderType.MARKET for o in self._open.values())

    def trigger_bounds(self) -> TriggerBounds:
        """Return the band of prices in which no resting order executes."""
        falling: Decimal | None = None
        rising: Decimal | None = None
        for order in self._open.values():
            request = order.request
            if request.order_type is OrderType.MARKET:
                continue
            level = _level(request)
            if _waits_for_falling_price(request):
                falling = level if falling is None else max(falling, level)
            else:
                rising = level if rising is None else min(rising, level)
        return TriggerBounds(falling, rising)

    # ---------------------------------------------------------------- commands
    def submit(self, request: OrderRequest, now_ms: int) -> Order:
        """Accept an order or raise an `OrderRejected` subclass saying why it is refused."""
        self._validate(request)
        order = Order(
            order_id=self._new_id(), request=request, created_ms=now_ms, updated_ms=now_ms
        )
        self._orders[order.order_id] = order
        self._open[order.order_id] = order
        return order

    def cancel(self, order_id: OrderId, now_ms: int, reason: str = "canceled") -> Order:
        """Cancel an open order; cancelling a final order is refused."""
        order = self.order(order_id)
        if not order.is_open:
            raise InvalidOrder(f"order {order_id} is already {order.status.value}")
        self._finish(order, OrderStatus.CANCELED, now_ms, reason)
        return order

    def cancel_all(self, now_ms: int, reason: str = "canceled") -> list[Order]:
        """Cancel every open order and return them."""
        orders = list(self._open.values())
        for order in orders:
            self._finish(order, OrderStatus.CANCELED, now_ms, reason)
        return orders

    def fill_market_orders(self, price: Decimal, time_ms: int) -> list[Fill]:
        """Fill waiting market orders, oldest first, at `price` (the next price seen)."""
        self.last_price = price
        fills: list[Fill] = []
        for order in [o for o in self._open.values() if o.request.order_type is OrderType.MARKET]:
            fill = self._execute(order, price, Liquidity.TAKER, time_ms)
            if fill is not None:
                fills.append(fill)
        return fills

    def match_bar(self, bar: Bar) -> list[Fill]:
        """Execute resting orders against one candle (gap at the open, then the range)."""
        fills: list[Fill] = []
        resting = [o for o in self._open.values() if o.request.order_type is not OrderType.MARKET]
        # The open decides first: any resting order the open has already reached executes
        # there (triggers at the open, limits at their own price).
        for order in [o for o in resting if _reached(o.request, bar.open)]:
            if order.is_open:
                fills.extend(self._fire(order, bar.open, bar.open_time_ms))
        touched = [
            o
            for o in resting
            if o.is_open and (_reached(o.request, bar.low) or _reached(o.request, bar.high))
        ]
        touched.sort(key=lambda o: _RANGE_PRIORITY[o.request.order_type])
        for order in touched:
            if order.is_open:
                fills.extend(self._fire(order, _level(order.request), bar.open_time_ms))
        self.last_price = bar.close
        return fills

    def apply_funding(
        self, rate: Decimal, mark_price: Decimal, time_ms: int
    ) -> list[FundingPayment]:
        """Exchange funding for every open position: longs pay a positive rate, shorts receive."""
        payments: list[FundingPayment] = []
        for position in self._positions.values():
            amount = -position.direction.sign * position.notional(mark_price) * rate
            self.balance += amount
            payments.append(FundingPayment(position.position_side, amount, rate, time_ms))
        return payments

    # ---------------------------------------------------------------- internals
    def _new_id(self) -> OrderId:
        order_id = OrderId(str(self._next_id))
        self._next_id += 1
        return order_id

    def _slot(self, request: OrderRequest) -> PositionSide:
        if self.position_mode is PositionMode.ONE_WAY:
            if request.position_side is not PositionSide.BOTH:
                raise InvalidOrder(
                    f"position side {request.position_side.value} needs hedge mode; "
                    "in one-way mode use BOTH"
                )
            return PositionSide.BOTH
        if request.position_side is PositionSide.BOTH:
            raise InvalidOrder("hedge mode needs position side LONG or SHORT, not BOTH")
        return request.position_side

    def _reduces(self, request: OrderRequest) -> bool:
        if request.reduce_only or request.close_position:
            return True
        if self.position_mode is PositionMode.HEDGE:
            opening = (
                OrderSide.BUY if request.position_side is PositionSide.LONG else OrderSide.SELL
            )
            return request.side is not opening
        return False

    def _validate(self, request: OrderRequest) -> None:
        if request.order_type not in _SUPPORTED_TYPES:
            raise InvalidOrder(f"order type {request.order_type.value} is not supported")
        if request.time_in_force not in _SUPPORTED_TIF:
            raise InvalidOrder(f"time in force {request.time_in_force.value} is not supported")
        slot = self._slot(request)
        if self.position_mode is PositionMode.HEDGE and request.reduce_only:
            raise InvalidOrder("reduce-only is not accepted in hedge mode; close with the slot")
        if request.quantity is None and not request.close_position:
            raise InvalidOrder("quantity is required unless close_position is set")
        if request.quantity is not None:
            if request.quantity <= 0:
                raise InvalidOrder(f"quantity must be positive, not {request.quantity}")
            if not self.instrument.is_quantity_on_grid(request.quantity):
                raise InvalidOrder(
                    f"quantity {request.quantity} is not a multiple of the step "
                    f"{self.instrument.quantity_step}"
                )
            if request.quantity < self.instrument.min_quantity:
                raise BelowMinimum(
                    f"quantity {request.quantity} is below the minimum "
                    f"{self.instrument.min_quantity}"
                )
        self._validate_prices(request)
        if self._reduces(request):
            position = self._positions.get(slot)
            if position is None or position.direction.exit_side is not request.side:
                raise InvalidOrder(f"no {slot.value} position for this order to reduce")
            return
        assert request.quantity is not None
        reference = request.price or request.trigger_price or self.last_price
        if reference is not None:
            notional = request.quantity * reference
            if notional < self.instrument.min_notional:
                raise BelowMinimum(
                    f"notional {notional} USDT is below the minimum {self.instrument.min_notional}"
                )
            self._require_margin(request, request.quantity, reference)

    def _validate_prices(self, request: OrderRequest) -> None:
        kind = request.order_type
        if kind is OrderType.LIMIT:
            if request.price is None or request.price <= 0:
                raise InvalidOrder("a limit order needs a positive price")
            if not self.instrument.is_price_on_grid(request.price):
                raise InvalidOrder(
                    f"price {request.price} is not on the tick {self.instrument.price_tick}"
                )
            marketable = self.last_price is not None and _reached(request, self.last_price)
            if marketable and request.time_in_force is TimeInForce.POST_ONLY:
                raise InvalidOrder(f"post-only limit at {request.price} would take liquidity")
            if marketable:
                raise InvalidOrder(
                    f"limit price {request.price} is marketable at {self.last_price}; "
                    "use a market order"
                )
        elif kind.is_trigger:
            trigger = request.trigger_price
            if trigger is None or trigger <= 0:
                raise InvalidOrder(f"a {kind.value} order needs a positive trigger price")
            if not self.instrument.is_price_on_grid(trigger):
                raise InvalidOrder(
                    f"trigger {trigger} is not on the tick {self.instrument.price_tick}"
                )
            if self.last_price is not None and _reached(request, self.last_price):
                raise InvalidOrder(
                    f"{kind.value} {request.side.value} trigger {trigger} would fire at once "
                    f"(last price {self.last_price})"
                )

    def _require_margin(self, request: OrderRequest, quantity: Decimal, price: Decimal) -> None:
        needed = quantity * price / self.leverage
        mark = self.last_price if self.last_price is not None else price
        available = self.available_margin(mark)
        opposite = self._positions.get(self._slot(request))
        if opposite is not None and opposite.direction.exit_side is request.side:
            # Whatever closes the opposite position releases its margin before this fills.
            available += opposite.notional(opposite.entry_price) / self.leverage
        if needed > available:
            raise InsufficientMargin(
                f"order needs {needed:.4f} USDT margin, {available:.4f} USDT available"
            )

    def _fire(self, order: Order, price: Decimal, time_ms: int) -> Iterable[Fill]:
        request = order.request
        if request.order_type is OrderType.LIMIT:
            fill = self._execute(
                order, request.price or price, Liquidity.MAKER, time_ms, slip=False
            )
        else:
            fill = self._execute(order, price, Liquidity.TAKER, time_ms)
        return () if fill is None else (fill,)

    def _execute(
        self, order: Order, price: Decimal, liquidity: Liquidity, time_ms: int, *, slip: bool = True
    ) -> Fill | None:
        request = order.request
        slot = self._slot(request)
        position = self._positions.get(slot)
        reduces = self._reduces(request)
        quantity = request.quantity
        if reduces:
            if position is None or position.direction.exit_side is not request.side:
                self._finish(order, OrderStatus.CANCELED, time_ms, "no position left to reduce")
                return None
            quantity = position.quantity if quantity is None else min(quantity, position.quantity)
        assert quantity is not None
        fill_price = (
            self.fees.taker_fill_price(price, request.side, self.instrument) if slip else price
        )
        if not reduces and self._flip_or_open_lacks_margin(
            position, request.side, quantity, fill_price
        ):
            self._finish(order, OrderStatus.REJECTED, time_ms, "insufficient margin at fill")
            return None
        fee = self.fees.fee(fill_price, quantity, liquidity)
        effect = apply_fill(position, slot, request.side, quantity, fill_price, time_ms)
        if effect.position is None:
            del self._positions[slot]
        else:
            self._positions[slot] = effect.position
        self.balance += effect.realized_pnl - fee
        self.last_price = fill_price
        order.filled_quantity = quantity
        order.average_price = fill_price
        self._finish(order, OrderStatus.FILLED, time_ms, "")
        closed = position is not None and (
            effect.position is None or effect.position.direction is not position.direction
        )
        fill = Fill(
            order_id=order.order_id,
            client_order_id=request.client_order_id,
            order_type=request.order_type,
            side=request.side,
            position_side=request.position_side,
            quantity=quantity,
            price=fill_price,
            fee=fee,
            liquidity=liquidity,
            realized_pnl=effect.realized_pnl,
            time_ms=time_ms,
            closed_position=closed,
        )
        if closed:  # flat, or flipped in one-way mode: the old position's exits are void
            self._cancel_reducing_orders(slot, time_ms)
        return fill

    def _flip_or_open_lacks_margin(
        self, position: Position | None, side: OrderSide, quantity: Decimal, price: Decimal
    ) -> bool:
        opening = quantity
        if position is not None and position.direction.exit_side is side:
            opening = quantity - position.quantity
            if opening <= 0:
                return False
        needed = opening * price / self.leverage
        return needed > self.available_margin(price)

    def _cancel_reducing_orders(self, slot: PositionSide, time_ms: int) -> None:
        for order in list(self._open.values()):
            if self._slot(order.request) is slot and self._reduces(order.request):
                self._finish(order, OrderStatus.CANCELED, time_ms, "position closed")

    def _finish(self, order: Order, status: OrderStatus, time_ms: int, reason: str) -> None:
        order.status = status
        order.updated_ms = time_ms
        order.cancel_reason = reason
        self._open.pop(order.order_id, None)


def direction_of(position: Position | None) -> Direction | None:
    """Return a position's direction, or None when flat."""
    return None if position is None else position.direction
