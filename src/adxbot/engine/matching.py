"""The matching engine: a pure, synchronous model of a perpetual-futures venue.

It holds one account on one contract: a wallet balance, positions per slot, and orders.
Callers feed it prices; it returns fills.  It never reads a clock or does I/O: every
method that changes state takes the time it happens at.

How orders execute (the fill model of shared/spec/strategy-adx-v2.md, extended with the
order semantics of BingX that the exchange simulator needs):

- MARKET orders wait for the next price the caller reports (`fill_market_orders`) and fill
  there as takers with adverse slippage.  For them and for trigger-market orders a time
  in force of GTC, IOC or FOK changes nothing; POST_ONLY is refused (`PostOnlyWouldTake`).
- LIMIT orders that are not marketable at the last price rest and fill at exactly their
  price as makers when the price reaches it.
- A LIMIT that is marketable at the last price when it arrives is a taker: like a market
  order it fills at the next price with slippage, but never beyond its limit (a buy never
  pays more, a sell never gets less).  If that next price no longer reaches the limit, a
  GTC order rests as a maker limit from then on.  A marketable POST_ONLY limit is refused
  (`PostOnlyWouldTake`).
- IOC and FOK limits take like a marketable limit or end EXPIRED (with a reason) when not
  marketable at submit or at that next price; they never rest.  The simulated book has
  unlimited depth, so a marketable order always fills in full and IOC and FOK behave alike.
  Submitted before any price is known, an IOC/FOK limit decides at the next price; a GTC
  limit then simply rests.
- STOP_MARKET and TAKE_PROFIT_MARKET orders rest until triggered, then fill as takers with
  adverse slippage.  A sell stop triggers when the price falls to its trigger, a buy stop
  when it rises to it; take-profits the other way round.  A trigger already reached at the
  last price is refused (`TriggerWouldFireImmediately`).
- STOP and TAKE_PROFIT (trigger-limit) orders trigger by the same rules and then become a
  limit at their `price` (`Order.triggered_ms` records when): marketable at the trigger
  price (the open when it gapped) they fill at once as takers there, slippage applied and
  capped at the limit; otherwise they rest as maker limits (IOC/FOK: expire; POST_ONLY
  would-take: expire).
- `match_bar` applies the candle rules: an order whose level the open has already passed
  executes at the open (a gap: triggers at the open, resting limits at their own price);
  otherwise, among orders the candle's range touches, stops fill before take-profits before
  limits (pessimistic when one candle touches both).  A trigger-limit that the range
  triggers but whose limit is not marketable at the trigger does not fill in the same candle
  even if the rest of the range reaches its limit: the candle does not say whether the price
  got there before or after the trigger, so the engine assumes before (conservative).  One
  triggered by the open rests from the open, so the candle's range may fill it.
  Orders waiting for the next price are left to `fill_market_orders`.
- Reduce-only and close-position orders never open or increase a position; when a slot
  goes flat, its remaining reduce-only orders are cancelled (one-cancels-the-other).

Not modelled yet: liquidation, trailing orders (TRAILING_STOP_MARKET, TRAILING_TP_SL) and
TRIGGER_MARKET / TRIGGER_LIMIT orders (no `OrderType` exists for them), partial fills
(the book is infinitely deep) and mark price (every trigger works on the price given).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Self

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
from adxbot.engine.state import EngineState
from adxbot.errors import (
    BelowMinimumNotional,
    BelowMinimumQuantity,
    InsufficientMargin,
    InvalidOrder,
    NoPositionToReduce,
    PostOnlyWouldTake,
    TriggerWouldFireImmediately,
)

ZERO = Decimal(0)
_STOP_TYPES = frozenset({OrderType.STOP_MARKET, OrderType.STOP})
_TRIGGER_LIMIT_TYPES = frozenset({OrderType.STOP, OrderType.TAKE_PROFIT})
_IMMEDIATE = frozenset({TimeInForce.IOC, TimeInForce.FOK})


@dataclass(frozen=True, slots=True)
class TriggerBounds:
    """The price band inside which no resting order can execute.

    An order executes once the price is at or below `falling` or at or above `rising`;
    None means no order waits on that side.  Backtests use it to skip quiet candles.
    """

    falling: Decimal | None
    rising: Decimal | None


def _limit_marketable(side: OrderSide, limit: Decimal, price: Decimal) -> bool:
    """Return True when a limit at `limit` would trade at `price`."""
    return price <= limit if side is OrderSide.BUY else price >= limit


def _trigger_reached(request: OrderRequest, price: Decimal) -> bool:
    """Return True when a trigger order's trigger is reached at `price`."""
    trigger = request.trigger_price
    assert trigger is not None
    stop = request.order_type in _STOP_TYPES
    rising = stop is (request.side is OrderSide.BUY)  # buy stops and sell take-profits
    return price >= trigger if rising else price <= trigger


def _limit_price(request: OrderRequest) -> Decimal:
    assert request.price is not None
    return request.price


def _acts_as_limit(order: Order) -> bool:
    """Return True for a LIMIT order and for a trigger-limit order that has triggered."""
    return order.request.order_type is OrderType.LIMIT or order.triggered_ms is not None


def _waits_for_falling_price(order: Order) -> bool:
    request = order.request
    if not _acts_as_limit(order) and request.order_type in _STOP_TYPES:
        return request.side is OrderSide.SELL
    # Limits and take-profits: a buy waits for the price to come down to it.
    return request.side is OrderSide.BUY


def _level(order: Order) -> Decimal:
    """Return the price the order waits for: its limit once it acts as one, else its trigger."""
    if _acts_as_limit(order):
        return _limit_price(order.request)
    trigger = order.request.trigger_price
    assert trigger is not None
    return trigger


def _reached(order: Order, price: Decimal) -> bool:
    level = _level(order)
    return price <= level if _waits_for_falling_price(order) else price >= level


def _range_priority(order: Order) -> int:
    """Stops before take-profits before limits (pessimistic within one candle)."""
    if _acts_as_limit(order):
        return 2
    return 0 if order.request.order_type in _STOP_TYPES else 1


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
        first_order_id: int = 1,
    ) -> None:
        """Open the account; order ids count up from `first_order_id` as decimal strings.

        Give engines that share an id space (the simulator's accounts) disjoint ranges.
        """
        if leverage < 1:
            raise ValueError(f"leverage must be at least 1, not {leverage}")
        if first_order_id < 1:
            raise ValueError(f"first_order_id must be at least 1, not {first_order_id}")
        self.instrument = instrument
        self.fees = fees
        self.balance = balance
        self._leverage = {Direction.LONG: leverage, Direction.SHORT: leverage}
        self.position_mode = position_mode
        self.last_price: Decimal | None = None
        self._positions: dict[PositionSide, Position] = {}
        self._orders: dict[OrderId, Order] = {}
        self._open: dict[OrderId, Order] = {}
        self._next_id = first_order_id

    @classmethod
    def from_state(cls, instrument: Instrument, fees: FeeSchedule, state: EngineState) -> Self:
        """Rebuild an engine from `export_state` output (a restarted paper account)."""
        engine = cls(
            instrument,
            fees,
            balance=state.balance,
            leverage=1,
            position_mode=state.position_mode,
            first_order_id=state.next_order_id,
        )
        engine._leverage = dict(state.leverage)
        engine.last_price = state.last_price
        engine._positions = {p.position_side: replace(p) for p in state.positions}
        for order in state.open_orders:
            copy = replace(order)
            engine._orders[copy.order_id] = copy
            engine._open[copy.order_id] = copy
        return engine

    def export_state(self) -> EngineState:
        """Return what `from_state` needs to continue: wallet, positions, open orders."""
        return EngineState(
            balance=self.balance,
            leverage=dict(self._leverage),
            position_mode=self.position_mode,
            last_price=self.last_price,
            positions=tuple(replace(p) for p in self._positions.values()),
            open_orders=tuple(replace(o) for o in self._open.values()),
            next_order_id=self._next_id,
        )

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

    @property
    def leverage(self) -> int:
        """Return the account's leverage (the higher side's, when hedge sides differ)."""
        return max(self._leverage.values())

    def leverage_for(self, direction: Direction) -> int:
        """Return the leverage that margins positions of one direction."""
        return self._leverage[direction]

    def set_leverage(self, leverage: int, direction: Direction | None = None) -> None:
        """Set the leverage of one direction (hedge mode) or of both (one-way mode)."""
        if leverage < 1:
            raise ValueError(f"leverage must be at least 1, not {leverage}")
        for side in (direction,) if direction is not None else tuple(Direction):
            self._leverage[side] = leverage

    def used_margin(self) -> Decimal:
        """Return the initial margin the open positions hold (at their entry prices)."""
        return sum(
            (
                p.notional(p.entry_price) / self.leverage_for(p.direction)
                for p in self._positions.values()
            ),
            ZERO,
        )

    def available_margin(self, mark_price: Decimal) -> Decimal:
        """Return what new positions may still use as margin."""
        return self.equity(mark_price) - self.used_margin()

    def has_waiting_market_orders(self) -> bool:
        """Return True when an order waits for the next price (market or marketable limit)."""
        return any(o.awaits_next_price for o in self._open.values())

    def trigger_bounds(self) -> TriggerBounds:
        """Return the band of prices in which no resting order executes."""
        falling: Decimal | None = None
        rising: Decimal | None = None
        for order in self._open.values():
            if order.awaits_next_price:
                continue
            level = _level(order)
            if _waits_for_falling_price(order):
                falling = level if falling is None else max(falling, level)
            else:
                rising = level if rising is None else min(rising, level)
        return TriggerBounds(falling, rising)

    # ---------------------------------------------------------------- commands
    def submit(self, request: OrderRequest, now_ms: int) -> Order:
        """Accept an order or raise an `OrderRejected` subclass saying why it is refused.

        An accepted IOC/FOK limit that is not marketable comes back already EXPIRED.
        """
        self._validate(request)
        order = Order(
            order_id=self._new_id(), request=request, created_ms=now_ms, updated_ms=now_ms
        )
        self._orders[order.order_id] = order
        self._open[order.order_id] = order
        if request.order_type is OrderType.MARKET:
            order.awaits_next_price = True
        elif request.order_type is OrderType.LIMIT:
            self._arrive_limit(order, now_ms)
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
        """Execute the orders waiting for the next price, oldest first, at `price`.

        Market orders fill there as takers.  Marketable-on-arrival limits fill as takers
        too, capped at their limit, if `price` still reaches it; else a GTC limit rests
        and an IOC/FOK limit expires.
        """
        self.last_price = price
        fills: list[Fill] = []
        for order in [o for o in self._open.values() if o.awaits_next_price]:
            if not order.is_open:  # an earlier fill closed the position it was reducing
                continue
            if order.request.order_type is OrderType.LIMIT:
                fill = self._take_or_rest(order, price, time_ms)
            else:
                fill = self._execute(order, price, Liquidity.TAKER, time_ms)
            if fill is not None:
                fills.append(fill)
        return fills

    def match_bar(self, bar: Bar) -> list[Fill]:
        """Execute resting orders against one candle (gap at the open, then the range).

        Orders waiting for the next price are not touched: call `fill_market_orders` with
        the candle's open first, as the backtester does.
        """
        fills: list[Fill] = []
        resting = [o for o in self._open.values() if not o.awaits_next_price]
        # The open decides first: any resting order the open has already reached executes
        # there (triggers at the open, limits at their own price).
        for order in [o for o in resting if _reached(o, bar.open)]:
            if order.is_open:
                fills.extend(self._fire(order, bar.open, bar.open_time_ms))
        # Listed once, after the open: a trigger-limit the range triggers is examined only
        # at its trigger, never again against the rest of this candle's range.
        touched = [
            o for o in resting if o.is_open and (_reached(o, bar.low) or _reached(o, bar.high))
        ]
        touched.sort(key=_range_priority)
        for order in touched:
            if order.is_open:
                fills.extend(self._fire(order, _level(order), bar.open_time_ms))
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
                raise BelowMinimumQuantity(request.quantity, self.instrument.min_quantity)
        self._validate_prices(request)
        if self._reduces(request):
            position = self._positions.get(slot)
            if position is None or position.direction.exit_side is not request.side:
                raise NoPositionToReduce(f"no {slot.value} position for this order to reduce")
            return
        assert request.quantity is not None
        reference = request.price or request.trigger_price or self.last_price
        if reference is not None:
            notional = request.quantity * reference
            if notional < self.instrument.min_notional:
                raise BelowMinimumNotional(notional, self.instrument.min_notional)
            self._require_margin(request, request.quantity, reference)

    def _validate_prices(self, request: OrderRequest) -> None:
        kind = request.order_type
        if kind is OrderType.LIMIT or kind in _TRIGGER_LIMIT_TYPES:
            price = request.price
            if price is None or price <= 0:
                raise InvalidOrder(f"a {kind.value} order needs a positive price")
            if not self.instrument.is_price_on_grid(price):
                raise InvalidOrder(f"price {price} is not on the tick {self.instrument.price_tick}")
        if kind.is_trigger:
            trigger = request.trigger_price
            if trigger is None or trigger <= 0:
                raise InvalidOrder(f"a {kind.value} order needs a positive trigger price")
            if not self.instrument.is_price_on_grid(trigger):
                raise InvalidOrder(
                    f"trigger {trigger} is not on the tick {self.instrument.price_tick}"
                )
            if self.last_price is not None and _trigger_reached(request, self.last_price):
                raise TriggerWouldFireImmediately(
                    f"{kind.value} {request.side.value} trigger {trigger} would fire at once "
                    f"(last price {self.last_price})"
                )
        if request.time_in_force is TimeInForce.POST_ONLY:
            if kind.executes_as_market:
                raise PostOnlyWouldTake(
                    f"a post-only order needs a limit; a {kind.value} order always takes"
                )
            last = self.last_price
            if (
                kind is OrderType.LIMIT
                and last is not None
                and _limit_marketable(request.side, _limit_price(request), last)
            ):
                raise PostOnlyWouldTake(
                    f"post-only limit at {request.price} would take liquidity at {last}"
                )

    def _require_margin(self, request: OrderRequest, quantity: Decimal, price: Decimal) -> None:
        needed = quantity * price / self.leverage_for(_opening_direction(request.side))
        mark = self.last_price if self.last_price is not None else price
        available = self.available_margin(mark)
        opposite = self._positions.get(self._slot(request))
        if opposite is not None and opposite.direction.exit_side is request.side:
            # Whatever closes the opposite position releases its margin before this fills.
            available += opposite.notional(opposite.entry_price) / self.leverage_for(
                opposite.direction
            )
        if needed > available:
            raise InsufficientMargin(
                f"order needs {needed:.4f} USDT margin, {available:.4f} USDT available"
            )

    def _arrive_limit(self, order: Order, now_ms: int) -> None:
        """Decide what a new LIMIT does: take at the next price, rest, or expire."""
        request = order.request
        immediate = request.time_in_force in _IMMEDIATE
        last = self.last_price
        if last is None:
            # No price to judge by: IOC/FOK decide at the next one; GTC rests as a maker.
            order.awaits_next_price = immediate
        elif _limit_marketable(request.side, _limit_price(request), last):
            order.awaits_next_price = True
        elif immediate:
            reason = self._not_marketable(request, last)
            self._finish(order, OrderStatus.EXPIRED, now_ms, reason)

    def _take_or_rest(self, order: Order, price: Decimal, time_ms: int) -> Fill | None:
        """Execute an order's limit arriving at `price`: take if marketable, else rest or expire."""
        request = order.request
        limit = _limit_price(request)
        order.awaits_next_price = False
        if _limit_marketable(request.side, limit, price):
            if request.time_in_force is TimeInForce.POST_ONLY:
                reason = f"post-only limit {limit} would take liquidity at {price}"
                self._finish(order, OrderStatus.EXPIRED, time_ms, reason)
                return None
            return self._execute(order, price, Liquidity.TAKER, time_ms, cap=limit)
        if request.time_in_force in _IMMEDIATE:
            self._finish(order, OrderStatus.EXPIRED, time_ms, self._not_marketable(request, price))
        return None

    @staticmethod
    def _not_marketable(request: OrderRequest, price: Decimal) -> str:
        tif = request.time_in_force.value.upper()
        return f"{tif} limit {request.price} not marketable at {price}"

    def _fire(self, order: Order, price: Decimal, time_ms: int) -> Iterable[Fill]:
        request = order.request
        if _acts_as_limit(order):
            fill = self._execute(order, _limit_price(request), Liquidity.MAKER, time_ms, slip=False)
        elif request.order_type in _TRIGGER_LIMIT_TYPES:
            order.triggered_ms = order.updated_ms = time_ms
            fill = self._take_or_rest(order, price, time_ms)
        else:
            fill = self._execute(order, price, Liquidity.TAKER, time_ms)
        return () if fill is None else (fill,)

    def _execute(
        self,
        order: Order,
        price: Decimal,
        liquidity: Liquidity,
        time_ms: int,
        *,
        slip: bool = True,
        cap: Decimal | None = None,
    ) -> Fill | None:
        """Fill the order at `price` (slipped against a taker, then held to the limit `cap`)."""
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
        if cap is not None:
            fill_price = (
                min(fill_price, cap) if request.side is OrderSide.BUY else max(fill_price, cap)
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
        needed = opening * price / self.leverage_for(_opening_direction(side))
        return needed > self.available_margin(price)

    def _cancel_reducing_orders(self, slot: PositionSide, time_ms: int) -> None:
        for order in list(self._open.values()):
            if self._slot(order.request) is slot and self._reduces(order.request):
                self._finish(order, OrderStatus.CANCELED, time_ms, "position closed")

    def _finish(self, order: Order, status: OrderStatus, time_ms: int, reason: str) -> None:
        order.status = status
        order.updated_ms = time_ms
        order.cancel_reason = reason
        order.awaits_next_price = False
        self._open.pop(order.order_id, None)


def direction_of(position: Position | None) -> Direction | None:
    """Return a position's direction, or None when flat."""
    return None if position is None else position.direction


def _opening_direction(side: OrderSide) -> Direction:
    return Direction.LONG if side is OrderSide.BUY else Direction.SHORT
