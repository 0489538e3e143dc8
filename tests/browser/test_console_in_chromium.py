"""The review console end to end: `streamlit run` on 127.0.0.1 driven by headless Chromium.

Signs in, opens a pending version, checks the numbers against the stored report, approves with a
reason and watches the production rollout finish; rejects the other version; an unauthenticated
visitor gets no way to decide. Screenshots of every page land in test-artifacts/console/.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from mlflow import MlflowClient

from mlcicd.release.audit import read_events
from mlcicd.reporting.formatting import format_metric, metric_label
from mlcicd.runner.jobs import list_jobs
from mlcicd.runner.reports import load_report
from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS, PASSWORD, REVIEWER, ReleaseEnv

REPO_ROOT = Path(__file__).resolve().parents[2]
SHOTS = REPO_ROOT / "test-artifacts" / "console"
README_IMAGE = REPO_ROOT / "docs" / "images" / "console-review.png"
TIMEOUT_MS = 120_000


def _shot(page, name: str) -> Path:
    """The whole page: Streamlit scrolls inside its main block, so the viewport grows to fit."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    _wait_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0, f"exception on {name}"
    assert page.locator('[data-testid="stHelp"]').count() == 0, f"stray st.help on {name}"
    size = page.viewport_size
    height = page.evaluate(
        "() => document.querySelector('[data-testid=\"stMainBlockContainer\"]').scrollHeight"
    )
    page.set_viewport_size({"width": size["width"], "height": min(max(height + 200, 900), 8000)})
    page.wait_for_timeout(800)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    page.set_viewport_size(size)
    return path


def _wait_idle(page) -> None:
    """Streamlit shows a 'running' indicator while a script run is in flight."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=TIMEOUT_MS)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=TIMEOUT_MS
    )


def _metric_values(page) -> dict[str, str]:
    found = {}
    for metric in page.locator('[data-testid="stMetric"]').all():
        label = metric.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        found[label] = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return found


def _goto_page(page, label: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_text(label, exact=True).click()
    _wait_idle(page)


def test_review_approve_and_reject_in_chromium(
    release_env: ReleaseEnv, console_url: str, tracking_uri: str
) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}", pytrace=False)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)  # the first page load activates the ZenML stack
    name = release_env.model_name
    client = MlflowClient(tracking_uri=tracking_uri)
    report = load_report("1", name)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            # --- an unauthenticated visitor: can read, cannot decide -----------------------
            visitor = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            visitor.set_default_timeout(TIMEOUT_MS)
            visitor.goto(f"{console_url}/decision?version=1")
            _wait_idle(visitor)
            expect(visitor.get_by_text("Sign in as a reviewer (sidebar)")).to_be_visible()
            assert visitor.get_by_role("button", name=re.compile("Approve")).count() == 0
            assert visitor.get_by_role("button", name="Reject").count() == 0
            _shot(visitor, "decision-unauthenticated")
            visitor.context.close()

            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(console_url)
            _wait_idle(page)
            expect(page.get_by_role("heading", name="Version 1")).to_be_visible()
            # version 2 failed its staging smoke test: it never awaits a decision
            assert page.get_by_role("heading", name="Version 2").count() == 0
            _shot(page, "pending")

            # --- sign in: a wrong password first ------------------------------------------
            sidebar = page.locator('[data-testid="stSidebar"]')
            sidebar.get_by_label("Reviewer id").fill(REVIEWER)
            sidebar.get_by_label("Password", exact=True).fill("not the password")
            sidebar.get_by_role("button", name="Sign in").click()
            expect(sidebar.get_by_text("Unknown reviewer or wrong password.")).to_be_visible()
            sidebar.get_by_label("Reviewer id").fill(REVIEWER)
            sidebar.get_by_label("Password", exact=True).fill(PASSWORD)
            sidebar.get_by_role("button", name="Sign in").click()
            expect(sidebar.get_by_text("Signed in as")).to_be_visible()

            # --- review version 1: the numbers are the stored report's --------------------
            page.get_by_role("link", name="Review version 1").click()
            _wait_idle(page)
            expect(page.get_by_role("heading", name=f"{name} version 1")).to_be_visible()
            # the metrics render after the heading; on a loaded machine they may come later
            expect(page.locator('[data-testid="stMetricLabel"]').filter(
                has_text=metric_label("accuracy"))).to_be_visible()  # fmt: skip
            shown = _metric_values(page)
            for metric, value in report.challenger.metrics.items():
                assert shown[metric_label(metric)] == format_metric(value), (metric, shown)
            expect(page.get_by_text(report.sha256())).to_be_visible()
            frame = page.frame_locator("iframe").first
            expect(frame.locator("body")).to_contain_text(
                format_metric(report.challenger.metrics["roc_auc"])
            )
            for heading in ("Gates", "Data validation", "Lineage", "Staging smoke test"):
                expect(page.get_by_role("heading", name=heading)).to_be_visible()
            expect(
                page.get_by_text("Aliases: staging · staging smoke test: passed")
            ).to_be_visible()
            _shot(page, "review")
            README_IMAGE.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "review-top.png"))  # the first screen, for the README
            if os.environ.get("UPDATE_SCREENSHOTS") or not README_IMAGE.exists():
                shutil.copyfile(SHOTS / "review-top.png", README_IMAGE)  # tracked: only on request

            # --- approve with a reason; the rollout runs and finishes ---------------------
            page.get_by_role("link", name="Decide on version 1").click()
            _wait_idle(page)
            reason = "Beats the bar on every gate; staging smoke test passed."
            page.get_by_label(re.compile("Reason")).fill(reason)
            # a double click: still exactly one decision and one rollout (asserted below)
            page.get_by_role("button", name=re.compile("Approve and promote")).dblclick()
            # the second click lost the race and says so; the banner is the one decision
            expect(page.get_by_text(re.compile(r"^APPROVED by alice"))).to_be_visible()
            expect(page.get_by_text("succeeded", exact=False)).to_be_visible(timeout=400_000)
            _shot(page, "decision-approved")
            tags = client.get_model_version(name, "1").tags
            assert tags["approval_decision"] == "approved"
            assert tags["approval_reviewer"] == REVIEWER
            assert tags["approval_reason"] == reason
            assert tags["approval_report_sha256"] == report.sha256()
            assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
            assert [(s.job.action, s.job.version) for s in list_jobs()] == [("promote", "1")]

            # --- version 2 (staging smoke test failed): only a rejection is offered ---------
            _goto_page(page, "Pending approvals")
            expect(page.get_by_text("No version awaits a decision.")).to_be_visible()
            _goto_page(page, "Version review")
            page.locator('[data-testid="stSelectbox"]').click()
            page.get_by_role("option", name="2", exact=True).click()
            _wait_idle(page)
            expect(page.get_by_text("staging smoke test: failed")).to_be_visible()
            page.get_by_role("link", name="Decide on version 2").click()
            _wait_idle(page)
            expect(
                page.get_by_text(
                    "Its staging smoke test failed: this version can only be rejected."
                )
            ).to_be_visible()
            approve = page.get_by_role("button", name=re.compile("Approve and promote"))
            expect(approve).to_be_disabled()
            page.get_by_label(re.compile("Reason")).fill("Its staging smoke test failed.")
            page.get_by_role("button", name="Reject").click()
            expect(page.get_by_text(re.compile(r"^REJECTED by alice"))).to_be_visible()
            assert client.get_model_version(name, "2").tags["approval_decision"] == "rejected"

            # --- deployments and history --------------------------------------------------
            _goto_page(page, "Deployments and history")
            expect(page.get_by_text("Health: healthy").last).to_be_visible()
            _shot(page, "deployments")
            events = [e.event for e in read_events(name) if not e.event.startswith("staging_")]
            assert events == ["approved", "promotion_started", "promoted", "rejected"], events
        finally:
            browser.close()
