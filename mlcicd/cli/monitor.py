"""`monitor`: judge production traffic against the champion, alert, and act on what breached."""

from __future__ import annotations

import argparse
from pathlib import Path

from mlcicd.cli.common import EXIT_GATE_REJECTED, EXIT_OK, open_session
from mlcicd.cli.output import say


def add_parser(sub: argparse._SubParsersAction) -> None:
    """monitor [--since T] [--until T] [--labels FILE] [--action configured|none] ..."""
    cmd = sub.add_parser(
        "monitor",
        help="monitor production: drift, errors, latency and online metrics per window; alerts "
        "and the configured action (exit 3 when anything breached)",
    )
    cmd.add_argument(
        "--since",
        default=None,
        help="ISO-8601 time or a duration back from now (30m, 6h, 2d); default: the config's "
        "monitoring.default_since",
    )
    cmd.add_argument("--until", default=None, help="ISO-8601 time or duration (default: now)")
    cmd.add_argument(
        "--labels",
        default=None,
        metavar="FILE",
        help="CSV of delayed ground truth (request_id, label[, row]) for online metrics",
    )
    cmd.add_argument(
        "--action",
        choices=("configured", "none"),
        default="configured",
        help="take the configured action on a breach (default) or only report and alert",
    )
    cmd.add_argument(
        "--output-dir",
        default="monitoring-report",
        help="where report.json/.html/.md are written (default: monitoring-report/)",
    )
    cmd.add_argument(
        "--schedule",
        action="store_true",
        help="submit the monitoring pipeline as a ZenML schedule (monitoring.schedule: cron, "
        "look-back) instead of running it now; Kubernetes stacks only (a CronJob); scheduled "
        "runs alert, `run.py monitor` takes the actions",
    )
    cmd.add_argument(
        "--check-data",
        action="store_true",
        help="only check whether the training data changed since the champion was trained "
        "(exit 3: a retrain is due); reads no request log",
    )


def _check_data(args: argparse.Namespace) -> int:
    from mlflow import MlflowClient

    from mlcicd.monitoring.monitor import data_change_breach, monitoring_context
    from mlcicd.stack.active import active_tracking_uri

    session = open_session(args, activate=True)
    config = session.config
    client = MlflowClient(tracking_uri=active_tracking_uri())
    context = monitoring_context(client, config, config.monitoring.environment)
    breach = data_change_breach(config, context)
    if breach is None:
        champion = f"champion v{context.champion}" if context.champion else "no champion yet"
        say(f"training data unchanged ({champion}); no retrain due")
        return EXIT_OK
    say(f"DATA CHANGED: {breach.message}; a retrain is due")
    return EXIT_GATE_REJECTED


def monitor(args: argparse.Namespace) -> int:
    """Exit 0 when nothing breached, 3 when an alert fired (after its action ran)."""
    if args.check_data:
        return _check_data(args)
    if args.schedule:
        from mlcicd.runner.schedule import schedule_monitoring

        session = open_session(args)
        schedule_monitoring(session.config, session.schema, session.stack, say)
        return EXIT_OK
    from mlcicd.runner.monitor import run_monitoring

    session = open_session(args)
    config = session.config
    since = args.since or config.monitoring.default_since
    say(
        f"[monitor] {config.model_name} in {config.monitoring.environment}, since {since}, "
        f"windows of {config.monitoring.window_minutes} min"
    )
    outcome = run_monitoring(
        config,
        session.schema,
        session.stack,
        since=since,
        until=args.until,
        labels_path=args.labels,
        take_actions=args.action == "configured",
        output_dir=Path(args.output_dir),
        say=say,
    )
    report = outcome.report
    say(
        f"read {report.lines_read} log line(s) ({report.lines_skipped} skipped) from "
        f"{len(report.sources)} file(s); {len(report.windows)} window(s); champion "
        f"v{report.champion_version or '-'}"
    )
    if report.note:
        say(f"note: {report.note}")
    for window in report.windows:
        t = window.traffic
        p99 = f"{t.p99_ms:.1f} ms" if t.p99_ms is not None else "-"
        say(
            f"  {window.start}  {t.requests:>6} req  {t.error_rate:6.2%} 5xx  p99 {p99:>9}  "
            f"{window.drift.summary()}"
        )
    for breach in report.all_breaches:
        say(f"BREACH [{breach.kind}] {breach.message} (limit: {breach.config_key})")
    for record in report.actions:
        alert = f" [{record.detail}]" if record.detail else ""
        say(f"ACTION {record.action}: {record.outcome}{alert}")
    for path in outcome.files:
        say(f"wrote {path}")
    return EXIT_OK if report.healthy else EXIT_GATE_REJECTED
