"""Console page logic with Streamlit's AppTest: real registry, real decisions, no mocks."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from mlflow import MlflowClient
from streamlit.testing.v1 import AppTest

from mlcicd.release.approvals import decide
from mlcicd.release.audit import read_events
from mlcicd.reporting.formatting import format_metric, metric_label
from tests.helpers.console import APPTEST_MODEL, PASSWORDS
from tests.helpers.registry import register_by_hand

APP = str(Path(__file__).resolve().parents[2] / "console" / "app.py")


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
    assert [e.event for e in read_events(APPTEST_MODEL) if e.version == version] == ["rejected"]
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
    assert job.job.command[-6:] == [
        "--to-version", version, "--reason", "error rate alarm", "--actor", "alice",
    ]  # fmt: skip
    deadline = time.monotonic() + 300
    status = job_status(job.job.id)
    while status is not None and not status.finished and time.monotonic() < deadline:
        time.sleep(1)
        status = job_status(job.job.id)
    assert status is not None and status.state == "failed"  # no loadable model was registered
    assert "champion" not in (client.get_registered_model(APPTEST_MODEL).aliases or {})
