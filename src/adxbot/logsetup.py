"""Logging for every adxbot command: console text or JSON lines, secrets always blanked.

`configure_logging(level, json_lines)` puts one handler on the root logger (stderr;
under systemd, journald stores each line).  Every record passes the process's
`SecretRedactingFilter` before it is formatted: each registered secret value (the API
secret, and the API key too) is replaced by `***` in the message, its arguments, the
exception text and the stack text.  Register values with `register_secret` or
`register_credentials` as soon as they are loaded; `redact` blanks them in any other text
a command prints.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from adxbot.exchange.credentials import Credentials

MASK = "***"
_QUIET_LIBRARIES = ("httpx", "httpcore", "asyncio")


class SecretRedactingFilter(logging.Filter):
    """Replace every registered secret value by `***` in the records it sees.

    Values of `SHORT` characters or fewer (no real key or secret is that short) are
    blanked only where they stand alone, not inside longer words.
    """

    SHORT = 7

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        """Register a value to blank (and its percent-encoded form); blank values are ignored."""
        if not value:
            return
        with self._lock:
            self._values |= {value, quote(value, safe="")}
            # Longest first, so a secret that contains another is blanked whole.
            alternatives = [
                re.escape(v) if len(v) > self.SHORT else rf"(?<!\w){re.escape(v)}(?!\w)"
                for v in sorted(self._values, key=len, reverse=True)
            ]
            self._pattern = re.compile("|".join(alternatives))

    def redact(self, text: str) -> str:
        """Return `text` with every registered value replaced by `***`."""
        pattern = self._pattern
        return text if pattern is None else pattern.sub(MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Blank secrets in the record in place; never drop it."""
        if self._pattern is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: logging reports it; blank what we can
            record.msg = self.redact(str(record.msg))
            record.args = self._redact_args(record.args)
        else:
            # The merged message replaces msg and args, so no formatter sees a raw argument.
            record.msg = self.redact(message)
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True

    def _redact_args(self, args: Any) -> Any:
        if isinstance(args, dict):
            return {key: self.redact(str(value)) for key, value in args.items()}
        if isinstance(args, tuple):
            return tuple(self.redact(str(value)) for value in args)
        return args


_REDACTOR = SecretRedactingFilter()


def redactor() -> SecretRedactingFilter:
    """Return the process's redaction filter (the one `configure_logging` installs)."""
    return _REDACTOR


def register_secret(value: str) -> None:
    """Blank `value` in every log record and in `redact`'s output from now on."""
    _REDACTOR.add(value)


def register_credentials(credentials: Credentials) -> None:
    """Blank both the API key and its secret."""
    register_secret(credentials.api_key)
    register_secret(credentials.api_secret.get_secret_value())


def redact(text: str) -> str:
    """Return `text` with every registered secret replaced by `***`."""
    return _REDACTOR.redact(text)


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, exception."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as a single line of JSON."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure_logging(level: int | str = logging.INFO, json_lines: bool = False) -> None:
    """Send log records to stderr as text (console) or JSON lines (journald), secrets blanked.

    Replaces the handler a previous call installed and puts the redaction filter on every
    root handler, so records of every logger that propagates to the root are blanked.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_adxbot", False):
            root.removeHandler(handler)
            handler.close()
    handler = logging.StreamHandler(sys.stderr)
    handler._adxbot = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonLinesFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    for each in root.handlers:  # ours, and any other one installed before us
        if _REDACTOR not in each.filters:
            each.addFilter(_REDACTOR)
    root.setLevel(level)
    quiet = root.getEffectiveLevel() > logging.DEBUG
    for name in _QUIET_LIBRARIES:  # httpx logs every request at INFO
        logging.getLogger(name).setLevel(logging.WARNING if quiet else logging.NOTSET)
