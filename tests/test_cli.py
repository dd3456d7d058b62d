"""The `adxbot` command as a user runs it: a real process, real files, real exit codes."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

from adxbot.config import BotConfig, parse_config

BAD_INPUT = 2


def adxbot(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adxbot", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_backtest_when_run_on_bundled_sample_then_writes_all_outputs(tmp_path: Path) -> None:
    trades, summary, report = tmp_path / "t.csv", tmp_path / "s.json", tmp_path / "r.html"
    result = adxbot(
        "backtest", "--trades-out", trades, "--summary-out", summary, "--report", report
    )
    assert result.returncode == 0, result.stderr
    assert "trades" in result.stdout
    figures = json.loads(summary.read_text())
    assert figures["trades"] == len(trades.read_text().splitlines()) - 1 > 0
    assert report.stat().st_size > 1_000_000  # plotly.js is embedded
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "s.json", "t.csv"]


def test_backtest_when_config_invalid_then_exit_2_naming_key_and_nothing_written(
    tmp_path: Path,
) -> None:
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"leverage": -3, "exit_strategy": {"stop_loss_percnt": 2}}))
    out = tmp_path / "t.csv"
    result = adxbot("backtest", "--config", config, "--trades-out", out)
    assert result.returncode == BAD_INPUT
    assert "leverage = -3" in result.stderr
    assert "unknown key 'exit_strategy.stop_loss_percnt'" in result.stderr
    assert "stop_loss_percent" in result.stderr  # the allowed keys are listed
    assert not out.exists()


def test_backtest_when_config_file_missing_then_exit_2_suggesting_init(tmp_path: Path) -> None:
    result = adxbot("backtest", "--config", tmp_path / "nope.json")
    assert result.returncode == BAD_INPUT
    assert "adxbot init" in result.stderr


def test_backtest_when_config_not_json_then_exit_2_with_line_and_column(tmp_path: Path) -> None:
    config = tmp_path / "broken.json"
    config.write_text('{"leverage": 5,\n "symbol": }')
    result = adxbot("backtest", "--config", config)
    assert result.returncode == BAD_INPUT
    assert "line 2" in result.stderr


def test_backtest_when_candles_unsorted_then_exit_2_naming_the_line(tmp_path: Path) -> None:
    data = tmp_path / "c.csv"
    data.write_text(
        "open_time_ms,open,high,low,close,volume\n"
        "1735603500000,1,2,0.5,1.5,10\n"
        "1735603200000,1,2,0.5,1.5,10\n"
    )
    result = adxbot("backtest", "--data", data)
    assert result.returncode == BAD_INPUT
    assert "line 3" in result.stderr


def test_backtest_when_candle_spacing_differs_from_timeframe_then_exit_2(tmp_path: Path) -> None:
    data = tmp_path / "c.csv.gz"
    rows = [f"{1735603200000 + i * 60_000},1,2,0.5,1.5,1" for i in range(10)]
    data.write_bytes(
        gzip.compress(
            ("open_time_ms,open,high,low,close,volume\n" + "\n".join(rows) + "\n").encode()
        )
    )
    result = adxbot("backtest", "--data", data)
    assert result.returncode == BAD_INPUT
    assert "timeframe" in result.stderr


def test_init_when_run_then_writes_valid_default_config_and_refuses_to_overwrite(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config_live.json"
    assert adxbot("init", path).returncode == 0
    assert parse_config(json.loads(path.read_text())) == BotConfig()
    again = adxbot("init", path)
    assert again.returncode == 1
    assert "--force" in again.stdout
    assert adxbot("init", path, "--force").returncode == 0


def test_show_config_when_partial_file_then_prints_defaults_filled_in(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"leverage": 3}))
    result = adxbot("show-config", "--config", config)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["leverage"] == 3
    assert shown["exit_strategy"]["stop_loss_percent"] == 2.0


def test_help_when_asked_then_lists_every_command() -> None:
    result = adxbot("--help")
    assert result.returncode == 0
    for command in ("backtest", "init", "show-config"):
        assert command in result.stdout


def test_example_config_in_repo_when_compared_with_init_output_then_identical(
    tmp_path: Path,
) -> None:
    written = tmp_path / "c.json"
    assert adxbot("init", written).returncode == 0
    example = Path(__file__).resolve().parents[1] / "config.example.json"
    assert example.read_text() == written.read_text(), "regenerate: adxbot init --force"
