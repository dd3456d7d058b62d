"""The bot's in-process metrics: exchange requests and reconciliations as they happen.

Each bot has its own `CollectorRegistry` (never prometheus_client's global one), so
several bots in one process (tests) never collide.  Values that live in the database
(equity, positions, trades, breakers, candle age) are read at scrape time by
`StoreCollector` instead; this module counts what only the running process sees.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.process_collector import ProcessCollector

from adxbot.execution.trader import ReconciliationReport

log = logging.getLogger("adxbot.metrics")

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class BotMetrics:
    """Counters and histograms fed by the exchange client and the reconciliations."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self._latency = Histogram(
            "adxbot_request_duration_seconds",
            "Time of each HTTP request to the exchange (one attempt), by endpoint.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self._api_errors = Counter(
            "adxbot_api_errors",
            "Failed exchange requests, by error class (what the caller must do) and endpoint.",
            ["error", "endpoint"],
            registry=self.registry,
        )
        self._drift = Gauge(
            "adxbot_reconciliation_drift",
            "Discrepancies found by the latest reconciliation with the account (0 = in step).",
            registry=self.registry,
        )
        self._discrepancies = Counter(
            "adxbot_reconciliation_discrepancies",
            "Discrepancies found by all reconciliations since the bot started.",
            registry=self.registry,
        )
        self._reconciliations = Counter(
            "adxbot_reconciliations",
            "Reconciliations since the bot started, by result.",
            ["result"],
            registry=self.registry,
        )

    def observe_request(self, endpoint: str, seconds: float, error: str | None) -> None:
        """Count one request to the exchange (the `BingXClient` observer)."""
        self._latency.labels(endpoint).observe(seconds)
        if error is not None:
            self._api_errors.labels(error, endpoint).inc()

    def observe_reconciliation(self, report: ReconciliationReport) -> None:
        """Record the result of one reconciliation."""
        found = len(report.discrepancies)
        self._drift.set(found)
        self._discrepancies.inc(found)
        self._reconciliations.labels("consistent" if report.consistent else "inconsistent").inc()
