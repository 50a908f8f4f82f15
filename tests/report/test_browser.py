"""The report in a real browser: Debian's chromium, headless, driven by Playwright."""

import pytest
from browser_support import launch, playwright
from report_runs import failed_run

from harness.report import write_reports

pytestmark = pytest.mark.slow


def test_report_opens_offline_without_console_errors_and_draws_every_chart(tmp_path):
    html = write_reports(failed_run(tmp_path / "run")).html
    problems, requests = [], []
    with playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: requests.append(r.url) if not r.url.startswith("file:") else None)
            page.goto(html.as_uri())
            page.wait_for_selector("body[data-charts-rendered='4']", timeout=10_000)
            canvases = page.locator("#charts canvas")
            assert canvases.count() == 4
            # a drawn chart has coloured pixels, not only the blank background
            inked = page.evaluate("""() => Array.from(document.querySelectorAll('#charts canvas')).map(c => {
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) n++; } return n; })""")
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert problems == [] and requests == []
    assert all(n > 1000 for n in inked)
    assert (tmp_path / "report.png").stat().st_size > 10_000
