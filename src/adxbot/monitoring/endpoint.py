"""The running bot's `/metrics`: its in-process metrics plus its database, read per scrape."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from adxbot.clock import Clock
from adxbot.config import MetricsSettings
from adxbot.errors import DatabaseError
from adxbot.monitoring.collector import StoreCollector
from adxbot.monitoring.metrics import BotMetrics
from adxbot.monitoring.server import MetricsServer, serve_metrics
from adxbot.persistence.store import TradeStore

log = logging.getLogger("adxbot.metrics")


@contextlib.contextmanager
def bot_metrics_endpoint(
    settings: MetricsSettings,
    metrics: BotMetrics,
    database: Path,
    *,
    timeframe_ms: int,
    clock: Clock,
    wall: Clock,
) -> Iterator[MetricsServer | None]:
    """Serve `metrics` and the database's values while the block runs (when enabled).

    Yields None when metrics are disabled or cannot be served (logged; trading goes on).
    """
    if not settings.enabled:
        yield None
        return
    try:
        reader = TradeStore.open_read_only(database)
    except DatabaseError as e:
        log.error("metrics: off, the database cannot be read for them: %s", e)
        yield None
        return
    collector = StoreCollector(reader, timeframe_ms=timeframe_ms, clock=clock, wall=wall)
    metrics.registry.register(collector)
    try:
        with serve_metrics(settings, metrics.registry) as server:
            yield server
    finally:
        metrics.registry.unregister(collector)
        reader.close()
