"""Orders as the BingX client sends them: typed specs rendered into BingX parameters."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from adxbot.domain.enums import OrderSide, OrderType, PositionSide, TimeInForce
from adxbot.domain.ids import ClientOrderId
from adxbot.exchange import wire

MAX_CLIENT_ORDER_ID = 40


@dataclass(frozen=True, slots=True)
class AttachedStop:
    """A stop-loss or take-profit sent with an entry, placed by BingX when it fills."""

    order_type: OrderType
    stop_price: Decimal
    quantity: Decimal | None = None


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """An order to place; the client order id is mandatory (idempotency rests on it)."""

    symbol: str
    side: OrderSide
    order_type: OrderType
    client_order_id: ClientOrderId
    quantity: Decimal | None = None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    position_side: PositionSide = PositionSide.BOTH
    reduce_only: bool = False
    close_position: bool = False
    time_in_force: TimeInForce | None = None
    stop_loss: AttachedStop | None = None
    take_profit: AttachedStop | None = None
    trigger_on_mark_price: bool = False
    """For trigger orders: fire on the mark price (`workingType=MARK_PRICE`), so a wick in
    the last traded price alone does not stop a position out."""

    def params(self) -> list[tuple[str, str]]:
        """Return the request parameters, values as BingX expects them."""
        if not 1 <= len(self.client_order_id) <= MAX_CLIENT_ORDER_ID:
            raise ValueError(f"client order id must be 1..{MAX_CLIENT_ORDER_ID} characters")
        params = [
            ("symbol", self.symbol),
            ("side", wire.SIDE_TO_WIRE[self.side]),
            ("positionSide", wire.POSITION_SIDE_TO_WIRE[self.position_side]),
            ("type", wire.ORDER_TYPE_TO_WIRE[self.order_type]),
            ("clientOrderID", self.client_order_id.lower()),
        ]
        if self.quantity is not None and not self.close_position:
            params.append(("quantity", _plain(self.quantity)))
        if self.price is not None:
            params.append(("price", _plain(self.price)))
        if self.stop_price is not None:
            params.append(("stopPrice", _plain(self.stop_price)))
        if self.reduce_only:
            params.append(("reduceOnly", "true"))
        if self.close_position:
            params.append(("closePosition", "true"))
        if self.trigger_on_mark_price:
            params.append(("workingType", "MARK_PRICE"))
        if self.time_in_force is not None:
            params.append(("timeInForce", wire.TIME_IN_FORCE_TO_WIRE[self.time_in_force]))
        for name, attached in (("stopLoss", self.stop_loss), ("takeProfit", self.take_profit)):
            if attached is not None:
                params.append((name, _attached_json(attached)))
        return params


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _attached_json(stop: AttachedStop) -> str:
    body: dict[str, Any] = {
        "type": wire.ORDER_TYPE_TO_WIRE[stop.order_type],
        "stopPrice": float(stop.stop_price),
        "workingType": "MARK_PRICE",
    }
    if stop.quantity is not None:
        body["quantity"] = float(stop.quantity)
    return json.dumps(body, separators=(",", ":"))
