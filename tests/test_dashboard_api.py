"""The dashboard's API, pages and security over a database the live bot wrote against the
simulator, served by uvicorn on a random loopback port."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import pytest
from fastapi.routing import iter_route_contexts

from adxbot.cli.status_cmd import collect_status
from adxbot.clock import WallClock
from adxbot.dashboard.app import create_app
from adxbot.dashboard.security import PUBLIC_ROUTES, SESSION_COOKIE
from adxbot.dashboard.settings import DashboardOptions, dashboard_options
from adxbot.domain.enums import Direction, ExitReason
from adxbot.persistence.records import EventKind, EventRecord, Severity, TradingMode
from adxbot.persistence.rows import utc_day
from adxbot.persistence.store import TradeStore
from adxbot.risk.breakers import BreakerName, CircuitBreakers, RiskLimits
from adxbot.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET
from adxbot.strategy.indicators import directional_movement
from dashboard_support import (
    PASSWORD,
    ServedDashboard,
    bot_config,
    enter_long,
    exchange_positions,
    options_for,
    serve_dashboard,
    sim_environment,
    traded_live_bot,
)
from sim_support import RunningSim, running_simulator

PAGES = ("/", "/chart", "/equity", "/trades", "/events")
KLINES = "/openApi/swap/v3/quote/klines"


@pytest.fixture(scope="module")
def traded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningSim, Path]]:
    """A paused simulator and the live database of a bot that traded it (holds a position)."""
    database = tmp_path_factory.mktemp("traded") / "live.sqlite3"
    with traded_live_bot(database) as sim:
        yield sim, database


@pytest.fixture(scope="module")
def served(traded: tuple[RunningSim, Path]) -> Iterator[ServedDashboard]:
    sim, database = traded
    with serve_dashboard(options_for(sim, database)) as dashboard:
        yield dashboard


@pytest.fixture
def session(served: ServedDashboard) -> Iterator[tuple[httpx.Client, str]]:
    client, csrf = served.logged_in()
    with closing(client):
        yield client, csrf


def route_requests(served: ServedDashboard) -> list[tuple[str, str]]:
    """Every (method, path) the app serves, path parameters filled in."""
    found: list[tuple[str, str]] = []
    for route in iter_route_contexts(create_app(served.options).routes):
        assert route.path is not None, route  # HTTP routes only: no mount, no websocket
        assert route.methods, route
        path = re.sub(r"\{[^}]+\}", BreakerName.MANUAL_HALT.value, route.path)
        found += [(method, path) for method in sorted(route.methods) if method != "HEAD"]
    return found


# ---------------------------------------------------------------------------- the gate
def test_every_route_when_not_logged_in_then_refused(served: ServedDashboard) -> None:
    routes = route_requests(served)
    assert {("GET", p) for p in PAGES} <= set(routes)
    assert len([r for r in routes if r[1].startswith("/api/")]) >= 11
    with served.client() as client:
        for method, path in routes:
            answer = client.request(method, path, json={"confirm": True})
            if (method, path) in PUBLIC_ROUTES:
                assert answer.status_code in (200, 401), (method, path)  # 401: no password
            elif method == "GET" and not path.startswith(("/api/", "/static/")):
                assert answer.status_code == 303, (method, path)
                assert answer.headers["location"].startswith("/login")
            else:
                assert answer.status_code == 401, (method, path, answer.text)
    assert {("GET", "/login"), ("POST", "/login"), ("GET", "/static/app.css")} == PUBLIC_ROUTES


def test_every_route_when_session_cookie_forged_then_refused(served: ServedDashboard) -> None:
    with served.client() as client:
        client.cookies.set(SESSION_COOKIE, "made-up.0123456789abcdef")
        assert client.get("/api/status").status_code == 401
        assert client.get("/").status_code == 303


def test_every_post_route_when_csrf_token_missing_or_wrong_then_403_and_nothing_done(
    served: ServedDashboard, session: tuple[httpx.Client, str], traded: tuple[RunningSim, Path]
) -> None:
    client, csrf = session
    sim, database = traded
    posts = [(m, p) for m, p in route_requests(served) if m == "POST" and p != "/login"]
    assert ("POST", "/api/actions/emergency-stop") in posts
    assert ("POST", f"/api/actions/breakers/{BreakerName.MANUAL_HALT}/reset") in posts
    for _, path in posts:
        assert client.post(path, json={"confirm": True}).status_code == 403, path
        wrong = client.post(path, json={"confirm": True}, headers={"X-CSRF-Token": csrf + "x"})
        assert wrong.status_code == 403, path
        assert "CSRF" in wrong.json()["detail"]
    # A right token from another site is refused too.
    foreign = client.post(
        "/api/actions/emergency-stop",
        json={"confirm": True},
        headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"},
    )
    assert foreign.status_code == 403
    assert len(exchange_positions(sim)) == 1
    with TradeStore.open_read_only(database) as store:
        halt = store.breakers().get("manual_halt")
    assert halt is None or not halt.tripped
    assert client.get("/api/status").status_code == 200  # the session still works


def test_login_when_right_password_then_session_cookie_httponly_samesite_strict(
    served: ServedDashboard,
) -> None:
    with served.client() as client:
        answer = client.post("/login", data={"password": PASSWORD, "next": "/trades?x=1"})
        cookie = answer.headers["set-cookie"]
    assert answer.status_code == 303
    assert answer.headers["location"] == "/trades?x=1"
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # loopback: plain http keeps the login
    assert "Max-Age=43200" in cookie  # dashboard.session_hours 12


def test_login_when_next_leaves_the_site_then_goes_to_overview(served: ServedDashboard) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        with served.client() as client:
            answer = client.post("/login", data={"password": PASSWORD, "next": target})
        assert answer.headers["location"] == "/", target


def test_logout_when_posted_then_session_refused(served: ServedDashboard) -> None:
    client, csrf = served.logged_in()
    with closing(client):
        assert client.post("/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
        assert client.get("/api/status").status_code == 401


def test_login_when_five_wrong_passwords_then_429_until_window_passes(
    traded: tuple[RunningSim, Path],
) -> None:
    sim, database = traded
    now = [1000.0]
    app = create_app(options_for(sim, database), monotonic=lambda: now[0])

    async def attempts() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            answers = [await c.post("/login", data={"password": f"wrong {i}"}) for i in range(5)]
            answers.append(await c.post("/login", data={"password": PASSWORD}))
            now[0] += 301
            answers.append(await c.post("/login", data={"password": PASSWORD}))
            return answers

    answers = asyncio.run(attempts())
    assert [a.status_code for a in answers[:5]] == [401] * 5
    assert answers[5].status_code == 429
    assert int(answers[5].headers["retry-after"]) > 0
    assert "set-cookie" not in answers[5].headers
    assert answers[6].status_code == 303


def test_login_when_not_loopback_then_cookie_secure(
    traded: tuple[RunningSim, Path], tmp_path: Path
) -> None:
    sim, database = traded
    config = tmp_path / "config.json"
    config.write_text('{"dashboard": {"host": "0.0.0.0"}}')
    options = options_for(sim, database, config)
    assert not options.loopback

    async def log_in() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(options))
        async with httpx.AsyncClient(transport=transport, base_url="https://dash.example") as c:
            return await c.post("/login", data={"password": PASSWORD})

    answer = asyncio.run(log_in())
    assert answer.status_code == 303
    assert "; Secure" in answer.headers["set-cookie"]


# ---------------------------------------------------------------------------- headers
def test_every_response_when_any_route_then_security_headers(
    served: ServedDashboard, session: tuple[httpx.Client, str]
) -> None:
    client, _ = session
    answers = [client.get(path) for _, path in route_requests(served) if _ == "GET"]
    answers += [client.get("/no/such/page"), client.post("/api/actions/emergency-stop")]
    with served.client() as anonymous:
        answers += [anonymous.get("/"), anonymous.get("/api/status"), anonymous.get("/login")]
    for answer in answers:
        headers = answer.headers
        policy = headers["content-security-policy"]
        script = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
        assert "'unsafe-inline'" not in script, policy
        assert "'unsafe-eval'" not in policy
        assert "frame-ancestors 'none'" in policy
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        if answer.request.url.path.startswith("/api/") or answer.request.url.path in PAGES:
            assert headers["cache-control"] == "no-store", answer.request.url


# ---------------------------------------------------------------------------- reads
def test_status_when_bot_traded_then_mode_heartbeat_account_and_exchange_agree(
    session: tuple[httpx.Client, str], traded: tuple[RunningSim, Path]
) -> None:
    client, _ = session
    sim, database = traded
    status = client.get("/api/status").json()
    with TradeStore.open_read_only(database) as store:
        report = collect_status(store, 10, WallClock())
    assert status["mode"] == "live"
    assert status["dashboard"]["mode"] == "live"
    assert status["dashboard"]["environment"]["label"] == "CUSTOM"
    assert status["dashboard"]["environment"]["base_url"] == sim.base_url
    assert status["bot"]["state"] == "stopped"
    assert status["bot"]["heartbeat_age_s"] is not None
    assert report.account is not None
    assert status["account"]["equity"] == str(report.account.equity)
    assert status["trading_state"] == "active"
    assert [b["name"] for b in status["breakers"]] == [b.value for b in BreakerName]
    exchange = status["exchange"]
    assert exchange["available"], exchange
    (held,) = exchange_positions(sim)
    assert exchange["positions"][0]["quantity"] == str(Decimal(str(held["positionAmt"])).copy_abs())
    assert exchange["equity_difference"] is not None
    assert "today" in status


def test_positions_when_open_then_stop_loss_take_profit_and_unrealised_from_last_price(
    session: tuple[httpx.Client, str], traded: tuple[RunningSim, Path]
) -> None:
    client, _ = session
    _, database = traded
    answer = client.get("/api/positions").json()
    with TradeStore.open_read_only(database) as store:
        (position,) = store.open_positions()
        last_price = Decimal(store.info("last_price") or "0")
    (shown,) = answer["positions"]
    assert shown["direction"] == position.direction.value
    assert shown["quantity"] == str(position.quantity)
    assert shown["stop_loss"] == str(position.stop_loss)
    assert shown["take_profit"] == str(position.take_profit)
    expected = (last_price - position.entry_price) * position.quantity * position.direction.sign
    assert Decimal(shown["unrealized_pnl"]) == expected
    assert answer["last_price"] == str(last_price)


def test_trades_when_filtered_then_only_matching_and_csv_exports_them_exactly(
    session: tuple[httpx.Client, str], traded: tuple[RunningSim, Path]
) -> None:
    client, _ = session
    _, database = traded
    with TradeStore.open_read_only(database) as store:
        trades = store.trades()
    assert len(trades) >= 2
    everything = client.get("/api/trades").json()
    assert [t["trade_id"] for t in everything["trades"]] == [t.trade_id for t in reversed(trades)]
    assert Decimal(everything["net_pnl"]) == sum((t.pnl for t in trades), Decimal(0))
    for direction in Direction:
        shown = client.get("/api/trades", params={"direction": direction.value}).json()
        assert {t["direction"] for t in shown["trades"]} <= {direction.value}
        assert shown["count"] == sum(1 for t in trades if t.direction is direction)
    reason = trades[0].exit_reason
    shown = client.get("/api/trades", params={"exit_reason": reason.value}).json()
    assert shown["count"] == sum(1 for t in trades if t.exit_reason is reason)
    first_day = _day(trades[0].exit_time_ms)
    before = client.get("/api/trades", params={"end": first_day}).json()
    after = client.get("/api/trades", params={"start": first_day}).json()
    assert before["count"] == sum(1 for t in trades if _day(t.exit_time_ms) <= first_day)
    assert after["count"] == sum(1 for t in trades if _day(t.exit_time_ms) >= first_day)
    assert client.get("/api/trades", params={"direction": "sideways"}).status_code == 422

    exported = client.get("/api/trades.csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert (
        exported.headers["content-disposition"] == 'attachment; filename="adxbot-live-trades.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [int(r["trade_id"]) for r in rows] == [t.trade_id for t in trades]
    for row, trade in zip(rows, trades, strict=True):
        assert row["pnl"] == str(trade.pnl)
        assert row["entry_price"] == str(trade.entry_price)
        assert row["exit_reason"] == trade.exit_reason.value
        assert int(row["exit_time_ms"]) == trade.exit_time_ms
    filtered = client.get("/api/trades.csv", params={"exit_reason": reason.value}).text
    assert len(list(csv.DictReader(io.StringIO(filtered)))) == shown["count"]
    page = client.get("/trades", params={"exit_reason": reason.value}).text
    assert f'href="/api/trades.csv?exit_reason={reason.value}"' in page


def test_equity_when_snapshots_then_curve_with_drawdown_from_running_peak(
    session: tuple[httpx.Client, str], traded: tuple[RunningSim, Path]
) -> None:
    client, _ = session
    _, database = traded
    view = client.get("/api/equity", params={"limit": 500}).json()
    with TradeStore.open_read_only(database) as store:
        snapshots = store.equity_snapshots(limit=500)
    assert [p["equity"] for p in view["points"]] == [str(s.equity) for s in snapshots]
    peak = Decimal(0)
    for point, snapshot in zip(view["points"], snapshots, strict=True):
        peak = max(peak, snapshot.equity)
        expected = (peak - snapshot.equity) / peak * 100
        assert Decimal(point["drawdown_percent"]) == expected.quantize(Decimal("0.0001"))
    deepest = max(Decimal(p["drawdown_percent"]) for p in view["points"])
    assert Decimal(view["max_drawdown_percent"]) == deepest


def test_events_when_filtered_by_kind_and_severity_then_only_those(
    session: tuple[httpx.Client, str],
) -> None:
    client, _ = session
    signals = client.get("/api/events", params={"kind": "signal"}).json()["events"]
    assert signals
    assert {e["kind"] for e in signals} == {"signal"}
    two = client.get("/api/events", params=[("kind", "started"), ("kind", "stopped")]).json()
    assert {e["kind"] for e in two["events"]} == {"started", "stopped"}
    infos = client.get("/api/events", params={"severity": "info", "limit": 5}).json()["events"]
    assert len(infos) == 5
    assert {e["severity"] for e in infos} == {"info"}
    ids = [e["event_id"] for e in client.get("/api/events").json()["events"]]
    assert ids == sorted(ids, reverse=True)
    assert client.get("/api/events", params={"kind": "gossip"}).status_code == 422
    page = client.get("/events", params={"kind": "signal"}).text
    assert 'value="signal" selected' in page


def test_breakers_when_read_then_every_breaker_with_state(
    session: tuple[httpx.Client, str],
) -> None:
    client, _ = session
    answer = client.get("/api/breakers").json()
    assert answer["trading_state"] == "active"
    assert {b["name"]: b["tripped"] for b in answer["breakers"]} == {
        b.value: False for b in BreakerName
    }


def test_candles_when_exchange_serves_then_indicators_of_the_strategy_and_trade_markers(
    session: tuple[httpx.Client, str], traded: tuple[RunningSim, Path]
) -> None:
    client, _ = session
    sim, database = traded
    chart = client.get("/api/candles", params={"limit": 100}).json()
    assert chart["available"], chart["error"]
    assert len(chart["time_ms"]) == 100
    # The same candles (the market is paused), with the run-in the dashboard fetches.
    period = bot_config().strategy.adx_period
    rows = sim.client.data(
        "GET",
        KLINES,
        {"symbol": "BTC-USDT", "interval": "5m", "limit": 100 + 10 * period},
        signed=False,
        with_timestamp=False,
    )
    rows.sort(key=lambda r: int(r["time"]))
    indicators = directional_movement(
        _column(rows, "high"), _column(rows, "low"), _column(rows, "close"), period
    )
    assert [int(r["time"]) for r in rows[-100:]] == chart["time_ms"]
    assert chart["adx"] == pytest.approx(list(indicators.adx[-100:]), abs=1e-4)
    assert chart["plus_di"] == pytest.approx(list(indicators.plus_di[-100:]), abs=1e-4)
    with TradeStore.open_read_only(database) as store:
        (position,) = store.open_positions()
    entries = [m for m in chart["markers"] if m["kind"] == "entry" and m["note"] == "open"]
    assert [(m["time_ms"], m["direction"]) for m in entries] == [
        (position.opened_ms, position.direction.value)
    ]


def test_candles_when_exchange_unreachable_then_chart_says_so_and_pages_still_load(
    traded: tuple[RunningSim, Path],
) -> None:
    sim, database = traded
    dead = "http://127.0.0.1:9"  # discard port on loopback: nothing listens
    with serve_dashboard(options_for(sim, database, BINGX_BASE_URL=dead)) as dashboard:
        client, _ = dashboard.logged_in()
        with closing(client):
            chart = client.get("/api/candles").json()
            overview = client.get("/")
            status = client.get("/api/status").json()
            chart_page = client.get("/chart")
    assert chart["available"] is False
    assert dead in chart["error"]
    assert chart["time_ms"] == []
    assert chart["markers"]  # the trades are still known
    assert overview.status_code == 200
    assert chart_page.status_code == 200
    assert status["exchange"]["available"] is False
    assert dead in status["exchange"]["error"]


def test_pages_when_logged_in_then_rendered_with_mode_position_and_csrf_token(
    session: tuple[httpx.Client, str], traded: tuple[RunningSim, Path]
) -> None:
    client, csrf = session
    _, database = traded
    with TradeStore.open_read_only(database) as store:
        (position,) = store.open_positions()
    for path in PAGES:
        page = client.get(path)
        assert page.status_code == 200, path
        assert "text/html" in page.headers["content-type"]
        assert '<span class="mode">LIVE</span>' in page.text
        assert f'content="{csrf}"' in page.text
        assert "<script>" not in page.text  # no inline script: the CSP would refuse it
    overview = client.get("/").text
    assert str(position.stop_loss) in overview
    assert str(position.take_profit) in overview
    assert str(position.quantity) in overview
    plotly = client.get("/static/plotly.min.js")
    assert plotly.status_code == 200
    assert "plotly" in plotly.text[:2000].lower()


def test_no_secret_in_any_page_or_answer_even_when_an_event_quotes_one(
    served: ServedDashboard, traded: tuple[RunningSim, Path], tmp_path: Path
) -> None:
    sim, database = traded
    copy = tmp_path / "live.sqlite3"
    with closing(sqlite3.connect(database)) as source, closing(sqlite3.connect(copy)) as target:
        source.backup(target)  # the bot's records, and then one careless event
    with TradeStore.open(copy, TradingMode.LIVE) as store:
        store.add_event(
            EventRecord(
                time_ms=1,
                kind=EventKind.ERROR,
                message=f"a careless message quoting {DEFAULT_API_SECRET} and {PASSWORD}",
                severity=Severity.CRITICAL,
                data={"key": DEFAULT_API_KEY},
            )
        )
    secrets = (DEFAULT_API_KEY, DEFAULT_API_SECRET, PASSWORD)
    with serve_dashboard(options_for(sim, copy)) as dashboard:
        client, _ = dashboard.logged_in()
        with closing(client):
            texts = [
                client.get(path).text
                for method, path in route_requests(dashboard)
                if method == "GET" and path != "/static/plotly.min.js"
            ]
            texts.append(client.get("/api/events", params={"kind": "error"}).text)
        with dashboard.client() as anonymous:
            texts.append(anonymous.get("/login").text)
    assert any("a careless message quoting ***" in t for t in texts)
    for text in texts:
        for secret in secrets:
            assert secret not in text


def test_dashboard_when_database_missing_then_pages_say_so_and_api_answers_503(
    tmp_path: Path,
) -> None:
    with running_simulator() as sim:
        missing = tmp_path / "live.sqlite3"
        with serve_dashboard(options_for(sim, missing)) as dashboard:
            client, _ = dashboard.logged_in()
            with closing(client):
                overview = client.get("/")
                status = client.get("/api/status")
                trades = client.get("/api/trades")
                candles = client.get("/api/candles").json()
    assert overview.status_code == 200
    assert "no database at" in overview.text
    assert status.status_code == 503
    assert "no database at" in status.json()["detail"]
    assert trades.status_code == 503
    assert candles["available"] is True
    assert "no database at" in candles["markers_error"]
    assert not missing.exists()  # never created by the dashboard


# ---------------------------------------------------------------------------- actions
def test_emergency_stop_when_live_position_then_flat_halted_recorded_and_audited(
    tmp_path: Path,
) -> None:
    database = tmp_path / "live.sqlite3"
    with running_simulator() as sim:
        enter_long(sim, database)
        assert len(exchange_positions(sim)) == 1
        with serve_dashboard(options_for(sim, database)) as dashboard:
            client, csrf = dashboard.logged_in()
            with closing(client):
                unconfirmed = client.post(
                    "/api/actions/emergency-stop", headers={"X-CSRF-Token": csrf}
                )
                held = len(exchange_positions(sim))
                answer = client.post(
                    "/api/actions/emergency-stop",
                    json={"confirm": True},
                    headers={"X-CSRF-Token": csrf},
                )
        flat = exchange_positions(sim) == [] and sim.account_state()["open_orders"] == []
    assert unconfirmed.status_code == 422
    assert held == 1
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["ok"] is True, result
    assert "account flat: confirmed" in result["message"]
    assert result["details"]["audited"] is True
    assert flat
    with TradeStore.open_read_only(database) as store:
        assert store.breakers()["manual_halt"].tripped
        (trade,) = store.trades()  # no bot ran: the stop recorded it
        audit = [e for e in store.events(limit=100) if e.data.get("source") == "dashboard"]
    assert trade.exit_reason is ExitReason.MANUAL
    (event,) = audit
    assert event.kind is EventKind.ORDER
    assert event.message.startswith("emergency stop from the dashboard (client 127.0.0.1)")
    assert event.data["flat"] is True
    assert event.data["api_key"] == DEFAULT_API_KEY[:4] + "…"


def test_emergency_stop_when_paper_then_manual_halt_set_and_audited(tmp_path: Path) -> None:
    database = tmp_path / "paper.sqlite3"
    TradeStore.open(database, TradingMode.PAPER).close()
    with running_simulator() as sim:
        options = _paper_options(sim, database)
        with serve_dashboard(options) as dashboard:
            client, csrf = dashboard.logged_in()
            with closing(client):
                page = client.get("/").text
                answer = client.post(
                    "/api/actions/emergency-stop",
                    json={"confirm": True},
                    headers={"X-CSRF-Token": csrf},
                ).json()
    assert '<span class="mode">PAPER</span>' in page
    assert answer["ok"] is True
    assert "manual_halt set" in answer["message"]
    with TradeStore.open_read_only(database) as store:
        assert store.breakers()["manual_halt"].tripped
        kinds = [e.kind for e in store.events(limit=10)]
    assert EventKind.BREAKER_TRIPPED in kinds
    assert EventKind.ORDER in kinds  # the audit


def test_breaker_reset_when_tripped_then_reset_and_event_names_the_dashboard(
    tmp_path: Path,
) -> None:
    database = tmp_path / "live.sqlite3"
    with TradeStore.open(database, TradingMode.LIVE) as store:
        breakers = CircuitBreakers(RiskLimits.from_config(bot_config()), store, WallClock())
        breakers.trip(BreakerName.CONSECUTIVE_LOSSES, "3 losing trades in a row")
    with running_simulator() as sim, serve_dashboard(options_for(sim, database)) as dashboard:
        client, csrf = dashboard.logged_in()
        with closing(client):
            reset = f"/api/actions/breakers/{BreakerName.CONSECUTIVE_LOSSES}/reset"
            shown = client.get("/").text
            first = client.post(reset, json={"confirm": True}, headers={"X-CSRF-Token": csrf})
            again = client.post(reset, json={"confirm": True}, headers={"X-CSRF-Token": csrf})
            unknown = client.post(
                "/api/actions/breakers/no_such/reset",
                json={"confirm": True},
                headers={"X-CSRF-Token": csrf},
            )
    assert 'data-breaker="consecutive_losses"' in shown
    assert first.json()["ok"] is True
    assert "trading ACTIVE" in first.json()["message"]
    assert again.json()["ok"] is False
    assert "not tripped" in again.json()["message"]
    assert unknown.status_code == 422
    with TradeStore.open_read_only(database) as store:
        assert not store.breakers()["consecutive_losses"].tripped
        (event,) = store.events(limit=10, kinds=[EventKind.BREAKER_RESET])
    assert "operator via the adxbot dashboard (client 127.0.0.1)" in event.message


# ---------------------------------------------------------------------------- helpers
def _paper_options(sim: RunningSim, database: Path) -> DashboardOptions:
    return dashboard_options(
        None, TradingMode.PAPER, database=database, environ=sim_environment(sim)
    )


def _day(time_ms: int) -> str:
    return utc_day(time_ms)


def _column(rows: list[dict[str, Any]], name: str) -> npt.NDArray[np.float64]:
    return np.array([float(r[name]) for r in rows])
