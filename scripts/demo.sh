#!/usr/bin/env bash
# Set up adxbot and run the offline demo: the paper bot trading the bundled real BTC-USDT
# candles against the local BingX simulator. Needs only Python 3.11+ and pip; installs uv
# itself. No keys, no network after setup. Extra arguments go to `adxbot demo`.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -m uv --version >/dev/null 2>&1; then
  echo "installing uv with pip..."
  python3 -m pip install --quiet --disable-pip-version-check uv
fi
python3 -m uv sync --locked --quiet
python3 -m uv run --locked adxbot demo "$@"
