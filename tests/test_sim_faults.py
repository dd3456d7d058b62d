"""Fault injection and market steering through the simulator's admin API, over real HTTP.

Every request-level fault is checked for what the client sees and for whether the request
reached the exchange (read back from `/sim/state`).  Time-based faults use a short
duration and `eventually()`, or a hand-driven wall clock; no test asserts an upper bound
on how long anything takes.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from adxbot.clock import ManualClock
from adxbot.sim.faults import FaultKind
from adxbot.sim.server import build_simulator, loopback_socket
from sim_support import (
    ORDER,
    SERVER_TIME,
    SWAP,
    SYMBOL,
    RunningSim,
    eventually,
    running_simulator,
    sim_options,
)

BALANCE = f"{SWAP}/v3/user/balance"
POSITIONS = f"{SWAP}/v2/user/positions"
OPEN_ORDERS = f"{SWAP}/v2/trade/openOrders"
CLOSE_ALL = f"{SWAP}/v2/trade/closeAllPositions"
CLOSE_ONE = f"{SWAP}/v1/trade/closePosition"
BUY = {"symbol": SYMBOL, "side": "BUY", "positionSide": "BOTH", "type": "MARKET"}


@pytest.fixture
def sim() -> Iterator[RunningSim]:
    with running_simulator() as running:
        yield running


def buy(sim: RunningSim, quantity: str = "0.001", **options: Any) -> httpx.Response:
    return sim.client.send("POST", ORDER, {**BUY, "quantity": quantity}, **options)


def orders_placed(sim: RunningSim) -> int:
    return len(sim.account_state()["orders"])


def schedule(sim: RunningSim, kind: FaultKind, count: int = 1, path: str = "trade/order") -> None:
    sim.admin("faults/schedule", {"kind": kind.value, "count": count, "path_contains": path})


def ok(answer: Any) -> Any:
    assert answer["code"] == 0, answer
    return answer["data"]


# ---------------------------------------------------------------- request faults
def test_http_5xx_fault_when_it_hits_an_order_then_502_html_and_not_executed(
    sim: RunningSim,
) -> None:
    schedule(sim, FaultKind.HTTP_5XX)
    response = buy(sim)
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert orders_placed(sim) == 0


def test_busy_fault_when_it_hits_an_order_then_100500_in_http_200_and_not_executed(
    sim: RunningSim,
) -> None:
    schedule(sim, FaultKind.BUSY)
    response = buy(sim)
    assert response.status_code == 200
    assert response.json()["code"] == 100500
    assert orders_placed(sim) == 0


def test_rate_limit_fault_when_it_hits_an_order_then_100410_and_not_executed(
    sim: RunningSim,
) -> None:
    schedule(sim, FaultKind.RATE_LIMIT)
    response = buy(sim)
    assert (response.status_code, response.json()["code"]) == (200, 100410)
    assert orders_placed(sim) == 0


def test_http_429_fault_when_it_hits_an_order_then_429_and_not_executed(sim: RunningSim) -> None:
    schedule(sim, FaultKind.HTTP_429)
    response = buy(sim)
    assert response.status_code == 429
    assert orders_placed(sim) == 0


def test_drop_fault_when_it_hits_an_order_then_transport_error_and_not_placed(
    sim: RunningSim,
) -> None:
    schedule(sim, FaultKind.DROP)
    with pytest.raises(httpx.TransportError):
        buy(sim)
    assert orders_placed(sim) == 0
    assert sim.account_state()["positions"] == []


def test_timeout_fault_when_it_hits_an_order_then_client_times_out_but_order_placed(
    sim: RunningSim,
) -> None:
    sim.admin("faults", {"timeout_s": 1.0})
    schedule(sim, FaultKind.TIMEOUT)
    with pytest.raises(httpx.TimeoutException):
        buy(sim, timeout=0.3)
    account = eventually(lambda: sim.account_state()["positions"] and sim.account_state())
    assert [p["positionAmt"] for p in account["positions"]] == ["0.001"]
    assert [o["status"] for o in account["orders"]] == ["FILLED"]


def test_drop_after_fault_when_it_hits_an_order_then_transport_error_but_order_placed(
    sim: RunningSim,
) -> None:
    schedule(sim, FaultKind.DROP_AFTER)
    with pytest.raises(httpx.TransportError):
        buy(sim)
    account = sim.account_state()
    assert [p["positionAmt"] for p in account["positions"]] == ["0.001"]


def test_faults_when_injected_then_counted_in_the_state_dump(sim: RunningSim) -> None:
    schedule(sim, FaultKind.BUSY, count=2)
    buy(sim)
    buy(sim)
    faults = sim.state()["faults"]
    assert faults["injected"] == {"busy": 2}
    assert faults["scheduled"] == []


# ---------------------------------------------------------------- schedules and rates
def test_scheduled_fault_when_path_does_not_match_then_request_unaffected(
    sim: RunningSim,
) -> None:
    schedule(sim, FaultKind.HTTP_5XX, count=1, path="trade/order")
    assert ok(sim.client.get(BALANCE))[0]["asset"] == "USDT"
    assert ok(sim.client.get(OPEN_ORDERS, {"symbol": SYMBOL})) == {"orders": []}
    assert buy(sim).status_code == 502


def test_scheduled_fault_when_count_is_n_then_only_the_next_n_matching_requests_fail(
    sim: RunningSim,
) -> None:
    schedule(sim, FaultKind.BUSY, count=2)
    codes = [buy(sim).json()["code"] for _ in range(3)]
    assert codes == [100500, 100500, 0]
    assert orders_placed(sim) == 1


def test_scheduled_faults_when_of_different_kinds_then_applied_in_order(sim: RunningSim) -> None:
    schedule(sim, FaultKind.HTTP_429)
    schedule(sim, FaultKind.BUSY)
    assert buy(sim).status_code == 429
    assert buy(sim).json()["code"] == 100500
    assert buy(sim).json()["code"] == 0


def test_scheduled_fault_when_it_targets_a_public_path_then_that_path_fails(
    sim: RunningSim,
) -> None:
    schedule(sim, FaultKind.HTTP_5XX, path="server/time")
    assert sim.client.http.get(SERVER_TIME).status_code == 502
    assert sim.client.http.get(SERVER_TIME).status_code == 200


def test_random_fault_rate_when_one_for_a_path_then_every_matching_request_fails(
    sim: RunningSim,
) -> None:
    sim.admin("faults", {"rates": {"busy": 1.0}, "path_contains": "trade/order"})
    assert [buy(sim).json()["code"] for _ in range(3)] == [100500] * 3
    assert ok(sim.client.get(BALANCE))
    sim.admin("faults/reset")
    assert buy(sim).json()["code"] == 0


def test_random_fault_rate_when_out_of_range_then_admin_refuses_it(sim: RunningSim) -> None:
    response = sim.admin_http.post("/sim/faults", json={"rates": {"busy": 1.5}})
    assert response.status_code == 422


def test_latency_when_configured_then_each_request_takes_at_least_that_long(
    sim: RunningSim,
) -> None:
    sim.admin("faults", {"latency_ms": 150})
    started = time.monotonic()
    answer = sim.client.http.get(SERVER_TIME)
    assert time.monotonic() - started >= 0.15
    assert answer.json()["code"] == 0


def test_reset_when_faults_are_armed_then_all_are_removed(sim: RunningSim) -> None:
    schedule(sim, FaultKind.HTTP_5XX, count=5)
    sim.admin("orders/reject", {"count": 3})
    sim.admin("closes/fail", {"count": 3})
    sim.admin("faults/reset")
    assert buy(sim).json()["code"] == 0
    assert ok(sim.client.post(CLOSE_ALL, {}))["success"]
    state = sim.state()
    assert state["order_faults"] == {"reject_orders": 0, "fail_closes": 0}


# ---------------------------------------------------------------- disconnects
def test_disconnect_when_short_then_requests_drop_and_recover_after_it(sim: RunningSim) -> None:
    sim.admin("disconnect", {"seconds": 0.5})
    with pytest.raises(httpx.TransportError):
        sim.client.http.get(SERVER_TIME)
    assert sim.state()["faults"]["disconnected"] is True  # the admin API stays reachable
    answer = eventually(lambda: sim.client.get(BALANCE), timeout=10)
    assert answer["code"] == 0


def test_disconnect_when_wall_clock_passes_its_end_then_requests_are_served_again() -> None:
    wall = ManualClock(1_700_000_000_000)
    with running_simulator(wall=wall) as sim:
        sim.admin("disconnect", {"seconds": 30})
        with pytest.raises(httpx.TransportError):
            sim.client.http.get(SERVER_TIME)
        wall.advance(29_999)
        with pytest.raises(httpx.TransportError):
            sim.client.http.get(SERVER_TIME)
        wall.advance(1)
        assert sim.client.http.get(SERVER_TIME).json()["code"] == 0


def test_disconnect_when_an_order_is_sent_then_it_is_not_placed() -> None:
    wall = ManualClock(1_700_000_000_000)
    with running_simulator(wall=wall) as sim:
        now = sim.client.server_time()
        sim.admin("disconnect", {"seconds": 5})
        with pytest.raises(httpx.TransportError):
            buy(sim, timestamp=now)
        assert orders_placed(sim) == 0


# ---------------------------------------------------------------- order-level faults
def test_reject_orders_when_armed_then_next_n_orders_get_the_chosen_code(sim: RunningSim) -> None:
    sim.admin("orders/reject", {"count": 2, "code": 101209, "msg": "max position value"})
    first, second, third = (buy(sim).json() for _ in range(3))
    assert (first["code"], first["msg"]) == (101209, "max position value")
    assert second["code"] == 101209
    assert third["code"] == 0
    assert orders_placed(sim) == 1


def test_reject_orders_when_armed_then_other_requests_and_invalid_orders_do_not_consume_it(
    sim: RunningSim,
) -> None:
    sim.admin("orders/reject", {"count": 1})
    assert ok(sim.client.get(BALANCE))
    invalid = buy(sim, quantity="0.00015").json()
    assert invalid["code"] == 109400
    assert buy(sim).json()["code"] == 101204  # the default rejection: insufficient margin
    assert buy(sim).json()["code"] == 0


def test_fail_closes_when_armed_then_close_all_fails_once_then_succeeds(sim: RunningSim) -> None:
    assert buy(sim, "0.002").json()["code"] == 0
    sim.admin("closes/fail", {"count": 1})
    failed = sim.client.post(CLOSE_ALL, {"symbol": SYMBOL})
    assert failed["code"] == 100500
    assert [p["positionAmt"] for p in sim.account_state()["positions"]] == ["0.002"]
    closed = ok(sim.client.post(CLOSE_ALL, {"symbol": SYMBOL}))
    assert len(closed["success"]) == 1
    assert sim.account_state()["positions"] == []


def test_fail_closes_when_armed_then_close_by_position_id_fails_too(sim: RunningSim) -> None:
    assert buy(sim).json()["code"] == 0
    position_id = ok(sim.client.get(POSITIONS))[0]["positionId"]
    sim.admin("closes/fail", {"count": 1})
    assert sim.client.post(CLOSE_ONE, {"positionId": position_id})["code"] == 100500
    assert ok(sim.client.post(CLOSE_ONE, {"positionId": position_id}))["positionId"] == position_id


# ---------------------------------------------------------------- clock and market
def test_pause_when_wall_time_passes_then_simulated_time_stands_still_until_resume() -> None:
    wall = ManualClock(1_700_000_000_000)
    with running_simulator(sim_options(speed=60.0), wall=wall) as sim:
        start = sim.client.server_time()
        wall.advance(1_000)
        assert sim.client.server_time() == start + 60_000
        paused = sim.admin("market/pause")
        assert paused == {"paused": True, "time_ms": start + 60_000}
        wall.advance(10_000)
        assert sim.client.server_time() == start + 60_000
        assert sim.state()["paused"] is True
        resumed = sim.admin("market/resume")
        assert resumed == {"paused": False, "time_ms": start + 60_000}
        wall.advance(500)
        assert sim.client.server_time() == start + 90_000


def test_resume_when_the_clock_is_stepped_only_then_it_stays_paused(sim: RunningSim) -> None:
    start = sim.client.server_time()
    assert sim.admin("market/resume")["paused"] is True
    assert sim.client.server_time() == start
    sim.step(1_000)
    assert sim.client.server_time() == start + 1_000


def test_step_when_clock_is_paused_then_moves_it_and_the_price_path(sim: RunningSim) -> None:
    before = sim.price()
    answer = sim.step(100_000)
    assert answer["time_ms"] == sim.client.server_time()
    assert Decimal(answer["price"]) == sim.price()
    assert sim.price() != before


def test_step_when_not_positive_then_admin_refuses_it(sim: RunningSim) -> None:
    assert sim.admin_http.post("/sim/clock/step", json={"ms": 0}).status_code == 422


def test_jump_when_price_gaps_through_a_stop_then_fills_at_the_gapped_price(
    sim: RunningSim,
) -> None:
    price = sim.price()
    assert buy(sim, "0.002").json()["code"] == 0
    stop = Decimal(price - 500)
    placed = sim.client.place(
        side="SELL",
        positionSide="BOTH",
        type="STOP_MARKET",
        quantity="0.002",
        reduceOnly="true",
        stopPrice=str(stop),
    )
    stop_id = ok(placed)["order"]["orderId"]

    gapped = Decimal(sim.jump(-5)["price"])

    assert gapped == (price * Decimal("0.95")).quantize(Decimal("0.1"))
    assert sim.account_state()["positions"] == []
    filled = ok(sim.client.get(ORDER, {"symbol": SYMBOL, "orderId": stop_id}))["order"]
    assert filled["status"] == "FILLED"
    assert Decimal(filled["avgPrice"]) == gapped
    assert Decimal(filled["avgPrice"]) < stop
    assert Decimal(filled["profit"]) == (gapped - price) * Decimal("0.002")


def test_jump_when_stepped_on_then_the_path_stays_scaled(sim: RunningSim) -> None:
    market = sim.simulator.exchange.market
    now = sim.now_ms()
    raw_later = market.price_at(now + 60_000)
    sim.jump(10)
    sim.step(60_000)
    assert sim.price() == (raw_later * Decimal("1.1")).quantize(Decimal("0.1"))


def test_jump_when_it_would_make_prices_non_positive_then_admin_refuses_it(
    sim: RunningSim,
) -> None:
    assert sim.admin_http.post("/sim/market/jump", json={"percent": -100}).status_code == 422


# ---------------------------------------------------------------- admin access
async def _admin_status(app: Any, client: tuple[str, int], method: str, path: str) -> int:
    transport = httpx.ASGITransport(app=app, client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        response = await http.request(method, path, json={} if method == "POST" else None)
        return response.status_code


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/sim/state"),
        ("POST", "/sim/faults/reset"),
        ("POST", "/sim/market/pause"),
        ("POST", "/sim/orders/reject"),
    ],
)
def test_admin_api_when_client_is_not_loopback_then_403(method: str, path: str) -> None:
    app = build_simulator(sim_options()).app
    assert asyncio.run(_admin_status(app, ("10.0.0.1", 1234), method, path)) == 403


def test_admin_api_when_client_is_loopback_then_served() -> None:
    app = build_simulator(sim_options()).app
    assert asyncio.run(_admin_status(app, ("127.0.0.1", 1234), "GET", "/sim/state")) == 200


def test_bingx_api_when_client_is_not_loopback_then_still_served() -> None:
    app = build_simulator(sim_options()).app
    assert asyncio.run(_admin_status(app, ("10.0.0.1", 1234), "GET", SERVER_TIME)) == 200


def test_admin_commands_when_served_then_never_run_beside_bingx_requests(
    sim: RunningSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Admin routes must run on the event loop like BingX handlers, not in a worker thread."""
    exchange = sim.simulator.exchange
    threads: list[str] = []
    sync = exchange.sync

    def recording_sync() -> None:
        threads.append(threading.current_thread().name)
        sync()

    monkeypatch.setattr(exchange, "sync", recording_sync)
    assert ok(sim.client.get(BALANCE))
    sim.step(1_000)
    sim.state()
    sim.admin("market/pause")
    sim.jump(1)
    assert ok(sim.client.get(POSITIONS)) == []
    assert len(threads) >= 5
    assert set(threads) == {f"adxbot-sim-{sim.thread.port}"}


# ---------------------------------------------------------------- transport
def test_loopback_socket_when_serving_then_connections_disable_nagle() -> None:
    """Without TCP_NODELAY each answer waits for the client's delayed ACK (~40 ms)."""

    async def accepted_nodelay() -> int:
        loop = asyncio.get_running_loop()
        seen: asyncio.Future[int] = loop.create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        listener = loopback_socket()
        server = await loop.create_server(Probe, sock=listener)
        async with server:
            port = listener.getsockname()[1]
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            result = await asyncio.wait_for(seen, timeout=5)
            writer.close()
            await writer.wait_closed()
        return result

    assert asyncio.run(accepted_nodelay()) != 0
