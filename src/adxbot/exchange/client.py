"""`BingXClient`: adxbot's typed async client for BingX's USDT-M perpetual swap API.

- Runs on an injected `httpx.AsyncClient` (connection pooling, keep-alive); reads and
  writes have their own timeouts.
- Signs every private request (`signing`), stamping it with the exchange's time from a
  `ServerClock`; on a timestamp error it re-syncs the clock and tries once more (a
  request refused for its timestamp was not executed, so this is safe for writes too).
- Waits for the `RateLimiter` before every request.
- Reads retry temporary failures and rate limits with backoff (bounded attempts).
  Writes never retry blindly: a write whose answer is lost raises `OutcomeUnknown`, and
  the caller looks the order up by its client order id (`find_order`) before anything
  else.  Every order carries a client order id.
- Translates every answer into `models` and every failure into `errors`, here and
  nowhere else.
- Reports every HTTP attempt to an optional observer (`on_request`: endpoint path,
  seconds, the error's class name or None), e.g. for metrics; the client keeps nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from adxbot.domain.enums import (
    Direction,
    PositionMode,
    PositionSide,
)
from adxbot.domain.ids import OrderId
from adxbot.exchange import wire
from adxbot.exchange.credentials import Credentials
from adxbot.exchange.endpoints import (
    API_PERMISSIONS,
    CANCEL_ALL_ORDERS,
    CANCEL_ORDER,
    CLOSE_ALL_POSITIONS,
    CLOSE_POSITION,
    COMMISSION_RATES,
    CONTRACTS,
    CREATE_LISTEN_KEY,
    DELETE_LISTEN_KEY,
    EXTEND_LISTEN_KEY,
    FILLS,
    GET_ALL_POSITIONS,
    GET_BALANCE,
    GET_CURRENT_PRICE,
    GET_LEVERAGE,
    GET_MARGIN_TYPE,
    GET_OPEN_ORDERS,
    GET_ORDER,
    GET_POSITION_MODE,
    INCOME,
    KLINES_V3,
    MARK_PRICE,
    ORDER_HISTORY,
    PLACE_ORDER,
    SERVER_TIME,
    SET_LEVERAGE,
    SET_MARGIN_TYPE,
    TICKER,
    Access,
    Endpoint,
)
from adxbot.exchange.errors import (
    ClockSkew,
    ExchangeError,
    NotSent,
    OrderNotFound,
    OutcomeUnknown,
    RateLimited,
    SetupError,
    TemporaryError,
    translate_code,
    translate_status,
)
from adxbot.exchange.models import (
    AccountModes,
    ApiPermissions,
    Balance,
    ContractSpec,
    FillReport,
    IncomeReport,
    Kline,
    Leverage,
    MarkPrice,
    OrderReport,
    PositionReport,
    Ticker,
)
from adxbot.exchange.orders import OrderSpec
from adxbot.exchange.parse import (
    parse_contract,
    parse_fill,
    parse_kline,
    parse_order,
    parse_position,
)
from adxbot.exchange.rate_limits import (
    RateLimiter,
)
from adxbot.exchange.server_clock import ServerClock
from adxbot.exchange.signing import encoded_query, signed_query

log = logging.getLogger("adxbot.exchange")

PRODUCTION_URL = "https://open-api.bingx.com"
DEMO_URL = "https://open-api-vst.bingx.com"

RequestObserver = Callable[[str, float, str | None], None]
"""Told of every HTTP attempt: (endpoint path, seconds, error class name or None)."""


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-call-type timeouts in seconds."""

    connect_s: float = 3.0
    read_s: float = 5.0
    write_s: float = 8.0


class BingXClient:
    """A BingX USDT-M perpetual swap account and its market data."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        clock: ServerClock,
        credentials: Credentials | None = None,
        *,
        limiter: RateLimiter | None = None,
        timeouts: Timeouts = Timeouts(),
        read_attempts: int = 3,
        backoff_s: float = 0.5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        recv_window_ms: int | None = None,
        max_wait_s: float = 30.0,
        on_request: RequestObserver | None = None,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self.clock = clock
        self._credentials = credentials
        self._limiter = limiter or RateLimiter()
        self._timeouts = timeouts
        self._read_attempts = max(1, read_attempts)
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._recv_window_ms = recv_window_ms
        self._max_wait_s = max_wait_s
        """A read that would have to wait longer than this raises instead (breakers decide)."""
        self._on_request = on_request

    # ------------------------------------------------------------------ transport
    async def _call(
        self,
        endpoint: Endpoint,
        params: Sequence[tuple[str, str]] = (),
        *,
        client_order_id: str | None = None,
    ) -> Any:
        method, path, access = endpoint.method, endpoint.path, endpoint.access
        signed, rules, enveloped = endpoint.signed, endpoint.rules, endpoint.enveloped
        attempts = 1 if access is Access.WRITE else self._read_attempts
        resynced = False
        attempt = 0
        while True:
            attempt += 1
            await self._limiter.acquire(rules, path)
            try:
                return await self._observed(
                    method, path, params, signed, access, enveloped, client_order_id
                )
            except ClockSkew:
                if resynced:
                    raise
                resynced = True
                attempt -= 1  # refused for its timestamp: it did not execute
                await self.sync_time()
            except (TemporaryError, RateLimited) as e:
                if (
                    access is Access.WRITE
                    and isinstance(e, TemporaryError)
                    and not isinstance(e, NotSent)
                ):
                    # "busy", "rpc timeout", a 5xx: BingX may still have executed it.
                    raise OutcomeUnknown(
                        f"{e}; the write may have been executed", client_order_id=client_order_id
                    ) from e
                delay = self._backoff_delay(e, attempt)
                if attempt >= attempts or delay > self._max_wait_s:
                    raise
                log.warning(
                    "%s %s failed (%s); retry %d/%d in %.1f s",
                    method,
                    path,
                    e,
                    attempt,
                    attempts - 1,
                    delay,
                )
                await self._sleep(delay)

    def _backoff_delay(self, error: ExchangeError, attempt: int) -> float:
        if isinstance(error, RateLimited):
            return error.wait_s(self.clock.now_ms())
        return float(self._backoff_s * 2 ** (attempt - 1))

    async def _observed(
        self,
        method: str,
        path: str,
        params: Sequence[tuple[str, str]],
        signed: bool,
        access: Access,
        enveloped: bool,
        client_order_id: str | None,
    ) -> Any:
        """Run `_once`, telling the observer how long it took and how it failed."""
        started = time.perf_counter()
        try:
            result = await self._once(
                method, path, params, signed, access, enveloped, client_order_id
            )
        except Exception as e:
            self._report(path, started, type(e).__name__)
            raise
        self._report(path, started, None)
        return result

    def _report(self, path: str, started: float, error: str | None) -> None:
        if self._on_request is None:
            return
        try:
            self._on_request(path, time.perf_counter() - started, error)
        except Exception as e:  # an observer's failure is never the request's
            log.error("request observer failed: %s: %s", type(e).__name__, e)

    async def _once(
        self,
        method: str,
        path: str,
        params: Sequence[tuple[str, str]],
        signed: bool,
        access: Access,
        enveloped: bool,
        client_order_id: str | None,
    ) -> Any:
        headers: dict[str, str] = {}
        stamped = [*params, ("timestamp", str(self.clock.now_ms()))]
        if self._recv_window_ms is not None:
            stamped.append(("recvWindow", str(self._recv_window_ms)))
        if signed:
            credentials = self._require_credentials()
            headers["X-BX-APIKEY"] = credentials.api_key
            query = signed_query(stamped, credentials.api_secret.get_secret_value())
        else:
            query = encoded_query(stamped)
        read_timeout = self._timeouts.write_s if access is Access.WRITE else self._timeouts.read_s
        timeout = httpx.Timeout(read_timeout, connect=self._timeouts.connect_s)
        url = f"{self._base}{path}?{query}"
        try:
            response = await self._http.request(method, url, headers=headers, timeout=timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as e:
            raise NotSent(f"BingX {path}: cannot connect ({type(e).__name__})") from e
        except httpx.TransportError as e:
            if access is Access.WRITE:
                raise OutcomeUnknown(
                    f"BingX {path}: the answer was lost ({type(e).__name__}); the request may "
                    "have been executed",
                    client_order_id=client_order_id,
                ) from e
            raise TemporaryError(f"BingX {path}: {type(e).__name__}") from e
        return self._parse(response, path, access, enveloped, client_order_id)

    def _parse(
        self,
        response: httpx.Response,
        path: str,
        access: Access,
        enveloped: bool,
        client_order_id: str | None,
    ) -> Any:
        if (
            not enveloped
            and access is Access.WRITE
            and response.status_code in (200, 204)
            and not response.content
        ):
            return None  # listen-key PUT and DELETE answer with an empty body
        if response.status_code != 200:
            error = translate_status(
                response.status_code, path, response.headers.get("retry-after")
            )
            if (
                access is Access.WRITE
                and response.status_code >= 500
                and response.status_code != 503
            ):
                # A gateway error after the request reached BingX: it may have executed.
                raise OutcomeUnknown(str(error), client_order_id=client_order_id) from error
            raise error
        try:
            body = response.json()
        except ValueError as e:
            if access is Access.WRITE:
                raise OutcomeUnknown(
                    f"BingX {path}: unreadable answer to a write", client_order_id=client_order_id
                ) from e
            raise TemporaryError(f"BingX {path}: the answer is not JSON") from e
        if not enveloped:
            if isinstance(body, dict) and "code" in body:  # an error in BingX's envelope
                code = wire.integer(body["code"], "code")
                if code != 0:
                    raise translate_code(code, str(body.get("msg", "")), path)
            return body
        if not isinstance(body, dict) or "code" not in body:
            if access is Access.WRITE:
                raise OutcomeUnknown(
                    f"BingX {path}: the answer to a write has no code: {str(body)[:200]}",
                    client_order_id=client_order_id,
                )
            raise TemporaryError(f"BingX {path}: the answer has no code: {str(body)[:200]}")
        code = wire.integer(body["code"], "code")
        if code != 0:
            raise translate_code(code, str(body.get("msg", "")), path)
        return body.get("data")

    def _require_credentials(self) -> Credentials:
        if self._credentials is None:
            raise _NoCredentials(
                "this call needs BINGX_API_KEY and BINGX_API_SECRET (environment or config/.env)"
            )
        return self._credentials

    # ------------------------------------------------------------------ time
    async def server_time(self) -> int:
        """Return BingX's clock in epoch milliseconds."""
        data = await self._call(SERVER_TIME)
        return wire.integer(wire.field(data, "serverTime"), "serverTime")

    async def sync_time(self) -> int:
        """Measure the offset between BingX's clock and ours; return it in milliseconds."""
        sent = self.clock.local_ms()
        server = await self.server_time()
        self.clock.update(server, sent, self.clock.local_ms())
        return self.clock.offset_ms

    # ------------------------------------------------------------------ market data
    async def contracts(self) -> list[ContractSpec]:
        """Return every USDT-M contract's rules."""
        rows = await self._call(CONTRACTS)
        return [parse_contract(row) for row in rows]

    async def contract(self, symbol: str) -> ContractSpec:
        """Return one contract's rules."""
        for spec in await self.contracts():
            if spec.instrument.symbol == symbol:
                return spec
        raise ExchangeError(f"BingX lists no contract {symbol}")

    async def klines(
        self,
        symbol: str,
        interval: str,
        *,
        limit: int = 500,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[Kline]:
        """Return candles in ascending time order (the last one may still be forming)."""
        params = [("symbol", symbol), ("interval", interval), ("limit", str(min(limit, 1440)))]
        if start_ms is not None:
            params.append(("startTime", str(start_ms)))
        if end_ms is not None:
            params.append(("endTime", str(end_ms)))
        rows = await self._call(KLINES_V3, params)
        if isinstance(rows, dict):
            rows = [rows]
        candles = [parse_kline(row) for row in rows]
        candles.sort(key=lambda k: k.open_time_ms)
        return candles

    async def get_current_price(self, symbol: str) -> Decimal:
        """Return the last traded price."""
        data = await self._call(GET_CURRENT_PRICE, [("symbol", symbol)])
        return wire.decimal(wire.field(data, "price"), "price")

    async def ticker(self, symbol: str) -> Ticker:
        """Return the 24-hour ticker."""
        data = await self._call(TICKER, [("symbol", symbol)])
        return Ticker(
            last_price=wire.decimal(wire.field(data, "lastPrice"), "lastPrice"),
            bid_price=wire.decimal(wire.field(data, "bidPrice"), "bidPrice"),
            ask_price=wire.decimal(wire.field(data, "askPrice"), "askPrice"),
            high_price=wire.decimal(wire.field(data, "highPrice"), "highPrice"),
            low_price=wire.decimal(wire.field(data, "lowPrice"), "lowPrice"),
            volume=wire.decimal(wire.field(data, "volume"), "volume"),
            change_percent=wire.decimal(wire.field(data, "priceChangePercent"), "change"),
        )

    async def mark_price(self, symbol: str) -> MarkPrice:
        """Return the mark price and funding."""
        data = await self._call(MARK_PRICE, [("symbol", symbol)])
        return MarkPrice(
            mark_price=wire.decimal(wire.field(data, "markPrice"), "markPrice"),
            index_price=wire.decimal(wire.field(data, "indexPrice"), "indexPrice"),
            funding_rate=wire.decimal(wire.field(data, "lastFundingRate"), "lastFundingRate"),
            next_funding_ms=wire.integer(wire.field(data, "nextFundingTime"), "nextFundingTime"),
        )

    # ------------------------------------------------------------------ account
    async def get_balance(self) -> Balance:
        """Return the USDT margin balance."""
        rows = await self._call(GET_BALANCE)
        for row in rows:
            if row.get("asset") == "USDT":
                return Balance(
                    balance=wire.decimal(wire.field(row, "balance"), "balance"),
                    equity=wire.decimal(wire.field(row, "equity"), "equity"),
                    unrealized_pnl=wire.decimal(
                        wire.field(row, "unrealizedProfit"), "unrealizedProfit"
                    ),
                    available_margin=wire.decimal(
                        wire.field(row, "availableMargin"), "availableMargin"
                    ),
                    used_margin=wire.decimal(wire.field(row, "usedMargin"), "usedMargin"),
                    frozen_margin=wire.decimal(row.get("freezedMargin", "0"), "freezedMargin"),
                )
        raise TemporaryError("BingX's balance answer has no USDT row")

    async def get_all_positions(self, symbol: str | None = None) -> list[PositionReport]:
        """Return open positions (all symbols, or one)."""
        params = [("symbol", symbol)] if symbol else []
        rows = await self._call(GET_ALL_POSITIONS, params)
        return [
            parse_position(row)
            for row in rows
            if wire.decimal(row.get("positionAmt", "0"), "positionAmt") != 0
        ]

    async def get_position(
        self, symbol: str, direction: Direction | None = None
    ) -> PositionReport | None:
        """Return the open position of a symbol (of one direction in hedge mode), or None."""
        for position in await self.get_all_positions(symbol):
            if direction is None or position.direction is direction:
                return position
        return None

    async def income(
        self,
        *,
        symbol: str | None = None,
        income_type: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 100,
    ) -> list[IncomeReport]:
        """Return income-ledger lines (realised P&L, fees, funding)."""
        params: list[tuple[str, str]] = []
        for name, value in (
            ("symbol", symbol),
            ("incomeType", income_type),
            ("startTime", start_ms),
            ("endTime", end_ms),
        ):
            if value is not None:
                params.append((name, str(value)))
        params.append(("limit", str(limit)))
        rows = await self._call(INCOME, params)
        return [
            IncomeReport(
                symbol=str(row.get("symbol", "")),
                income_type=str(wire.field(row, "incomeType")),
                amount=wire.decimal(wire.field(row, "income"), "income"),
                time_ms=wire.integer(wire.field(row, "time"), "time"),
                transaction_id=str(row.get("tranId", "")),
            )
            for row in rows or []
        ]

    async def commission_rates(self) -> tuple[Decimal, Decimal]:
        """Return (taker, maker) fee rates."""
        data = await self._call(COMMISSION_RATES)
        rates = wire.field(data, "commission")
        return (
            wire.decimal(wire.field(rates, "takerCommissionRate"), "takerCommissionRate"),
            wire.decimal(wire.field(rates, "makerCommissionRate"), "makerCommissionRate"),
        )

    async def get_leverage(self, symbol: str) -> Leverage:
        """Return the leverage settings of a symbol."""
        data = await self._call(GET_LEVERAGE, [("symbol", symbol)])
        return Leverage(
            long=wire.integer(wire.field(data, "longLeverage"), "longLeverage"),
            short=wire.integer(wire.field(data, "shortLeverage"), "shortLeverage"),
            max_long=wire.integer(data.get("maxLongLeverage", 0), "maxLongLeverage"),
            max_short=wire.integer(data.get("maxShortLeverage", 0), "maxShortLeverage"),
        )

    async def set_leverage(self, symbol: str, leverage: int, side: PositionSide) -> None:
        """Set leverage: side BOTH in one-way mode, LONG and SHORT separately in hedge mode."""
        params = [
            ("symbol", symbol),
            ("side", wire.POSITION_SIDE_TO_WIRE[side]),
            ("leverage", str(leverage)),
        ]
        await self._call(SET_LEVERAGE, params)

    async def get_margin_type(self, symbol: str) -> str:
        """Return CROSSED, ISOLATED or SEPARATE_ISOLATED."""
        data = await self._call(GET_MARGIN_TYPE, [("symbol", symbol)])
        return str(wire.field(data, "marginType")).upper()

    async def set_margin_type(self, symbol: str, margin_type: str) -> None:
        """Switch the margin type (only with no positions or open orders)."""
        params = [("symbol", symbol), ("marginType", margin_type)]
        await self._call(SET_MARGIN_TYPE, params)

    async def get_position_mode(self) -> PositionMode:
        """Return one-way or hedge mode."""
        data = await self._call(GET_POSITION_MODE)
        return (
            PositionMode.HEDGE
            if wire.flag(wire.field(data, "dualSidePosition"))
            else PositionMode.ONE_WAY
        )

    async def account_modes(self, symbol: str) -> AccountModes:
        """Return the position mode and the symbol's margin type."""
        return AccountModes(await self.get_position_mode(), await self.get_margin_type(symbol))

    async def api_permissions(self) -> ApiPermissions:
        """Return what the key may do (codes: 2 read, 3 futures trading, 5 withdraw)."""
        data = await self._call(API_PERMISSIONS)
        if isinstance(data, dict) and "code" in data and wire.integer(data["code"], "code") != 0:
            raise translate_code(
                wire.integer(data["code"], "code"), str(data.get("msg", "")), "apiPermissions"
            )
        if isinstance(data, dict) and isinstance(data.get("data"), dict):
            data = data["data"]
        codes = {wire.integer(c, "permission") for c in wire.field(data, "permissions")}
        return ApiPermissions(
            can_read=2 in codes or bool(codes),
            can_trade=3 in codes,
            can_withdraw=5 in codes,
            ip_restricted=any(str(ip) for ip in data.get("ipAddresses") or []),
        )

    # ------------------------------------------------------------------ orders
    async def place_order(self, spec: OrderSpec) -> OrderReport:
        """Place an order; a lost answer raises `OutcomeUnknown` (look it up, never resend)."""
        data = await self._call(
            PLACE_ORDER, spec.params(), client_order_id=spec.client_order_id.lower()
        )
        try:
            return parse_order(wire.field(data or {}, "order"), spec.symbol)
        except (TemporaryError, LookupError, TypeError, AttributeError) as e:
            # BingX accepted the order (code 0) but its report is unreadable: the order may
            # rest or have filled, so the caller must look it up, never resend it.
            raise OutcomeUnknown(
                f"BingX accepted order {spec.client_order_id.lower()} but its answer is "
                f"unreadable ({e})",
                client_order_id=spec.client_order_id.lower(),
            ) from e

    async def get_order(
        self, symbol: str, *, order_id: OrderId | None = None, client_order_id: str | None = None
    ) -> OrderReport:
        """Return one order by exchange id or client order id (raises `OrderNotFound`)."""
        params = [("symbol", symbol), *_order_key(order_id, client_order_id)]
        data = await self._call(GET_ORDER, params)
        return parse_order(wire.field(data, "order"), symbol)

    async def find_order(self, symbol: str, client_order_id: str) -> OrderReport | None:
        """Look an order up by client order id: open orders, then the order itself and history.

        Returns None only when BingX confirms it has no such order: the one case in which
        re-sending an order whose answer was lost is safe.
        """
        wanted = client_order_id.lower()
        for order in await self.get_open_orders(symbol):
            if order.client_order_id == wanted:
                return order
        try:
            return await self.get_order(symbol, client_order_id=wanted)
        except OrderNotFound:
            pass
        for order in await self.order_history(symbol):
            if order.client_order_id == wanted:
                return order
        return None

    async def cancel_order(
        self, symbol: str, *, order_id: OrderId | None = None, client_order_id: str | None = None
    ) -> OrderReport:
        """Cancel one order."""
        params = [("symbol", symbol), *_order_key(order_id, client_order_id)]
        data = await self._call(CANCEL_ORDER, params)
        return parse_order(wire.field(data, "order"), symbol)

    async def cancel_all_orders(self, symbol: str) -> list[OrderReport]:
        """Cancel every open order of a symbol; return what was cancelled."""
        data = await self._call(CANCEL_ALL_ORDERS, [("symbol", symbol)])
        return [parse_order(row, symbol) for row in (data or {}).get("success") or []]

    async def get_open_orders(self, symbol: str) -> list[OrderReport]:
        """Return the open orders of a symbol."""
        data = await self._call(GET_OPEN_ORDERS, [("symbol", symbol)])
        return [parse_order(row, symbol) for row in wire.field(data, "orders") or []]

    async def order_history(
        self,
        symbol: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 500,
    ) -> list[OrderReport]:
        """Return finished orders of a symbol (newest last)."""
        params = [("symbol", symbol), ("limit", str(limit))]
        if start_ms is not None:
            params.append(("startTime", str(start_ms)))
        if end_ms is not None:
            params.append(("endTime", str(end_ms)))
        data = await self._call(ORDER_HISTORY, params)
        return [parse_order(row, symbol) for row in wire.field(data, "orders") or []]

    async def fills(
        self, symbol: str, start_ms: int, end_ms: int, *, order_id: OrderId | None = None
    ) -> list[FillReport]:
        """Return executions of a symbol in a time window."""
        params = [
            ("symbol", symbol),
            ("tradingUnit", "COIN"),
            ("startTs", str(start_ms)),
            ("endTs", str(end_ms)),
        ]
        if order_id is not None:
            params.append(("orderId", order_id))
        data = await self._call(FILLS, params)
        return [parse_fill(row) for row in wire.field(data, "fill_orders") or []]

    async def close_position(self, position_id: str) -> OrderId:
        """Market-close one position by id; return the close order's id."""
        data = await self._call(CLOSE_POSITION, [("positionId", position_id)])
        return OrderId(str(wire.field(data, "orderId")))

    async def close_all_positions(self, symbol: str) -> list[OrderId]:
        """Market-close both sides of a symbol; return the close orders' ids."""
        data = await self._call(CLOSE_ALL_POSITIONS, [("symbol", symbol)])
        return [OrderId(str(i)) for i in (data or {}).get("success") or []]

    # ------------------------------------------------------------------ user stream
    async def create_listen_key(self) -> str:
        """Create a user-data-stream key (valid 60 minutes)."""
        data = await self._call(CREATE_LISTEN_KEY)
        return str(wire.field(data or {}, "listenKey"))

    async def extend_listen_key(self, listen_key: str) -> None:
        """Extend a user-data-stream key by 60 minutes."""
        await self._call(EXTEND_LISTEN_KEY, [("listenKey", listen_key)])

    async def delete_listen_key(self, listen_key: str) -> None:
        """Delete a user-data-stream key."""
        await self._call(DELETE_LISTEN_KEY, [("listenKey", listen_key)])


class _NoCredentials(SetupError):
    fix = "set BINGX_API_KEY and BINGX_API_SECRET in the environment or config/.env"


def _order_key(order_id: OrderId | None, client_order_id: str | None) -> list[tuple[str, str]]:
    if order_id is not None:
        return [("orderId", order_id)]
    if client_order_id is not None:
        return [("clientOrderId", client_order_id.lower())]
    raise ValueError("name the order by order_id or client_order_id")
