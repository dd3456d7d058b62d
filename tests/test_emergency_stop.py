"""`adxbot emergency-stop` against the simulator on loopback: flat, halted, recorded."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner, Result

from adxbot.cli.app import app, main
from adxbot.clock import WallClock
from adxbot.config import BotConfig
from adxbot.domain.enums import Direction, ExitReason, OrderStatus, PositionMode, PositionSide
from adxbot.exchange.client import BingXClient
from adxbot.exchange.credentials import Credentials
from adxbot.exchange.server_clock import ServerClock
from adxbot.execution.live_trader import AccountSetup, LiveTrader
from adxbot.persistence.records import OrderPurpose, PositionRecord, TradingMode
from adxbot.persistence.store import TradeStore
from adxbot.risk.breakers import BreakerName, CircuitBreakers, RiskLimits
from adxbot.risk.manager import RiskManager
from adxbot.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET
from sim_support import RunningSim, running_simulator, sim_options

QUANTITY = Decimal("0.01")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Undo the commands' `configure_logging` (root level and handler) after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in ("httpx", "httpcore", "asyncio")}
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    for name, old in quiet.items():
        logging.getLogger(name).setLevel(old)


@pytest.fixture
def sim() -> Iterator[RunningSim]:
    with running_simulator(sim_options()) as running:
        yield running


@pytest.fixture
def hedge_sim() -> Iterator[RunningSim]:
    with running_simulator(sim_options(hedge_mode=True)) as running:
        yield running


def point_at(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sim: RunningSim) -> None:
    """Make the CLI trade the simulator's account, as an operator's environment would."""
    monkeypatch.chdir(tmp_path)  # no config/.env of the repository is read
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.setenv("BINGX_BASE_URL", sim.base_url)
    monkeypatch.setenv("BINGX_API_KEY", DEFAULT_API_KEY)
    monkeypatch.setenv("BINGX_API_SECRET", DEFAULT_API_SECRET)


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sim: RunningSim) -> RunningSim:
    point_at(monkeypatch, tmp_path, sim)
    return sim


def invoke(*args: str | Path, input: str | None = None) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def open_by_hand(sim: RunningSim, side: str = "BUY", position_side: str = "BOTH") -> None:
    """Open a position with a market order, then rest a stop-loss and a take-profit."""
    sim.client.data("POST", "/openApi/swap/v2/trade/order", _order(side, position_side))
    price = sim.price()
    closing = "SELL" if side == "BUY" else "BUY"
    below, above = (
        (price * Decimal("0.9")).quantize(Decimal("0.1")),
        (price * Decimal("1.1")).quantize(Decimal("0.1")),
    )
    stop, take = (below, above) if side == "BUY" else (above, below)
    for kind, trigger in (("STOP_MARKET", stop), ("TAKE_PROFIT_MARKET", take)):
        sim.client.data(
            "POST",
            "/openApi/swap/v2/trade/order",
            {
                "symbol": "BTC-USDT",
                "side": closing,
                "positionSide": position_side,
                "type": kind,
                "stopPrice": trigger,
                "closePosition": "true",
                "workingType": "MARK_PRICE",
            },
        )


def _order(side: str, position_side: str) -> dict[str, Any]:
    return {
        "symbol": "BTC-USDT",
        "side": side,
        "positionSide": position_side,
        "type": "MARKET",
        "quantity": QUANTITY,
    }


def exchange_positions(sim: RunningSim) -> list[Any]:
    return list(sim.account_state()["positions"])


def exchange_orders(sim: RunningSim) -> list[Any]:
    return list(sim.account_state()["open_orders"])


def live_database(path: Path, *, long_at: Decimal | None = None) -> Path:
    """Create a live database, holding a long position at `long_at` when given."""
    with TradeStore.open(path, TradingMode.LIVE) as store:
        if long_at is not None:
            store.add_position(
                PositionRecord(
                    direction=Direction.LONG,
                    position_side=PositionSide.BOTH,
                    quantity=QUANTITY,
                    entry_price=long_at,
                    opened_ms=1,
                    signal_time_ms=1,
                    entry_fee=Decimal(0),
                    stop_loss=None,
                    take_profit=None,
                )
            )
    return path


# ------------------------------------------------------------------------- flattening
def test_emergency_stop_with_yes_then_flat_halted_and_trade_recorded_as_manual(
    live: RunningSim, tmp_path: Path
) -> None:
    open_by_hand(live)
    database = live_database(tmp_path / "live.sqlite3", long_at=live.price())
    assert len(exchange_positions(live)) == 1
    assert len(exchange_orders(live)) == 2

    result = invoke("emergency-stop", "--yes", "--database", database)

    assert result.exit_code == 0, result.output
    assert "EMERGENCY STOP on CUSTOM" in result.output
    assert live.base_url in result.output
    assert "(yes/no)" not in result.output
    assert f"closed       long {QUANTITY} @ " in result.output
    # The exits stayed until the close filled; the exchange then dropped them itself.
    assert "cancelled    stop_market" not in result.output
    assert "account flat: confirmed" in result.output
    assert "elapsed " in result.output
    assert exchange_positions(live) == []
    assert exchange_orders(live) == []
    with TradeStore.open_read_only(database) as store:
        assert store.breakers()[BreakerName.MANUAL_HALT.value].tripped
        assert store.open_positions() == []
        (trade,) = store.trades()
        (exit_order,) = store.orders()
        fills = store.fills(exit_order.client_order_id)
    assert trade.exit_reason is ExitReason.MANUAL
    assert trade.quantity == QUANTITY
    assert trade.exit_price == live.price()
    assert exit_order.purpose is OrderPurpose.EXIT
    assert exit_order.client_order_id.startswith("adxl-es")
    assert exit_order.status is OrderStatus.FILLED
    assert exit_order.reason == "manual"
    assert exit_order.reduce_only
    assert [f.quantity for f in fills] == [QUANTITY]


def test_emergency_stop_when_flat_already_then_confirms_flat_and_halts(
    live: RunningSim, tmp_path: Path
) -> None:
    database = live_database(tmp_path / "live.sqlite3")

    result = invoke("emergency-stop", "--yes", "--database", database)

    assert result.exit_code == 0, result.output
    assert "cancelled    no open orders" in result.output
    assert "account flat: confirmed" in result.output
    with TradeStore.open_read_only(database) as store:
        assert store.breakers()[BreakerName.MANUAL_HALT.value].tripped
        assert store.trades() == []


def test_emergency_stop_in_hedge_mode_then_closes_both_sides_on_their_position_sides(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hedge_sim: RunningSim
) -> None:
    point_at(monkeypatch, tmp_path, hedge_sim)
    open_by_hand(hedge_sim, "BUY", "LONG")
    open_by_hand(hedge_sim, "SELL", "SHORT")
    assert len(exchange_positions(hedge_sim)) == 2

    result = invoke("emergency-stop", "--yes", "--database", tmp_path / "absent.sqlite3")

    assert result.exit_code == 0, result.output
    assert "no live database at" in result.output
    assert f"closed       long {QUANTITY}" in result.output
    assert f"closed       short {QUANTITY}" in result.output
    assert "BingX's close-all" not in result.output
    assert "account flat: confirmed" in result.output
    assert exchange_positions(hedge_sim) == []
    assert exchange_orders(hedge_sim) == []
    assert not (tmp_path / "absent.sqlite3").exists()


def test_emergency_stop_run_twice_on_a_standing_clock_then_each_closes_with_its_own_order(
    live: RunningSim, tmp_path: Path
) -> None:
    # The simulator's clock stands still: a client id made of its time alone would repeat,
    # and BingX answers a reused id with the old (filled) order instead of a new one.
    for run in range(3):
        open_by_hand(live)

        result = invoke("emergency-stop", "--yes", "--timeout", "2", "--database", tmp_path / "x")

        assert result.exit_code == 0, (run, result.output)
        assert "BingX's close-all" not in result.output, (run, result.output)
        assert exchange_positions(live) == []


def test_emergency_stop_when_its_close_is_rejected_then_close_all_flattens(
    live: RunningSim, tmp_path: Path
) -> None:
    open_by_hand(live)
    live.admin("orders/reject", {"count": 1})

    result = invoke("emergency-stop", "--yes", "--database", tmp_path / "absent.sqlite3")

    assert result.exit_code == 0, result.output
    assert "closing long 0.01 failed" in result.output
    assert "closed       the rest with BingX's close-all" in result.output
    assert "account flat: confirmed" in result.output
    assert exchange_positions(live) == []


def test_emergency_stop_when_nothing_closes_the_position_then_fails_loudly_and_keeps_its_exits(
    live: RunningSim, tmp_path: Path
) -> None:
    open_by_hand(live)
    live.admin("orders/reject", {"count": 1})
    live.admin("closes/fail", {"count": 1})

    result = invoke(
        "emergency-stop", "--yes", "--timeout", "0.3", "--database", tmp_path / "none.sqlite3"
    )

    assert result.exit_code == 1, result.output
    assert "BingX's close-all failed" in result.output
    assert f"ACCOUNT NOT CONFIRMED FLAT: positions long {QUANTITY}, open orders 2" in (
        result.output
    )
    assert "left on the exchange to protect them" in result.output
    assert "account flat: confirmed" not in result.output
    assert len(exchange_positions(live)) == 1
    # The close failed, so the stop-loss and take-profit still protect the position.
    assert sorted(o["type"] for o in exchange_orders(live)) == [
        "STOP_MARKET",
        "TAKE_PROFIT_MARKET",
    ]


# ------------------------------------------------------------------------- the database
def test_emergency_stop_when_database_is_garbage_then_still_flattens(
    live: RunningSim, tmp_path: Path
) -> None:
    open_by_hand(live)
    garbage = tmp_path / "live.sqlite3"
    garbage.write_bytes(b"this is not a database, it is a shopping list\n" * 100)

    result = invoke("emergency-stop", "--yes", "--database", garbage)

    assert result.exit_code == 0, result.output
    assert "the database is unavailable" in result.output
    assert "account flat: confirmed" in result.output
    assert exchange_positions(live) == []
    assert exchange_orders(live) == []
    assert garbage.read_bytes().startswith(b"this is not a database")


def test_emergency_stop_while_a_bot_runs_then_leaves_the_record_to_it_which_says_manual(
    live: RunningSim, tmp_path: Path
) -> None:
    from adxbot.bot.instance_lock import InstanceLock

    open_by_hand(live)
    database = live_database(tmp_path / "live.sqlite3", long_at=live.price())
    with InstanceLock(database):  # the running bot's lock
        result = invoke("emergency-stop", "--yes", "--database", database)

    assert result.exit_code == 0, result.output
    assert "a bot is running on it" in result.output
    assert "left to the running bot" in result.output
    assert exchange_positions(live) == []
    with TradeStore.open(database, TradingMode.LIVE) as store:
        assert store.trades() == []
        assert store.breakers()[BreakerName.MANUAL_HALT.value].tripped
        (exit_order,) = store.orders()
        assert exit_order.position_id == store.open_positions()[0].position_id
        # The running bot's next look at the exchange records the trade, as manual.
        closed = asyncio.run(_bot_notices_vanished(store))
    assert [t.exit_reason for t in closed] == [ExitReason.MANUAL]
    assert closed[0].exit_price == live.price()


async def _bot_notices_vanished(store: TradeStore) -> list[Any]:
    config = BotConfig()
    async with httpx.AsyncClient() as http:
        client = BingXClient(
            http,
            str(_base_url()),
            ServerClock(WallClock()),
            Credentials(DEFAULT_API_KEY, SecretStr(DEFAULT_API_SECRET)),
        )
        await client.sync_time()
        breakers = CircuitBreakers(RiskLimits.from_config(config), store, client.clock)
        contract = await client.contract(config.symbol)
        trader = LiveTrader(
            config,
            store,
            RiskManager(config, breakers),
            client,
            client.clock,
            AccountSetup(contract.instrument, PositionMode.ONE_WAY),
        )
        return await trader._record_vanished(await client.get_all_positions(config.symbol))


def _base_url() -> str:
    import os

    return os.environ["BINGX_BASE_URL"]


# ------------------------------------------------------------------------- refusals
def test_emergency_stop_when_operator_answers_no_then_nothing_changes(
    live: RunningSim, tmp_path: Path
) -> None:
    open_by_hand(live)
    database = live_database(tmp_path / "live.sqlite3", long_at=live.price())

    result = invoke("emergency-stop", "--database", database, input="no\n")

    assert result.exit_code == 1, result.output
    assert "Close ALL positions and cancel all orders on CUSTOM BTC-USDT? (yes/no)" in (
        result.output
    )
    assert "nothing was done" in result.output
    assert len(exchange_positions(live)) == 1
    assert len(exchange_orders(live)) == 2
    with TradeStore.open_read_only(database) as store:
        assert not store.breakers().get(BreakerName.MANUAL_HALT.value, _untripped()).tripped
        assert store.orders() == []


def test_emergency_stop_when_operator_types_yes_then_flattens(
    live: RunningSim, tmp_path: Path
) -> None:
    open_by_hand(live)

    result = invoke("emergency-stop", "--database", tmp_path / "none.sqlite3", input="yes\n")

    assert result.exit_code == 0, result.output
    assert "account flat: confirmed" in result.output
    assert exchange_positions(live) == []


def test_emergency_stop_without_credentials_then_exits_2_naming_the_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BINGX_API_KEY", raising=False)
    monkeypatch.delenv("BINGX_API_SECRET", raising=False)
    monkeypatch.setenv("BINGX_BASE_URL", "http://127.0.0.1:9")

    with pytest.raises(SystemExit) as exit_info:
        main(["emergency-stop", "--yes"])

    assert exit_info.value.code == 2
    assert "BINGX_API_KEY" in capsys.readouterr().err


def _untripped() -> Any:
    from adxbot.persistence.records import BreakerRecord

    return BreakerRecord(BreakerName.MANUAL_HALT.value, False, "", 0)
