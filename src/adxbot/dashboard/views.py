"""The JSON shapes of the dashboard's data, shared by the API and the server-rendered pages
(so the first render and every refresh show the same thing).

Money and quantities are exact decimal strings, times epoch milliseconds, as in
`adxbot status --json` (whose `status_json` is the base of the status here).  Chart
series are floats: they are drawn, never added up.  Every text that came from outside
(event messages, exchange errors) passes the secret redaction once more.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from adxbot.cli.status_cmd import StatusReport, status_json
from adxbot.dashboard.market import CandleChart, ExchangeAccount
from adxbot.dashboard.reader import ChartMarks, EquityPoint
from adxbot.dashboard.settings import DashboardOptions
from adxbot.logsetup import redact
from adxbot.persistence.records import ClosedTrade, EventRecord, TradingMode

TRADE_COLUMNS = (
    "trade_id",
    "position_id",
    "direction",
    "signal_time_ms",
    "entry_time_ms",
    "entry_price",
    "quantity",
    "exit_time_ms",
    "exit_price",
    "exit_reason",
    "pnl",
    "fees",
    "funding",
)


def dashboard_json(options: DashboardOptions) -> dict[str, Any]:
    """Return what the pages need to know about this dashboard (no secret in it)."""
    environment = options.environment
    live = options.mode is TradingMode.LIVE
    if not live:
        stop_note = (
            "Paper mode: sets manual_halt (no new entries). The paper account lives inside "
            "the bot: its positions are not closed from here and keep their stop-loss and "
            "take-profit."
        )
    elif options.credentials is None:
        stop_note = (
            "Unavailable: the dashboard has no API key (BINGX_API_KEY / BINGX_API_SECRET). "
            "Use 'adxbot emergency-stop' in a terminal."
        )
    else:
        stop_note = (
            f"Sets manual_halt, cancels every order of {options.config.symbol} and closes "
            f"every position at market on {environment.label} ({environment.base_url}), "
            "then confirms the account is flat."
        )
    return {
        "mode": options.mode.value,
        "symbol": options.config.symbol,
        "timeframe": options.config.timeframe.value,
        "environment": {
            "label": environment.label,
            "base_url": environment.base_url,
            "source": environment.source,
            "real_bingx": environment.real_bingx,
        },
        "refresh_seconds": options.refresh_seconds,
        "can_emergency_stop": not live or options.credentials is not None,
        "emergency_stop_note": stop_note,
    }


def status_view(
    report: StatusReport, options: DashboardOptions, account: ExchangeAccount | None
) -> dict[str, Any]:
    """Return the status of `adxbot status --json`, the dashboard's facts and the exchange's."""
    data = status_json(report)
    data["events"] = [_redacted_event(e) for e in data["events"]]
    data["environment"] = redact(str(data.get("environment") or "unknown"))
    data["dashboard"] = dashboard_json(options)
    data["exchange"] = None if account is None else exchange_json(account, report)
    return data


def exchange_json(account: ExchangeAccount, report: StatusReport | None = None) -> dict[str, Any]:
    """Return the exchange's view of the account, and its difference from the database's."""
    balance = account.balance
    recorded = None if report is None else report.account
    return {
        "available": balance is not None,
        "error": account.error,
        "fetched_ms": account.fetched_ms,
        "balance": None if balance is None else str(balance.balance),
        "equity": None if balance is None else str(balance.equity),
        "unrealized_pnl": None if balance is None else str(balance.unrealized_pnl),
        "available_margin": None if balance is None else str(balance.available_margin),
        "equity_difference": None
        if balance is None or recorded is None
        else str(balance.equity - recorded.equity),
        "positions": [
            {
                "direction": p.direction.value,
                "quantity": str(p.quantity),
                "entry_price": str(p.entry_price),
                "mark_price": str(p.mark_price),
                "unrealized_pnl": str(p.unrealized_pnl),
            }
            for p in account.positions
        ],
    }


def trade_json(trade: ClosedTrade) -> dict[str, Any]:
    """Return one closed trade."""
    return {
        "trade_id": trade.trade_id,
        "position_id": trade.position_id,
        "direction": trade.direction.value,
        "signal_time_ms": trade.signal_time_ms,
        "entry_time_ms": trade.entry_time_ms,
        "entry_price": str(trade.entry_price),
        "quantity": str(trade.quantity),
        "exit_time_ms": trade.exit_time_ms,
        "exit_price": str(trade.exit_price),
        "exit_reason": trade.exit_reason.value,
        "pnl": str(trade.pnl),
        "fees": str(trade.fees),
        "funding": str(trade.funding),
    }


def trades_view(trades: list[ClosedTrade]) -> dict[str, Any]:
    """Return trades (newest first) with their count, net P&L and win rate."""
    total = sum((t.pnl for t in trades), Decimal(0))
    wins = sum(1 for t in trades if t.pnl > 0)
    return {
        "count": len(trades),
        "net_pnl": str(total),
        "wins": wins,
        "win_rate_percent": None if not trades else round(wins / len(trades) * 100, 1),
        "trades": [trade_json(t) for t in trades],
    }


def equity_view(points: list[EquityPoint]) -> dict[str, Any]:
    """Return the equity curve with its drawdown from the running peak (percent)."""
    deepest = max((p.drawdown_percent for p in points), default=Decimal(0))
    return {
        "count": len(points),
        "max_drawdown_percent": f"{deepest:.4f}",
        "peak": None if not points else str(points[-1].peak),
        "latest": None if not points else _snapshot_json(points[-1]),
        "points": [_snapshot_json(p) for p in points],
    }


def _snapshot_json(point: EquityPoint) -> dict[str, Any]:
    s = point.snapshot
    return {
        "time_ms": s.time_ms,
        "balance": str(s.balance),
        "equity": str(s.equity),
        "unrealized_pnl": str(s.unrealized_pnl),
        "open_positions": s.open_positions,
        "drawdown_percent": f"{point.drawdown_percent:.4f}",
    }


def event_json(event: EventRecord) -> dict[str, Any]:
    """Return one event, its texts redacted."""
    return _redacted_event(
        {
            "event_id": event.event_id,
            "time_ms": event.time_ms,
            "severity": event.severity.value,
            "kind": event.kind.value,
            "message": event.message,
            "data": event.data,
        }
    )


def _redacted_event(event: dict[str, Any]) -> dict[str, Any]:
    cleaned = dict(event)
    cleaned["message"] = redact(str(event.get("message", "")))
    if "data" in event:
        cleaned["data"] = json.loads(redact(json.dumps(event["data"])))
    return cleaned


def candles_view(
    chart: CandleChart,
    marks: ChartMarks | None,
    options: DashboardOptions,
    marks_error: str | None = None,
) -> dict[str, Any]:
    """Return the candles, ADX/DI, the trade markers, and why anything is missing."""
    candles = chart.candles
    timeframe_ms = options.config.timeframe.ms
    return {
        "symbol": options.config.symbol,
        "timeframe": options.config.timeframe.value,
        "environment": f"{options.environment.label} {options.environment.base_url}",
        "available": chart.error is None,
        "error": chart.error,
        "fetched_ms": chart.fetched_ms,
        "adx_period": options.config.strategy.adx_period,
        "adx_threshold": float(options.config.strategy.adx_threshold),
        "time_ms": [k.open_time_ms for k in candles],
        "open": [float(k.open) for k in candles],
        "high": [float(k.high) for k in candles],
        "low": [float(k.low) for k in candles],
        "close": [float(k.close) for k in candles],
        "plus_di": chart.plus_di,
        "minus_di": chart.minus_di,
        "adx": chart.adx,
        "markers": []
        if marks is None
        else _markers(marks, candles[0].open_time_ms if candles else 0),
        "markers_error": marks_error,
        "timeframe_ms": timeframe_ms,
    }


def _markers(marks: ChartMarks, since_ms: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for t in marks.trades:
        if t.entry_time_ms >= since_ms:
            found.append(_marker("entry", t.direction.value, t.entry_time_ms, t.entry_price, ""))
        found.append(
            _marker(
                "exit",
                t.direction.value,
                t.exit_time_ms,
                t.exit_price,
                f"{t.exit_reason.value}, P&L {t.pnl:+.2f}",
            )
        )
    for p in marks.open_positions:
        if p.opened_ms >= since_ms:
            found.append(_marker("entry", p.direction.value, p.opened_ms, p.entry_price, "open"))
    return found


def _marker(kind: str, direction: str, time_ms: int, price: Decimal, note: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "direction": direction,
        "time_ms": time_ms,
        "price": float(price),
        "note": note,
    }
