"""The dashboard in real headless Chromium (Debian's package, driven by Playwright).

The live bot runs (in a thread) against the simulator and holds a position; the
dashboard serves its database on a random loopback port.  Screenshots go to
docs/screenshots/ when ADXBOT_SCREENSHOTS=1, else to the test's temporary directory.
Without /usr/bin/chromium the test is skipped, unless ADXBOT_REQUIRE_BROWSER=1 (CI).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)

from adxbot.persistence.records import EventKind
from adxbot.persistence.store import TradeStore
from dashboard_support import (
    PASSWORD,
    exchange_positions,
    options_for,
    running_live_bot,
    serve_dashboard,
    write_config,
)
from sim_support import running_simulator

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
MAX_SCREENSHOT_BYTES = 200_000


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("ADXBOT_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and ADXBOT_REQUIRE_BROWSER=1: install chromium")
        pytest.skip(f"{CHROMIUM} is missing (Debian's chromium package)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


def screenshot_dir(tmp_path: Path) -> Path:
    if os.environ.get("ADXBOT_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return SCREENSHOTS
    return tmp_path / "screenshots"


def shoot(page: Page, folder: Path, name: str) -> None:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    assert 0 < path.stat().st_size < MAX_SCREENSHOT_BYTES, (path, path.stat().st_size)


def test_dashboard_in_chromium_when_bot_holds_position_then_shown_and_emergency_stop_flattens(
    browser: Browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the repository is read
    database = tmp_path / "live.sqlite3"
    shots = screenshot_dir(tmp_path)
    with running_live_bot(database, trades=3) as (sim, _bot):
        with TradeStore.open_read_only(database) as store:
            (held,) = store.open_positions()
        options = options_for(sim, database, config=write_config(tmp_path))
        with serve_dashboard(options) as dashboard:
            context = browser.new_context(viewport=VIEWPORT, base_url=dashboard.base_url)
            page = context.new_page()
            # Not logged in: every page sends the browser to the login form.
            page.goto("/trades")
            expect(page).to_have_url(f"{dashboard.base_url}/login?next=%2Ftrades")
            page.fill("#password", "not the password")
            page.click("button[type=submit]")
            expect(page.get_by_role("alert")).to_have_text("Wrong password.")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(f"{dashboard.base_url}/trades")
            problems: list[str] = []  # from here on, no script error, no failed request
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("console", lambda m: problems.append(m.text) if _is_error(m) else None)

            # Overview: LIVE, the bot alive, the bot's position with its levels.
            page.goto("/")
            expect(page.locator("#banner .mode")).to_have_text("LIVE")
            expect(page.locator("#bot-state")).to_contain_text("bot running")
            row = page.locator("#positions tbody tr")
            expect(row).to_have_count(1)
            expect(row).to_contain_text(held.direction.value.upper())
            expect(row).to_contain_text(str(held.quantity))
            assert held.stop_loss is not None
            assert held.take_profit is not None
            expect(row).to_contain_text(str(held.stop_loss))
            expect(row).to_contain_text(str(held.take_profit))
            expect(page.locator("#cards")).to_contain_text("vs database")
            shoot(page, shots, "overview")

            # Chart: candles and ADX/DI drawn by plotly as SVG.
            page.goto("/chart")
            candles = page.locator("#price-chart g.trace.boxes path")
            expect(candles.first).to_be_attached(timeout=15_000)
            assert candles.count() > 50
            expect(page.locator("#price-chart .scatterlayer .trace").first).to_be_attached()
            expect(page.locator("#chart-error")).to_be_hidden()
            shoot(page, shots, "chart")

            page.goto("/equity")
            expect(page.locator("#equity-chart .main-svg").first).to_be_attached(timeout=15_000)
            shoot(page, shots, "equity")

            page.goto("/trades")
            expect(page.locator("#trades tbody tr").first).to_be_visible()
            shoot(page, shots, "trades")

            page.goto("/events")
            expect(page.locator("#events tbody tr").first).to_be_visible()

            # Emergency stop: a dismissed confirmation does nothing...
            page.goto("/")
            page.once("dialog", lambda dialog: dialog.dismiss())
            page.click("#emergency-stop")
            expect(page.locator("#action-result")).to_have_text("cancelled: nothing was done")
            assert len(exchange_positions(sim)) == 1
            # ...an accepted one flattens the account on the exchange.
            page.once("dialog", lambda dialog: dialog.accept())
            page.click("#emergency-stop")
            expect(page.locator("#action-result")).to_contain_text(
                "account flat: confirmed", timeout=30_000
            )
            assert exchange_positions(sim) == []
            assert sim.account_state()["open_orders"] == []
            expect(page.locator("#cards")).to_contain_text("HALTED")
            context.close()

        with TradeStore.open_read_only(database) as store:
            audit = [
                e
                for e in store.events(limit=1000, kinds=[EventKind.ORDER])
                if e.data.get("source") == "dashboard"
            ]
            halted = store.breakers()["manual_halt"].tripped
        assert len(audit) == 1
        assert "emergency stop from the dashboard" in audit[0].message
        assert audit[0].data["flat"] is True
        assert halted
    assert problems == []


def test_dashboard_in_chromium_when_not_logged_in_then_every_page_redirects_to_login(
    browser: Browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with running_simulator() as sim:
        options = options_for(sim, tmp_path / "live.sqlite3")  # the bot has not run yet
        with serve_dashboard(options) as dashboard:
            context = browser.new_context(viewport=VIEWPORT, base_url=dashboard.base_url)
            page = context.new_page()
            for path in ("/", "/chart", "/equity", "/trades", "/events"):
                page.goto(path)
                expect(page.locator("#password")).to_be_visible()
                assert page.url.startswith(f"{dashboard.base_url}/login")
            shown = page.content()
            context.close()
    assert "BTC-USDT" not in shown


def _is_error(message: ConsoleMessage) -> bool:
    return message.type == "error"
