"""The contract between the workflows, the CLI, the stack's variables and the docs.

A workflow that calls a flag run.py no longer has, forgets a variable the stack needs, names a
secret no document explains, or loosens its security rules fails here, before GitHub runs it.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from mlcicd.cli.main import build_parser
from mlcicd.paths import REPO_ROOT
from tests.unit.test_workflows import GITHUB_SHELL, WORKFLOWS, WORKFLOWS_DIR, load_workflow

GPU_K8S_DOC = (REPO_ROOT / "docs" / "gpu-k8s.md").read_text(encoding="utf-8")
README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
STACK_VARIABLES = sorted(
    set(
        re.findall(
            r"\$\{(GPU_K8S_[A-Z0-9_]+)\}", (REPO_ROOT / "stacks" / "gpu-k8s.yaml").read_text()
        )
    )
)
OPTIONAL_VARIABLES = {"GPU_K8S_S3_ENDPOINT_URL"}  # unset = AWS S3
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def _steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    return [
        (name, job, step)
        for name, job in workflow["jobs"].items()
        for step in job.get("steps", [])  # a reusable-workflow call has none of its own
    ]


def _run_py_calls(script: str) -> list[list[str]]:
    """Every `run.py ...` command of a script, continuations joined, variables as placeholders."""
    joined = re.sub(r"\\\n\s*", " ", script)
    calls = []
    for line in joined.splitlines():
        if "run.py" not in line or line.strip().startswith(("#", "echo")):
            continue
        command = line.split("run.py", 1)[1].split("||")[0].split("|")[0]
        words = shlex.split(re.sub(r'"?\$\{?[A-Z_]+\}?"?', "PLACEHOLDER", command))
        calls.append(words)
    return calls


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_run_py_call_in_a_workflow_parses(path: Path) -> None:
    parser = build_parser()
    found = 0
    for _, _, step in _steps(load_workflow(path)):
        for words in _run_py_calls(step.get("run", "")):
            found += 1
            try:
                parser.parse_args(words)
            except SystemExit:
                pytest.fail(f"{path.name}: `run.py {' '.join(words)}` does not parse")
    assert found or path.name in {"ci.yml", "images.yml"}  # no run.py: lint and test, build


@pytest.mark.parametrize("name", ["deploy.yml", "monitor.yml", "promote.yml"])
def test_cluster_workflows_set_every_variable_the_stack_needs(name: str) -> None:
    workflow = load_workflow(WORKFLOWS_DIR / name)
    for job_name, job in workflow["jobs"].items():
        if job_name in {"changes", "images"}:  # deploy.yml's diff check and image build
            continue  # touch no cluster
        env = job.get("env", {})
        missing = [v for v in STACK_VARIABLES if env.get(v) != f"${{{{ secrets.{v} }}}}"]
        assert not missing, f"{name} job {job_name} lacks {missing}"
        for key in ("ML_CICD_RELEASE_STORE_URL", "ML_CICD_RELEASE_SIGNING_KEY"):
            assert env.get(key) == f"${{{{ secrets.{key} }}}}", f"{name} {job_name}: {key}"


def test_the_dry_run_sets_every_required_variable_with_dummies() -> None:
    job = load_workflow(WORKFLOWS_DIR / "ci.yml")["jobs"]["gpu-k8s-dry-run"]
    missing = [v for v in STACK_VARIABLES if v not in job["env"] and v not in OPTIONAL_VARIABLES]
    assert not missing


def test_every_stack_variable_and_release_setting_is_documented() -> None:
    for variable in [*STACK_VARIABLES, *OPTIONAL_VARIABLES, "ML_CICD_RELEASE_STORE_URL",
                     "ML_CICD_RELEASE_SIGNING_KEY"]:  # fmt: skip
        assert f"`{variable}`" in GPU_K8S_DOC, f"docs/gpu-k8s.md does not explain {variable}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_secret_a_workflow_reads_is_documented(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for secret in sorted(set(re.findall(r"secrets\.([A-Z0-9_]+)", text))) or ["ZENML_STORE_URL"]:
        assert f"`{secret}`" in GPU_K8S_DOC or f"`{secret}`" in README, (
            f"{path.name} reads secrets.{secret}, which no document explains"
        )


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_security_rules_every_workflow_keeps(path: Path) -> None:
    workflow = load_workflow(path)
    assert workflow["permissions"] in ({}, {"contents": "read"}), "top-level rights widen"
    for name, job in workflow["jobs"].items():
        writes = {k for k, v in job.get("permissions", {}).items() if v == "write"}
        assert writes <= {"pull-requests"}, f"{path.name} {name} writes {writes}"
        if "uses" in job:  # only this repository's own reusable workflows, at this commit
            assert job["uses"].startswith("./.github/workflows/"), f"{path.name} {name}"
            assert (REPO_ROOT / job["uses"]).is_file(), job["uses"]
    for name, _, step in _steps(workflow):
        uses = step.get("uses")
        if uses is None:
            continue
        assert SHA_PIN.match(uses), f"{path.name} {name}: {uses} is not pinned to a commit"
        if uses.startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, path.name


def test_deploy_runs_only_after_ci_passed_on_that_commit() -> None:
    deploy = load_workflow(WORKFLOWS_DIR / "deploy.yml")
    assert "push" not in deploy["on"]
    assert deploy["on"]["workflow_run"] == {
        "workflows": ["ci"], "types": ["completed"], "branches": ["main"],
    }  # fmt: skip
    assert load_workflow(WORKFLOWS_DIR / "ci.yml")["name"] == "ci"
    gate, job = deploy["jobs"]["changes"], deploy["jobs"]["train-and-deploy-staging"]
    for condition in ("workflow_run.conclusion == 'success'", "workflow_run.event == 'push'",
                      "head_repository.full_name == github.repository"):  # fmt: skip
        assert condition in gate["if"]
    images = deploy["jobs"]["images"]
    assert images["needs"] == "changes" and images["if"] == "needs.changes.outputs.code == 'true'"
    assert job["needs"] == ["changes", "images"]
    assert job["if"] == "needs.changes.outputs.code == 'true'"
    [checkout] = [s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")]
    head = "${{ github.event.workflow_run.head_sha || github.sha }}"
    assert checkout["with"]["ref"] == head
    assert images["with"]["ref"] == head  # the images are built from the commit that deploys
    # a dispatched commit is checked before anything is built or deployed
    [check] = [s for s in gate["steps"] if s.get("name") == "CI passed on the dispatched commit"]
    assert "--workflow ci.yml" in check["run"] and "--status success" in check["run"]
    assert gate["steps"][0] is check


def test_deploy_and_retrain_build_the_images_of_their_commit_and_run_them_by_digest() -> None:
    build_workflow = load_workflow(WORKFLOWS_DIR / "images.yml")
    assert set(build_workflow["on"]) == {"workflow_call"}
    (build,) = build_workflow["jobs"].values()
    assert build["environment"] == "${{ inputs.environment }}"  # its registry secrets
    builds = {
        s["id"]: s for s in build["steps"] if "docker/build-push-action@" in s.get("uses", "")
    }
    assert builds["serving"]["with"]["file"] == "stacks/seldon/Dockerfile"
    assert builds["cuda"]["with"]["file"] == "stacks/kubernetes/Dockerfile.cuda"
    for image in builds.values():
        assert image["with"]["push"] is True
        assert image["with"]["tags"].endswith(":${{ inputs.ref }}")
    [checkout] = [s for s in build["steps"] if s.get("uses", "").startswith("actions/checkout@")]
    assert checkout["with"]["ref"] == "${{ inputs.ref }}"
    assert build["outputs"]["serving"].endswith("@${{ steps.serving.outputs.digest }}")
    assert build["outputs"]["step-parent"].endswith("@${{ steps.cuda.outputs.digest }}")
    outputs = build_workflow["on"]["workflow_call"]["outputs"]
    assert outputs["serving"]["value"] == "${{ jobs.build.outputs.serving }}"
    assert outputs["step-parent"]["value"] == "${{ jobs.build.outputs.step-parent }}"
    deploy = load_workflow(WORKFLOWS_DIR / "deploy.yml")
    monitor = load_workflow(WORKFLOWS_DIR / "monitor.yml")
    for workflow, runs in ((deploy, "train-and-deploy-staging"), (monitor, "retrain")):
        images, job = workflow["jobs"]["images"], workflow["jobs"][runs]
        assert images["uses"] == "./.github/workflows/images.yml"
        assert "images" in job["needs"]
        assert job["env"]["ML_CICD_SERVING_IMAGE"] == "${{ needs.images.outputs.serving }}"
        assert job["env"]["ML_CICD_STEP_PARENT_IMAGE"] == "${{ needs.images.outputs.step-parent }}"
    # a retrain builds from the commit it trains with, in the environment it deploys to
    assert monitor["jobs"]["images"]["with"] == {
        "ref": "${{ github.sha }}", "environment": "${{ inputs.environment || 'production' }}",
    }  # fmt: skip
    # and the retrain runs only on images that were built (the retrain conditions are the
    # images job's, simulated in test_workflows.py)
    assert monitor["jobs"]["retrain"]["if"] == (
        "${{ !cancelled() && needs.images.result == 'success' }}"
    )
    from mlcicd.config.loader import IMAGE_VARIABLES

    assert set(IMAGE_VARIABLES) == {"ML_CICD_SERVING_IMAGE", "ML_CICD_STEP_PARENT_IMAGE"}


def test_ci_never_cancels_a_run_of_main_and_docs_do_not_retrain() -> None:
    ci = load_workflow(WORKFLOWS_DIR / "ci.yml")
    assert ci["concurrency"]["cancel-in-progress"] == "${{ github.ref != 'refs/heads/main' }}"
    assert "github.sha" in ci["concurrency"]["group"]  # one group per commit of main
    train = load_workflow(WORKFLOWS_DIR / "train-validate.yml")
    assert {"docs/**", "**/*.md"} <= set(train["on"]["pull_request"]["paths-ignore"])


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_jobs_that_cache_uv_prune_it(path: Path) -> None:
    for name, job in load_workflow(path)["jobs"].items():
        steps = job.get("steps", [])
        if any("actions/cache@" in s.get("uses", "") for s in steps):
            assert "uv cache prune --ci" in steps[-1].get("run", ""), f"{path.name} {name}"


def test_promote_workflow_signs_in_and_waits_for_the_protected_environment() -> None:
    promote = load_workflow(WORKFLOWS_DIR / "promote.yml")
    assert set(promote["on"]) == {"workflow_dispatch"}
    (job,) = promote["jobs"].values()
    assert job["environment"] == "production-release"
    monitor = load_workflow(WORKFLOWS_DIR / "monitor.yml")
    assert all(j.get("environment") != job["environment"] for j in monitor["jobs"].values())
    [step] = [s for s in job["steps"] if s.get("name") == "Promote"]
    [words] = _run_py_calls(step["run"])
    assert words[:3] == ["--env", "production", "promote"]
    assert "--reviewer" in words and "--password-stdin" in words
    assert step["env"]["VERSION"] == "${{ inputs.version }}"  # never inside the script


@pytest.mark.parametrize(
    ("changed", "code"),
    [(["docs/gpu-k8s.md", "README.md"], "false"), (["docs/a.md", "steps/x.py"], "true"),
     (["configs/local.yaml"], "true")],
)  # fmt: skip
def test_deploys_diff_check_skips_documentation_only_commits(
    tmp_path: Path, changed: list[str], code: str
) -> None:
    import subprocess

    step = next(s for s in load_workflow(WORKFLOWS_DIR / "deploy.yml")["jobs"]["changes"]["steps"]
                if s.get("id") == "diff")  # fmt: skip
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "seed").write_text("0")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "seed"], check=True)
    for name in changed:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("changed")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "change"], check=True)
    output = tmp_path / "github-output"
    env = {"PATH": "/usr/bin:/bin", "EVENT": "workflow_run", "GITHUB_OUTPUT": str(output)}
    subprocess.run([*GITHUB_SHELL, "-c", step["run"]], cwd=tmp_path, env=env, check=True)
    assert output.read_text().strip() == f"code={code}"


def test_every_job_that_starts_a_cluster_run_stops_it_when_cancelled() -> None:
    """A cancelled job must not leave its Kubernetes Jobs (and a GPU) running."""
    import re

    # the commands that submit a pipeline run: training (the default), monitor, promote
    launch = re.compile(
        r"run\.py --env \S+(?:\s+(?:train|monitor --since\S*|promote)\b|\s*$)", re.M
    )
    checked: list[str] = []
    for name in ("deploy.yml", "monitor.yml", "promote.yml"):
        for job_name, job in load_workflow(WORKFLOWS_DIR / name)["jobs"].items():
            scripts = [
                re.sub(r"\\\n\s*", " ", str(step.get("run", ""))) for step in job.get("steps", [])
            ]
            if not any(launch.search(script) for script in scripts):
                continue
            stops = [step for step in job["steps"] if "stop-runs" in str(step.get("run", ""))]
            assert stops, f"{name} job {job_name} starts a run but never stops it"
            assert stops[0]["if"] == "cancelled()"
            checked.append(f"{name}:{job_name}")
            assert "run.py --env" in stops[0]["run"]
    assert len(checked) == 4, checked  # deploy, monitor, retrain, promote
