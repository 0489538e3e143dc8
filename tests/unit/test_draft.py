"""`run.py init`'s drafts: what is read off the data, and the refusals that name the problem."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlcicd.data.draft import draft_files
from mlcicd.errors import PipelineInputError


def _write(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path


def test_ranges_get_a_margin_and_non_negative_columns_stay_non_negative(tmp_path: Path) -> None:
    frame = pd.DataFrame({"age": [20, 30, 70], "score": [-1.5, 0.5, 2.5], "y": ["a", "b", "a"]})
    _, schema, notes, rows = draft_files(_write(tmp_path, frame), None, "d", tmp_path / "s.yaml")
    columns = {c["name"]: c for c in schema["columns"]}
    assert columns["age"] == {"name": "age", "dtype": "integer", "min": 15, "max": 75}
    assert columns["score"] == {"name": "score", "dtype": "float", "min": -1.9, "max": 2.9}
    assert columns["y"]["values"] == ["a", "b"] and rows == 3
    assert any("positive_class 'b' is the rarer label value" in n for n in notes)


def test_an_identifier_like_text_column_is_flagged(tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": [f"c{i}" for i in range(300)], "y": [0, 1] * 150})
    _, _, notes, _ = draft_files(_write(tmp_path, frame), "y", "d", tmp_path / "s.yaml")
    assert any(n.startswith("id: 300 distinct values") for n in notes)


@pytest.mark.parametrize(
    ("label", "message"),
    [("z", "--label 'z' is not a column"), ("x", "label 'x' has 3 distinct value(s)")],
)
def test_a_label_that_cannot_be_binary_is_refused(tmp_path: Path, label, message) -> None:
    frame = pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]})
    with pytest.raises(PipelineInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        draft_files(_write(tmp_path, frame), label, "d", tmp_path / "s.yaml")
