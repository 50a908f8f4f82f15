"""The Game day tab in a real browser: Debian's chromium, headless, driven by Playwright.

With a profile: open Locust's page, start a test with Locust's own form, open the Game
day tab, watch the live SLO rows update, click Run on an experiment, see its markers on
the chart, and save a screenshot under the test's tmp dir.

With a game day (`gameday ui gamedays/kill-model-replica.yaml`): the form shows the game
day's shape and a test runs it (the open model at 50 req/s, not Locust's 1 user), the SLOs
are drawn once, and a fault SLO waits for the fault, then is judged while it runs.
"""

from __future__ import annotations

import re
import time

import pytest
from browser_support import launch, playwright
from ui_support import PROFILE, ROOT, UiSession, ports

pytestmark = pytest.mark.slow


@pytest.fixture
def session(tmp_path):
    base, web = ports()
    ui = UiSession(tmp_path, "ui-browser", base, web, "--profile", str(PROFILE))
    try:
        ui.wait_ready()
        yield ui
    finally:
        ui.stop()


def test_game_day_tab_shows_live_slos_runs_an_experiment_and_marks_it(session, tmp_path):
    with playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.goto(session.url + "/")
            page.get_by_label("Number of users (peak concurrency)").fill("4")
            page.get_by_label("Ramp up (users started/second)").fill("4")
            page.locator("form button[type=submit]").first.click()

            page.get_by_role("tab", name="Game day").click()
            # Locust's own extended table: live verdicts of the SLOs, from its stats poll
            page.get_by_role("cell", name="pass").first.wait_for(timeout=20_000)
            latency = page.get_by_role("row").filter(has_text="latency.p99@run").get_by_role("cell").nth(3)
            assert _changes(page, latency, within_s=20), "the live p99 never updated"
            panel = page.frame_locator("#gameday-panel-frame")

            panel.locator("#experiments tr[data-name='kill-model-replica.json'] button.run").click()
            panel.locator("#current .experiment-state").wait_for(timeout=10_000)
            panel.locator("#markers li.marker-fault").first.wait_for(timeout=20_000)
            assert panel.locator("#markers li.marker").count() >= 2
            page.screenshot(path=str(tmp_path / "game-day-tab.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "game-day-tab.png").stat().st_size > 10_000


def _changes(page, locator, within_s: float) -> bool:
    """True when the locator's text shows two different measured values within `within_s` seconds."""
    seen = set()
    for _ in range(int(within_s * 2)):
        text = locator.inner_text(timeout=10_000)
        if text != "-":
            seen.add(text)
        if len(seen) >= 2:
            return True
        page.wait_for_timeout(500)
    return False


@pytest.fixture
def gameday_session(tmp_path):
    base, web = ports()
    ui = UiSession(tmp_path, "ui-gameday", base, web, str(ROOT / "gamedays" / "kill-model-replica.yaml"))
    try:
        ui.wait_ready()
        yield ui
    finally:
        ui.stop()


def test_a_game_day_session_runs_its_shape_judges_the_running_phase_and_draws_the_slos_once(gameday_session, tmp_path):
    session = gameday_session
    with playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.goto(session.url + "/")
            # the form shows the game day's shape, not a user count to fill in
            line = page.locator("#gameday-load-line")
            line.wait_for(timeout=20_000)
            assert "constant_rate (rate=50) for 75s, open model" in line.inner_text()
            assert page.get_by_label("Number of users (peak concurrency)").is_disabled()
            page.get_by_role("button", name="Custom parameters").click()
            form = {
                name: page.locator(f"form input[name={name}]").input_value()
                for name in ("gamedayShape", "gamedayRate", "gamedayDuration")
            }
            assert form == {"gamedayShape": "constant_rate", "gamedayRate": "50", "gamedayDuration": "75"}
            page.locator("form button[type=submit]").first.click()

            page.get_by_role("tab", name="Game day").click()
            fault_row = page.get_by_role("row").filter(has_text="availability[POST /v1/score]@fault")
            baseline_row = page.get_by_role("row").filter(has_text="availability@baseline")
            # after the warmup and 5 s of baseline: the baseline judged, the fault waiting for its phase
            baseline_row.get_by_role("cell", name=re.compile(r"^(pass|fail)$")).wait_for(timeout=60_000)
            assert fault_row.get_by_role("cell", name="waiting for fault").count() == 1, fault_row.inner_text()
            # the SLO table is drawn once: Locust's, not again in the panel below it
            assert page.get_by_role("cell", name=re.compile("@fault")).count() == 1
            panel = page.frame_locator("#gameday-panel-frame")
            panel.locator("#load-line").filter(has_text="constant_rate").wait_for(timeout=10_000)
            assert panel.get_by_text("@fault").count() == 0 and panel.locator("#slos").count() == 0
            # the open model at its rate: about 50 req/s whatever the target's speed (one closed-model
            # user sent about 800 req/s on one core)
            rates = _rates(session, seconds=6)
            assert all(35 <= r <= 65 for r in rates), rates

            panel.locator("#experiments tr[data-name='kill-model-replica.json'] button.run").click()
            # once the replica is killed, the fault is the running phase and its SLO gets a verdict
            fault_row.get_by_role("cell", name=re.compile(r"^(pass|fail)$")).wait_for(timeout=60_000)
            assert baseline_row.get_by_role("cell", name="baseline over").count() == 1, baseline_row.inner_text()
            page.screenshot(path=str(tmp_path / "game-day-shape.png"), full_page=True)
        finally:
            browser.close()


def _rates(session: UiSession, seconds: int) -> list[float]:
    """Locust's own current req/s, once a second for `seconds` seconds."""
    rates = []
    for _ in range(seconds):
        code, stats = session.get("/stats/requests")
        assert code == 200, stats
        rates.append(stats["total_rps"])
        time.sleep(1)
    return rates
