"""The simulator's admin API under `/sim/`: loopback only, not part of BingX's surface.

Tests and rehearsals use it to inject faults, steer the market and clock, and read the
exchange's whole state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adxbot.sim.exchange import SimExchange
from adxbot.sim.faults import FaultInjector, FaultKind, FaultSettings
from adxbot.sim.views import balance_view, order_view, position_views
from adxbot.sim.wire import text

_LOOPBACK = {"127.0.0.1", "::1", "localhost", "testclient"}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FaultSettingsBody(_Body):
    """Random faults to apply from now on."""

    latency_ms: float = Field(0, ge=0)
    jitter_ms: float = Field(0, ge=0)
    rates: dict[FaultKind, Annotated[float, Field(ge=0, le=1)]] = Field(default_factory=dict)
    timeout_s: float = Field(30, gt=0)
    path_contains: str = ""


class ScheduleBody(_Body):
    """Make the next `count` matching requests fail in one way."""

    kind: FaultKind
    count: int = Field(1, ge=1, le=10_000)
    path_contains: str = ""


class RejectOrdersBody(_Body):
    """Reject the next `count` orders with a BingX error."""

    count: int = Field(1, ge=0)
    code: int = 101204
    msg: str = "Insufficient margin"


class CountBody(_Body):
    """A number of upcoming events."""

    count: int = Field(1, ge=0)


class SecondsBody(_Body):
    """A duration in wall-clock seconds."""

    seconds: float = Field(gt=0, le=3600)


class JumpBody(_Body):
    """A price jump in percent (negative = down)."""

    percent: float = Field(gt=-99, lt=1000)


class StepBody(_Body):
    """A clock step in simulated milliseconds."""

    ms: int = Field(gt=0)


def state_dump(exchange: SimExchange, faults: FaultInjector) -> dict[str, Any]:
    """Return the whole exchange state: market, accounts, positions, orders, faults."""
    exchange.sync()
    market = exchange.market
    accounts = []
    for account in exchange.accounts():
        orders = [order_view(exchange, account, account.engine.order(i)) for i in account.orders]
        accounts.append(
            {
                "api_key": account.api_key.key,
                "position_mode": account.position_mode.value,
                "leverage": {"long": account.long_leverage, "short": account.short_leverage},
                "margin_type": account.margin_type,
                "balance": balance_view(exchange, account),
                "positions": position_views(exchange, account),
                "open_orders": [
                    o for o in orders if o["status"] in ("NEW", "PENDING", "PARTIALLY_FILLED")
                ],
                "orders": orders,
                "fills": len(account.fills),
            }
        )
    return {
        "time_ms": market.now_ms(),
        "symbol": exchange.symbol,
        "price": text(market.last_price()),
        "speed": market.clock.speed,
        "paused": market.clock.paused,
        "accounts": accounts,
        "faults": faults.describe(),
        "order_faults": {
            "reject_orders": exchange.faults.reject_orders,
            "fail_closes": exchange.faults.fail_closes,
        },
    }


def admin_routes(exchange: SimExchange, faults: FaultInjector) -> list[Route]:
    """Build the `/sim/` routes for one exchange and fault injector."""

    def get_state() -> dict[str, Any]:
        return state_dump(exchange, faults)

    def set_faults(body: FaultSettingsBody) -> dict[str, Any]:
        faults.configure(FaultSettings(**body.model_dump()))
        return faults.describe()

    def schedule(body: ScheduleBody) -> dict[str, Any]:
        faults.schedule(body.kind, body.count, body.path_contains)
        return faults.describe()

    def reset() -> dict[str, Any]:
        faults.reset()
        exchange.faults.reject_orders = 0
        exchange.faults.fail_closes = 0
        return faults.describe()

    def disconnect(body: SecondsBody) -> dict[str, Any]:
        faults.disconnect(body.seconds)
        return faults.describe()

    def reject_orders(body: RejectOrdersBody) -> dict[str, Any]:
        exchange.faults.reject_orders = body.count
        exchange.faults.reject_code = body.code
        exchange.faults.reject_msg = body.msg
        return {"reject_orders": body.count}

    def fail_closes(body: CountBody) -> dict[str, Any]:
        exchange.faults.fail_closes = body.count
        return {"fail_closes": body.count}

    def liquidate() -> dict[str, Any]:
        exchange.sync()
        closed = [
            order.order_id
            for account in exchange.accounts()
            for order in exchange.liquidate(account)
        ]
        return {"liquidated": len(closed)}

    def pause() -> dict[str, Any]:
        exchange.sync()
        exchange.market.clock.pause()
        return {"paused": True, "time_ms": exchange.market.now_ms()}

    def resume() -> dict[str, Any]:
        exchange.market.clock.resume()
        return {"paused": exchange.market.clock.paused, "time_ms": exchange.market.now_ms()}

    def jump(body: JumpBody) -> dict[str, Any]:
        exchange.sync()
        exchange.market.jump(body.percent)
        exchange.match_now()  # a paused clock would not reach the gap before the next step
        return {"price": text(exchange.market.last_price())}

    def step(body: StepBody) -> dict[str, Any]:
        exchange.market.clock.step(body.ms)
        exchange.sync()
        return {"time_ms": exchange.market.now_ms(), "price": text(exchange.market.last_price())}

    return [
        _route("GET", "/sim/state", get_state, None, "Return the whole exchange state."),
        _route("POST", "/sim/faults", set_faults, FaultSettingsBody, "Set random faults."),
        _route("POST", "/sim/faults/schedule", schedule, ScheduleBody, "Fail the next requests."),
        _route("POST", "/sim/faults/reset", reset, None, "Remove every fault."),
        _route("POST", "/sim/disconnect", disconnect, SecondsBody, "Drop every request."),
        _route("POST", "/sim/orders/reject", reject_orders, RejectOrdersBody, "Reject orders."),
        _route("POST", "/sim/closes/fail", fail_closes, CountBody, "Fail position closes."),
        _route("POST", "/sim/liquidate", liquidate, None, "Liquidate every position."),
        _route("POST", "/sim/market/pause", pause, None, "Stop the simulated clock."),
        _route("POST", "/sim/market/resume", resume, None, "Let the clock run again."),
        _route("POST", "/sim/market/jump", jump, JumpBody, "Jump the price (a gap)."),
        _route("POST", "/sim/clock/step", step, StepBody, "Move the clock forward."),
    ]


def _route(
    method: str,
    path: str,
    action: Callable[..., dict[str, Any]],
    body_model: type[_Body] | None,
    summary: str,
) -> Route:
    """Wrap an admin action: loopback check, body validation (422), JSON answer."""

    async def endpoint(request: Request) -> Response:
        host = request.client.host if request.client else ""
        if host not in _LOOPBACK:
            return JSONResponse(
                {"detail": "the admin API answers loopback clients only"}, status_code=403
            )
        if body_model is None:
            return JSONResponse(action())
        raw = await request.body()
        try:
            body = body_model.model_validate_json(raw or b"{}")
        except ValidationError as e:
            return JSONResponse({"detail": e.errors(include_url=False)}, status_code=422)
        try:
            return JSONResponse(action(body))
        except ValueError as e:
            return JSONResponse({"detail": str(e)}, status_code=422)

    endpoint.__doc__ = summary
    return Route(path, endpoint, methods=[method])
