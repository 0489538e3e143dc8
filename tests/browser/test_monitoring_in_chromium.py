"""The Monitoring page in headless Chromium: two stored monitoring runs, the verdict and charts.

The reports are what the real monitor makes of a written request log (tests/helpers/monitoring),
stored in the session's MLflow store for the console's model; the screenshot lands in
test-artifacts/console/monitoring.png with the others.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.browser.test_console_in_chromium import TIMEOUT_MS, _goto_page, _shot, _wait_idle
from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS, ReleaseEnv
from tests.helpers.monitoring import START, build_report, store_report


def test_monitoring_page_renders_the_stored_runs_in_chromium(
    release_env: ReleaseEnv, console_url: str, tracking_uri: str, adult_frames, tmp_path: Path
) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}", pytrace=False)
    from playwright.sync_api import expect, sync_playwright

    name = release_env.model_name
    store_report(tracking_uri, build_report(name, adult_frames, tmp_path, shift_age=0))
    newer = build_report(
        name, adult_frames, tmp_path, start=START + timedelta(hours=2), error_every=20
    )
    assert len(newer.all_breaches) == 2
    store_report(tracking_uri, newer)
    expect.set_options(timeout=TIMEOUT_MS)  # the first page load activates the ZenML stack
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(console_url)
            _wait_idle(page)
            _goto_page(page, "Monitoring")
            expect(page.get_by_role("heading", name="Monitoring", exact=True)).to_be_visible()
            main = page.locator('[data-testid="stMain"]')
            headline = main.get_by_text("2 breaches · champion v1", exact=False).first
            expect(headline).to_be_visible()
            expect(headline).to_contain_text("2026-12-01 10:00 → 2026-12-01 12:00 UTC")
            expect(main.get_by_text("column(s) drifted: age", exact=False).first).to_be_visible()
            expect(page.get_by_role("heading", name="Newest window", exact=False)).to_be_visible()
            charts = page.locator('[data-testid="stVegaLiteChart"]')
            expect(charts.first).to_be_visible()
            drawn = charts.first.locator("canvas, svg").first  # vega drew it, not just a frame
            expect(drawn).to_be_visible()
            box = drawn.bounding_box()
            assert box is not None and box["width"] > 100 and box["height"] > 100, box
            assert charts.count() >= 7  # five trends, a column's bins, the predictions
            _shot(page, "monitoring")
        finally:
            browser.close()
