"""Simulator speed over loopback: signed order round trips per second, and start-up time.

Run: uv run python benchmarks/bench_sim.py [--requests 4000] [--startups 5]

(a) Starts `python -m adxbot sim --port 0 --no-rate-limits --balance 1000000000` as a
    separate process (the port is read from its first output line), measures the offset
    between the simulator's clock and ours from `/server/time` (the simulator replays a
    past market and checks `timestamp` against its own clock), then sends signed requests
    (keys sorted and HMAC-SHA256-signed as ccxt does) over keep-alive connections of
    `httpx.AsyncClient`, `--requests` per scenario:
    * place order: `POST /openApi/swap/v2/trade/order`, market BUY and SELL of 0.001 BTC
      alternately (so the position stays within a few lots);
    * query order: `GET /openApi/swap/v2/trade/order` by `orderId` of a placed order;
    each from 1 worker, from 8 workers sharing one client (a pool of 8 connections), and
    from 8 workers with a client (one connection) each.  Every answer must carry `code` 0.
    Reports requests/s (requests / wall time), the p50/p99 round trip, and, on Linux, the
    simulator process's CPU time per request (from /proc), i.e. what the simulator itself
    costs; 1 / that is its capacity on one core.  Target: >= 1,000 signed order round
    trips per second.
(b) Start-up: the time from launching `python -m adxbot sim --port <free port>` to its first
    successful `GET /openApi/swap/v2/server/time` answer (polled every 5 ms); median of
    `--startups` launches.

The client is pure Python too and, on a small machine, costs more CPU per request than the
simulator; the CPU column separates the two.  Two client-side costs are avoided on purpose:
* httpcore retries `import sniffio` on every lock it creates when sniffio is not installed
  (anyio >= 4.11 no longer pulls it in; encode/httpcore#1103), which took ~30 % of the
  client's CPU; the benchmark marks the module absent once, so the failed import is cheap.
* httpcore checks every idle pooled connection on each request, so one client shared by
  8 workers costs more than 8 single-connection clients; both are measured.
"""

from __future__ import annotations

import importlib.util
import sys

if importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]  # a cheap failed import: see above

import argparse
import asyncio
import hashlib
import hmac
import itertools
import os
import re
import socket
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from adxbot.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET

SYMBOL = "BTC-USDT"
QUANTITY = "0.001"
SIM_COMMAND = [sys.executable, "-m", "adxbot", "sim"]
SERVE_ARGS = ["--no-rate-limits", "--balance", "1000000000"]
_URL_LINE = re.compile(r"http://(?P<host>[\d.]+):(?P<port>\d+)")

Call = Callable[[httpx.AsyncClient, int], Awaitable[dict[str, object]]]


@dataclass(frozen=True, slots=True)
class Result:
    """One measured scenario."""

    request: str
    clients: str
    workers: int
    seconds: float
    latencies: list[float]
    errors: int
    server_cpu_s: float | None

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def server_ms(self) -> str:
        if self.server_cpu_s is None:
            return "n/a"
        return f"{1000 * self.server_cpu_s / len(self.latencies):.3f}"


class CpuMeter:
    """Reads a process's CPU time (user + system) from /proc; None where there is no /proc."""

    def __init__(self, pid: int) -> None:
        self._stat = Path(f"/proc/{pid}/stat")
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def seconds(self) -> float | None:
        try:
            fields = self._stat.read_text().rpartition(")")[2].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / self._tick


class Signer:
    """Signs requests as ccxt does: keys sorted, HMAC-SHA256 of the raw query string."""

    def __init__(self, offset_ms: int) -> None:
        self.offset_ms = offset_ms

    def url(self, path: str, params: dict[str, str]) -> str:
        params = {**params, "timestamp": str(time.time_ns() // 1_000_000 + self.offset_ms)}
        payload = "&".join(f"{k}={params[k]}" for k in sorted(params))
        signature = hmac.new(
            DEFAULT_API_SECRET.encode(), payload.encode(), hashlib.sha256
        ).hexdigest()
        return f"{path}?{payload}&signature={signature}"


HEADERS = {"X-BX-APIKEY": DEFAULT_API_KEY}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def launch(port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*SIM_COMMAND, "--port", str(port), *SERVE_ARGS],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def read_base_url(process: subprocess.Popen[str]) -> str:
    """Return the URL the simulator announces on its first output line."""
    assert process.stdout is not None
    line = process.stdout.readline()
    match = _URL_LINE.search(line)
    if match is None:
        stop(process)
        sys.exit(f"unexpected first line from the simulator: {line!r}")
    return f"http://{match['host']}:{match['port']}"


async def server_offset_ms(http: httpx.AsyncClient) -> int:
    """Return the simulator's clock minus ours (the mitigation of spec §6)."""
    before = time.time_ns() // 1_000_000
    body = (await http.get("/openApi/swap/v2/server/time")).json()
    after = time.time_ns() // 1_000_000
    server: int = body["data"]["serverTime"]
    return server - (before + after) // 2


class Bench:
    """Scenarios against one running simulator."""

    def __init__(self, base_url: str, meter: CpuMeter, requests: int) -> None:
        self.base_url = base_url
        self.meter = meter
        self.requests = requests
        self.signer = Signer(0)
        self.order_ids: list[str] = []

    def client(self, connections: int) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        return httpx.AsyncClient(base_url=self.base_url, limits=limits, timeout=30)

    async def place(self, http: httpx.AsyncClient, n: int) -> dict[str, object]:
        params = {
            "symbol": SYMBOL,
            "side": "BUY" if n % 2 == 0 else "SELL",
            "positionSide": "BOTH",
            "type": "MARKET",
            "quantity": QUANTITY,
        }
        url = self.signer.url("/openApi/swap/v2/trade/order", params)
        body: dict[str, object] = (await http.post(url, headers=HEADERS)).json()
        data = body.get("data")
        if isinstance(data, dict) and len(self.order_ids) < 1000:
            self.order_ids.append(str(data["order"]["orderId"]))
        return body

    async def query(self, http: httpx.AsyncClient, n: int) -> dict[str, object]:
        params = {"symbol": SYMBOL, "orderId": self.order_ids[n % len(self.order_ids)]}
        url = self.signer.url("/openApi/swap/v2/trade/order", params)
        body: dict[str, object] = (await http.get(url, headers=HEADERS)).json()
        return body

    async def measure(self, request: str, call: Call, workers: int, shared: bool) -> Result:
        """Send `requests` calls from `workers` concurrent workers; time each one."""
        clients = [self.client(workers)] if shared else [self.client(1) for _ in range(workers)]
        counter = itertools.count()
        latencies: list[float] = []
        errors = 0

        async def worker(http: httpx.AsyncClient) -> None:
            nonlocal errors
            while (n := next(counter)) < self.requests:
                started = time.perf_counter()
                body = await call(http, n)
                latencies.append(time.perf_counter() - started)
                if body.get("code") != 0:
                    errors += 1
                    if errors == 1:
                        print(f"  first error ({request}): {body}")

        for http in clients:  # open the connections before the clock starts
            await asyncio.gather(*(http.get("/openApi/swap/v2/server/time") for _ in range(1)))
        cpu_before = self.meter.seconds()
        started = time.perf_counter()
        await asyncio.gather(*(worker(clients[i % len(clients)]) for i in range(workers)))
        seconds = time.perf_counter() - started
        cpu_after = self.meter.seconds()
        for http in clients:
            await http.aclose()
        cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
        label = "1" if workers == 1 else "1 shared" if shared else f"{workers}, 1 each"
        return Result(request, label, workers, seconds, latencies, errors, cpu)

    async def run(self) -> list[Result]:
        async with self.client(1) as http:
            self.signer = Signer(await server_offset_ms(http))
        await self.measure("warm-up", self.place, 8, shared=False)
        results = []
        for call, name in ((self.place, "place order"), (self.query, "query order")):
            for workers, shared in ((1, True), (8, True), (8, False)):
                results.append(await self.measure(name, call, workers, shared))
        return results


def startup_seconds() -> float:
    """Launch a simulator; return the seconds until `/server/time` first answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/openApi/swap/v2/server/time"
    started = time.perf_counter()
    process = launch(port)
    try:
        with httpx.Client(timeout=1) as http:
            while True:
                try:
                    if http.get(url).json().get("code") == 0:
                        return time.perf_counter() - started
                except httpx.TransportError:
                    pass
                if process.poll() is not None:
                    sys.exit(f"the simulator exited with code {process.returncode}")
                if time.perf_counter() - started > 60:
                    sys.exit("the simulator did not answer within 60 s")
                time.sleep(0.005)
    finally:
        stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=4000, help="requests per scenario")
    parser.add_argument("--startups", type=int, default=5, help="simulator launches to time")
    args = parser.parse_args()

    process = launch(0)
    try:
        base_url = read_base_url(process)
        bench = Bench(base_url, CpuMeter(process.pid), args.requests)
        results = asyncio.run(bench.run())
    finally:
        stop(process)

    print(f"signed round trips over loopback, {args.requests} requests per row ({base_url})")
    print(
        f"{'request':<13}{'workers':>8}  {'clients':<11}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'sim CPU ms/req':>16}{'errors':>8}"
    )
    for r in results:
        print(
            f"{r.request:<13}{r.workers:>8}  {r.clients:<11}{r.per_second:>8,.0f}"
            f"{r.percentile_ms(0.50):>9.2f}{r.percentile_ms(0.99):>9.2f}"
            f"{r.server_ms:>16}{r.errors:>8}"
        )

    startups = [startup_seconds() for _ in range(args.startups)]
    print(
        f"start-up to first /server/time answer: median {statistics.median(startups):.2f} s"
        f"   (min {min(startups):.2f}, max {max(startups):.2f}, n={len(startups)})"
    )
    best = max(r.per_second for r in results if r.request == "place order")
    verdict = "meets" if best >= 1000 else "misses"
    print(f"best signed order round trips: {best:,.0f}/s ({verdict} the 1,000/s target)")


if __name__ == "__main__":
    main()
