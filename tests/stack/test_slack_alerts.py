"""Monitoring alerts on gpu-k8s go through ZenML's real SlackAlerter and slack_sdk's WebClient.

Slack itself cannot run here, so its Web API is answered by a small stand-in on 127.0.0.1 (the
only thing simulated besides the Kubernetes API): `chat.postMessage` as Slack documents it,
bearer token checked, `channel_not_found` for an unknown channel. The stack, its secret, the
alerter component, the ZenML alerter code and the monitor's alert posting are the real ones.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from mlcicd.config import load_config
from mlcicd.monitoring.actions import decide_actions
from mlcicd.monitoring.alerter import SLACK_FLAVOR_NAME, post_alerts
from mlcicd.reporting.monitoring import Breach, MonitoringReport
from tests.helpers.kubernetes import GPU_K8S_ENV

CHANNEL = GPU_K8S_ENV["GPU_K8S_SLACK_CHANNEL_ID"]


class SlackStandIn(ThreadingHTTPServer):
    """Slack's Web API for the methods the alerter calls; remembers every accepted message."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SlackHandler)
        self.messages: list[dict[str, Any]] = []
        self.channels = {CHANNEL}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/"


class _SlackHandler(BaseHTTPRequestHandler):
    server: SlackStandIn

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        if "json" in (self.headers.get("Content-Type") or ""):
            fields = json.loads(body or "{}")
        else:
            fields = {k: v[0] for k, v in parse_qs(body).items()}
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        if token != GPU_K8S_ENV["GPU_K8S_SLACK_TOKEN"]:
            answer: dict[str, Any] = {"ok": False, "error": "invalid_auth"}
        elif self.path != "/api/chat.postMessage":
            answer = {"ok": False, "error": "unknown_method"}
        elif fields.get("channel") not in self.server.channels:
            answer = {"ok": False, "error": "channel_not_found"}
        else:
            self.server.messages.append(fields)
            answer = {"ok": True, "channel": fields["channel"], "ts": "1733212800.000100"}
        payload = json.dumps(answer).encode()
        self.send_response(200)  # Slack answers errors with 200 and ok: false
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackStandIn]:
    """The stand-in, and slack_sdk's WebClient in ZenML's alerter pointed at it."""
    import slack_sdk
    from zenml.integrations.slack.alerters import slack_alerter

    server = SlackStandIn()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = functools.partial(slack_sdk.WebClient, base_url=server.base_url)
    monkeypatch.setattr(slack_alerter, "WebClient", client)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _report() -> tuple[Any, MonitoringReport]:
    config, _ = load_config("production")
    report = MonitoringReport(
        model_name=config.model_name, environment="production", champion_version="3",
        created_at="2026-12-01T10:00:00+00:00", since="2026-12-01T08:00:00+00:00",
        until="2026-12-01T10:00:00+00:00", window_minutes=60, sources=[], lines_read=0,
        lines_skipped=0, latency_baseline_ms=5.0, windows=[], note="",
        breaches=[Breach(kind="errors", metric="error_rate", value=0.04, threshold=0.01,
                         config_key="monitoring.thresholds.max_error_rate",
                         message="error rate 4.0 % > 1.0 % (window 09:00)")],
    )  # fmt: skip
    report.actions = decide_actions(report.all_breaches, config.monitoring)
    return config, report


def test_the_gpu_k8s_stack_alerts_through_zenmls_slack_alerter(gpu_k8s_stack, slack) -> None:
    from zenml.integrations.slack.alerters.slack_alerter import SlackAlerter

    alerter = gpu_k8s_stack.alerter
    assert alerter.flavor == SLACK_FLAVOR_NAME and isinstance(alerter, SlackAlerter)
    config, report = _report()
    assert report.actions, "an error breach must lead to an action"
    post_alerts(report, config, alerter)
    (message,) = slack.messages
    assert message["channel"] == CHANNEL
    assert "[production] adult-income-classifier v3" in message["text"]
    assert "error rate 4.0 % > 1.0 %" in message["text"]
    assert report.actions[0].detail == "alert posted through 'gpu-k8s-slack-alerter'"


def test_a_post_slack_refuses_is_reported_not_lost(gpu_k8s_stack, slack) -> None:
    slack.channels.clear()  # the bot was removed from the channel
    config, report = _report()
    post_alerts(report, config, gpu_k8s_stack.alerter)
    assert slack.messages == []
    assert report.actions[0].detail.startswith("alert NOT posted through 'gpu-k8s-slack-alerter'")


def test_registration_never_calls_slack(gpu_k8s_stack) -> None:
    """The offline dry run registers this stack: the config check must not reach slack.com."""
    config = gpu_k8s_stack.alerter.config
    assert config.is_valid
    assert config.slack_channel_id == CHANNEL


def test_a_scheduled_run_alerts_and_says_who_takes_the_action(gpu_k8s_stack, slack) -> None:
    """A CronJob run has no runner after it: the alert and the report name `run.py monitor`."""
    config, report = _report()
    post_alerts(report, config, gpu_k8s_stack.alerter, scheduled=True)
    (message,) = slack.messages
    (record,) = report.actions
    assert record.outcome.startswith("not taken: a scheduled run only alerts")
    assert f"python run.py --env {config.environment} monitor" in record.outcome
    assert record.outcome in message["text"]
