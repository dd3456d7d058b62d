"""A running paper bot between candles: resident memory, CPU share and requests per minute.

Run: uv run python benchmarks/bench_paper_bot.py [--minutes 11]

Serves the exchange simulator from this process at real speed (x1: a 5-minute candle
takes 5 minutes), replaying the bundled candles with 1,000 candles of history before
"now", and starts `python -m adxbot run --mode paper` as a separate process pointed at it
with BINGX_BASE_URL (default config: 1,000 candles of history, heartbeat every 10 s, a
fresh database in a temporary directory).  Once the bot reports "running" in its database
and has had 30 s to settle, the benchmark measures for `--minutes` (default 11, so at
least two candle closes fall inside):

* resident memory (VmRSS from /proc/PID/status), sampled every second: median and peak;
* CPU: the bot process's user+system time (from /proc/PID/stat) over the window, as a
  share of one core, for the whole window and for the quiet stretches between candles
  (each one-second sample whose CPU time was spent with no candle closing near it);
* requests per minute the bot made (counted by the simulator's request counter; nothing
  else talks to it).

Targets (issue 5): <= 120 MB, <= 0.5 % of a core, <= 30 requests/min.  Linux only.
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from adxbot.market.candle_file import bundled_sample_path, load_candle_csv
from adxbot.persistence.store import TradeStore
from adxbot.sim.server import SimOptions, SimulatorThread, build_simulator

TIMEFRAME_MS = 300_000
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """Return the user + system CPU time of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    """Return the resident set size of a process in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS line")


def wait_running(database: Path, timeout_s: float = 60) -> None:
    """Wait until the bot has written status=running."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if database.exists():
            try:
                with TradeStore.open_read_only(database) as store:
                    if store.info("status") == "running":
                        return
            except Exception:  # not initialised yet
                pass
        time.sleep(0.2)
    raise RuntimeError("the bot did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=11.0)
    args = parser.parse_args()

    candles = load_candle_csv(bundled_sample_path())
    start = int(candles.open_time_ms[0]) + 1001 * TIMEFRAME_MS + 60_000  # 1 min into a candle
    simulator = build_simulator(SimOptions(speed=1.0, start_ms=start, rate_limits=True))
    with tempfile.TemporaryDirectory() as tmp, SimulatorThread(simulator) as sim:
        database = Path(tmp) / "paper.sqlite3"
        env = {**os.environ, "BINGX_BASE_URL": sim.base_url}
        command = [sys.executable, "-m", "adxbot", "run", "--mode", "paper"]
        bot = subprocess.Popen(
            [*command, "--database", str(database)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_running(database)
            time.sleep(30)
            market = simulator.exchange.market
            window_s = args.minutes * 60
            requests_before = simulator.faults.requests
            cpu_before = cpu_seconds(bot.pid)
            started = time.monotonic()
            samples: list[tuple[float, float, int]] = []  # (cpu s, rss MB, market ms)
            while time.monotonic() - started < window_s:
                time.sleep(1.0)
                samples.append((cpu_seconds(bot.pid), rss_mb(bot.pid), market.now_ms()))
            elapsed = time.monotonic() - started
            requests = simulator.faults.requests - requests_before
            cpu = cpu_seconds(bot.pid) - cpu_before
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(timeout=30)

    quiet: list[float] = []
    for (cpu_a, _, ms_a), (cpu_b, _, ms_b) in itertools.pairwise(samples):
        near_close = (ms_a // TIMEFRAME_MS != ms_b // TIMEFRAME_MS) or (ms_b % TIMEFRAME_MS < 5_000)
        if not near_close:
            quiet.append(cpu_b - cpu_a)
    closes = samples[-1][2] // TIMEFRAME_MS - samples[0][2] // TIMEFRAME_MS
    rss = [s[1] for s in samples]
    print(f"window: {elapsed:.0f} s of real (and market) time, {closes} candle closes")
    print(f"resident memory: median {statistics.median(rss):.1f} MB, peak {max(rss):.1f} MB")
    print(f"CPU over the whole window: {100 * cpu / elapsed:.3f} % of one core")
    if quiet:
        share = 100 * sum(quiet) / len(quiet)
        print(f"CPU between candles ({len(quiet)} one-second samples): {share:.3f} % of one core")
    per_minute = requests / (elapsed / 60)
    print(f"requests: {requests} in {elapsed / 60:.1f} min = {per_minute:.2f} per minute")


if __name__ == "__main__":
    main()
