"""Metrics read from the trade database at scrape time: account, positions, trades, breakers.

A scrape runs in the metrics server's thread, so the collector reads through its own
read-only connection (WAL: it never blocks the bot's writes and sees committed facts only).
Money is reported as floats in USDT (Prometheus has no decimals); the database keeps the
exact values.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from adxbot.clock import Clock
from adxbot.errors import DatabaseError
from adxbot.persistence.records import BreakerRecord, ClosedTrade, EquitySnapshot
from adxbot.persistence.store import TradeStore
from adxbot.risk.breakers import BreakerName

log = logging.getLogger("adxbot.metrics")


@dataclass(frozen=True, slots=True)
class _Reading:
    info: dict[str, str]
    account: EquitySnapshot | None
    open_positions: int
    trades: list[ClosedTrade]
    breakers: dict[str, BreakerRecord]


class StoreCollector:
    """Read the bot's database on every scrape."""

    def __init__(self, reader: TradeStore, *, timeframe_ms: int, clock: Clock, wall: Clock):
        """`clock` is the exchange's (candle ages); `wall` the machine's (heartbeat age)."""
        self._reader = reader
        self._timeframe_ms = timeframe_ms
        self._clock = clock
        self._wall = wall

    def collect(self) -> Iterator[Metric]:
        """Yield the database's metrics (only `adxbot_database_up` 0 if it cannot be read)."""
        try:
            reading = self._read()
        except DatabaseError as e:
            log.warning("metrics: the database cannot be read: %s", e)
            yield _gauge("adxbot_database_up", "1 when the trade database could be read.", 0)
            return
        yield _gauge("adxbot_database_up", "1 when the trade database could be read.", 1)
        yield from self._bot(reading)
        yield from self._account(reading)
        yield from self._trades(reading.trades)
        yield from self._breakers(reading.breakers)

    def _read(self) -> _Reading:
        store = self._reader
        return _Reading(
            info=store.all_info(),
            account=store.latest_equity(),
            open_positions=len(store.open_positions()),
            trades=store.trades(),
            breakers=store.breakers(),
        )

    def _bot(self, reading: _Reading) -> Iterator[Metric]:
        info = reading.info
        bot = GaugeMetricFamily(
            "adxbot_bot_info",
            "The bot behind these metrics (always 1).",
            labels=["mode", "symbol", "timeframe"],
        )
        bot.add_metric(
            [self._reader.mode.value, info.get("symbol", ""), info.get("timeframe", "")], 1
        )
        yield bot
        last = _int(info.get("last_candle_ms"))
        if last is not None:
            age_ms = self._clock.now_ms() - (last + self._timeframe_ms)
            yield _gauge(
                "adxbot_last_candle_age_seconds",
                "Seconds since the close of the latest candle the bot processed (exchange time).",
                max(0, age_ms) / 1000,
            )
        heartbeat = _int(info.get("heartbeat_ms"))
        if heartbeat is not None:
            yield _gauge(
                "adxbot_heartbeat_age_seconds",
                "Seconds since the bot last recorded that it is alive.",
                max(0, self._wall.now_ms() - heartbeat) / 1000,
            )

    def _account(self, reading: _Reading) -> Iterator[Metric]:
        yield _gauge(
            "adxbot_open_positions", "Positions open in the bot's records.", reading.open_positions
        )
        account = reading.account
        if account is None:
            return
        yield _gauge(
            "adxbot_balance_usdt", "Wallet balance at the latest candle close.", account.balance
        )
        yield _gauge(
            "adxbot_equity_usdt",
            "Equity (balance + unrealised P&L) at the latest candle close.",
            account.equity,
        )
        yield _gauge(
            "adxbot_unrealized_pnl_usdt",
            "Unrealised P&L of the open positions at the latest candle close.",
            account.unrealized_pnl,
        )

    def _trades(self, trades: list[ClosedTrade]) -> Iterator[Metric]:
        counted = Counter(("win" if t.pnl > 0 else "loss", t.exit_reason.value) for t in trades)
        family = CounterMetricFamily(
            "adxbot_trades",
            "Closed trades in the database, by result (a trade at zero is a loss) and exit reason.",
            labels=["result", "exit_reason"],
        )
        for (result, reason), count in sorted(counted.items()):
            family.add_metric([result, reason], count)
        yield family
        yield _gauge(
            "adxbot_realized_pnl_usdt",
            "Net P&L of all closed trades (fees and funding included).",
            sum((t.pnl for t in trades), Decimal(0)),
        )

    def _breakers(self, breakers: dict[str, BreakerRecord]) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "adxbot_breaker_tripped", "1 while the circuit breaker is tripped.", labels=["breaker"]
        )
        stored = {name: record.tripped for name, record in breakers.items()}
        states = [stored.get(str(name), False) for name in BreakerName]
        for name, on in zip(BreakerName, states, strict=True):
            family.add_metric([str(name)], 1 if on else 0)
        yield family
        yield _gauge("adxbot_trading_halted", "1 while any breaker stops new entries.", any(states))


def _gauge(name: str, documentation: str, value: float | int | Decimal) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.lstrip("-").isdigit() else None
