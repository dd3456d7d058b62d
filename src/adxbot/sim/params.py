"""Typed access to a request's parameters; a bad or missing one is BingX error 109400."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from adxbot.sim.errors import INVALID_PARAMETER, BingXError

T = TypeVar("T")

_TOO_LARGE = Decimal("1e15")
"""No price or quantity comes near this; beyond it grid checks overflow Decimal's precision."""


class Params:
    """Request parameters as received (query string first, then body fields)."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    def __contains__(self, name: str) -> bool:
        return name in self._values and self._values[name] not in ("", "None", "null")

    def raw(self) -> dict[str, str]:
        """Return a copy of every parameter."""
        return dict(self._values)

    def text(self, name: str, *aliases: str) -> str | None:
        """Return a parameter's text (under its name or an alias), or None when absent."""
        for key in (name, *aliases):
            if key in self:
                return self._values[key]
        return None

    def required(self, name: str) -> str:
        """Return a parameter that must be present."""
        value = self.text(name)
        if value is None:
            raise BingXError(INVALID_PARAMETER, f"{name} is required")
        return value

    def decimal(self, name: str) -> Decimal | None:
        """Return a decimal parameter, or None when absent."""
        value = self.text(name)
        if value is None:
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise BingXError(INVALID_PARAMETER, f"{name}: {value!r} is not a number") from None
        if not number.is_finite() or abs(number) >= _TOO_LARGE:
            raise BingXError(INVALID_PARAMETER, f"{name}: {value!r} is not a number")
        return number

    def integer(self, name: str, default: int | None = None) -> int | None:
        """Return an integer parameter, or `default` when absent."""
        value = self.text(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise BingXError(INVALID_PARAMETER, f"{name}: {value!r} is not an integer") from None

    def boolean(self, name: str) -> bool:
        """Return a `true`/`false` parameter (absent = false)."""
        value = self.text(name)
        if value is None:
            return False
        lowered = value.lower()
        if lowered not in ("true", "false"):
            raise BingXError(INVALID_PARAMETER, f"{name} must be true or false, not {value!r}")
        return lowered == "true"

    def choice(self, name: str, table: Mapping[str, T], default: T | None = None) -> T:
        """Return the table entry named by a parameter; unknown values are refused."""
        value = self.text(name)
        if value is None:
            if default is None:
                raise BingXError(INVALID_PARAMETER, f"{name} is required")
            return default
        try:
            return table[value.upper()]
        except KeyError:
            allowed = ", ".join(sorted(table))
            raise BingXError(
                INVALID_PARAMETER, f"{name}: {value!r} is not one of {allowed}"
            ) from None
