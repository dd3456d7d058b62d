"""Serve `/metrics` from the running bot on `metrics.host:metrics.port` (a daemon thread)."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server

from adxbot.config import MetricsSettings

log = logging.getLogger("adxbot.metrics")


class MetricsServer:
    """A running `/metrics` endpoint."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        """Return the port it listens on."""
        return int(self._server.server_port)

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextlib.contextmanager
def serve_metrics(
    settings: MetricsSettings, registry: CollectorRegistry
) -> Iterator[MetricsServer | None]:
    """Serve `registry` while the block runs when metrics are enabled; yield the server, or
    None when disabled or when the port cannot be had (logged: trading goes on without)."""
    if not settings.enabled:
        yield None
        return
    try:
        server, thread = start_http_server(settings.port, settings.host, registry=registry)
    except OSError as e:
        log.error(
            "metrics: cannot listen on %s:%d (%s); the bot trades on without /metrics",
            settings.host,
            settings.port,
            e.strerror or e,
        )
        yield None
        return
    running = MetricsServer(server, thread)
    log.info("metrics: http://%s:%d/metrics", settings.host, running.port)
    try:
        yield running
    finally:
        running.close()
