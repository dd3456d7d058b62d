"""The simulator's HTTP face: BingX's paths and envelopes, plus faults and rate limits.

Every request goes through one dispatcher: fault injection, parameter parsing (query
string first, then form or JSON body), authentication, the per-key rate limit, bringing
the market up to the clock, the handler, and the BingX envelope.  Handlers are plain
synchronous functions, so a request's effect on the exchange is atomic.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict, deque
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from adxbot.sim import errors as codes
from adxbot.sim.admin import admin_routes
from adxbot.sim.auth import verify_request
from adxbot.sim.errors import BingXError
from adxbot.sim.exchange import SimExchange
from adxbot.sim.faults import FaultInjector, FaultKind
from adxbot.sim.params import Params
from adxbot.sim.routes import ENDPOINTS, Context, Endpoint
from adxbot.sim.wire import envelope, error_body

log = logging.getLogger("adxbot.sim")


class _DroppedConnection(Response):
    """Announces a body it never sends, so the server cuts the connection mid-answer."""

    def __init__(self) -> None:
        super().__init__(content=b"", status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"code":0,', "more_body": False})


class RateLimiter:
    """BingX's per-key, per-endpoint limits over a sliding one-second window (wall time)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._hits: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def allow(self, key: str, endpoint: Endpoint) -> bool:
        """Record a request; return False when it exceeds the endpoint's limit."""
        if not self.enabled or endpoint.per_second is None:
            return True
        now = time.monotonic()
        hits = self._hits[(key, endpoint.path + endpoint.method)]
        while hits and now - hits[0] >= 1.0:
            hits.popleft()
        if len(hits) >= endpoint.per_second:
            return False
        hits.append(now)
        return True


async def _parameters(request: Request) -> tuple[dict[str, str], list[tuple[str, str]]]:
    params = dict(request.query_params)
    body_pairs: list[tuple[str, str]] = []
    body = await request.body()
    if body:
        content_type = request.headers.get("content-type", "")
        if "json" in content_type:
            try:
                decoded = json.loads(body)
            except json.JSONDecodeError:
                raise BingXError(codes.INVALID_PARAMETER, "the JSON body is malformed") from None
            if isinstance(decoded, dict):
                body_pairs = [
                    (
                        k,
                        v
                        if isinstance(v, str)
                        else json.dumps(v).lower()
                        if isinstance(v, bool)
                        else json.dumps(v),
                    )
                    for k, v in decoded.items()
                ]
        else:  # form-urlencoded; request.form() would need python-multipart
            body_pairs = parse_qsl(body.decode(), keep_blank_values=True)
    for key, value in body_pairs:
        params.setdefault(key, value)
    return params, body_pairs


def create_app(
    exchange: SimExchange,
    faults: FaultInjector,
    *,
    rate_limits: bool = True,
) -> Starlette:
    """Build the simulator's ASGI app around an exchange and a fault injector."""
    limiter = RateLimiter(rate_limits)
    routes: list[Route] = []

    async def dispatch(request: Request, endpoint: Endpoint) -> Response:
        fault = faults.choose(request.url.path)
        delay = faults.delay_s()
        if delay:
            await asyncio.sleep(delay)
        if fault is FaultKind.HANG:
            await asyncio.sleep(faults.settings.timeout_s)
            return _DroppedConnection()
        if fault is not None and not fault.executes:
            return _fault_response(fault)
        try:
            response = await _execute(request, endpoint)
        except BingXError as e:
            response = JSONResponse(error_body(e.code, e.msg))
        if fault is FaultKind.TIMEOUT:
            await asyncio.sleep(faults.settings.timeout_s)
        elif fault is FaultKind.DROP_AFTER:
            return _DroppedConnection()
        return response

    async def _execute(request: Request, endpoint: Endpoint) -> Response:
        raw, body_pairs = await _parameters(request)
        params = Params(raw)
        api_key = request.headers.get("x-bx-apikey")
        account = None
        if endpoint.signed:
            account = exchange.account(api_key)
            verify_request(
                raw, request.url.query, body_pairs, account.api_key.secret, exchange.market.clock
            )
        elif endpoint.path.endswith("userDataStream"):  # key header only; none = 100413
            account = exchange.account(api_key)
        if not limiter.allow(api_key or (request.client.host if request.client else ""), endpoint):
            raise BingXError(
                codes.RATE_LIMITED, "rate limited: too many requests for this endpoint"
            )
        exchange.sync()
        data = endpoint.handler(Context(exchange, params, account))
        log.debug("%s %s -> ok", request.method, request.url.path)
        return JSONResponse(envelope(data) if endpoint.enveloped else data)

    for endpoint in ENDPOINTS:
        routes.append(Route(endpoint.path, _bind(dispatch, endpoint), methods=[endpoint.method]))

    async def listen_key_change(request: Request) -> Response:
        key = request.query_params.get("listenKey", "")
        try:
            account = exchange.account(request.headers.get("x-bx-apikey"))
        except BingXError:
            return Response(status_code=404)
        changed = (
            exchange.extend_listen_key(account, key)
            if request.method == "PUT"
            else exchange.delete_listen_key(account, key)
        )
        return Response(status_code=200 if changed else 404)

    routes.append(
        Route("/openApi/user/auth/userDataStream", listen_key_change, methods=["PUT", "DELETE"])
    )
    routes.extend(admin_routes(exchange, faults))
    app = Starlette(routes=routes)
    app.state.exchange = exchange
    app.state.faults = faults
    app.state.limiter = limiter
    return app


def _bind(dispatch: Any, endpoint: Endpoint) -> Any:
    async def route(request: Request) -> Response:
        response: Response = await dispatch(request, endpoint)
        return response

    route.__name__ = endpoint.handler.__name__
    return route


def _fault_response(fault: FaultKind) -> Response:
    if fault is FaultKind.HTTP_5XX:
        return Response(
            "<html><body>502 Bad Gateway</body></html>", status_code=502, media_type="text/html"
        )
    if fault is FaultKind.HTTP_429:
        return Response("Too Many Requests", status_code=429)
    if fault is FaultKind.BUSY:
        return JSONResponse(error_body(codes.SYSTEM_BUSY, "system busy, please try again later"))
    if fault is FaultKind.RATE_LIMIT:
        return JSONResponse(error_body(codes.RATE_LIMITED, "rate limited (injected)"))
    return _DroppedConnection()
