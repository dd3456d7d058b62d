"""`create_app(options)`: the dashboard's FastAPI application, built on demand.

The security gate wraps everything (authentication, CSRF, headers); errors are
translated here, at the edge: an unreadable database is a 503 with its reason, an
action that cannot run now a 409.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from adxbot import __version__
from adxbot.alerts import Notifier, watch_heartbeat
from adxbot.clock import Clock, WallClock
from adxbot.dashboard import api, assets, login, pages
from adxbot.dashboard.actions import ActionRefused, Actions
from adxbot.dashboard.deps import Dashboard
from adxbot.dashboard.market import ExchangeView
from adxbot.dashboard.reader import DatabaseReader
from adxbot.dashboard.security import LoginLimiter, SecurityGate, SessionStore
from adxbot.dashboard.settings import DashboardOptions
from adxbot.errors import DatabaseError
from adxbot.logsetup import redact

log = logging.getLogger("adxbot.dashboard")


def create_app(
    options: DashboardOptions,
    *,
    clock: Clock | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    notifier: Notifier | None = None,
) -> FastAPI:
    """Build the dashboard for `options`: reader, exchange view, actions, sessions, routes.

    With alert channels (`notifier`, default ADXBOT_ALERT_URLS), the dashboard process also
    watches the bot's heartbeat and alerts when it goes missing: a dead bot cannot say so.
    """
    clock = clock or WallClock()
    parts = Dashboard(
        options=options,
        reader=DatabaseReader(
            options.database, options.mode, options.config.bot.heartbeat_seconds, clock
        ),
        exchange=ExchangeView(options, clock, monotonic=monotonic),
        actions=Actions(options, clock),
        sessions=SessionStore(options.session_hours * 3_600_000, clock),
        limiter=LoginLimiter(monotonic=monotonic),
        clock=clock,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        alerts = notifier or Notifier.from_environment()
        stop = asyncio.Event()
        watchdog = None
        if alerts.enabled:
            watchdog = asyncio.create_task(
                watch_heartbeat(options.database, options.config.alerts, alerts, clock, stop),
                name="heartbeat watchdog",
            )
        try:
            yield
        finally:
            stop.set()
            if watchdog is not None:
                await watchdog  # it never raises; it returns once `stop` is set
            alerts.close()
            await parts.exchange.aclose()

    app = FastAPI(
        title="adxbot dashboard",
        version=__version__,
        description="The operator's view of an adxbot database; every route needs a login.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.dashboard = parts
    app.include_router(login.router)
    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(assets.router)
    app.add_exception_handler(DatabaseError, _database_unavailable)
    app.add_exception_handler(ActionRefused, _action_refused)
    app.add_middleware(SecurityGate, sessions=parts.sessions)
    return app


async def _database_unavailable(_: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": redact(str(error))}, status_code=503)


async def _action_refused(_: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": redact(str(error))}, status_code=409)
