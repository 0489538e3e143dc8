"""The HTML report opened in a real headless Chromium: offline, complete, and screenshotted.

Chromium is a system package here, not a Playwright download, so the test drives
/usr/bin/chromium directly (CHROMIUM_PATH names another Chromium-based browser, e.g. the
google-chrome that GitHub's runners ship). A missing browser fails the test instead of skipping it: a skipped
browser test would let a report that fetches something from the network slip through unnoticed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlcicd.reporting.formatting import format_metric, verdict_text
from mlcicd.reporting.html import render_html
from mlcicd.reporting.model import EvaluationReport
from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "evaluation_report.json"
SCREENSHOT = REPO_ROOT / "test-artifacts" / "report.png"


def test_report_renders_offline_in_chromium(tmp_path, capsys) -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}; this test needs a real browser. "
            "Install it with: apt-get install -y chromium",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    report = EvaluationReport.model_validate_json(FIXTURE.read_text(encoding="utf-8"))
    page_file = tmp_path / "report.html"
    page_file.write_text(render_html(report), encoding="utf-8")
    url = page_file.as_uri()
    requests: list[str] = []
    problems: list[str] = []
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            # A fresh, offline context: any fetch would be both recorded and refused.
            context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
            page = context.new_page()
            page.on("request", lambda request: requests.append(request.url))
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on(
                "console",
                lambda message: (
                    problems.append(f"console {message.type}: {message.text}")
                    if message.type in ("error", "warning")
                    else None
                ),
            )
            page.goto(url, wait_until="load")
            text = page.inner_text("body")
            svgs = page.locator("svg")
            svg_count = svgs.count()
            sizes = [svgs.nth(i).bounding_box() for i in range(svg_count)]
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            context.close()
        finally:
            browser.close()

    with capsys.disabled():
        print(f"\nHTML report screenshot: {SCREENSHOT}")

    assert requests == [url], f"the report made requests besides itself: {requests}"
    assert not problems, problems  # CSP violations surface here as console errors
    assert verdict_text(report) in text
    assert f"ROC AUC\n{format_metric(report.challenger.metrics['roc_auc'])}" in text
    assert format_metric(report.challenger.metrics["roc_auc"]) == "0.9090"
    assert svg_count == 4 + len(report.fairness)
    for box in sizes:
        assert box is not None and box["width"] > 200 and box["height"] > 150, box
    assert SCREENSHOT.stat().st_size > 50_000
