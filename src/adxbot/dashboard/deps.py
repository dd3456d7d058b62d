"""What every route reaches through FastAPI's dependencies: the dashboard's parts and the
request's session (set by the security gate)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from adxbot.clock import Clock
from adxbot.dashboard.actions import Actions
from adxbot.dashboard.market import ExchangeView
from adxbot.dashboard.reader import DatabaseReader
from adxbot.dashboard.security import LoginLimiter, Session, SessionStore, client_of
from adxbot.dashboard.settings import DashboardOptions


@dataclass(frozen=True, slots=True)
class Dashboard:
    """The parts of one dashboard, built by `create_app`."""

    options: DashboardOptions
    reader: DatabaseReader
    exchange: ExchangeView
    actions: Actions
    sessions: SessionStore
    limiter: LoginLimiter
    clock: Clock


def dashboard(request: Request) -> Dashboard:
    """Return the dashboard serving this request."""
    parts: Dashboard = request.app.state.dashboard
    return parts


def session(request: Request) -> Session:
    """Return the request's session (the gate lets no request without one reach a route
    that asks for it)."""
    found: Session | None = request.scope.get("state", {}).get("session")
    if found is None:  # a public route asked for a session: a bug, refuse
        raise PermissionError("no session")
    return found


def client(request: Request) -> str:
    """Return the client's address."""
    return client_of(request.scope)


DashboardDep = Annotated[Dashboard, Depends(dashboard)]
SessionDep = Annotated[Session, Depends(session)]
ClientDep = Annotated[str, Depends(client)]
