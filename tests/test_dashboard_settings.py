"""`adxbot dashboard`'s refusals, its password, and the session and login-limit rules."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from adxbot.cli.app import main
from adxbot.clock import ManualClock
from adxbot.dashboard.security import LoginLimiter, SessionStore, password_matches
from adxbot.dashboard.settings import (
    PASSWORD_VARIABLE,
    dashboard_options,
    is_loopback,
    load_password,
)
from adxbot.errors import ConfigError
from adxbot.logsetup import redact
from adxbot.persistence.records import TradingMode
from adxbot.persistence.store import TradeStore
from sim_support import eventually

GOOD = "a long enough password"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no config/.env of the repository
    for name in (PASSWORD_VARIABLE, "BINGX_API_KEY", "BINGX_API_SECRET", "BINGX_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")


def run_dashboard(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["dashboard", *args])
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out + captured.err


def test_dashboard_when_no_password_then_exit_2_naming_the_variable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, output = run_dashboard(capsys)
    assert code == 2
    assert PASSWORD_VARIABLE in output
    assert "always requires a password" in output


def test_dashboard_when_no_password_and_not_loopback_then_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, output = run_dashboard(capsys, "--host", "0.0.0.0")
    assert code == 2
    assert PASSWORD_VARIABLE in output


def test_dashboard_when_password_short_then_exit_2_saying_the_minimum(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_VARIABLE, "tiny-pw-1")
    code, output = run_dashboard(capsys)
    assert code == 2
    assert "9 characters long: use at least 12" in output
    assert "tiny-pw-1" not in output
    assert redact("a tiny-pw-1 b") == "a *** b"  # registered: no log line can carry it


def test_dashboard_when_database_of_other_mode_then_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(PASSWORD_VARIABLE, GOOD)
    paper = tmp_path / "paper.sqlite3"
    TradeStore.open(paper, TradingMode.PAPER).close()
    code, output = run_dashboard(capsys, "--mode", "live", "--database", str(paper))
    assert code == 2
    assert "belongs to paper trading" in output


def test_password_when_in_config_env_file_then_read_and_environment_wins(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / ".env").write_text(f"{PASSWORD_VARIABLE}=from the env file\n")
    assert load_password({}).get_secret_value() == "from the env file"
    assert load_password({PASSWORD_VARIABLE: GOOD}).get_secret_value() == GOOD


def test_options_when_cli_overrides_then_they_win_and_live_loads_the_key(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text('{"dashboard": {"host": "127.0.0.2", "port": 6000, "refresh_seconds": 9}}')
    environ = {PASSWORD_VARIABLE: GOOD, "BINGX_API_KEY": "k" * 20, "BINGX_API_SECRET": "s" * 20}
    from_config = dashboard_options(config, TradingMode.PAPER, environ=environ)
    overridden = dashboard_options(config, TradingMode.LIVE, host="::1", port=6001, environ=environ)
    assert (from_config.host, from_config.port, from_config.refresh_seconds) == (
        "127.0.0.2",
        6000,
        9,
    )
    assert from_config.credentials is None  # paper needs no key: none is held
    assert (overridden.host, overridden.port) == ("::1", 6001)
    assert overridden.credentials is not None
    assert overridden.loopback
    assert overridden.database.name == "adxbot-live.sqlite3"
    assert GOOD not in repr(overridden)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("::", False),
        ("dashboard.example", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


# ---------------------------------------------------------------------------- sessions
def test_session_when_cookie_signed_and_live_then_found_else_refused() -> None:
    clock = ManualClock(1_000)
    sessions = SessionStore(60_000, clock)
    cookie, session = sessions.create("127.0.0.1")
    assert sessions.get(cookie) == session
    session_id, _, signature = cookie.partition(".")
    assert sessions.get(f"{session_id}.{'0' * len(signature)}") is None
    assert sessions.get(session_id) is None
    assert sessions.get(f"{session_id}x.{signature}") is None
    other = SessionStore(60_000, clock)  # another key: another process's cookies mean nothing
    assert other.get(cookie) is None
    clock.advance(60_000)
    assert sessions.get(cookie) is None


def test_session_when_ended_then_refused() -> None:
    sessions = SessionStore(60_000, ManualClock(0))
    cookie, _ = sessions.create("127.0.0.1")
    sessions.end(cookie)
    assert sessions.get(cookie) is None


def test_login_limiter_when_five_failures_in_window_then_blocked_per_client() -> None:
    now = [0.0]
    limiter = LoginLimiter(max_failures=5, window_s=300, monotonic=lambda: now[0])
    for _ in range(4):
        limiter.failed("a")
        now[0] += 10
    assert limiter.retry_after("a") is None
    limiter.failed("a")
    wait = limiter.retry_after("a")
    assert wait is not None
    assert 0 < wait <= 300
    assert limiter.retry_after("b") is None
    now[0] += 300  # the oldest failure leaves the window
    assert limiter.retry_after("a") is None
    limiter.succeeded("a")
    limiter.failed("a")
    assert limiter.retry_after("a") is None


def test_password_matches_only_the_exact_password() -> None:
    secret = SecretStr(GOOD)
    assert password_matches(GOOD, secret)
    assert not password_matches(GOOD + " ", secret)
    assert not password_matches("", secret)
    assert not password_matches(GOOD[:-1], secret)


def test_password_when_loaded_then_redacted_and_blank_refused() -> None:
    load_password({PASSWORD_VARIABLE: "unique dashboard secret 42"})
    assert redact("logged unique dashboard secret 42 here") == "logged *** here"
    with pytest.raises(ConfigError, match=PASSWORD_VARIABLE):
        load_password({PASSWORD_VARIABLE: "   "})


def test_dashboard_command_when_password_set_then_serves_login_on_loopback_until_sigterm(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        PASSWORD_VARIABLE: GOOD,
        "COLUMNS": "200",
        "BINGX_BASE_URL": "http://127.0.0.1:9",  # never contacted: no page is opened
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "adxbot", "dashboard", "--port", "0"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = None
        for line in process.stdout:
            found = re.search(r"listening\s+(http://127\.0\.0\.1:\d+)", line)
            if found:
                url = found.group(1)
                break
        assert url is not None, "the dashboard did not say where it listens"
        login = eventually(lambda: httpx.get(f"{url}/login", timeout=5))
        overview = httpx.get(url, timeout=5)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert login.status_code == 200
    assert 'type="password"' in login.text
    assert overview.status_code == 303
    # uvicorn shuts down gracefully, then re-raises the signal (systemd counts it as clean).
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Traceback" not in output
    assert GOOD not in output
