"""The simulator's request authentication against shared/spec/bingx-api.md §3 and §6.

The spec's HMAC vectors and ccxt's worked examples are checked byte for byte against
`adxbot.sim.auth.sign`; every auth error is then provoked over real HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import pytest

from adxbot.clock import ManualClock
from adxbot.sim.account import ApiKey
from adxbot.sim.auth import sign
from sim_support import (
    ORDER,
    SWAP,
    SYMBOL,
    RunningSim,
    encoded_query,
    running_simulator,
    signed_string,
    sim_options,
)

POSITIONS = f"{SWAP}/v2/user/positions"
BALANCE = f"{SWAP}/v3/user/balance"

# §3.2 official test vectors (rows 1 and 2; row 3 is documented as wrong).
ROW_1_SECRET = "mheO6dR8ovSsxZQCOYEFCtelpuxcWGTfHw7te326y6jOwq5WpvFQ9JNljoTwBXZGv5It07m9RXSPpDQEK2w"
ROW_2_SECRET = "UuGuyEGt6ZEkpUObCYCmIfh0elYsZVh80jlYwpJuRZEw70t6vomMH7Sjmf94ztSI"

# §3.5 worked examples: ccxt 4.5.90, key KEY, secret SECRET, timestamp 1700000000000.
CCXT_TIMESTAMP = 1_700_000_000_000
STOP_LOSS_JSON = (
    '{"stopPrice":30000.1,"workingType":"MARK_PRICE","type":"STOP_MARKET","quantity":0.001}'
)
TAKE_PROFIT_JSON = (
    '{"stopPrice":40000,"workingType":"MARK_PRICE","type":"TAKE_PROFIT_MARKET","quantity":0.001}'
)
WORKED_EXAMPLES = [
    (
        "POST",
        "/openApi/swap/v2/trade/order?positionSide=BOTH&quantity=0.0012&side=BUY"
        "&symbol=BTC-USDT&timestamp=1700000000000&type=MARKET"
        "&signature=20eeca542c2c49616ea164b931bbcb093193eefdb3bd447ae037bd00d9c4940a",
        "positionSide=BOTH&quantity=0.0012&side=BUY&symbol=BTC-USDT"
        "&timestamp=1700000000000&type=MARKET",
    ),
    (
        "POST",
        "/openApi/swap/v2/trade/order?positionSide=BOTH&quantity=0.001&side=BUY"
        "&stopLoss=%7B%22stopPrice%22%3A30000.1%2C%22workingType%22%3A%22MARK_PRICE%22"
        "%2C%22type%22%3A%22STOP_MARKET%22%2C%22quantity%22%3A0.001%7D&symbol=BTC-USDT"
        "&takeProfit=%7B%22stopPrice%22%3A40000%2C%22workingType%22%3A%22MARK_PRICE%22"
        "%2C%22type%22%3A%22TAKE_PROFIT_MARKET%22%2C%22quantity%22%3A0.001%7D"
        "&timestamp=1700000000000&type=MARKET"
        "&signature=d1c04a4ad2caed2cb55072b00d3897f4d6d9b3b6ab0e6294ca05591536d0030a",
        "positionSide=BOTH&quantity=0.001&side=BUY"
        f"&stopLoss={STOP_LOSS_JSON}&symbol=BTC-USDT"
        f"&takeProfit={TAKE_PROFIT_JSON}&timestamp=1700000000000&type=MARKET",
    ),
    (
        "GET",
        "/openApi/swap/v2/user/positions?timestamp=1700000000000"
        "&signature=19b46ad9a1e9fa824812324598aa7d97b82085e0e522018efc9cc29f4f00d59f",
        "timestamp=1700000000000",
    ),
]


@pytest.fixture
def sim() -> Iterator[RunningSim]:
    with running_simulator() as running:
        yield running


def market_buy(quantity: str = "0.001") -> list[tuple[str, str]]:
    return [
        ("symbol", SYMBOL),
        ("side", "BUY"),
        ("positionSide", "BOTH"),
        ("type", "MARKET"),
        ("quantity", quantity),
    ]


def positions_of(sim: RunningSim) -> list[dict[str, object]]:
    positions: list[dict[str, object]] = sim.account_state()["positions"]
    return positions


# ---------------------------------------------------------------- test vectors
def test_sign_when_given_official_row_1_then_matches_the_spec_byte_for_byte() -> None:
    unsorted = "symbol=BTC-USDT&timestamp=1667872120843&side=LONG&leverage=6"
    expected = "4f581ecdb1fa09b9d6e57886b6f70cffed17f82b93399722939e49a38edec2bf"
    assert sign(unsorted, ROW_1_SECRET) == expected


def test_sign_when_given_official_row_2_then_matches_the_spec_byte_for_byte() -> None:
    payload = "quoteOrderQty=20&side=BUY&symbol=ETHUSDT&timestamp=1649404670162&type=MARKET"
    expected = "428a3c383bde514baff0d10d3c20e5adfaacaf799e324546dafe5ccc480dd827"
    assert sign(payload, ROW_2_SECRET) == expected


@pytest.mark.parametrize(("method", "url", "payload"), WORKED_EXAMPLES)
def test_sign_when_given_a_ccxt_worked_example_then_matches_its_signature(
    method: str, url: str, payload: str
) -> None:
    signature = url.rsplit("&signature=", 1)[1]
    assert sign(payload, "SECRET") == signature


@pytest.mark.parametrize(("method", "url", "payload"), WORKED_EXAMPLES)
def test_client_when_encoding_a_worked_example_then_builds_the_same_url(
    method: str, url: str, payload: str
) -> None:
    pairs = [(k, v) for k, _, v in (p.partition("=") for p in payload.split("&"))]
    assert signed_string(pairs) == payload
    signature = sign(payload, "SECRET")
    path = url.split("?", 1)[0]
    assert f"{path}?{encoded_query([*pairs, ('signature', signature)])}" == url


@pytest.mark.parametrize(("method", "url", "payload"), WORKED_EXAMPLES)
def test_simulator_when_sent_a_ccxt_worked_example_url_verbatim_then_accepts_it(
    method: str, url: str, payload: str
) -> None:
    options = sim_options(keys=[ApiKey("KEY", "SECRET")], start_ms=CCXT_TIMESTAMP)
    with running_simulator(options) as sim:
        answer = sim.admin_http.request(method, url, headers={"X-BX-APIKEY": "KEY"}).json()
    assert answer["code"] == 0, answer


# ---------------------------------------------------------------- accepted requests
def test_signed_request_when_params_in_given_order_then_passes(sim: RunningSim) -> None:
    answer = sim.client.get(BALANCE)
    assert answer["code"] == 0
    assert answer["data"][0]["asset"] == "USDT"


def test_signed_request_when_params_unsorted_then_verified_in_received_order(
    sim: RunningSim,
) -> None:
    now = sim.client.server_time()
    unsorted = [
        ("type", "MARKET"),
        ("symbol", SYMBOL),
        ("timestamp", str(now)),
        ("side", "BUY"),
        ("quantity", "0.001"),
        ("positionSide", "BOTH"),
    ]
    payload = signed_string(unsorted)
    assert payload != signed_string(sorted(unsorted))
    answer = sim.client.post(ORDER, unsorted)
    assert answer["code"] == 0, answer
    assert answer["data"]["order"]["status"] == "FILLED"


def test_signed_request_when_json_stop_loss_signed_raw_and_sent_encoded_then_accepted(
    sim: RunningSim,
) -> None:
    price = sim.price()
    stop_loss = json.dumps(
        {
            "stopPrice": float(price - 1000),
            "workingType": "MARK_PRICE",
            "type": "STOP_MARKET",
            "quantity": 0.001,
        },
        separators=(",", ":"),
    )
    params = [*market_buy(), ("stopLoss", stop_loss)]
    now = sim.client.server_time()
    pairs = [*params, ("timestamp", str(now))]
    signature = sign(signed_string(pairs), sim.client.secret)
    url = f"{ORDER}?{encoded_query([*pairs, ('signature', signature)])}"
    assert "%7B%22stopPrice%22%3A" in url  # the JSON travels percent-encoded

    answer = sim.client.http.post(url, headers={"X-BX-APIKEY": sim.client.api_key or ""}).json()

    assert answer["code"] == 0, answer
    assert answer["data"]["order"]["stopLoss"] == stop_loss
    children = sim.account_state()["open_orders"]
    assert [(o["type"], o["stopPrice"]) for o in children] == [("STOP_MARKET", str(price - 1000))]


def test_signed_request_when_json_value_signed_encoded_then_accepted_as_a_courtesy(
    sim: RunningSim,
) -> None:
    stop_loss = json.dumps({"stopPrice": float(sim.price() - 1000), "type": "STOP_MARKET"})
    now = sim.client.server_time()
    pairs = [*market_buy(), ("stopLoss", stop_loss), ("timestamp", str(now))]
    signature = sign(encoded_query(pairs), sim.client.secret)
    answer = sim.client.post(ORDER, pairs, signature=signature)
    assert answer["code"] == 0, answer


@pytest.mark.parametrize("body", ["form", "json"])
def test_signed_request_when_params_carried_in_a_body_then_accepted_and_executed(
    sim: RunningSim, body: str
) -> None:
    answer = sim.client.post(ORDER, market_buy("0.002"), body=body)
    assert answer["code"] == 0, answer
    assert [p["positionAmt"] for p in positions_of(sim)] == ["0.002"]


def test_signed_request_when_json_body_has_a_wrong_signature_then_refused(
    sim: RunningSim,
) -> None:
    answer = sim.client.post(ORDER, market_buy(), body="json", signature="0" * 64)
    assert answer["code"] == 100001
    assert positions_of(sim) == []


def test_public_request_when_unsigned_and_without_key_then_served(sim: RunningSim) -> None:
    answer = sim.client.get(f"{SWAP}/v2/quote/contracts", signed=False, api_key=None, timestamp=123)
    assert answer["code"] == 0
    assert answer["data"][0]["symbol"] == SYMBOL


# ---------------------------------------------------------------- auth errors
def test_signed_request_when_api_key_header_missing_then_100413(sim: RunningSim) -> None:
    answer = sim.client.get(BALANCE, api_key=None)
    assert answer["code"] == 100413


def test_signed_request_when_api_key_unknown_then_100413(sim: RunningSim) -> None:
    answer = sim.client.get(BALANCE, api_key="no-such-key")
    assert answer["code"] == 100413


def test_signed_request_when_signature_missing_then_100412(sim: RunningSim) -> None:
    answer = sim.client.get(BALANCE, signed=False)
    assert answer["code"] == 100412


def test_signed_request_when_signature_wrong_then_100001_and_nothing_happens(
    sim: RunningSim,
) -> None:
    answer = sim.client.post(ORDER, market_buy(), signature="f" * 64)
    assert answer["code"] == 100001
    assert answer["msg"] == "Signature verification failed due to signature mismatch"
    assert positions_of(sim) == []


def test_signed_request_when_signed_with_another_secret_then_100001(sim: RunningSim) -> None:
    impostor = sim.new_client(secret="not-the-secret")
    assert impostor.get(BALANCE)["code"] == 100001


def test_signed_request_when_a_parameter_is_changed_after_signing_then_100001(
    sim: RunningSim,
) -> None:
    now = sim.client.server_time()
    pairs = [*market_buy("0.001"), ("timestamp", str(now))]
    signature = sign(signed_string(pairs), sim.client.secret)
    tampered = [*market_buy("0.002"), ("timestamp", str(now)), ("signature", signature)]
    response = sim.client.http.post(
        f"{ORDER}?{encoded_query(tampered)}", headers={"X-BX-APIKEY": sim.client.api_key or ""}
    )
    assert response.json()["code"] == 100001


def test_signed_request_when_timestamp_missing_then_100421(sim: RunningSim) -> None:
    answer = sim.client.get(BALANCE, with_timestamp=False)
    assert answer["code"] == 100421
    assert answer["msg"].startswith("Null timestamp or timestamp mismatch")


def test_signed_request_when_timestamp_just_inside_recv_window_then_accepted(
    sim: RunningSim,
) -> None:
    now = sim.client.server_time()
    assert sim.client.get(BALANCE, timestamp=now - 5_000)["code"] == 0


def test_signed_request_when_timestamp_older_than_recv_window_then_100421(
    sim: RunningSim,
) -> None:
    now = sim.client.server_time()
    assert sim.client.get(BALANCE, timestamp=now - 5_001)["code"] == 100421


def test_signed_request_when_recv_window_widened_then_older_timestamp_accepted(
    sim: RunningSim,
) -> None:
    now = sim.client.server_time()
    stale = now - 8_000
    assert sim.client.get(BALANCE, timestamp=stale)["code"] == 100421
    widened = sim.client.get(BALANCE, [("recvWindow", 10_000)], timestamp=stale)
    assert widened["code"] == 0, widened
    assert sim.client.get(BALANCE, [("recvWindow", 7_000)], timestamp=stale)["code"] == 100421


def test_signed_request_when_timestamp_in_the_future_then_tolerated_up_to_one_second(
    sim: RunningSim,
) -> None:
    now = sim.client.server_time()
    assert sim.client.get(BALANCE, timestamp=now + 1_000)["code"] == 0
    assert sim.client.get(BALANCE, timestamp=now + 1_001)["code"] == 100421
    assert sim.client.get(BALANCE, timestamp=now + 60_000)["code"] == 100421


def test_signed_request_when_timestamp_not_a_number_then_100421(sim: RunningSim) -> None:
    now = sim.client.server_time()
    answer = sim.client.get(BALANCE, [("timestamp", f"{now}.5")])
    assert answer["code"] == 100421


def test_signed_request_when_stale_after_the_stepped_clock_moved_then_100421(
    sim: RunningSim,
) -> None:
    now = sim.client.server_time()
    sim.step(5_001)
    assert sim.client.get(BALANCE, timestamp=now)["code"] == 100421


# ---------------------------------------------------------------- accelerated clock
def test_recv_window_when_clock_runs_fast_then_scales_with_the_speed() -> None:
    wall = ManualClock(1_700_000_000_000)
    with running_simulator(sim_options(speed=10.0), wall=wall) as sim:
        stamp = sim.client.server_time()
        wall.advance(4_999)  # 4.999 wall seconds = 49.99 simulated seconds
        assert sim.now_ms() - stamp == 49_990
        assert sim.client.get(BALANCE, timestamp=stamp)["code"] == 0
        wall.advance(2)  # 5.001 wall seconds: older than the (scaled) 5 s window
        assert sim.client.get(BALANCE, timestamp=stamp)["code"] == 100421


def test_recv_window_when_clock_runs_fast_then_a_wider_window_scales_too() -> None:
    wall = ManualClock(1_700_000_000_000)
    with running_simulator(sim_options(speed=100.0), wall=wall) as sim:
        stamp = sim.client.server_time()
        wall.advance(9_000)
        assert sim.client.get(BALANCE, timestamp=stamp)["code"] == 100421
        widened = sim.client.get(BALANCE, [("recvWindow", 10_000)], timestamp=stamp)
        assert widened["code"] == 0, widened


def test_future_tolerance_when_clock_runs_fast_then_scales_with_the_speed() -> None:
    wall = ManualClock(1_700_000_000_000)
    with running_simulator(sim_options(speed=10.0), wall=wall) as sim:
        now = sim.client.server_time()
        assert sim.client.get(BALANCE, timestamp=now + 10_000)["code"] == 0
        assert sim.client.get(BALANCE, timestamp=now + 10_001)["code"] == 100421


# ---------------------------------------------------------------- transport
def test_signed_request_when_sent_with_ccxt_broker_header_then_header_ignored(
    sim: RunningSim,
) -> None:
    now = sim.client.server_time()
    pairs = [("timestamp", str(now))]
    signature = sign(signed_string(pairs), sim.client.secret)
    response = sim.client.http.get(
        f"{POSITIONS}?{encoded_query([*pairs, ('signature', signature)])}",
        headers={"X-BX-APIKEY": sim.client.api_key or "", "X-SOURCE-KEY": "CCXT"},
    )
    assert response.json() == {"code": 0, "msg": "", "data": []}


def test_decimal_parameters_when_rendered_then_plain_notation_is_signed(
    sim: RunningSim,
) -> None:
    answer = sim.client.place(
        side="BUY", positionSide="BOTH", type="MARKET", quantity=Decimal("0.0010")
    )
    assert answer["code"] == 0, answer
