#!/usr/bin/env bash
# Set up adxbot and run the offline demo: a backtest of the bundled real BTC-USDT candles.
# Needs only Python 3.11+ and pip; installs uv itself. No keys, no network after setup.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -m uv --version >/dev/null 2>&1; then
  echo "installing uv with pip..."
  python3 -m pip install --quiet --disable-pip-version-check uv
fi
python3 -m uv sync --locked --quiet
mkdir -p out
python3 -m uv run --locked adxbot backtest \
  --trades-out out/trades.csv --summary-out out/summary.json --report out/report.html "$@"
echo "open out/report.html in a browser for the charts"
