"""Staging: the served version answers like the registered one; a failed smoke test changes nothing."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest
import requests
from mlflow import MlflowClient

from mlcicd.cli import main as run
from mlcicd.release.approvals import (
    NotStaged,
    current_report,
    decide,
    pending_candidates,
    staging_verdict,
)
from mlcicd.release.smoke_test import row_payload


def test_staging_serves_the_new_version_and_a_failed_smoke_test_keeps_the_old_one(
    zenml_client,
    tracking_uri,
    write_config,
    adult_sample_files,
    adult_frames,
    capsys,
    serving_ports,
) -> None:
    name = "staging-flow"
    overrides = adult_sample_files(rows=2500)
    overrides["model_name"] = name
    config = str(write_config(overrides))
    assert run.main(["--config", config]) == run.EXIT_OK
    out = capsys.readouterr().out
    url = f"http://127.0.0.1:{serving_ports['staging']}/api/v1.0/predictions"
    assert f"Staging:    version 1 serves at {url}" in out

    features = [c for c in adult_frames[1].columns if c not in {"income", "fnlwgt"}]
    payload = row_payload(adult_frames[1].head(1), features)
    answer = requests.post(url, json=payload, timeout=30)
    assert answer.status_code == 200
    assert str(answer.json()["meta"]["tags"]["model_version"]) == "1"

    assert run.main(["--config", config, "status"]) == run.EXIT_OK
    status = capsys.readouterr().out
    assert f"staging     healthy    {name} v1 at {url}" in status
    # The local stack's model deployer component recorded the deployment as a ZenML service.
    deployer = zenml_client.active_stack.model_deployer
    assert deployer is not None and deployer.flavor == "local-seldon"
    (service,) = _staging_services(deployer)
    assert (service.config.model_name, service.config.model_version) == (name, "1")
    assert service.is_running and service.prediction_url == url
    info = deployer.get_model_server_info(service)
    assert info["PREDICTION_URL"] == url and info["ENVIRONMENT"] == "staging"

    slow = dict(overrides, deployment={"local_ports": serving_ports,
                                       "staging": {"smoke_p95_ms": 0.001}})  # fmt: skip
    code = run.main(["--config", str(write_config(slow, name="slow.yaml"))])
    err = capsys.readouterr().err
    assert code == run.EXIT_GATE_REJECTED
    assert (
        f"REJECTED by gate(s): staging_smoke_test; registered {name} version 2 (alias "
        "'challenger'), which can never be approved (the failure is recorded in the release store)"
    ) in err
    assert "nothing was registered" not in err
    assert "p95 latency" in err and "above the 0 ms SLA" in err
    client = MlflowClient(tracking_uri=tracking_uri)
    assert str(client.get_model_version_by_alias(name, "staging").version) == "1"
    # the failure is recorded: v2 is not pending and cannot be approved
    verdict = staging_verdict(name, "2")
    assert verdict is not None and verdict.event == "staging_failed" and "p95" in verdict.detail
    assert [c.info.version for c in pending_candidates(client, name)] == ["1"]
    report = current_report(client, name, "2")
    with pytest.raises(NotStaged, match="version 2 cannot be approved: its staging smoke test"):
        decide(client, name, "2", "approved", "alice", "ship it anyway", report.sha256())
    (service,) = _staging_services(deployer)  # the rejected version left no service record
    assert service.config.model_version == "1" and service.is_running
    still = requests.post(url, json=payload, timeout=30)
    assert still.status_code == 200
    assert str(still.json()["meta"]["tags"]["model_version"]) == "1"  # v2 never replaced v1

    # A deliberate stop, a restart, then a crash (SIGKILL) that leaves a stale PID file behind.
    assert run.main(["--config", config, "stop", "staging"]) == run.EXIT_OK
    assert "staging: stopped" in capsys.readouterr().out
    assert run.main(["--config", config, "status"]) == run.EXIT_OK
    assert f"staging     {name} v1: stopped at" in capsys.readouterr().out
    (service,) = _staging_services(deployer)
    assert not service.is_running and service.prediction_url == url
    # ZenML's own start (what `zenml model-deployer models start` calls) drives the same process.
    deployer.start_model_server(service.uuid, timeout=120)
    assert requests.post(url, json=payload, timeout=30).status_code == 200
    assert run.main(["--config", config, "stop", "staging"]) == run.EXIT_OK
    capsys.readouterr()
    assert run.main(["--config", config, "restart", "staging"]) == run.EXIT_OK
    assert f"staging: {name} v1 serves at {url}" in capsys.readouterr().out
    assert requests.post(url, json=payload, timeout=30).status_code == 200

    backend = deployer.backend(serving_ports, tracking_uri)
    state = backend.read_state("staging")
    assert state is not None
    os.killpg(state.pid, signal.SIGKILL)
    for _ in range(50):
        if not backend.is_running(state):
            break
        time.sleep(0.1)
    assert run.main(["--config", config, "status"]) == run.EXIT_OK
    assert "stale PID file" in capsys.readouterr().out
    assert run.main(["--config", config, "restart", "staging"]) == run.EXIT_OK
    assert requests.post(url, json=payload, timeout=30).status_code == 200
    assert run.main(["--config", config, "stop", "staging"]) == run.EXIT_OK


def _staging_services(deployer):
    from mlcicd.serving.local.deployer import LOCAL_SELDON_SERVICE

    found = deployer.find_model_server(service_type=LOCAL_SELDON_SERVICE)
    return [s for s in found if s.config.environment == "staging"]


def test_a_foreign_program_on_the_serving_port_is_a_clear_error(tmp_path) -> None:
    from mlcicd.serving.contract import ModelRef, ServingError
    from mlcicd.serving.local.backend import LocalSeldonBackend

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen(1)
        port = squatter.getsockname()[1]
        backend = LocalSeldonBackend(
            tmp_path,
            {"staging": port, "production": port + 1},
            f"sqlite:///{tmp_path / 'unused.db'}",
        )
        with pytest.raises(ServingError, match=f"port {port} for staging is used by another"):
            backend.deploy("staging", ModelRef("m", "1", "models:/m/1"), verify=lambda url: None)
    assert backend.read_state("staging") is None


def test_ports_must_differ_per_environment(tmp_path) -> None:
    from mlcicd.serving.contract import ServingError
    from mlcicd.serving.local.backend import LocalSeldonBackend

    with pytest.raises(ServingError, match="must differ"):
        LocalSeldonBackend(tmp_path, {"staging": 9000, "production": 9000}, "sqlite:///x.db")
