"""The JSON API under `/api/`: what the pages fetch, and the two actions.

Reads go to the database through the read-only reader (in a worker thread) and to the
exchange through the cached view; a database that cannot be read is a 503 with the
reason, an exchange that cannot be reached is a message inside the answer.
"""

from __future__ import annotations

import csv
import io
import logging
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from adxbot.dashboard.deps import ClientDep, DashboardDep
from adxbot.dashboard.html import utc
from adxbot.dashboard.reader import TradeFilter
from adxbot.dashboard.views import (
    TRADE_COLUMNS,
    candles_view,
    equity_view,
    event_json,
    exchange_json,
    status_view,
    trade_json,
    trades_view,
)
from adxbot.domain.enums import Direction, ExitReason
from adxbot.errors import DatabaseError
from adxbot.logsetup import redact
from adxbot.persistence.records import EventKind, Severity
from adxbot.risk.breakers import BreakerName

log = logging.getLogger("adxbot.dashboard")

router = APIRouter(prefix="/api")

DirectionQuery = Annotated[Direction | None, Query(description="long or short")]
ReasonQuery = Annotated[ExitReason | None, Query(description="why the trade closed")]
StartQuery = Annotated[date | None, Query(description="first exit day (UTC), YYYY-MM-DD")]
EndQuery = Annotated[date | None, Query(description="last exit day (UTC), inclusive")]


class Confirmation(BaseModel):
    """The body of an action: the page sends it only after its confirmation dialog."""

    confirm: Literal[True]


@router.get("/status")
async def get_status(ctx: DashboardDep) -> dict[str, Any]:
    """Mode, environment, heartbeat, account vs exchange, today's P&L, positions, breakers."""
    report = await run_in_threadpool(ctx.reader.status)
    return status_view(report, ctx.options, await ctx.exchange.account())


@router.get("/positions")
async def get_positions(ctx: DashboardDep) -> dict[str, Any]:
    """Open positions with stop-loss, take-profit and unrealised P&L at the last price."""
    report = await run_in_threadpool(ctx.reader.status)
    status = status_view(report, ctx.options, None)
    account = await ctx.exchange.account()
    return {
        "last_price": status["last_price"],
        "positions": status["positions"],
        "exchange": None if account is None else exchange_json(account, report),
    }


@router.get("/breakers")
def get_breakers(ctx: DashboardDep) -> dict[str, Any]:
    """Every circuit breaker's state, and whether trading is halted."""
    status = status_view(ctx.reader.status(), ctx.options, None)
    return {"trading_state": status["trading_state"], "breakers": status["breakers"]}


@router.get("/trades")
def get_trades(
    ctx: DashboardDep,
    direction: DirectionQuery = None,
    exit_reason: ReasonQuery = None,
    start: StartQuery = None,
    end: EndQuery = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
) -> dict[str, Any]:
    """Closed trades, newest first, filtered by direction, exit reason and exit days."""
    where = TradeFilter(direction, exit_reason, start, end)
    return trades_view(ctx.reader.trades(where, limit=limit))


@router.get("/trades.csv", response_class=Response)
def get_trades_csv(
    ctx: DashboardDep,
    direction: DirectionQuery = None,
    exit_reason: ReasonQuery = None,
    start: StartQuery = None,
    end: EndQuery = None,
) -> Response:
    """Every matching closed trade as CSV (times in UTC and epoch ms, exact decimals)."""
    trades = ctx.reader.trades(TradeFilter(direction, exit_reason, start, end))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*TRADE_COLUMNS, "entry_time_utc", "exit_time_utc"])
    for trade in reversed(trades):  # oldest first, as a spreadsheet reads it
        row = trade_json(trade)
        writer.writerow(
            [
                *(row[c] for c in TRADE_COLUMNS),
                utc(trade.entry_time_ms),
                utc(trade.exit_time_ms),
            ]
        )
    name = f"adxbot-{ctx.options.mode.value}-trades.csv"
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/equity")
def get_equity(
    ctx: DashboardDep, limit: Annotated[int, Query(ge=1, le=50_000)] = 2000
) -> dict[str, Any]:
    """The latest equity snapshots, oldest first, with the drawdown from their peak."""
    return equity_view(ctx.reader.equity(limit=limit))


@router.get("/events")
def get_events(
    ctx: DashboardDep,
    kind: Annotated[list[EventKind] | None, Query()] = None,
    severity: Annotated[list[Severity] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
    after_id: Annotated[int | None, Query(ge=0)] = None,
) -> dict[str, Any]:
    """Events (signals, denials, trips, errors, actions), newest first, filtered."""
    events = ctx.reader.events(kinds=kind, severities=severity, limit=limit, after_id=after_id)
    return {"events": [event_json(e) for e in events]}


@router.get("/candles")
async def get_candles(
    ctx: DashboardDep, limit: Annotated[int, Query(ge=10, le=1000)] = 300
) -> dict[str, Any]:
    """Candles with ADX/+DI/-DI from the exchange, and the trades to mark on them."""
    chart = await ctx.exchange.candles(limit)
    since = (
        chart.candles[0].open_time_ms
        if chart.candles
        else ctx.clock.now_ms() - limit * ctx.options.config.timeframe.ms
    )
    try:
        marks = await run_in_threadpool(ctx.reader.chart_marks, since)
    except DatabaseError as e:  # the chart still shows the market
        return candles_view(chart, None, ctx.options, redact(str(e)))
    return candles_view(chart, marks, ctx.options)


@router.post("/actions/emergency-stop")
async def post_emergency_stop(
    body: Confirmation, ctx: DashboardDep, client: ClientDep
) -> dict[str, Any]:
    """Emergency stop: live, close everything and confirm flat; paper, halt entries."""
    log.warning("dashboard: emergency stop requested from %s", client)
    outcome = await ctx.actions.emergency_stop(client)
    log.warning("dashboard: emergency stop from %s: %s", client, outcome.message)
    return {"ok": outcome.ok, "message": outcome.message, "details": outcome.details}


@router.post("/actions/breakers/{name}/reset")
async def post_breaker_reset(
    name: BreakerName, body: Confirmation, ctx: DashboardDep, client: ClientDep
) -> dict[str, Any]:
    """Reset a tripped circuit breaker (as `adxbot reset-breaker` does)."""
    log.warning("dashboard: reset of breaker %s requested from %s", name, client)
    outcome = await ctx.actions.reset_breaker(name, client)
    return {"ok": outcome.ok, "message": outcome.message, "details": outcome.details}
