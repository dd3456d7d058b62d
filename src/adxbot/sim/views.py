"""The JSON shapes the simulator answers with, built from account and market state."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from adxbot.domain.enums import Direction, OrderSide, OrderType, PositionMode
from adxbot.engine.orders import Order
from adxbot.sim.account import FillRecord, IncomeEntry, SimAccount
from adxbot.sim.exchange import SimExchange
from adxbot.sim.market import Kline
from adxbot.sim.wire import (
    ORDER_TYPE_NAMES,
    POSITION_SIDE_NAMES,
    SIDE_NAMES,
    TIME_IN_FORCE_NAMES,
    fill_times,
    order_status_name,
    price_text,
    text,
)

_EMPTY_ATTACHED = {
    "type": "",
    "quantity": "0",
    "stopPrice": "0",
    "price": "0",
    "workingType": "",
    "stopGuaranteed": "",
}


def _attached_object(raw: str) -> dict[str, str]:
    import json

    if not raw:
        return dict(_EMPTY_ATTACHED)
    spec = json.loads(raw)
    return {
        "type": str(spec.get("type", "")),
        "quantity": str(spec.get("quantity", "0")),
        "stopPrice": str(spec.get("stopPrice", "0")),
        "price": str(spec.get("price", "0")),
        "workingType": str(spec.get("workingType", "MARK_PRICE")),
        "stopGuaranteed": str(spec.get("stopGuaranteed", "")),
    }


def order_view(exchange: SimExchange, account: SimAccount, order: Order) -> dict[str, Any]:
    """Render an order in the full query shape (§5.16), usable for create and cancel too."""
    info = account.orders[order.order_id]
    request = order.request
    instrument = exchange.instrument
    filled = order.filled_quantity
    average = order.average_price
    fee, profit = info.fee, info.profit
    quantity = request.quantity if request.quantity is not None else filled
    triggered = getattr(order, "triggered_ms", None) is not None
    return {
        "symbol": info.symbol,
        "orderId": order.order_id,
        "side": SIDE_NAMES[request.side],
        "positionSide": POSITION_SIDE_NAMES[request.position_side],
        "type": info.type_name or ORDER_TYPE_NAMES[request.order_type],
        "origQty": text(quantity),
        "price": price_text(request.price, instrument),
        "executedQty": text(filled),
        "avgPrice": price_text(average, instrument),
        "cumQuote": text((average or Decimal(0)) * filled),
        "stopPrice": price_text(request.trigger_price, instrument) if request.trigger_price else "",
        "profit": text(profit),
        "commission": text(-fee),
        "status": order_status_name(order.status, request.order_type, triggered),
        "time": str(order.created_ms),
        "updateTime": str(order.updated_ms),
        "clientOrderId": info.client_order_id,
        "clientOrderID": info.client_order_id,
        "leverage": f"{info.leverage}X",
        "takeProfit": _attached_object(info.take_profit),
        "stopLoss": _attached_object(info.stop_loss),
        "advanceAttr": "0",
        "positionID": "0",
        "takeProfitEntrustPrice": "0",
        "stopLossEntrustPrice": "0",
        "orderType": "",
        "workingType": info.working_type,
        "onlyOnePosition": account.position_mode is PositionMode.ONE_WAY,
        "reduceOnly": request.reduce_only,
        "closePosition": "true" if request.close_position else "",
        "timeInForce": TIME_IN_FORCE_NAMES[request.time_in_force],
        "postOnly": request.time_in_force.value == "post_only",
        "stopGuaranteed": "false",
        "triggerOrderId": "0",
        "trailingStopRate": "0",
        "trailingStopDistance": "0",
    }


def created_order_view(exchange: SimExchange, account: SimAccount, order: Order) -> dict[str, Any]:
    """Render the `POST trade/order` answer: attached SL/TP echoed as JSON strings."""
    view = order_view(exchange, account, order)
    info = account.orders[order.order_id]
    view["stopLoss"] = info.stop_loss
    view["takeProfit"] = info.take_profit
    view["quantity"] = view["origQty"]
    view["priceRate"] = "0"
    view["activationPrice"] = "0"
    return view


def position_views(exchange: SimExchange, account: SimAccount) -> list[dict[str, Any]]:
    """Render open positions (§5.9): LONG/SHORT with positive amounts, also in one-way mode."""
    mark = exchange.market.last_price()
    instrument = exchange.instrument
    views = []
    for position in account.engine.positions():
        leverage = (
            account.long_leverage
            if position.direction is Direction.LONG
            else account.short_leverage
        )
        value = position.quantity * mark
        margin = position.quantity * position.entry_price / leverage
        unrealized = position.unrealized_pnl(mark)
        views.append(
            {
                "positionId": account.position_ids.get(position.position_side, ""),
                "symbol": exchange.symbol,
                "currency": "USDT",
                "positionAmt": text(position.quantity),
                "availableAmt": text(position.quantity),
                "positionSide": "LONG" if position.direction is Direction.LONG else "SHORT",
                "isolated": account.margin_type != "CROSSED",
                "avgPrice": text(position.entry_price),
                "initialMargin": text(margin.quantize(Decimal("0.0001"))),
                "margin": text(margin.quantize(Decimal("0.0001"))),
                "leverage": str(leverage),
                "unrealizedProfit": text(unrealized.quantize(Decimal("0.0001"))),
                "realisedProfit": text(account.realised_pnl.quantize(Decimal("0.0001"))),
                "liquidationPrice": "0",
                "pnlRatio": text((unrealized / margin).quantize(Decimal("0.0001"))),
                "maxMarginReduction": "0.0000",
                "riskRate": "0",
                "markPrice": price_text(mark, instrument),
                "positionValue": text(value.quantize(Decimal("0.0001"))),
                "onlyOnePosition": account.position_mode is PositionMode.ONE_WAY,
                "updateTime": position.opened_ms,
                "openTime": position.opened_ms,
            }
        )
    return views


def balance_view(exchange: SimExchange, account: SimAccount) -> dict[str, str]:
    """Render the USDT balance row (v3 list element, v2 `balance` object)."""
    engine = account.engine
    mark = exchange.market.last_price()
    used = engine.used_margin()
    frozen = sum(
        (
            (o.request.quantity or Decimal(0))
            * (o.request.price or mark)
            / engine.leverage_for(
                Direction.LONG if o.request.side is OrderSide.BUY else Direction.SHORT
            )
            for o in engine.open_orders()
            if o.request.order_type is OrderType.LIMIT and not o.request.reduce_only
        ),
        Decimal(0),
    )
    places = Decimal("0.0001")
    available = max(engine.available_margin(mark) - frozen, Decimal(0))
    return {
        "userId": account.api_key.key[:8],
        "asset": "USDT",
        "balance": text(engine.balance.quantize(places)),
        "equity": text(engine.equity(mark).quantize(places)),
        "unrealizedProfit": text(engine.unrealized_pnl(mark).quantize(places)),
        "realisedProfit": text(account.realised_pnl.quantize(places)),
        "availableMargin": text(available.quantize(places)),
        "usedMargin": text(used.quantize(places)),
        "freezedMargin": text(frozen.quantize(places)),
        "shortUid": account.api_key.key[:8],
    }


def fill_view(exchange: SimExchange, account: SimAccount, record: FillRecord) -> dict[str, Any]:
    """Render one fill (§5.22): `volume` in coins, `amount` = volume x price."""
    fill = record.fill
    filled_tm, filled_time = fill_times(fill.time_ms)
    info = account.orders.get(fill.order_id)
    return {
        "filledTm": filled_tm,
        "volume": text(fill.quantity),
        "price": price_text(fill.price, exchange.instrument),
        "amount": text(fill.quantity * fill.price),
        "commission": text(-fill.fee),
        "currency": "USDT",
        "orderId": fill.order_id,
        "liquidatedPrice": "",
        "liquidatedMarginRatio": "",
        "filledTime": filled_time,
        "clientOrderID": info.client_order_id if info else "",
        "symbol": record.symbol,
        "side": SIDE_NAMES[fill.side],
        "positionSide": POSITION_SIDE_NAMES[fill.position_side],
        "role": fill.liquidity.value.upper(),
        "onlyOnePosition": account.position_mode is PositionMode.ONE_WAY,
    }


def income_view(entry: IncomeEntry) -> dict[str, str]:
    """Render one income-ledger line (§5.10)."""
    return {
        "symbol": entry.symbol,
        "incomeType": entry.income_type,
        "income": text(entry.amount),
        "asset": "USDT",
        "info": entry.info,
        "time": str(entry.time_ms),
        "tranId": entry.tran_id,
        "tradeId": entry.tran_id,
    }


def kline_view(kline: Kline) -> dict[str, Any]:
    """Render one kline (§5.5): string prices, `time` = open time."""
    return {
        "open": text(kline.open),
        "close": text(kline.close),
        "high": text(kline.high),
        "low": text(kline.low),
        "volume": text(kline.volume),
        "time": kline.open_time_ms,
    }


def contract_view(exchange: SimExchange) -> dict[str, Any]:
    """Render the one contract the simulator trades (§5.2), ccxt-compatible (§9.5)."""
    instrument = exchange.instrument
    base = exchange.symbol.split("-")[0]
    return {
        "contractId": "100",
        "symbol": exchange.symbol,
        "size": "0",
        "quantityPrecision": -int(instrument.quantity_step.normalize().as_tuple().exponent),
        "pricePrecision": -int(instrument.price_tick.normalize().as_tuple().exponent),
        "feeRate": float(exchange.fees.taker_rate),
        "makerFeeRate": float(exchange.fees.maker_rate),
        "takerFeeRate": float(exchange.fees.taker_rate),
        "tradeMinLimit": 0,
        "tradeMinQuantity": float(instrument.min_quantity),
        "tradeMinUSDT": float(instrument.min_notional),
        "maxLongLeverage": 125,
        "maxShortLeverage": 125,
        "currency": "USDT",
        "asset": base,
        "status": 1,
        "apiStateOpen": "true",
        "apiStateClose": "true",
        "ensureTrigger": True,
        "triggerFeeRate": "0.00050000",
    }
