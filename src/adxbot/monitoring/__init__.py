"""Prometheus metrics served by the running bot: in-process counters and database reads."""

from adxbot.monitoring.collector import StoreCollector
from adxbot.monitoring.endpoint import bot_metrics_endpoint
from adxbot.monitoring.metrics import BotMetrics
from adxbot.monitoring.observed_trader import ReconciliationObserver
from adxbot.monitoring.server import MetricsServer, serve_metrics

__all__ = [
    "BotMetrics",
    "MetricsServer",
    "ReconciliationObserver",
    "StoreCollector",
    "bot_metrics_endpoint",
    "serve_metrics",
]
