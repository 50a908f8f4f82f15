"""The Game day tab in a real browser: Debian's chromium, headless, driven by Playwright.

Open Locust's page, start a test with Locust's own form, open the Game day tab,
watch the live SLO rows update, click Run on an experiment, see its markers on
the chart, and save a screenshot under the test's tmp dir.
"""

from __future__ import annotations

import pytest
from browser_support import launch, playwright
from ui_support import PROFILE, UiSession, ports

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
            panel = page.frame_locator("#gameday-panel-frame")
            latency = panel.locator("#slos tr", has_text="latency.p99").locator(".slo-value")
            assert _changes(page, latency, within_s=20), "the live p99 never updated"

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
