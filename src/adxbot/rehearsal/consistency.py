"""What must hold between the exchange and the bot's database when the bot is at rest.

`check_consistency` compares the simulator's whole account state (`/sim/state`) with the
trade database and returns every violation it finds, in words:

- no duplicate: at most one position per side, and no two filled entries for one signal;
- nothing lost: every order adxbot placed that the exchange filled is in the database;
- the database agrees with the exchange: the same open positions, same sides, same sizes;
  and no order the database believes open is gone from the exchange;
- every open position is protected: a stop-loss and a take-profit on the exchange, and no
  stop-loss or take-profit is left open without its position.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from adxbot.domain.enums import OrderStatus
from adxbot.persistence.records import OrderPurpose
from adxbot.persistence.store import TradeStore

_OPEN = {"NEW", "PENDING", "PARTIALLY_FILLED"}
_PROTECTIVE = {"STOP_MARKET": "stop-loss", "TAKE_PROFIT_MARKET": "take-profit"}


@dataclass(slots=True)
class Consistency:
    """The outcome of one check: violations (must be none) and what was looked at."""

    violations: list[str] = field(default_factory=list)
    positions: int = 0
    orders_on_exchange: int = 0

    @property
    def ok(self) -> bool:
        """Return True when nothing is wrong."""
        return not self.violations


def check_consistency(account: dict[str, Any], store: TradeStore) -> Consistency:
    """Compare one account of `/sim/state` with the database; return every violation."""
    result = Consistency()
    positions = [p for p in account["positions"] if Decimal(p["positionAmt"]) != 0]
    result.positions = len(positions)
    orders = account["orders"]
    result.orders_on_exchange = len(orders)
    _check_positions(positions, store, result)
    _check_protection(positions, account["open_orders"], result)
    _check_orders(orders, store, result)
    return result


def _check_positions(positions: list[dict[str, Any]], store: TradeStore, out: Consistency) -> None:
    sides = Counter(p["positionSide"] for p in positions)
    for side, count in sides.items():
        if count > 1:
            out.violations.append(f"duplicate: the exchange holds {count} {side} positions")
    recorded = store.open_positions()
    held = {p["positionSide"].lower(): Decimal(p["positionAmt"]) for p in positions}
    stored = {r.direction.value: r.quantity for r in recorded}
    if len(recorded) != len(stored):
        out.violations.append(f"duplicate: the database has {len(recorded)} open positions")
    for direction, quantity in held.items():
        if direction not in stored:
            out.violations.append(
                f"lost: the exchange holds {direction} {quantity}, the database has no such "
                "open position"
            )
        elif stored[direction] != quantity:
            out.violations.append(
                f"{direction}: the exchange holds {quantity}, the database {stored[direction]}"
            )
    for direction, quantity in stored.items():
        if direction not in held:
            out.violations.append(
                f"phantom: the database holds {direction} {quantity}, the exchange nothing"
            )


def _check_protection(
    positions: list[dict[str, Any]], open_orders: list[dict[str, Any]], out: Consistency
) -> None:
    held = {p["positionSide"] for p in positions}
    for order in open_orders:
        if order["type"] in _PROTECTIVE:
            side = "LONG" if order["side"] == "SELL" else "SHORT"
            if side not in held and order["positionSide"] in (side, "BOTH"):
                out.violations.append(
                    f"orphan: {_PROTECTIVE[order['type']]} {order['clientOrderId']} is open "
                    f"with no {side} position"
                )
    for position in positions:
        direction = position["positionSide"]
        exit_side = "SELL" if direction == "LONG" else "BUY"
        kinds = Counter(
            o["type"]
            for o in open_orders
            if o["side"] == exit_side and o["positionSide"] in (direction, "BOTH")
        )
        for kind, name in _PROTECTIVE.items():
            if kinds[kind] == 0:
                out.violations.append(f"unprotected: the {direction} position has no {name}")
            elif kinds[kind] > 1:
                out.violations.append(
                    f"duplicate: the {direction} position has {kinds[kind]} {name} orders"
                )


def _check_orders(orders: list[dict[str, Any]], store: TradeStore, out: Consistency) -> None:
    known = {o.client_order_id: o for o in store.orders()}
    filled_entries: Counter[str] = Counter()
    for order in orders:
        client_id = order["clientOrderId"]
        if not client_id.startswith("adxl"):
            continue  # an operator's order, a liquidation, BingX's own closes
        stored = known.get(client_id)
        if stored is None:
            out.violations.append(
                f"lost: order {client_id} ({order['status']}) is on the exchange, not in the "
                "database"
            )
            continue
        if order["status"] == "FILLED" and stored.purpose is OrderPurpose.ENTRY:
            filled_entries[client_id.rsplit("-", 2)[1]] += 1
        exchange_open = order["status"] in _OPEN
        if stored.status.is_final is False and not exchange_open:
            out.violations.append(
                f"stale: the database has {client_id} {stored.status.value}, the exchange "
                f"{order['status']}"
            )
        if stored.status is OrderStatus.REJECTED and order["status"] == "FILLED":
            out.violations.append(f"wrong: {client_id} is filled, the database says rejected")
    for key, count in filled_entries.items():
        if count > 1:
            out.violations.append(f"duplicate: {count} filled entries for decision {key}")
    on_exchange = {o["clientOrderId"] for o in orders}
    for stored in known.values():
        if stored.exchange_order_id and stored.client_order_id not in on_exchange:
            out.violations.append(
                f"phantom: the database has {stored.client_order_id} with an exchange id, the "
                "exchange does not know it"
            )
