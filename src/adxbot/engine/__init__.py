"""The matching engine: orders, fills, fees, slippage, triggers, positions and margin.

One engine serves backtests, paper mode and the exchange simulator, so they never drift.
"""
