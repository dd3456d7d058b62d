"""Circuit breakers per the spec's "Circuit breakers" section, over an in-memory store."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from adxbot.clock import ManualClock
from adxbot.config import BotConfig, parse_config
from adxbot.persistence.records import (
    BreakerRecord,
    DailyPnl,
    EventKind,
    EventRecord,
    Severity,
    TradingMode,
)
from adxbot.persistence.store import TradeStore
from adxbot.risk.breakers import (
    BreakerName,
    BreakerStore,
    BreakerTrip,
    CircuitBreakers,
    RiskLimits,
    TradingState,
    utc_day,
)

D = Decimal
MINUTE_MS = 60_000
DAY_MS = 24 * 60 * MINUTE_MS
NOON_MS = int(datetime(2026, 11, 24, 12, tzinfo=UTC).timestamp() * 1000)
LIMITS = RiskLimits.from_config(BotConfig())


class FakeStore:
    """The breaker part of the trade store, in memory."""

    def __init__(self) -> None:
        self.records: dict[str, BreakerRecord] = {}
        self.values: dict[str, str] = {}
        self.events: list[EventRecord] = []
        self.days: dict[str, DailyPnl] = {}

    def breakers(self) -> dict[str, BreakerRecord]:
        return dict(self.records)

    def save_breaker(self, breaker: BreakerRecord) -> None:
        self.records[breaker.name] = breaker

    def state(self, key: str) -> str | None:
        return self.values.get(key)

    def set_state(self, key: str, value: str, time_ms: int) -> None:
        self.values[key] = value

    def add_event(self, event: EventRecord) -> EventRecord:
        self.events.append(event)
        return event

    def ensure_day(self, day: str, start_equity: Decimal, time_ms: int) -> DailyPnl:
        if day not in self.days:
            self.days[day] = DailyPnl(day, start_equity, D(0), D(0), 0, start_equity, time_ms)
        return self.days[day]

    def transaction(self) -> AbstractContextManager[None]:
        return nullcontext()

    def events_of(self, kind: EventKind) -> list[EventRecord]:
        return [event for event in self.events if event.kind is kind]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOON_MS)


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def breakers(store: FakeStore, clock: ManualClock) -> CircuitBreakers:
    return CircuitBreakers(LIMITS, store, clock)


def restart(store: FakeStore, clock: ManualClock) -> CircuitBreakers:
    return CircuitBreakers(LIMITS, store, clock)


def names(trips: list[BreakerTrip]) -> list[BreakerName]:
    return [trip.name for trip in trips]


def _trip_daily_loss(b: CircuitBreakers, clock: ManualClock) -> None:
    b.on_equity(D("1000"))
    b.on_equity(D("950"))


def _trip_drawdown(b: CircuitBreakers, clock: ManualClock) -> None:
    b.on_equity(D("1000"))
    clock.advance(DAY_MS)
    b.on_equity(D("850"))  # the new day starts at 850: no daily loss


def _trip_losses(b: CircuitBreakers, clock: ManualClock) -> None:
    for _ in range(3):
        b.on_trade_closed(D("-1"))


def _trip_api_errors(b: CircuitBreakers, clock: ManualClock) -> None:
    for _ in range(6):
        b.on_api_error("HTTP 503")


TRIGGERS: dict[BreakerName, Callable[[CircuitBreakers, ManualClock], object]] = {
    BreakerName.DAILY_LOSS: _trip_daily_loss,
    BreakerName.MAX_DRAWDOWN: _trip_drawdown,
    BreakerName.CONSECUTIVE_LOSSES: _trip_losses,
    BreakerName.API_ERRORS: _trip_api_errors,
    BreakerName.RECONCILIATION: lambda b, _: b.trip(BreakerName.RECONCILIATION, "orphan order"),
    BreakerName.MANUAL_HALT: lambda b, _: b.trip(BreakerName.MANUAL_HALT, "emergency stop"),
}


# ------------------------------------------------------------------------- every breaker
def test_store_fake_when_checked_then_satisfies_breaker_store_protocol(store: FakeStore) -> None:
    typed: BreakerStore = store
    assert typed is store


def test_new_breakers_when_nothing_stored_then_active_and_allow_entries(
    breakers: CircuitBreakers,
) -> None:
    assert breakers.state is TradingState.ACTIVE
    assert breakers.tripped() == []
    assert breakers.entry_denial(open_positions=0) is None


def test_all_states_then_lists_every_breaker_in_enum_order(
    breakers: CircuitBreakers, clock: ManualClock
) -> None:
    breakers.trip(BreakerName.MANUAL_HALT, "stop")
    states = breakers.all_states()
    assert [s.name for s in states] == [str(name) for name in BreakerName]
    assert [s.tripped for s in states] == [False] * 5 + [True]


@pytest.mark.parametrize("name", list(BreakerName))
def test_breaker_when_tripped_then_halts_blocks_entries_and_records_event(
    name: BreakerName,
    breakers: CircuitBreakers,
    store: FakeStore,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.CRITICAL, logger="adxbot.risk.breakers"):
        TRIGGERS[name](breakers, clock)
    assert breakers.state is TradingState.HALTED
    assert [r.name for r in breakers.tripped()] == [str(name)]
    denial = breakers.entry_denial(open_positions=0)
    assert denial is not None
    assert str(name) in denial
    assert store.records[str(name)].tripped
    (event,) = store.events_of(EventKind.BREAKER_TRIPPED)
    assert event.severity is Severity.CRITICAL
    assert event.data["name"] == str(name)
    assert {"threshold", "value"} <= event.data.keys()
    assert any(str(name) in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("name", list(BreakerName))
def test_breaker_when_restarted_same_day_then_still_halted(
    name: BreakerName, breakers: CircuitBreakers, store: FakeStore, clock: ManualClock
) -> None:
    TRIGGERS[name](breakers, clock)
    clock.advance(MINUTE_MS)
    again = restart(store, clock)
    assert again.state is TradingState.HALTED
    assert [r.name for r in again.tripped()] == [str(name)]
    assert again.entry_denial(open_positions=0) is not None


@pytest.mark.parametrize("name", list(BreakerName))
def test_reset_when_tripped_then_clears_and_allows_entries(
    name: BreakerName, breakers: CircuitBreakers, store: FakeStore, clock: ManualClock
) -> None:
    TRIGGERS[name](breakers, clock)
    assert breakers.reset(name, by="alice") is True
    assert breakers.state is TradingState.ACTIVE
    assert breakers.entry_denial(open_positions=0) is None
    (event,) = store.events_of(EventKind.BREAKER_RESET)
    assert event.data["by"] == "alice"
    assert "alice" in event.message
    assert restart(store, clock).state is TradingState.ACTIVE


@pytest.mark.parametrize("name", list(BreakerName))
def test_breaker_when_already_tripped_then_does_not_trip_again(
    name: BreakerName, breakers: CircuitBreakers, store: FakeStore, clock: ManualClock
) -> None:
    TRIGGERS[name](breakers, clock)
    TRIGGERS[name](breakers, clock)
    assert len(store.events_of(EventKind.BREAKER_TRIPPED)) == 1


def test_reset_when_not_tripped_then_returns_false_without_event(
    breakers: CircuitBreakers, store: FakeStore
) -> None:
    assert breakers.reset(BreakerName.MANUAL_HALT, by="alice") is False
    assert store.events == []


def test_trip_when_already_tripped_then_returns_none(breakers: CircuitBreakers) -> None:
    first = breakers.trip(BreakerName.MANUAL_HALT, "emergency stop")
    assert first == BreakerTrip(BreakerName.MANUAL_HALT, "emergency stop", NOON_MS)
    assert breakers.trip(BreakerName.MANUAL_HALT, "again") is None
    assert breakers.tripped()[0].reason == "emergency stop"


def test_entry_denial_when_several_tripped_then_names_each_with_its_reason(
    breakers: CircuitBreakers,
) -> None:
    breakers.trip(BreakerName.RECONCILIATION, "position unknown to the bot")
    breakers.trip(BreakerName.MANUAL_HALT, "emergency stop")
    denial = breakers.entry_denial(open_positions=0)
    assert denial is not None
    assert "reconciliation (position unknown to the bot)" in denial
    assert "manual_halt (emergency stop)" in denial


def test_entry_denial_when_max_positions_open_then_denies_without_halting(
    breakers: CircuitBreakers,
) -> None:
    assert breakers.entry_denial(open_positions=1) is None
    assert breakers.entry_denial(open_positions=2) == "max_positions reached: 2 of 2 open"
    assert breakers.state is TradingState.ACTIVE


# ----------------------------------------------------------------------------- daily loss
def test_on_equity_just_above_daily_limit_then_does_not_trip(breakers: CircuitBreakers) -> None:
    breakers.on_equity(D("1000"))
    assert breakers.on_equity(D("950.01")) == []
    assert breakers.state is TradingState.ACTIVE


def test_on_equity_at_exact_daily_limit_then_trips(
    breakers: CircuitBreakers, store: FakeStore
) -> None:
    breakers.on_equity(D("999.99"))
    trips = breakers.on_equity(D("949.99"))
    assert trips == [
        BreakerTrip(
            BreakerName.DAILY_LOSS,
            "equity 949.99 is 5.00% below the day's start 999.99 (limit 5%)",
            NOON_MS,
        )
    ]
    (event,) = store.events_of(EventKind.BREAKER_TRIPPED)
    assert event.data["threshold"] == "5.0"
    assert event.data["start_equity"] == "999.99"


def test_on_equity_when_restarted_same_day_then_keeps_day_start(
    breakers: CircuitBreakers, store: FakeStore, clock: ManualClock
) -> None:
    breakers.on_equity(D("1000"))
    clock.advance(60 * MINUTE_MS)
    again = restart(store, clock)
    assert again.on_equity(D("960")) == []
    assert names(again.on_equity(D("950"))) == [BreakerName.DAILY_LOSS]


def test_daily_loss_when_next_utc_day_then_clears_and_rebases_start(
    breakers: CircuitBreakers, store: FakeStore, clock: ManualClock
) -> None:
    _trip_daily_loss(breakers, clock)
    clock.advance(DAY_MS)
    assert breakers.on_equity(D("940")) == []
    assert breakers.state is TradingState.ACTIVE
    assert store.days[utc_day(clock.now_ms())].start_equity == D("940")
    (event,) = store.events_of(EventKind.BREAKER_RESET)
    assert event.data["name"] == "daily_loss"
    assert "new UTC day" in event.data["by"]


def test_daily_loss_when_restarted_next_utc_day_then_cleared(
    breakers: CircuitBreakers, store: FakeStore, clock: ManualClock
) -> None:
    _trip_daily_loss(breakers, clock)
    clock.set(int(datetime(2026, 11, 25, tzinfo=UTC).timestamp() * 1000))
    assert restart(store, clock).state is TradingState.ACTIVE


def test_daily_loss_when_tripped_just_before_midnight_then_held_until_midnight(
    breakers: CircuitBreakers, clock: ManualClock
) -> None:
    clock.set(int(datetime(2026, 11, 24, 23, 55, tzinfo=UTC).timestamp() * 1000))
    _trip_daily_loss(breakers, clock)
    clock.advance(4 * MINUTE_MS)
    assert breakers.on_equity(D("950")) == []
    assert [r.name for r in breakers.tripped()] == ["daily_loss"]
    clock.advance(MINUTE_MS)
    breakers.on_equity(D("950"))
    assert breakers.tripped() == []


# ------------------------------------------------------------------------------- drawdown
def test_on_equity_just_above_drawdown_limit_then_does_not_trip(
    breakers: CircuitBreakers, clock: ManualClock
) -> None:
    breakers.on_equity(D("1000"))
    clock.advance(DAY_MS)
    assert breakers.on_equity(D("850.01")) == []


def test_on_equity_at_exact_drawdown_from_peak_then_trips(
    breakers: CircuitBreakers, clock: ManualClock
) -> None:
    breakers.on_equity(D("1000"))
    breakers.on_equity(D("1200"))
    assert breakers.on_equity(D("1020.01")) == []
    trips = breakers.on_equity(D("1020"))
    assert trips == [
        BreakerTrip(
            BreakerName.MAX_DRAWDOWN,
            "equity 1020.00 is 15.00% below its peak 1200.00 (limit 15%)",
            NOON_MS,
        )
    ]


def test_on_equity_when_restarted_then_drawdown_uses_stored_peak(
    breakers: CircuitBreakers, store: FakeStore, clock: ManualClock
) -> None:
    breakers.on_equity(D("1000"))
    breakers.on_equity(D("1200"))
    clock.advance(DAY_MS)
    again = restart(store, clock)
    assert names(again.on_equity(D("1020"))) == [BreakerName.MAX_DRAWDOWN]


def test_reset_drawdown_then_rebases_peak_to_current_equity(
    breakers: CircuitBreakers, clock: ManualClock
) -> None:
    _trip_drawdown(breakers, clock)
    breakers.reset(BreakerName.MAX_DRAWDOWN, by="alice")
    assert breakers.on_equity(D("849")) == []
    assert breakers.state is TradingState.ACTIVE
    clock.advance(DAY_MS)
    assert names(breakers.on_equity(D("722.50"))) == [BreakerName.MAX_DRAWDOWN]


def test_reset_drawdown_after_restart_then_rebases_peak_to_next_equity(
    breakers: CircuitBreakers, store: FakeStore, clock: ManualClock
) -> None:
    _trip_drawdown(breakers, clock)
    again = restart(store, clock)
    again.reset(BreakerName.MAX_DRAWDOWN, by="alice")
    assert again.on_equity(D("840")) == []
    assert restart(store, clock).on_equity(D("840")) == []


# ----------------------------------------------------------------------- losing streak
def test_on_trade_closed_just_below_loss_limit_then_does_not_trip(
    breakers: CircuitBreakers,
) -> None:
    assert breakers.on_trade_closed(D("-5")) == []
    assert breakers.on_trade_closed(D("-5")) == []
    assert breakers.state is TradingState.ACTIVE


def test_on_trade_closed_at_loss_limit_then_trips(breakers: CircuitBreakers) -> None:
    breakers.on_trade_closed(D("-5"))
    breakers.on_trade_closed(D("0"))  # break-even counts as a loss
    trips = breakers.on_trade_closed(D("-2.5"))
    assert trips == [
        BreakerTrip(
            BreakerName.CONSECUTIVE_LOSSES,
            "3 losing trades in a row, the last -2.50 USDT (limit 3)",
            NOON_MS,
        )
    ]


def test_on_trade_closed_when_win_then_resets_streak(breakers: CircuitBreakers) -> None:
    breakers.on_trade_closed(D("-5"))
    breakers.on_trade_closed(D("-5"))
    breakers.on_trade_closed(D("0.01"))
    assert breakers.on_trade_closed(D("-5")) == []
    assert breakers.on_trade_closed(D("-5")) == []


def test_on_trade_closed_when_restarted_then_streak_continues(
    breakers: CircuitBreakers, store: FakeStore, clock: ManualClock
) -> None:
    breakers.on_trade_closed(D("-5"))
    breakers.on_trade_closed(D("-5"))
    again = restart(store, clock)
    assert names(again.on_trade_closed(D("-5"))) == [BreakerName.CONSECUTIVE_LOSSES]


def test_reset_losing_streak_then_counts_from_zero(
    breakers: CircuitBreakers, clock: ManualClock
) -> None:
    _trip_losses(breakers, clock)
    breakers.reset(BreakerName.CONSECUTIVE_LOSSES, by="alice")
    assert breakers.on_trade_closed(D("-5")) == []
    assert breakers.on_trade_closed(D("-5")) == []
    assert breakers.state is TradingState.ACTIVE


# ----------------------------------------------------------------------------- API errors
def test_on_api_error_five_in_window_then_does_not_trip(
    breakers: CircuitBreakers, clock: ManualClock
) -> None:
    for _ in range(5):
        assert breakers.on_api_error("HTTP 503") == []
        clock.advance(2 * MINUTE_MS)
    assert breakers.state is TradingState.ACTIVE


def test_on_api_error_sixth_in_window_then_trips(
    breakers: CircuitBreakers, clock: ManualClock
) -> None:
    for _ in range(5):
        breakers.on_api_error("HTTP 503")
        clock.advance(MINUTE_MS)
    trips = breakers.on_api_error("timeout on GET /openApi/swap/v2/user/balance")
    assert trips == [
        BreakerTrip(
            BreakerName.API_ERRORS,
            "6 API errors in the last 10 min (limit 5); "
            "last: timeout on GET /openApi/swap/v2/user/balance",
            NOON_MS + 5 * MINUTE_MS,
        )
    ]


def test_on_api_error_when_older_than_window_then_not_counted(
    breakers: CircuitBreakers, clock: ManualClock
) -> None:
    for _ in range(5):
        breakers.on_api_error("HTTP 503")
    clock.advance(10 * MINUTE_MS + 1)
    for _ in range(5):
        assert breakers.on_api_error("HTTP 503") == []
    assert names(breakers.on_api_error("HTTP 503")) == [BreakerName.API_ERRORS]


def test_on_api_error_when_restarted_then_recent_errors_still_count(
    breakers: CircuitBreakers, store: FakeStore, clock: ManualClock
) -> None:
    for _ in range(5):
        breakers.on_api_error("HTTP 503")
    again = restart(store, clock)
    assert names(again.on_api_error("HTTP 503")) == [BreakerName.API_ERRORS]


def test_reset_api_errors_then_forgets_earlier_errors(
    breakers: CircuitBreakers, clock: ManualClock
) -> None:
    _trip_api_errors(breakers, clock)
    breakers.reset(BreakerName.API_ERRORS, by="alice")
    for _ in range(5):
        assert breakers.on_api_error("HTTP 503") == []


# ------------------------------------------------------- another process, one database
@pytest.fixture
def two_stores(tmp_path: Path) -> Iterator[tuple[TradeStore, TradeStore]]:
    """Two connections on one database file: the bot's and an operator's."""
    path = tmp_path / "adxbot-paper.sqlite3"
    with (
        TradeStore.open(path, TradingMode.PAPER) as bot,
        TradeStore.open(path, TradingMode.PAPER) as operator,
    ):
        yield bot, operator


def test_reset_by_another_instance_then_running_instance_allows_entries_with_streak_cleared(
    two_stores: tuple[TradeStore, TradeStore], clock: ManualClock
) -> None:
    bot_store, operator_store = two_stores
    bot = CircuitBreakers(LIMITS, bot_store, clock)
    _trip_losses(bot, clock)
    assert bot.entry_denial(open_positions=0) is not None

    operator = CircuitBreakers(LIMITS, operator_store, clock)
    assert operator.reset(BreakerName.CONSECUTIVE_LOSSES, by="operator") is True

    assert bot.state is TradingState.ACTIVE
    assert bot.entry_denial(open_positions=0) is None
    assert bot.on_trade_closed(D("-5")) == []  # the streak starts again from zero
    assert bot.state is TradingState.ACTIVE


def test_trip_by_another_instance_then_running_instance_halts(
    two_stores: tuple[TradeStore, TradeStore], clock: ManualClock
) -> None:
    bot_store, operator_store = two_stores
    bot = CircuitBreakers(LIMITS, bot_store, clock)
    bot.on_equity(D("1000"))
    assert bot.tripped() == []

    operator = CircuitBreakers(LIMITS, operator_store, clock)
    operator.trip(BreakerName.MANUAL_HALT, "operator emergency stop")

    assert bot.state is TradingState.HALTED
    denial = bot.entry_denial(open_positions=0)
    assert denial == "trading halted: manual_halt (operator emergency stop)"
    assert bot.trip(BreakerName.MANUAL_HALT, "again") is None  # already tripped, seen as such


def test_drawdown_reset_by_another_instance_then_running_instance_rebases_peak(
    two_stores: tuple[TradeStore, TradeStore], clock: ManualClock
) -> None:
    bot_store, operator_store = two_stores
    bot = CircuitBreakers(LIMITS, bot_store, clock)
    _trip_drawdown(bot, clock)
    CircuitBreakers(LIMITS, operator_store, clock).reset(BreakerName.MAX_DRAWDOWN, by="operator")
    assert bot.on_equity(D("840")) == []
    assert bot.state is TradingState.ACTIVE


def test_refresh_when_store_holds_unknown_breaker_then_warns_once(
    store: FakeStore, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    store.records["retired_breaker"] = BreakerRecord("retired_breaker", True, "old", 0)
    with caplog.at_level(logging.WARNING, logger="adxbot.risk.breakers"):
        breakers = CircuitBreakers(LIMITS, store, clock)
        breakers.refresh()
        assert breakers.state is TradingState.ACTIVE
    assert sum("retired_breaker" in r.getMessage() for r in caplog.records) == 1


# --------------------------------------------------------------------------------- limits
def test_risk_limits_from_config_then_reads_risk_and_sizing_sections() -> None:
    config = parse_config(
        {
            "position_sizing": {"max_positions": 3},
            "risk_management": {
                "daily_loss_limit_percent": 4.5,
                "max_drawdown_percent": 20,
                "consecutive_loss_limit": 4,
                "api_error_limit": 7,
                "api_error_window_minutes": 15,
            },
        }
    )
    assert RiskLimits.from_config(config) == RiskLimits(
        daily_loss_percent=D("4.5"),
        max_drawdown_percent=D("20"),
        consecutive_losses=4,
        max_positions=3,
        api_error_limit=7,
        api_error_window_ms=15 * MINUTE_MS,
    )


def test_risk_limits_from_default_config_then_match_the_spec() -> None:
    limits = RiskLimits.from_config(BotConfig())
    assert limits == RiskLimits(D("5.0"), D("15.0"), 3, 2, 5, 10 * MINUTE_MS)
