"""Logging never shows a secret: a canary secret must come out as `***` everywhere."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from pydantic import SecretStr

from adxbot.exchange.credentials import Credentials
from adxbot.logsetup import (
    MASK,
    SecretRedactingFilter,
    configure_logging,
    redact,
    redactor,
    register_credentials,
    register_secret,
)

CANARY_SECRET = "canary-secret-7f3a9c1e5b2d4068"
CANARY_KEY = "canary-key-0d6e2b8a91c4"

log = logging.getLogger("adxbot.test_logsetup")


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """Put the root logger's handlers and levels back after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in ("httpx", "httpcore", "asyncio")}
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    for name, old in quiet.items():
        logging.getLogger(name).setLevel(old)


@pytest.fixture
def canary(logging_restored: None) -> None:
    register_credentials(Credentials(CANARY_KEY, SecretStr(CANARY_SECRET)))


def logged(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().err


def assert_clean(text: str) -> None:
    assert CANARY_SECRET not in text
    assert CANARY_KEY not in text
    assert quote(CANARY_SECRET, safe="") not in text


# ------------------------------------------------------------------ text output


def test_log_when_secret_in_message_then_masked(
    canary: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(logging.INFO)
    log.warning(f"signing with {CANARY_SECRET} for key {CANARY_KEY}")
    out = logged(capsys)
    assert_clean(out)
    assert f"signing with {MASK} for key {MASK}" in out


def test_log_when_secret_in_positional_args_then_masked(
    canary: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(logging.INFO)
    log.info("secret=%s key=%s n=%d", CANARY_SECRET, CANARY_KEY, 3)
    out = logged(capsys)
    assert_clean(out)
    assert f"secret={MASK} key={MASK} n=3" in out


def test_log_when_secret_in_mapping_args_or_inside_an_object_then_masked(
    canary: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(logging.INFO)
    log.info("%(params)s", {"params": {"apiSecret": CANARY_SECRET}})
    log.info("headers %s", {"X-BX-APIKEY": CANARY_KEY})
    out = logged(capsys)
    assert_clean(out)
    assert out.count(MASK) == 2


def test_log_when_secret_percent_encoded_then_masked(
    canary: None, capsys: pytest.CaptureFixture[str]
) -> None:
    register_secret("canary/with+special=chars")
    configure_logging(logging.INFO)
    log.info("GET /x?s=%s", quote("canary/with+special=chars", safe=""))
    out = logged(capsys)
    assert "canary%2Fwith" not in out
    assert f"GET /x?s={MASK}" in out


def test_log_when_exception_text_holds_secret_then_traceback_masked(
    canary: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(logging.INFO)
    try:
        raise RuntimeError(f"refused {CANARY_SECRET}")
    except RuntimeError:
        log.exception("call failed")
    out = logged(capsys)
    assert_clean(out)
    assert "Traceback" in out
    assert f"RuntimeError: refused {MASK}" in out


def test_filter_when_stack_text_holds_secret_then_masked(canary: None) -> None:
    record = log.makeRecord(log.name, logging.INFO, __file__, 1, "where", (), None)
    record.stack_info = f'Stack (most recent call last):\n  sign("{CANARY_SECRET}")'
    assert redactor().filter(record)
    assert record.stack_info == f'Stack (most recent call last):\n  sign("{MASK}")'


def test_log_when_record_below_level_then_nothing_written(
    canary: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("WARNING")
    log.info("quiet %s", CANARY_SECRET)
    assert logged(capsys) == ""


def test_configure_logging_when_called_twice_then_one_handler_and_one_line(
    canary: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(logging.INFO)
    configure_logging(logging.INFO)
    log.info("once")
    assert logged(capsys).count("once") == 1


def test_configure_logging_when_another_root_handler_exists_then_it_is_filtered_too(
    canary: None,
) -> None:
    class Keep(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.lines: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.lines.append(self.format(record))

    other = Keep()
    logging.getLogger().addHandler(other)
    configure_logging(logging.INFO)
    log.info("other %s", CANARY_SECRET)
    assert other.lines == [f"other {MASK}"]


# ------------------------------------------------------------------ JSON lines


def test_json_lines_when_secret_in_message_args_and_exception_then_masked_and_parseable(
    canary: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(logging.INFO, json_lines=True)
    log.info("key %s", CANARY_KEY)
    try:
        raise ValueError(CANARY_SECRET)
    except ValueError:
        log.error("failed with %s", CANARY_SECRET, exc_info=True)
    out = logged(capsys)
    assert_clean(out)
    lines = [json.loads(line) for line in out.splitlines()]
    assert [e["message"] for e in lines] == [f"key {MASK}", f"failed with {MASK}"]
    assert lines[0]["level"] == "INFO"
    assert lines[0]["logger"] == "adxbot.test_logsetup"
    assert lines[0]["time"].endswith("+00:00")
    assert "exception" not in lines[0]
    assert f"ValueError: {MASK}" in lines[1]["exception"]


# ------------------------------------------------------------------ the filter itself


def test_redact_when_nothing_registered_then_text_unchanged() -> None:
    assert SecretRedactingFilter().redact("nothing secret here") == "nothing secret here"


def test_redact_when_one_secret_contains_another_then_longest_blanked_whole() -> None:
    redactor = SecretRedactingFilter()
    redactor.add("abcdefgh")
    redactor.add("abcdefgh-and-more")
    assert redactor.redact("x abcdefgh-and-more y abcdefgh") == f"x {MASK} y {MASK}"


def test_redact_when_value_short_then_blanked_only_as_a_whole_word() -> None:
    redactor = SecretRedactingFilter()
    redactor.add("x")
    assert redactor.redact("x, exchange 5x x") == f"{MASK}, exchange 5x {MASK}"


def test_redact_when_empty_value_registered_then_ignored() -> None:
    redactor = SecretRedactingFilter()
    redactor.add("")
    assert redactor.redact("text") == "text"


def test_redact_module_function_when_credentials_registered_then_blanks_both(
    canary: None,
) -> None:
    assert redact(f"{CANARY_KEY}:{CANARY_SECRET}") == f"{MASK}:{MASK}"
