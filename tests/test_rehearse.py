"""`adxbot rehearse`: every scenario passes with the example config, and a broken bot fails.

The rehearsal runs the live bot (bot lives from a fork server) against fresh simulators on
loopback ports; nothing leaves the machine.  The network loss is shortened to 3 s here
(the command's default is 30 s).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from adxbot.cli.app import app, main
from adxbot.config import load_config, parse_config
from adxbot.rehearsal.scenarios import SCENARIO_NAMES, SCENARIOS, RehearsalOptions, run_scenario

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.json"


def test_rehearse_with_example_config_then_every_scenario_passes_and_reports(
    tmp_path: Path,
) -> None:
    report = tmp_path / "rehearsal.html"
    result = CliRunner().invoke(
        app,
        ["rehearse", "--config", str(EXAMPLE), "--outage-seconds", "3", "--report", str(report)],
    )

    assert result.exit_code == 0, result.output
    assert f"all {len(SCENARIOS)} scenarios passed" in result.output
    for name in SCENARIO_NAMES:
        assert f"PASS {name}" in result.output
    page = report.read_text()
    assert f"{len(SCENARIOS)} of {len(SCENARIOS)} scenarios passed" in page
    assert "✘" not in page


def test_rehearse_when_scenario_unknown_then_exit_2_naming_the_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["rehearse", "--scenario", "meteor-strike"])

    assert raised.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "meteor-strike" in err
    assert "network-loss" in err


def test_scenario_when_the_bot_never_trades_then_it_fails_instead_of_passing(
    tmp_path: Path,
) -> None:
    """A rehearsal that cannot show the behaviour must fail: here no position can open
    (the risk per trade sizes every entry below the minimum), so the restart scenario must
    say FAIL."""
    data = load_config(EXAMPLE).model_dump(mode="json")
    data["position_sizing"]["risk_per_trade_percent"] = 0.001
    config = parse_config(data)
    restart = next(s for s in SCENARIOS if s.name == "restart")

    result = run_scenario(config, restart, RehearsalOptions(tmp_path))

    assert not result.passed
    assert "opened no position" in result.happened


@pytest.mark.parametrize("name", ["breaker-consecutive-losses"])
def test_scenario_when_breaker_limit_changes_then_trip_follows_the_rule(
    tmp_path: Path, name: str
) -> None:
    data = load_config(EXAMPLE).model_dump(mode="json")
    data["risk_management"]["consecutive_loss_limit"] = 2
    config = parse_config(data)
    scenario = next(s for s in SCENARIOS if s.name == name)

    result = run_scenario(config, scenario, RehearsalOptions(tmp_path))

    assert result.passed, result.happened
    texts = [text for _, text in result.checks]
    assert "loss 2: rule says trip, breaker tripped" in texts
    assert not any(text.startswith("loss 3") for text in texts)
