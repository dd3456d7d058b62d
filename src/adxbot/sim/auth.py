"""Request signing exactly as BingX checks it (shared/spec/bingx-api.md §3).

The signed string is the query's `key=value` pairs in the order received, values
percent-decoded, `signature` left out; body fields (form or JSON) follow, sorted a-z.
As a courtesy to other clients the raw (still encoded) query and the sorted order are
accepted too.  `timestamp` must lie within `recvWindow` (default 5000 ms) of the
simulator's clock; on an accelerated clock the window is scaled by the speed, so a
request one wall-second old is as fresh as it would be on a real-time exchange.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import unquote

from adxbot.sim import errors as codes
from adxbot.sim.clock import SimClock
from adxbot.sim.errors import BingXError

DEFAULT_RECV_WINDOW_MS = 5_000
FUTURE_TOLERANCE_MS = 1_000


def sign(payload: str, secret: str) -> str:
    """Return the lower-case hex HMAC-SHA256 of `payload` under `secret`."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def query_pairs(raw_query: str) -> list[tuple[str, str, str]]:
    """Split a raw query string into (key, decoded value, raw value), in received order."""
    pairs = []
    for part in raw_query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((unquote(key), unquote(value), value))
    return pairs


def candidate_payloads(raw_query: str, body: list[tuple[str, str]]) -> list[str]:
    """Return the strings a correct signature may cover, most likely first."""
    pairs = [(k, v, raw) for k, v, raw in query_pairs(raw_query) if k != "signature"]
    tail = sorted((k, v) for k, v in body if k != "signature")
    decoded = [(k, v) for k, v, _ in pairs] + tail
    encoded = [(k, raw) for k, _, raw in pairs] + tail
    variants = [decoded, encoded, sorted(decoded)]
    rendered = ["&".join(f"{k}={v}" for k, v in variant) for variant in variants]
    return list(dict.fromkeys(rendered))


def verify_request(
    params: dict[str, str],
    raw_query: str,
    body: list[tuple[str, str]],
    secret: str,
    clock: SimClock,
) -> None:
    """Raise the BingX error a real server would give this request, if any."""
    signature = params.get("signature")
    timestamp_text = params.get("timestamp")
    if not timestamp_text:
        raise BingXError(codes.TIMESTAMP_MISMATCH, "Null timestamp or timestamp mismatch")
    if not signature:
        raise BingXError(codes.NULL_SIGNATURE, "Null signature")
    expected = [sign(payload, secret) for payload in candidate_payloads(raw_query, body)]
    if not any(hmac.compare_digest(e, signature.lower()) for e in expected):
        raise BingXError(
            codes.SIGNATURE_MISMATCH, "Signature verification failed due to signature mismatch"
        )
    try:
        timestamp = int(timestamp_text)
        window = int(params.get("recvWindow") or DEFAULT_RECV_WINDOW_MS)
    except ValueError:
        raise BingXError(codes.TIMESTAMP_MISMATCH, "Null timestamp or timestamp mismatch") from None
    now = clock.now_ms()
    if now - timestamp > clock.wall_ms_to_sim_ms(window) or timestamp - now > (
        clock.wall_ms_to_sim_ms(FUTURE_TOLERANCE_MS)
    ):
        raise BingXError(
            codes.TIMESTAMP_MISMATCH,
            f"Null timestamp or timestamp mismatch (server time {now}, request {timestamp})",
        )
