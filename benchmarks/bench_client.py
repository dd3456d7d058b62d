"""The BingX client's own cost per signed request, with the network taken out.

Run: uv run python benchmarks/bench_client.py [--calls 5000] [--runs 5]

`BingXClient` runs on `httpx.AsyncClient(transport=httpx.MockTransport(handler))`; the
handler returns a canned BingX answer at once (built once, as bytes), so what is timed is
everything adxbot and httpx do for one call: the rate limiter's bookkeeping (on a fake
monotonic clock that moves 1 s per call, so no rule ever waits), building and
percent-encoding the parameters, the timestamp from the server clock, HMAC-SHA256
signing, httpx building the request and response, JSON parsing, the envelope check and
the translation into typed values.  Rows:

* `get_balance`: `GET /openApi/swap/v3/user/balance`, a signed read with no parameters;
* `place_order`: `POST /openApi/swap/v2/trade/order`, a signed write: a market entry with
  attached stop-loss and take-profit JSON, answered with the full order shape;
* httpx alone: `AsyncClient.get` on the same transport and answer, no adxbot code, so
  the difference is adxbot's part.

Each row makes `--calls` sequential calls in one event loop with the garbage collector
paused (as `timeit` does); the figure is the median over `--runs` runs of the mean time
per call.  "Signing" is `signed_query` (the signed
string, HMAC-SHA256, percent-encoding, the `signature` parameter) over exactly the
parameters the client sends, timed on its own the same number of times; its share is
signing time / call time.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal

import httpx
from pydantic import SecretStr

from adxbot.clock import WallClock
from adxbot.domain.enums import OrderSide, OrderType
from adxbot.domain.ids import ClientOrderId
from adxbot.exchange.client import BingXClient
from adxbot.exchange.credentials import Credentials
from adxbot.exchange.orders import AttachedStop, OrderSpec
from adxbot.exchange.rate_limits import RateLimiter
from adxbot.exchange.server_clock import ServerClock
from adxbot.exchange.signing import signed_query

BASE_URL = "https://open-api.bingx.com"  # never contacted: the transport answers
KEY = "bench-api-key-0123456789abcdef0123456789abcdef0123456789abcdef0123"
SECRET = "bench-secret-fedcba9876543210fedcba9876543210fedcba9876543210fedc"

BALANCE = {
    "code": 0,
    "msg": "",
    "data": [
        {
            "userId": "1234567",
            "asset": "USDT",
            "balance": "1000.1234",
            "equity": "1003.5678",
            "unrealizedProfit": "3.4444",
            "realisedProfit": "12.5000",
            "availableMargin": "950.0000",
            "usedMargin": "53.5678",
            "freezedMargin": "0.0000",
            "shortUid": "7654321",
        }
    ],
}
ORDER = {
    "code": 0,
    "msg": "",
    "data": {
        "order": {
            "symbol": "BTC-USDT",
            "orderId": 1_809_187_459_263_062_016,
            "side": "BUY",
            "positionSide": "BOTH",
            "type": "MARKET",
            "origQty": "0.0100",
            "price": "0",
            "executedQty": "0.0100",
            "avgPrice": "97123.4",
            "cumQuote": "971.234",
            "stopPrice": "",
            "profit": "0",
            "commission": "-0.485617",
            "status": "FILLED",
            "time": "1732492800000",
            "updateTime": "1732492800012",
            "clientOrderId": "adxbot-bench-0",
            "clientOrderID": "adxbot-bench-0",
            "leverage": "5X",
            "takeProfit": {"type": "TAKE_PROFIT_MARKET", "stopPrice": 101008.3},
            "stopLoss": {"type": "STOP_MARKET", "stopPrice": 95180.9},
            "workingType": "MARK_PRICE",
            "onlyOnePosition": True,
            "reduceOnly": False,
            "timeInForce": "GTC",
        }
    },
}


def transport() -> httpx.MockTransport:
    """Answer instantly with the canned BingX answer of the path."""
    answers = {
        "/openApi/swap/v3/user/balance": json.dumps(BALANCE).encode(),
        "/openApi/swap/v2/trade/order": json.dumps(ORDER).encode(),
    }
    headers = {"content-type": "application/json"}

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=answers[request.url.path], headers=headers)

    return httpx.MockTransport(handle)


def never_waiting_limiter() -> RateLimiter:
    """A real limiter whose clock moves 1 s per request, so every window has room."""
    ticks = itertools.count(step=1.0)
    return RateLimiter(monotonic=lambda: next(ticks))


def order_specs(count: int) -> list[OrderSpec]:
    """Market entries with attached SL/TP, each with its own client order id."""
    stop = AttachedStop(OrderType.STOP_MARKET, Decimal("95180.9"))
    target = AttachedStop(OrderType.TAKE_PROFIT_MARKET, Decimal("101008.3"))
    return [
        OrderSpec(
            symbol="BTC-USDT",
            side=OrderSide.BUY,
            order_type=OrderType.MARKET,
            client_order_id=ClientOrderId(f"adxbot-bench-{i}"),
            quantity=Decimal("0.0100"),
            stop_loss=stop,
            take_profit=target,
        )
        for i in range(count)
    ]


async def time_calls(count: int, call: Callable[[int], Awaitable[object]]) -> float:
    """Return the mean seconds per call of `count` sequential calls (GC paused, as timeit)."""
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        for i in range(count):
            await call(i)
        return (time.perf_counter() - started) / count
    finally:
        gc.enable()


def time_signing(count: int, params: list[tuple[str, str]]) -> float:
    """Return the mean seconds of `signed_query` over `params` (plus a fresh timestamp)."""
    now = WallClock()
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        for _ in range(count):
            signed_query([*params, ("timestamp", str(now.now_ms()))], SECRET)
        return (time.perf_counter() - started) / count
    finally:
        gc.enable()


async def one_run(count: int) -> dict[str, float]:
    """Time every row once; return seconds per call by row name."""
    credentials = Credentials(KEY, SecretStr(SECRET))
    specs = order_specs(count)
    async with httpx.AsyncClient(transport=transport()) as http:
        client = BingXClient(
            http,
            BASE_URL,
            ServerClock(WallClock()),
            credentials,
            limiter=never_waiting_limiter(),
        )
        await client.get_balance()  # warm up: first-call imports and caches
        await client.place_order(specs[0])

        async def balance(_: int) -> object:
            return await client.get_balance()

        async def place(i: int) -> object:
            return await client.place_order(specs[i])

        async def raw(_: int) -> object:
            return (await http.get(f"{BASE_URL}/openApi/swap/v3/user/balance")).json()

        return {
            "get_balance": await time_calls(count, balance),
            "place_order": await time_calls(count, place),
            "httpx": await time_calls(count, raw),
            "sign get_balance": time_signing(count, []),
            "sign place_order": time_signing(count, specs[0].params()),
        }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=5000, help="calls per row and run")
    parser.add_argument("--runs", type=int, default=5, help="runs; the median is reported")
    args = parser.parse_args()

    runs = [asyncio.run(one_run(args.calls)) for _ in range(args.runs)]
    us = {name: statistics.median(run[name] for run in runs) * 1e6 for name in runs[0]}
    spread = {
        name: (min(run[name] for run in runs) * 1e6, max(run[name] for run in runs) * 1e6)
        for name in runs[0]
    }
    print(
        f"BingXClient per call, no network: {args.calls:,} calls a row, median of {args.runs} "
        f"runs (Python {platform.python_version()}, httpx {httpx.__version__}, "
        f"{platform.machine()})"
    )
    header = f"{'request':<46} {'µs/call':>8} {'(min–max)':>15} {'signing':>8} {'share':>6}"
    print(header)
    print("-" * len(header))
    for name, label in (
        ("get_balance", "get_balance (signed GET)"),
        ("place_order", "place_order (signed POST, attached SL/TP)"),
    ):
        sign = us[f"sign {name}"]
        low, high = spread[name]
        print(
            f"{label:<46} {us[name]:>8.1f} {f'({low:.1f}–{high:.1f})':>15} "
            f"{sign:>8.1f} {sign / us[name]:>6.1%}"
        )
    low, high = spread["httpx"]
    print(f"{'httpx alone: GET + .json() on the same answer':<46} {us['httpx']:>8.1f} "
          f"{f'({low:.1f}–{high:.1f})':>15}")  # fmt: skip
    own = us["get_balance"] - us["httpx"]
    print(f"adxbot's own part of a get_balance: {own:.1f} µs ({own / us['get_balance']:.0%})")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
