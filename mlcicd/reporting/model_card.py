"""A model card per registered version: Markdown and HTML from its evaluation report.

What was measured (data, metrics, fairness, the ONNX package, lineage) is read from the report,
so the card says the same numbers as the PR comment, the HTML report and the console; what no
measurement can say (intended use, users, out-of-scope uses, limitations, owners) comes from the
config's `model_card` section and is marked "not declared" when it is empty, never invented.
"""

from __future__ import annotations

import html
from typing import Any

from mlcicd.config import ModelCardConfig
from mlcicd.reporting.formatting import format_metric, metric_label
from mlcicd.reporting.model import EvaluationReport

NOT_DECLARED = "not declared (set model_card in the config)"
LINEAGE_KEYS = ("git_sha", "data_fingerprint", "config_fingerprint", "zenml_run_name")


Section = tuple[str, list[Any]]


def _sections(report: EvaluationReport, card: ModelCardConfig, version: str) -> list[Section]:
    """(heading, bullet lines or key/value rows), shared by both renderings."""
    facts = [
        ("model", f"{report.model_name} version {version}"),
        ("type", report.model_type),
        ("decision threshold", f"{report.threshold:g} on P({report.positive_class})"),
        ("trained", f"{report.created_at} ({report.environment}, run {report.run_name})"),
    ]
    device = report.training.get("device_name") or report.training.get("device")
    if device:
        facts.append(("trained on", str(device)))
    if report.packaging is not None and report.packaging.sha256:
        facts.append(("served as", f"ONNX, sha256 {report.packaging.sha256[:16]}..."))
    declared = [
        ("intended use", card.intended_use or NOT_DECLARED),
        ("intended users", card.intended_users or NOT_DECLARED),
        ("owners", ", ".join(card.owners) or NOT_DECLARED),
    ]
    metrics = [
        (metric_label(name), format_metric(value))
        for name, value in sorted(report.challenger.metrics.items())
    ]
    data = [
        ("golden rows evaluated", f"{report.golden_rows_evaluated:,}"),
        ("data fingerprint", report.lineage.get("data_fingerprint", "unknown")),
        ("sensitive features", ", ".join(f.feature for f in report.fairness) or "none"),
    ]
    fairness = [
        f"{f.feature}: demographic parity difference {f.demographic_parity_difference:.3f}, "
        f"equalized odds difference {f.equalized_odds_difference:.3f} "
        f"(groups judged: {', '.join(f.groups_in_verdict) or 'none'})"
        + (f"; groups: {f.definition}" if f.definition else "")
        for f in report.fairness
    ] or ["no sensitive features configured"]
    gates = [f"{g.gate}: {g.status} - {g.summary}" for g in report.gates]
    lineage = [(key, report.lineage[key]) for key in LINEAGE_KEYS if key in report.lineage]
    return [
        ("Model", facts),
        ("Intended use", declared),
        ("Out-of-scope uses", list(card.out_of_scope_uses) or [NOT_DECLARED]),
        ("Data", data),
        ("Metrics on the golden set", metrics),
        ("Fairness", fairness),
        ("Gates", gates),
        ("Limitations", list(card.limitations) or [NOT_DECLARED]),
        ("Ethical considerations", list(card.ethical_considerations) or [NOT_DECLARED]),
        ("Lineage", lineage),
    ]


def model_card_markdown(report: EvaluationReport, card: ModelCardConfig, version: str) -> str:
    """The card as Markdown (registered as `model_card/model_card.md`)."""
    lines = [f"# Model card: {report.model_name} version {version}", ""]
    for heading, body in _sections(report, card, version):
        lines += [f"## {heading}", ""]
        for item in body:
            if isinstance(item, tuple):
                lines.append(f"- **{item[0]}**: {item[1]}")
            else:
                lines.append(f"- {item}")
        lines.append("")
    return "\n".join(lines)


def model_card_html(report: EvaluationReport, card: ModelCardConfig, version: str) -> str:
    """The card as a standalone HTML page (registered as `model_card/model_card.html`)."""
    title = html.escape(f"Model card: {report.model_name} version {version}")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{title}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "line-height:1.45}th{text-align:left;padding-right:1rem}</style>",
        f"</head><body><h1>{title}</h1>",
    ]
    for heading, body in _sections(report, card, version):
        parts.append(f"<section><h2>{html.escape(heading)}</h2>")
        if body and isinstance(body[0], tuple):
            rows = "".join(
                f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                for k, v in body
            )
            parts.append(f"<table>{rows}</table>")
        else:
            items = "".join(f"<li>{html.escape(str(item))}</li>" for item in body)
            parts.append(f"<ul>{items}</ul>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)
