"""`RateLimiter` on a fake clock, and the client's limits against the simulator's.

The unit tests drive the limiter with an injected monotonic clock that only the fake
`sleep` advances, record the fake time of every granted slot, and check the recorded
times against each rule's window.  The simulator tests switch the simulator's own per-key
limits on and check that a burst through one client never draws a 100410 answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest
from pydantic import SecretStr

from adxbot.clock import ManualClock
from adxbot.domain.enums import OrderSide, OrderType
from adxbot.domain.ids import ClientOrderId
from adxbot.exchange.client import BingXClient
from adxbot.exchange.credentials import Credentials
from adxbot.exchange.orders import OrderSpec
from adxbot.exchange.rate_limits import (
    ACCOUNT_IP,
    MARKET_IP,
    ORDER_PER_ACCOUNT,
    PRIVATE_PER_ACCOUNT,
    RateLimiter,
    Rule,
)
from adxbot.exchange.server_clock import ServerClock
from adxbot.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET
from sim_support import SYMBOL, RunningSim, running_simulator, sim_options

T = TypeVar("T")

PLACE_ORDER_RULES = (ACCOUNT_IP, ORDER_PER_ACCOUNT)
PLACE_ORDER_PATH = "/openApi/swap/v2/trade/order"


class FakeTime:
    """A monotonic clock that moves only when the limiter sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        target = self.now + delay
        await asyncio.sleep(0)  # let other waiters run, as a real sleep would
        self.now = max(self.now, target)


def granted_times(
    time: FakeTime, requests: Sequence[tuple[tuple[Rule, ...], str]], margin_s: float = 0.0
) -> list[tuple[float, str]]:
    """Acquire every (rules, scope) concurrently; return (fake time, scope) per grant.

    The safety margin is off unless asked for, so the windows are exactly BingX's.
    """
    limiter = RateLimiter(monotonic=time.monotonic, sleep=time.sleep, margin_s=margin_s)
    grants: list[tuple[float, str]] = []

    async def one(rules: tuple[Rule, ...], scope: str) -> None:
        await limiter.acquire(rules, scope)
        grants.append((time.now, scope))

    async def main() -> None:
        await asyncio.gather(*(one(rules, scope) for rules, scope in requests))

    asyncio.run(main())
    return grants


def most_in_any_window(times: Sequence[float], period_s: float) -> int:
    """Return the largest number of times inside any half-open window of `period_s`."""
    ordered = sorted(times)
    most = 0
    for i, start in enumerate(ordered):
        inside = sum(1 for t in ordered[i:] if t < start + period_s)
        most = max(most, inside)
    return most


# ---------------------------------------------------------------- the limiter alone
def test_acquire_when_50_place_orders_burst_then_never_more_than_10_in_any_second() -> None:
    time = FakeTime()
    grants = granted_times(time, [(PLACE_ORDER_RULES, PLACE_ORDER_PATH)] * 50)
    times = [t for t, _ in grants]
    assert len(times) == 50
    assert most_in_any_window(times, ORDER_PER_ACCOUNT.period_s) == ORDER_PER_ACCOUNT.limit
    assert most_in_any_window(times, ACCOUNT_IP.period_s) <= ACCOUNT_IP.limit
    assert times[:10] == [0.0] * 10  # the first ten go at once
    assert max(times) == pytest.approx(4.0)  # and no slot is wasted after that


def test_acquire_when_burst_exceeds_the_ip_rule_then_never_more_than_its_limit_per_window() -> None:
    time = FakeTime()
    # 2 500 requests spread over 250 endpoints: the per-endpoint rule (10/s) never binds,
    # the shared per-IP rule (2 000 per 10 s) does.
    requests = [(PLACE_ORDER_RULES, f"/endpoint/{n % 250}") for n in range(2_500)]
    grants = granted_times(time, requests)
    times = [t for t, _ in grants]
    assert len(times) == 2_500
    assert most_in_any_window(times, ACCOUNT_IP.period_s) == ACCOUNT_IP.limit
    for scope in {s for _, s in grants}:
        scoped = [t for t, s in grants if s == scope]
        assert most_in_any_window(scoped, ORDER_PER_ACCOUNT.period_s) <= ORDER_PER_ACCOUNT.limit
    assert min(t for t in times if t > 0) == pytest.approx(ACCOUNT_IP.period_s)


def test_acquire_when_per_endpoint_rule_then_each_scope_has_its_own_window() -> None:
    time = FakeTime()
    rules = (PRIVATE_PER_ACCOUNT,)
    grants = granted_times(time, [(rules, "/a")] * 5 + [(rules, "/b")] * 5)
    assert [t for t, _ in grants] == [0.0] * 10
    assert time.sleeps == []


def test_acquire_when_rule_is_shared_then_scopes_count_together() -> None:
    time = FakeTime()
    shared = Rule("shared", 3, 1.0)
    grants = granted_times(time, [((shared,), "/a"), ((shared,), "/b")] * 3)
    times = sorted(t for t, _ in grants)
    assert times == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]


def test_acquire_when_one_scope_waits_then_another_scope_is_not_held_up() -> None:
    time = FakeTime()
    rules = (PRIVATE_PER_ACCOUNT,)
    # "/a" is full after five; its sixth must wait a second, "/b" must not wait with it.
    grants = granted_times(time, [(rules, "/a")] * 6 + [(rules, "/b")])
    by_scope = {scope: [t for t, s in grants if s == scope] for scope in ("/a", "/b")}
    assert by_scope["/a"] == [0.0] * 5 + [1.0]
    assert by_scope["/b"] == [0.0]


def test_acquire_when_window_slides_then_a_slot_frees_exactly_one_period_after_use() -> None:
    time = FakeTime()
    rule = Rule("two per second", 2, 1.0)
    limiter = RateLimiter(monotonic=time.monotonic, sleep=time.sleep, margin_s=0.0)
    seen: list[float] = []

    async def main() -> None:
        for _ in range(2):
            await limiter.acquire((rule,))
            seen.append(time.now)
        time.now = 0.4
        await limiter.acquire((rule,))
        seen.append(time.now)

    asyncio.run(main())
    assert seen == [0.0, 0.0, 1.0]
    assert time.sleeps == [pytest.approx(0.6)]


def test_acquire_when_margin_set_then_each_window_is_held_that_much_longer() -> None:
    time = FakeTime()
    grants = granted_times(time, [(PLACE_ORDER_RULES, PLACE_ORDER_PATH)] * 21, margin_s=0.1)
    times = [t for t, _ in grants]
    assert times == [0.0] * 10 + [pytest.approx(1.1)] * 10 + [pytest.approx(2.2)]


def test_limiter_when_built_with_defaults_then_keeps_a_safety_margin() -> None:
    time = FakeTime()
    limiter = RateLimiter(monotonic=time.monotonic, sleep=time.sleep)

    async def main() -> None:
        for _ in range(ORDER_PER_ACCOUNT.limit + 1):
            await limiter.acquire(PLACE_ORDER_RULES, PLACE_ORDER_PATH)

    asyncio.run(main())
    assert len(time.sleeps) == 1
    assert time.sleeps[0] > ORDER_PER_ACCOUNT.period_s


# ---------------------------------------------------------------- against the simulator
def drive(sim: RunningSim, scenario: Callable[[BingXClient], Awaitable[T]]) -> T:
    async def main() -> T:
        async with httpx.AsyncClient() as http:
            client = BingXClient(
                http,
                sim.base_url,
                ServerClock(ManualClock(sim.now_ms())),
                Credentials(DEFAULT_API_KEY, SecretStr(DEFAULT_API_SECRET)),
            )
            return await scenario(client)

    return asyncio.run(main())


@pytest.fixture
def limited_sim() -> Iterator[RunningSim]:
    with running_simulator(sim_options(rate_limits=True, balance=Decimal(100_000))) as sim:
        yield sim


def test_place_order_when_50_concurrent_through_one_client_then_none_rate_limited(
    limited_sim: RunningSim,
) -> None:
    async def scenario(client: BingXClient) -> list[Any]:
        specs = [
            OrderSpec(
                SYMBOL,
                OrderSide.BUY if n % 2 == 0 else OrderSide.SELL,
                OrderType.MARKET,
                ClientOrderId(f"burst-{n}"),
                Decimal("0.001"),
            )
            for n in range(50)
        ]
        return await asyncio.gather(*(client.place_order(s) for s in specs))

    reports = drive(limited_sim, scenario)
    assert len(reports) == 50
    assert len(limited_sim.account_state()["orders"]) == 50


def test_cancel_all_orders_when_12_concurrent_then_none_rate_limited(
    limited_sim: RunningSim,
) -> None:
    # BingX allows cancel-all 5 times a second (spec §5.0 #22), not 10 like placing.
    async def scenario(client: BingXClient) -> list[Any]:
        return await asyncio.gather(*(client.cancel_all_orders(SYMBOL) for _ in range(12)))

    assert drive(limited_sim, scenario) == [[]] * 12


def test_close_all_positions_when_12_concurrent_then_none_rate_limited(
    limited_sim: RunningSim,
) -> None:
    # closeAllPositions is limited to 5 requests a second per account (spec §5.0 #26).
    async def scenario(client: BingXClient) -> list[Any]:
        return await asyncio.gather(*(client.close_all_positions(SYMBOL) for _ in range(12)))

    assert drive(limited_sim, scenario) == [[]] * 12


def test_listen_key_when_created_repeatedly_then_none_rate_limited(
    limited_sim: RunningSim,
) -> None:
    # The user-data-stream endpoint allows 2 requests a second (spec §5.25).
    async def scenario(client: BingXClient) -> list[str]:
        return await asyncio.gather(*(client.create_listen_key() for _ in range(5)))

    assert len(set(drive(limited_sim, scenario))) == 5


def test_klines_when_requested_in_a_burst_then_no_request_needs_a_retry(
    limited_sim: RunningSim,
) -> None:
    # Klines v3 are limited to 5 requests a second (spec §8), far below the market group.
    async def scenario(client: BingXClient) -> list[Any]:
        return await asyncio.gather(*(client.klines(SYMBOL, "5m", limit=5) for _ in range(12)))

    assert [len(k) for k in drive(limited_sim, scenario)] == [5] * 12
    assert limited_sim.state()["faults"]["requests"] == 12


def test_market_rule_when_declared_then_matches_the_documented_ip_group() -> None:
    assert (MARKET_IP.limit, MARKET_IP.period_s) == (500, 10.0)
    assert (ACCOUNT_IP.limit, ACCOUNT_IP.period_s) == (2000, 10.0)
    assert (ORDER_PER_ACCOUNT.limit, ORDER_PER_ACCOUNT.period_s) == (10, 1.0)
    assert (PRIVATE_PER_ACCOUNT.limit, PRIVATE_PER_ACCOUNT.period_s) == (5, 1.0)
