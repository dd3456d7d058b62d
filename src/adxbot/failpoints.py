"""Named crash points: where a rehearsal may SIGKILL the bot on purpose.

The live trader calls `reached("entry.filled")` and the like at each step of an order's
life.  Normally nothing is armed and the call only compares a string with None.  A crash
rehearsal arms one point in a bot process, through the environment variable
`ADXBOT_FAILPOINTS` or `arm()`:

    ADXBOT_FAILPOINTS="entry.filled:2"   # die on the 2nd time an entry is seen filled

and the process kills itself with SIGKILL there: no `finally`, no flush, no goodbye, just
as a power cut or the OOM killer would.  What is on disk at that instant is what the next
start must make right.

The points (see `POINTS`) follow an order's life: the intent stored, the order accepted by
the exchange, the fill seen, the stop-loss placed, a close sent, an exit being recorded.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

VARIABLE = "ADXBOT_FAILPOINTS"

_PURPOSES = ("entry", "stop_loss", "take_profit", "exit")
POINTS = (
    *(f"{purpose}.intent_stored" for purpose in _PURPOSES),
    *(f"{purpose}.accepted" for purpose in _PURPOSES),
    "entry.filled",
    "exit.filled",
    "exit.recording",
)
"""Every point the live trader reaches: `<purpose>.intent_stored` (committed, not sent),
`<purpose>.accepted` (the exchange answered with the order), `entry.filled` (before the
position is recorded and protected), `exit.filled` (before its protection is cancelled),
`exit.recording` (a vanished position about to be recorded as a trade)."""


@dataclass(slots=True)
class _Armed:
    point: str
    remaining: int


_armed: _Armed | None = None
_loaded_for_pid: int | None = None


def parse(spec: str) -> tuple[str, int]:
    """Parse `point[:n]` (n >= 1, default 1); raise ValueError naming the problem."""
    point, _, count = spec.strip().partition(":")
    if point not in POINTS:
        raise ValueError(f"unknown failpoint {point!r}; known: {', '.join(POINTS)}")
    try:
        n = int(count) if count else 1
    except ValueError:
        raise ValueError(f"failpoint count must be a whole number, not {count!r}") from None
    if n < 1:
        raise ValueError(f"failpoint count must be at least 1, not {n}")
    return point, n


def arm(spec: str | None) -> None:
    """Arm `point[:n]` in this process (None disarms)."""
    global _armed, _loaded_for_pid
    _loaded_for_pid = os.getpid()
    if spec is None or not spec.strip():
        _armed = None
        return
    point, n = parse(spec)
    _armed = _Armed(point, n)


def reached(point: str) -> None:
    """Note that the code reached `point`; die here if it is armed and its count is up."""
    global _armed
    if _loaded_for_pid != os.getpid():  # a new process (fork): read the environment once
        arm(os.environ.get(VARIABLE))
    armed = _armed
    if armed is None or armed.point != point:
        return
    armed.remaining -= 1
    if armed.remaining <= 0:
        os.kill(os.getpid(), signal.SIGKILL)
