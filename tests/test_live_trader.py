"""LiveTrader against the simulator on loopback: the failures real money must survive."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from adxbot.bot.instance_lock import InstanceLock
from adxbot.bot.live_setup import LiveSetupRefused, account_lock_path, prepare_account
from adxbot.bot.session import run_live_bot
from adxbot.cli.app import app
from adxbot.clock import WallClock
from adxbot.config import parse_config
from adxbot.domain.enums import Direction, ExitReason, OrderStatus, OrderType
from adxbot.errors import ConfigError, InvalidOrder
from adxbot.exchange.client import BingXClient
from adxbot.exchange.errors import RateLimited
from adxbot.exchange.models import OrderReport
from adxbot.exchange.orders import OrderSpec
from adxbot.exchange.server_clock import ServerClock
from adxbot.execution.trader import MarketUpdate, Signal
from adxbot.persistence.records import OrderPurpose
from adxbot.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET
from adxbot.sim.account import ApiKey
from adxbot.sim.faults import FaultKind
from adxbot.strategy.base import Action
from live_support import SIM_CREDENTIALS, candle_at, live_rig
from sim_support import RunningSim, running_simulator, sim_options

POSITIONS = "/openApi/swap/v2/user/positions"
OPEN_ORDERS = "/openApi/swap/v2/trade/openOrders"


def _positions(sim: RunningSim) -> list[dict[str, object]]:
    rows = sim.client.data("GET", POSITIONS, {"symbol": "BTC-USDT"})
    return [r for r in rows if Decimal(str(r["positionAmt"])) != 0]


def _open_orders(sim: RunningSim) -> list[dict[str, object]]:
    data = sim.client.data("GET", OPEN_ORDERS, {"symbol": "BTC-USDT"})
    orders: list[dict[str, object]] = data["orders"]
    return orders


def _enter_long(sim: RunningSim, database: Path) -> None:
    async def go() -> None:
        async with live_rig(sim.base_url, database) as rig:
            report = await rig.trader.execute_signal(
                Signal(Action.ENTER_LONG, candle_at(sim.price(), sim.now_ms() - 300_000))
            )
            assert report.denied is None, report

    asyncio.run(go())


def test_entry_when_filled_then_stop_and_take_profit_rest_on_the_exchange(tmp_path: Path) -> None:
    database = tmp_path / "live.sqlite3"
    with running_simulator() as sim:
        _enter_long(sim, database)
        positions = _positions(sim)
        orders = _open_orders(sim)

    assert len(positions) == 1
    assert {o["type"] for o in orders} == {"STOP_MARKET", "TAKE_PROFIT_MARKET"}
    assert all(o["side"] == "SELL" for o in orders)
    assert all(o["workingType"] == "MARK_PRICE" for o in orders)


def test_stop_loss_when_it_fires_while_bot_stopped_then_trade_recorded_on_restart(
    tmp_path: Path,
) -> None:
    database = tmp_path / "live.sqlite3"
    with running_simulator() as sim:
        _enter_long(sim, database)
        sim.jump(-5)  # through the 2 % stop
        sim.step(60_000)
        assert _positions(sim) == []

        async def restart() -> list[object]:
            async with live_rig(sim.base_url, database) as rig:
                bar = candle_at(sim.price(), sim.now_ms() - 300_000)
                trades = await rig.trader.monitor_positions(MarketUpdate(closed=bar))
                assert rig.store.open_positions() == []
                tp = [o for o in rig.store.orders() if o.purpose is OrderPurpose.TAKE_PROFIT]
                assert tp[0].status is OrderStatus.CANCELED
                return list(trades)

        trades = asyncio.run(restart())
        remaining = _open_orders(sim)

    assert len(trades) == 1
    trade = trades[0]
    assert trade.exit_reason is ExitReason.STOP_LOSS  # type: ignore[attr-defined]
    assert trade.pnl < 0  # type: ignore[attr-defined]
    assert remaining == []


def test_entry_when_answer_lost_after_execution_then_exactly_one_position(tmp_path: Path) -> None:
    database = tmp_path / "live.sqlite3"
    with running_simulator() as sim:
        sim.simulator.faults.schedule(FaultKind.DROP_AFTER, 1, "trade/order")
        _enter_long(sim, database)
        positions = _positions(sim)
        history = sim.client.data(
            "GET", "/openApi/swap/v2/trade/allOrders", {"symbol": "BTC-USDT", "limit": 100}
        )

    entries = [o for o in history["orders"] if o["type"] == "MARKET"]
    assert len(positions) == 1
    assert len(entries) == 1


class _StopRejectingClient(BingXClient):
    async def place_order(self, spec: OrderSpec) -> OrderReport:
        if spec.order_type is OrderType.STOP_MARKET:
            raise InvalidOrder("stop price rejected (test)")
        return await super().place_order(spec)


def test_stop_loss_when_rejected_then_position_closed_at_once_and_trading_halted(
    tmp_path: Path,
) -> None:
    database = tmp_path / "live.sqlite3"
    with running_simulator() as sim:

        async def go() -> None:
            async with live_rig(sim.base_url, database, client_class=_StopRejectingClient) as rig:
                await rig.trader.execute_signal(
                    Signal(Action.ENTER_LONG, candle_at(sim.price(), sim.now_ms() - 300_000))
                )
                assert rig.store.open_positions() == []
                trades = rig.store.trades()
                assert [t.exit_reason for t in trades] == [ExitReason.PROTECTION_FAILED]
                assert rig.breakers.entry_denial(0) is not None

        asyncio.run(go())
        assert _positions(sim) == []


def test_position_opened_by_hand_when_reconciled_then_adopted_and_protected(
    tmp_path: Path,
) -> None:
    database = tmp_path / "live.sqlite3"
    with running_simulator() as sim:
        sim.client.place(side="SELL", positionSide="BOTH", type="MARKET", quantity="0.01")

        async def go() -> None:
            async with live_rig(sim.base_url, database) as rig:
                report = await rig.trader.reconcile_positions()
                assert report.discrepancies
                positions = rig.store.open_positions()
                assert [(p.direction, p.quantity) for p in positions] == [
                    (Direction.SHORT, Decimal("0.01"))
                ]
                again = await rig.trader.reconcile_positions()
                assert again.discrepancies == ()

        asyncio.run(go())
        orders = _open_orders(sim)

    assert {o["type"] for o in orders} == {"STOP_MARKET", "TAKE_PROFIT_MARKET"}
    assert all(o["side"] == "BUY" for o in orders)


def test_position_closed_by_hand_when_monitored_then_recorded_and_orders_cancelled(
    tmp_path: Path,
) -> None:
    database = tmp_path / "live.sqlite3"
    with running_simulator() as sim:
        _enter_long(sim, database)
        held = _positions(sim)[0]
        sim.client.place(
            side="SELL", positionSide="BOTH", type="MARKET", quantity=str(held["positionAmt"])
        )

        async def go() -> None:
            async with live_rig(sim.base_url, database) as rig:
                bar = candle_at(sim.price(), sim.now_ms() - 300_000)
                trades = await rig.trader.monitor_positions(MarketUpdate(closed=bar))
                assert [t.exit_reason for t in trades] == [ExitReason.EXTERNAL]

        asyncio.run(go())
        assert _open_orders(sim) == []


def test_same_candle_signal_when_executed_twice_then_one_entry(tmp_path: Path) -> None:
    database = tmp_path / "live.sqlite3"
    with running_simulator(sim_options()) as sim:
        candle = candle_at(sim.price(), sim.now_ms() - 300_000)

        async def go() -> None:
            async with live_rig(sim.base_url, database) as rig:
                await rig.trader.execute_signal(Signal(Action.ENTER_LONG, candle))
                second = await rig.trader.execute_signal(Signal(Action.ENTER_LONG, candle))
                assert second.placed == ()

        asyncio.run(go())
        assert len(_positions(sim)) == 1


def test_start_when_key_can_withdraw_then_refused_naming_the_fix(tmp_path: Path) -> None:
    options = sim_options(keys=[ApiKey(DEFAULT_API_KEY, DEFAULT_API_SECRET, can_withdraw=True)])
    with running_simulator(options) as sim:

        async def go() -> None:
            async with live_rig(sim.base_url, tmp_path / "live.sqlite3"):
                pass

        with pytest.raises(LiveSetupRefused, match="withdraw"):
            asyncio.run(go())


def test_start_when_clock_off_beyond_receive_window_then_refused(tmp_path: Path) -> None:
    with running_simulator() as sim:  # replays 2025: "this machine" is a year off

        async def go() -> None:
            async with httpx.AsyncClient() as http:
                client = BingXClient(http, sim.base_url, ServerClock(WallClock()), SIM_CREDENTIALS)
                await prepare_account(parse_config({}), client, check_clock=True)

        with pytest.raises(LiveSetupRefused, match="clock"):
            asyncio.run(go())


def test_second_live_bot_on_the_same_account_when_started_then_refused(tmp_path: Path) -> None:
    with running_simulator() as sim:

        async def go() -> None:
            with InstanceLock(account_lock_path(SIM_CREDENTIALS)):  # the first bot
                await run_live_bot(
                    parse_config({}),
                    base_url=sim.base_url,
                    environment="simulator",
                    database=tmp_path / "other.sqlite3",
                    credentials=SIM_CREDENTIALS,
                    stop=asyncio.Event(),
                    check_clock=False,
                )

        with pytest.raises(ConfigError, match="another adxbot"):
            asyncio.run(go())


def test_run_live_when_operator_does_not_type_live_then_nothing_happens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_simulator() as sim:
        monkeypatch.setenv("BINGX_BASE_URL", sim.base_url)
        monkeypatch.setenv("BINGX_API_KEY", DEFAULT_API_KEY)
        monkeypatch.setenv("BINGX_API_SECRET", DEFAULT_API_SECRET)
        monkeypatch.delenv("ADXBOT_CONFIRM_LIVE", raising=False)
        database = tmp_path / "live.sqlite3"
        result = CliRunner().invoke(
            app, ["run", "--mode", "live", "--database", str(database)], input="yes\n"
        )
        orders = _open_orders(sim)

    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert "LIVE TRADING on CUSTOM" in output
    assert "balance 1000.00 USDT" in output
    assert "not confirmed" in output
    assert not database.exists()
    assert orders == []


def test_signal_exit_when_exchange_already_cancelled_the_siblings_then_recorded_cleanly(
    tmp_path: Path,
) -> None:
    database = tmp_path / "live.sqlite3"
    with running_simulator() as sim:
        _enter_long(sim, database)

        async def go() -> None:
            async with live_rig(sim.base_url, database) as rig:
                bar = candle_at(sim.price(), sim.now_ms())
                await rig.trader.execute_signal(Signal(Action.EXIT, bar))
                trades = rig.store.trades()
                assert [t.exit_reason for t in trades] == [ExitReason.SIGNAL]
                assert rig.store.open_orders() == []

        asyncio.run(go())
        assert _positions(sim) == []
        assert _open_orders(sim) == []


def test_entry_when_write_times_out_after_execution_then_exactly_one_position(
    tmp_path: Path,
) -> None:
    database = tmp_path / "live.sqlite3"
    with running_simulator() as sim:
        faults = sim.simulator.faults
        faults.settings.timeout_s = 1.5  # the answer is held back past the client's timeout
        faults.schedule(FaultKind.TIMEOUT, 1, "trade/order")

        async def go() -> None:
            async with live_rig(sim.base_url, database, write_timeout_s=0.5) as rig:
                report = await rig.trader.execute_signal(
                    Signal(Action.ENTER_LONG, candle_at(sim.price(), sim.now_ms() - 300_000))
                )
                assert report.denied is None, report
                attempts = [
                    e.message
                    for e in rig.store.events(limit=50)
                    if "attempt 1: outcome unknown" in e.message
                ]
                assert attempts  # the timeout happened and was resolved by lookup

        asyncio.run(go())
        positions = _positions(sim)
        history = sim.client.data(
            "GET", "/openApi/swap/v2/trade/allOrders", {"symbol": "BTC-USDT", "limit": 100}
        )

    assert len(positions) == 1
    assert len([o for o in history["orders"] if o["type"] == "MARKET"]) == 1


@pytest.mark.parametrize("fault", [FaultKind.RATE_LIMIT, FaultKind.HTTP_429])
def test_entry_when_rate_limited_then_sent_again_after_the_wait_and_one_position(
    fault: FaultKind, tmp_path: Path
) -> None:
    database = tmp_path / "live.sqlite3"
    with running_simulator() as sim:
        sim.simulator.faults.schedule(fault, 1, "trade/order")

        async def go() -> list[str]:
            async with live_rig(sim.base_url, database) as rig:
                report = await rig.trader.execute_signal(
                    Signal(Action.ENTER_LONG, candle_at(sim.price(), sim.now_ms() - 300_000))
                )
                assert report.denied is None, report
                return [e.message for e in rig.store.events(limit=50)]

        messages = asyncio.run(go())
        positions = _positions(sim)
        orders = _open_orders(sim)

    assert any("attempt 1: not sent, rate limited" in m for m in messages), messages
    assert any("attempt 2: accepted" in m for m in messages), messages
    assert len(positions) == 1
    assert {o["type"] for o in orders} == {"STOP_MARKET", "TAKE_PROFIT_MARKET"}


class _BannedClient(BingXClient):
    """Answers every order as BingX does to an IP banned for the next hour."""

    async def place_order(self, spec: OrderSpec) -> OrderReport:
        raise RateLimited(
            "BingX trade/order: 100410 banned (test)",
            code=100410,
            unblocked_at_ms=self.clock.now_ms() + 3_600_000,
        )


def test_entry_when_banned_for_longer_than_the_wait_allows_then_one_attempt_and_not_placed(
    tmp_path: Path,
) -> None:
    database = tmp_path / "live.sqlite3"
    with running_simulator() as sim:

        async def go() -> None:
            async with live_rig(sim.base_url, database, client_class=_BannedClient) as rig:
                report = await rig.trader.execute_signal(
                    Signal(Action.ENTER_LONG, candle_at(sim.price(), sim.now_ms() - 300_000))
                )
                messages = [e.message for e in rig.store.events(limit=50)]
                assert report.denied == "entry rejected"
                assert len([m for m in messages if " attempt " in m]) == 1, messages
                assert any("not placed" in m for m in messages), messages

        asyncio.run(go())
        assert _positions(sim) == []


class _StopAndFirstCloseRejectingClient(_StopRejectingClient):
    """Refuses every stop-loss and the first close at market."""

    closes_refused = 0

    async def place_order(self, spec: OrderSpec) -> OrderReport:
        closing = spec.order_type is OrderType.MARKET and spec.reduce_only
        if closing and type(self).closes_refused == 0:
            type(self).closes_refused += 1
            raise InvalidOrder("close refused (test)")
        return await super().place_order(spec)


def test_close_for_failed_protection_when_refused_then_next_reconciliation_closes_anew(
    tmp_path: Path,
) -> None:
    database = tmp_path / "live.sqlite3"
    with running_simulator() as sim:

        async def go() -> list[str]:
            client = _StopAndFirstCloseRejectingClient
            async with live_rig(sim.base_url, database, client_class=client) as rig:
                await rig.trader.execute_signal(
                    Signal(Action.ENTER_LONG, candle_at(sim.price(), sim.now_ms() - 300_000))
                )
                assert len(rig.store.open_positions()) == 1  # its close was refused
                report = await rig.trader.reconcile_positions()
                assert report.consistent, report
                assert rig.store.open_positions() == []
                trades = rig.store.trades()
                assert [t.exit_reason for t in trades] == [ExitReason.PROTECTION_FAILED]
                return [
                    o.client_order_id for o in rig.store.orders() if o.purpose is OrderPurpose.EXIT
                ]

        exits = asyncio.run(go())
        assert _positions(sim) == []

    assert len(exits) == 2
    assert len(set(exits)) == 2  # the second close has an id of its own


def test_adopted_position_when_price_already_past_take_profit_then_closed_at_market(
    tmp_path: Path,
) -> None:
    database = tmp_path / "live.sqlite3"
    with running_simulator() as sim:
        sim.client.place(side="BUY", positionSide="BOTH", type="MARKET", quantity="0.01")
        sim.jump(6)  # beyond the 4 % take-profit: BingX refuses a trigger that fires at once

        async def go() -> None:
            async with live_rig(sim.base_url, database) as rig:
                report = await rig.trader.reconcile_positions()
                assert report.consistent, report
                assert rig.store.open_positions() == []
                trades = rig.store.trades()
                assert [t.exit_reason for t in trades] == [ExitReason.TAKE_PROFIT]
                assert trades[0].pnl > 0
                again = await rig.trader.reconcile_positions()
                assert again.discrepancies == ()

        asyncio.run(go())
        assert _positions(sim) == []
        assert _open_orders(sim) == []
