"""The gpu-k8s stack proven without a cluster: registration, validation, compiled pipelines, pods.

Only the Kubernetes API is absent. The stack is registered from stacks/gpu-k8s.yaml into the
session's ZenML store (with dummy secrets and a fake kubeconfig), validated by ZenML, and every
pipeline is compiled for it; the step Jobs come from the orchestrator's own manifest functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from zenml.enums import StackComponentType

from mlcicd.errors import PipelineInputError
from mlcicd.stack.loader import ensure_stack, load_stack_spec, sync_secrets
from tests.helpers.kubernetes import GPU_K8S_ENV, write_kubeconfig
from tests.helpers.pod_security import baseline_violations, restricted_violations

REPO_ROOT = Path(__file__).resolve().parents[2]
K8S_FIXTURES = REPO_ROOT / "tests" / "fixtures" / "k8s"
SELDON_FIXTURES = REPO_ROOT / "tests" / "fixtures" / "seldon"
TRAINING_IMAGE = "registry.example.com/ml-cicd/zenml:training_pipeline-orchestrator"


def golden(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


# --------------------------------------------------------------------------------------------
# registration and validation


def test_stack_has_every_component_and_passes_zenml_validation(gpu_k8s_stack, zenml_client):
    # ZenML adds its implicit log store (flavor "artifact") once anything has read
    # `stack.log_store`, e.g. another test's compile: not a component of the stack file
    flavors = {
        ctype: component.flavor
        for ctype, component in gpu_k8s_stack.components.items()
        if ctype != StackComponentType.LOG_STORE
    }
    assert flavors == {
        StackComponentType.ORCHESTRATOR: "kubernetes",
        StackComponentType.ARTIFACT_STORE: "s3",
        StackComponentType.CONTAINER_REGISTRY: "default",
        StackComponentType.IMAGE_BUILDER: "kaniko",
        StackComponentType.EXPERIMENT_TRACKER: "mlflow",
        StackComponentType.MODEL_REGISTRY: "mlflow",
        StackComponentType.MODEL_DEPLOYER: "seldon",
        StackComponentType.ALERTER: "slack-alerts",
    }
    gpu_k8s_stack.validate()  # reads the fake kubeconfig's context; contacts nothing
    assert gpu_k8s_stack.requires_remote_server
    orchestrator = gpu_k8s_stack.orchestrator.config
    assert (orchestrator.kubernetes_context, orchestrator.kubernetes_namespace) == (
        "gpu-cluster",
        "ml-pipelines",
    )
    assert orchestrator.service_account_name == "zenml-runner"
    store = gpu_k8s_stack.artifact_store.config
    assert store.path == "s3://ml-cicd-artifacts/zenml"
    assert store.client_kwargs == {"endpoint_url": "http://minio.minio.svc.cluster.local:9000"}
    deployer = gpu_k8s_stack.model_deployer.config
    assert (deployer.kubernetes_namespace, deployer.base_url, deployer.kubernetes_secret_name) == (
        "ml-serving",
        "https://models.example.com",
        "model-storage",
    )
    # Credentials stay in ZenML secrets: the stored component holds only the references.
    stored = zenml_client.get_stack_component(
        StackComponentType.EXPERIMENT_TRACKER,
        "gpu-k8s-mlflow-tracker",
        allow_name_prefix_match=False,
    ).configuration
    assert stored["tracking_password"] == "{{gpu-k8s-mlflow.password}}"
    secret = zenml_client.get_secret("gpu-k8s-mlflow", allow_partial_name_match=False)
    assert secret.secret_values == {"username": "ci", "password": "dummy-password"}
    # ...and resolve to the secret's values when ZenML instantiates the component.
    assert gpu_k8s_stack.experiment_tracker.config.tracking_password == "dummy-password"


def test_registration_is_idempotent_and_follows_secret_changes(gpu_k8s_stack, monkeypatch):
    again = ensure_stack("gpu-k8s", activate=False, allow_local_store=True)
    assert (again.created, again.updated, again.secrets_created, again.secrets_updated) == (
        [],
        [],
        [],
        [],
    )
    assert not again.stack_created and not again.stack_updated
    monkeypatch.setenv("GPU_K8S_MLFLOW_PASSWORD", "rotated")
    rotated = ensure_stack("gpu-k8s", activate=False, allow_local_store=True)
    assert rotated.secrets_updated == ["gpu-k8s-mlflow"] and rotated.updated == []
    monkeypatch.setenv("GPU_K8S_MLFLOW_PASSWORD", GPU_K8S_ENV["GPU_K8S_MLFLOW_PASSWORD"])
    assert ensure_stack("gpu-k8s", activate=False, allow_local_store=True).secrets_updated == [
        "gpu-k8s-mlflow"
    ]


def test_each_environment_registers_its_own_stack_and_secrets(
    gpu_k8s_env, zenml_client, monkeypatch
):
    """A staging deploy never rewrites the credentials a production run's pods resolve."""
    staging = ensure_stack("gpu-k8s", activate=False, allow_local_store=True, environment="staging")
    monkeypatch.setenv("GPU_K8S_MLFLOW_PASSWORD", "production-password")
    monkeypatch.setenv("GPU_K8S_NAMESPACE", "ml-pipelines-production")
    production = ensure_stack(
        "gpu-k8s", activate=False, allow_local_store=True, environment="production"
    )
    assert (staging.name, production.name) == ("gpu-k8s-staging", "gpu-k8s-production")
    assert (
        production.secrets_updated == []
        and "gpu-k8s-production-mlflow" in production.secrets_created
    )

    def password(secret: str) -> str:
        return zenml_client.get_secret(secret, allow_partial_name_match=False).secret_values[
            "password"
        ]

    assert password("gpu-k8s-staging-mlflow") == "dummy-password"
    assert password("gpu-k8s-production-mlflow") == "production-password"
    for environment, namespace in (
        ("staging", "ml-pipelines"),
        ("production", "ml-pipelines-production"),
    ):
        stack = zenml_client.get_stack(f"gpu-k8s-{environment}", allow_name_prefix_match=False)
        (orchestrator,) = stack.components[StackComponentType.ORCHESTRATOR]
        assert orchestrator.name == f"gpu-k8s-{environment}-orchestrator"
        assert orchestrator.configuration["kubernetes_namespace"] == namespace
        (tracker,) = stack.components[StackComponentType.EXPERIMENT_TRACKER]
        assert tracker.configuration["tracking_password"] == (
            f"{{{{gpu-k8s-{environment}-mlflow.password}}}}"
        )
    assert zenml_client.active_stack_model.name == "local"


def test_the_stack_is_refused_on_a_local_store(gpu_k8s_env, zenml_client):
    with pytest.raises(PipelineInputError) as info:
        ensure_stack("gpu-k8s")
    message = str(info.value)
    for needed in ("ZENML_STORE_URL", "ZENML_STORE_API_KEY", "zenml login", "--dry-run"):
        assert needed in message
    assert zenml_client.active_stack_model.name == "local"


def test_a_missing_variable_is_named(gpu_k8s_env, monkeypatch):
    monkeypatch.delenv("GPU_K8S_CONTEXT")
    with pytest.raises(PipelineInputError, match="environment variable GPU_K8S_CONTEXT, which"):
        load_stack_spec("gpu-k8s")
    monkeypatch.delenv("GPU_K8S_MLFLOW_PASSWORD")
    with pytest.raises(
        PipelineInputError,
        match=r"needs these environment variables, which are not set: "
        r"GPU_K8S_MLFLOW_PASSWORD, GPU_K8S_CONTEXT \(see docs/gpu-k8s.md\)",
    ):
        load_stack_spec("gpu-k8s")


def test_an_unset_optional_endpoint_leaves_the_key_out(gpu_k8s_env, monkeypatch):
    monkeypatch.delenv("GPU_K8S_S3_ENDPOINT_URL")
    spec = load_stack_spec("gpu-k8s")
    (store,) = spec["components"]["artifact_store"]
    assert store["configuration"]["client_kwargs"] == {}


def test_a_reference_to_an_unknown_secret_is_a_clear_error(zenml_client):
    spec: dict[str, Any] = {
        "stack_name": "x",
        "components": {
            "experiment_tracker": [
                {"name": "t", "flavor": "mlflow", "configuration": {"a": "{{ nope.token }}"}}
            ]
        },
    }
    with pytest.raises(
        PipelineInputError,
        match=r"references the ZenML secret 'nope' \(keys: token\).*zenml secret create nope "
        r"--token=\.\.\.",
    ):
        sync_secrets(zenml_client, spec, _sync())
    spec["secrets"] = [{"name": "nope", "values": {"other": "v"}}]
    with pytest.raises(PipelineInputError, match="secret 'nope' has no key.*token"):
        sync_secrets(zenml_client, spec, _sync())


def _sync() -> Any:
    from mlcicd.stack.loader import StackSync

    return StackSync(name="x")


def test_validation_fails_when_the_kubeconfig_lacks_the_context(
    gpu_k8s_stack, monkeypatch, tmp_path
):
    from kubernetes.config import kube_config

    other = write_kubeconfig(tmp_path / "kubeconfig", "other")
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(other))
    with pytest.raises(Exception, match="could not find a Kubernetes context named 'gpu-cluster'"):
        gpu_k8s_stack.validate()
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(tmp_path / "missing"))
    with pytest.raises(RuntimeError, match="Could not load the Kubernetes configuration"):
        gpu_k8s_stack.validate()


# --------------------------------------------------------------------------------------------
# compiled pipelines and the pods they become


def test_every_pipeline_compiles_for_the_stack(staging_dry_run):
    from mlcicd.runner.dry_run import discover_pipelines

    assert staging_dry_run.validation == "passed"
    assert staging_dry_run.pipelines == list(discover_pipelines())
    assert "training_pipeline" in staging_dry_run.pipelines
    steps = {(m.pipeline, m.step) for m in staging_dry_run.steps}
    assert ("training_pipeline", "train_model") in steps
    assert ("training_pipeline", "deploy_to_staging") in steps


def test_only_the_training_step_gets_a_gpu_and_exactly_the_configured_one(staging_dry_run):
    for manifest in staging_dry_run.steps:
        pod = manifest.pod_spec
        (container,) = pod["containers"]
        assert pod["serviceAccountName"] == "zenml-runner", manifest.step
        assert manifest.job["metadata"]["namespace"] == "ml-pipelines"
        assert container["image"] == manifest.image
        assert manifest.image.startswith("registry.example.com/ml-cicd/zenml:")
        if manifest.step == "train_model":
            assert manifest.pipeline == "training_pipeline"
            expected = golden(K8S_FIXTURES / "train_model_pod.yaml")
            assert container["resources"] == expected["resources"]
            assert pod["nodeSelector"] == expected["nodeSelector"]
            assert pod["tolerations"] == expected["tolerations"]
            assert container["image"] == TRAINING_IMAGE
        else:
            assert container["resources"] == {
                "requests": {"cpu": "1", "memory": "4Gi"},
                "limits": {"memory": "8Gi"},
            }, manifest.step
            assert "nodeSelector" not in pod and "tolerations" not in pod, manifest.step


def test_every_step_pod_loads_the_release_store_secret(staging_dry_run):
    """Staging verdicts (training) and promotions land in the shared store, not in the pod."""
    steps = {m.step for m in staging_dry_run.steps}
    assert {"deploy_to_staging", "deploy_to_production"} <= steps
    for manifest in staging_dry_run.steps:
        (container,) = manifest.pod_spec["containers"]
        assert {"secretRef": {"name": "ml-cicd-release"}} in container["envFrom"], manifest.step


def _every_pod(dry_run: Any) -> dict[str, dict[str, Any]]:
    """Each pod spec the dry run wrote: step Jobs, orchestrator Jobs, the CronJob, model pods."""
    pods = {f"{m.pipeline}/{m.step}": m.pod_spec for m in dry_run.steps}
    for pipeline, job in dry_run.orchestrators.items():
        pods[f"{pipeline}/orchestrator"] = job["spec"]["template"]["spec"]
    pods["monitoring CronJob"] = dry_run.cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    for name, document in dry_run.seldon.items():
        for predictor in document["spec"]["predictors"]:
            for index, component in enumerate(predictor["componentSpecs"]):
                pods[f"{name}/{predictor['name']}/{index}"] = component["spec"]
    return pods


def test_every_pod_passes_the_restricted_pod_security_profile(staging_dry_run):
    pods = _every_pod(staging_dry_run)
    assert len(pods) > len(staging_dry_run.steps) + 3
    for name, pod in pods.items():
        assert restricted_violations(pod) == [], name
        assert pod["securityContext"]["runAsUser"] == 10001, name  # the images' numeric user


def test_the_pod_security_check_refuses_what_the_profile_refuses(staging_dry_run):
    """The checker itself: each relaxation of a written pod is caught."""
    import copy

    (train,) = [m for m in staging_dry_run.steps if m.step == "train_model"]
    relaxations = {
        "allowPrivilegeEscalation": lambda c, p: c.pop("allowPrivilegeEscalation"),
        "capabilities": lambda c, p: c.update(capabilities={"drop": ["NET_RAW"]}),
        "runAsNonRoot": lambda c, p: (c.pop("runAsNonRoot"), p.pop("runAsNonRoot")),
        "seccompProfile": lambda c, p: p.pop("seccompProfile"),
        "runAsUser 0": lambda c, p: p.update(runAsUser=0),
    }
    for expected, relax in relaxations.items():
        pod = copy.deepcopy(train.pod_spec)
        relax(pod["containers"][0]["securityContext"], pod["securityContext"])
        assert any(expected in v for v in restricted_violations(pod)), expected
    privileged = copy.deepcopy(train.pod_spec)
    privileged["containers"][0]["securityContext"]["privileged"] = True
    privileged["volumes"] = [{"name": "host", "hostPath": {"path": "/"}}]
    assert len(baseline_violations(privileged)) == 2


def test_the_images_have_the_user_the_pods_run_as():
    """runAsUser must be a user the image has (HOME, file ownership), in both images."""
    from mlcicd.config import load_config

    user = load_config("staging")[0].kubernetes.pods.run_as_user
    for dockerfile in ("stacks/kubernetes/Dockerfile.cuda", "stacks/seldon/Dockerfile"):
        assert f"--uid {user} " in (REPO_ROOT / dockerfile).read_text(), dockerfile


def test_every_pod_pulls_with_the_registry_secret(staging_dry_run):
    for name, pod in _every_pod(staging_dry_run).items():
        assert pod["imagePullSecrets"] == [{"name": "ml-cicd-registry"}], name


def test_every_job_has_a_deadline_and_is_cleaned_up(staging_dry_run):
    """A GPU pod nobody can schedule ends at its deadline instead of staying Pending."""
    from mlcicd.config import load_config
    from mlcicd.stack.pod_settings import step_deadline_seconds

    config = load_config("staging")[0]
    pods = config.kubernetes.pods
    deadlines: dict[str, dict[str, int]] = {}
    for manifest in staging_dry_run.steps:
        spec = manifest.job["spec"]
        assert spec["ttlSecondsAfterFinished"] == pods.ttl_seconds_after_finished
        deadlines.setdefault(manifest.pipeline, {})[manifest.step] = spec["activeDeadlineSeconds"]
        assert spec["activeDeadlineSeconds"] == step_deadline_seconds(config, manifest.step)
    assert deadlines["training_pipeline"]["train_model"] == pods.gpu_step_deadline_seconds
    assert deadlines["training_pipeline"]["load_data"] == pods.step_deadline_seconds
    # the promotion step outlives the longest canary this environment can run
    promote = deadlines["promotion_pipeline"]["deploy_to_production"]
    assert promote >= pods.step_deadline_seconds + config.rollout.longest_seconds()
    for pipeline, job in staging_dry_run.orchestrators.items():
        spec = job["spec"]
        assert spec["ttlSecondsAfterFinished"] == pods.ttl_seconds_after_finished
        assert spec["activeDeadlineSeconds"] > sum(deadlines[pipeline].values()), pipeline


def test_the_written_files_match_the_manifests(staging_dry_run):
    out = staging_dry_run.out_dir
    written = yaml.safe_load((out / "training_pipeline" / "steps" / "train_model.yaml").read_text())
    (train,) = [m for m in staging_dry_run.steps if m.step == "train_model"]
    assert written == train.job
    summary = yaml.safe_load((out / "summary.yaml").read_text())
    assert (
        summary["pipelines"]["training_pipeline"]["steps"]["train_model"]["resources"]["limits"][
            "nvidia.com/gpu"
        ]
        == "1"
    )
    stack = yaml.safe_load((out / "stack.yaml").read_text())
    assert all(v == "***" for s in stack["secrets"] for v in s["values"].values())


def test_the_image_installs_the_lock_without_integration_pins(staging_dry_run):
    from mlcicd.config import load_config
    from mlcicd.stack.pod_settings import docker_settings

    settings = docker_settings(load_config("staging")[0])
    assert settings.install_stack_requirements is False
    assert settings.dockerfile == str(REPO_ROOT / "stacks" / "kubernetes" / "Dockerfile.cuda")
    assert "FROM nvidia/cuda:" in Path(settings.dockerfile).read_text()
    folder = staging_dry_run.out_dir / "training_pipeline"
    dockerfile = (folder / "Dockerfile").read_text()
    requirements = (folder / "requirements.txt").read_text()
    assert "-r .zenml_pyproject_requirements" in dockerfile
    assert ".zenml_stack_integration_requirements" not in dockerfile
    assert "torch==2.14.1" in requirements and "nvidia-cuda-runtime==" in requirements
    assert "kubernetes==25.3" in requirements and "kubernetes==18.20.0" not in requirements
    assert "pytest" not in requirements  # dev tools stay out of the image


def test_the_local_stack_gets_no_kubernetes_settings():
    from mlcicd.config import load_config
    from mlcicd.stack.pod_settings import run_options

    config, _ = load_config("local")
    assert run_options(config, load_stack_spec("local")).empty


def test_a_gpu_step_the_pipeline_lacks_is_an_error(gpu_k8s_env):
    from mlcicd.config import load_config
    from mlcicd.stack.pod_settings import run_options

    config, _ = load_config("staging")
    raw = config.model_dump(mode="json", by_alias=True)
    raw["kubernetes"]["gpu"]["steps"] = ["train_modle"]
    from mlcicd.config import RunConfig

    typo = RunConfig.model_validate(raw)
    with pytest.raises(PipelineInputError, match=r"\['train_modle'\].*train_model"):
        run_options(typo, load_stack_spec("gpu-k8s"), ["load_data", "train_model"])


def test_seldon_documents_match_the_golden_files(staging_dry_run):
    assert sorted(staging_dry_run.seldon) == [
        "adult-income-classifier-production",
        "adult-income-classifier-staging",
    ]
    for name, document in staging_dry_run.seldon.items():
        assert document == golden(SELDON_FIXTURES / f"gpu-k8s-{name.rsplit('-', 1)[1]}.yaml")
        written = staging_dry_run.out_dir / "seldon" / f"{name}.yaml"
        assert yaml.safe_load(written.read_text()) == document


# --------------------------------------------------------------------------------------------
# the command line


def test_dry_run_command_writes_manifests_without_touching_the_session_store(
    gpu_k8s_env, zenml_client, tmp_path, capsys
):
    from mlcicd.cli import main as run

    code = run.main(["--env", "staging", "--dry-run", str(tmp_path / "out")])
    output = capsys.readouterr()
    assert code == 0, output.err
    assert "stack.validate(): passed" in output.out
    assert "training_pipeline/train_model" in output.out and "gpus=1" in output.out
    assert (tmp_path / "out" / "training_pipeline" / "steps" / "train_model.yaml").is_file()
    assert (tmp_path / "out" / "seldon" / "adult-income-classifier-staging.yaml").is_file()
    from zenml.client import Client

    assert Client().active_stack_model.name == "local"  # the session store is back


def test_dry_run_command_names_a_missing_variable(gpu_k8s_env, monkeypatch, tmp_path, capsys):
    from mlcicd.cli import main as run

    monkeypatch.delenv("GPU_K8S_REGISTRY")
    assert run.main(["--env", "staging", "--dry-run", str(tmp_path)]) == 1
    assert "environment variable GPU_K8S_REGISTRY, which is not set" in capsys.readouterr().err


def test_dry_run_refuses_a_stack_without_kubernetes(tmp_path, capsys):
    from mlcicd.cli import main as run

    assert run.main(["--stack", "local", "--dry-run", str(tmp_path)]) == 1
    assert "has no Kubernetes orchestrator" in capsys.readouterr().err


def test_the_dry_run_shows_the_monitoring_schedule_as_a_cron_job(staging_dry_run):
    """`run.py monitor --schedule` on gpu-k8s: ZenML's orchestrator makes this CronJob."""
    from mlcicd.config import load_config

    schedule = load_config("staging")[0].monitoring.schedule
    cron = staging_dry_run.cron_job
    assert cron["kind"] == "CronJob" and cron["apiVersion"] == "batch/v1"
    assert cron["metadata"]["namespace"] == GPU_K8S_ENV["GPU_K8S_NAMESPACE"]
    spec = cron["spec"]
    assert spec["schedule"] == schedule.cron
    assert spec["concurrencyPolicy"] == "Forbid"  # a slow run is never overlapped
    assert spec["startingDeadlineSeconds"] == schedule.starting_deadline_seconds
    assert spec["successfulJobsHistoryLimit"] == spec["failedJobsHistoryLimit"] == 3
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == GPU_K8S_ENV["GPU_K8S_SERVICE_ACCOUNT"]
    (container,) = pod["containers"]
    assert container["command"][-1].endswith("kubernetes_orchestrator_entrypoint")
    assert container["args"][0] == "--snapshot_id"
    assert container["image"].startswith(GPU_K8S_ENV["GPU_K8S_REGISTRY"])
    written = staging_dry_run.out_dir / "monitoring_pipeline" / "cronjob.yaml"
    assert yaml.safe_load(written.read_text()) == cron
