"""The paper bot against the simulator on loopback: same trades as a backtest, restarts,
breakers, exchange errors.  The simulator runs at 60,000x (a 5-minute candle every 5 ms),
so these tests trade weeks of real BTC candles in seconds."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from adxbot.clock import WallClock
from adxbot.persistence.records import EventKind, TradingMode
from adxbot.persistence.store import TradeStore
from adxbot.risk.breakers import BreakerName, CircuitBreakers, RiskLimits
from adxbot.sim.clock import SimClock
from adxbot.sim.server import SimulatorThread
from bot_support import (
    NO_BREAKERS,
    backtest_of_run,
    bot_simulator,
    config_with,
    run_bot_until,
    stored_trade_rows,
    trade_rows,
    trades_closed,
)

SPEED = 60_000.0


def test_paper_run_when_candles_replayed_then_trades_equal_the_backtest(tmp_path: Path) -> None:
    config = config_with(NO_BREAKERS)
    database = tmp_path / "paper.sqlite3"
    with SimulatorThread(bot_simulator(SPEED)) as sim:
        summary = asyncio.run(run_bot_until(config, sim.base_url, database, trades_closed(5)))

    assert summary.errors == 0
    expected = trade_rows(backtest_of_run(config, database))
    stored = stored_trade_rows(database)
    assert len(stored) >= 5
    assert stored == expected


def _caught_up(store: TradeStore, clock: SimClock) -> bool:
    """Return True once the bot has processed every candle closed by the paused clock."""
    last = int(store.info("last_candle_ms") or 0)
    return last >= clock.now_ms() // 300_000 * 300_000 - 300_000


def _paused_while_holding(clock: SimClock, trades: int) -> Callable[[TradeStore], bool]:
    """Return a condition that pauses the simulator once the bot holds a position after
    `trades` trades, and holds when the bot has caught up with the paused clock and still
    holds one (else lets the clock run on and tries again at the next position)."""

    def condition(store: TradeStore) -> bool:
        if clock.paused:
            if not _caught_up(store, clock):
                return False
            if store.open_positions():
                return True
            clock.resume()  # the position closed while the bot caught up: next one
            return False
        if store.trade_count() >= trades and store.open_positions():
            clock.pause()
        return False

    return condition


def test_paper_run_when_candles_replayed_then_open_position_matches_the_backtest(
    tmp_path: Path,
) -> None:
    config = config_with(NO_BREAKERS)
    database = tmp_path / "paper.sqlite3"
    simulator = bot_simulator(SPEED)
    with SimulatorThread(simulator) as sim:
        holding = _paused_while_holding(simulator.exchange.market.clock, trades=2)
        asyncio.run(run_bot_until(config, sim.base_url, database, holding))

    result = backtest_of_run(config, database)
    with TradeStore.open_read_only(database) as store:
        positions = store.open_positions()
    still_open = [t for t in result.trades if t.exit_reason.value == "end_of_data"]
    assert len(positions) == 1
    assert len(still_open) == 1
    assert (positions[0].direction, positions[0].entry_price, positions[0].quantity) == (
        still_open[0].direction,
        still_open[0].entry_price,
        still_open[0].quantity,
    )


def test_restart_with_open_position_then_position_and_balance_kept_and_trades_match(
    tmp_path: Path,
) -> None:
    config = config_with(NO_BREAKERS)
    database = tmp_path / "paper.sqlite3"
    simulator = bot_simulator(SPEED)
    clock = simulator.exchange.market.clock
    with SimulatorThread(simulator) as sim:
        # No candle closes while the bot is down.
        holding = _paused_while_holding(clock, trades=1)
        asyncio.run(run_bot_until(config, sim.base_url, database, holding))
        with TradeStore.open_read_only(database) as store:
            before = (store.open_positions(), store.latest_equity(), store.trade_count())
            orders_before = len(store.orders())
        assert before[0], "the bot stopped holding a position"

        # Second run: same database, the position and the balance carry over.
        def restarted(store: TradeStore) -> bool:
            if store.info("status") == "running" and clock.paused:
                with TradeStore.open_read_only(database) as check:
                    assert check.open_positions() == before[0]
                clock.resume()
            return store.trade_count() >= before[2] + 3

        asyncio.run(run_bot_until(config, sim.base_url, database, restarted))

    with TradeStore.open_read_only(database) as store:
        events = store.events(limit=1000, kinds=[EventKind.STARTED])
        assert len(store.orders()) > orders_before
        position_id = before[0][0].position_id
        assert [t.position_id for t in store.trades()].count(position_id or -1) == 1
    assert not any("closed while the bot was stopped" in e.message for e in events)
    assert stored_trade_rows(database) == trade_rows(backtest_of_run(config, database))


def test_consecutive_losses_when_limit_reached_then_entries_denied_until_reset(
    tmp_path: Path,
) -> None:
    config = config_with({"risk_management": {"consecutive_loss_limit": 2}})
    database = tmp_path / "paper.sqlite3"
    simulator = bot_simulator(SPEED)
    with SimulatorThread(simulator) as sim:

        def denied_after_trip(store: TradeStore) -> bool:
            kinds = {e.kind for e in store.events(limit=500)}
            return EventKind.BREAKER_TRIPPED in kinds and any(
                "consecutive_losses" in e.message
                for e in store.events(limit=500, kinds=[EventKind.RISK_DENIED])
            )

        asyncio.run(run_bot_until(config, sim.base_url, database, denied_after_trip))

        with TradeStore.open_read_only(database) as store:
            trades = store.trades()
            trip = store.events(limit=500, kinds=[EventKind.BREAKER_TRIPPED])[-1]
            positions_after_trip = [p for p in store.open_positions() if p.opened_ms > trip.time_ms]
            breaker = store.breakers()["consecutive_losses"]
        assert breaker.tripped
        assert [t.pnl <= 0 for t in trades[-2:]] == [True, True]
        assert positions_after_trip == []

        # A restart does not clear it; a person does.
        with TradeStore.open(database, TradingMode.PAPER) as store:
            breakers = CircuitBreakers(RiskLimits.from_config(config), store, WallClock())
            assert breakers.entry_denial(0) is not None
            assert breakers.reset(BreakerName.CONSECUTIVE_LOSSES, by="test")
            assert breakers.entry_denial(0) is None


def test_exchange_unreachable_when_errors_exceed_limit_then_api_breaker_trips_and_bot_goes_on(
    tmp_path: Path,
) -> None:
    config = config_with(NO_BREAKERS)
    database = tmp_path / "paper.sqlite3"
    simulator = bot_simulator(SPEED)
    seen: dict[str, int] = {}
    with SimulatorThread(simulator) as sim:

        def tripped_then_trading_on(store: TradeStore) -> bool:
            if "disconnected" not in seen and store.info("status") == "running":
                simulator.faults.disconnect(3.0)  # every request dropped for 3 s
                seen["disconnected"] = 1
            breaker = store.breakers().get("api_errors")
            if breaker is None or not breaker.tripped:
                return False
            last = int(store.info("last_candle_ms") or 0)
            seen.setdefault("candle_at_trip", last)
            return last >= seen["candle_at_trip"] + 20 * 300_000

        summary = asyncio.run(
            run_bot_until(config, sim.base_url, database, tripped_then_trading_on)
        )

    assert summary.errors > 5
    with TradeStore.open_read_only(database) as store:
        errors = store.events(limit=1000, kinds=[EventKind.ERROR])
        breaker = store.breakers()["api_errors"]
        opened_after = [p for p in store.open_positions() if p.opened_ms > breaker.changed_ms]
        trades_after = [t for t in store.trades() if t.entry_time_ms > breaker.changed_ms]
    assert len(errors) == summary.errors
    assert breaker.tripped
    assert opened_after == []
    assert trades_after == []
