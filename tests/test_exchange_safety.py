"""The client's fail-safe rules for writes, waits and broken answers."""

from __future__ import annotations

import asyncio
import json
import socket
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr

from adxbot.clock import ManualClock
from adxbot.domain.enums import OrderSide, OrderType
from adxbot.domain.ids import ClientOrderId
from adxbot.exchange.client import BingXClient
from adxbot.exchange.credentials import Credentials, load_credentials
from adxbot.exchange.errors import NotSent, OutcomeUnknown, RateLimited, TemporaryError
from adxbot.exchange.orders import OrderSpec
from adxbot.exchange.server_clock import ServerClock

NOW_MS = 1_700_000_000_000


class NoSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def client_for(http: httpx.AsyncClient, base_url: str, sleep: NoSleep) -> BingXClient:
    credentials = Credentials("key-1234", SecretStr("secret-abcdefgh"))
    return BingXClient(http, base_url, ServerClock(ManualClock(NOW_MS)), credentials, sleep=sleep)


def buy() -> OrderSpec:
    return OrderSpec(
        "BTC-USDT", OrderSide.BUY, OrderType.MARKET, ClientOrderId("safe-1"), Decimal("0.001")
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_write_when_no_connection_can_be_made_then_not_sent_so_retry_is_safe() -> None:
    sleep = NoSleep()

    async def main() -> None:
        async with httpx.AsyncClient() as http:
            await client_for(http, f"http://127.0.0.1:{closed_port()}", sleep).place_order(buy())

    with pytest.raises(NotSent):
        asyncio.run(main())
    assert sleep.delays == []  # writes are never retried by the client itself


def test_read_when_bingx_names_an_unblock_time_beyond_max_wait_then_raises_at_once() -> None:
    sleep = NoSleep()
    unblock = NOW_MS + 300_000  # five minutes: longer than the 30 s a read may wait

    def handler(request: httpx.Request) -> httpx.Response:
        msg = f"in the disabled period and will be unblocked after {unblock}"
        return httpx.Response(200, json={"code": 100410, "msg": msg, "data": {}})

    async def main() -> None:
        transport = httpx.MockTransport(handler)
        async with httpx.AsyncClient(transport=transport) as http:
            await client_for(http, "https://bingx.test", sleep).get_balance()

    with pytest.raises(RateLimited) as caught:
        asyncio.run(main())
    assert caught.value.unblocked_at_ms == unblock
    assert sleep.delays == []


def test_read_when_bingx_names_a_near_unblock_time_then_waits_exactly_until_it() -> None:
    sleep = NoSleep()
    answers = iter(
        [
            {"code": 100410, "msg": f"will be unblocked after {NOW_MS + 2_500}", "data": {}},
            {"code": 0, "msg": "", "data": {"serverTime": NOW_MS}},
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=next(answers))

    async def main() -> int:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            return await client_for(http, "https://bingx.test", sleep).server_time()

    assert asyncio.run(main()) == NOW_MS
    assert sleep.delays == [2.5]


def test_read_when_a_required_field_is_missing_then_temporary_error_not_key_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        row = {"asset": "USDT", "balance": "1"}  # no equity, margins...
        return httpx.Response(200, content=json.dumps({"code": 0, "msg": "", "data": [row]}))

    async def main() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            await client_for(http, "https://bingx.test", NoSleep()).get_balance()

    with pytest.raises(TemporaryError, match="lacks 'equity'"):
        asyncio.run(main())


def test_write_when_gateway_fails_then_outcome_unknown_names_the_client_order_id() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>bad gateway</html>")

    async def main() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            await client_for(http, "https://bingx.test", NoSleep()).place_order(buy())

    with pytest.raises(OutcomeUnknown) as caught:
        asyncio.run(main())
    assert caught.value.client_order_id == "safe-1"


def test_load_credentials_then_key_and_secret_are_redacted_from_logs_at_once() -> None:
    from adxbot.logsetup import redact

    canary = "canary-secret-0123456789"
    credentials = load_credentials(
        {"BINGX_API_KEY": "canary-key-abc", "BINGX_API_SECRET": canary}, ()
    )
    assert credentials is not None
    assert canary not in redact(f"signed with {canary}")
    assert "canary-key-abc" not in redact("key canary-key-abc")
    assert canary not in repr(credentials)
