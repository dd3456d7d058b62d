"""Request signing per shared/spec/bingx-api.md §3.

The signed string is `k1=v1&k2=v2...` over the parameters in the order they are sent,
values raw (not URL-encoded), `timestamp` included, `signature` excluded; the signature
is the lower-case hex HMAC-SHA256 under the API secret.  On the wire every value is
percent-encoded (keys are not) and `signature` is appended last.  JSON-valued
parameters (attached stop-loss / take-profit) are serialised with `json.dumps` before
signing, never built by string formatting.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from urllib.parse import quote


def sign(payload: str, secret: str) -> str:
    """Return the hex HMAC-SHA256 of `payload` under `secret`."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def payload_of(params: Sequence[tuple[str, str]]) -> str:
    """Return the string to sign: the parameters in order, values raw."""
    return "&".join(f"{key}={value}" for key, value in params)


def encoded_query(params: Sequence[tuple[str, str]]) -> str:
    """Return the parameters as a query string, values percent-encoded."""
    return "&".join(f"{key}={quote(value, safe='')}" for key, value in params)


def signed_query(params: Sequence[tuple[str, str]], secret: str) -> str:
    """Return the wire query string with the signature appended last."""
    return f"{encoded_query(params)}&signature={sign(payload_of(params), secret)}"
