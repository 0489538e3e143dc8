"""The parity gate's evidence: whether the ONNX export answers like the pyfunc it came from.

Pure comparison of two sets of answers on the same golden rows, so the rule is tested without
exporting anything; `package` runs the two models and hands their answers here.
"""

from __future__ import annotations

import numpy as np

from mlcicd.reporting.model import PackagingResult


def compare_answers(
    result: PackagingResult,
    reference_probability: np.ndarray,
    candidate_probability: np.ndarray,
    reference_labels: np.ndarray,
    candidate_labels: np.ndarray,
) -> PackagingResult:
    """`result` with the largest probability difference, its row, and the label mismatches.

    A NaN in the candidate counts as an infinite difference: an export that answers NaN must
    never pass on a tolerance comparison that NaN would slip through.
    """
    reference = np.asarray(reference_probability, dtype=np.float64).reshape(-1)
    candidate = np.asarray(candidate_probability, dtype=np.float64).reshape(-1)
    if reference.shape != candidate.shape:
        return result.model_copy(
            update={
                "error": f"the ONNX model answered {candidate.size} rows for {reference.size}",
                "rows_compared": int(reference.size),
            }
        )
    difference = np.abs(reference - candidate)
    difference[~np.isfinite(difference)] = np.inf
    mismatched = np.flatnonzero(np.asarray(reference_labels) != np.asarray(candidate_labels))
    worst = int(np.argmax(difference)) if difference.size else None
    return result.model_copy(
        update={
            "rows_compared": int(reference.size),
            "max_abs_difference": float(difference[worst]) if worst is not None else 0.0,
            "worst_row": worst,
            "worst_row_probabilities": (
                {"pyfunc": float(reference[worst]), "onnx": float(candidate[worst])}
                if worst is not None
                else {}
            ),
            "label_mismatches": int(mismatched.size),
            "first_mismatch_row": int(mismatched[0]) if mismatched.size else None,
        }
    )
