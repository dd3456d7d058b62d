"""BingX endpoints of the simulator: what each path does, declared as data.

Each `Endpoint` names its method, path, whether it must be signed, its rate-limit bucket
(requests per second per API key, BingX's documented per-UID limits) and its handler.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from adxbot.domain.enums import PositionMode, PositionSide
from adxbot.sim import errors as codes
from adxbot.sim.account import SimAccount
from adxbot.sim.errors import BingXError
from adxbot.sim.exchange import FUNDING_INTERVAL_MS, SimExchange
from adxbot.sim.params import Params
from adxbot.sim.views import (
    balance_view,
    contract_view,
    created_order_view,
    fill_view,
    income_view,
    kline_view,
    order_view,
    position_views,
)
from adxbot.sim.wire import text


@dataclass(slots=True)
class Context:
    """What a handler gets: the exchange, the parameters, the signed-in account."""

    exchange: SimExchange
    params: Params
    account: SimAccount | None = None

    @property
    def me(self) -> SimAccount:
        """Return the signed-in account (only on signed endpoints)."""
        assert self.account is not None
        return self.account


Handler = Callable[[Context], Any]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One BingX path the simulator serves."""

    method: str
    path: str
    handler: Handler
    signed: bool
    per_second: int | None = None
    enveloped: bool = True


# ---------------------------------------------------------------- market data
def server_time(ctx: Context) -> Any:
    """Return the simulator's clock."""
    return {"serverTime": ctx.exchange.market.now_ms()}


def contracts(ctx: Context) -> Any:
    """List the contract(s) traded here."""
    symbol = ctx.params.text("symbol")
    if symbol is not None and symbol != ctx.exchange.symbol:
        return []
    return [contract_view(ctx.exchange)]


def _check_named_symbol(ctx: Context) -> None:
    """Refuse a `symbol` other than the simulator's (else its rows would answer for it)."""
    symbol = ctx.params.text("symbol")
    if symbol is not None:
        ctx.exchange._check_symbol(symbol)


def _symbol_or_all(ctx: Context, row: dict[str, Any]) -> Any:
    symbol = ctx.params.text("symbol")
    if symbol is None:
        return [row]
    ctx.exchange._check_symbol(symbol)
    return row


def latest_price(ctx: Context) -> Any:
    """Return the last price."""
    market = ctx.exchange.market
    row = {
        "symbol": ctx.exchange.symbol,
        "price": text(market.last_price()),
        "time": market.now_ms(),
    }
    return _symbol_or_all(ctx, row)


def ticker(ctx: Context) -> Any:
    """Return the 24 h ticker built from the market's path."""
    market = ctx.exchange.market
    now = market.now_ms()
    day = market.klines(now, 289, now - 86_400_000 + 1)
    last = market.last_price()
    first = day[0].open if day else last
    change = last - first
    tick = ctx.exchange.instrument.price_tick
    row = {
        "symbol": ctx.exchange.symbol,
        "priceChange": text(change),
        "priceChangePercent": text((change / first * 100).quantize(Decimal("0.01"))),
        "lastPrice": text(last),
        "lastQty": "0.0010",
        "highPrice": text(max((k.high for k in day), default=last)),
        "lowPrice": text(min((k.low for k in day), default=last)),
        "volume": text(sum((k.volume for k in day), Decimal(0))),
        "quoteVolume": text(sum((k.volume * k.close for k in day), Decimal(0)).quantize(tick)),
        "openPrice": text(first),
        "openTime": str(now - 86_400_000),
        "closeTime": str(now),
        "askPrice": text(last + tick),
        "askQty": "1.0000",
        "bidPrice": text(last),
        "bidQty": "1.0000",
    }
    return _symbol_or_all(ctx, row)


_INTERVALS = {"1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
              "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000,
              "8h": 28_800_000, "12h": 43_200_000, "1d": 86_400_000}  # fmt: skip


def klines(ctx: Context) -> Any:
    """Return candles of the market's own timeframe, ascending, the last one forming."""
    params = ctx.params
    ctx.exchange._check_symbol(params.required("symbol"))
    interval = params.required("interval")
    market = ctx.exchange.market
    if _INTERVALS.get(interval) != market.timeframe_ms:
        raise BingXError(
            codes.INVALID_PARAMETER,
            f"interval {interval} is not served by this simulator "
            f"(its market has {market.timeframe_ms // 60_000}m candles)",
        )
    limit = min(max(params.integer("limit", 500) or 500, 1), 1440)
    end = params.integer("endTime", market.now_ms())
    assert end is not None
    start = params.integer("startTime")
    return [kline_view(k) for k in market.klines(end, limit, start)]


def premium_index(ctx: Context) -> Any:
    """Return mark price (= last price) and the funding rate."""
    market = ctx.exchange.market
    now = market.now_ms()
    price = text(market.last_price())
    row = {
        "symbol": ctx.exchange.symbol,
        "markPrice": price,
        "indexPrice": price,
        "lastFundingRate": text(ctx.exchange.funding_rate),
        "nextFundingTime": str(now - now % FUNDING_INTERVAL_MS + FUNDING_INTERVAL_MS),
    }
    return _symbol_or_all(ctx, row)


def depth(ctx: Context) -> Any:
    """Return a thin synthetic book around the last price (the simulator has no real book)."""
    ctx.exchange._check_symbol(ctx.params.required("symbol"))
    last = ctx.exchange.market.last_price()
    tick = ctx.exchange.instrument.price_tick
    limit = min(ctx.params.integer("limit", 20) or 20, 100)
    bids = [[text(last - tick * i), "1.0000"] for i in range(limit)]
    asks = [[text(last + tick * (i + 1)), "1.0000"] for i in reversed(range(limit))]
    return {"T": ctx.exchange.market.now_ms(), "bids": bids, "asks": asks}


# ---------------------------------------------------------------- account
def balance_v3(ctx: Context) -> Any:
    """Return the balance as BingX's v3 list."""
    return [balance_view(ctx.exchange, ctx.me)]


def balance_v2(ctx: Context) -> Any:
    """Return the balance as BingX's v2 object."""
    return {"balance": balance_view(ctx.exchange, ctx.me)}


def positions(ctx: Context) -> Any:
    """Return open positions."""
    symbol = ctx.params.text("symbol")
    if symbol is not None and symbol != ctx.exchange.symbol:
        return []
    return position_views(ctx.exchange, ctx.me)


def income(ctx: Context) -> Any:
    """Return the income ledger, filtered by type and time, oldest first."""
    _check_named_symbol(ctx)
    params = ctx.params
    kind = params.text("incomeType")
    start = params.integer("startTime", 0) or 0
    end = params.integer("endTime", ctx.exchange.market.now_ms())
    limit = min(params.integer("limit", 100) or 100, 1000)
    rows = [
        income_view(e)
        for e in ctx.me.income
        if (kind is None or e.income_type == kind) and start <= e.time_ms <= (end or 0)
    ]
    return rows[-limit:]


def commission_rate(ctx: Context) -> Any:
    """Return the fee rates."""
    fees = ctx.exchange.fees
    return {
        "commission": {
            "takerCommissionRate": float(fees.taker_rate),
            "makerCommissionRate": float(fees.maker_rate),
        }
    }


def get_leverage(ctx: Context) -> Any:
    """Return the leverage settings."""
    ctx.exchange._check_symbol(ctx.params.required("symbol"))
    me = ctx.me
    return {"longLeverage": me.long_leverage, "shortLeverage": me.short_leverage,
            "maxLongLeverage": 125, "maxShortLeverage": 125}  # fmt: skip


def set_leverage(ctx: Context) -> Any:
    """Set the leverage of a side."""
    params = ctx.params
    ctx.exchange._check_symbol(params.required("symbol"))
    leverage = params.integer("leverage")
    if leverage is None:
        raise BingXError(codes.INVALID_PARAMETER, "leverage is required")
    ctx.exchange.set_leverage(ctx.me, params.required("side"), leverage)
    return {"leverage": leverage, "symbol": ctx.exchange.symbol}


def get_margin_type(ctx: Context) -> Any:
    """Return the margin type."""
    ctx.exchange._check_symbol(ctx.params.required("symbol"))
    return {"marginType": ctx.me.margin_type, "symbol": ctx.exchange.symbol}


def set_margin_type(ctx: Context) -> Any:
    """Set the margin type."""
    ctx.exchange._check_symbol(ctx.params.required("symbol"))
    ctx.exchange.set_margin_type(ctx.me, ctx.params.required("marginType").upper())
    return None


def get_position_mode(ctx: Context) -> Any:
    """Return the position mode as the string "true" (hedge) or "false"."""
    hedge = ctx.me.position_mode is PositionMode.HEDGE
    return {"dualSidePosition": "true" if hedge else "false"}


def set_position_mode(ctx: Context) -> Any:
    """Switch the position mode."""
    hedge = ctx.params.boolean("dualSidePosition")
    ctx.exchange.set_position_mode(ctx.me, hedge)
    return {"dualSidePosition": "true" if hedge else "false"}


# ---------------------------------------------------------------- trading
def place_order(ctx: Context) -> Any:
    """Place an order."""
    order = ctx.exchange.place_order(ctx.me, ctx.params)
    return {"order": created_order_view(ctx.exchange, ctx.me, order)}


def test_order(ctx: Context) -> Any:
    """Validate an order without placing it."""
    order = ctx.exchange.place_order(ctx.me, ctx.params, test=True)
    view = (
        created_order_view(ctx.exchange, ctx.me, order) if order.order_id in ctx.me.orders else {}
    )
    return {"order": view}


def query_order(ctx: Context) -> Any:
    """Return one order by id or client id."""
    _check_named_symbol(ctx)
    order = ctx.exchange.find_order(ctx.me, ctx.params)
    return {"order": order_view(ctx.exchange, ctx.me, order)}


def query_open_order(ctx: Context) -> Any:
    """Return one open order by id or client id."""
    _check_named_symbol(ctx)
    order = ctx.exchange.find_order(ctx.me, ctx.params)
    if not order.is_open:
        raise BingXError(codes.ORDER_NOT_EXIST, "Order does not exist")
    return {"order": order_view(ctx.exchange, ctx.me, order)}


def cancel_order(ctx: Context) -> Any:
    """Cancel one order."""
    _check_named_symbol(ctx)
    order = ctx.exchange.cancel_order(ctx.me, ctx.params)
    return {"order": order_view(ctx.exchange, ctx.me, order)}


def cancel_all(ctx: Context) -> Any:
    """Cancel every open order."""
    symbol = ctx.params.text("symbol")
    if symbol is not None:
        ctx.exchange._check_symbol(symbol)
    cancelled = ctx.exchange.cancel_all(ctx.me)
    return {"success": [order_view(ctx.exchange, ctx.me, o) for o in cancelled], "failed": None}


def open_orders(ctx: Context) -> Any:
    """List open orders, oldest first."""
    _check_named_symbol(ctx)
    me = ctx.me
    kind = ctx.params.text("type")
    rows = [
        order_view(ctx.exchange, me, o) for o in me.engine.open_orders() if o.order_id in me.orders
    ]
    if kind is not None:
        rows = [r for r in rows if r["type"] == kind.upper()]
    return {"orders": rows}


def order_history(ctx: Context) -> Any:
    """List final orders (or all with `include_open`), newest last, within the time window."""
    return {"orders": _history(ctx, include_open=False)}


def full_orders(ctx: Context) -> Any:
    """List open and final orders."""
    return {"orders": _history(ctx, include_open=True)}


def _history(ctx: Context, *, include_open: bool) -> list[dict[str, Any]]:
    _check_named_symbol(ctx)
    params = ctx.params
    me = ctx.me
    start = params.integer("startTime", 0) or 0
    end = params.integer("endTime", ctx.exchange.market.now_ms()) or 0
    limit = min(params.integer("limit", 500) or 500, 1000)
    after = params.integer("orderId")
    selected = []
    for order_id in me.orders:
        order = me.engine.order(order_id)
        if order.is_open and not include_open:
            continue
        if not start <= order.created_ms <= end:
            continue
        if after is not None and int(order_id) <= after:
            continue
        selected.append(order)
    return [order_view(ctx.exchange, me, order) for order in selected[-limit:]]


def fills(ctx: Context) -> Any:
    """List fills in a time window (`startTs`/`endTs`), optionally of one order."""
    _check_named_symbol(ctx)
    params = ctx.params
    now = ctx.exchange.market.now_ms()
    start = params.integer("startTs", now - 30 * 86_400_000) or 0
    end = params.integer("endTs", now) or now
    order_id = params.text("orderId")
    rows = [
        fill_view(ctx.exchange, ctx.me, r)
        for r in ctx.me.fills
        if start <= r.fill.time_ms <= end and (order_id is None or r.fill.order_id == order_id)
    ]
    return {"fill_orders": rows}


def close_all_positions(ctx: Context) -> Any:
    """Market-close every position (both sides) of the symbol or of all symbols."""
    symbol = ctx.params.text("symbol")
    if symbol is not None:
        ctx.exchange._check_symbol(symbol)
    orders = ctx.exchange.close_positions(ctx.me)
    return {"success": [o.order_id for o in orders], "failed": None}


def close_position(ctx: Context) -> Any:
    """Market-close one position by its id."""
    position_id = ctx.params.required("positionId")
    slot = ctx.exchange.position_slot(ctx.me, position_id)
    orders = ctx.exchange.close_positions(ctx.me, [slot])
    order = orders[0]
    return {
        "orderId": order.order_id,
        "positionId": position_id,
        "symbol": ctx.exchange.symbol,
        "side": "Ask" if order.request.side.value == "sell" else "Bid",
        "type": "Market",
        "positionSide": "BOTH" if slot is PositionSide.BOTH else slot.value.upper(),
        "origQty": text(order.request.quantity),
    }


# ---------------------------------------------------------------- keys and streams
def create_listen_key(ctx: Context) -> Any:
    """Create a listen key (no envelope, as BingX)."""
    return {"listenKey": ctx.exchange.create_listen_key(ctx.me)}


def api_permissions(ctx: Context) -> Any:
    """Return the key's permissions (codes: 2 read, 3 futures trading, 5 withdraw)."""
    key = ctx.me.api_key
    return {
        "apiKey": key.key,
        "permissions": key.permission_codes(),
        "ipAddresses": [],
        "note": "adxbot sim",
    }


def empty_list(ctx: Context) -> Any:
    """Answer a market-loading call the simulator has nothing for."""
    return []


def empty_symbols(ctx: Context) -> Any:
    """Answer the spot symbol list (no spot market here)."""
    return {"symbols": []}


_SWAP = "/openApi/swap"

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", f"{_SWAP}/v2/server/time", server_time, signed=False),
    Endpoint("GET", f"{_SWAP}/v2/quote/contracts", contracts, signed=False),
    Endpoint("GET", f"{_SWAP}/v1/ticker/price", latest_price, signed=False),
    Endpoint("GET", f"{_SWAP}/v2/quote/price", latest_price, signed=False),
    Endpoint("GET", f"{_SWAP}/v2/quote/ticker", ticker, signed=False),
    Endpoint("GET", f"{_SWAP}/v3/quote/klines", klines, signed=False, per_second=5),
    Endpoint("GET", f"{_SWAP}/v2/quote/klines", klines, signed=False),
    Endpoint("GET", f"{_SWAP}/v2/quote/premiumIndex", premium_index, signed=False),
    Endpoint("GET", f"{_SWAP}/v2/quote/depth", depth, signed=False),
    Endpoint("GET", f"{_SWAP}/v3/user/balance", balance_v3, signed=True, per_second=5),
    Endpoint("GET", f"{_SWAP}/v2/user/balance", balance_v2, signed=True, per_second=5),
    Endpoint("GET", f"{_SWAP}/v2/user/positions", positions, signed=True, per_second=5),
    Endpoint("GET", f"{_SWAP}/v2/user/income", income, signed=True, per_second=5),
    Endpoint("GET", f"{_SWAP}/v2/user/commissionRate", commission_rate, signed=True, per_second=5),
    Endpoint("GET", f"{_SWAP}/v2/trade/leverage", get_leverage, signed=True, per_second=5),
    Endpoint("POST", f"{_SWAP}/v2/trade/leverage", set_leverage, signed=True, per_second=5),
    Endpoint("GET", f"{_SWAP}/v2/trade/marginType", get_margin_type, signed=True, per_second=2),
    Endpoint("POST", f"{_SWAP}/v2/trade/marginType", set_margin_type, signed=True, per_second=2),
    Endpoint("GET", f"{_SWAP}/v1/positionSide/dual", get_position_mode, signed=True, per_second=2),
    Endpoint("POST", f"{_SWAP}/v1/positionSide/dual", set_position_mode, signed=True, per_second=2),
    Endpoint("POST", f"{_SWAP}/v2/trade/order", place_order, signed=True, per_second=10),
    Endpoint("POST", f"{_SWAP}/v2/trade/order/test", test_order, signed=True, per_second=10),
    Endpoint("GET", f"{_SWAP}/v2/trade/order", query_order, signed=True, per_second=5),
    Endpoint("GET", f"{_SWAP}/v2/trade/openOrder", query_open_order, signed=True, per_second=5),
    Endpoint("DELETE", f"{_SWAP}/v2/trade/order", cancel_order, signed=True, per_second=5),
    Endpoint("DELETE", f"{_SWAP}/v2/trade/allOpenOrders", cancel_all, signed=True, per_second=5),
    Endpoint("GET", f"{_SWAP}/v2/trade/openOrders", open_orders, signed=True, per_second=5),
    Endpoint("GET", f"{_SWAP}/v2/trade/allOrders", order_history, signed=True, per_second=5),
    Endpoint("GET", f"{_SWAP}/v1/trade/fullOrder", full_orders, signed=True, per_second=5),
    Endpoint("GET", f"{_SWAP}/v2/trade/allFillOrders", fills, signed=True, per_second=5),
    Endpoint(
        "POST",
        f"{_SWAP}/v2/trade/closeAllPositions",
        close_all_positions,
        signed=True,
        per_second=5,
    ),
    Endpoint("POST", f"{_SWAP}/v1/trade/closePosition", close_position, signed=True, per_second=5),
    Endpoint(
        "POST",
        "/openApi/user/auth/userDataStream",
        create_listen_key,
        signed=False,
        per_second=2,
        enveloped=False,
    ),
    Endpoint(
        "GET", "/openApi/v1/account/apiPermissions", api_permissions, signed=True, enveloped=False
    ),
    Endpoint("GET", "/openApi/cswap/v1/market/contracts", empty_list, signed=False),
    Endpoint("GET", "/openApi/spot/v1/common/symbols", empty_symbols, signed=False),
    Endpoint("GET", "/openApi/wallets/v1/capital/config/getall", empty_list, signed=True),
)
"""Every BingX path served. Unlisted order types are refused (see SimExchange.place_order)."""
