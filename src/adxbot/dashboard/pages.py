"""The HTML pages: rendered on the server from the API's JSON shapes; the script keeps
them fresh.  A database that cannot be read shows as a notice on the page, never as a
failed page."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from adxbot.dashboard import html
from adxbot.dashboard.deps import DashboardDep, SessionDep
from adxbot.dashboard.reader import TradeFilter
from adxbot.dashboard.views import (
    dashboard_json,
    equity_view,
    event_json,
    status_view,
    trades_view,
)
from adxbot.domain.enums import Direction, ExitReason
from adxbot.errors import DatabaseError
from adxbot.logsetup import redact
from adxbot.persistence.records import EventKind, Severity

router = APIRouter()

TextQuery = Annotated[str, Query()]
PAGE_TRADES = 500
PAGE_EVENTS = 200
PAGE_EQUITY = 2000


def _page(ctx: DashboardDep, session: SessionDep, page: str, title: str, main: str) -> HTMLResponse:
    return HTMLResponse(
        html.layout(
            dashboard_json(ctx.options),
            page=page,
            title=title,
            csrf_token=session.csrf_token,
            main=main,
            plotly=page in ("chart", "equity"),
        )
    )


@router.get("/", response_class=HTMLResponse)
async def overview(ctx: DashboardDep, session: SessionDep) -> HTMLResponse:
    """The overview: mode, heartbeat, account vs exchange, positions, breakers, the stop."""
    status, error = None, None
    try:
        report = await run_in_threadpool(ctx.reader.status)
        status = status_view(report, ctx.options, await ctx.exchange.account())
    except DatabaseError as e:
        error = redact(str(e))
    main = html.overview_main(status, dashboard_json(ctx.options), error)
    return _page(ctx, session, "overview", "Overview", main)


@router.get("/chart", response_class=HTMLResponse)
def chart(ctx: DashboardDep, session: SessionDep) -> HTMLResponse:
    """The price chart with ADX/DI and the trades."""
    return _page(ctx, session, "chart", "Chart", html.chart_main())


@router.get("/equity", response_class=HTMLResponse)
def equity(ctx: DashboardDep, session: SessionDep) -> HTMLResponse:
    """The equity curve and its drawdown."""
    view, error = None, None
    try:
        view = equity_view(ctx.reader.equity(limit=PAGE_EQUITY))
    except DatabaseError as e:
        error = redact(str(e))
    return _page(ctx, session, "equity", "Equity", html.equity_main(view, error))


@router.get("/trades", response_class=HTMLResponse)
def trades(
    ctx: DashboardDep,
    session: SessionDep,
    direction: TextQuery = "",
    exit_reason: TextQuery = "",
    start: TextQuery = "",
    end: TextQuery = "",
) -> HTMLResponse:
    """The closed trades with filters and the CSV export."""
    values = {"direction": direction, "exit_reason": exit_reason, "start": start, "end": end}
    view, error = None, None
    try:
        where = TradeFilter(
            Direction(direction) if direction else None,
            ExitReason(exit_reason) if exit_reason else None,
            date.fromisoformat(start) if start else None,
            date.fromisoformat(end) if end else None,
        )
    except ValueError:
        error = "a filter is not valid: choose from the lists, dates as YYYY-MM-DD"
        values = {}
    else:
        try:
            view = trades_view(ctx.reader.trades(where, limit=PAGE_TRADES))
        except DatabaseError as e:
            error = redact(str(e))
    return _page(ctx, session, "trades", "Trades", html.trades_main(view, values, error))


@router.get("/events", response_class=HTMLResponse)
def events(
    ctx: DashboardDep, session: SessionDep, kind: TextQuery = "", severity: TextQuery = ""
) -> HTMLResponse:
    """The events log with filters."""
    values = {"kind": kind, "severity": severity}
    found, error = None, None
    try:
        kinds = [EventKind(kind)] if kind else None
        severities = [Severity(severity)] if severity else None
    except ValueError:
        error = "a filter is not valid: choose from the lists"
        values = {}
    else:
        try:
            found = [
                event_json(e)
                for e in ctx.reader.events(kinds=kinds, severities=severities, limit=PAGE_EVENTS)
            ]
        except DatabaseError as e:
            error = redact(str(e))
    return _page(ctx, session, "events", "Events", html.events_main(found, values, error))
