"""The bot's candle loop (`TradingBot`) on a hand-driven fake exchange.

The fake serves the bundled BTC candles; the test moves its clock one candle at a time
and waits until the bot has processed each (its `last_candle_ms`).  The bot is wired as
`run_paper_bot` wires it: paper trader, trade database, breakers, market time.

The bot's `ExchangeClock` gets a local clock derived from the fake's time, so it reads the
exchange's time exactly.  At `FAST` the local clock runs a million times slower than the
exchange's (an accelerated simulator): the bot's sleeps until the next close last
microseconds and every candle is young enough to trade on.  At `REAL_TIME` (BingX) a
candle's age is its age on the exchange; restarts that test the decision delay use it.

On the stretch used, a backtest trading from candle 3440 (after 1000 candles of history)
makes three closed trades: a short signalled on candle 3450 (take-profit in 3468), then
signals on 3558 and 3643 (stop-losses, the last in 3712).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from adxbot.backtest.results import BacktestResult
from adxbot.backtest.runner import Backtester
from adxbot.bot.exchange_clock import ExchangeClock
from adxbot.bot.market_time import last_market_time
from adxbot.bot.runner import RunSummary, StartupRefused, TradingBot
from adxbot.clock import ManualClock
from adxbot.config import BotConfig
from adxbot.domain.candles import Bar
from adxbot.errors import DatabaseError
from adxbot.execution.paper_trader import PaperTrader
from adxbot.execution.trader import MarketUpdate, Signal
from adxbot.persistence.records import EventKind, EventRecord, OrderPurpose, TradingMode
from adxbot.persistence.store import TradeStore
from adxbot.risk.breakers import CircuitBreakers, RiskLimits
from adxbot.risk.manager import RiskManager
from adxbot.strategy.base import Action
from adxbot.strategy.factory import build_strategy
from bot_support import (
    NO_BREAKERS,
    backtest_of_run,
    config_with,
    sample,
    stored_trade_rows,
    trade_rows,
)
from fake_exchange import FakeExchange

FAST = 1e6
"""Exchange ms per local ms of an accelerated exchange: the bot's sleeps until the next
close last microseconds, and every candle counts as just closed (decided on)."""
REAL_TIME = 1.0
"""The exchange's clock runs at ours (BingX): a candle's age is its age on the exchange."""
RETRY_DELAYS_S = (0.001,)
POLL_S = 0.001
TIMEOUT_S = 10.0

START = 3440
"""The bot starts while this candle forms: its history is candles 2440-3439."""
SIGNAL = 3450
"""The first candle the backtest decides on (a short; it fills at 3451's open)."""
TAKE_PROFIT = 3468
"""The candle whose range reaches that short's take-profit."""
END = 3713
"""Candle 3712 (the third trade's stop-loss) has closed when this one forms."""

CONFIG = config_with(NO_BREAKERS)


def paper_bot(
    config: BotConfig, exchange: FakeExchange, store: TradeStore, speed: float
) -> TradingBot:
    """Build the bot as `run_paper_bot` does, on the fake exchange."""
    clock = ExchangeClock(
        exchange.server_time, fallback=exchange, monotonic=exchange.monotonic(speed)
    )
    clock.rate = speed  # what it measures once its own clock has run a second
    market_time = last_market_time(store.info("last_candle_ms"), config.timeframe.ms, clock)
    breakers = CircuitBreakers(RiskLimits.from_config(config), store, market_time, wall=exchange)
    trader = PaperTrader(config, store, RiskManager(config, breakers), market_time)
    return TradingBot(
        config,
        client=exchange,
        clock=clock,
        market_time=market_time,
        store=store,
        trader=trader,
        breakers=breakers,
        strategy=build_strategy(config.strategy),
        wall=exchange,
        environment="fake exchange",
        retry_delays_s=RETRY_DELAYS_S,
    )


@dataclass
class Run:
    """A bot running in this event loop, its database and the exchange it watches."""

    exchange: FakeExchange
    store: TradeStore
    stop: asyncio.Event
    task: asyncio.Task[RunSummary]
    finished: bool = field(default=False)

    def last_candle_ms(self) -> int:
        return int(self.store.info("last_candle_ms") or -1)

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        """Wait until `condition` holds; fail if the bot stops or time runs out first."""
        deadline = time.monotonic() + TIMEOUT_S
        while not condition():
            if self.task.done():
                self.task.result()  # the bot's own error, if it failed
                raise AssertionError(f"the bot stopped before {what}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the bot did not reach {what} in {TIMEOUT_S} s")
            await asyncio.sleep(POLL_S)

    async def started(self) -> None:
        await self.until(lambda: self.store.info("status") == "running", "start-up")

    async def processed(self, candle: int) -> None:
        """Wait until the bot has processed candle `candle` of the series."""
        open_ms = self.exchange.open_ms(candle)
        await self.until(lambda: self.last_candle_ms() >= open_ms, f"candle {candle}")

    async def close_candles_until(self, candle: int) -> None:
        """Close candles one at a time, each once processed, until `candle` is forming."""
        while (forming := self.exchange.now_index()) < candle:
            self.exchange.set_candle(forming + 1)
            await self.processed(forming)

    async def finish(self) -> RunSummary:
        """Ask the bot to stop and return its summary (or raise its error)."""
        self.finished = True
        self.stop.set()
        return await asyncio.wait_for(self.task, TIMEOUT_S)


@contextlib.asynccontextmanager
async def running_bot(
    exchange: FakeExchange,
    database: Path,
    *,
    config: BotConfig = CONFIG,
    speed: float = FAST,
    store_class: type[TradeStore] = TradeStore,
) -> AsyncIterator[Run]:
    """Run a paper bot on `database` until the block ends (then stop it and check it)."""
    store = store_class.open(database, TradingMode.PAPER)
    stop = asyncio.Event()
    task = asyncio.create_task(paper_bot(config, exchange, store, speed).run(stop))
    run = Run(exchange, store, stop, task)
    try:
        yield run
        if not run.finished:
            await run.finish()
    finally:
        stop.set()
        await asyncio.wait([task], timeout=TIMEOUT_S)
        task.cancel()
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: the failure to report is the one raised above
        store.close()


def fake_exchange(forming: int) -> FakeExchange:
    """Return an exchange on the bundled candles while candle `forming` forms."""
    exchange = FakeExchange(sample(), 0)
    exchange.set_candle(forming)
    return exchange


def open_ms(candle: int) -> int:
    """Return the open time of candle `candle` of the bundled sample."""
    return int(sample().open_time_ms[candle])


def backtest(*, until: int) -> BacktestResult:
    """Backtest candles up to `until` (inclusive), trading from START as the bot does."""
    candles = sample()
    backtester = Backtester(CONFIG, build_strategy(CONFIG.strategy), trade_from_ms=open_ms(START))
    return backtester.run(candles.slice(START - CONFIG.bot.history_candles, until + 1))


def events(database: Path, kind: EventKind) -> list[EventRecord]:
    with TradeStore.open_read_only(database) as store:
        return store.events(limit=10_000, kinds=[kind])[::-1]


# ---------------------------------------------------------------------- the candle loop


def test_candles_fed_one_by_one_then_stored_trades_equal_the_backtest(tmp_path: Path) -> None:
    exchange = fake_exchange(START)
    database = tmp_path / "paper.sqlite3"

    async def scenario() -> RunSummary:
        async with running_bot(exchange, database) as run:
            await run.started()
            await run.close_candles_until(SIGNAL + 1)
            # The entry decided on SIGNAL fills at the open of the candle now forming.
            [position] = run.store.open_positions()
            assert position.opened_ms == open_ms(SIGNAL + 1)
            await run.close_candles_until(END)
            return await run.finish()

    summary = asyncio.run(scenario())

    stored = stored_trade_rows(database)
    assert len(stored) == 3
    assert stored == trade_rows(backtest_of_run(CONFIG, database))
    assert (summary.candles, summary.trades_closed, summary.errors) == (END - START, 3, 0)


def test_answers_with_duplicated_and_repeated_candles_then_each_candle_processed_once(
    tmp_path: Path,
) -> None:
    exchange = fake_exchange(START)
    exchange.duplicate = True  # every candle twice in each answer
    exchange.rewind_candles = 2  # and each answer repeats the two candles sent before
    database = tmp_path / "paper.sqlite3"

    async def scenario() -> RunSummary:
        async with running_bot(exchange, database) as run:
            await run.started()
            await run.close_candles_until(END)
            return await run.finish()

    summary = asyncio.run(scenario())

    stored = stored_trade_rows(database)
    assert len(stored) == 3
    assert stored == trade_rows(backtest_of_run(CONFIG, database))
    assert (summary.candles, summary.errors) == (END - START, 0)
    assert events(database, EventKind.ERROR) == []


def test_candle_closed_on_the_clock_without_a_successor_then_processed_on_the_next_answer(
    tmp_path: Path,
) -> None:
    exchange = fake_exchange(START)
    database = tmp_path / "paper.sqlite3"

    async def close_late(run: Run) -> None:
        """Close the forming candle while the exchange still serves it as forming."""
        candle = exchange.now_index()
        exchange.view_lag_ms = 1  # its answers end with it, unfinished, and no successor
        exchange.set_candle(candle + 1)
        served = len(exchange.requests)
        await run.until(lambda: len(exchange.requests) >= served + 2, "two late answers")
        assert run.last_candle_ms() == open_ms(candle - 1), "processed too early"
        exchange.view_lag_ms = 0
        await run.processed(candle)

    async def scenario() -> None:
        async with running_bot(exchange, database) as run:
            await run.started()
            while exchange.now_index() < END:
                await close_late(run)

    asyncio.run(scenario())

    stored = stored_trade_rows(database)
    assert len(stored) == 3
    assert stored == trade_rows(backtest_of_run(CONFIG, database))


def test_missing_candle_then_reported_and_the_next_one_processed(tmp_path: Path) -> None:
    exchange = fake_exchange(START)
    missing = START + 1
    exchange.dropped.add(open_ms(missing))
    database = tmp_path / "paper.sqlite3"

    async def scenario() -> RunSummary:
        async with running_bot(exchange, database) as run:
            await run.started()
            # The candle before the missing one is final once the one after it shows.
            exchange.set_candle(missing + 1)
            await run.processed(missing - 1)
            exchange.set_candle(missing + 2)
            await run.processed(missing + 1)
            return await run.finish()

    summary = asyncio.run(scenario())

    assert (summary.candles, summary.errors) == (2, 0)
    [gap] = events(database, EventKind.ERROR)
    assert "no candle for 1 interval(s)" in gap.message


# ---------------------------------------------------------------------- start-up


def test_empty_first_answer_at_start_up_then_retried_counted_as_api_error_and_bot_starts(
    tmp_path: Path,
) -> None:
    exchange = fake_exchange(START)
    exchange.empty_answers = 1
    database = tmp_path / "paper.sqlite3"

    summary = asyncio.run(start_and_close_one_candle(exchange, database))

    assert_started_after_api_errors(database, summary, 1)
    [error] = events(database, EventKind.ERROR)
    assert "no closed candle" in error.message
    assert [r.start_ms for r in exchange.requests[:2]] == [None, None]


def test_exchange_errors_at_start_up_then_each_retried_and_counted_as_api_error(
    tmp_path: Path,
) -> None:
    exchange = fake_exchange(START)
    exchange.failures = 3
    database = tmp_path / "paper.sqlite3"

    summary = asyncio.run(start_and_close_one_candle(exchange, database))

    assert_started_after_api_errors(database, summary, 3)
    assert len(events(database, EventKind.ERROR)) == 3


async def start_and_close_one_candle(exchange: FakeExchange, database: Path) -> RunSummary:
    async with running_bot(exchange, database) as run:
        await run.started()
        await run.close_candles_until(exchange.now_index() + 1)
        return await run.finish()


def assert_started_after_api_errors(database: Path, summary: RunSummary, errors: int) -> None:
    """Check that the bot counted `errors` API errors, then started and ran normally."""
    assert (summary.errors, summary.candles) == (errors, 1)
    with TradeStore.open_read_only(database) as store:
        api_errors = json.loads(store.state("breakers.api_error_times_ms") or "[]")
        assert len(api_errors) == errors
        assert store.info("trading_since_ms") == str(open_ms(START))
        assert store.info("last_candle_ms") == str(open_ms(START))
    assert len(events(database, EventKind.STARTED)) == 1


# ---------------------------------------------------------------------- restarts


async def run_until(exchange: FakeExchange, database: Path, forming: int) -> None:
    """Run the bot from the exchange's time until candle `forming` forms, then stop it."""
    async with running_bot(exchange, database) as run:
        await run.started()
        await run.close_candles_until(forming)


async def restart(exchange: FakeExchange, database: Path, *, speed: float) -> None:
    """Start the bot on `database` at the exchange's time and stop it once started."""
    async with running_bot(exchange, database, speed=speed) as run:
        await run.started()


async def refused_start(config: BotConfig, exchange: FakeExchange, database: Path) -> str:
    """Start the bot on `database`; return why it refused (fail if it did not)."""
    with TradeStore.open(database, TradingMode.PAPER) as store:
        bot = paper_bot(config, exchange, store, FAST)
        with pytest.raises(StartupRefused) as refused:
            await asyncio.wait_for(bot.run(asyncio.Event()), TIMEOUT_S)
    return str(refused.value)


def bot_info(database: Path) -> dict[str, str]:
    with TradeStore.open_read_only(database) as store:
        return store.all_info()


def test_restart_on_an_exchange_behind_the_database_then_refused_and_database_unchanged(
    tmp_path: Path,
) -> None:
    exchange = fake_exchange(START)
    database = tmp_path / "paper.sqlite3"
    asyncio.run(run_until(exchange, database, START + 3))
    before = bot_info(database)
    exchange.set_candle(START - 100)  # another exchange, or a replay started earlier

    reason = asyncio.run(refused_start(CONFIG, exchange, database))

    assert "has processed candles up to" in reason
    assert bot_info(database) == before
    assert before["last_candle_ms"] == str(open_ms(START + 2))


@pytest.mark.parametrize(
    ("setting", "stored", "configured"),
    [("symbol", "BTC-USDT", "ETH-USDT"), ("timeframe", "5m", "15m")],
)
def test_restart_with_another_symbol_or_timeframe_then_refused_naming_both(
    tmp_path: Path, setting: str, stored: str, configured: str
) -> None:
    exchange = fake_exchange(START)
    database = tmp_path / "paper.sqlite3"
    asyncio.run(run_until(exchange, database, START))
    before = bot_info(database)
    config = config_with({**NO_BREAKERS, setting: configured})

    reason = asyncio.run(refused_start(config, exchange, database))

    assert re.search(rf"\b{setting} {re.escape(stored)}\b", reason), reason
    assert re.search(rf"\b{re.escape(configured)}\b", reason), reason
    assert bot_info(database) == before


def test_stop_longer_than_the_history_then_gap_candles_match_orders_but_decide_nothing(
    tmp_path: Path,
) -> None:
    exchange = fake_exchange(START)
    database = tmp_path / "paper.sqlite3"
    stopped = SIGNAL + 2  # forming when the bot stops: the short filled at 3451's open
    asyncio.run(run_until(exchange, database, stopped))
    with TradeStore.open_read_only(database) as store:
        assert len(store.open_positions()) == 1
        assert store.trade_count() == 0
    gap = CONFIG.bot.history_candles + 300
    # The newest close is four minutes old: too old to trade on (max delay 60 s).
    exchange.set_candle(stopped + gap, offset_ms=4 * 60_000)

    asyncio.run(restart(exchange, database, speed=REAL_TIME))

    expected = trade_rows(backtest_of_run(CONFIG, database))
    assert len(expected) > 1, "the gap holds signals the bot must not act on"
    stored = stored_trade_rows(database)
    assert stored == expected[:1]
    [(_, _, _, _, _, exit_ms, _, _, _, _)] = stored
    assert exit_ms == open_ms(TAKE_PROFIT)
    history_from = stopped + gap - CONFIG.bot.history_candles
    assert exit_ms < open_ms(history_from)  # matched on a page fetched before the history
    with TradeStore.open_read_only(database) as store:
        assert store.open_positions() == []
        assert max(o.created_ms for o in store.orders()) < open_ms(stopped)
        assert store.info("last_candle_ms") == str(open_ms(stopped + gap - 1))
    signals = [e.data["candle_ms"] for e in events(database, EventKind.SIGNAL)]
    assert signals == [open_ms(SIGNAL)]
    started = events(database, EventKind.STARTED)
    assert any(f"{gap} candles closed while the bot was stopped" in e.message for e in started)


@pytest.mark.parametrize(
    ("speed", "late_ms"),
    [(REAL_TIME, 30_000), (FAST, 3_600_000)],
    ids=["30 s late on a real-time exchange", "an exchange hour late at a million times"],
)
def test_restart_within_the_decision_delay_of_a_close_then_trades_on_that_candle(
    tmp_path: Path, speed: float, late_ms: int
) -> None:
    exchange = fake_exchange(START)
    database = tmp_path / "paper.sqlite3"
    asyncio.run(run_until(exchange, database, SIGNAL))  # stopped before SIGNAL closed
    exchange.set_candle(SIGNAL + 1, offset_ms=late_ms)

    asyncio.run(restart(exchange, database, speed=speed))

    signals = [e.data["candle_ms"] for e in events(database, EventKind.SIGNAL)]
    assert signals[:1] == [open_ms(SIGNAL)]
    [expected, *_] = backtest(until=SIGNAL + 1).trades
    with TradeStore.open_read_only(database) as store:
        [position] = store.open_positions()
    assert (position.signal_time_ms, position.opened_ms) == (
        open_ms(SIGNAL),
        open_ms(SIGNAL + 1),
    )
    assert (position.direction, position.entry_price, position.quantity) == (
        expected.direction,
        expected.entry_price,
        expected.quantity,
    )


def test_restart_long_after_a_close_then_candles_closed_meanwhile_are_only_matched(
    tmp_path: Path,
) -> None:
    exchange = fake_exchange(START)
    database = tmp_path / "paper.sqlite3"
    asyncio.run(run_until(exchange, database, SIGNAL))
    # Over an hour later, four minutes after the newest close (max delay 60 s).
    exchange.set_candle(SIGNAL + 13, offset_ms=4 * 60_000)

    asyncio.run(restart(exchange, database, speed=REAL_TIME))

    assert events(database, EventKind.SIGNAL) == []
    with TradeStore.open_read_only(database) as store:
        assert store.orders() == []
        assert store.info("last_candle_ms") == str(open_ms(SIGNAL + 12))
        latest = store.latest_equity()
    assert latest is not None
    assert latest.time_ms == open_ms(SIGNAL + 13)  # the trader saw every candle
    started = events(database, EventKind.STARTED)
    assert any("13 candles closed while the bot was stopped" in e.message for e in started)


def failing_once(candle_ms: int) -> type[TradeStore]:
    """Return a store class that fails once, at the end of the step of one candle."""

    class FailingStore(TradeStore):
        failed = False

        def set_info(self, key: str, value: str) -> None:
            if key == "last_candle_ms" and value == str(candle_ms) and not FailingStore.failed:
                FailingStore.failed = True
                raise DatabaseError("disk I/O error (injected by the test)")
            super().set_info(key, value)

    return FailingStore


@pytest.mark.parametrize(
    "failing", [SIGNAL, TAKE_PROFIT], ids=["on the entry's candle", "on the exit's candle"]
)
def test_failure_inside_a_candle_step_then_bot_stops_and_restart_executes_it_once(
    tmp_path: Path, failing: int
) -> None:
    exchange = fake_exchange(START)
    database = tmp_path / "paper.sqlite3"

    async def crash() -> None:
        store_class = failing_once(open_ms(failing))
        async with running_bot(exchange, database, store_class=store_class) as run:
            await run.started()
            with pytest.raises(DatabaseError, match="injected"):
                await run.close_candles_until(failing + 1)
            with pytest.raises(DatabaseError, match="injected"):
                await run.finish()
            assert run.last_candle_ms() == open_ms(failing - 1)
        [stopped] = events(database, EventKind.STOPPED)
        assert "disk I/O error (injected by the test)" in stopped.message

    async def resume() -> None:
        async with running_bot(exchange, database) as run:
            await run.started()
            assert run.last_candle_ms() >= open_ms(failing)
            await run.close_candles_until(END)

    asyncio.run(crash())
    asyncio.run(resume())

    stored = stored_trade_rows(database)
    assert len(stored) == 3
    assert stored == trade_rows(backtest_of_run(CONFIG, database))
    signals = [e.data["candle_ms"] for e in events(database, EventKind.SIGNAL)]
    assert len(signals) == len(set(signals))
    with TradeStore.open_read_only(database) as store:
        entries = [o for o in store.orders() if o.purpose is OrderPurpose.ENTRY]
        positions = len(store.trades()) + len(store.open_positions())
    assert len(entries) == positions == len(signals)


# ---------------------------------------------------------------------- the trader's guards

T0 = 1_767_571_200_000  # 2026-01-05 00:00 UTC
CANDLE_MS = 300_000


def bar(i: int, low: str, close: str = "50000") -> Bar:
    """Candle `i` of a hand-made series opening at 50000 and ranging down to `low`."""
    return Bar(T0 + i * CANDLE_MS, Decimal("50000"), Decimal("50020"), Decimal(low), Decimal(close))


def paper_trader(store: TradeStore, clock: ManualClock) -> PaperTrader:
    breakers = CircuitBreakers(RiskLimits.from_config(CONFIG), store, clock)
    return PaperTrader(CONFIG, store, RiskManager(CONFIG, breakers), clock)


def test_candle_matched_or_signal_acted_on_again_then_ignored_without_new_orders(
    tmp_path: Path,
) -> None:
    quiet, stopping = bar(1, low="49980"), bar(1, low="45000", close="45500")
    clock = ManualClock(T0)

    async def scenario(store: TradeStore) -> None:
        trader = paper_trader(store, clock)
        clock.set(T0 + CANDLE_MS)
        await trader.monitor_positions(MarketUpdate(closed=bar(0, low="49980")))
        report = await trader.execute_signal(Signal(Action.ENTER_LONG, bar(0, low="49980")))
        assert len(report.placed) == 1
        await trader.monitor_positions(
            MarketUpdate(opened_at_ms=quiet.open_time_ms, open_price=quiet.open)
        )
        clock.set(T0 + 2 * CANDLE_MS)
        await trader.monitor_positions(MarketUpdate(closed=quiet))
        [position] = store.open_positions()
        assert position.stop_loss is not None
        assert position.stop_loss > stopping.low
        orders = store.orders()

        for again in (trader, paper_trader(store, clock)):  # this run, and after a restart
            # The same candle again, now ranging through the stop: it was matched already.
            assert await again.monitor_positions(MarketUpdate(closed=stopping)) == []
            # An exit decided on the candle whose signal was executed already.
            report = await again.execute_signal(Signal(Action.EXIT, bar(0, low="49980")))
            assert report.placed == ()
            assert store.orders() == orders
            assert store.open_positions() == [position]
            assert store.trade_count() == 0

    with TradeStore.open(tmp_path / "paper.sqlite3", TradingMode.PAPER) as store:
        asyncio.run(scenario(store))
