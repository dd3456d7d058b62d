"""Serving the dashboard with uvicorn: in the foreground (the command) or from a
background thread on a chosen or random port (tests, screenshots)."""

from __future__ import annotations

import asyncio
import socket
import threading

import uvicorn
from fastapi import FastAPI


def listening_socket(host: str, port: int) -> socket.socket:
    """Bind a listening TCP socket on `host` (IPv4 or IPv6); port 0 = any free port."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    family, kind, proto, _, address = infos[0]
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP.
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def _config(app: FastAPI) -> uvicorn.Config:
    # No log_config: the records go through adxbot's logging (and its redaction).
    return uvicorn.Config(app, log_level="warning", access_log=False, log_config=None)


def serve(app: FastAPI, sock: socket.socket) -> None:
    """Serve until SIGINT or SIGTERM."""
    uvicorn.Server(_config(app)).run(sockets=[sock])


class DashboardThread:
    """Serve a dashboard from a background thread (tests, screenshots)."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self._socket = listening_socket(host, port)
        self.port: int = self._socket.getsockname()[1]
        self.base_url = f"http://{host}:{self.port}"
        self._server = uvicorn.Server(_config(app))
        self._thread = threading.Thread(
            target=self._run, name=f"adxbot-dashboard-{self.port}", daemon=True
        )

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._socket]))

    def start(self) -> DashboardThread:
        """Start serving and wait until the server accepts requests."""
        self._thread.start()
        started = threading.Event()
        for _ in range(1000):
            if self._server.started:
                return self
            if not self._thread.is_alive():
                break
            started.wait(0.01)
        raise RuntimeError("the dashboard did not start")

    def stop(self) -> None:
        """Stop the server and wait for its thread."""
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> DashboardThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
