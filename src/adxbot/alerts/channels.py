"""Alert channels: apprise URLs read as secrets, sent through in worker threads.

The channels are `ADXBOT_ALERT_URLS` (apprise URLs separated by spaces or new lines: e.g.
`tgram://TOKEN/CHAT`, `discord://ID/TOKEN`, `ntfy://TOPIC`, `mailtos://…`,
`json://host/path`) from the process environment, else from `config/.env` or `.env`.
A URL holds its service's token, so it is a secret: it is registered with the logging
redaction filter before apprise ever sees it (the whole URL and each token-like part of
it), and adxbot names a channel only by its scheme and number ("tgram #1").

Apprise sends synchronously (HTTP, SMTP…); `Notifier` runs every send in its own thread
pool with a timeout, so a slow or dead channel never blocks the caller's event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import warnings
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

from adxbot.alerts.messages import Alert
from adxbot.exchange.credentials import ENV_FILES
from adxbot.logsetup import SecretRedactingFilter, register_secret

log = logging.getLogger("adxbot.alerts")

ALERT_URLS_ENV = "ADXBOT_ALERT_URLS"
SEND_TIMEOUT_S = 30.0
"""The longest one send may take before it counts as failed."""

_SEPARATORS = re.compile(r"[/?&=@#,;]")
_IPV4 = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
_LABEL = re.compile(r"[A-Za-z0-9-]{1,63}")


def load_alert_urls(
    environ: Mapping[str, str] | None = None, env_files: tuple[Path, ...] = ENV_FILES
) -> tuple[str, ...]:
    """Return the alert URLs (environment first, then the .env files), registered as secrets."""
    source: dict[str, str | None] = {}
    for path in reversed(env_files):
        if path.is_file():
            source.update(dotenv_values(path))
    source.update(environ if environ is not None else os.environ)
    urls = tuple((source.get(ALERT_URLS_ENV) or "").split())
    for url in urls:
        register_url_secret(url)
    return urls


def register_url_secret(url: str) -> None:
    """Blank `url` and its token-like parts in every log line from now on."""
    for part in _secret_parts(url):
        register_secret(part)


def _secret_parts(url: str) -> set[str]:
    rest = url.split("://", 1)[-1]
    parts = {url, rest}
    for piece in _SEPARATORS.split(rest):
        host, _, port = piece.partition(":")
        if _looks_like_host(host) and (not port or port.isdigit()):
            continue  # a server's name or address is not a secret (and is everywhere in logs)
        for part in (piece, *piece.split(":")):
            if len(part) > SecretRedactingFilter.SHORT and not _looks_like_host(part):
                parts.add(part)
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        parts.add(password)
    return parts


def _looks_like_host(text: str) -> bool:
    if _IPV4.fullmatch(text) or text == "localhost":
        return True
    labels = text.split(".")
    return (
        len(labels) > 1
        and labels[-1].isalpha()
        and len(labels[-1]) <= 24
        and all(_LABEL.fullmatch(label) for label in labels)
    )


class AlertChannel:
    """One apprise URL: named by its scheme and number, identified by a hash of the URL."""

    def __init__(self, url: str, number: int) -> None:
        """Raise ValueError when apprise does not accept `url`."""
        register_url_secret(url)
        self.id = hashlib.sha256(url.encode()).hexdigest()[:16]
        """Stable while the URL stays the same; where the channel's progress is kept."""
        scheme = url.split("://", 1)[0] if "://" in url else "?"
        self.name = f"{scheme} #{number}"
        with warnings.catch_warnings():
            # apprise loads its plugins on first use; the e-mail one imports the standard
            # library's deprecated imghdr.
            warnings.filterwarnings("ignore", "'imghdr' is deprecated", DeprecationWarning)
            import apprise  # ~0.3 s to import: only when alerts are configured

            asset = apprise.AppriseAsset(storage_mode=apprise.PersistentStoreMode.MEMORY)
            self._apprise = apprise.Apprise(asset=asset)
            accepted = self._apprise.add(url)
        if not accepted:
            raise ValueError(f"alert channel {self.name} is not a valid apprise URL")

    def deliver(self, alert: Alert, timeout_s: float) -> bool:
        """Send `alert` now (blocking); return True when the service accepted it."""
        result = self._apprise.notify(
            body=alert.body, title=alert.title, notify_type=alert.level.value, timeout=timeout_s
        )
        return bool(result)

    def __repr__(self) -> str:
        return f"AlertChannel({self.name})"


class Notifier:
    """The configured alert channels and the threads that send through them."""

    def __init__(self, channels: Sequence[AlertChannel], *, timeout_s: float = SEND_TIMEOUT_S):
        self.channels = tuple(channels)
        self._timeout_s = timeout_s
        self._executor: ThreadPoolExecutor | None = None

    @classmethod
    def from_urls(cls, urls: Sequence[str], *, timeout_s: float = SEND_TIMEOUT_S) -> Notifier:
        """Build the channels of `urls` (an invalid one is logged and left out); say once
        whether alerts are on."""
        channels: list[AlertChannel] = []
        for number, url in enumerate(urls, start=1):
            try:
                channels.append(AlertChannel(url, number))
            except ValueError as e:
                log.error("%s; it is left out (check %s)", e, ALERT_URLS_ENV)
        if channels:
            quiet = logging.getLogger("apprise")
            if quiet.level == logging.NOTSET:  # it logs every send at INFO
                quiet.setLevel(logging.WARNING)
            log.info("alerts: on, to %s", ", ".join(c.name for c in channels))
        elif not urls:
            log.info("alerts: off (%s is not set)", ALERT_URLS_ENV)
        else:
            log.error("alerts: off (no valid URL in %s)", ALERT_URLS_ENV)
        return cls(channels, timeout_s=timeout_s)

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, env_files: tuple[Path, ...] = ENV_FILES
    ) -> Notifier:
        """Build the channels of ADXBOT_ALERT_URLS (environment, config/.env, .env)."""
        return cls.from_urls(load_alert_urls(environ, env_files))

    @property
    def enabled(self) -> bool:
        """Return True when there is at least one channel."""
        return bool(self.channels)

    async def send(self, channel: AlertChannel, alert: Alert) -> bool:
        """Send `alert` to one channel in a worker thread; return False on any failure."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=len(self.channels) + 1, thread_name_prefix="adxbot-alerts"
            )
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(self._executor, channel.deliver, alert, self._timeout_s)
        try:
            return await asyncio.wait_for(work, timeout=self._timeout_s + 1)
        except TimeoutError:
            log.warning("alert channel %s: no answer within %.0f s", channel.name, self._timeout_s)
            return False
        except Exception as e:  # apprise or a plugin failed: the channel failed, not the bot
            log.warning("alert channel %s failed: %s: %s", channel.name, type(e).__name__, e)
            return False

    async def broadcast(
        self, alert: Alert, channels: Collection[AlertChannel] | None = None
    ) -> list[AlertChannel]:
        """Send `alert` to `channels` (default: all) at once; return those that took it."""
        targets = list(self.channels if channels is None else channels)
        results = await asyncio.gather(*(self.send(c, alert) for c in targets))
        return [channel for channel, ok in zip(targets, results, strict=True) if ok]

    def close(self) -> None:
        """Stop the worker threads (a send still running finishes on its own)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
