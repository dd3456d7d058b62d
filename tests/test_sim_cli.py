"""`adxbot sim` and `adxbot sim-ctl` as real processes on a random loopback port."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture
def sim_process() -> Iterator[str]:
    command = [sys.executable, "-m", "adxbot", "sim", "--port", "0", "--speed", "0"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            match = re.search(r"http://127\.0\.0\.1:(\d+)", first)
            assert match, f"no URL in the first line: {first!r}"
            yield match.group(0)
        finally:
            process.terminate()
            process.wait(timeout=10)


def ctl(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adxbot", "sim-ctl", args[0], "--url", url, *args[1:]],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_sim_when_started_then_serves_bingx_time_and_contracts_on_loopback(
    sim_process: str,
) -> None:
    time = httpx.get(f"{sim_process}/openApi/swap/v2/server/time").json()
    assert time["code"] == 0
    assert time["data"]["serverTime"] > 1_700_000_000_000
    contracts = httpx.get(f"{sim_process}/openApi/swap/v2/quote/contracts").json()
    assert contracts["data"][0]["symbol"] == "BTC-USDT"


def test_sim_ctl_when_stepping_and_jumping_then_clock_and_price_move(sim_process: str) -> None:
    before = json.loads(ctl(sim_process, "state").stdout)
    stepped = ctl(sim_process, "step", "300000")
    assert stepped.returncode == 0, stepped.stderr
    assert json.loads(stepped.stdout)["time_ms"] == before["time_ms"] + 300_000
    price = float(json.loads(ctl(sim_process, "state").stdout)["price"])
    jumped = json.loads(ctl(sim_process, "jump", "--", "-10").stdout)
    assert float(jumped["price"]) == pytest.approx(price * 0.9, abs=0.1)


def test_sim_ctl_when_rejecting_orders_then_state_shows_it(sim_process: str) -> None:
    assert ctl(sim_process, "reject-orders", "2", "--code", "101204").returncode == 0
    state = json.loads(ctl(sim_process, "state").stdout)
    assert state["order_faults"]["reject_orders"] == 2
    assert ctl(sim_process, "reset").returncode == 0
    assert json.loads(ctl(sim_process, "state").stdout)["order_faults"]["reject_orders"] == 0


def test_sim_ctl_when_simulator_unreachable_then_exit_1_naming_the_url() -> None:
    result = ctl("http://127.0.0.1:9", "state")
    assert result.returncode == 1
    assert "cannot reach the simulator at http://127.0.0.1:9" in result.stderr


def test_sim_when_fault_rate_malformed_then_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "adxbot", "sim", "--port", "0", "--fault-rate", "meteor=0.5"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "meteor=0.5" in result.stdout + result.stderr
