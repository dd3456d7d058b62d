"""The simulated exchange: accounts trading one market through the matching engine.

Every request first brings the market up to the simulator's clock (`sync`): the price
path since the last request is fed to each account's engine as small bars, so resting
stops and take-profits trigger where the path crosses them, and funding is exchanged at
00:00, 08:00 and 16:00 UTC.  Then the command runs against the current price.
Trigger orders fire on the mark price, which is the last price here (`workingType`
MARK_PRICE and CONTRACT_PRICE behave alike).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from adxbot.domain.candles import Bar
from adxbot.domain.enums import (
    Direction,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionMode,
    PositionSide,
    TimeInForce,
)
from adxbot.domain.ids import ClientOrderId, OrderId
from adxbot.engine.fees import FeeSchedule
from adxbot.engine.matching import MatchingEngine
from adxbot.engine.orders import Fill, Order, OrderRequest
from adxbot.errors import (
    BelowMinimumNotional,
    BelowMinimumQuantity,
    InsufficientMargin,
    InvalidOrder,
    NoPositionToReduce,
    OrderRejected,
    PostOnlyWouldTake,
)
from adxbot.sim import errors as codes
from adxbot.sim.account import ApiKey, FillRecord, IncomeEntry, OrderInfo, SimAccount
from adxbot.sim.errors import BingXError
from adxbot.sim.market import Market
from adxbot.sim.params import Params
from adxbot.sim.wire import (
    ORDER_TYPES,
    POSITION_SIDES,
    SIDES,
    TIME_IN_FORCE,
    UNSUPPORTED_ORDER_TYPES,
)

FUNDING_INTERVAL_MS = 8 * 3_600_000
MAX_LEVERAGE = 125
_ID_BASE = 1_900_000_000_000_000_000
_ID_SPAN = 10**15
_POSITION_ID_BASE = 1_800_000_000_000_000_000


class FaultHooks:
    """Order-level faults the fault injector arms (reject next orders, fail closes)."""

    def __init__(self) -> None:
        self.reject_orders = 0
        self.reject_code = codes.INSUFFICIENT_MARGIN
        self.reject_msg = "Insufficient margin"
        self.fail_closes = 0

    def take_order_rejection(self) -> BingXError | None:
        """Consume one armed order rejection, if any."""
        if self.reject_orders <= 0:
            return None
        self.reject_orders -= 1
        return BingXError(self.reject_code, self.reject_msg)

    def take_close_failure(self) -> BingXError | None:
        """Consume one armed close failure, if any."""
        if self.fail_closes <= 0:
            return None
        self.fail_closes -= 1
        return BingXError(codes.SYSTEM_BUSY, "close failed: system busy (injected)")


class SimExchange:
    """A BingX-compatible venue for one symbol, with any number of accounts."""

    def __init__(
        self,
        market: Market,
        fees: FeeSchedule,
        *,
        keys: Iterable[ApiKey],
        balance: Decimal,
        leverage: int = 5,
        hedge_mode: bool = False,
        funding_rate: Decimal = Decimal("0.0001"),
    ) -> None:
        self.market = market
        self.symbol = market.symbol
        self.instrument = market.instrument
        self.fees = fees
        self.funding_rate = funding_rate
        self.faults = FaultHooks()
        self._accounts: dict[str, SimAccount] = {}
        self._synced_ms = market.now_ms()
        mode = PositionMode.HEDGE if hedge_mode else PositionMode.ONE_WAY
        for n, key in enumerate(keys):
            engine = MatchingEngine(
                self.instrument,
                fees,
                balance=balance,
                leverage=leverage,
                position_mode=mode,
                first_order_id=_ID_BASE + n * _ID_SPAN,
            )
            self._accounts[key.key] = SimAccount(key, engine, mode, leverage, leverage)

    # ---------------------------------------------------------------- accounts
    def account(self, api_key: str | None) -> SimAccount:
        """Return the account of an API key, or BingX's bad-key error."""
        if not api_key:
            raise BingXError(codes.BAD_API_KEY, "Null apiKey")
        try:
            return self._accounts[api_key]
        except KeyError:
            raise BingXError(codes.BAD_API_KEY, "Incorrect apiKey") from None

    def accounts(self) -> list[SimAccount]:
        """Return every account."""
        return list(self._accounts.values())

    def secret_of(self, api_key: str) -> str | None:
        """Return the secret that signs for `api_key`, or None for an unknown key."""
        account = self._accounts.get(api_key)
        return account.api_key.secret if account else None

    # ---------------------------------------------------------------- time
    def sync(self) -> None:
        """Bring every account up to the simulator's clock (triggers and funding)."""
        now = self.market.now_ms()
        start = self._synced_ms
        if now <= start:
            return
        boundary = start - start % FUNDING_INTERVAL_MS + FUNDING_INTERVAL_MS
        segment_start = start
        while boundary <= now:
            self._match_path(segment_start, boundary)
            self._charge_funding(boundary)
            segment_start = boundary
            boundary += FUNDING_INTERVAL_MS
        self._match_path(segment_start, now)
        self._synced_ms = now

    def match_now(self) -> None:
        """Sync, then let resting orders meet the price of this moment (a jump, paused clock)."""
        self.sync()
        now = self.market.now_ms()
        price = self.market.price_at(now)
        bar = Bar(open_time_ms=now, open=price, high=price, low=price, close=price)
        for account in self._accounts.values():
            if account.engine.open_orders():
                self._record_fills(account, account.engine.match_bar(bar))
            account.engine.last_price = price

    def _match_path(self, start: int, end: int) -> None:
        bars = self.market.bars_between(start, end)
        if not bars:
            return
        for account in self._accounts.values():
            if not account.engine.open_orders():
                account.engine.last_price = bars[-1].close
                continue
            for bar in bars:
                self._record_fills(account, account.engine.match_bar(bar))

    def _charge_funding(self, time_ms: int) -> None:
        if self.funding_rate == 0:
            return
        mark = self.market.price_at(time_ms)
        for account in self._accounts.values():
            for payment in account.engine.apply_funding(self.funding_rate, mark, time_ms):
                self._ledger(account, "FUNDING_FEE", payment.amount, time_ms, "Funding Fee")

    # ---------------------------------------------------------------- orders
    def place_order(self, account: SimAccount, params: Params, *, test: bool = False) -> Order:
        """Validate and place an order as BingX's `POST trade/order` does."""
        self._require_trade_permission(account)
        self._check_symbol(params.required("symbol"))
        type_name = params.required("type").upper()
        if type_name in UNSUPPORTED_ORDER_TYPES:
            raise BingXError(
                codes.INVALID_PARAMETER, f"order type {type_name} is not supported by adxbot sim"
            )
        order_type = params.choice("type", ORDER_TYPES)
        side = params.choice("side", SIDES)
        position_side = self._position_side(account, params)
        reduce_only = params.boolean("reduceOnly")
        if reduce_only and account.position_mode is PositionMode.HEDGE:
            raise BingXError(
                codes.INVALID_PARAMETER,
                "In the Hedge mode, the 'ReduceOnly' field can not be filled.",
            )
        close_position = params.boolean("closePosition")
        if close_position and order_type not in (
            OrderType.STOP_MARKET,
            OrderType.TAKE_PROFIT_MARKET,
        ):
            raise BingXError(
                codes.INVALID_PARAMETER,
                "closePosition is only supported for STOP_MARKET and TAKE_PROFIT_MARKET",
            )
        quantity = None if close_position else params.decimal("quantity")
        if quantity is None and not close_position:
            raise BingXError(codes.INVALID_PARAMETER, "quantity is required")
        price = params.decimal("price") if order_type in _PRICED else None
        trigger = params.decimal("stopPrice") if order_type.is_trigger else None
        self._check_grid(quantity, price, trigger, order_type)
        client_id = self._client_order_id(account, params)
        time_in_force = params.choice("timeInForce", TIME_IN_FORCE, TimeInForce.GTC)
        stop_loss = params.text("stopLoss") or ""
        take_profit = params.text("takeProfit") or ""
        for name, attached in (("stopLoss", stop_loss), ("takeProfit", take_profit)):
            if attached:
                spec = _parse_attached(name, attached)
                self._check_grid(
                    None,
                    Decimal(str(spec["price"])) if spec.get("price") else None,
                    Decimal(str(spec["stopPrice"])),
                    ORDER_TYPES[str(spec["type"]).upper()],
                )
        if quantity is not None and quantity < self.instrument.min_quantity:
            raise BingXError(
                codes.BELOW_MIN_QUANTITY,
                f"The minimum order amount is {self.instrument.min_quantity} "
                f"{self.symbol.split('-')[0]}.",
            )
        request = OrderRequest(
            side=side,
            order_type=order_type,
            quantity=quantity,
            price=price,
            trigger_price=trigger,
            position_side=position_side,
            reduce_only=reduce_only,
            close_position=close_position,
            time_in_force=time_in_force,
            client_order_id=ClientOrderId(client_id) if client_id else None,
        )
        if test:
            return self._validate_only(account, request)
        injected = self.faults.take_order_rejection()
        if injected is not None:
            raise injected
        engine = account.engine
        now = self.market.now_ms()
        engine.last_price = self.market.last_price()
        try:
            order = engine.submit(request, now)
        except OrderRejected as e:
            raise _translate(e, self.instrument.min_notional) from e
        account.orders[order.order_id] = OrderInfo(
            symbol=self.symbol,
            type_name=type_name,
            client_order_id=client_id,
            working_type=(params.text("workingType") or "MARK_PRICE").upper(),
            stop_loss=stop_loss,
            take_profit=take_profit,
            leverage=self._leverage_for(account, position_side, side),
        )
        if client_id:
            account.client_ids[client_id] = order.order_id
        self._record_fills(account, engine.fill_market_orders(engine.last_price, now))
        if order.status is OrderStatus.REJECTED:
            raise BingXError(codes.INSUFFICIENT_MARGIN, "Insufficient margin")
        return order

    def _validate_only(self, account: SimAccount, request: OrderRequest) -> Order:
        # A throw-away copy of the engine would be exact but costly; validating against
        # the real engine and cancelling at once leaves no trace but a consumed id.
        engine = account.engine
        engine.last_price = self.market.last_price()
        try:
            order = engine.submit(request, self.market.now_ms())
        except OrderRejected as e:
            raise _translate(e, self.instrument.min_notional) from e
        engine.cancel(order.order_id, self.market.now_ms(), "test order")
        return order

    def find_order(self, account: SimAccount, params: Params) -> Order:
        """Return the order named by `orderId` or by `clientOrderId`/`clientOrderID`."""
        client_id = params.text("clientOrderId", "clientOrderID")
        order_id = params.text("orderId")
        key: OrderId | None
        if order_id is not None:
            key = OrderId(order_id)
        elif client_id is not None:
            key = account.client_ids.get(client_id.lower())
        else:
            raise BingXError(codes.INVALID_PARAMETER, "orderId or clientOrderId is required")
        if key is None or key not in account.orders:
            raise BingXError(codes.ORDER_NOT_EXIST, "Order does not exist")
        return account.engine.order(key)

    def cancel_order(self, account: SimAccount, params: Params) -> Order:
        """Cancel one open order."""
        self._require_trade_permission(account)
        order = self.find_order(account, params)
        if not order.is_open:
            raise BingXError(codes.ORDER_ALREADY_FINAL, f"order is already {order.status.value}")
        return account.engine.cancel(order.order_id, self.market.now_ms(), "canceled by user")

    def cancel_all(self, account: SimAccount) -> list[Order]:
        """Cancel every open order of the account."""
        self._require_trade_permission(account)
        return account.engine.cancel_all(self.market.now_ms(), "canceled by user")

    def close_positions(
        self, account: SimAccount, slots: Iterable[PositionSide] | None = None
    ) -> list[Order]:
        """Market-close positions (all, or the given slots); return the close orders."""
        self._require_trade_permission(account)
        injected = self.faults.take_close_failure()
        if injected is not None:
            raise injected
        return self._market_close(account, slots)

    def liquidate(self, account: SimAccount) -> list[Order]:
        """Force-close every position at the current price, as BingX's liquidation engine
        would (rehearsals; the engine itself computes no liquidation prices)."""
        return self._market_close(account, None)

    def _market_close(
        self, account: SimAccount, slots: Iterable[PositionSide] | None
    ) -> list[Order]:
        engine = account.engine
        now = self.market.now_ms()
        engine.last_price = self.market.last_price()
        orders: list[Order] = []
        for position in engine.positions():
            if slots is not None and position.position_side not in slots:
                continue
            request = OrderRequest(
                side=position.direction.exit_side,
                order_type=OrderType.MARKET,
                quantity=position.quantity,
                position_side=position.position_side,
                reduce_only=account.position_mode is PositionMode.ONE_WAY,
            )
            order = engine.submit(request, now)
            account.orders[order.order_id] = OrderInfo(
                self.symbol,
                "MARKET",
                "",
                "MARK_PRICE",
                "",
                "",
                self._leverage_for(account, position.position_side, request.side),
            )
            orders.append(order)
        self._record_fills(account, engine.fill_market_orders(engine.last_price, now))
        return orders

    def position_slot(self, account: SimAccount, position_id: str) -> PositionSide:
        """Return the slot of an open position by its id, or BingX's no-position error."""
        for slot, known in account.position_ids.items():
            if known == position_id and account.engine.position(slot) is not None:
                return slot
        raise BingXError(codes.NO_POSITION_TO_CLOSE, "No position to close")

    # ---------------------------------------------------------------- settings
    def set_leverage(self, account: SimAccount, side: str, leverage: int) -> None:
        """Set leverage for BOTH (one-way) or LONG/SHORT (hedge)."""
        if not 1 <= leverage <= MAX_LEVERAGE:
            raise BingXError(
                codes.LEVERAGE_TOO_HIGH,
                f"The maximum leverage for the trading pair is {MAX_LEVERAGE}, "
                "please reduce the leverage",
            )
        side = side.upper()
        if account.position_mode is PositionMode.ONE_WAY and side != "BOTH":
            raise BingXError(codes.INVALID_PARAMETER, "In the One-way mode, side can only be BOTH")
        if account.position_mode is PositionMode.HEDGE and side not in ("LONG", "SHORT"):
            raise BingXError(
                codes.INVALID_PARAMETER, "In the Hedge mode, side must be LONG or SHORT"
            )
        if side in ("BOTH", "LONG"):
            account.long_leverage = leverage
        if side in ("BOTH", "SHORT"):
            account.short_leverage = leverage
        account.engine.set_leverage(account.long_leverage, Direction.LONG)
        account.engine.set_leverage(account.short_leverage, Direction.SHORT)

    def set_margin_type(self, account: SimAccount, margin_type: str) -> None:
        """Switch margin type; only with no positions and no open orders."""
        if margin_type not in ("ISOLATED", "CROSSED", "SEPARATE_ISOLATED"):
            raise BingXError(codes.INVALID_PARAMETER, f"marginType {margin_type!r} is not valid")
        self._require_flat(account)
        account.margin_type = margin_type

    def set_position_mode(self, account: SimAccount, hedge: bool) -> None:
        """Switch one-way/hedge; only with no positions and no open orders."""
        self._require_flat(account)
        mode = PositionMode.HEDGE if hedge else PositionMode.ONE_WAY
        account.position_mode = mode
        account.engine.position_mode = mode

    def create_listen_key(self, account: SimAccount) -> str:
        """Create a user-data-stream key valid for 60 minutes."""
        key = secrets.token_hex(32)
        account.listen_keys[key] = self.market.now_ms() + 3_600_000
        return key

    def extend_listen_key(self, account: SimAccount, key: str) -> bool:
        """Extend a key by 60 minutes; False for an unknown key."""
        if key not in account.listen_keys:
            return False
        account.listen_keys[key] = self.market.now_ms() + 3_600_000
        return True

    def delete_listen_key(self, account: SimAccount, key: str) -> bool:
        """Delete a key; False for an unknown key."""
        return account.listen_keys.pop(key, None) is not None

    # ---------------------------------------------------------------- internals
    def _record_fills(self, account: SimAccount, fills: Iterable[Fill]) -> None:
        for fill in fills:
            account.fills.append(FillRecord(self.symbol, fill))
            tran = f"{fill.order_id}_{len(account.fills)}"
            if fill.realized_pnl:
                account.realised_pnl += fill.realized_pnl
                self._ledger(
                    account, "REALIZED_PNL", fill.realized_pnl, fill.time_ms, "Realized PNL", tran
                )
            self._ledger(account, "TRADING_FEE", -fill.fee, fill.time_ms, "Trading Fee", tran)
            self._track_position_id(account, fill)
            info = account.orders.get(fill.order_id)
            if info is not None:
                info.fee += fill.fee
                info.profit += fill.realized_pnl
            if info is not None and (info.stop_loss or info.take_profit):
                self._place_attached(account, fill, info)

    def _track_position_id(self, account: SimAccount, fill: Fill) -> None:
        slot = fill.position_side
        if account.engine.position(slot) is None:
            account.position_ids.pop(slot, None)
        elif fill.closed_position or slot not in account.position_ids:
            account.position_ids[slot] = str(_POSITION_ID_BASE + account.next_position_id)
            account.next_position_id += 1

    def _place_attached(self, account: SimAccount, fill: Fill, info: OrderInfo) -> None:
        for raw in (info.stop_loss, info.take_profit):
            if not raw:
                continue
            spec = _parse_attached("attached order", raw)
            kind = ORDER_TYPES.get(str(spec.get("type", "")).upper())
            if kind not in (
                OrderType.STOP_MARKET,
                OrderType.TAKE_PROFIT_MARKET,
                OrderType.STOP,
                OrderType.TAKE_PROFIT,
            ):
                continue
            quantity = Decimal(str(spec["quantity"])) if spec.get("quantity") else fill.quantity
            request = OrderRequest(
                side=fill.side.opposite,
                order_type=kind,
                quantity=self.instrument.floor_quantity(quantity),
                price=Decimal(str(spec["price"])) if spec.get("price") else None,
                trigger_price=Decimal(str(spec["stopPrice"])),
                position_side=fill.position_side,
                reduce_only=account.position_mode is PositionMode.ONE_WAY,
            )
            try:
                child = account.engine.submit(request, fill.time_ms)
            except OrderRejected:
                continue  # BingX accepts the entry even when a child is refused
            account.orders[child.order_id] = OrderInfo(
                self.symbol,
                str(spec.get("type", "")).upper(),
                "",
                str(spec.get("workingType", "MARK_PRICE")).upper(),
                "",
                "",
                info.leverage,
                parent=fill.order_id,
            )

    def _ledger(
        self,
        account: SimAccount,
        kind: str,
        amount: Decimal,
        time_ms: int,
        info: str,
        tran: str = "",
    ) -> None:
        tran_id = tran or f"{time_ms}_{len(account.income)}"
        account.income.append(IncomeEntry(self.symbol, kind, amount, time_ms, tran_id, info))

    def _require_trade_permission(self, account: SimAccount) -> None:
        if not account.api_key.can_trade:
            raise BingXError(
                codes.PERMISSION_DENIED,
                "Permission denied, the API key was created without the permission",
            )

    def _require_flat(self, account: SimAccount) -> None:
        if account.engine.positions() or account.engine.open_orders():
            raise BingXError(
                codes.HAS_POSITIONS_OR_ORDERS,
                "Failed. Please check if you have pending orders or positions "
                "under the trading pair",
            )

    def _check_symbol(self, symbol: str) -> None:
        if symbol != self.symbol:
            raise BingXError(
                codes.INVALID_PARAMETER,
                f"{symbol},symbol not exist, "
                "please verify it in api: /openApi/swap/v2/quote/contracts",
            )

    def _position_side(self, account: SimAccount, params: Params) -> PositionSide:
        hedge = account.position_mode is PositionMode.HEDGE
        slot = params.choice(
            "positionSide", POSITION_SIDES, PositionSide.LONG if hedge else PositionSide.BOTH
        )
        if not hedge and slot is not PositionSide.BOTH:
            raise BingXError(
                codes.INVALID_PARAMETER,
                "In the One-way mode, the 'PositionSide' field can only be set to BOTH.",
            )
        if hedge and slot is PositionSide.BOTH:
            raise BingXError(
                codes.INVALID_PARAMETER,
                "In the Hedge mode, the 'PositionSide' field can only be set to LONG or SHORT.",
            )
        return slot

    def _check_grid(
        self,
        quantity: Decimal | None,
        price: Decimal | None,
        trigger: Decimal | None,
        order_type: OrderType,
    ) -> None:
        instrument = self.instrument
        if quantity is not None and (quantity <= 0 or not instrument.is_quantity_on_grid(quantity)):
            raise BingXError(
                codes.INVALID_PARAMETER,
                f"quantity {quantity} must be positive with at most "
                f"{-instrument.quantity_step.as_tuple().exponent} decimals",  # type: ignore[operator]
            )
        for name, value in (("price", price), ("stopPrice", trigger)):
            if value is None:
                if (name == "price" and order_type in _PRICED) or (
                    name == "stopPrice" and order_type.is_trigger
                ):
                    raise BingXError(
                        codes.INVALID_PARAMETER, f"{name} is required for {order_type.name}"
                    )
                continue
            if value <= 0 or not instrument.is_price_on_grid(value):
                raise BingXError(
                    codes.INVALID_PARAMETER,
                    f"{name} {value} must be positive and a multiple of {instrument.price_tick}",
                )

    def _client_order_id(self, account: SimAccount, params: Params) -> str:
        raw = params.text("clientOrderId", "clientOrderID")
        if raw is None:
            return ""
        client_id = raw.lower()
        if not 1 <= len(client_id) <= 40:
            raise BingXError(codes.INVALID_PARAMETER, "clientOrderId must be 1 to 40 characters")
        if client_id in account.client_ids:
            raise BingXError(codes.DUPLICATE_CLIENT_ORDER_ID, "clientOrderID cannot be repeated")
        return client_id

    def _leverage_for(self, account: SimAccount, slot: PositionSide, side: OrderSide) -> int:
        if slot is PositionSide.SHORT or (slot is PositionSide.BOTH and side is OrderSide.SELL):
            return account.short_leverage
        return account.long_leverage


_PRICED = frozenset({OrderType.LIMIT, OrderType.STOP, OrderType.TAKE_PROFIT})


def _parse_attached(name: str, raw: str) -> dict[str, Any]:
    try:
        spec = json.loads(raw)
    except json.JSONDecodeError:
        raise BingXError(codes.INVALID_PARAMETER, f"{name} is not valid JSON") from None
    if not isinstance(spec, dict) or not spec.get("stopPrice"):
        raise BingXError(
            codes.INVALID_PARAMETER,
            "stop loss price and taker profit price less then or equal 0.0",
        )
    # Checked here, before the entry executes: a bad child would otherwise fail after the fill.
    if str(spec.get("type", "")).upper() not in _ATTACHED_TYPES:
        allowed = ", ".join(sorted(_ATTACHED_TYPES))
        raise BingXError(codes.INVALID_PARAMETER, f"{name}: type must be one of {allowed}")
    for key in ("stopPrice", "price", "quantity"):
        number = Params({key: str(spec[key])}).decimal(key) if spec.get(key) else None
        if number is not None and number <= 0:
            raise BingXError(codes.INVALID_PARAMETER, f"{name}: {key} must be positive")
    return spec


_ATTACHED_TYPES = frozenset({"STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT"})


def _translate(error: OrderRejected, min_notional: Decimal) -> BingXError:
    if isinstance(error, InsufficientMargin):
        return BingXError(codes.INSUFFICIENT_MARGIN, "Insufficient margin")
    if isinstance(error, BelowMinimumQuantity):
        return BingXError(codes.BELOW_MIN_QUANTITY, str(error))
    if isinstance(error, BelowMinimumNotional):
        return BingXError(
            codes.BELOW_MIN_NOTIONAL,
            "Please ensure that the minimum nominal value of the order placed "
            f"must be greater than {min_notional}u",
        )
    if isinstance(error, NoPositionToReduce):
        return BingXError(codes.NO_POSITION_TO_CLOSE, "No position to close")
    if isinstance(error, PostOnlyWouldTake):
        return BingXError(codes.POST_ONLY_WOULD_TAKE, "Post-Only order would take liquidity")
    if isinstance(error, InvalidOrder):
        return BingXError(codes.INVALID_PARAMETER, str(error))
    return BingXError(codes.INVALID_PARAMETER, str(error))
