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

uv sync --locked --quiet
uv run --locked ruff check .
uv run --locked ruff format --check .
uv run --locked mypy
uv run --locked pytest "$@"
