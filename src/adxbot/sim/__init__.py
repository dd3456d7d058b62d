"""`adxbot sim`: a local exchange that speaks BingX's USDT-M perpetual swap REST API.

It runs the project's matching engine behind BingX's paths, parameters, signatures,
response envelopes and error codes, on a replayed or synthetic market, with an
accelerated clock and fault injection, so live-trading code can be rehearsed on loopback.
"""
