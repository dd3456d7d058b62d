"""BingX's endpoints as data: method, path, signing, retry class and rate-limit rules."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from adxbot.exchange.rate_limits import (
    ACCOUNT_IP,
    KLINES,
    MARKET_IP,
    ORDER_PER_ACCOUNT,
    PRIVATE_PER_ACCOUNT,
    SETTINGS_PER_ACCOUNT,
    STREAM_PER_ACCOUNT,
    Rule,
)

_MARKET = (MARKET_IP,)


_PRIVATE = (ACCOUNT_IP, PRIVATE_PER_ACCOUNT)


_ORDER = (ACCOUNT_IP, ORDER_PER_ACCOUNT)


_SETTINGS = (ACCOUNT_IP, SETTINGS_PER_ACCOUNT)


_STREAM = (ACCOUNT_IP, STREAM_PER_ACCOUNT)


_KLINES = (MARKET_IP, KLINES)


class Access(StrEnum):
    """How a request may be retried."""

    READ = "read"
    WRITE = "write"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One BingX path: how it is called, retried and rate-limited."""

    method: str
    path: str
    signed: bool
    access: Access
    rules: tuple[Rule, ...]
    enveloped: bool = True


SERVER_TIME = Endpoint(
    "GET", "/openApi/swap/v2/server/time", signed=False, access=Access.READ, rules=_MARKET
)


CONTRACTS = Endpoint(
    "GET", "/openApi/swap/v2/quote/contracts", signed=False, access=Access.READ, rules=_MARKET
)


KLINES_V3 = Endpoint(
    "GET", "/openApi/swap/v3/quote/klines", signed=False, access=Access.READ, rules=_KLINES
)


GET_CURRENT_PRICE = Endpoint(
    "GET", "/openApi/swap/v1/ticker/price", signed=False, access=Access.READ, rules=_MARKET
)


TICKER = Endpoint(
    "GET", "/openApi/swap/v2/quote/ticker", signed=False, access=Access.READ, rules=_MARKET
)


MARK_PRICE = Endpoint(
    "GET", "/openApi/swap/v2/quote/premiumIndex", signed=False, access=Access.READ, rules=_MARKET
)


GET_BALANCE = Endpoint(
    "GET", "/openApi/swap/v3/user/balance", signed=True, access=Access.READ, rules=_PRIVATE
)


GET_ALL_POSITIONS = Endpoint(
    "GET", "/openApi/swap/v2/user/positions", signed=True, access=Access.READ, rules=_PRIVATE
)


INCOME = Endpoint(
    "GET", "/openApi/swap/v2/user/income", signed=True, access=Access.READ, rules=_PRIVATE
)


COMMISSION_RATES = Endpoint(
    "GET", "/openApi/swap/v2/user/commissionRate", signed=True, access=Access.READ, rules=_PRIVATE
)


GET_LEVERAGE = Endpoint(
    "GET", "/openApi/swap/v2/trade/leverage", signed=True, access=Access.READ, rules=_PRIVATE
)


SET_LEVERAGE = Endpoint(
    "POST", "/openApi/swap/v2/trade/leverage", signed=True, access=Access.WRITE, rules=_PRIVATE
)


GET_MARGIN_TYPE = Endpoint(
    "GET", "/openApi/swap/v2/trade/marginType", signed=True, access=Access.READ, rules=_SETTINGS
)


SET_MARGIN_TYPE = Endpoint(
    "POST", "/openApi/swap/v2/trade/marginType", signed=True, access=Access.WRITE, rules=_SETTINGS
)


GET_POSITION_MODE = Endpoint(
    "GET", "/openApi/swap/v1/positionSide/dual", signed=True, access=Access.READ, rules=_SETTINGS
)


API_PERMISSIONS = Endpoint(
    "GET",
    "/openApi/v1/account/apiPermissions",
    signed=True,
    access=Access.READ,
    rules=_PRIVATE,
    enveloped=False,
)


PLACE_ORDER = Endpoint(
    "POST", "/openApi/swap/v2/trade/order", signed=True, access=Access.WRITE, rules=_ORDER
)


GET_ORDER = Endpoint(
    "GET", "/openApi/swap/v2/trade/order", signed=True, access=Access.READ, rules=_PRIVATE
)


CANCEL_ORDER = Endpoint(
    "DELETE", "/openApi/swap/v2/trade/order", signed=True, access=Access.WRITE, rules=_PRIVATE
)


CANCEL_ALL_ORDERS = Endpoint(
    "DELETE",
    "/openApi/swap/v2/trade/allOpenOrders",
    signed=True,
    access=Access.WRITE,
    rules=_PRIVATE,
)


GET_OPEN_ORDERS = Endpoint(
    "GET", "/openApi/swap/v2/trade/openOrders", signed=True, access=Access.READ, rules=_PRIVATE
)


ORDER_HISTORY = Endpoint(
    "GET", "/openApi/swap/v2/trade/allOrders", signed=True, access=Access.READ, rules=_PRIVATE
)


FILLS = Endpoint(
    "GET", "/openApi/swap/v2/trade/allFillOrders", signed=True, access=Access.READ, rules=_PRIVATE
)


CLOSE_POSITION = Endpoint(
    "POST", "/openApi/swap/v1/trade/closePosition", signed=True, access=Access.WRITE, rules=_PRIVATE
)


CLOSE_ALL_POSITIONS = Endpoint(
    "POST",
    "/openApi/swap/v2/trade/closeAllPositions",
    signed=True,
    access=Access.WRITE,
    rules=_PRIVATE,
)


CREATE_LISTEN_KEY = Endpoint(
    "POST",
    "/openApi/user/auth/userDataStream",
    signed=True,
    access=Access.WRITE,
    rules=_STREAM,
    enveloped=False,
)


EXTEND_LISTEN_KEY = Endpoint(
    "PUT",
    "/openApi/user/auth/userDataStream",
    signed=True,
    access=Access.WRITE,
    rules=_STREAM,
    enveloped=False,
)


DELETE_LISTEN_KEY = Endpoint(
    "DELETE",
    "/openApi/user/auth/userDataStream",
    signed=True,
    access=Access.WRITE,
    rules=_STREAM,
    enveloped=False,
)
