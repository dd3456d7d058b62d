"""API credentials: where they come from, and that the secret never shows.

The secret is checked in the value's own `repr`/`str` and, with a canary secret used for
real signed requests against the simulator, in everything logged at DEBUG level (httpx
and httpcore log every request line at that level).
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from adxbot.clock import ManualClock
from adxbot.domain.enums import OrderSide, OrderType
from adxbot.domain.ids import ClientOrderId
from adxbot.errors import ConfigError
from adxbot.exchange.client import BingXClient
from adxbot.exchange.credentials import Credentials, load_credentials, mask
from adxbot.exchange.errors import AuthenticationFailed, OutcomeUnknown, TemporaryError
from adxbot.exchange.orders import OrderSpec
from adxbot.exchange.server_clock import ServerClock
from adxbot.sim.account import ApiKey
from sim_support import SYMBOL, running_simulator, sim_options

CANARY_KEY = "canary-api-key-0001"
CANARY_SECRET = "CANARY-s3cr3t-9f8e7d6c5b4a"


# ---------------------------------------------------------------- loading
def test_load_credentials_when_both_in_the_environment_then_returned() -> None:
    credentials = load_credentials(
        {"BINGX_API_KEY": "key-1", "BINGX_API_SECRET": "secret-1"}, env_files=()
    )
    assert credentials is not None
    assert credentials.api_key == "key-1"
    assert credentials.api_secret.get_secret_value() == "secret-1"


def test_load_credentials_when_values_padded_then_stripped() -> None:
    credentials = load_credentials(
        {"BINGX_API_KEY": "  key-1\n", "BINGX_API_SECRET": " secret-1 "}, env_files=()
    )
    assert credentials == Credentials("key-1", SecretStr("secret-1"))


def test_load_credentials_when_nothing_set_then_none() -> None:
    assert load_credentials({}, env_files=()) is None


def test_load_credentials_when_in_a_dotenv_file_then_read_from_it(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# keys\nBINGX_API_KEY=file-key\nBINGX_API_SECRET='file-secret'\n")
    credentials = load_credentials({}, env_files=(env_file,))
    assert credentials == Credentials("file-key", SecretStr("file-secret"))


def test_load_credentials_when_environment_and_file_disagree_then_environment_wins(
    tmp_path: Path,
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("BINGX_API_KEY=file-key\nBINGX_API_SECRET=file-secret\n")
    credentials = load_credentials({"BINGX_API_SECRET": "env-secret"}, env_files=(env_file,))
    assert credentials == Credentials("file-key", SecretStr("env-secret"))


def test_load_credentials_when_two_files_then_the_first_listed_wins(tmp_path: Path) -> None:
    first = tmp_path / "config.env"
    second = tmp_path / ".env"
    first.write_text("BINGX_API_KEY=first-key\nBINGX_API_SECRET=first-secret\n")
    second.write_text("BINGX_API_KEY=second-key\nBINGX_API_SECRET=second-secret\n")
    credentials = load_credentials({}, env_files=(first, second))
    assert credentials == Credentials("first-key", SecretStr("first-secret"))


def test_load_credentials_when_file_missing_then_skipped(tmp_path: Path) -> None:
    assert load_credentials({}, env_files=(tmp_path / "absent.env",)) is None


@pytest.mark.parametrize(
    ("environ", "missing"),
    [
        ({"BINGX_API_KEY": "key-only"}, "BINGX_API_SECRET"),
        ({"BINGX_API_SECRET": "secret-only"}, "BINGX_API_KEY"),
        ({"BINGX_API_KEY": "key", "BINGX_API_SECRET": "   "}, "BINGX_API_SECRET"),
    ],
)
def test_load_credentials_when_half_a_pair_then_config_error_naming_the_missing_one(
    environ: dict[str, str], missing: str
) -> None:
    with pytest.raises(ConfigError, match=missing):
        load_credentials(environ, env_files=())


def test_load_credentials_when_half_a_pair_in_a_file_then_config_error(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("BINGX_API_KEY=lonely-key\n")
    with pytest.raises(ConfigError, match="BINGX_API_SECRET"):
        load_credentials({}, env_files=(env_file,))


# ---------------------------------------------------------------- never shown
def test_repr_and_str_when_printed_then_never_contain_the_secret() -> None:
    credentials = Credentials(CANARY_KEY, SecretStr(CANARY_SECRET))
    for shown in (repr(credentials), str(credentials), f"{credentials}", f"{credentials!r}"):
        assert CANARY_SECRET not in shown
        assert CANARY_KEY not in shown  # the key is masked too
    assert repr(credentials) == ("Credentials(api_key='cana…', api_secret=SecretStr('**********'))")
    assert CANARY_SECRET not in repr(credentials.api_secret)
    assert CANARY_SECRET not in str(credentials.api_secret)


def test_mask_when_short_or_long_then_shows_at_most_four_characters() -> None:
    assert mask("abcdefgh") == "abcd…"
    assert mask("abcd") == "…"
    assert mask("") == "…"


def test_signed_requests_when_logged_at_debug_then_the_secret_never_appears(
    caplog: pytest.LogCaptureFixture,
) -> None:
    keys = [ApiKey(CANARY_KEY, CANARY_SECRET)]
    with running_simulator(sim_options(keys=keys)) as sim:
        sim.admin("faults/schedule", {"kind": "http_5xx", "count": 1, "path_contains": "balance"})
        sim.admin("faults/schedule", {"kind": "drop", "count": 1, "path_contains": "trade/order"})

        async def scenario() -> None:
            async with httpx.AsyncClient() as http:
                client = BingXClient(
                    http,
                    sim.base_url,
                    ServerClock(ManualClock(sim.now_ms())),
                    Credentials(CANARY_KEY, SecretStr(CANARY_SECRET)),
                    sleep=_no_sleep,
                )
                client.clock.offset_ms -= 60_000  # a stale stamp: re-sync, log, retry
                await client.get_balance()  # 5xx once: a logged retry
                await client.get_all_positions(SYMBOL)
                await client.api_permissions()
                key = await client.create_listen_key()
                await client.extend_listen_key(key)
                spec = OrderSpec(
                    SYMBOL, OrderSide.BUY, OrderType.MARKET, ClientOrderId("canary-1"),
                    Decimal("0.001"),
                )  # fmt: skip
                with pytest.raises(OutcomeUnknown):
                    await client.place_order(spec)
                await client.place_order(spec)
                wrong = BingXClient(
                    http,
                    sim.base_url,
                    ServerClock(ManualClock(sim.now_ms())),
                    Credentials(CANARY_KEY, SecretStr(CANARY_SECRET + "-wrong")),
                    sleep=_no_sleep,
                )
                with pytest.raises(AuthenticationFailed):
                    await wrong.get_balance()

        with caplog.at_level(logging.DEBUG):
            asyncio.run(scenario())

    assert any("HTTP Request" in r.getMessage() for r in caplog.records)  # httpx did log
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    assert any(r.name == "adxbot.exchange" for r in caplog.records)  # the retry warning
    for record in caplog.records:
        assert CANARY_SECRET not in record.getMessage(), record.name
        assert CANARY_SECRET not in repr(record.args), record.name
        if record.exc_info and record.exc_info[1] is not None:
            assert CANARY_SECRET not in repr(record.exc_info[1])
    assert CANARY_SECRET not in caplog.text


async def _no_sleep(delay: float) -> None:
    del delay


def test_client_errors_when_raised_then_never_contain_the_secret() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="not json")

    async def scenario() -> list[BaseException]:
        caught: list[BaseException] = []
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            client = BingXClient(
                http,
                "http://bingx.invalid",
                ServerClock(ManualClock(1_700_000_000_000)),
                Credentials(CANARY_KEY, SecretStr(CANARY_SECRET)),
                sleep=_no_sleep,
            )
            for call in (client.get_balance, client.create_listen_key):
                try:
                    await call()
                except (TemporaryError, OutcomeUnknown) as e:
                    caught.append(e)
        return caught

    caught = asyncio.run(scenario())
    assert len(caught) == 2
    for error in caught:
        assert CANARY_SECRET not in str(error)
        assert CANARY_SECRET not in repr(error.__cause__)
