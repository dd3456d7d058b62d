"""Identifier types: an order id can never be passed where a client order id is expected."""

from __future__ import annotations

from typing import NewType

OrderId = NewType("OrderId", str)
"""The id the venue (exchange, simulator or in-process engine) gives an order."""

ClientOrderId = NewType("ClientOrderId", str)
"""The id the bot chooses for an order before sending it; lower case, at most 40 characters."""
