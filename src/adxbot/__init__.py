"""adxbot: a safety-first trading bot for BingX USDT-M perpetual futures."""

__version__ = "0.1.0"
