"""The matching engine's state as plain data, so a paper account survives a restart.

`EngineState` holds what an account needs to go on: the wallet, positions, open orders,
the order-id counter and the last price.  Finished orders are not kept (the trade
database has their history).  `state_to_json` / `state_from_json` write it exactly:
every Decimal as its string.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

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
from adxbot.engine.orders import Order, OrderRequest
from adxbot.engine.positions import Position
from adxbot.errors import InternalInvariantError


@dataclass(frozen=True, slots=True)
class EngineState:
    """Everything a `MatchingEngine` needs to continue where it stopped."""

    balance: Decimal
    leverage: dict[Direction, int]
    position_mode: PositionMode
    last_price: Decimal | None
    positions: tuple[Position, ...]
    open_orders: tuple[Order, ...]
    next_order_id: int


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _undec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _req(value: Any) -> Decimal:
    parsed = _undec(value)
    if parsed is None:
        raise InternalInvariantError("a stored engine state lacks a required number")
    return parsed


def _request_to_dict(request: OrderRequest) -> dict[str, Any]:
    return {
        "side": request.side.value,
        "order_type": request.order_type.value,
        "quantity": _dec(request.quantity),
        "price": _dec(request.price),
        "trigger_price": _dec(request.trigger_price),
        "position_side": request.position_side.value,
        "reduce_only": request.reduce_only,
        "close_position": request.close_position,
        "time_in_force": request.time_in_force.value,
        "client_order_id": request.client_order_id,
    }


def _request_from_dict(data: dict[str, Any]) -> OrderRequest:
    client_order_id = data["client_order_id"]
    return OrderRequest(
        side=OrderSide(data["side"]),
        order_type=OrderType(data["order_type"]),
        quantity=_undec(data["quantity"]),
        price=_undec(data["price"]),
        trigger_price=_undec(data["trigger_price"]),
        position_side=PositionSide(data["position_side"]),
        reduce_only=bool(data["reduce_only"]),
        close_position=bool(data["close_position"]),
        time_in_force=TimeInForce(data["time_in_force"]),
        client_order_id=None if client_order_id is None else ClientOrderId(client_order_id),
    )


def state_to_json(state: EngineState) -> str:
    """Render an engine state as JSON text (exact decimals)."""
    data = {
        "balance": str(state.balance),
        "leverage": {d.value: n for d, n in state.leverage.items()},
        "position_mode": state.position_mode.value,
        "last_price": _dec(state.last_price),
        "next_order_id": state.next_order_id,
        "positions": [
            {
                "position_side": p.position_side.value,
                "direction": p.direction.value,
                "quantity": str(p.quantity),
                "entry_price": str(p.entry_price),
                "opened_ms": p.opened_ms,
            }
            for p in state.positions
        ],
        "open_orders": [
            {
                "order_id": o.order_id,
                "request": _request_to_dict(o.request),
                "created_ms": o.created_ms,
                "status": o.status.value,
                "filled_quantity": str(o.filled_quantity),
                "average_price": _dec(o.average_price),
                "updated_ms": o.updated_ms,
                "awaits_next_price": o.awaits_next_price,
                "triggered_ms": o.triggered_ms,
            }
            for o in state.open_orders
        ],
    }
    return json.dumps(data, sort_keys=True)


def state_from_json(text: str) -> EngineState:
    """Parse `state_to_json` output back into an `EngineState`."""
    data = json.loads(text)
    return EngineState(
        balance=_req(data["balance"]),
        leverage={Direction(d): int(n) for d, n in data["leverage"].items()},
        position_mode=PositionMode(data["position_mode"]),
        last_price=_undec(data["last_price"]),
        next_order_id=int(data["next_order_id"]),
        positions=tuple(
            Position(
                position_side=PositionSide(p["position_side"]),
                direction=Direction(p["direction"]),
                quantity=_req(p["quantity"]),
                entry_price=_req(p["entry_price"]),
                opened_ms=int(p["opened_ms"]),
            )
            for p in data["positions"]
        ),
        open_orders=tuple(
            Order(
                order_id=OrderId(o["order_id"]),
                request=_request_from_dict(o["request"]),
                created_ms=int(o["created_ms"]),
                status=OrderStatus(o["status"]),
                filled_quantity=_req(o["filled_quantity"]),
                average_price=_undec(o["average_price"]),
                updated_ms=int(o["updated_ms"]),
                awaits_next_price=bool(o["awaits_next_price"]),
                triggered_ms=None if o["triggered_ms"] is None else int(o["triggered_ms"]),
            )
            for o in data["open_orders"]
        ),
    )
