"""Turning BingX's answers into adxbot's typed reports (shared/spec/bingx-api.md §5)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from adxbot.domain.enums import Direction
from adxbot.domain.ids import ClientOrderId, OrderId
from adxbot.domain.instrument import Instrument
from adxbot.exchange import wire
from adxbot.exchange.errors import TemporaryError
from adxbot.exchange.models import ContractSpec, FillReport, Kline, OrderReport, PositionReport


def parse_contract(row: dict[str, Any]) -> ContractSpec:
    price_places = wire.integer(wire.field(row, "pricePrecision"), "pricePrecision")
    quantity_places = wire.integer(wire.field(row, "quantityPrecision"), "quantityPrecision")
    instrument = Instrument(
        symbol=str(wire.field(row, "symbol")),
        price_tick=Decimal(1).scaleb(-price_places),
        quantity_step=Decimal(1).scaleb(-quantity_places),
        min_quantity=wire.decimal(wire.field(row, "tradeMinQuantity"), "tradeMinQuantity"),
        min_notional=wire.decimal(row.get("tradeMinUSDT", 0), "tradeMinUSDT"),
    )
    trading_open = wire.flag(row.get("apiStateOpen", "true")) and str(row.get("status", 1)) == "1"
    max_leverage = wire.integer(row.get("maxLongLeverage", 0), "maxLongLeverage")
    return ContractSpec(instrument, max_leverage, trading_open)


def parse_kline(row: Any) -> Kline:
    try:
        if isinstance(row, list):
            time_ms, o, h, low, c, v = row[:6]
        else:
            time_ms, o, h, low, c, v = (
                row[k] for k in ("time", "open", "high", "low", "close", "volume")
            )
    except (ValueError, KeyError, TypeError) as e:
        raise TemporaryError(f"BingX sent a malformed candle: {str(row)[:120]}") from e
    return Kline(
        open_time_ms=wire.integer(time_ms, "time"),
        open=wire.decimal(o, "open"),
        high=wire.decimal(h, "high"),
        low=wire.decimal(low, "low"),
        close=wire.decimal(c, "close"),
        volume=wire.decimal(v, "volume"),
    )


def parse_position(row: dict[str, Any]) -> PositionReport:
    side = str(wire.field(row, "positionSide")).upper()
    amount = wire.decimal(wire.field(row, "positionAmt"), "positionAmt")
    if side == "BOTH":
        direction = Direction.LONG if amount > 0 else Direction.SHORT
    else:
        direction = Direction.LONG if side == "LONG" else Direction.SHORT
    return PositionReport(
        position_id=str(row.get("positionId", "")),
        symbol=str(wire.field(row, "symbol")),
        direction=direction,
        quantity=abs(amount),
        entry_price=wire.decimal(wire.field(row, "avgPrice"), "avgPrice"),
        mark_price=wire.decimal(row.get("markPrice", 0), "markPrice"),
        unrealized_pnl=wire.decimal(row.get("unrealizedProfit", 0), "unrealizedProfit"),
        leverage=wire.integer(row.get("leverage", 1), "leverage"),
        isolated=wire.flag(row.get("isolated", False)),
        one_way=wire.flag(row.get("onlyOnePosition", side == "BOTH")),
    )


def parse_order(row: dict[str, Any], symbol: str) -> OrderReport:
    client_id = row.get("clientOrderId") or row.get("clientOrderID") or ""
    tif = row.get("timeInForce")
    return OrderReport(
        order_id=OrderId(str(wire.field(row, "orderId"))),
        client_order_id=ClientOrderId(str(client_id).lower()) if client_id else None,
        symbol=str(row.get("symbol", symbol)),
        side=wire.lookup(wire.SIDE_FROM_WIRE, wire.field(row, "side"), "order side"),
        position_side=wire.lookup(
            wire.POSITION_SIDE_FROM_WIRE, row.get("positionSide", "BOTH"), "position side"
        ),
        order_type=wire.lookup(wire.ORDER_TYPE_FROM_WIRE, wire.field(row, "type"), "order type"),
        status=wire.lookup(wire.STATUS_FROM_WIRE, row.get("status", "NEW"), "order status"),
        quantity=wire.decimal(row.get("origQty", row.get("quantity", "0")) or "0", "origQty"),
        filled_quantity=wire.decimal(row.get("executedQty", "0") or "0", "executedQty"),
        average_price=wire.optional_decimal(row.get("avgPrice"), "avgPrice"),
        price=wire.optional_decimal(row.get("price"), "price"),
        stop_price=wire.optional_decimal(row.get("stopPrice"), "stopPrice"),
        reduce_only=wire.flag(row.get("reduceOnly", False)),
        time_in_force=wire.lookup(wire.TIME_IN_FORCE_FROM_WIRE, tif, "time in force")
        if tif
        else None,
        commission=abs(wire.decimal(row.get("commission", "0") or "0", "commission")),
        realized_pnl=wire.decimal(row.get("profit", "0") or "0", "profit"),
        created_ms=wire.integer(row.get("time", 0), "time"),
        updated_ms=wire.integer(row.get("updateTime", 0), "updateTime"),
    )


def parse_fill(row: dict[str, Any]) -> FillReport:
    client_id = row.get("clientOrderID") or row.get("clientOrderId") or ""
    side = row.get("side")
    return FillReport(
        order_id=OrderId(str(wire.field(row, "orderId"))),
        client_order_id=ClientOrderId(str(client_id).lower()) if client_id else None,
        symbol=str(row.get("symbol", "")),
        side=wire.lookup(wire.SIDE_FROM_WIRE, side, "fill side") if side else None,
        quantity=wire.decimal(wire.field(row, "volume"), "volume"),
        price=wire.decimal(wire.field(row, "price"), "price"),
        commission=abs(wire.decimal(row.get("commission", "0"), "commission")),
        time_ms=_fill_time(row),
    )


def _fill_time(row: dict[str, Any]) -> int:
    # `filledTm` is UTC+8 wall time labelled Z (spec §5.22); `filledTime` has the offset.
    text = str(row.get("filledTime") or "")
    try:
        return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)
    except ValueError:
        raise TemporaryError(f"BingX sent an unreadable fill time: {text!r}") from None
