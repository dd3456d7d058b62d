"""The simulator's admin API under `/sim/`: loopback only, not part of BingX's surface.

Tests and rehearsals use it to inject faults, steer the market and clock, and read the
exchange's whole state.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from adxbot.sim.exchange import SimExchange
from adxbot.sim.faults import FaultInjector, FaultKind, FaultSettings
from adxbot.sim.views import balance_view, order_view, position_views
from adxbot.sim.wire import text

_LOOPBACK = {"127.0.0.1", "::1", "localhost", "testclient"}


def _loopback_only(request: Request) -> None:
    host = request.client.host if request.client else ""
    if host not in _LOOPBACK:
        raise HTTPException(status_code=403, detail="the admin API answers loopback clients only")


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


def admin_router(exchange: SimExchange, faults: FaultInjector) -> APIRouter:
    """Build the `/sim/` routes for one exchange and fault injector."""
    router = APIRouter(
        prefix="/sim", dependencies=[Depends(_loopback_only)], include_in_schema=False
    )

    @router.get("/state")
    async def get_state() -> dict[str, Any]:
        """Return the whole exchange state."""
        return state_dump(exchange, faults)

    @router.post("/faults")
    async def set_faults(body: FaultSettingsBody) -> dict[str, Any]:
        """Set random faults."""
        faults.configure(FaultSettings(**body.model_dump()))
        return faults.describe()

    @router.post("/faults/schedule")
    async def schedule(body: ScheduleBody) -> dict[str, Any]:
        """Fail the next matching requests."""
        faults.schedule(body.kind, body.count, body.path_contains)
        return faults.describe()

    @router.post("/faults/reset")
    async def reset() -> dict[str, Any]:
        """Remove every fault."""
        faults.reset()
        exchange.faults.reject_orders = 0
        exchange.faults.fail_closes = 0
        return faults.describe()

    @router.post("/disconnect")
    async def disconnect(body: SecondsBody) -> dict[str, Any]:
        """Drop every request for a while."""
        faults.disconnect(body.seconds)
        return faults.describe()

    @router.post("/orders/reject")
    async def reject_orders(body: RejectOrdersBody) -> dict[str, int]:
        """Reject the next orders with an error."""
        exchange.faults.reject_orders = body.count
        exchange.faults.reject_code = body.code
        exchange.faults.reject_msg = body.msg
        return {"reject_orders": body.count}

    @router.post("/closes/fail")
    async def fail_closes(body: CountBody) -> dict[str, int]:
        """Make the next position closes fail."""
        exchange.faults.fail_closes = body.count
        return {"fail_closes": body.count}

    @router.post("/market/pause")
    async def pause() -> dict[str, Any]:
        """Stop the simulated clock (and so the market)."""
        exchange.sync()
        exchange.market.clock.pause()
        return {"paused": True, "time_ms": exchange.market.now_ms()}

    @router.post("/market/resume")
    async def resume() -> dict[str, Any]:
        """Let the simulated clock run again."""
        exchange.market.clock.resume()
        return {"paused": exchange.market.clock.paused, "time_ms": exchange.market.now_ms()}

    @router.post("/market/jump")
    async def jump(body: JumpBody) -> dict[str, str]:
        """Jump the price by a percentage from now on (a gap)."""
        exchange.sync()
        exchange.market.jump(body.percent)
        exchange.match_now()  # a paused clock would not reach the gap before the next step
        return {"price": text(exchange.market.last_price())}

    @router.post("/clock/step")
    async def step(body: StepBody) -> dict[str, Any]:
        """Move the simulated clock forward."""
        exchange.market.clock.step(body.ms)
        exchange.sync()
        return {"time_ms": exchange.market.now_ms(), "price": text(exchange.market.last_price())}

    return router
