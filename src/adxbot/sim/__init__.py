"""`adxbot sim`: a local exchange that speaks BingX's USDT-M perpetual swap REST API.

It runs the project's matching engine behind BingX's paths, parameters, signatures,
response envelopes and error codes, on a replayed or synthetic market, with an
accelerated clock and fault injection, so live-trading code can be rehearsed on loopback.
"""

DEFAULT_API_KEY = "adxbot-sim-key"
"""The API key a simulator accepts unless told otherwise (a simulator credential, not BingX's)."""
DEFAULT_API_SECRET = "adxbot-sim-secret"  # noqa: S105 - a public credential of the simulator
"""Its secret."""
