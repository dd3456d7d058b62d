"""`BingXClient` against the simulator over real loopback HTTP, and against hand-built answers.

Every public method runs at least once with its typed result checked; every error class
is provoked (through the simulator's fault injection where it can, through an
`httpx.MockTransport` where only a broken answer will do) and checked for the class *and*
the number of attempts.  Retry backoff goes through an injected sleep that only records
its delays, so nothing here waits for real except the write-timeout case.  The simulator
runs on a stepped clock (speed 0) and the client's local clock is a `ManualClock` at the
simulator's time, so request timestamps are exact and deterministic.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import re
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest
from pydantic import SecretStr

from adxbot.clock import ManualClock
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
from adxbot.domain.instrument import BINGX_CONTRACTS, Rounding
from adxbot.errors import InsufficientMargin, InvalidOrder
from adxbot.exchange.client import BingXClient, Timeouts
from adxbot.exchange.credentials import Credentials
from adxbot.exchange.errors import (
    AuthenticationFailed,
    BelowExchangeMinimum,
    ClockSkew,
    DuplicateClientOrderId,
    ExchangeError,
    OrderNotFound,
    OutcomeUnknown,
    PermissionDenied,
    RateLimited,
    SetupError,
    TemporaryError,
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
from adxbot.exchange.orders import AttachedStop, OrderSpec
from adxbot.exchange.server_clock import ServerClock
from adxbot.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET
from adxbot.sim.account import ApiKey
from sim_support import SYMBOL, RunningSim, running_simulator, sim_options

T = TypeVar("T")

TICK = Decimal("0.1")
STEP = Decimal("0.0001")
EIGHT_HOURS_MS = 8 * 3_600_000
FAKE_URL = "http://bingx.invalid"
DEFAULT_TIMEOUTS = Timeouts()


# ---------------------------------------------------------------- harness
class RecordingSleep:
    """An injected `sleep` that returns at once and remembers every delay asked for."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def make_client(
    http: httpx.AsyncClient,
    base_url: str,
    now_ms: int,
    *,
    api_key: str = DEFAULT_API_KEY,
    secret: str = DEFAULT_API_SECRET,
    with_credentials: bool = True,
    sleep: RecordingSleep | None = None,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
) -> BingXClient:
    credentials = Credentials(api_key, SecretStr(secret)) if with_credentials else None
    return BingXClient(
        http,
        base_url,
        ServerClock(ManualClock(now_ms)),
        credentials,
        sleep=sleep or RecordingSleep(),
        timeouts=timeouts,
    )


def drive(sim: RunningSim, scenario: Callable[[BingXClient], Awaitable[T]], **options: Any) -> T:
    """Run `scenario` with a client on the simulator (real loopback HTTP)."""

    async def main() -> T:
        async with httpx.AsyncClient() as http:
            return await scenario(make_client(http, sim.base_url, sim.now_ms(), **options))

    return asyncio.run(main())


def drive_mock(
    handler: Callable[[httpx.Request], httpx.Response],
    scenario: Callable[[BingXClient], Awaitable[T]],
    **options: Any,
) -> T:
    """Run `scenario` with a client whose every request is answered by `handler`."""

    async def main() -> T:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            return await scenario(make_client(http, FAKE_URL, 1_700_000_000_000, **options))

    return asyncio.run(main())


def requests_seen(sim: RunningSim) -> int:
    """Return how many BingX requests reached the simulator's fault injector so far."""
    return int(sim.state()["faults"]["requests"])


def schedule(sim: RunningSim, kind: str, count: int = 1, path: str = "") -> None:
    sim.admin("faults/schedule", {"kind": kind, "count": count, "path_contains": path})


def orders_placed(sim: RunningSim) -> int:
    return len(sim.account_state()["orders"])


def market(
    side: OrderSide,
    quantity: str,
    client_order_id: str,
    position_side: PositionSide = PositionSide.BOTH,
    **extra: Any,
) -> OrderSpec:
    return OrderSpec(
        symbol=SYMBOL,
        side=side,
        order_type=OrderType.MARKET,
        client_order_id=ClientOrderId(client_order_id),
        quantity=Decimal(quantity),
        position_side=position_side,
        **extra,
    )


def price_near(price: Decimal, factor: str, rounding: Rounding = Rounding.DOWN) -> Decimal:
    return BINGX_CONTRACTS[SYMBOL].round_price(price * Decimal(factor), rounding)


@pytest.fixture
def sim() -> Iterator[RunningSim]:
    with running_simulator() as running:
        yield running


@pytest.fixture
def hedge_sim() -> Iterator[RunningSim]:
    with running_simulator(sim_options(hedge_mode=True)) as running:
        yield running


# ---------------------------------------------------------------- coverage of the API
COVERED_METHODS = {
    "server_time", "sync_time", "contracts", "contract", "klines", "get_current_price",
    "ticker", "mark_price", "get_balance", "get_all_positions", "get_position", "income",
    "commission_rates", "get_leverage", "set_leverage", "get_margin_type", "set_margin_type",
    "get_position_mode", "account_modes", "api_permissions", "place_order", "get_order",
    "find_order", "cancel_order", "cancel_all_orders", "get_open_orders", "order_history",
    "fills", "close_position", "close_all_positions", "create_listen_key", "extend_listen_key",
    "delete_listen_key",
}  # fmt: skip


def test_public_api_when_listed_then_every_method_is_covered_by_these_tests() -> None:
    public = {
        name
        for name, member in inspect.getmembers(BingXClient, inspect.iscoroutinefunction)
        if not name.startswith("_")
    }
    assert public == COVERED_METHODS


# ---------------------------------------------------------------- time and market data
def test_server_time_and_sync_time_when_local_clock_behind_then_offset_is_measured(
    sim: RunningSim,
) -> None:
    sim_now = sim.now_ms()

    async def scenario(client: BingXClient) -> tuple[int, int, int]:
        client.clock = ServerClock(ManualClock(sim_now - 12_345))
        server = await client.server_time()
        offset = await client.sync_time()
        return server, offset, client.clock.now_ms()

    server, offset, estimated = drive(sim, scenario)
    assert server == sim_now
    assert offset == 12_345
    assert estimated == sim_now


def test_contracts_and_contract_when_listed_then_instrument_has_tick_and_step(
    sim: RunningSim,
) -> None:
    async def scenario(client: BingXClient) -> tuple[list[ContractSpec], ContractSpec]:
        return await client.contracts(), await client.contract(SYMBOL)

    specs, spec = drive(sim, scenario)
    assert [s.instrument.symbol for s in specs] == [SYMBOL]
    assert isinstance(spec, ContractSpec)
    assert spec.instrument.price_tick == TICK
    assert spec.instrument.quantity_step == STEP
    assert spec.instrument.min_quantity == Decimal("0.0001")
    assert spec.instrument.min_notional == Decimal(2)
    assert spec.max_leverage == 125
    assert spec.trading_open is True


def test_contract_when_symbol_not_listed_then_raises_exchange_error(sim: RunningSim) -> None:
    async def scenario(client: BingXClient) -> ContractSpec:
        return await client.contract("DOGE-USDT")

    with pytest.raises(ExchangeError, match="DOGE-USDT"):
        drive(sim, scenario)


def test_klines_when_asked_then_ascending_five_minute_candles(sim: RunningSim) -> None:
    async def scenario(client: BingXClient) -> list[Kline]:
        return await client.klines(SYMBOL, "5m", limit=50)

    candles = drive(sim, scenario)
    assert len(candles) == 50
    assert all(isinstance(k, Kline) and isinstance(k.close, Decimal) for k in candles)
    times = [k.open_time_ms for k in candles]
    assert times == sorted(times)
    assert {b - a for a, b in itertools.pairwise(times)} == {300_000}
    assert all(k.low <= min(k.open, k.close) <= max(k.open, k.close) <= k.high for k in candles)
    assert times[-1] <= sim.now_ms() < times[-1] + 300_000


def test_get_current_price_and_mark_price_when_asked_then_decimals_of_the_last_price(
    sim: RunningSim,
) -> None:
    async def scenario(client: BingXClient) -> tuple[Decimal, MarkPrice]:
        return await client.get_current_price(SYMBOL), await client.mark_price(SYMBOL)

    price, mark = drive(sim, scenario)
    assert price == sim.price()
    assert isinstance(mark, MarkPrice)
    assert mark.mark_price == price
    assert mark.index_price == price
    assert mark.funding_rate == Decimal("0.0001")
    assert mark.next_funding_ms % EIGHT_HOURS_MS == 0
    assert 0 < mark.next_funding_ms - sim.now_ms() <= EIGHT_HOURS_MS


def test_ticker_when_asked_then_last_bid_ask_and_day_range_as_decimals(sim: RunningSim) -> None:
    async def scenario(client: BingXClient) -> Ticker:
        return await client.ticker(SYMBOL)

    ticker = drive(sim, scenario)
    assert ticker.last_price == sim.price()
    assert ticker.bid_price == ticker.last_price
    assert ticker.ask_price == ticker.last_price + TICK
    assert ticker.low_price <= ticker.last_price <= ticker.high_price
    assert ticker.volume > 0
    assert isinstance(ticker.change_percent, Decimal)


# ---------------------------------------------------------------- account
def test_get_balance_when_flat_then_the_whole_deposit_is_available(sim: RunningSim) -> None:
    async def scenario(client: BingXClient) -> Balance:
        return await client.get_balance()

    balance = drive(sim, scenario)
    assert balance == Balance(
        balance=Decimal(1000),
        equity=Decimal(1000),
        unrealized_pnl=Decimal(0),
        available_margin=Decimal(1000),
        used_margin=Decimal(0),
        frozen_margin=Decimal(0),
    )


def test_positions_income_and_fills_when_a_market_buy_fills_then_all_report_it(
    sim: RunningSim,
) -> None:
    now = sim.now_ms()

    async def scenario(client: BingXClient) -> Any:
        order = await client.place_order(market(OrderSide.BUY, "0.0123", "fill-check"))
        positions = await client.get_all_positions()
        position = await client.get_position(SYMBOL)
        no_short = await client.get_position(SYMBOL, Direction.SHORT)
        income = await client.income(symbol=SYMBOL)
        fills = await client.fills(SYMBOL, now - 60_000, now + 60_000)
        balance = await client.get_balance()
        return order, positions, position, no_short, income, fills, balance

    order, positions, position, no_short, income, fills, balance = drive(sim, scenario)
    assert isinstance(order, OrderReport)
    assert order.status is OrderStatus.FILLED
    assert order.filled_quantity == Decimal("0.0123")
    assert order.client_order_id == "fill-check"
    assert order.average_price is not None

    assert positions == [position]
    assert isinstance(position, PositionReport)
    assert position.direction is Direction.LONG
    assert position.quantity == Decimal("0.0123")
    assert position.entry_price == order.average_price
    assert position.one_way is True
    assert position.position_side is PositionSide.BOTH
    assert position.leverage == 5
    assert position.isolated is False
    assert position.position_id
    assert no_short is None

    assert all(isinstance(line, IncomeReport) for line in income)
    fees = [line for line in income if line.income_type == "TRADING_FEE"]
    assert len(fees) == 1
    assert fees[0].amount < 0
    assert fees[0].time_ms == now

    assert len(fills) == 1
    fill = fills[0]
    assert isinstance(fill, FillReport)
    assert fill.quantity == Decimal("0.0123")  # coins, not contracts or quote value
    assert fill.price == order.average_price
    assert fill.order_id == order.order_id
    assert fill.client_order_id == "fill-check"
    assert fill.side is OrderSide.BUY
    assert fill.commission == -fees[0].amount
    assert fill.time_ms == now  # the UTC+8 `filledTime`, not 8 h off
    assert balance.used_margin > 0


def test_fills_when_filtered_by_order_id_then_only_that_orders_fills(sim: RunningSim) -> None:
    now = sim.now_ms()

    async def scenario(client: BingXClient) -> tuple[OrderReport, list[FillReport]]:
        await client.place_order(market(OrderSide.BUY, "0.001", "first"))
        second = await client.place_order(market(OrderSide.BUY, "0.002", "second"))
        return second, await client.fills(SYMBOL, now - 1, now + 1, order_id=second.order_id)

    second, fills = drive(sim, scenario)
    assert [(f.order_id, f.quantity) for f in fills] == [(second.order_id, Decimal("0.002"))]


def test_commission_rates_when_asked_then_taker_and_maker_decimals(sim: RunningSim) -> None:
    async def scenario(client: BingXClient) -> tuple[Decimal, Decimal]:
        return await client.commission_rates()

    assert drive(sim, scenario) == (Decimal("0.0005"), Decimal("0.0002"))


def test_leverage_when_set_with_both_in_one_way_mode_then_read_back(sim: RunningSim) -> None:
    async def scenario(client: BingXClient) -> tuple[Leverage, Leverage]:
        before = await client.get_leverage(SYMBOL)
        await client.set_leverage(SYMBOL, 8, PositionSide.BOTH)
        return before, await client.get_leverage(SYMBOL)

    before, after = drive(sim, scenario)
    assert before == Leverage(long=5, short=5, max_long=125, max_short=125)
    assert after == Leverage(long=8, short=8, max_long=125, max_short=125)


def test_set_leverage_when_long_in_one_way_mode_then_invalid_order(sim: RunningSim) -> None:
    async def scenario(client: BingXClient) -> None:
        await client.set_leverage(SYMBOL, 8, PositionSide.LONG)

    with pytest.raises(InvalidOrder, match="109400"):
        drive(sim, scenario)


def test_leverage_when_set_per_side_in_hedge_mode_then_each_side_keeps_its_own(
    hedge_sim: RunningSim,
) -> None:
    async def scenario(client: BingXClient) -> Leverage:
        await client.set_leverage(SYMBOL, 7, PositionSide.LONG)
        await client.set_leverage(SYMBOL, 3, PositionSide.SHORT)
        return await client.get_leverage(SYMBOL)

    leverage = drive(hedge_sim, scenario)
    assert (leverage.long, leverage.short) == (7, 3)


def test_set_leverage_when_both_in_hedge_mode_then_invalid_order(hedge_sim: RunningSim) -> None:
    async def scenario(client: BingXClient) -> None:
        await client.set_leverage(SYMBOL, 7, PositionSide.BOTH)

    with pytest.raises(InvalidOrder):
        drive(hedge_sim, scenario)


def test_margin_type_when_switched_while_flat_then_read_back_and_positions_isolated(
    sim: RunningSim,
) -> None:
    async def scenario(client: BingXClient) -> tuple[str, str, AccountModes, PositionReport]:
        before = await client.get_margin_type(SYMBOL)
        await client.set_margin_type(SYMBOL, "ISOLATED")
        after = await client.get_margin_type(SYMBOL)
        modes = await client.account_modes(SYMBOL)
        await client.place_order(market(OrderSide.BUY, "0.001", "iso"))
        position = await client.get_position(SYMBOL)
        assert position is not None
        return before, after, modes, position

    before, after, modes, position = drive(sim, scenario)
    assert (before, after) == ("CROSSED", "ISOLATED")
    assert modes == AccountModes(PositionMode.ONE_WAY, "ISOLATED")
    assert position.isolated is True


def test_set_margin_type_when_a_position_is_open_then_invalid_order(sim: RunningSim) -> None:
    async def scenario(client: BingXClient) -> None:
        await client.place_order(market(OrderSide.BUY, "0.001", "blocker"))
        await client.set_margin_type(SYMBOL, "ISOLATED")

    with pytest.raises(InvalidOrder, match="101212"):
        drive(sim, scenario)


def test_get_position_mode_when_one_way_or_hedge_then_reports_each(
    sim: RunningSim, hedge_sim: RunningSim
) -> None:
    async def scenario(client: BingXClient) -> PositionMode:
        return await client.get_position_mode()

    assert drive(sim, scenario) is PositionMode.ONE_WAY
    assert drive(hedge_sim, scenario) is PositionMode.HEDGE


def test_api_permissions_when_default_key_then_read_and_trade_but_no_withdraw(
    sim: RunningSim,
) -> None:
    async def scenario(client: BingXClient) -> ApiPermissions:
        return await client.api_permissions()

    assert drive(sim, scenario) == ApiPermissions(
        can_read=True, can_trade=True, can_withdraw=False, ip_restricted=False
    )


def test_api_permissions_when_keys_differ_then_trade_and_withdraw_flags_follow_them() -> None:
    keys = [
        ApiKey("reader-key", "reader-secret", can_trade=False),
        ApiKey("withdraw-key", "withdraw-secret", can_withdraw=True),
    ]

    async def scenario(client: BingXClient) -> ApiPermissions:
        return await client.api_permissions()

    with running_simulator(sim_options(keys=keys)) as sim:
        reader = drive(sim, scenario, api_key="reader-key", secret="reader-secret")
        withdrawer = drive(sim, scenario, api_key="withdraw-key", secret="withdraw-secret")
    assert reader == ApiPermissions(
        can_read=True, can_trade=False, can_withdraw=False, ip_restricted=False
    )
    assert withdrawer == ApiPermissions(
        can_read=True, can_trade=True, can_withdraw=True, ip_restricted=False
    )


def test_place_order_when_key_cannot_trade_then_permission_denied_with_a_fix() -> None:
    keys = [ApiKey("reader-key", "reader-secret", can_trade=False)]

    async def scenario(client: BingXClient) -> OrderReport:
        return await client.place_order(market(OrderSide.BUY, "0.001", "nope"))

    with running_simulator(sim_options(keys=keys)) as sim:
        with pytest.raises(PermissionDenied) as caught:
            drive(sim, scenario, api_key="reader-key", secret="reader-secret")
        assert sim.account_state("reader-key")["orders"] == []
    assert caught.value.code == 100004
    assert "Perpetual Futures Trading" in caught.value.fix


# ---------------------------------------------------------------- orders
def test_limit_order_when_placed_below_market_then_rests_and_is_found_open(
    sim: RunningSim,
) -> None:
    limit_price = price_near(sim.price(), "0.9")

    async def scenario(client: BingXClient) -> Any:
        placed = await client.place_order(
            OrderSpec(
                symbol=SYMBOL,
                side=OrderSide.BUY,
                order_type=OrderType.LIMIT,
                client_order_id=ClientOrderId("Rest-1"),
                quantity=Decimal("0.002"),
                price=limit_price,
                time_in_force=TimeInForce.GTC,
            )
        )
        open_orders = await client.get_open_orders(SYMBOL)
        found = await client.find_order(SYMBOL, "REST-1")
        by_id = await client.get_order(SYMBOL, order_id=placed.order_id)
        by_client_id = await client.get_order(SYMBOL, client_order_id="rest-1")
        return placed, open_orders, found, by_id, by_client_id

    placed, open_orders, found, by_id, by_client_id = drive(sim, scenario)
    assert placed.status is OrderStatus.NEW
    assert placed.order_type is OrderType.LIMIT
    assert placed.price == limit_price
    assert placed.quantity == Decimal("0.002")
    assert placed.filled_quantity == 0
    assert placed.time_in_force is TimeInForce.GTC
    assert placed.client_order_id == "rest-1"
    assert [o.order_id for o in open_orders] == [placed.order_id]
    assert found == by_id == by_client_id
    assert found is not None
    assert found.order_id == placed.order_id


def test_cancel_order_when_by_id_or_by_client_id_then_canceled(sim: RunningSim) -> None:
    low = price_near(sim.price(), "0.8")

    def limit(cid: str) -> OrderSpec:
        return OrderSpec(
            SYMBOL, OrderSide.BUY, OrderType.LIMIT, ClientOrderId(cid), Decimal("0.001"), low
        )

    async def scenario(client: BingXClient) -> Any:
        first = await client.place_order(limit("c-1"))
        await client.place_order(limit("c-2"))
        by_id = await client.cancel_order(SYMBOL, order_id=first.order_id)
        by_client = await client.cancel_order(SYMBOL, client_order_id="C-2")
        return by_id, by_client, await client.get_open_orders(SYMBOL)

    by_id, by_client, remaining = drive(sim, scenario)
    assert by_id.status is OrderStatus.CANCELED
    assert by_client.status is OrderStatus.CANCELED
    assert by_client.client_order_id == "c-2"
    assert remaining == []


def test_cancel_all_orders_and_order_history_when_two_rest_then_both_canceled_and_listed(
    sim: RunningSim,
) -> None:
    low = price_near(sim.price(), "0.8")

    async def scenario(client: BingXClient) -> Any:
        for cid in ("all-1", "all-2"):
            await client.place_order(
                OrderSpec(
                    SYMBOL, OrderSide.BUY, OrderType.LIMIT, ClientOrderId(cid), STEP * 10, low
                )
            )
        filled = await client.place_order(market(OrderSide.BUY, "0.001", "all-3"))
        cancelled = await client.cancel_all_orders(SYMBOL)
        history = await client.order_history(SYMBOL)
        return filled, cancelled, history, await client.get_open_orders(SYMBOL)

    filled, cancelled, history, remaining = drive(sim, scenario)
    assert sorted(o.client_order_id or "" for o in cancelled) == ["all-1", "all-2"]
    assert {o.status for o in cancelled} == {OrderStatus.CANCELED}
    assert remaining == []
    statuses = {o.client_order_id: o.status for o in history}
    assert statuses == {
        "all-1": OrderStatus.CANCELED,
        "all-2": OrderStatus.CANCELED,
        "all-3": OrderStatus.FILLED,
    }
    assert filled.order_id in {o.order_id for o in history}


def test_find_order_when_filled_or_unknown_then_filled_report_or_none(sim: RunningSim) -> None:
    async def scenario(client: BingXClient) -> tuple[OrderReport | None, OrderReport | None]:
        await client.place_order(market(OrderSide.BUY, "0.001", "done-1"))
        return await client.find_order(SYMBOL, "Done-1"), await client.find_order(SYMBOL, "x")

    filled, unknown = drive(sim, scenario)
    assert filled is not None
    assert filled.status is OrderStatus.FILLED
    assert filled.client_order_id == "done-1"
    assert unknown is None


def test_stop_market_when_close_position_then_rests_without_quantity_and_closes_on_trigger(
    sim: RunningSim,
) -> None:
    stop = price_near(sim.price(), "0.95")

    async def place(client: BingXClient) -> OrderReport:
        await client.place_order(market(OrderSide.BUY, "0.002", "entry"))
        return await client.place_order(
            OrderSpec(
                symbol=SYMBOL,
                side=OrderSide.SELL,
                order_type=OrderType.STOP_MARKET,
                client_order_id=ClientOrderId("guard"),
                stop_price=stop,
                close_position=True,
            )
        )

    placed = drive(sim, place)
    assert placed.order_type is OrderType.STOP_MARKET
    assert placed.status is OrderStatus.NEW
    assert placed.stop_price == stop
    sim.jump(-10)

    async def after(client: BingXClient) -> tuple[OrderReport | None, PositionReport | None]:
        return await client.find_order(SYMBOL, "guard"), await client.get_position(SYMBOL)

    fired, position = drive(sim, after)
    assert fired is not None
    assert fired.status is OrderStatus.FILLED
    assert fired.filled_quantity == Decimal("0.002")
    assert position is None


def test_place_order_when_stop_loss_and_take_profit_attached_then_both_rest_after_fill(
    sim: RunningSim,
) -> None:
    price = sim.price()
    stop_loss = price_near(price, "0.95")
    take_profit = price_near(price, "1.05", Rounding.UP)

    async def scenario(client: BingXClient) -> tuple[OrderReport, list[OrderReport]]:
        entry = await client.place_order(
            market(
                OrderSide.BUY,
                "0.003",
                "bracket",
                stop_loss=AttachedStop(OrderType.STOP_MARKET, stop_loss),
                take_profit=AttachedStop(OrderType.TAKE_PROFIT_MARKET, take_profit),
            )
        )
        return entry, await client.get_open_orders(SYMBOL)

    entry, children = drive(sim, scenario)
    assert entry.status is OrderStatus.FILLED
    by_type = {o.order_type: o for o in children}
    assert set(by_type) == {OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET}
    assert by_type[OrderType.STOP_MARKET].stop_price == stop_loss
    assert by_type[OrderType.TAKE_PROFIT_MARKET].stop_price == take_profit
    for child in children:
        assert child.side is OrderSide.SELL
        assert child.quantity == Decimal("0.003")
        assert child.reduce_only is True


def test_close_position_when_by_position_id_then_flat_and_close_order_filled(
    sim: RunningSim,
) -> None:
    async def scenario(client: BingXClient) -> tuple[OrderId, OrderReport, list[Any]]:
        await client.place_order(market(OrderSide.SELL, "0.004", "short"))
        position = await client.get_position(SYMBOL)
        assert position is not None
        assert position.direction is Direction.SHORT
        close_id = await client.close_position(position.position_id)
        close = await client.get_order(SYMBOL, order_id=close_id)
        return close_id, close, await client.get_all_positions(SYMBOL)

    close_id, close, positions = drive(sim, scenario)
    assert close.order_id == close_id
    assert close.side is OrderSide.BUY
    assert close.status is OrderStatus.FILLED
    assert close.filled_quantity == Decimal("0.004")
    assert positions == []


def test_close_all_positions_when_both_hedge_sides_open_then_both_closed(
    hedge_sim: RunningSim,
) -> None:
    async def scenario(client: BingXClient) -> tuple[int, list[OrderId], list[PositionReport]]:
        await client.place_order(market(OrderSide.BUY, "0.001", "l", PositionSide.LONG))
        await client.place_order(market(OrderSide.SELL, "0.002", "s", PositionSide.SHORT))
        opened = len(await client.get_all_positions(SYMBOL))
        ids = await client.close_all_positions(SYMBOL)
        return opened, ids, await client.get_all_positions(SYMBOL)

    opened, ids, remaining = drive(hedge_sim, scenario)
    assert opened == 2
    assert len(ids) == 2
    assert all(ids)
    assert remaining == []


def test_hedge_mode_when_long_and_short_opened_then_each_closed_by_its_position_side(
    hedge_sim: RunningSim,
) -> None:
    async def scenario(client: BingXClient) -> list[list[PositionReport]]:
        seen = []
        await client.place_order(market(OrderSide.BUY, "0.001", "hl", PositionSide.LONG))
        await client.place_order(market(OrderSide.SELL, "0.002", "hs", PositionSide.SHORT))
        seen.append(await client.get_all_positions(SYMBOL))
        await client.place_order(market(OrderSide.SELL, "0.001", "hl-x", PositionSide.LONG))
        seen.append(await client.get_all_positions(SYMBOL))
        await client.place_order(market(OrderSide.BUY, "0.002", "hs-x", PositionSide.SHORT))
        seen.append(await client.get_all_positions(SYMBOL))
        return seen

    both, short_only, none = drive(hedge_sim, scenario)
    sides = {p.direction: p for p in both}
    assert sides[Direction.LONG].quantity == Decimal("0.001")
    assert sides[Direction.SHORT].quantity == Decimal("0.002")
    assert sides[Direction.LONG].position_side is PositionSide.LONG
    assert sides[Direction.SHORT].position_side is PositionSide.SHORT
    assert all(not p.one_way for p in both)
    assert [(p.direction, p.quantity) for p in short_only] == [(Direction.SHORT, Decimal("0.002"))]
    assert none == []


def test_listen_key_when_created_extended_and_deleted_then_each_call_succeeds(
    sim: RunningSim,
) -> None:
    account = sim.simulator.exchange.accounts()[0]

    async def scenario(client: BingXClient) -> tuple[str, bool]:
        key = await client.create_listen_key()
        known = key in account.listen_keys
        await client.extend_listen_key(key)
        await client.delete_listen_key(key)
        return key, known

    key, known = drive(sim, scenario)
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert known
    assert account.listen_keys == {}


@pytest.mark.parametrize("status", [200, 204])
def test_extend_and_delete_listen_key_when_answered_with_no_body_then_succeed(
    status: int,
) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        return httpx.Response(status)

    async def scenario(client: BingXClient) -> None:
        await client.extend_listen_key("k" * 64)
        await client.delete_listen_key("k" * 64)

    drive_mock(handler, scenario)
    assert calls == ["PUT", "DELETE"]


def test_create_listen_key_when_key_unknown_then_authentication_failed(sim: RunningSim) -> None:
    async def scenario(client: BingXClient) -> str:
        return await client.create_listen_key()

    with pytest.raises(AuthenticationFailed):
        drive(sim, scenario, api_key="who-is-this")


# ---------------------------------------------------------------- the error tree
def test_request_when_secret_wrong_then_authentication_failed_without_retry(
    sim: RunningSim,
) -> None:
    sleep = RecordingSleep()

    async def scenario(client: BingXClient) -> Balance:
        return await client.get_balance()

    with pytest.raises(AuthenticationFailed) as caught:
        drive(sim, scenario, secret="not-the-secret", sleep=sleep)
    assert caught.value.code == 100001
    assert requests_seen(sim) == 1
    assert sleep.delays == []
    assert "BINGX_API_SECRET" in caught.value.fix


def test_request_when_key_unknown_then_authentication_failed(sim: RunningSim) -> None:
    async def scenario(client: BingXClient) -> Balance:
        return await client.get_balance()

    with pytest.raises(AuthenticationFailed) as caught:
        drive(sim, scenario, api_key="unknown-key")
    assert caught.value.code == 100413


def test_read_when_timestamp_stale_then_client_resyncs_and_succeeds(sim: RunningSim) -> None:
    async def scenario(client: BingXClient) -> tuple[Balance, int]:
        client.clock.offset_ms -= 60_000
        balance = await client.get_balance()
        return balance, client.clock.offset_ms

    balance, offset = drive(sim, scenario)
    assert balance.balance == Decimal(1000)
    assert offset == 0
    assert requests_seen(sim) == 3  # refused, server time, accepted


def test_write_when_timestamp_in_the_future_then_resyncs_and_places_exactly_once(
    sim: RunningSim,
) -> None:
    async def scenario(client: BingXClient) -> OrderReport:
        client.clock.offset_ms += 60_000
        return await client.place_order(market(OrderSide.BUY, "0.001", "late"))

    report = drive(sim, scenario)
    assert report.status is OrderStatus.FILLED
    assert orders_placed(sim) == 1
    assert requests_seen(sim) == 3


def test_request_when_timestamp_refused_even_after_resync_then_clock_skew() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path.endswith("/server/time"):
            return httpx.Response(200, json={"code": 0, "data": {"serverTime": 1}})
        return httpx.Response(200, json={"code": 100421, "msg": "timestamp mismatch"})

    async def scenario(client: BingXClient) -> Balance:
        return await client.get_balance()

    with pytest.raises(ClockSkew) as caught:
        drive_mock(handler, scenario)
    assert [path.rsplit("/", 1)[-1] for path in calls] == ["balance", "time", "balance"]
    assert "NTP" in caught.value.fix


@pytest.mark.parametrize(("kind", "retry_after_s"), [("rate_limit", 1.0), ("http_429", 5.0)])
def test_read_when_rate_limited_every_time_then_rate_limited_after_bounded_retries(
    sim: RunningSim, kind: str, retry_after_s: float
) -> None:
    sleep = RecordingSleep()
    schedule(sim, kind, count=3, path="user/balance")

    async def scenario(client: BingXClient) -> Balance:
        return await client.get_balance()

    with pytest.raises(RateLimited) as caught:
        drive(sim, scenario, sleep=sleep)
    assert caught.value.retry_after_s == retry_after_s
    assert requests_seen(sim) == 3
    assert sleep.delays == [retry_after_s, retry_after_s]


def test_read_when_rate_limited_twice_then_third_attempt_succeeds(sim: RunningSim) -> None:
    sleep = RecordingSleep()
    schedule(sim, "rate_limit", count=2, path="user/balance")

    async def scenario(client: BingXClient) -> Balance:
        return await client.get_balance()

    assert drive(sim, scenario, sleep=sleep).balance == Decimal(1000)
    assert requests_seen(sim) == 3
    assert sleep.delays == [1.0, 1.0]


@pytest.mark.parametrize("kind", ["rate_limit", "http_429"])
def test_write_when_rate_limited_then_rate_limited_at_once_without_retry(
    sim: RunningSim, kind: str
) -> None:
    sleep = RecordingSleep()
    schedule(sim, kind, path="trade/order")

    async def scenario(client: BingXClient) -> OrderReport:
        return await client.place_order(market(OrderSide.BUY, "0.001", "limited"))

    with pytest.raises(RateLimited):
        drive(sim, scenario, sleep=sleep)
    assert requests_seen(sim) == 1
    assert sleep.delays == []
    assert orders_placed(sim) == 0


def test_read_when_bingx_names_the_unblock_time_then_backs_off_until_exactly_then() -> None:
    now = 1_700_000_000_000
    answers = [
        {"code": 100410, "msg": f"in the disabled period and will be unblocked after {now + 2500}"},
        {"code": 0, "msg": "", "data": {"serverTime": now}},
    ]
    sleep = RecordingSleep()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answers.pop(0))

    async def scenario(client: BingXClient) -> int:
        return await client.server_time()

    assert drive_mock(handler, scenario, sleep=sleep) == now
    assert sleep.delays == [2.5]


def test_read_when_http_429_carries_retry_after_then_waits_that_long() -> None:
    answers = [
        httpx.Response(429, headers={"Retry-After": "7"}, text="slow down"),
        httpx.Response(200, json={"code": 0, "msg": "", "data": {"serverTime": 5}}),
    ]
    sleep = RecordingSleep()

    async def scenario(client: BingXClient) -> int:
        return await client.server_time()

    assert drive_mock(lambda request: answers.pop(0), scenario, sleep=sleep) == 5
    assert sleep.delays == [7.0]


def test_place_order_when_margin_insufficient_then_insufficient_margin(sim: RunningSim) -> None:
    async def scenario(client: BingXClient) -> OrderReport:
        return await client.place_order(market(OrderSide.BUY, "1", "too-big"))

    with pytest.raises(InsufficientMargin, match="101204"):
        drive(sim, scenario)
    assert requests_seen(sim) == 1


@pytest.mark.parametrize(
    ("code", "msg"),
    [
        (101400, "The minimum order amount is 0.0001 BTC."),
        (110425, "the minimum nominal value of the order placed must be greater than 2u"),
    ],
)
def test_place_order_when_below_exchange_minimum_then_below_exchange_minimum(
    sim: RunningSim, code: int, msg: str
) -> None:
    sim.admin("orders/reject", {"count": 1, "code": code, "msg": msg})

    async def scenario(client: BingXClient) -> OrderReport:
        return await client.place_order(market(OrderSide.BUY, "0.0001", "tiny"))

    with pytest.raises(BelowExchangeMinimum, match=str(code)):
        drive(sim, scenario)


def test_place_order_when_quantity_off_the_step_grid_then_invalid_order(sim: RunningSim) -> None:
    async def scenario(client: BingXClient) -> OrderReport:
        return await client.place_order(market(OrderSide.BUY, "0.00015", "off-grid"))

    with pytest.raises(InvalidOrder, match="109400"):
        drive(sim, scenario)


@pytest.mark.parametrize("how", ["order_id", "client_order_id"])
def test_get_order_when_unknown_then_order_not_found(sim: RunningSim, how: str) -> None:
    async def scenario(client: BingXClient) -> OrderReport:
        if how == "order_id":
            return await client.get_order(SYMBOL, order_id=OrderId("123456789"))
        return await client.get_order(SYMBOL, client_order_id="never-sent")

    with pytest.raises(OrderNotFound) as caught:
        drive(sim, scenario)
    assert caught.value.code == 80016


def test_cancel_order_when_unknown_then_order_not_found(sim: RunningSim) -> None:
    async def scenario(client: BingXClient) -> OrderReport:
        return await client.cancel_order(SYMBOL, client_order_id="never-sent")

    with pytest.raises(OrderNotFound):
        drive(sim, scenario)


def test_read_when_gateway_answers_5xx_every_time_then_temporary_error_after_retries(
    sim: RunningSim,
) -> None:
    sleep = RecordingSleep()
    schedule(sim, "http_5xx", count=3, path="user/positions")

    async def scenario(client: BingXClient) -> list[PositionReport]:
        return await client.get_all_positions()

    with pytest.raises(TemporaryError, match="502"):
        drive(sim, scenario, sleep=sleep)
    faults = sim.state()["faults"]
    assert faults["requests"] == 3
    assert faults["injected"] == {"http_5xx": 3}
    assert sleep.delays == [0.5, 1.0]  # exponential backoff


def test_read_when_busy_once_then_retried_and_succeeds(sim: RunningSim) -> None:
    sleep = RecordingSleep()
    schedule(sim, "busy", path="user/balance")

    async def scenario(client: BingXClient) -> Balance:
        return await client.get_balance()

    assert drive(sim, scenario, sleep=sleep).balance == Decimal(1000)
    assert requests_seen(sim) == 2
    assert sleep.delays == [0.5]


def test_write_when_busy_then_outcome_unknown_without_retry(sim: RunningSim) -> None:
    # "busy" or "rpc timeout" on a write may still have executed it: the caller must look
    # the order up by its client id before anything else, so the client never retries.
    sleep = RecordingSleep()
    schedule(sim, "busy", path="trade/order")

    async def scenario(client: BingXClient) -> OrderReport:
        return await client.place_order(market(OrderSide.BUY, "0.001", "busy"))

    with pytest.raises(OutcomeUnknown) as caught:
        drive(sim, scenario, sleep=sleep)
    assert caught.value.client_order_id == "busy"
    assert isinstance(caught.value.__cause__, TemporaryError)
    assert caught.value.__cause__.code == 100500
    assert requests_seen(sim) == 1
    assert sleep.delays == []


def test_write_when_gateway_answers_5xx_then_outcome_unknown_with_client_order_id(
    sim: RunningSim,
) -> None:
    sleep = RecordingSleep()
    schedule(sim, "http_5xx", path="trade/order")

    async def scenario(client: BingXClient) -> OrderReport:
        return await client.place_order(market(OrderSide.BUY, "0.001", "Gateway-1"))

    with pytest.raises(OutcomeUnknown) as caught:
        drive(sim, scenario, sleep=sleep)
    assert caught.value.client_order_id == "gateway-1"
    assert isinstance(caught.value.__cause__, TemporaryError)
    assert requests_seen(sim) == 1
    assert sleep.delays == []


def test_write_when_answer_times_out_then_outcome_unknown_and_the_order_executed(
    sim: RunningSim,
) -> None:
    sim.admin("faults", {"timeout_s": 2})
    schedule(sim, "timeout", path="trade/order")

    async def scenario(client: BingXClient) -> tuple[OutcomeUnknown, OrderReport | None]:
        try:
            await client.place_order(market(OrderSide.BUY, "0.001", "slow-1"))
        except OutcomeUnknown as e:
            return e, await client.find_order(SYMBOL, "slow-1")
        raise AssertionError("the write did not time out")

    error, found = drive(sim, scenario, timeouts=Timeouts(write_s=0.5))
    assert error.client_order_id == "slow-1"
    assert isinstance(error.__cause__, httpx.ReadTimeout)
    assert found is not None
    assert found.status is OrderStatus.FILLED
    assert orders_placed(sim) == 1


def test_read_when_answer_times_out_once_then_retried_and_succeeds(sim: RunningSim) -> None:
    sleep = RecordingSleep()
    sim.admin("faults", {"timeout_s": 2})
    schedule(sim, "timeout", path="user/balance")

    async def scenario(client: BingXClient) -> Balance:
        return await client.get_balance()

    balance = drive(sim, scenario, sleep=sleep, timeouts=Timeouts(read_s=0.5))
    assert balance.balance == Decimal(1000)
    assert sleep.delays == [0.5]


def _not_json(calls: list[httpx.Request]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, text="<html>maintenance</html>")

    return handler


def test_read_when_answer_is_not_json_then_temporary_error_after_retries() -> None:
    calls: list[httpx.Request] = []
    sleep = RecordingSleep()

    async def scenario(client: BingXClient) -> Balance:
        return await client.get_balance()

    with pytest.raises(TemporaryError, match="not JSON"):
        drive_mock(_not_json(calls), scenario, sleep=sleep)
    assert len(calls) == 3
    assert sleep.delays == [0.5, 1.0]


def test_write_when_answer_is_not_json_then_outcome_unknown_after_one_attempt() -> None:
    calls: list[httpx.Request] = []

    async def scenario(client: BingXClient) -> OrderReport:
        return await client.place_order(market(OrderSide.BUY, "0.001", "Garbled-1"))

    with pytest.raises(OutcomeUnknown) as caught:
        drive_mock(_not_json(calls), scenario)
    assert caught.value.client_order_id == "garbled-1"
    assert len(calls) == 1


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"unexpected": True}, id="no-envelope"),
        pytest.param(
            {"code": 0, "msg": "", "data": {"order": {"orderId": "1", "side": "BUY",
             "type": "MARKET", "status": "BRAND_NEW_STATUS"}}},
            id="unknown-status",
        ),
        pytest.param({"code": 0, "msg": "", "data": {}}, id="no-order"),
    ],
)  # fmt: skip
def test_write_when_executed_but_answer_unreadable_then_outcome_unknown(
    body: dict[str, Any],
) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json=body)

    async def scenario(client: BingXClient) -> OrderReport:
        return await client.place_order(market(OrderSide.BUY, "0.001", "Odd-1"))

    with pytest.raises(OutcomeUnknown) as caught:
        drive_mock(handler, scenario)
    assert caught.value.client_order_id == "odd-1"
    assert len(calls) == 1


def test_read_when_order_status_unknown_then_temporary_error_not_a_default() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        order = {"orderId": "1", "side": "BUY", "type": "MARKET", "status": "HALF_DONE"}
        return httpx.Response(200, json={"code": 0, "msg": "", "data": {"order": order}})

    async def scenario(client: BingXClient) -> OrderReport:
        return await client.get_order(SYMBOL, order_id=OrderId("1"))

    with pytest.raises(TemporaryError, match="HALF_DONE"):
        drive_mock(handler, scenario)


def test_private_call_when_no_credentials_then_setup_error_with_fix_and_nothing_sent() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={"code": 0, "data": []})

    async def scenario(client: BingXClient) -> Balance:
        return await client.get_balance()

    with pytest.raises(SetupError) as caught:
        drive_mock(handler, scenario, with_credentials=False)
    assert "BINGX_API_KEY" in caught.value.fix
    assert "BINGX_API_SECRET" in caught.value.fix
    assert calls == []


def test_public_call_when_no_credentials_then_works_unsigned(sim: RunningSim) -> None:
    async def scenario(client: BingXClient) -> Decimal:
        return await client.get_current_price(SYMBOL)

    assert drive(sim, scenario, with_credentials=False) == sim.price()


# ---------------------------------------------------------------- the lost answer
def test_place_order_when_executed_but_connection_cut_then_outcome_unknown_and_found_filled(
    sim: RunningSim,
) -> None:
    schedule(sim, "drop_after", path="trade/order")

    async def scenario(client: BingXClient) -> Any:
        try:
            await client.place_order(market(OrderSide.BUY, "0.005", "Lost-Answer-1"))
        except OutcomeUnknown as e:
            return (
                e,
                await client.find_order(SYMBOL, e.client_order_id or ""),
                (await client.get_all_positions(SYMBOL)),
            )
        raise AssertionError("the answer was not lost")

    error, found, positions = drive(sim, scenario)
    assert error.client_order_id == "lost-answer-1"
    assert isinstance(error.__cause__, httpx.TransportError)
    assert found is not None
    assert found.status is OrderStatus.FILLED
    assert found.filled_quantity == Decimal("0.005")
    assert [(p.direction, p.quantity) for p in positions] == [(Direction.LONG, Decimal("0.005"))]
    assert orders_placed(sim) == 1


def test_place_order_when_connection_cut_before_execution_then_resend_fills_exactly_once(
    sim: RunningSim,
) -> None:
    schedule(sim, "drop", path="trade/order")
    spec = market(OrderSide.BUY, "0.005", "Resend-Me-1")

    async def scenario(client: BingXClient) -> Any:
        try:
            await client.place_order(spec)
        except OutcomeUnknown as e:
            missing = await client.find_order(SYMBOL, e.client_order_id or "")
            assert missing is None
            resent = await client.place_order(spec)
            return e, resent, await client.get_all_positions(SYMBOL)
        raise AssertionError("the answer was not lost")

    error, resent, positions = drive(sim, scenario)
    assert error.client_order_id == "resend-me-1"
    assert resent.status is OrderStatus.FILLED
    assert resent.client_order_id == "resend-me-1"
    assert [(p.direction, p.quantity) for p in positions] == [(Direction.LONG, Decimal("0.005"))]
    assert orders_placed(sim) == 1


def test_place_order_when_client_order_id_already_used_then_duplicate_and_no_second_fill(
    sim: RunningSim,
) -> None:
    spec = market(OrderSide.BUY, "0.002", "once-only")

    async def scenario(client: BingXClient) -> list[PositionReport]:
        await client.place_order(spec)
        with pytest.raises(DuplicateClientOrderId, match="101481"):
            await client.place_order(market(OrderSide.BUY, "0.002", "ONCE-ONLY"))
        return await client.get_all_positions(SYMBOL)

    positions = drive(sim, scenario)
    assert [p.quantity for p in positions] == [Decimal("0.002")]
    assert orders_placed(sim) == 1
