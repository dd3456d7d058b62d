"""`adxbot run`: what it refuses before starting a bot, and what its help promises."""

from __future__ import annotations

from pathlib import Path

import pytest

from adxbot.cli.app import EXIT_BAD_INPUT, main


@pytest.fixture(autouse=True)
def empty_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty directory, so a default state/ database would show up there."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ADXBOT_STATE_DIR", raising=False)
    return tmp_path


def one_line(text: str) -> str:
    """Join the lines the terminal wrapped, so a message can be matched as one sentence."""
    return " ".join(text.split())


def test_run_when_mode_live_without_keys_then_exit_2_naming_environment_and_variables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BINGX_API_KEY", raising=False)
    monkeypatch.delenv("BINGX_API_SECRET", raising=False)
    monkeypatch.delenv("BINGX_BASE_URL", raising=False)
    with pytest.raises(SystemExit) as raised:
        main(["run", "--mode", "live"])

    assert raised.value.code == EXIT_BAD_INPUT
    err = one_line(capsys.readouterr().err)
    assert "PRODUCTION" in err
    assert "BINGX_API_KEY" in err
    assert list(tmp_path.iterdir()) == []  # no database, no lock: no bot was started


def test_run_when_config_file_missing_then_exit_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.json"

    with pytest.raises(SystemExit) as raised:
        main(["run", "--config", str(missing)])

    assert raised.value.code == EXIT_BAD_INPUT
    assert "missing.json" in one_line(capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


def test_run_when_help_then_mentions_paper_and_duration(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["run", "--help"])

    assert raised.value.code == 0
    out = capsys.readouterr().out
    assert "paper" in out.lower()
    assert "--duration" in out
