"""Server-side HTML of the dashboard's pages, rendered from the API's JSON shapes.

Every value is escaped; the pages hold no inline script (the Content-Security-Policy
forbids it): `static/app.js` adds the refresh, the charts and the confirmations, and
re-renders the sections marked with ids the same way from the same JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from html import escape
from typing import Any
from urllib.parse import urlencode

from adxbot.domain.enums import Direction, ExitReason
from adxbot.persistence.records import EventKind, Severity

PAGES = (
    ("overview", "/", "Overview"),
    ("chart", "/chart", "Chart"),
    ("equity", "/equity", "Equity"),
    ("trades", "/trades", "Trades"),
    ("events", "/events", "Events"),
)


def esc(value: object) -> str:
    """Return text safe inside HTML content and attribute values."""
    return escape("" if value is None else str(value), quote=True)


def utc(time_ms: int | None) -> str:
    """Return epoch milliseconds as "YYYY-MM-DD HH:MM:SS" (UTC), "" for None."""
    if time_ms is None:
        return ""
    return datetime.fromtimestamp(time_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def money(text: str | None, *, signed: bool = False) -> str:
    """Return a decimal string with two places ("" for None)."""
    if text is None:
        return ""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return esc(text)
    return f"{value:+,.2f}" if signed else f"{value:,.2f}"


def pnl_class(text: str | None) -> str:
    """Return the CSS class of a P&L: pos, neg or nothing."""
    try:
        value = Decimal(text) if text is not None else Decimal(0)
    except InvalidOperation:
        return ""
    return "pos" if value > 0 else "neg" if value < 0 else ""


# ---------------------------------------------------------------------------- layout
def banner(dashboard: dict[str, Any]) -> str:
    """Return the mode banner: red for LIVE, blue for PAPER, with the environment."""
    env = dashboard["environment"]
    where = f"{env['label']} {env['base_url']}" + ("" if env["real_bingx"] else " (not BingX)")
    if dashboard["mode"] == "live":
        mode, what, css = "LIVE", f"real orders on {where}", "banner banner-live"
    else:
        mode, what, css = (
            "PAPER",
            f"simulated account, market data from {where}",
            "banner banner-paper",
        )
    return (
        f'<header class="{css}" id="banner"><span class="mode">{mode}</span>'
        f'<span class="what">{esc(what)}</span>'
        f'<span class="market">{esc(dashboard["symbol"])} {esc(dashboard["timeframe"])}</span>'
        '<span class="bot-state" id="bot-state"></span></header>'
    )


def layout(
    dashboard: dict[str, Any],
    *,
    page: str,
    title: str,
    csrf_token: str,
    main: str,
    plotly: bool = False,
) -> str:
    """Return a whole page: head, banner, navigation, the page's main part."""
    mode = "LIVE" if dashboard["mode"] == "live" else "PAPER"
    links = "".join(
        f'<a href="{href}"{" aria-current=page" if key == page else ""}>{label}</a>'
        for key, href, label in PAGES
    )
    scripts = ('<script src="/static/plotly.min.js" defer></script>' if plotly else "") + (
        '<script src="/static/app.js" defer></script>'
    )
    return (
        "<!doctype html>\n"
        f'<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="csrf-token" content="{esc(csrf_token)}">'
        f"<title>[{mode}] adxbot - {esc(title)}</title>"
        '<link rel="icon" href="data:,"><link rel="stylesheet" href="/static/app.css">'
        f"{scripts}</head>"
        f'<body class="mode-{esc(dashboard["mode"])}" data-page="{esc(page)}" '
        f'data-refresh="{int(dashboard["refresh_seconds"])}">'
        f"{banner(dashboard)}"
        f'<nav>{links}<span class="spacer"></span>'
        '<span class="refreshed" id="refreshed" aria-live="polite"></span>'
        '<button type="button" class="link" id="logout">Log out</button></nav>'
        f'<main><h1>{esc(title)}</h1><p class="error" id="page-error" hidden></p>{main}</main>'
        "</body></html>\n"
    )


def login_page(mode: str, *, error: str | None, next_path: str) -> str:
    """Return the login form (no data of the bot on it but its mode)."""
    badge = "LIVE" if mode == "live" else "PAPER"
    problem = f'<p class="error" role="alert">{esc(error)}</p>' if error else ""
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>[{badge}] adxbot - log in</title>"
        '<link rel="icon" href="data:,"><link rel="stylesheet" href="/static/app.css"></head>'
        f'<body class="login mode-{esc(mode)}"><main class="login-box">'
        f'<h1>adxbot dashboard <span class="badge badge-{esc(mode)}">{badge}</span></h1>'
        f"{problem}"
        '<form method="post" action="/login">'
        f'<input type="hidden" name="next" value="{esc(next_path)}">'
        '<label for="password">Password</label>'
        '<input type="password" id="password" name="password" autocomplete="current-password" '
        "required autofocus>"
        '<button type="submit">Log in</button></form></main></body></html>\n'
    )


def table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, empty: str, numeric: set[int]
) -> str:
    """Return a table of pre-escaped cells (or the `empty` text when there is no row)."""
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    if not body:
        return f'<p class="empty">{esc(empty)}</p>'
    head = "".join(
        f'<th class="num">{esc(h)}</th>' if i in numeric else f"<th>{esc(h)}</th>"
        for i, h in enumerate(headers)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def notice(message: str | None) -> str:
    """Return an error paragraph, or nothing."""
    return "" if not message else f'<p class="error" role="alert">{esc(message)}</p>'


# ---------------------------------------------------------------------------- overview
def overview_main(
    status: dict[str, Any] | None, dashboard: dict[str, Any], error: str | None
) -> str:
    """Return the overview: cards, positions, breakers, the emergency stop, warnings."""
    stop_disabled = "" if dashboard["can_emergency_stop"] else " disabled"
    return (
        notice(error)
        + f'<section class="cards" id="cards">{cards(status) if status else ""}</section>'
        + "<section><h2>Open positions</h2>"
        + f'<div id="positions">{positions(status) if status else ""}</div></section>'
        + '<section class="danger"><h2>Emergency stop</h2>'
        + f'<p id="stop-note">{esc(dashboard["emergency_stop_note"])}</p>'
        + f'<button type="button" class="stop" id="emergency-stop"{stop_disabled}>'
        + "EMERGENCY STOP</button>"
        + '<p class="result" id="action-result" role="status" aria-live="polite"></p></section>'
        + "<section><h2>Circuit breakers</h2>"
        + f'<div id="breakers">{breakers(status) if status else ""}</div></section>'
        + "<section><h2>Latest warnings</h2>"
        + f'<div id="warnings">{warnings(status) if status else ""}</div></section>'
    )


def bot_state(status: dict[str, Any]) -> tuple[str, str]:
    """Return the bot's state text and its CSS class (ok, bad, idle)."""
    bot = status["bot"]
    age = bot["heartbeat_age_s"]
    ago = "never" if age is None else f"{age} s ago"
    if bot["state"] == "running":
        return f"running, heartbeat {ago}", "ok"
    if bot["state"] == "not_responding":
        return f"NOT RESPONDING, last heartbeat {ago}", "bad"
    return ("stopped" if bot["status"] else "has not run yet") + (
        "" if age is None else f", last heartbeat {ago}"
    ), "idle"


def _card(title: str, body: str, css: str = "") -> str:
    return f'<div class="card {css}"><h3>{esc(title)}</h3>{body}</div>'


def _rows(pairs: Sequence[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def cards(status: dict[str, Any]) -> str:
    """Return the status cards: bot, trading, account, exchange, today."""
    state, css = bot_state(status)
    bot = _rows(
        [
            ("state", f'<strong class="{css}">{esc(state)}</strong>'),
            ("environment", esc(status["environment"])),
            ("last candle", esc(utc(status["last_candle_ms"]) or "none yet")),
            ("last price", esc(status["last_price"] or "unknown")),
        ]
    )
    halted = status["trading_state"] == "halted"
    tripped = [b["name"] for b in status["breakers"] if b["tripped"]]
    trading = (
        f'<p class="big {"bad" if halted else "ok"}">{"HALTED" if halted else "ACTIVE"}</p>'
        + (f"<p>by {esc(', '.join(tripped))}</p>" if tripped else "<p>no breaker tripped</p>")
    )
    account = status["account"]
    recorded = (
        "<p>no equity recorded yet</p>"
        if account is None
        else _rows(
            [
                ("balance", f"{money(account['balance'])} USDT"),
                ("equity", f"{money(account['equity'])} USDT"),
                (
                    "unrealised",
                    f'<span class="{pnl_class(account["unrealized_pnl"])}">'
                    f"{money(account['unrealized_pnl'], signed=True)}</span>",
                ),
                ("at", esc(utc(account["time_ms"]))),
            ]
        )
    )
    return (
        _card("Bot", bot)
        + _card("Trading", trading, "bad" if halted else "")
        + _card("Account (database)", recorded)
        + _card("Exchange", exchange(status))
        + _card("Today (UTC)", today(status))
    )


def exchange(status: dict[str, Any]) -> str:
    """Return the exchange's view of the account (live), or why there is none."""
    seen = status["exchange"]
    if status["dashboard"]["mode"] != "live":
        return "<p>paper mode: the account is simulated inside the bot</p>"
    if seen is None:
        return "<p>no API key: the dashboard cannot read the account</p>"
    if not seen["available"]:
        return f'<p class="bad">{esc(seen["error"])}</p>'
    held = ", ".join(f"{p['direction']} {p['quantity']}" for p in seen["positions"]) or "none"
    difference = seen["equity_difference"]
    return _rows(
        [
            ("balance", f"{money(seen['balance'])} USDT"),
            ("equity", f"{money(seen['equity'])} USDT"),
            (
                "vs database",
                "" if difference is None else f"{money(difference, signed=True)} USDT",
            ),
            ("positions", esc(held)),
        ]
    )


def today(status: dict[str, Any]) -> str:
    """Return today's P&L."""
    day = status["today"]
    if "realized_pnl" not in day:
        return f"<p>{esc(day['day'])}: no trading recorded</p>"
    change = day["equity_change"]
    return _rows(
        [
            ("day", esc(day["day"])),
            (
                "realised",
                f'<span class="{pnl_class(day["realized_pnl"])}">'
                f"{money(day['realized_pnl'], signed=True)} USDT</span>",
            ),
            (
                "equity change",
                f'<span class="{pnl_class(change)}">{money(change, signed=True)} USDT</span>',
            ),
            ("fees", f"{money(day['fees'])} USDT"),
            ("trades", esc(day["trades"])),
        ]
    )


def positions(status: dict[str, Any]) -> str:
    """Return the open positions table with stop-loss, take-profit and unrealised P&L."""
    rows = [
        (
            f'<span class="side side-{esc(p["direction"])}">{esc(p["direction"].upper())}</span>',
            esc(p["quantity"]),
            esc(p["entry_price"]),
            esc(p["stop_loss"]) if p["stop_loss"] else '<span class="bad">NONE</span>',
            esc(p["take_profit"] or "none"),
            "? (no price yet)"
            if p["unrealized_pnl"] is None
            else f'<span class="{pnl_class(p["unrealized_pnl"])}">'
            f"{money(p['unrealized_pnl'], signed=True)}</span>",
            esc(utc(p["opened_ms"])),
        )
        for p in status["positions"]
    ]
    return table(
        ("side", "quantity", "entry", "stop-loss", "take-profit", "unrealised P&L", "opened (UTC)"),
        rows,
        empty="none",
        numeric={1, 2, 3, 4, 5},
    )


def breakers(status: dict[str, Any]) -> str:
    """Return the breakers table; a tripped breaker has its reset button."""
    rows = [
        (
            esc(b["name"]),
            '<strong class="bad">TRIPPED</strong>'
            if b["tripped"]
            else '<span class="ok">OK</span>',
            esc(utc(b["since_ms"])),
            esc(b["reason"] or ""),
            f'<button type="button" class="reset" data-breaker="{esc(b["name"])}">Reset</button>'
            if b["tripped"]
            else "",
        )
        for b in status["breakers"]
    ]
    return table(("breaker", "state", "since (UTC)", "reason", ""), rows, empty="", numeric=set())


def warnings(status: dict[str, Any]) -> str:
    """Return the latest warning and critical events."""
    return events_table(status["events"], empty="none")


def events_table(events: Sequence[dict[str, Any]], *, empty: str) -> str:
    """Return events, newest first."""
    rows = [
        (
            esc(utc(e["time_ms"])),
            f'<span class="sev sev-{esc(e["severity"])}">{esc(e["severity"].upper())}</span>',
            esc(e["kind"]),
            esc(e["message"]),
        )
        for e in events
    ]
    return table(("time (UTC)", "severity", "kind", "message"), rows, empty=empty, numeric=set())


# ---------------------------------------------------------------------------- other pages
def chart_main() -> str:
    """Return the chart page's containers (the script draws into them)."""
    options = "".join(
        f'<option value="{n}"{" selected" if n == 300 else ""}>{n} candles</option>'
        for n in (150, 300, 600, 1000)
    )
    picker = f'<select id="candle-count">{options}</select>'
    return (
        f'<div class="toolbar"><label for="candle-count">Show</label>{picker}'
        '<span id="chart-source" class="muted"></span></div>'
        '<p class="error" id="chart-error" role="alert" hidden></p>'
        '<div class="chart tall" id="price-chart"></div>'
        '<p class="muted">Candles from the exchange\'s public market data (the last one may '
        "still be forming); ADX, +DI and -DI computed by the strategy's own code. Triangles: "
        "entries; crosses: exits.</p>"
    )


def equity_main(view: dict[str, Any] | None, error: str | None) -> str:
    """Return the equity page: figures and the chart's container."""
    summary = ""
    if view is not None:
        latest = view["latest"]
        summary = _rows(
            [
                ("snapshots", esc(view["count"])),
                ("latest equity", "" if latest is None else f"{money(latest['equity'])} USDT"),
                ("peak shown", f"{money(view['peak'])} USDT" if view["peak"] else ""),
                ("max drawdown shown", f"{Decimal(view['max_drawdown_percent']):.2f} %"),
            ]
        )
    return (
        notice(error)
        + f'<div class="card summary" id="equity-summary">{summary}</div>'
        + '<div class="chart tall" id="equity-chart"></div>'
        + '<p class="muted">Equity at every candle close (balance + unrealised P&L); drawdown '
        "from the highest equity shown.</p>"
    )


def _choice(name: str, label: str, choices: Sequence[str], values: dict[str, str]) -> str:
    """Return a labelled drop-down with "any" first and the current value selected."""
    chosen = values.get(name)
    options = '<option value="">any</option>' + "".join(
        f'<option value="{esc(c)}"{" selected" if chosen == c else ""}>{esc(c)}</option>'
        for c in choices
    )
    return (
        f'<label for="{name}">{label}</label><select id="{name}" name="{name}">{options}</select>'
    )


def trade_filters(values: dict[str, str]) -> str:
    """Return the trades filter form (a GET form: the filters are the page's address)."""

    query = urlencode({k: v for k, v in values.items() if v})
    return (
        '<form class="filters" method="get" action="/trades" id="trade-filters">'
        + _choice("direction", "direction", [d.value for d in Direction], values)
        + _choice("exit_reason", "exit reason", [r.value for r in ExitReason], values)
        + f'<label for="start">exit from</label><input type="date" id="start" name="start" '
        f'value="{esc(values.get("start", ""))}">'
        + f'<label for="end">to</label><input type="date" id="end" name="end" '
        f'value="{esc(values.get("end", ""))}">'
        + '<button type="submit">Filter</button>'
        + f'<a class="csv" id="csv-link" href="/api/trades.csv{"?" + esc(query) if query else ""}" '
        "download>Export CSV</a></form>"
    )


def trades_main(view: dict[str, Any] | None, values: dict[str, str], error: str | None) -> str:
    """Return the trades page: filters, summary, table."""
    return (
        trade_filters(values)
        + notice(error)
        + f'<p id="trades-summary">{trades_summary(view) if view else ""}</p>'
        + f'<div id="trades">{trades_table(view) if view else ""}</div>'
    )


def trades_summary(view: dict[str, Any]) -> str:
    """Return "N trades, net P&L, win rate"."""
    rate = view["win_rate_percent"]
    return (
        f"{view['count']} trade(s), net P&L "
        f'<span class="{pnl_class(view["net_pnl"])}">'
        f"{money(view['net_pnl'], signed=True)} USDT</span>"
        + ("" if rate is None else f", {rate}% winners")
    )


def trades_table(view: dict[str, Any]) -> str:
    """Return the closed trades, newest first."""
    rows = [
        (
            esc(utc(t["exit_time_ms"])),
            f'<span class="side side-{esc(t["direction"])}">{esc(t["direction"].upper())}</span>',
            esc(t["quantity"]),
            esc(t["entry_price"]),
            esc(t["exit_price"]),
            esc(t["exit_reason"]),
            f'<span class="{pnl_class(t["pnl"])}">{money(t["pnl"], signed=True)}</span>',
            money(t["fees"]),
            esc(utc(t["entry_time_ms"])),
        )
        for t in view["trades"]
    ]
    return table(
        (
            "exit (UTC)",
            "side",
            "quantity",
            "entry",
            "exit",
            "reason",
            "net P&L",
            "fees",
            "entry (UTC)",
        ),
        rows,
        empty="no closed trade matches",
        numeric={2, 3, 4, 6, 7},
    )


def event_filters(values: dict[str, str]) -> str:
    """Return the events filter form."""

    return (
        '<form class="filters" method="get" action="/events" id="event-filters">'
        + _choice("kind", "kind", [k.value for k in EventKind], values)
        + _choice("severity", "severity", [s.value for s in Severity], values)
        + '<button type="submit">Filter</button></form>'
    )


def events_main(
    events: list[dict[str, Any]] | None, values: dict[str, str], error: str | None
) -> str:
    """Return the events page: filters and the log."""
    return (
        event_filters(values)
        + notice(error)
        + '<div id="events">'
        + ("" if events is None else events_table(events, empty="no event matches"))
        + "</div>"
    )
