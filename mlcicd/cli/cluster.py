"""`run.py --env ENV cluster-setup --dry-run [DIR] | --apply` (once) and `preflight` (any time)."""

from __future__ import annotations

import argparse
from pathlib import Path

from mlcicd.cli.common import EXIT_ERROR, EXIT_OK
from mlcicd.cli.output import complain, say

HEADER = """What `python run.py --env {env} cluster-setup --apply` applies (rendered by --dry-run).
Namespaces, service accounts, RBAC and the Seldon gateway of the gpu-k8s stack, from
configs/{env}.yaml and the stack variables (docs/gpu-k8s.md); Secrets are in secrets.yaml."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The cluster-setup command."""
    parser = sub.add_parser(
        "cluster-setup",
        help="namespaces, service accounts, RBAC, the Seldon gateway and the pods' Secrets a "
        "gpu-k8s run needs (run once per cluster by an admin)",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--dry-run",
        dest="setup_out",
        nargs="?",
        const="cluster-setup",
        metavar="DIR",
        help="write cluster.yaml and secrets.yaml (values masked) to DIR (default: cluster-setup/)",
    )
    mode.add_argument(
        "--apply",
        action="store_true",
        help="server-side apply everything through the stack's kubeconfig context",
    )
    sub.add_parser(
        "stop-runs",
        help="stop the pipeline runs this machine launched that are still going (a cancelled "
        "CI job's; on Kubernetes their Jobs are deleted)",
    )
    sub.add_parser(
        "preflight",
        help="check everything a gpu-k8s run needs (ZenML server, MLflow, S3, registry, the "
        "cluster's namespaces, Secrets, Seldon CRD and gateway, GPU nodes) before any build",
    )


def cluster_setup(args: argparse.Namespace) -> int:
    """Render, and with --apply create or update, what the cluster needs."""
    from mlcicd.config.loader import load_config
    from mlcicd.errors import PipelineInputError
    from mlcicd.stack.cluster import manifests, masked, orchestrator_context, secret_plans, write
    from mlcicd.stack.loader import load_stack_spec

    config, _ = load_config(args.config)
    spec = load_stack_spec(args.stack or config.stack)
    documents = manifests(config, spec)
    plans = secret_plans(config, spec)
    missing = sorted({variable for plan in plans for variable in plan.missing})
    if args.apply:
        from mlcicd.stack.cluster_apply import apply_all, kubernetes_applier

        if missing:
            raise PipelineInputError(
                "cluster-setup --apply writes the pods' Secrets from the environment; set "
                f"{', '.join(missing)} (nothing was applied)"
            )
        applier = kubernetes_applier(orchestrator_context(spec))
        count = apply_all(documents + [plan.document for plan in plans], applier, say)
        say(f"cluster-setup applied {count} objects; next: python run.py --env "
            f"{config.environment} preflight")  # fmt: skip
        return EXIT_OK
    out = Path(args.setup_out).resolve()
    header = HEADER.format(env=config.environment)
    write(documents, out / "cluster.yaml", header)
    write([masked(plan.document) for plan in plans], out / "secrets.yaml",
          header + "\nValues masked: --apply reads them from the environment.")  # fmt: skip
    say(f"cluster-setup dry run (nothing was applied): {out}")
    for document in documents + [plan.document for plan in plans]:
        meta = document["metadata"]
        where = f" ({meta['namespace']})" if meta.get("namespace") else ""
        say(f"  {document['kind']:<19} {meta['name']}{where}")
    if missing:
        complain(f"--apply would refuse: not set: {', '.join(missing)}")
    return EXIT_OK


def preflight(args: argparse.Namespace) -> int:
    """Run every check; exit 1 when one fails, after printing them all."""
    from mlcicd.config.loader import load_config
    from mlcicd.stack.cluster import orchestrator_context
    from mlcicd.stack.loader import load_stack_spec
    from mlcicd.stack.preflight import kubernetes_apis, run_preflight

    config, _ = load_config(args.config)
    spec = load_stack_spec(args.stack or config.stack)
    checks = run_preflight(config, spec, kubernetes_apis(orchestrator_context(spec)))
    say(f"preflight of stack '{spec['stack_name']}' with configs/{config.environment}.yaml:")
    for check in checks:
        say(f"  {'ok  ' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
    failed = [check for check in checks if not check.ok]
    if failed:
        complain(f"preflight: {len(failed)} of {len(checks)} checks failed; fix them before a run "
                 "builds any image")  # fmt: skip
        return EXIT_ERROR
    say(f"preflight: all {len(checks)} checks passed")
    return EXIT_OK


def stop_runs(args: argparse.Namespace) -> int:
    """Stop what this machine launched and is still running."""
    from mlcicd.paths import prepare_environment
    from mlcicd.runner.stop_runs import stop_launched_runs

    prepare_environment()
    say("stopping the pipeline runs this machine launched:")
    stopped = stop_launched_runs(say)
    say(f"stop-runs: {len(stopped)} run(s) stopped")
    return EXIT_OK
