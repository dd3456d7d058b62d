"""Conversion between records and database rows: exact Decimal text, enum values, 0/1 flags."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any

from adxbot.domain.enums import (
    Direction,
    ExitReason,
    Liquidity,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionSide,
)
from adxbot.domain.ids import ClientOrderId
from adxbot.persistence.records import (
    BreakerRecord,
    ClosedTrade,
    DailyPnl,
    EquitySnapshot,
    EventKind,
    EventRecord,
    FillRecord,
    OrderPurpose,
    OrderRecord,
    OrderStatusChange,
    PositionRecord,
    Severity,
)

Params = dict[str, Any]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_MS = 86_400_000


def utc_day(time_ms: int) -> str:
    """Return the ISO date ("YYYY-MM-DD") of the UTC day holding epoch milliseconds `time_ms`."""
    return (_EPOCH + timedelta(milliseconds=time_ms)).date().isoformat()


def day_bounds_ms(day: str) -> tuple[int, int]:
    """Return the epoch milliseconds of the start of `day` (UTC) and of the next day."""
    start = (date.fromisoformat(day) - _EPOCH.date()).days * _DAY_MS
    return start, start + _DAY_MS


def text(value: Decimal) -> str:
    """Return the exact text of a finite Decimal; refuse NaN and infinities."""
    if not value.is_finite():
        raise ValueError(f"money and quantities must be finite, got {value}")
    return str(value)


def exact_sum(a: Decimal, b: Decimal) -> Decimal:
    """Return a + b without rounding to the default 28 significant digits."""
    with localcontext() as context:
        context.prec = 100
        return a + b


def optional_text(value: Decimal | None) -> str | None:
    """Return `text(value)`, or None for None."""
    return None if value is None else text(value)


def optional_decimal(value: str | None) -> Decimal | None:
    """Return the Decimal of a stored text, or None for NULL."""
    return None if value is None else Decimal(value)


def order_params(order: OrderRecord) -> Params:
    """Return the named parameters of an orders row."""
    return {
        "client_order_id": order.client_order_id,
        "exchange_order_id": order.exchange_order_id,
        "purpose": order.purpose.value,
        "side": order.side.value,
        "position_side": order.position_side.value,
        "order_type": order.order_type.value,
        "quantity": optional_text(order.quantity),
        "price": optional_text(order.price),
        "trigger_price": optional_text(order.trigger_price),
        "reduce_only": int(order.reduce_only),
        "close_position": int(order.close_position),
        "status": order.status.value,
        "reason": order.reason,
        "created_ms": order.created_ms,
        "updated_ms": order.updated_ms,
        "position_id": order.position_id,
    }


def order_from_row(row: sqlite3.Row) -> OrderRecord:
    """Return the OrderRecord of an orders row."""
    return OrderRecord(
        client_order_id=ClientOrderId(row["client_order_id"]),
        purpose=OrderPurpose(row["purpose"]),
        side=OrderSide(row["side"]),
        position_side=PositionSide(row["position_side"]),
        order_type=OrderType(row["order_type"]),
        quantity=optional_decimal(row["quantity"]),
        price=optional_decimal(row["price"]),
        trigger_price=optional_decimal(row["trigger_price"]),
        reduce_only=bool(row["reduce_only"]),
        close_position=bool(row["close_position"]),
        status=OrderStatus(row["status"]),
        created_ms=row["created_ms"],
        updated_ms=row["updated_ms"],
        exchange_order_id=row["exchange_order_id"],
        reason=row["reason"],
        position_id=row["position_id"],
    )


def status_change_from_row(row: sqlite3.Row) -> OrderStatusChange:
    """Return the OrderStatusChange of an order_status_history row."""
    return OrderStatusChange(
        client_order_id=ClientOrderId(row["client_order_id"]),
        status=OrderStatus(row["status"]),
        time_ms=row["time_ms"],
        reason=row["reason"],
    )


def fill_params(fill: FillRecord) -> Params:
    """Return the named parameters of a fills row."""
    return {
        "client_order_id": fill.client_order_id,
        "exchange_order_id": fill.exchange_order_id,
        "side": fill.side.value,
        "quantity": text(fill.quantity),
        "price": text(fill.price),
        "fee": text(fill.fee),
        "liquidity": fill.liquidity.value,
        "realized_pnl": text(fill.realized_pnl),
        "time_ms": fill.time_ms,
    }


def fill_from_row(row: sqlite3.Row) -> FillRecord:
    """Return the FillRecord of a fills row."""
    return FillRecord(
        client_order_id=ClientOrderId(row["client_order_id"]),
        side=OrderSide(row["side"]),
        quantity=Decimal(row["quantity"]),
        price=Decimal(row["price"]),
        fee=Decimal(row["fee"]),
        liquidity=Liquidity(row["liquidity"]),
        realized_pnl=Decimal(row["realized_pnl"]),
        time_ms=row["time_ms"],
        exchange_order_id=row["exchange_order_id"],
    )


def position_params(position: PositionRecord) -> Params:
    """Return the named parameters of a positions row (position_id None lets SQLite assign it)."""
    return {
        "position_id": position.position_id,
        "direction": position.direction.value,
        "position_side": position.position_side.value,
        "quantity": text(position.quantity),
        "entry_price": text(position.entry_price),
        "opened_ms": position.opened_ms,
        "signal_time_ms": position.signal_time_ms,
        "entry_fee": text(position.entry_fee),
        "stop_loss": optional_text(position.stop_loss),
        "take_profit": optional_text(position.take_profit),
        "funding": text(position.funding),
        "closed_ms": position.closed_ms,
    }


def position_from_row(row: sqlite3.Row) -> PositionRecord:
    """Return the PositionRecord of a positions row."""
    return PositionRecord(
        direction=Direction(row["direction"]),
        position_side=PositionSide(row["position_side"]),
        quantity=Decimal(row["quantity"]),
        entry_price=Decimal(row["entry_price"]),
        opened_ms=row["opened_ms"],
        signal_time_ms=row["signal_time_ms"],
        entry_fee=Decimal(row["entry_fee"]),
        stop_loss=optional_decimal(row["stop_loss"]),
        take_profit=optional_decimal(row["take_profit"]),
        funding=Decimal(row["funding"]),
        closed_ms=row["closed_ms"],
        position_id=row["position_id"],
    )


def trade_params(trade: ClosedTrade) -> Params:
    """Return the named parameters of a trades row (trade_id None lets SQLite assign it)."""
    return {
        "trade_id": trade.trade_id,
        "position_id": trade.position_id,
        "direction": trade.direction.value,
        "signal_time_ms": trade.signal_time_ms,
        "entry_time_ms": trade.entry_time_ms,
        "entry_price": text(trade.entry_price),
        "quantity": text(trade.quantity),
        "exit_time_ms": trade.exit_time_ms,
        "exit_price": text(trade.exit_price),
        "exit_reason": trade.exit_reason.value,
        "pnl": text(trade.pnl),
        "fees": text(trade.fees),
        "funding": text(trade.funding),
    }


def trade_from_row(row: sqlite3.Row) -> ClosedTrade:
    """Return the ClosedTrade of a trades row."""
    return ClosedTrade(
        position_id=row["position_id"],
        direction=Direction(row["direction"]),
        signal_time_ms=row["signal_time_ms"],
        entry_time_ms=row["entry_time_ms"],
        entry_price=Decimal(row["entry_price"]),
        quantity=Decimal(row["quantity"]),
        exit_time_ms=row["exit_time_ms"],
        exit_price=Decimal(row["exit_price"]),
        exit_reason=ExitReason(row["exit_reason"]),
        pnl=Decimal(row["pnl"]),
        fees=Decimal(row["fees"]),
        funding=Decimal(row["funding"]),
        trade_id=row["trade_id"],
    )


def equity_params(snapshot: EquitySnapshot) -> Params:
    """Return the named parameters of an equity_snapshots row."""
    return {
        "time_ms": snapshot.time_ms,
        "balance": text(snapshot.balance),
        "equity": text(snapshot.equity),
        "unrealized_pnl": text(snapshot.unrealized_pnl),
        "open_positions": snapshot.open_positions,
    }


def equity_from_row(row: sqlite3.Row) -> EquitySnapshot:
    """Return the EquitySnapshot of an equity_snapshots row."""
    return EquitySnapshot(
        time_ms=row["time_ms"],
        balance=Decimal(row["balance"]),
        equity=Decimal(row["equity"]),
        unrealized_pnl=Decimal(row["unrealized_pnl"]),
        open_positions=row["open_positions"],
    )


def daily_params(daily: DailyPnl) -> Params:
    """Return the named parameters of a daily_pnl row."""
    return {
        "day": daily.day,
        "start_equity": text(daily.start_equity),
        "realized_pnl": text(daily.realized_pnl),
        "fees": text(daily.fees),
        "trades": daily.trades,
        "last_equity": text(daily.last_equity),
        "updated_ms": daily.updated_ms,
    }


def daily_from_row(row: sqlite3.Row) -> DailyPnl:
    """Return the DailyPnl of a daily_pnl row."""
    return DailyPnl(
        day=row["day"],
        start_equity=Decimal(row["start_equity"]),
        realized_pnl=Decimal(row["realized_pnl"]),
        fees=Decimal(row["fees"]),
        trades=row["trades"],
        last_equity=Decimal(row["last_equity"]),
        updated_ms=row["updated_ms"],
    )


def event_json(data: dict[str, Any]) -> str:
    """Return the JSON text of an event's details (Decimals and other objects as strings)."""
    return json.dumps(data, default=str, sort_keys=True, allow_nan=False)


def event_params(event: EventRecord) -> Params:
    """Return the named parameters of an events row."""
    return {
        "event_id": event.event_id,
        "time_ms": event.time_ms,
        "kind": event.kind.value,
        "severity": event.severity.value,
        "message": event.message,
        "data": event_json(event.data),
    }


def event_from_row(row: sqlite3.Row) -> EventRecord:
    """Return the EventRecord of an events row."""
    data = json.loads(row["data"])
    return EventRecord(
        time_ms=row["time_ms"],
        kind=EventKind(row["kind"]),
        message=row["message"],
        severity=Severity(row["severity"]),
        data=data if isinstance(data, dict) else {"value": data},
        event_id=row["event_id"],
    )


def breaker_params(breaker: BreakerRecord) -> Params:
    """Return the named parameters of a breakers row."""
    return {
        "name": breaker.name,
        "tripped": int(breaker.tripped),
        "reason": breaker.reason,
        "changed_ms": breaker.changed_ms,
    }


def breaker_from_row(row: sqlite3.Row) -> BreakerRecord:
    """Return the BreakerRecord of a breakers row."""
    return BreakerRecord(
        name=row["name"],
        tripped=bool(row["tripped"]),
        reason=row["reason"],
        changed_ms=row["changed_ms"],
    )


def insert_sql(table: str, params: Params) -> str:
    """Return an INSERT of every key of `params` into `table` (names are ours, never input)."""
    columns = ", ".join(params)
    values = ", ".join(f":{name}" for name in params)
    return f"INSERT INTO {table} ({columns}) VALUES ({values})"  # noqa: S608
