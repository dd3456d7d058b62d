#!/usr/bin/env bash
# Set up everything the tests need, then run lint, format check, type check and the tests.
# Needs only Python 3.11+ and pip; installs uv (the project manager) itself.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -m uv --version >/dev/null 2>&1; then
  echo "installing uv with pip..."
  python3 -m pip install --quiet --disable-pip-version-check uv
fi
uv() { python3 -m uv "$@"; }

# The dashboard's browser tests drive Debian's Chromium (never a downloaded browser).
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Chromium (Debian's package) for the dashboard's browser tests..."
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null; }; then
    echo "warning: Chromium could not be installed; the browser tests will be skipped" >&2
  fi
fi

uv sync --locked --quiet
uv run --locked ruff check .
uv run --locked ruff format --check .
uv run --locked mypy
uv run --locked pytest "$@"
