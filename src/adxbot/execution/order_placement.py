"""Placing an order so that a lost answer never becomes a second order.

`place_order_with_retry` is the only way the live trader sends an order:

* the order's intent is already in the database (the caller stores it first), under a
  client order id derived from the decision, so the same decision always has the same id;
* a timeout or a lost answer means the outcome is unknown: the order is looked up by its
  client id (open orders, the order itself, then history) before anything else, and sent
  again only when BingX confirms it does not exist;
* a rejection (insufficient margin, below the minimum, invalid) is final: never retried;
* attempts are bounded, with back-off; every attempt is logged.

`confirm_filled` waits for a market order to fill, by order queries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from adxbot.domain.enums import OrderStatus
from adxbot.exchange.client import BingXClient
from adxbot.exchange.errors import (
    DuplicateClientOrderId,
    ExchangeError,
    OrderNotFound,
    OutcomeUnknown,
    RateLimited,
    TemporaryError,
)
from adxbot.exchange.models import OrderReport
from adxbot.exchange.orders import OrderSpec

log = logging.getLogger("adxbot.orders")


class OrderNotPlaced(ExchangeError):
    """Every attempt failed without a confirmed order; the exchange confirms none exists."""


@dataclass(frozen=True, slots=True)
class PlacementPolicy:
    """How hard to try: attempts, back-off and the fill confirmation timeout."""

    attempts: int = 3
    backoff_s: float = 0.5
    confirm_timeout_s: float = 10.0
    poll_s: float = 0.2
    max_rate_limit_wait_s: float = 10.0
    """A rate limit that asks for a longer wait ends the attempts (the order was not sent)."""


async def place_order_with_retry(
    client: BingXClient,
    spec: OrderSpec,
    policy: PlacementPolicy,
    *,
    on_attempt: Callable[[int, str], None] = lambda attempt, outcome: None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> OrderReport:
    """Send `spec` until BingX has it exactly once; return its report.

    Raises `OrderRejected` (final), `SetupError`, or `OrderNotPlaced` after the last attempt.
    """
    last_error: Exception | None = None
    for attempt in range(1, policy.attempts + 1):
        try:
            report = await client.place_order(spec)
            on_attempt(attempt, "accepted")
            return report
        except (OutcomeUnknown, DuplicateClientOrderId) as e:
            # Sent, answer lost (or BingX already has this id): ask before anything else.
            on_attempt(attempt, f"outcome unknown ({e}); looking the order up")
            found = await _look_up(client, spec, sleep, policy)
            if found is not None:
                on_attempt(attempt, f"found on the exchange: {found.status.value}")
                return found
            last_error = e
        except TemporaryError as e:  # not sent (no connection, 5xx before sending...)
            on_attempt(attempt, f"not sent ({e})")
            last_error = e
        except RateLimited as e:  # refused before execution: safe to resend after the wait
            wait_s = e.wait_s(client.clock.now_ms())
            on_attempt(attempt, f"not sent, rate limited ({e}); wait {wait_s:.1f} s")
            last_error = e
            if wait_s > policy.max_rate_limit_wait_s:
                break
            if attempt < policy.attempts:
                await sleep(max(wait_s, policy.backoff_s * 2 ** (attempt - 1)))
            continue
        if attempt < policy.attempts:
            await sleep(policy.backoff_s * 2 ** (attempt - 1))
    raise OrderNotPlaced(
        f"order {spec.client_order_id} could not be placed in {attempt} attempts "
        f"and the exchange confirms it does not exist: {last_error}"
    )


async def _look_up(
    client: BingXClient,
    spec: OrderSpec,
    sleep: Callable[[float], Awaitable[None]],
    policy: PlacementPolicy,
) -> OrderReport | None:
    """Find the order by client id; retry the lookup itself until BingX answers."""
    for attempt in range(1, 2 * policy.attempts + 1):
        try:
            return await client.find_order(spec.symbol, spec.client_order_id)
        except ExchangeError as e:
            log.warning("looking up %s failed (%s); again", spec.client_order_id, e)
            await sleep(policy.backoff_s * attempt)
    raise OutcomeUnknown(
        f"order {spec.client_order_id}: the exchange cannot say whether it exists",
        client_order_id=spec.client_order_id,
    )


async def confirm_filled(
    client: BingXClient,
    symbol: str,
    report: OrderReport,
    policy: PlacementPolicy,
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> OrderReport:
    """Wait until the order is final (filled, canceled...) or the timeout; return its state.

    A market order still open at the timeout is cancelled, and its final state (with any
    partial fill) returned: the caller trades whatever quantity did fill.
    """
    deadline = clock() + policy.confirm_timeout_s
    current = report
    while not current.status.is_final:
        if clock() >= deadline:
            try:
                await client.cancel_order(symbol, order_id=current.order_id)
            except (OrderNotFound, ExchangeError) as e:
                log.warning("cancelling unfilled %s: %s", current.order_id, e)
            return await client.get_order(symbol, order_id=current.order_id)
        await sleep(policy.poll_s)
        try:
            current = await client.get_order(symbol, order_id=current.order_id)
        except ExchangeError as e:
            log.warning("confirming %s: %s", current.order_id, e)
    return current


def filled(report: OrderReport) -> bool:
    """Return True when the order executed (wholly or partly)."""
    return report.filled_quantity > 0 and report.status in (
        OrderStatus.FILLED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.CANCELED,
        OrderStatus.EXPIRED,
    )
