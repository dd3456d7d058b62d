"""`adxbot dashboard`: the operator's web view of a running bot.

A separate process that reads the bot's trade database (read-only; WAL lets it in while
the bot writes) and the exchange's public market data, so a dashboard problem can never
stop trading.  It writes only through its two actions, the emergency stop and the
breaker reset, each behind a login, a confirmation and a CSRF token, and each recorded as
an event.

- `settings`  resolves the options: config, CLI overrides, the password (a secret).
- `security`  sessions, CSRF, the login rate limit, the security headers and the gate
  that refuses every unauthenticated request.
- `reader`    queries over the database (the status core of `adxbot status`, reused).
- `market`    candles with ADX/DI and the exchange's view of the account, cached.
- `actions`   the emergency stop and the breaker reset (the CLI's cores).
- `api`, `pages`, `html`, `static/`  the JSON API, the HTML pages and their assets.
- `app`       `create_app(options)`: the FastAPI application; nothing is built at import.
- `server`    serving it with uvicorn (the command, tests, a background thread).
"""
