"""Delayed ground truth: a labels file joined to logged predictions by request id (and row).

CSV with a header: `request_id`, the label column (`label`, or the configured label name) and,
for requests that carried several records, `row` (0-based, default 0). Labels are the class
names of the training data; 0/1 are accepted for the negative/positive class. The file is read
once into a mapping: it holds only labelled rows, far fewer than the log.
"""

from __future__ import annotations

import csv
from pathlib import Path

from mlcicd.errors import PipelineInputError


def read_labels(
    path: Path, label_column: str, positive_class: str, negative_class: str
) -> dict[tuple[str, int], bool]:
    """(request_id, row) -> whether the actual class is the positive one."""
    if not path.is_file():
        raise PipelineInputError(f"labels file not found: {path}")
    labels: dict[tuple[str, int], bool] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        column = next((c for c in ("label", label_column) if c in fields), None)
        if "request_id" not in fields or column is None:
            raise PipelineInputError(
                f"labels file {path} needs a header with 'request_id' and 'label' (or "
                f"'{label_column}'), optionally 'row'; it has {fields}"
            )
        known = {positive_class: True, "1": True, negative_class: False, "0": False}
        for number, record in enumerate(reader, start=2):
            value = (record.get(column) or "").strip()
            if value not in known:
                raise PipelineInputError(
                    f"labels file {path}, line {number}: label {value!r} is neither "
                    f"'{positive_class}' nor '{negative_class}' (nor 1/0)"
                )
            raw_row = (record.get("row") or "0").strip() or "0"
            if not raw_row.isdigit():
                raise PipelineInputError(
                    f"labels file {path}, line {number}: row {raw_row!r} is not a number"
                )
            request_id = (record.get("request_id") or "").strip()
            if not request_id:
                raise PipelineInputError(f"labels file {path}, line {number}: empty request_id")
            labels[(request_id, int(raw_row))] = known[value]
    return labels
