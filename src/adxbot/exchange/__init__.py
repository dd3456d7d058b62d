"""The BingX client: the only code in adxbot that knows BingX's wire format.

It turns BingX answers into the project's domain types and BingX failures into the
project's error tree (`adxbot.exchange.errors`), sorted by what the caller must do.
"""
