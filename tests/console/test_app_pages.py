"""Console page logic with Streamlit's AppTest: real registry, real decisions, no mocks."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient
from streamlit.testing.v1 import AppTest

from mlcicd.config import RunConfig
from mlcicd.release.approvals import decide
from mlcicd.release.audit import now_utc, read_events
from mlcicd.release.rollout.analysis import Verdict, judge
from mlcicd.reporting.formatting import format_metric, metric_label
from mlcicd.serving.contract import TrafficControl
from mlcicd.serving.metrics.window import VariantWindow
from tests.helpers.console import APPTEST_MODEL, PASSWORDS
from tests.helpers.registry import register_by_hand

APP = str(Path(__file__).resolve().parents[2] / "console" / "app.py")
INF = float("inf")


@pytest.fixture
def client(console_env, tracking_uri) -> MlflowClient:
    return MlflowClient(tracking_uri=tracking_uri)


def _app(page: str | None = None, version: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    if page:
        at.switch_page(f"views/{page}.py")
    if version:
        at.query_params["version"] = version
    return at.run()


def _sign_in(at: AppTest, who: str = "alice", password: str | None = None) -> AppTest:
    at.sidebar.text_input(key="login_id").input(who)
    at.sidebar.text_input(key="login_password").input(password or PASSWORDS[who])
    at.sidebar.button[0].click()
    return at.run()


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.error]
    parts += [w.value for w in at.warning] + [i.value for i in at.info]
    parts += [s.value for s in at.success] + [s.value for s in at.sidebar.success]
    parts += [e.value for e in at.sidebar.error]
    return "\n".join(str(p) for p in parts)


def _open(at: AppTest, page: str, version: str) -> AppTest:
    at.switch_page(f"views/{page}.py")
    at.query_params["version"] = version
    return at.run()


def test_pending_lists_the_version_with_the_stored_report_numbers(client) -> None:
    version, report = register_by_hand(client, APPTEST_MODEL)
    at = _app()
    assert not at.exception, at.exception
    assert at.title[0].value == "Pending approvals"
    assert f"Version {version}" in [s.value for s in at.subheader]
    shown = {m.label: m.value for m in at.metric}  # only one candidate: aliases are unique
    for name, value in report.challenger.metrics.items():
        assert shown[metric_label(name)] == format_metric(value)


def test_the_review_page_shows_the_model_card_registered_with_the_version(client) -> None:
    from mlcicd.config import ModelCardConfig
    from mlcicd.registry.reports import MODEL_CARD_ARTIFACT
    from mlcicd.reporting.model_card import model_card_markdown

    older, _ = register_by_hand(client, APPTEST_MODEL)
    version, report = register_by_hand(client, APPTEST_MODEL)
    card = ModelCardConfig(intended_use="ranking census records for a demonstration")
    run_id = client.get_model_version(APPTEST_MODEL, version).run_id
    client.log_text(run_id, model_card_markdown(report, card, version), MODEL_CARD_ARTIFACT)

    at = _app("review", version)
    assert not at.exception, at.exception
    assert "Model card" in [s.value for s in at.subheader]
    shown = "\n".join(m.value for m in at.markdown)
    assert f"# Model card: {report.model_name} version {version}" in shown
    assert "ranking census records for a demonstration" in shown
    at = _app("review", older)  # registered without one: said so, not left blank
    assert "No model card was registered with this version" in "\n".join(
        c.value for c in at.caption
    )


def test_unauthenticated_visitors_see_nothing_that_changes_state(client) -> None:
    version, _ = register_by_hand(client, APPTEST_MODEL)
    at = _app("review", version)
    assert not at.exception, at.exception
    at = _open(at, "decision", version)
    assert "Sign in as a reviewer" in _texts(at)
    assert len(at.text_area) == 0 and len(at.form_submit_button) == 1  # only the login form
    assert at.form_submit_button[0].label == "Sign in"
    at = _sign_in(at, "alice", "wrong password!")
    assert "Unknown reviewer or wrong password." in _texts(at)
    assert len(at.text_area) == 0
    assert "approval_decision" not in client.get_model_version(APPTEST_MODEL, version).tags


def test_a_reviewer_rejects_with_a_reason_and_the_version_leaves_the_list(client) -> None:
    version, report = register_by_hand(client, APPTEST_MODEL)
    at = _sign_in(_app())
    assert "Signed in as **Alice**" in _texts(at)
    at = _open(at, "decision", version)
    assert f"Read the full review of version {version}" in _texts(at)  # review first
    at = _open(at, "review", version)
    assert not at.exception, at.exception
    assert report.sha256() in "\n".join(c.value for c in at.caption)
    at = _open(at, "decision", version)
    reject = next(b for b in at.form_submit_button if b.label == "Reject")
    reject.click()
    at = at.run()
    assert "needs a written reason" in _texts(at)
    assert "approval_decision" not in client.get_model_version(APPTEST_MODEL, version).tags
    at.text_area(key="reason").input("fairness gap looks too wide for launch")
    next(b for b in at.form_submit_button if b.label == "Reject").click()
    at = at.run()
    assert not at.exception, at.exception
    tags = client.get_model_version(APPTEST_MODEL, version).tags
    assert tags["approval_decision"] == "rejected" and tags["approval_reviewer"] == "alice"
    assert tags["approval_report_sha256"] == report.sha256()
    assert "**REJECTED** by `alice`" in _texts(at)
    events = [e.event for e in read_events(APPTEST_MODEL) if e.version == version]
    assert events == ["staging_passed", "rejected"]
    at.switch_page("views/pending.py")
    at.query_params.clear()
    at = at.run()
    assert f"Version {version}" not in [s.value for s in at.subheader]


def test_a_report_that_changed_after_review_is_refused(client) -> None:
    version, _ = register_by_hand(client, APPTEST_MODEL)
    at = _sign_in(_app("review", version), "bob")
    at.session_state["reviewed"] = {version: "0" * 64}  # what bob saw differs from what is stored
    at = _open(at, "decision", version)
    at.text_area(key="reason").input("looks good to me")
    next(b for b in at.form_submit_button if b.label == "Reject").click()
    at = at.run()
    assert "changed since it was shown" in _texts(at)
    assert "approval_decision" not in client.get_model_version(APPTEST_MODEL, version).tags


def test_a_version_whose_gates_failed_cannot_be_approved(client) -> None:
    version, _ = register_by_hand(client, APPTEST_MODEL, "evaluation_report_rejected.json")
    at = _sign_in(_app("review", version))
    at = _open(at, "decision", version)
    assert "this version can only be rejected" in _texts(at)
    approve = next(b for b in at.form_submit_button if b.label.startswith("Approve"))
    assert approve.disabled


def test_a_version_whose_staging_smoke_test_failed_cannot_be_approved(client) -> None:
    version, _ = register_by_hand(client, APPTEST_MODEL, staging="staging_failed")
    at = _app()
    assert f"Version {version}" not in [s.value for s in at.subheader]  # not pending
    at = _sign_in(_app("review", version))
    at = _open(at, "decision", version)
    assert "Its staging smoke test failed: this version can only be rejected." in _texts(at)
    approve = next(b for b in at.form_submit_button if b.label.startswith("Approve"))
    assert approve.disabled


def test_unknown_version_is_a_clear_message(client) -> None:
    at = _app("review", "999")
    assert not at.exception
    assert f"model '{APPTEST_MODEL}' has no version '999'" in _texts(at)


def test_oidc_login_records_the_identity_providers_email(client) -> None:
    version, _ = register_by_hand(client, APPTEST_MODEL)
    auth = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
            "client_id": "console", "client_secret": "s",
            "server_metadata_url": "https://idp.example.com/.well-known/openid-configuration"}  # fmt: skip
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets["auth"] = auth
    at.user = {"is_logged_in": False}
    at = at.run()
    assert [b.label for b in at.sidebar.button] == ["Sign in with your identity provider"]
    at.user = {"is_logged_in": True, "email": "carol@example.com", "name": "Carol"}
    at = _open(at, "review", version)
    at = _open(at, "decision", version)
    at.text_area(key="reason").input("not needed after all")
    next(b for b in at.form_submit_button if b.label == "Reject").click()
    at = at.run()
    assert not at.exception, at.exception
    tags = client.get_model_version(APPTEST_MODEL, version).tags
    assert tags["approval_reviewer"] == "carol@example.com"


def test_deployments_page_shows_endpoints_and_history(client) -> None:
    at = _app("deployments")
    assert not at.exception, at.exception
    assert [s.value for s in at.subheader][:2] == ["Staging", "Production"]
    assert "Sign in as a reviewer to roll back." in "\n".join(c.value for c in at.caption)


def test_two_reviewers_approving_at_once_give_one_decision_and_one_rollout(client) -> None:
    from mlcicd.runner.jobs import list_jobs

    version, report = register_by_hand(client, APPTEST_MODEL)
    pages = []
    for who in ("alice", "bob"):  # both have the form open before either submits
        at = _sign_in(_app("review", version), who)
        at = _open(at, "decision", version)
        at.text_area(key="reason").input(f"{who} says ship it")
        pages.append(at)
    before = {j.job.id for j in list_jobs(limit=500)}
    for at in pages:
        next(b for b in at.form_submit_button if b.label.startswith("Approve")).click()
    first, second = (at.run() for at in pages)
    assert not first.exception and not second.exception
    assert "**APPROVED** by `alice`" in _texts(first)
    assert "**APPROVED** by `alice`" in _texts(second)  # bob sees alice's decision, no form
    assert len(second.text_area) == 0
    tags = client.get_model_version(APPTEST_MODEL, version).tags
    assert tags["approval_reviewer"] == "alice" and tags["approval_reason"] == "alice says ship it"
    assert tags["approval_report_sha256"] == report.sha256()
    started = [j for j in list_jobs(limit=500) if j.job.id not in before]
    assert [(j.job.action, j.job.version, j.job.actor) for j in started] == [
        ("promote", version, "alice")
    ]
    # a hand-registered version has no loadable model: the rollout fails cleanly, nothing moves
    job = started[0].job.id
    from mlcicd.runner.jobs import job_status

    deadline = time.monotonic() + 300
    status = job_status(job)
    while status is not None and not status.finished and time.monotonic() < deadline:
        time.sleep(1)
        status = job_status(job)
    assert status is not None
    assert status.state == "failed", status.output
    whole = job_status(job, tail_lines=100_000)
    assert whole is not None and f"promote {APPTEST_MODEL} version {version} by alice" in (
        whole.output
    )  # the console's token signed the job in as alice
    assert "ERROR" in status.output and "Traceback" not in status.output.split("ERROR")[-1]
    assert "champion" not in (client.get_registered_model(APPTEST_MODEL).aliases or {})


def test_a_decision_taken_elsewhere_meanwhile_wins_and_starts_nothing(client) -> None:
    from mlcicd.runner.jobs import list_jobs

    version, report = register_by_hand(client, APPTEST_MODEL)
    at = _sign_in(_app("review", version), "bob")
    at = _open(at, "decision", version)
    at.text_area(key="reason").input("bob approves")
    # meanwhile another console process (or a script) records a rejection
    decide(client, APPTEST_MODEL, version, "rejected", "carol", "not this one", report.sha256())
    before = {j.job.id for j in list_jobs(limit=500)}
    next(b for b in at.form_submit_button if b.label.startswith("Approve")).click()
    at = at.run()
    assert f"version {version} was already rejected by carol" in _texts(at)
    assert {j.job.id for j in list_jobs(limit=500)} == before
    assert client.get_model_version(APPTEST_MODEL, version).tags["approval_reviewer"] == "carol"


def test_rollback_needs_a_reviewer_a_reason_and_a_confirmation(client) -> None:
    from mlcicd.runner.jobs import job_status, list_jobs, running_job

    # One release at a time: a promotion an earlier test started must end first (the page
    # refuses a rollback while one runs).
    deadline = time.monotonic() + 300
    while running_job() is not None and time.monotonic() < deadline:
        time.sleep(1)
    assert running_job() is None, "an earlier test's release job is still running"
    version, report = register_by_hand(client, APPTEST_MODEL)
    decide(client, APPTEST_MODEL, version, "approved", "alice", "fine", report.sha256())
    at = _app("deployments")
    assert "Sign in as a reviewer to roll back." in "\n".join(c.value for c in at.caption)
    at = _sign_in(at)
    at.selectbox[0].select(version)
    before = {j.job.id for j in list_jobs(limit=500)}
    rollback = next(b for b in at.form_submit_button if b.label == "Roll back production")
    rollback.click()
    at = at.run()
    assert "needs a written reason" in _texts(at)
    at.text_area(key="rollback_reason").input("error rate alarm")
    next(b for b in at.form_submit_button if b.label == "Roll back production").click()
    at = at.run()
    assert "Tick the confirmation first." in _texts(at)
    assert {j.job.id for j in list_jobs(limit=500)} == before
    at.checkbox[0].check()
    next(b for b in at.form_submit_button if b.label == "Roll back production").click()
    at = at.run()
    assert not at.exception, at.exception
    [job] = [j for j in list_jobs(limit=500) if j.job.id not in before]
    assert (job.job.action, job.job.version, job.job.actor) == ("rollback", version, "alice")
    assert job.job.command[-5:] == ["rollback", "--to-version", version, "--reason",
                                    "error rate alarm"]  # fmt: skip
    assert "ML_CICD_RELEASE_TOKEN" not in " ".join(job.job.command)  # in its environment only
    deadline = time.monotonic() + 300
    status = job_status(job.job.id)
    while status is not None and not status.finished and time.monotonic() < deadline:
        time.sleep(1)
        status = job_status(job.job.id)
    assert status is not None and status.state == "failed"  # no loadable model was registered
    whole = job_status(job.job.id, tail_lines=100_000)
    assert whole is not None and f"rollback {APPTEST_MODEL} version {version} by alice" in (
        whole.output
    )  # the console's token signed the job in as alice
    assert "champion" not in (client.get_registered_model(APPTEST_MODEL).aliases or {})


# -- rollouts: the Deployments page during a rollout, the shadow report on the review page --------


@pytest.fixture
def production(console_env, zenml_client) -> Iterator[tuple[RunConfig, TrafficControl]]:
    """The console config and the real local traffic control of its production environment.

    Whatever rollout record or abort request a test leaves is removed afterwards, so no later
    promotion in this session finds a "running" rollout.
    """
    from mlcicd.config import load_config
    from mlcicd.release.rollout.aborts import clear_abort
    from mlcicd.serving.backends import serving_backend

    config, _ = load_config(str(console_env))
    traffic = serving_backend(config).traffic()
    yield config, traffic
    traffic.write_rollout("production", None)
    clear_abort(APPTEST_MODEL, "production")


def _windows(
    version: str, requests: float, errors: float = 0.0, seconds: float = 20.0
) -> VariantWindow:
    """A version's window as the direct source gives it: all timed under 10 ms, p in (0.2, 0.3]."""
    latency = ((0.005, requests / 2), (0.01, requests), (INF, requests))
    probability = ((0.2, 0.0), (0.3, requests), (INF, requests))
    return VariantWindow(version, requests, errors, latency, probability, seconds)


def _canary_run(config: RunConfig, traffic: TrafficControl) -> tuple[Any, list[Verdict]]:
    """A canary rollout of v12 beside v11 as the engine records it after two judged windows."""
    from mlcicd.release.rollout.engine import _Run

    first = config.rollout.canary.steps[0]
    step = f"canary {first.weight} %"
    analysis = config.rollout.analysis
    verdicts = [
        judge(step, _windows("12", 30), _windows("11", 120), analysis, first.min_requests),
        judge(step, _windows("12", 400, 2), _windows("11", 1600), analysis, first.min_requests),
    ]
    run = _Run(traffic, "production", "canary", "12", "11", APPTEST_MODEL, lambda _: None)
    run.step, run.verdicts = step, list(verdicts)
    run.record()
    return run, verdicts


def _refreshed(at: AppTest) -> AppTest:
    next(b for b in at.button if b.label == "Refresh").click()
    return at.run()


def _verdict_frame(at: AppTest) -> Any:
    return next(d.value for d in at.dataframe if "check" in d.value.columns)


def _abort_buttons(at: AppTest) -> list[str]:
    return [b.label for b in at.form_submit_button if b.label == "Abort rollout"]


def test_a_running_rollout_shows_its_step_and_verdicts_and_no_abort_to_visitors(
    production,
) -> None:
    config, traffic = production
    _, verdicts = _canary_run(config, traffic)
    assert [v.outcome for v in verdicts] == ["waiting", "healthy"]  # what the table must say
    at = _refreshed(_app("deployments"))
    assert not at.exception, at.exception
    text = _texts(at)
    assert "canary of v12 beside stable v11: **running**" in text
    assert f"Step: **{verdicts[0].step}**" in text
    shown = _verdict_frame(at)
    expected = [
        (
            v.step,
            v.outcome,
            c.metric,
            "not judged" if c.passed is None else "yes" if c.passed else "NO",
        )
        for v in reversed(verdicts)
        for c in v.checks
    ]
    columns = (shown["step"], shown["outcome"], shown["check"], shown["passed"])
    assert list(zip(*columns, strict=True)) == expected
    newest = verdicts[-1].checks[0]
    assert (shown["value"][0], shown["threshold"][0]) == (newest.value, newest.threshold)
    assert shown["detail"][0] == newest.detail
    assert "Sign in as a reviewer to abort the rollout." in [c.value for c in at.caption]
    assert _abort_buttons(at) == []


def test_a_reviewer_aborts_a_running_rollout_with_a_reason_and_a_confirmation(
    production,
) -> None:
    from mlcicd.release.rollout.aborts import abort_requested, clear_abort

    config, traffic = production
    run, _ = _canary_run(config, traffic)
    at = _sign_in(_refreshed(_app("deployments")))
    assert _abort_buttons(at) == ["Abort rollout"]
    next(b for b in at.form_submit_button if b.label == "Abort rollout").click()
    at = at.run()
    assert "needs a written reason" in _texts(at)
    assert abort_requested(APPTEST_MODEL, "production") is None
    at.text_area(key="abort_reason_production").input("p99 alarm on the canary pods")
    next(b for b in at.form_submit_button if b.label == "Abort rollout").click()
    at = at.run()
    assert "Tick the confirmation first." in _texts(at)
    assert abort_requested(APPTEST_MODEL, "production") is None
    at.checkbox(key="abort_confirm_production").check()
    next(b for b in at.form_submit_button if b.label == "Abort rollout").click()
    at = at.run()
    assert not at.exception, at.exception
    request = abort_requested(APPTEST_MODEL, "production")
    assert request is not None
    assert (request["actor"], request["reason"]) == ("alice", "p99 alarm on the canary pods")
    assert "Abort requested by `alice`" in _texts(at)
    assert f"(every {config.rollout.analysis.interval_seconds:g} s)" in _texts(at)
    assert _abort_buttons(at) == []  # one request is pending; no second form
    # the engine sees it, rolls back and records the outcome: the page no longer offers an abort
    clear_abort(APPTEST_MODEL, "production")
    run.record("rolled_back", detail="canary 20 %: aborted by alice: p99 alarm on the canary pods")
    at = _refreshed(at)
    assert not at.exception, at.exception
    assert "beside stable v11: **rolled_back**" in _texts(at)
    assert "aborted by alice: p99 alarm" in _texts(at)
    assert _abort_buttons(at) == [] and len(_verdict_frame(at)) == 6
    assert "Sign in as a reviewer to abort the rollout." not in [c.value for c in at.caption]


def test_the_review_page_shows_the_shadow_report_logged_for_a_version(
    client, production, tmp_path
) -> None:
    import asyncio

    from mlcicd.release.review import SHADOW_ARTIFACT
    from mlcicd.release.rollout.shadow import shadow_report
    from mlcicd.serving.local.backend import LocalSeldonBackend
    from mlcicd.serving.router.shadow import ShadowLog, Side, shadow_record

    config, _ = production
    version, _ = register_by_hand(client, APPTEST_MODEL)
    without, _ = register_by_hand(client, APPTEST_MODEL, alias="")
    # the router's own shadow log, in a private serving folder (not the console's production)
    traffic = LocalSeldonBackend(tmp_path, {"production": 1}, "unused")
    started = now_utc()

    def answer(*probabilities: float) -> bytes:
        return json.dumps({"jsonData": {"probabilities": list(probabilities)}}).encode()

    sides = [
        (Side("11", 200, 0.004, answer(0.2, 0.7)), Side("12", 200, 0.006, answer(0.25, 0.9))),
        (Side("11", 200, 0.005, answer(0.4, 0.1)), Side("12", 200, 0.007, answer(0.45, 0.3))),
        (Side("11", 200, 0.004, answer(0.5)), Side("12", 503, 0.001, b"{}")),
    ]
    lines = [shadow_record(primary, shadow) for primary, shadow in sides]

    async def write() -> None:
        log = ShadowLog()
        log.start()
        for line in lines:
            log.append(str(traffic.shadow_log("production")), line)
        await log.close()

    asyncio.run(write())
    verdict = judge(
        "shadow", _windows("12", 300), _windows("11", 300), config.rollout.analysis, 200
    )
    report = shadow_report(traffic, "production", "11", "12", started, verdict)
    assert report["comparison"]["mirrored_requests"] == 3  # the log was read back
    run_id = client.get_model_version(APPTEST_MODEL, version).run_id
    client.log_dict(run_id, report, SHADOW_ARTIFACT)

    at = _app("review", version)
    assert not at.exception, at.exception
    assert "Shadow of v12 beside v11 in production: **healthy**" in _texts(at)
    shown = {m.label: m.value for m in at.metric}
    assert shown["Mirrored requests"] == "3"
    assert shown["Shadow failures"] == "1"
    assert shown["Compared rows"] == "4"
    assert shown["Max |Δp|"] == "0.2"  # |0.7 - 0.9| and |0.1 - 0.3|
    assert shown["Mean |Δp|"] == "0.125"
    assert shown["Rows with |Δp| > 0.1"] == "50.0%"
    assert [c.metric for c in verdict.checks] == list(_verdict_frame(at)["check"])
    at = _open(at, "review", without)
    assert "No shadow deployment has been run for this version." in [c.value for c in at.caption]
    assert "Mirrored requests" not in [m.label for m in at.metric]


def test_the_traffic_plots_draw_each_versions_sampled_points() -> None:
    def page() -> None:
        from datetime import UTC, datetime, timedelta

        from console.views.rollouts import traffic_charts
        from mlcicd.serving.metrics.history import History, window_point
        from mlcicd.serving.metrics.window import VariantWindow

        inf, start = float("inf"), datetime(2025, 3, 1, 12, tzinfo=UTC)
        latency = ((0.01, 10.0), (0.02, 50.0), (inf, 50.0))
        probability = ((0.5, 20.0), (1.0, 50.0), (inf, 50.0))
        busy = VariantWindow("3", 50.0, 1.0, latency, probability, 5.0)
        idle = VariantWindow("4", seconds=5.0)
        points = []
        for k in range(3):
            at = start + timedelta(seconds=5 * k)
            points += [window_point(busy, at, "stable"), window_point(idle, at, "canary")]
        traffic_charts(History(tuple(points), 5.0, 3600.0, True))

    at = AppTest.from_function(page, default_timeout=60).run()
    assert not at.exception, at.exception
    charts = [_chart_data(c) for c in at.get("vega_lite_chart")]
    assert [list(c.columns) for c in charts] == [
        ["time", "version", "requests / s"],
        ["time", "version", "error rate"],
        ["time", "series", "ms"],
        ["time", "version", "prediction mean"],
    ]
    rates, errors, latency, means = charts
    pairs = set(zip(rates["version"], rates["requests / s"], strict=True))
    assert sorted(pairs) == [("v3", 10.0), ("v4", 0.0)]  # 50 requests in 5 s; none
    assert list(errors[errors["version"] == "v3"]["error rate"]) == [0.02] * 3
    assert errors[errors["version"] == "v4"]["error rate"].isna().all()  # no requests: a gap
    by_series = latency.groupby("series")["ms"].first().to_dict()
    assert by_series["v3 p50"] == pytest.approx(13.75)  # rank 25 of 40 in (10, 20] ms
    assert by_series["v3 p99"] == pytest.approx(19.875)
    assert list(means[means["version"] == "v3"]["prediction mean"]) == pytest.approx([0.55] * 3)
    assert any("bucket midpoints" in c.value for c in at.caption)


def _chart_data(chart: Any) -> Any:
    """The data one st.line_chart sent to the browser."""
    from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

    proto = chart.proto
    data = proto.data.data if proto.HasField("data") else proto.datasets[0].data.data
    return convert_arrow_bytes_to_pandas_df(data)
