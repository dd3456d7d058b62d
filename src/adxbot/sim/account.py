"""One simulated BingX account: its key, engine, order metadata, fills and ledger."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from adxbot.domain.enums import PositionMode, PositionSide
from adxbot.domain.ids import OrderId
from adxbot.engine.matching import MatchingEngine
from adxbot.engine.orders import Fill


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key the simulator accepts, with the permissions BingX would show for it."""

    key: str
    secret: str
    can_trade: bool = True
    can_withdraw: bool = False

    def permission_codes(self) -> list[int]:
        """Return BingX permission codes: 2 read, 3 perpetual futures trading, 5 withdraw."""
        codes = [2]
        if self.can_trade:
            codes.append(3)
        if self.can_withdraw:
            codes.append(5)
        return codes


@dataclass(slots=True)
class OrderInfo:
    """What BingX shows of an order beyond what the engine tracks."""

    symbol: str
    type_name: str
    client_order_id: str
    working_type: str
    stop_loss: str
    take_profit: str
    leverage: int
    parent: OrderId | None = None
    fee: Decimal = Decimal(0)
    """Fees of the order's fills so far (kept here so a view needs no scan of all fills)."""
    profit: Decimal = Decimal(0)
    """Realised P&L of the order's fills so far."""


@dataclass(frozen=True, slots=True)
class FillRecord:
    """A fill as the fills endpoint lists it."""

    symbol: str
    fill: Fill


@dataclass(frozen=True, slots=True)
class IncomeEntry:
    """One line of the income ledger (realised P&L, fees, funding)."""

    symbol: str
    income_type: str
    amount: Decimal
    time_ms: int
    tran_id: str
    info: str


@dataclass(slots=True)
class SimAccount:
    """A BingX account inside the simulator."""

    api_key: ApiKey
    engine: MatchingEngine
    position_mode: PositionMode
    long_leverage: int
    short_leverage: int
    margin_type: str = "CROSSED"
    orders: dict[OrderId, OrderInfo] = field(default_factory=dict)
    client_ids: dict[str, OrderId] = field(default_factory=dict)
    fills: list[FillRecord] = field(default_factory=list)
    income: list[IncomeEntry] = field(default_factory=list)
    position_ids: dict[PositionSide, str] = field(default_factory=dict)
    realised_pnl: Decimal = Decimal(0)
    listen_keys: dict[str, int] = field(default_factory=dict)
    next_position_id: int = 1
