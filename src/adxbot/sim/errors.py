"""BingX business errors as the simulator answers them (HTTP 200, non-zero `code`)."""

from __future__ import annotations


class BingXError(Exception):
    """An error answer: BingX's numeric `code` and its `msg`."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg


# The codes the simulator uses (shared/spec/bingx-api.md §7.2).
SIGNATURE_MISMATCH = 100001
NULL_SIGNATURE = 100412
BAD_API_KEY = 100413
TIMESTAMP_MISMATCH = 100421
PERMISSION_DENIED = 100004
INVALID_PARAMETER = 109400
RATE_LIMITED = 100410
SYSTEM_BUSY = 100500
INSUFFICIENT_MARGIN = 101204
NO_POSITION_TO_CLOSE = 101205
BELOW_MIN_QUANTITY = 101400
BELOW_MIN_NOTIONAL = 110425
POST_ONLY_WOULD_TAKE = 101215
DUPLICATE_CLIENT_ORDER_ID = 101481
ORDER_NOT_EXIST = 80016
ORDER_ALREADY_FINAL = 80018
HAS_POSITIONS_OR_ORDERS = 101212
LEVERAGE_TOO_HIGH = 101414
