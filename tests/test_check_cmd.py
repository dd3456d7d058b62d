"""`adxbot check` as an operator runs it: a real process against a served simulator.

The simulator runs in this process (`SimulatorThread`, real time, a replayed market whose
clock is in the past); `adxbot check` runs as a subprocess with `BINGX_BASE_URL` and the
keys in its environment, from an empty working directory (no stray `.env`).  A few tests
call the checks in process, on `httpx.MockTransport` where a real BingX is needed (clock
skew is judged only against BingX's own servers).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from adxbot.cli.check_cmd import (
    CheckContext,
    CheckResult,
    Verdict,
    check_server_time,
    run_checks,
)
from adxbot.clock import Clock, ManualClock, WallClock
from adxbot.config import BotConfig, ExchangeEnvironment, parse_config
from adxbot.exchange.client import PRODUCTION_URL, BingXClient
from adxbot.exchange.credentials import Credentials
from adxbot.exchange.environment import ResolvedEnvironment
from adxbot.exchange.errors import ClockSkew, IpNotWhitelisted
from adxbot.exchange.server_clock import ServerClock
from adxbot.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET
from adxbot.sim.account import ApiKey
from adxbot.sim.server import SimulatorThread, build_simulator
from sim_support import SignedClient, sim_options

WITHDRAW_KEY, WITHDRAW_SECRET = "withdraw-key-4411", "withdraw-secret-9d0c2e7a"
READONLY_KEY, READONLY_SECRET = "readonly-key-7730", "readonly-secret-51b8f3aa"
WRONG_SECRET = "wrong-secret-a8e1c9d4f2b7"
CHECK_NAMES = (
    "server time",
    "authentication",
    "balance",
    "price",
    "contract rules",
    "open positions & orders",
    "leverage",
    "margin type",
    "position mode",
    "API key permissions",
)
KEYLESS = ("server time", "price", "contract rules")


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    """A real-time simulator replaying the bundled sample, with three keys."""
    keys = [
        ApiKey(DEFAULT_API_KEY, DEFAULT_API_SECRET),
        ApiKey(WITHDRAW_KEY, WITHDRAW_SECRET, can_trade=True, can_withdraw=True),
        ApiKey(READONLY_KEY, READONLY_SECRET, can_trade=False),
    ]
    simulator = build_simulator(sim_options(speed=1.0, rate_limits=True, keys=keys))
    with SimulatorThread(simulator) as thread:
        yield thread.base_url


def check(
    cwd: Path,
    *args: str | Path,
    base_url: str | None = None,
    key: str | None = None,
    secret: str | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BINGX_") and k not in ("FORCE_COLOR", "NO_COLOR", "COLUMNS")
    }
    env.update(COLUMNS="250", PYTHONIOENCODING="utf-8")
    for name, value in (
        ("BINGX_BASE_URL", base_url),
        ("BINGX_API_KEY", key),
        ("BINGX_API_SECRET", secret),
    ):
        if value is not None:
            env[name] = value
    return subprocess.run(
        [sys.executable, "-m", "adxbot", "check", *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )


def row(output: str, name: str) -> str:
    """Return the table line of check `name` (its first line, where the mark is)."""
    for line in output.splitlines():
        if line.startswith(f"│ {name} "):
            return line
    raise AssertionError(f"no row {name!r} in:\n{output}")


def mark(output: str, name: str) -> str:
    return row(output, name).split("│")[2].strip()


def assert_never_shown(result: subprocess.CompletedProcess[str], *secrets: str) -> None:
    for secret in secrets:
        assert secret not in result.stdout
        assert secret not in result.stderr


# ------------------------------------------------------------------ against the simulator


def test_check_when_everything_in_place_then_all_green_and_exit_0(
    sim_url: str, tmp_path: Path
) -> None:
    result = check(tmp_path, base_url=sim_url, key=DEFAULT_API_KEY, secret=DEFAULT_API_SECRET)
    assert result.returncode == 0, result.stdout + result.stderr
    first = result.stdout.splitlines()[0]
    assert "CUSTOM" in first
    assert sim_url in first
    assert "BINGX_BASE_URL" in first
    for name in CHECK_NAMES:
        assert mark(result.stdout, name) == "✓", row(result.stdout, name)
    assert "not judged" in row(result.stdout, "server time")
    assert "adxb…" in result.stdout
    assert "READY for live trading on CUSTOM" in result.stdout
    assert_never_shown(result, DEFAULT_API_SECRET, DEFAULT_API_KEY)


def test_check_when_secret_wrong_then_signature_line_red_and_exit_1(
    sim_url: str, tmp_path: Path
) -> None:
    result = check(tmp_path, base_url=sim_url, key=DEFAULT_API_KEY, secret=WRONG_SECRET)
    assert result.returncode == 1
    line = row(result.stdout, "authentication")
    assert mark(result.stdout, "authentication") == "✗"
    assert "signature rejected: check BINGX_API_SECRET" in line
    assert mark(result.stdout, "balance") == "–"  # not run without authentication
    for name in KEYLESS:
        assert mark(result.stdout, name) == "✓"
    assert "NOT READY" in result.stdout
    assert_never_shown(result, WRONG_SECRET, DEFAULT_API_SECRET)


def test_check_when_key_unknown_then_key_named_as_the_cause(sim_url: str, tmp_path: Path) -> None:
    result = check(tmp_path, base_url=sim_url, key="nobody-knows-this-key", secret=WRONG_SECRET)
    assert result.returncode == 1
    assert "check BINGX_API_KEY" in row(result.stdout, "authentication")
    assert_never_shown(result, WRONG_SECRET, "nobody-knows-this-key")


def test_check_when_key_can_withdraw_then_refuses_with_exit_1(sim_url: str, tmp_path: Path) -> None:
    result = check(tmp_path, base_url=sim_url, key=WITHDRAW_KEY, secret=WITHDRAW_SECRET)
    assert result.returncode == 1
    line = row(result.stdout, "API key permissions")
    assert mark(result.stdout, "API key permissions") == "✗"
    assert "REFUSED" in line
    assert "WITHDRAW" in line
    assert "REFUSED: this API key can withdraw funds" in result.stdout
    assert_never_shown(result, WITHDRAW_SECRET, WITHDRAW_KEY)


def test_check_when_key_cannot_trade_then_warns_and_exit_1(sim_url: str, tmp_path: Path) -> None:
    result = check(tmp_path, base_url=sim_url, key=READONLY_KEY, secret=READONLY_SECRET)
    assert result.returncode == 1
    line = row(result.stdout, "API key permissions")
    assert mark(result.stdout, "API key permissions") == "!"
    assert "not trade" in line
    assert "Perpetual Futures Trading" in line  # the fix
    assert mark(result.stdout, "authentication") == "✓"
    assert "NOT READY" in result.stdout
    assert_never_shown(result, READONLY_SECRET, READONLY_KEY)


def test_check_when_no_keys_then_keyless_checks_run_and_keyed_ones_explain(
    sim_url: str, tmp_path: Path
) -> None:
    result = check(tmp_path, base_url=sim_url)
    assert result.returncode == 1
    assert "no API key" in result.stdout.splitlines()[1]
    for name in CHECK_NAMES:
        if name in KEYLESS:
            assert mark(result.stdout, name) == "✓"
        else:
            assert mark(result.stdout, name) == "✗"
            assert "set BINGX_API_KEY / BINGX_API_SECRET" in row(result.stdout, name)


def test_check_when_keys_in_config_dotenv_then_used_and_source_named(
    sim_url: str, tmp_path: Path
) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / ".env").write_text(
        f"BINGX_API_KEY={DEFAULT_API_KEY}\nBINGX_API_SECRET={DEFAULT_API_SECRET}\n"
    )
    result = check(tmp_path, base_url=sim_url)
    assert result.returncode == 0, result.stdout
    assert "from config/.env" in result.stdout.splitlines()[1]
    assert_never_shown(result, DEFAULT_API_SECRET)


def test_check_when_config_names_the_simulator_then_custom_from_the_config(
    sim_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"exchange": {"environment": "custom", "base_url": sim_url}}))
    result = check(tmp_path, "--config", config, key=DEFAULT_API_KEY, secret=DEFAULT_API_SECRET)
    assert result.returncode == 0, result.stdout
    first = result.stdout.splitlines()[0]
    assert "CUSTOM" in first
    assert "config exchange.environment" in first


def test_check_when_leverage_differs_from_config_then_warns_but_exit_0(
    sim_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"leverage": 3}))
    result = check(
        tmp_path, "--config", config, base_url=sim_url, key=DEFAULT_API_KEY,
        secret=DEFAULT_API_SECRET,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout
    assert mark(result.stdout, "leverage") == "!"
    assert "the config says 3x" in row(result.stdout, "leverage")
    assert "1 warning(s) to read" in result.stdout


def test_check_when_server_unreachable_then_says_so_and_skips_the_rest(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    result = check(tmp_path, base_url=url, key=DEFAULT_API_KEY, secret=DEFAULT_API_SECRET)
    assert result.returncode == 1
    assert f"cannot reach {url}" in row(result.stdout, "server time")
    assert "adxbot sim" in result.stdout  # the fix for a custom server
    assert mark(result.stdout, "authentication") == "–"
    assert_never_shown(result, DEFAULT_API_SECRET)


def test_check_when_config_invalid_then_exit_2_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"exchange": {"environment": "custom"}}))
    result = check(tmp_path, "--config", config)
    assert result.returncode == 2
    assert 'environment "custom" needs "base_url"' in result.stderr


def test_check_when_bingx_base_url_malformed_then_exit_2(tmp_path: Path) -> None:
    result = check(tmp_path, base_url="localhost:8000")
    assert result.returncode == 2
    assert "BINGX_BASE_URL" in result.stderr


def test_check_when_only_half_of_the_key_pair_set_then_exit_2(tmp_path: Path) -> None:
    result = check(tmp_path, base_url="http://127.0.0.1:9", key=DEFAULT_API_KEY)
    assert result.returncode == 2
    assert "BINGX_API_SECRET is not set" in result.stderr


def test_help_when_asked_then_lists_check() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "adxbot", "--help"], capture_output=True, text=True, check=False
    )
    assert "check" in result.stdout


# ------------------------------------------------------------------ in process


def environment(kind: ExchangeEnvironment, url: str = PRODUCTION_URL) -> ResolvedEnvironment:
    return ResolvedEnvironment(kind, url, "test")


def fake_bingx(server_ms: int, signed_answer: dict[str, object]) -> httpx.MockTransport:
    """A BingX whose clock reads `server_ms` and which answers every other call alike."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/server/time"):
            return httpx.Response(
                200, json={"code": 0, "msg": "", "data": {"serverTime": server_ms}}
            )
        return httpx.Response(200, json=signed_answer)

    return httpx.MockTransport(handle)


def run_with(
    transport: httpx.AsyncBaseTransport,
    env: ResolvedEnvironment,
    *,
    local_ms: int | None = None,
    config: BotConfig | None = None,
    all_checks: bool = False,
) -> list[CheckResult]:
    """Run the server-time check (or all checks); `local_ms` None = the wall clock."""
    local: Clock = WallClock() if local_ms is None else ManualClock(local_ms)

    async def go() -> list[CheckResult]:
        async with httpx.AsyncClient(transport=transport) as http:
            client = BingXClient(
                http,
                env.base_url,
                ServerClock(local),
                Credentials(DEFAULT_API_KEY, SecretStr(DEFAULT_API_SECRET)),
                read_attempts=1,
            )
            ctx = CheckContext(client, config or BotConfig(), env, client._credentials, 5_000)
            if all_checks:
                return await run_checks(ctx)
            return [await check_server_time(ctx)]

    return asyncio.run(go())


LOCAL = 1_700_000_000_000


@pytest.mark.parametrize(
    ("skew_ms", "verdict", "words"),
    [
        (7_200, Verdict.FAIL, "clock is 7.2 s off"),
        (-7_200, Verdict.FAIL, "clock is 7.2 s off (this machine ahead"),
        (1_500, Verdict.WARN, "clock is 1.5 s off"),
        (300, Verdict.OK, "clock within 300 ms"),
    ],
)
def test_server_time_when_bingx_clock_differs_then_judged_against_the_window(
    skew_ms: int, verdict: Verdict, words: str
) -> None:
    (result,) = run_with(
        fake_bingx(LOCAL + skew_ms, {}), environment(ExchangeEnvironment.PRODUCTION), local_ms=LOCAL
    )
    assert result.verdict is verdict
    assert words in result.detail
    if verdict is not Verdict.OK:
        assert result.fix == ClockSkew.fix
        assert "NTP" in result.fix
    assert result.blocks_live is (verdict is Verdict.FAIL)


def test_server_time_when_custom_server_far_behind_then_reported_not_judged() -> None:
    days_400 = 400 * 86_400_000
    env = environment(ExchangeEnvironment.CUSTOM, "http://127.0.0.1:1")
    (result,) = run_with(fake_bingx(LOCAL - days_400, {}), env, local_ms=LOCAL)
    assert result.verdict is Verdict.OK
    assert "400 days behind" in result.detail
    assert "not judged" in result.detail


def test_run_checks_when_ip_not_whitelisted_then_says_so_with_the_fix() -> None:
    refusal = {"code": 100419, "msg": "IP does not match IP whitelist"}
    results = run_with(
        fake_bingx(LOCAL, refusal),
        environment(ExchangeEnvironment.PRODUCTION),
        local_ms=LOCAL,
        all_checks=True,
    )
    auth = next(r for r in results if r.name == "authentication")
    assert auth.verdict is Verdict.FAIL
    assert "IP not whitelisted" in auth.detail
    assert auth.fix == IpNotWhitelisted.fix
    assert all(r.verdict is Verdict.SKIPPED for r in results if r.name in ("balance", "leverage"))


def test_run_checks_when_hedge_mode_and_open_position_then_warns_and_blocks_live() -> None:
    options = sim_options(speed=1.0, hedge_mode=True)
    with SimulatorThread(build_simulator(options)) as thread:
        with SignedClient(thread.base_url) as trader:
            answer = trader.post(
                "/openApi/swap/v2/trade/order",
                {"symbol": "BTC-USDT", "side": "BUY", "positionSide": "LONG",
                 "type": "MARKET", "quantity": "0.001"},
            )  # fmt: skip
            assert answer["code"] == 0, answer
        env = environment(ExchangeEnvironment.CUSTOM, thread.base_url)
        results = {
            r.name: r
            for r in run_with(
                httpx.AsyncHTTPTransport(),
                env,
                config=parse_config({"leverage": 5}),
                all_checks=True,
            )
        }
    mode = results["position mode"]
    assert (mode.verdict, mode.blocks_live) == (Verdict.WARN, True)
    assert "hedge mode" in mode.detail
    held = results["open positions & orders"]
    assert held.verdict is Verdict.WARN
    assert "BTC-USDT long 0.001" in held.detail
    assert not held.blocks_live
    assert results["balance"].verdict is Verdict.OK
    assert all(r.verdict is Verdict.OK for r in (results["leverage"], results["authentication"]))
