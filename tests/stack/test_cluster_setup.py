"""`run.py cluster-setup`: what a cluster needs, validated offline against the Kubernetes schemas.

The schemas are the Kubernetes API's own (the kubernetes-validate package, strict: an unknown or
misspelt field fails). The pods the pipelines start are checked against the same schemas, and the
names the setup creates against the names those pods use. Applying goes through a recording
stand-in for the Kubernetes API (no cluster can run here).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from mlcicd.cli import main as run
from mlcicd.config import load_config
from mlcicd.stack.cluster import CI_SERVICE_ACCOUNT, cluster_names, manifests, secret_plans
from mlcicd.stack.loader import load_stack_spec
from tests.helpers.session import REPO_ROOT

KUBERNETES_VERSION = "1.33"
DEPLOY = REPO_ROOT / "deploy" / "k8s"
SECRET_VARIABLES = {
    "GPU_K8S_REGISTRY_USERNAME": "ci-robot",
    "GPU_K8S_REGISTRY_PASSWORD": "registry-pass-123",
    "ML_CICD_RELEASE_STORE_URL": "postgresql+psycopg://r:pw-456@db:5432/releases",
    "ML_CICD_RELEASE_SIGNING_KEY": "signing-key-789",
}


def _validate(document: dict[str, Any], strict: bool = True) -> None:
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=strict)


@pytest.fixture
def rendered(gpu_k8s_env) -> dict[str, Any]:
    config = load_config("staging")[0]
    spec = load_stack_spec("gpu-k8s")
    return {"config": config, "spec": spec, "documents": manifests(config, spec)}


def _by_kind(documents: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in documents if d["kind"] == kind]


def test_every_document_passes_the_kubernetes_schema_strictly(rendered):
    for document in rendered["documents"]:
        if document["apiVersion"].startswith("networking.istio.io"):
            continue  # Istio's CRD; its shape is checked below
        _validate(document)
    for plan in secret_plans(rendered["config"], rendered["spec"]):
        _validate(plan.document)
    (gateway,) = _by_kind(rendered["documents"], "Gateway")
    assert gateway["metadata"] == {**gateway["metadata"], "name": "seldon-gateway",
                                   "namespace": "istio-system"}  # fmt: skip
    assert gateway["spec"]["servers"][0]["port"]["protocol"] == "HTTP"


def test_the_schema_check_refuses_a_misspelt_field(rendered):
    (namespace, *_) = rendered["documents"]
    broken = {**namespace, "metdata": namespace["metadata"]}
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(broken)


def test_the_pods_the_pipelines_start_pass_the_kubernetes_schema(staging_dry_run):
    """Step Jobs, orchestrator Jobs, the CronJob, and the SeldonDeployments' pod specs.

    Not strict: ZenML 0.98 merges the container securityContext with snake_case keys set to
    null, which the API server drops with a warning (docs/gpu-k8s.md).
    """
    for manifest in staging_dry_run.steps:
        _validate(manifest.job, strict=False)
    for job in staging_dry_run.orchestrators.values():
        _validate(job, strict=False)
    _validate(staging_dry_run.cron_job, strict=False)
    for document in staging_dry_run.seldon.values():
        for predictor in document["spec"]["predictors"]:
            for component in predictor["componentSpecs"]:
                pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                       "spec": component["spec"]}  # fmt: skip
                _validate(pod)  # our own document: strict


def test_what_is_created_is_what_the_pods_use(rendered, staging_dry_run):
    documents = rendered["documents"]
    accounts = {(d["metadata"]["namespace"], d["metadata"]["name"]): d
                for d in _by_kind(documents, "ServiceAccount")}  # fmt: skip
    bindings = _by_kind(documents, "RoleBinding")
    secrets = {(p.document["metadata"]["namespace"], p.document["metadata"]["name"])
               for p in secret_plans(rendered["config"], rendered["spec"])}  # fmt: skip
    namespaces = {d["metadata"]["name"] for d in _by_kind(documents, "Namespace")}
    for manifest in staging_dry_run.steps:
        namespace = manifest.job["metadata"]["namespace"]
        pod = manifest.pod_spec
        assert (namespace, pod["serviceAccountName"]) in accounts
        assert any(b["metadata"]["namespace"] == namespace
                   and b["subjects"][0]["name"] == pod["serviceAccountName"] for b in bindings)  # fmt: skip
        for pull in pod["imagePullSecrets"]:
            assert (namespace, pull["name"]) in secrets
        for source in pod["containers"][0]["envFrom"]:
            assert (namespace, source["secretRef"]["name"]) in secrets
    for document in staging_dry_run.seldon.values():
        namespace = document["metadata"]["namespace"]
        assert namespace in namespaces
        for predictor in document["spec"]["predictors"]:
            pod = predictor["componentSpecs"][0]["spec"]
            account = accounts[(namespace, pod["serviceAccountName"])]
            assert account["automountServiceAccountToken"] is False  # model servers: no API
            for pull in pod["imagePullSecrets"]:
                assert (namespace, pull["name"]) in secrets
            for container in pod["containers"]:
                for source in container.get("envFrom", []):
                    assert (namespace, source["secretRef"]["name"]) in secrets
        # whoever deploys (step pods, CI) may write SeldonDeployments there, and nothing else
        (role,) = [
            r for r in _by_kind(documents, "Role") if r["metadata"]["namespace"] == namespace
        ]
        assert [rule["resources"] for rule in role["rules"]] == [["seldondeployments"]]


def test_rbac_is_least_privilege(rendered):
    documents = rendered["documents"]
    for role in _by_kind(documents, "Role") + _by_kind(documents, "ClusterRole"):
        for rule in role["rules"]:
            assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], role
            assert "escalate" not in rule["verbs"] and "bind" not in rule["verbs"]
            assert not {"roles", "rolebindings", "clusterroles"} & set(rule["resources"])
    (cluster_role,) = _by_kind(documents, "ClusterRole")
    assert {v for rule in cluster_role["rules"] for v in rule["verbs"]} == {"get", "list"}
    names = cluster_names(rendered["config"], rendered["spec"])
    (step_role,) = [
        r for r in _by_kind(documents, "Role") if r["metadata"]["name"] == "ml-cicd-step-pods"
    ]
    secrets_rule = next(r for r in step_role["rules"] if r["resources"] == ["secrets"])
    assert secrets_rule["verbs"] == ["delete"]  # the step pods never read other Secrets
    subjects = {s["name"] for b in _by_kind(documents, "RoleBinding") for s in b["subjects"]}
    assert subjects == {names.runner_account, CI_SERVICE_ACCOUNT}


def test_the_namespaces_enforce_pod_security(rendered):
    labels = {d["metadata"]["name"]: d["metadata"]["labels"]
              for d in _by_kind(rendered["documents"], "Namespace")}  # fmt: skip
    for name, label in labels.items():
        assert label["pod-security.kubernetes.io/warn"] == "restricted", name
        # kaniko (root) builds in the pipelines namespace; Seldon's executor keeps capabilities
        assert label["pod-security.kubernetes.io/enforce"] == "baseline", name
    assert set(labels) == {"ml-pipelines", "ml-serving-staging", "ml-serving-production"}


def test_dry_run_writes_the_setup_and_masks_every_secret(
    gpu_k8s_env, monkeypatch, tmp_path, capsys
):
    for key, value in SECRET_VARIABLES.items():
        monkeypatch.setenv(key, value)
    assert run.main(["--env", "staging", "cluster-setup", "--dry-run", str(tmp_path)]) == 0
    output = capsys.readouterr()
    assert "nothing was applied" in output.out and "would refuse" not in output.err
    written = (tmp_path / "cluster.yaml").read_text() + (tmp_path / "secrets.yaml").read_text()
    for value in [*SECRET_VARIABLES.values(), gpu_k8s_env["GPU_K8S_MLFLOW_PASSWORD"]]:
        assert value not in written
    secrets = list(yaml.safe_load_all((tmp_path / "secrets.yaml").read_text()))
    assert {s["metadata"]["name"] for s in secrets} >= {"model-storage", "ml-cicd-release"}
    assert all(set(s["stringData"].values()) == {"***"} for s in secrets)


def test_apply_refuses_before_touching_the_cluster_when_a_secret_value_is_unset(
    gpu_k8s_env, monkeypatch, capsys
):
    import mlcicd.stack.cluster_apply as cluster_apply

    def no_cluster(context):
        raise AssertionError("the cluster must not be contacted")

    monkeypatch.setattr(cluster_apply, "kubernetes_applier", no_cluster)
    for key in SECRET_VARIABLES:
        monkeypatch.delenv(key, raising=False)
    assert run.main(["--env", "staging", "cluster-setup", "--apply"]) == 1
    err = capsys.readouterr().err
    assert "set GPU_K8S_REGISTRY_PASSWORD, GPU_K8S_REGISTRY_USERNAME" in err
    assert "nothing was applied" in err


def test_apply_sends_namespaces_first_and_the_real_secret_values(gpu_k8s_env, monkeypatch, capsys):
    import mlcicd.stack.cluster_apply as cluster_apply

    applied: list[dict[str, Any]] = []
    contexts: list[str | None] = []

    def recording(context):
        contexts.append(context)
        return applied.append

    monkeypatch.setattr(cluster_apply, "kubernetes_applier", recording)
    for key, value in SECRET_VARIABLES.items():
        monkeypatch.setenv(key, value)
    assert run.main(["--env", "staging", "cluster-setup", "--apply"]) == 0, capsys.readouterr().err
    assert contexts == [gpu_k8s_env["GPU_K8S_CONTEXT"]]
    kinds = [d["kind"] for d in applied]
    assert kinds[:3] == ["Namespace"] * 3 and "Namespace" not in kinds[3:]
    release = next(d for d in applied if d["metadata"]["name"] == "ml-cicd-release")
    assert release["stringData"]["ML_CICD_RELEASE_SIGNING_KEY"] == "signing-key-789"
    pull = next(d for d in applied if d["metadata"]["name"] == "ml-cicd-registry")
    assert "ci-robot" in pull["stringData"][".dockerconfigjson"]


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_deploy_k8s_is_what_cluster_setup_renders(gpu_k8s_env, environment, tmp_path):
    """deploy/k8s/<env>/cluster.yaml: regenerate with the command in deploy/k8s/README.md."""
    assert run.main(["--env", environment, "cluster-setup", "--dry-run", str(tmp_path)]) == 0
    committed = DEPLOY / environment / "cluster.yaml"
    assert committed.read_text() == (tmp_path / "cluster.yaml").read_text()
    tracked = subprocess.run([shutil.which("git") or "git", "ls-files", "deploy/k8s"], cwd=REPO_ROOT, check=True,
                             capture_output=True, text=True).stdout.split()  # fmt: skip
    assert f"deploy/k8s/{environment}/cluster.yaml" in tracked
    assert not [path for path in tracked if path.endswith("secrets.yaml")]  # never in git


def test_the_readme_of_deploy_k8s_names_the_regeneration_command():
    readme = (DEPLOY / "README.md").read_text()
    assert "cluster-setup --dry-run deploy/k8s/staging" in readme
    assert Path(DEPLOY / "staging" / "cluster.yaml").is_file()


def _seldon_schema() -> dict[str, Any]:
    """The Seldon v1 CRD schema, strict: a field the CRD does not know is an error."""
    schema: dict[str, Any] = yaml.safe_load(
        (
            REPO_ROOT / "tests" / "fixtures" / "seldon" / "seldondeployment-v1-schema.yaml"
        ).read_text()
    )

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(schema)
    schema["properties"]["metadata"] = {"type": "object"}  # the API server's ObjectMeta
    return schema


def _seldon_documents(dry_run: Any) -> dict[str, dict[str, Any]]:
    documents = dict(dry_run.seldon)
    for name in ("single", "canary", "shadow"):
        path = REPO_ROOT / "tests" / "fixtures" / "seldon" / f"{name}.yaml"
        documents[name] = yaml.safe_load(path.read_text())
    return documents


def test_every_seldon_deployment_passes_the_seldon_v1_crd_schema(staging_dry_run):
    import jsonschema

    validator = jsonschema.Draft7Validator(_seldon_schema())
    for name, document in _seldon_documents(staging_dry_run).items():
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
        assert errors == [], name
    broken = _seldon_documents(staging_dry_run)["canary"]
    broken["spec"]["predictors"][1]["trafic"] = 10
    assert any("trafic" in e.message for e in validator.iter_errors(broken))
