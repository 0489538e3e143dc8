"""The Monitoring page and the alert banner, on reports the real monitor built and MLflow keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.testing.v1 import AppTest

from mlcicd.monitoring.alerter import ALERT_EVENT
from mlcicd.release.audit import AuditEvent, append_event
from tests.helpers.console import APPTEST_MODEL
from tests.helpers.monitoring import OUTCOMES, START, build_report, empty_report, store_report

APP = str(Path(__file__).resolve().parents[2] / "console" / "app.py")


def _page(page: str = "monitoring") -> AppTest:
    st.cache_data.clear()  # the page's reads are cached for seconds, as on a server
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page(f"views/{page}.py")
    return at.run()


def _texts(at: Any) -> str:
    """Everything written as text in `at` (an AppTest, or one tab of it)."""
    parts = [m.value for m in at.markdown] + [e.value for e in at.error]
    parts += [w.value for w in at.warning] + [i.value for i in at.info]
    parts += [s.value for s in at.success] + [c.value for c in at.caption]
    parts += [s.value for s in at.subheader]
    return "\n".join(str(p) for p in parts)


def _chart_data(chart: Any) -> pd.DataFrame:
    """The rows one Altair chart sent to the browser."""
    from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

    proto = chart.proto
    data = proto.data.data if proto.HasField("data") else proto.datasets[0].data.data
    return convert_arrow_bytes_to_pandas_df(data)


def test_without_a_monitoring_run_the_page_says_how_to_start_one(console_env) -> None:
    at = _page()
    assert not at.exception, at.exception
    assert at.title[0].value == "Monitoring"
    production, staging = at.tabs
    assert "No monitoring run for production yet. Run `python run.py monitor`" in _texts(production)
    assert "No monitoring run for staging yet." in _texts(staging)
    # nothing that changes state: the page's one button re-reads, the other is the sign-in
    assert [b.label for b in at.main.button] == ["Refresh"]
    assert [b.label for b in at.button if b.label != "Refresh"] == ["Sign in"]


def test_two_stored_runs_show_breaches_drift_actions_and_trends(
    console_env, tracking_uri, adult_frames, tmp_path: Path
) -> None:
    older = build_report(APPTEST_MODEL, adult_frames, tmp_path, shift_age=0)
    newer = build_report(
        APPTEST_MODEL, adult_frames, tmp_path, start=START + timedelta(hours=2), error_every=20
    )
    assert older.healthy
    assert [b.metric for b in newer.all_breaches] == ["error_rate", "feature:age"]
    for report in (older, newer, empty_report(APPTEST_MODEL, tmp_path, "staging")):
        store_report(tracking_uri, report)  # the newest run last, as the monitor would

    at = _page()
    assert not at.exception, at.exception
    production, staging = at.tabs
    runs = production.selectbox(key="run-production")
    assert runs.options == [f"{newer.created_at} · 2 breaches", f"{older.created_at} · healthy"]
    assert (
        "**2 breaches** · champion v1 · 2026-12-01 10:00 → 2026-12-01 12:00 UTC"
        in production.error[0].value
    )
    breaches, actions, _windows, drift = (d.value for d in production.dataframe)
    assert list(breaches["Kind"]) == ["errors", "drift"]
    assert list(breaches["Config key"]) == [
        "monitoring.thresholds.max_error_rate", "drift.numeric",
    ]  # fmt: skip
    assert list(breaches["Value"]) == ["5.00%", "2.813"]
    assert "input 'age' drifted: PSI 2.813 > 0.2" in list(breaches["Message"])
    assert list(zip(actions["Action"], actions["Outcome"], strict=True)) == [
        ("rollback", OUTCOMES["rollback"]), ("retrain", OUTCOMES["retrain"]),
    ]  # fmt: skip
    assert drift["Column"][0] == "age" and drift["Verdict"][0].startswith("drifted: PSI 2.813")
    assert production.selectbox(key="feature-production").value == "age"
    text = _texts(production)
    assert "Newest window: 2026-12-01 11:00" in text
    assert "1 of 13 column(s) drifted: age (PSI 2.813 > 0.2)" in text

    charts = [_chart_data(c) for c in production.get("vega_lite_chart")]
    trend = charts[0]  # requests: every window of both runs, the selected run's marked
    assert list(trend["requests"]) == [600] * 4
    assert list(trend["run"]) == ["earlier runs"] * 2 + ["selected run"] * 2
    assert list(charts[1]["server error rate"]) == [0.0, 0.0, 0.0, 0.05]
    shares = charts[5]  # the age column: training data against this window, per bin
    assert set(shares["data"]) == {"training data", "this window"}
    assert shares["bin"].iloc[0] == "≤ 22"  # bins in their own order, not alphabetical
    predictions = charts[6]
    assert set(predictions["data"]) == {"golden set", "this window"}

    assert "This run judged no window: no request in the time range." in _texts(staging)

    runs.select(f"{older.created_at} · healthy")
    at = at.run()
    assert not at.exception, at.exception
    production = at.tabs[0]
    assert "**healthy** · champion v1" in production.success[0].value
    assert "No threshold was crossed in this run." in _texts(production)
    assert "No action was needed." in _texts(production)
    trend = _chart_data(production.get("vega_lite_chart")[0])
    assert list(trend["run"]) == ["selected run"] * 2  # only the runs up to the selected one


def _alert(hours_ago: float, reason: str, detail: str) -> None:
    at = (datetime.now(UTC) - timedelta(hours=hours_ago)).isoformat(timespec="seconds")
    event = AuditEvent(event=ALERT_EVENT, model_name=APPTEST_MODEL, version="1", actor="monitor",
                       at=at, reason=reason, environment="production", detail=detail)  # fmt: skip
    append_event(event)


def test_the_alert_banner_shows_alerts_of_the_last_day_on_every_page(console_env) -> None:
    _alert(30, "[production] an alert of yesterday", "drift -> none")
    at = _page("pending")
    assert not at.exception, at.exception
    assert "monitoring alert" not in _texts(at)
    reason = (
        f"[production] {APPTEST_MODEL} v1: 1 breach(es) -> action retrain\n"
        "- input 'age' drifted: PSI 2.813 > 0.2"
    )
    _alert(0, reason, "drift -> retrain")
    for page in ("pending", "deployments", "monitoring"):
        at = _page(page)
        assert not at.exception, at.exception
        [banner] = [w.value for w in at.warning if "monitoring alert" in w.value]
        assert "**1 monitoring alert(s) in the last 24 h**" in banner
        assert "1 breach(es) -> action retrain; input 'age' drifted: PSI 2.813 > 0.2" in banner
        assert "`production`" in banner and "drift -> retrain" in banner
        assert "an alert of yesterday" not in banner
