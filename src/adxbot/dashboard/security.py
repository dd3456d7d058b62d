"""Sessions, CSRF, the login rate limit, and the gate in front of every route.

- A login creates a server-side session; the cookie carries its id signed with a key
  made at start (HMAC-SHA256), so a restart logs everybody out.  The cookie is HttpOnly,
  SameSite=Strict, and Secure when the dashboard listens off loopback.
- Each session has a CSRF token; the pages carry it in a meta tag and the script sends it
  in the `X-CSRF-Token` header of every POST.
- `SecurityGate` is the outermost ASGI middleware: it refuses every request without a
  session except the few public ones (the login form and its stylesheet): 401 for the API
  and assets, a redirect to the login page for pages; it refuses a state-changing request
  without the session's CSRF token or from another origin (403); and it adds the
  security headers to every response.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adxbot.clock import Clock

log = logging.getLogger("adxbot.dashboard")

SESSION_COOKIE = "adxbot_session"
CSRF_HEADER = "x-csrf-token"
LOGIN_PATH = "/login"
PUBLIC_ROUTES = frozenset({("GET", LOGIN_PATH), ("POST", LOGIN_PATH), ("GET", "/static/app.css")})
"""The only requests served without a session: the login form and its stylesheet."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_SESSIONS = 1000

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; "
    # plotly.js sets style attributes on the SVG it draws: styles may be inline, scripts never.
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


def password_matches(given: str, expected: SecretStr) -> bool:
    """Compare in constant time (digests of equal length, whatever the input's length)."""
    a = hashlib.sha256(given.encode()).digest()
    b = hashlib.sha256(expected.get_secret_value().encode()).digest()
    return hmac.compare_digest(a, b)


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in browser."""

    session_id: str
    csrf_token: str
    expires_ms: int
    client: str


class SessionStore:
    """Sessions in memory, behind cookies signed with a key made at start."""

    def __init__(self, lifetime_ms: int, clock: Clock, *, key: bytes | None = None) -> None:
        self._lifetime_ms = lifetime_ms
        self._clock = clock
        self._key = key or secrets.token_bytes(32)
        self._sessions: dict[str, Session] = {}

    @property
    def lifetime_s(self) -> int:
        """Return how long a session lasts, in seconds."""
        return self._lifetime_ms // 1000

    def create(self, client: str) -> tuple[str, Session]:
        """Start a session; return the cookie value and the session."""
        now = self._clock.now_ms()
        self._sessions = {k: s for k, s in self._sessions.items() if s.expires_ms > now}
        while len(self._sessions) >= MAX_SESSIONS:  # the oldest go first
            del self._sessions[next(iter(self._sessions))]
        session = Session(
            secrets.token_urlsafe(32), secrets.token_urlsafe(32), now + self._lifetime_ms, client
        )
        self._sessions[session.session_id] = session
        return f"{session.session_id}.{self._sign(session.session_id)}", session

    def get(self, cookie: str | None) -> Session | None:
        """Return the live session a cookie names, or None (unsigned, unknown or expired)."""
        session_id = self._verified(cookie)
        if session_id is None:
            return None
        session = self._sessions.get(session_id)
        if session is None or session.expires_ms <= self._clock.now_ms():
            self._sessions.pop(session_id, None)
            return None
        return session

    def end(self, cookie: str | None) -> None:
        """Forget the session a cookie names (logout)."""
        session_id = self._verified(cookie)
        if session_id is not None:
            self._sessions.pop(session_id, None)

    def _sign(self, session_id: str) -> str:
        return hmac.new(self._key, session_id.encode(), hashlib.sha256).hexdigest()

    def _verified(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        session_id, _, signature = cookie.partition(".")
        if not session_id or not hmac.compare_digest(signature, self._sign(session_id)):
            return None
        return session_id


class LoginLimiter:
    """At most `max_failures` wrong passwords per client within `window_s`, then 429."""

    def __init__(
        self,
        max_failures: int = 5,
        window_s: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max = max_failures
        self._window_s = window_s
        self._monotonic = monotonic
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, client: str) -> int | None:
        """Return the seconds until `client` may try again, or None if it may now."""
        failures = self._recent(client)
        if len(failures) < self._max:
            return None
        return max(1, int(failures[0] + self._window_s - self._monotonic()) + 1)

    def failed(self, client: str) -> None:
        """Count a wrong password."""
        self._recent(client).append(self._monotonic())

    def succeeded(self, client: str) -> None:
        """Forget the client's failures."""
        self._failures.pop(client, None)

    def _recent(self, client: str) -> deque[float]:
        now = self._monotonic()
        for key in [k for k, v in self._failures.items() if not v or v[-1] <= now - self._window_s]:
            del self._failures[key]  # whole entries age out: the table cannot grow forever
        failures = self._failures.setdefault(client, deque())
        while failures and failures[0] <= now - self._window_s:
            failures.popleft()
        return failures


def session_cookie(value: str, max_age_s: int, *, secure: bool) -> str:
    """Return the Set-Cookie value of a session cookie (or of its removal, max_age_s=0)."""
    parts = [
        f"{SESSION_COOKIE}={value}",
        "Path=/",
        f"Max-Age={max_age_s}",
        "HttpOnly",
        "SameSite=Strict",
    ]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def client_of(scope: Scope) -> str:
    """Return the client's address (the proxy's, behind a reverse proxy)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class SecurityGate:
    """The outermost middleware: authentication, CSRF, origin check, security headers."""

    def __init__(self, app: ASGIApp, sessions: SessionStore) -> None:
        self._app = app
        self._sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        send = _with_headers(send)
        method = "GET" if scope["method"] == "HEAD" else str(scope["method"])
        path = str(scope["path"])
        headers = _headers(scope)
        session = self._sessions.get(_cookie(headers.get("cookie", ""), SESSION_COOKIE))
        scope.setdefault("state", {})["session"] = session
        if (method, path) not in PUBLIC_ROUTES and session is None:
            await _refuse_unauthenticated(scope, path, method, send)
            return
        if method not in SAFE_METHODS:
            problem = _cross_origin(headers) or (
                None if session is None else _csrf_problem(headers, session)
            )
            if problem is not None:
                await _send_json(send, 403, {"detail": problem})
                return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, receive, tracking)
        except Exception:  # answered here, so even a failure carries the headers
            log.exception("dashboard: %s %s failed", method, path)
            if not started:
                await _send_json(send, 500, {"detail": "internal error: see the dashboard's log"})


def _with_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            names = {name.lower() for name, _ in headers}
            headers += [(k, v) for k, v in SECURITY_HEADERS if k not in names]
            if b"cache-control" not in names:
                headers.append((b"cache-control", b"no-store"))
            message = {**message, "headers": headers}
        await send(message)

    return sending


async def _refuse_unauthenticated(scope: Scope, path: str, method: str, send: Send) -> None:
    if method == "GET" and not path.startswith(("/api/", "/static/")):
        query = scope.get("query_string", b"").decode("latin-1")
        target = path + (f"?{query}" if query else "")
        location = LOGIN_PATH + ("" if target == "/" else f"?next={quote(target, safe='')}")
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [(b"location", location.encode()), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})
        return
    await _send_json(send, 401, {"detail": "not logged in: log in at /login first"})


def _csrf_problem(headers: dict[str, str], session: Session) -> str | None:
    token = headers.get(CSRF_HEADER, "")
    if token and hmac.compare_digest(token.encode(), session.csrf_token.encode()):
        return None
    return "missing or wrong CSRF token: reload the page and try again"


def _cross_origin(headers: dict[str, str]) -> str | None:
    origin = headers.get("origin")
    # "null": what browsers send under Referrer-Policy no-referrer, even from this site;
    # the CSRF token is what protects the actions then.
    if origin is None or origin == "null":
        return None
    if urlsplit(origin).netloc != headers.get("host", ""):
        return f"cross-origin request from {origin} refused"
    return None


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    content = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})


def _headers(scope: Scope) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        found.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return found


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None
