"""Logging in and out: the password form, its rate limit, the session cookie."""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from adxbot.dashboard.deps import ClientDep, DashboardDep
from adxbot.dashboard.html import login_page
from adxbot.dashboard.security import (
    LOGIN_PATH,
    SESSION_COOKIE,
    password_matches,
    session_cookie,
)

log = logging.getLogger("adxbot.dashboard")

MAX_FORM_BYTES = 4096

router = APIRouter()


@router.get(LOGIN_PATH, response_class=HTMLResponse)
async def login_form(
    request: Request,
    ctx: DashboardDep,
    next_path: Annotated[str, Query(alias="next")] = "/",
) -> Response:
    """Show the login form (or go on to the page when already logged in)."""
    if request.scope.get("state", {}).get("session") is not None:
        return RedirectResponse(safe_next(next_path), status_code=303)
    page = login_page(ctx.options.mode.value, error=None, next_path=safe_next(next_path))
    return HTMLResponse(page)


@router.post(LOGIN_PATH, response_class=HTMLResponse)
async def log_in(request: Request, ctx: DashboardDep, client: ClientDep) -> Response:
    """Check the password; start a session (cookie) or count a failure."""
    mode = ctx.options.mode.value
    wait = ctx.limiter.retry_after(client)
    if wait is not None:
        log.warning("dashboard login from %s refused: too many wrong passwords", client)
        return HTMLResponse(
            login_page(
                mode,
                error=f"Too many wrong passwords: try again in {wait} s.",
                next_path="/",
            ),
            status_code=429,
            headers={"Retry-After": str(wait)},
        )
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return HTMLResponse(login_page(mode, error="Form too large.", next_path="/"), 413)
    form = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    password = (form.get("password") or [""])[0]
    target = safe_next((form.get("next") or ["/"])[0])
    if not password_matches(password, ctx.options.password):
        ctx.limiter.failed(client)
        log.warning("dashboard login from %s: wrong password", client)
        return HTMLResponse(
            login_page(mode, error="Wrong password.", next_path=target), status_code=401
        )
    ctx.limiter.succeeded(client)
    cookie, _ = ctx.sessions.create(client)
    log.info("dashboard login from %s", client)
    response = RedirectResponse(target, status_code=303)
    response.headers.append(
        "set-cookie",
        session_cookie(cookie, ctx.sessions.lifetime_s, secure=not ctx.options.loopback),
    )
    return response


@router.post("/logout")
async def log_out(request: Request, ctx: DashboardDep) -> Response:
    """End the session."""
    ctx.sessions.end(request.cookies.get(SESSION_COOKIE))
    response = Response(status_code=204)
    response.headers.append("set-cookie", session_cookie("", 0, secure=not ctx.options.loopback))
    return response


def safe_next(target: str) -> str:
    """Return `target` if it is a path of this site, else "/" (no open redirect)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if target.startswith(LOGIN_PATH):
        return "/"
    return target
