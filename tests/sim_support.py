"""Helpers shared by the simulator tests: a served simulator, a signing client, eventually().

- `running_simulator(options)` builds a simulator with `build_simulator` (by default on a
  stepped clock, speed 0, replaying the bundled sample, rate limits off) and serves it with
  `SimulatorThread` on a random loopback port.
- `SignedClient` signs exactly as shared/spec/bingx-api.md §3 says: `timestamp` from the
  simulator's `/server/time`, the parameters in the order given, values percent-encoded on
  the wire and raw in the signed string, `signature` last.
- `eventually(condition)` polls a condition instead of sleeping for state.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx
import pytest

from adxbot.clock import Clock
from adxbot.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET
from adxbot.sim.auth import sign
from adxbot.sim.server import SimOptions, Simulator, SimulatorThread, build_simulator

T = TypeVar("T")

SYMBOL = "BTC-USDT"
SWAP = "/openApi/swap"
ORDER = f"{SWAP}/v2/trade/order"
SERVER_TIME = f"{SWAP}/v2/server/time"
RECORDED_RESPONSES = (
    Path(__file__).resolve().parents[2] / "shared" / "spec" / "bingx-recorded" / "response.json"
)

ParamValue = str | int | float | Decimal | bool
Params = Mapping[str, ParamValue] | Sequence[tuple[str, ParamValue]]
Body = Literal["query", "form", "json"]


def sim_options(**overrides: Any) -> SimOptions:
    """Return deterministic test options: stepped clock, bundled sample, no rate limits."""
    values: dict[str, Any] = {"speed": 0.0, "rate_limits": False}
    values.update(overrides)
    return SimOptions(**values)


def wire_value(value: ParamValue) -> str:
    """Render a parameter value as BingX expects it: booleans as `true`/`false`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def signed_string(pairs: Sequence[tuple[str, str]]) -> str:
    """Return the string that gets signed: `k=v&...` with raw (unencoded) values."""
    return "&".join(f"{k}={v}" for k, v in pairs)


def encoded_query(pairs: Sequence[tuple[str, str]]) -> str:
    """Return the query string as sent: each value percent-encoded, keys as they are."""
    return "&".join(f"{k}={quote(v, safe='')}" for k, v in pairs)


def _pairs(params: Params | None) -> list[tuple[str, str]]:
    if params is None:
        return []
    items = params.items() if isinstance(params, Mapping) else params
    return [(k, wire_value(v)) for k, v in items]


class SignedClient:
    """A small synchronous BingX client on httpx that signs as the spec's §3 says."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = DEFAULT_API_KEY,
        secret: str = DEFAULT_API_SECRET,
        *,
        timeout: float = 10.0,
    ) -> None:
        self.api_key = api_key
        self.secret = secret
        self.http = httpx.Client(base_url=base_url, timeout=timeout)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def __enter__(self) -> SignedClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def server_time(self) -> int:
        """Return the simulator's clock (`GET /server/time`)."""
        answer = self.http.get(SERVER_TIME).json()
        assert answer["code"] == 0, answer
        return int(answer["data"]["serverTime"])

    def send(
        self,
        method: str,
        path: str,
        params: Params | None = None,
        *,
        timestamp: int | None = None,
        with_timestamp: bool = True,
        signed: bool = True,
        signature: str | None = None,
        body: Body = "query",
        api_key: str | Literal[False] | None = False,
        timeout: float | None = None,
    ) -> httpx.Response:
        """Send one request and return the raw response.

        `timestamp` None = the simulator's time (appended after the given parameters, unless
        the caller put `timestamp` among them); `signature` overrides the computed one;
        `body` puts every parameter into a form or JSON body instead of the query string
        (signed sorted a-z, as the official docs say for bodies); `api_key` False = the
        client's own key, None = send no key header.
        """
        pairs = _pairs(params)
        if with_timestamp and not any(k == "timestamp" for k, _ in pairs):
            stamp = self.server_time() if timestamp is None else timestamp
            pairs.append(("timestamp", str(stamp)))
        key = self.api_key if api_key is False else api_key
        headers = {"X-BX-APIKEY": key} if key is not None else {}
        extra: dict[str, Any] = {}
        if timeout is not None:
            extra["timeout"] = timeout
        if body == "query":
            if signed:
                pairs.append(("signature", signature or sign(signed_string(pairs), self.secret)))
            url = f"{path}?{encoded_query(pairs)}" if pairs else path
            return self.http.request(method, url, headers=headers, **extra)
        ordered = sorted(pairs)
        if signed:
            ordered.append(("signature", signature or sign(signed_string(ordered), self.secret)))
        if body == "form":
            content = encoded_query(ordered).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            content = json.dumps(dict(ordered)).encode()
            headers["Content-Type"] = "application/json"
        return self.http.request(method, path, headers=headers, content=content, **extra)

    def call(self, method: str, path: str, params: Params | None = None, **options: Any) -> Any:
        """Send a request and return its parsed JSON (error answers included)."""
        response = self.send(method, path, params, **options)
        assert response.status_code == 200, (response.status_code, response.text)
        return response.json()

    def data(self, method: str, path: str, params: Params | None = None, **options: Any) -> Any:
        """Send a request that must succeed (code 0) and return its `data`."""
        answer = self.call(method, path, params, **options)
        assert str(answer.get("code")) == "0", answer
        return answer["data"]

    def get(self, path: str, params: Params | None = None, **options: Any) -> Any:
        """GET and return the parsed JSON."""
        return self.call("GET", path, params, **options)

    def post(self, path: str, params: Params | None = None, **options: Any) -> Any:
        """POST and return the parsed JSON."""
        return self.call("POST", path, params, **options)

    def delete(self, path: str, params: Params | None = None, **options: Any) -> Any:
        """DELETE and return the parsed JSON."""
        return self.call("DELETE", path, params, **options)

    def place(self, **params: ParamValue) -> Any:
        """Place an order on BTC-USDT (one-way defaults) and return the parsed JSON."""
        values: dict[str, ParamValue] = {"symbol": SYMBOL}
        values.update(params)
        return self.post(ORDER, values)


@dataclass(slots=True)
class RunningSim:
    """A simulator served on loopback, with a signed client and the admin API at hand."""

    simulator: Simulator
    thread: SimulatorThread
    client: SignedClient
    admin_http: httpx.Client
    _clients: list[SignedClient] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        """Return `http://127.0.0.1:<port>`."""
        return self.thread.base_url

    def new_client(
        self,
        api_key: str | None = DEFAULT_API_KEY,
        secret: str = DEFAULT_API_SECRET,
        *,
        timeout: float = 10.0,
    ) -> SignedClient:
        """Return another signed client (closed with the simulator)."""
        client = SignedClient(self.base_url, api_key, secret, timeout=timeout)
        self._clients.append(client)
        return client

    def admin(self, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """POST to the admin API (`/sim/<path>`) and return its JSON."""
        response = self.admin_http.post(f"/sim/{path}", json=dict(body or {}))
        assert response.status_code == 200, (response.status_code, response.text)
        return response.json()

    def state(self) -> Any:
        """Return `/sim/state`."""
        response = self.admin_http.get("/sim/state")
        assert response.status_code == 200, response.text
        return response.json()

    def account_state(self, api_key: str = DEFAULT_API_KEY) -> Any:
        """Return one account's part of `/sim/state`."""
        for account in self.state()["accounts"]:
            if account["api_key"] == api_key:
                return account
        raise AssertionError(f"no account {api_key!r} in /sim/state")

    def step(self, ms: int) -> Any:
        """Move the simulated clock forward by `ms` (admin API)."""
        return self.admin("clock/step", {"ms": ms})

    def jump(self, percent: float) -> Any:
        """Jump the price by `percent` from now on (admin API)."""
        return self.admin("market/jump", {"percent": percent})

    def now_ms(self) -> int:
        """Return the simulated time."""
        return self.simulator.exchange.market.now_ms()

    def price(self) -> Decimal:
        """Return the last price."""
        return self.simulator.exchange.market.last_price()


@contextmanager
def running_simulator(
    options: SimOptions | None = None, *, wall: Clock | None = None
) -> Iterator[RunningSim]:
    """Build a simulator (default: `sim_options()`) and serve it on a random loopback port."""
    with serve(build_simulator(options or sim_options(), wall=wall)) as running:
        yield running


@contextmanager
def serve(simulator: Simulator) -> Iterator[RunningSim]:
    """Serve an already built simulator on a random loopback port."""
    with SimulatorThread(simulator) as thread:
        client = SignedClient(thread.base_url)
        admin_http = httpx.Client(base_url=thread.base_url, timeout=10.0)
        running = RunningSim(simulator, thread, client, admin_http)
        try:
            yield running
        finally:
            for extra in running._clients:
                extra.close()
            client.close()
            admin_http.close()


def eventually(condition: Callable[[], T], timeout: float = 5.0, interval: float = 0.02) -> T:
    """Poll `condition` until it returns a truthy value (or stops failing an assert)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = condition()
        except (AssertionError, httpx.TransportError) as e:
            failure: object = e
        else:
            if result:
                return result
            failure = result
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout} s (last: {failure!r})")
        time.sleep(interval)


def recorded_response(method: str, index: int) -> Any:
    """Return the parsed `httpResponse` of a recorded real BingX answer (ccxt fixture)."""
    if not RECORDED_RESPONSES.exists():
        pytest.skip(f"{RECORDED_RESPONSES} is not present (the shared folder beside the repo)")
    recorded = json.loads(RECORDED_RESPONSES.read_text())
    raw = recorded["methods"][method][index]["httpResponse"]
    return json.loads(raw) if isinstance(raw, str) else raw


def shape_mismatches(real: Any, ours: Any, where: str = "data") -> list[str]:
    """List where `ours` lacks a key of `real` or has another JSON type than it.

    Numbers match numbers (int or float), except that ids and decimals the real answer
    gives as strings must be strings here too.  Lists compare their first elements.
    """
    problems: list[str] = []
    if isinstance(real, dict):
        if not isinstance(ours, dict):
            return [f"{where}: expected an object, got {type(ours).__name__}"]
        for key, value in real.items():
            if key not in ours:
                problems.append(f"{where}.{key}: missing")
            else:
                problems += shape_mismatches(value, ours[key], f"{where}.{key}")
        return problems
    if isinstance(real, list):
        if not isinstance(ours, list):
            return [f"{where}: expected a list, got {type(ours).__name__}"]
        if real and ours:
            problems += shape_mismatches(real[0], ours[0], f"{where}[0]")
        return problems
    if real is None:
        return problems if ours is None else [f"{where}: expected null, got {ours!r}"]
    if isinstance(real, bool):
        ok = isinstance(ours, bool)
    elif isinstance(real, int | float):
        ok = isinstance(ours, int | float) and not isinstance(ours, bool)
    else:
        ok = isinstance(ours, type(real))
    if not ok:
        problems.append(f"{where}: expected {type(real).__name__}, got {ours!r}")
    return problems
