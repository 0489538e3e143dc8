"""What a candidate's fairness is read against: the data's own disparity and the champion's.

Shared by the Markdown and HTML renderings (the console shows the HTML), like `formatting`.
"""

from __future__ import annotations

from mlcicd.reporting.formatting import format_metric
from mlcicd.reporting.model import FairnessResult


def fairness_context(fairness: FairnessResult) -> str:
    """The data's own and the champion's disparities beside the model's ('' when neither)."""
    parts = []
    if fairness.label_demographic_parity_difference is not None:
        parts.append(
            "the labels' own demographic parity difference "
            f"{format_metric(fairness.label_demographic_parity_difference)}"
        )
    if fairness.champion_demographic_parity_difference is not None:
        parts.append(
            "the champion's "
            f"{format_metric(fairness.champion_demographic_parity_difference)} / "
            f"{format_metric(fairness.champion_equalized_odds_difference)}"
        )
    return " · ".join(parts)
