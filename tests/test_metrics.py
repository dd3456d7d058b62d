"""`/metrics` of a paper bot against the simulator: scraped over loopback while it trades,
parsed with prometheus_client's own parser, compared with the database."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from adxbot.monitoring import BotMetrics
from adxbot.persistence.store import TradeStore
from adxbot.sim.faults import FaultKind
from adxbot.sim.server import SimulatorThread
from bot_support import bot_simulator, config_with, run_bot_until

SPEED = 60_000.0
KLINES = "/openApi/swap/v3/quote/klines"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape(port: int) -> Samples:
    """Return every sample of the bot's /metrics by (name, sorted labels)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum the samples of `name` whose labels include `labels`."""
    return sum(
        v for (n, found), v in samples.items() if n == name and set(labels.items()) <= set(found)
    )


def metrics_config(port: int, **overrides: Any) -> Any:
    return config_with({"metrics": {"enabled": True, "port": port}, **overrides})


def test_metrics_when_bot_trades_then_scrapes_match_database_and_breaker_gauge_flips(
    tmp_path: Path,
) -> None:
    port = free_port()
    config = metrics_config(port, risk_management={"consecutive_loss_limit": 2})
    database = tmp_path / "paper.sqlite3"
    simulator = bot_simulator(SPEED)
    clock = simulator.exchange.market.clock
    scrapes: dict[str, tuple[Samples, dict[str, Any]]] = {}

    def caught_up(store: TradeStore) -> bool:
        last = int(store.info("last_candle_ms") or 0)
        return last >= clock.now_ms() // 300_000 * 300_000 - 300_000

    def snapshot(store: TradeStore) -> dict[str, Any]:
        account = store.latest_equity()
        assert account is not None
        return {
            "positions": len(store.open_positions()),
            "equity": float(account.equity),
            "balance": float(account.balance),
            "trades": store.trade_count(),
        }

    def condition(store: TradeStore) -> bool:
        tripped = store.breakers().get("consecutive_losses")
        if "holding" not in scrapes:
            if clock.paused:  # scrape once the bot has done everything the clock allows
                if caught_up(store) and store.open_positions():
                    simulator.faults.schedule(FaultKind.HTTP_5XX, 2, "klines")
                    scrapes["holding"] = (scrape(port), snapshot(store))
                    clock.resume()
                elif caught_up(store):
                    clock.resume()  # it closed while catching up: the next one
            elif store.open_positions() and not (tripped and tripped.tripped):
                clock.pause()
            return False
        if tripped is None or not tripped.tripped:
            return False
        scrapes["tripped"] = (scrape(port), snapshot(store))
        return True

    with SimulatorThread(simulator) as sim:
        asyncio.run(run_bot_until(config, sim.base_url, database, condition))

    holding, db = scrapes["holding"]
    assert value(holding, "adxbot_open_positions") == db["positions"] == 1
    assert value(holding, "adxbot_equity_usdt") == pytest.approx(db["equity"])
    assert value(holding, "adxbot_balance_usdt") == pytest.approx(db["balance"])
    assert "adxbot_unrealized_pnl_usdt" in {name for name, _ in holding}
    assert total(holding, "adxbot_trades_total") == db["trades"]
    assert value(holding, "adxbot_breaker_tripped", breaker="consecutive_losses") == 0
    assert value(holding, "adxbot_trading_halted") == 0
    assert value(holding, "adxbot_bot_info", mode="paper", symbol="BTC-USDT", timeframe="5m") == 1
    assert value(holding, "adxbot_last_candle_age_seconds") >= 0
    assert value(holding, "adxbot_heartbeat_age_seconds") >= 0
    assert value(holding, "adxbot_reconciliation_drift") == 0
    assert value(holding, "adxbot_reconciliations_total", result="consistent") >= 1
    assert value(holding, "adxbot_request_duration_seconds_count", endpoint=KLINES) > 0
    assert value(holding, "process_resident_memory_bytes") > 0

    tripped, db = scrapes["tripped"]
    assert value(tripped, "adxbot_breaker_tripped", breaker="consecutive_losses") == 1
    assert value(tripped, "adxbot_trading_halted") == 1
    assert total(tripped, "adxbot_trades_total", result="loss") >= 2
    assert total(tripped, "adxbot_trades_total") == db["trades"]
    # The two gateway errors scheduled at the first scrape, counted by class and endpoint.
    assert value(tripped, "adxbot_api_errors_total", error="TemporaryError", endpoint=KLINES) == 2


def test_metrics_when_port_taken_then_error_logged_and_bot_trades_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = metrics_config(port)
        with (
            caplog.at_level(logging.ERROR, logger="adxbot.metrics"),
            SimulatorThread(bot_simulator(SPEED)) as sim,
        ):
            asyncio.run(
                run_bot_until(
                    config, sim.base_url, tmp_path / "p.sqlite3", lambda s: s.trade_count() >= 1
                )
            )

    assert any("cannot listen" in r.getMessage() for r in caplog.records)


def test_metrics_when_disabled_then_nothing_listens(tmp_path: Path) -> None:
    port = free_port()
    config = config_with({"metrics": {"enabled": False, "port": port}})
    outcomes: list[str] = []

    def check(store: TradeStore) -> bool:
        try:
            httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
            outcomes.append("answered")
        except httpx.ConnectError:
            outcomes.append("refused")
        return store.info("status") == "running"

    with SimulatorThread(bot_simulator(SPEED)) as sim:
        asyncio.run(run_bot_until(config, sim.base_url, tmp_path / "p.sqlite3", check))

    assert outcomes
    assert set(outcomes) == {"refused"}


def test_bot_metrics_when_two_in_one_process_then_registries_are_separate() -> None:
    first, second = BotMetrics(), BotMetrics()
    first.observe_request("/a", 0.01, "NotSent")

    def errors(metrics: BotMetrics) -> float:
        return sum(
            s.value
            for family in metrics.registry.collect()
            for s in family.samples
            if s.name == "adxbot_api_errors_total"
        )

    assert (errors(first), errors(second)) == (1.0, 0.0)
