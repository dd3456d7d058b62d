"""The simulator fills the backtest's trades at the backtest's prices: one engine, one path.

Every trade of a backtest on the bundled sample is replayed through the simulator's
exchange (in process, stepped clock, the backtest's 2 bps slippage and no funding): a
market entry at the candle the backtest entered on, the same stop-loss and take-profit
as resting close-position orders, then the clock runs to the candle it left on.
The only inherent difference: inside a candle that touches both levels the backtest
assumes the stop fills first, the simulator follows its open-low-high-close path.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from adxbot.backtest.runner import Backtester
from adxbot.config import BotConfig
from adxbot.domain.candles import CandleSeries
from adxbot.domain.enums import Direction, ExitReason
from adxbot.market.candle_file import bundled_sample_path
from adxbot.risk.levels import protective_levels
from adxbot.sim import DEFAULT_API_KEY
from adxbot.sim.params import Params
from adxbot.sim.server import SimOptions, build_simulator
from adxbot.strategy.factory import build_strategy


def test_backtest_trades_when_replayed_in_simulator_then_same_fill_prices(
    sample_candles: CandleSeries,
) -> None:
    config = BotConfig()
    trades = Backtester(config, build_strategy(config.strategy)).run(sample_candles).trades
    options = SimOptions(
        data=bundled_sample_path(),
        speed=0,
        start_ms=trades[0].entry_time_ms,
        slippage_bps=Decimal(2),
        funding_rate=Decimal(0),
        balance=Decimal(1_000_000),
    )
    simulator = build_simulator(options)
    exchange = simulator.exchange
    account = exchange.account(DEFAULT_API_KEY)
    clock = exchange.market.clock
    timeframe = exchange.market.timeframe_ms
    compared = both_touched = 0
    for trade in trades:
        if trade.exit_reason is ExitReason.END_OF_DATA:
            continue
        clock.step(trade.entry_time_ms - clock.now_ms())
        exchange.sync()
        entry = exchange.place_order(
            account,
            Params(
                {
                    "symbol": "BTC-USDT",
                    "side": "BUY" if trade.direction is Direction.LONG else "SELL",
                    "type": "MARKET",
                    "quantity": str(trade.quantity),
                }
            ),
        )
        assert entry.average_price == trade.entry_price
        levels = protective_levels(
            entry.average_price,
            trade.direction,
            config.exit_strategy.stop_loss_percent,
            config.exit_strategy.take_profit_percent,
            exchange.instrument,
        )
        exit_side = "SELL" if trade.direction is Direction.LONG else "BUY"
        for kind, level in (
            ("STOP_MARKET", levels.stop_loss),
            ("TAKE_PROFIT_MARKET", levels.take_profit),
        ):
            exchange.place_order(
                account,
                Params(
                    {
                        "symbol": "BTC-USDT",
                        "side": exit_side,
                        "type": kind,
                        "stopPrice": str(level),
                        "closePosition": "true",
                    }
                ),
            )
        clock.step(trade.exit_time_ms + timeframe - clock.now_ms())
        exchange.sync()
        assert account.engine.positions() == [], f"trade entered {trade.entry_time_ms} still open"
        assert account.engine.open_orders() == []
        exit_fill = account.fills[-1].fill
        bar = sample_candles.bar(trade.exit_index)
        if bar.low <= levels.stop_loss <= bar.high and bar.low <= levels.take_profit <= bar.high:
            both_touched += 1
            continue
        assert exit_fill.price == trade.exit_price, (
            f"exit of the trade entered {trade.entry_time_ms}"
        )
        compared += 1
    assert compared >= 60
    assert both_touched <= 2
    print(f"compared {compared} trades, {both_touched} with both levels in one candle")


@pytest.mark.parametrize("speed", [0])
def test_simulator_options_when_slippage_set_then_taker_fills_slip(speed: float) -> None:
    simulator = build_simulator(SimOptions(speed=speed, slippage_bps=Decimal(10)))
    exchange = simulator.exchange
    account = exchange.account(DEFAULT_API_KEY)
    last = exchange.market.last_price()
    order = exchange.place_order(
        account,
        Params({"symbol": "BTC-USDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}),
    )
    expected = exchange.instrument.taker_price(last * Decimal("1.001"), order.request.side)
    assert order.average_price == expected
