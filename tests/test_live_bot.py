"""The live bot end to end against the simulator: real orders over loopback HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path

from adxbot.domain.enums import OrderStatus
from adxbot.persistence.records import OrderPurpose
from adxbot.persistence.store import TradeStore
from bot_support import NO_BREAKERS, bot_simulator, config_with, run_live_bot_until
from sim_support import serve

SPEED = 30_000.0  # a 5-minute candle every 10 ms


def test_live_bot_when_trading_then_every_position_protected_and_records_match_exchange(
    tmp_path: Path,
) -> None:
    config = config_with(NO_BREAKERS)
    database = tmp_path / "live.sqlite3"
    with serve(bot_simulator(SPEED, funding_rate=0)) as sim:
        summary = asyncio.run(
            run_live_bot_until(
                config,
                sim.base_url,
                database,
                lambda store: store.trade_count() >= 2,
                speed=SPEED,
            )
        )
        account = sim.account_state()

    assert summary.errors == 0
    with TradeStore.open_read_only(database) as store:
        trades = store.trades()
        orders = store.orders()
        open_positions = store.open_positions()
    entries = [o for o in orders if o.purpose is OrderPurpose.ENTRY]
    stops = [o for o in orders if o.purpose is OrderPurpose.STOP_LOSS]
    takes = [o for o in orders if o.purpose is OrderPurpose.TAKE_PROFIT]
    assert len(trades) >= 2
    assert all(o.status is not OrderStatus.NEW or o.exchange_order_id for o in orders)
    # Every filled entry got both protective orders on the exchange.
    filled_entries = [o for o in entries if o.status is OrderStatus.FILLED]
    assert len(stops) >= len(filled_entries)
    assert len(takes) >= len(filled_entries)
    # The database agrees with the exchange: same number of open positions.
    held = [p for p in account["positions"] if float(p["positionAmt"]) != 0]
    assert len(held) == len(open_positions)
