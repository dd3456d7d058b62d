"""Backtest speed on the 14-month real file: in-process phases and the whole CLI process.

Run: uv run python benchmarks/bench_backtest.py [--runs 7] [--data PATH]
Prints the median (and min/max) of several runs of each phase.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from adxbot.backtest.runner import Backtester
from adxbot.config import BotConfig
from adxbot.domain.candles import CandleSeries
from adxbot.market.candle_file import load_candle_csv
from adxbot.strategy.factory import build_strategy

DEFAULT_DATA = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "btcusdt_perp_binance_5m_20241231_20260219.csv.gz"
)


def timed(runs: int, action: Callable[[], object]) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def report(name: str, times: list[float]) -> None:
    median = statistics.median(times)
    print(
        f"{name:<44} median {median * 1000:8.1f} ms"
        f"   (min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}, n={len(times)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"{args.data} not found: pass --data")

    config = BotConfig()
    strategy = build_strategy(config.strategy)
    candles: CandleSeries = load_candle_csv(args.data)
    print(f"{args.data.name}: {len(candles):,} candles, default config")

    report("load candle file", timed(args.runs, lambda: load_candle_csv(args.data)))
    report(
        "strategy signals (indicators + rules)", timed(args.runs, lambda: strategy.signals(candles))
    )
    backtester = Backtester(config, strategy)
    report(
        "backtest in process (signals + simulation)",
        timed(args.runs, lambda: backtester.run(candles)),
    )
    oracle = Backtester(config, strategy, visit_every_candle=True)
    report("  same, visiting every candle (reference)", timed(3, lambda: oracle.run(candles)))

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        command = [
            sys.executable,
            "-m",
            "adxbot",
            "backtest",
            "--data",
            str(args.data),
            "--trades-out",
            str(out / "t.csv"),
            "--summary-out",
            str(out / "s.json"),
        ]
        whole = timed(
            max(3, args.runs // 2),
            lambda: subprocess.run(command, check=True, capture_output=True),
        )
        report("whole process: adxbot backtest --data FILE", whole)


if __name__ == "__main__":
    main()
