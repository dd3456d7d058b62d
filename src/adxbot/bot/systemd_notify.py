"""Tell systemd how the bot is doing: the sd_notify protocol, without libsystemd.

A service of `Type=notify` gets `NOTIFY_SOCKET` (a path, or an abstract socket name
starting with `@`) and, with `WatchdogSec=`, `WATCHDOG_USEC`.  Each message is one
datagram of newline-separated `KEY=value` lines: `READY=1` once started, `WATCHDOG=1`
to prove the main loop still turns, `STATUS=...` for `systemctl status`, `STOPPING=1`
when it shuts down, and `EXTEND_TIMEOUT_USEC=...` to keep a slow start-up alive.

Outside systemd (no `NOTIFY_SOCKET`) every call does nothing.  A message that cannot be
sent is logged once and dropped: telling systemd must never disturb trading.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

from adxbot.logsetup import redact

log = logging.getLogger("adxbot.systemd")
STATUS_MAX = 160
"""Longest STATUS line sent (`systemctl status` shows one line)."""


class SystemdNotifier:
    """Send sd_notify messages to `address` (None: do nothing)."""

    def __init__(
        self,
        address: str | None,
        *,
        watchdog_usec: int | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """`address` is `NOTIFY_SOCKET`'s value; `watchdog_usec` is `WATCHDOG_USEC`'s
        (None or 0: systemd runs no watchdog on this process)."""
        self._address = _socket_address(address)
        self._watchdog_usec = watchdog_usec if watchdog_usec and watchdog_usec > 0 else None
        self._monotonic = monotonic
        self._ready = False
        self._status: str | None = None
        self._last_alive: float | None = None
        self._failure_logged = False
        if address and self._address is None:
            log.warning("NOTIFY_SOCKET=%r is not a socket path or @name: not notifying", address)

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, *, pid: int | None = None
    ) -> SystemdNotifier:
        """Build the notifier systemd asked for in the environment (a no-op without it).

        `WATCHDOG_PID`, when set, names the process the watchdog is meant for; any other
        process runs without one."""
        env = os.environ if environ is None else environ
        usec = _positive_int(env.get("WATCHDOG_USEC"))
        watchdog_pid = _positive_int(env.get("WATCHDOG_PID"))
        if watchdog_pid is not None and watchdog_pid != (os.getpid() if pid is None else pid):
            usec = None
        return cls(env.get("NOTIFY_SOCKET") or None, watchdog_usec=usec)

    @property
    def enabled(self) -> bool:
        """Return whether messages go anywhere (systemd is listening)."""
        return self._address is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """Return how often to send `WATCHDOG=1` (half `WATCHDOG_USEC`), None without one."""
        if self._address is None or self._watchdog_usec is None:
            return None
        return self._watchdog_usec / 2_000_000

    def ready(self, status: str) -> None:
        """Say the bot has started (`READY=1`) and what it is doing."""
        self._ready = True
        self._status = status
        self._last_alive = self._monotonic()
        self._send(f"READY=1\nSTATUS={_one_line(status)}")

    def alive(self) -> None:
        """Prove the main loop still turns; call it on every turn (extra calls are dropped).

        After `ready`: `WATCHDOG=1`.  Before it: `EXTEND_TIMEOUT_USEC` by one watchdog
        period, so a start-up that keeps retrying an unreachable exchange is not killed
        for its length, but one that hangs is."""
        interval = self.watchdog_interval_s
        if interval is None:
            return
        now = self._monotonic()
        if self._last_alive is not None and now - self._last_alive < interval / 4:
            return
        self._last_alive = now
        if self._ready:
            self._send("WATCHDOG=1")
        else:
            self._send(f"EXTEND_TIMEOUT_USEC={self._watchdog_usec}")

    def status(self, status: str) -> None:
        """Show `status` in `systemctl status` (sent only when it changes)."""
        if status == self._status:
            return
        self._status = status
        self._send(f"STATUS={_one_line(status)}")

    def stopping(self, status: str) -> None:
        """Say the bot is shutting down (`STOPPING=1`) and why."""
        self._status = status
        self._send(f"STOPPING=1\nSTATUS={_one_line(status)}")

    def _send(self, message: str) -> None:
        if self._address is None:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.setblocking(False)  # a full queue drops the message, never blocks trading
                sock.sendto(message.encode("utf-8", "replace"), self._address)
        except (OSError, ValueError) as e:
            if not self._failure_logged:
                self._failure_logged = True
                log.warning(
                    "cannot notify systemd at %s (%s); further failures are not logged",
                    _printable(self._address),
                    e,
                )


def _socket_address(address: str | None) -> str | None:
    """Return the address to `sendto`: a path as it is, `@name` as the abstract `\\0name`."""
    if not address:
        return None
    if address.startswith("@"):
        return "\0" + address[1:]
    if address.startswith("/"):
        return address
    return None  # e.g. systemd 256's vsock: addresses, which a bot on a host never gets


def _printable(address: str) -> str:
    return "@" + address[1:] if address.startswith("\0") else address


def _one_line(text: str) -> str:
    """Return `text` as one line without secrets (any user may read `systemctl status`)."""
    line = " ".join(redact(text).split())
    return line if len(line) <= STATUS_MAX else line[: STATUS_MAX - 3] + "..."


def _positive_int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value > 0 else None
