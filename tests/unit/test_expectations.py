import pandas as pd
import pytest

from mlcicd.config import load_config
from mlcicd.data.expectations import validate_batches


@pytest.fixture(scope="module")
def local():
    return load_config("local")


def _failures(frame: pd.DataFrame, local) -> list[tuple[str, str | None]]:
    config, schema = local
    summary = validate_batches({"train": frame}, schema, config.data.label)
    return [(f.expectation, f.column) for f in summary.failures()]


def test_embedded_adult_passes_with_data_docs(adult_frames, local, tmp_path) -> None:
    config, schema = local
    summary = validate_batches(
        {"train": adult_frames[0], "golden": adult_frames[1]}, schema, config.data.label, tmp_path
    )
    assert summary.success, summary.failure_message()
    assert [b.rows for b in summary.batches] == [32561, 16281]
    assert (tmp_path / "index.html").is_file()


@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [
        (lambda f: f.drop(columns=["race"]), ("expect_column_to_exist", "race")),
        (lambda f: f.assign(age="abc"), ("expect_column_values_to_be_in_type_list", "age")),
        (lambda f: f.assign(education=None), ("expect_column_values_to_not_be_null", "education")),
        (
            lambda f: f.assign(sex=["Unknown"] + list(f["sex"][1:])),
            ("expect_column_values_to_be_in_set", "sex"),
        ),
        (
            lambda f: f.assign(age=[500] + list(f["age"][1:])),
            ("expect_column_values_to_be_between", "age"),
        ),
        (
            lambda f: f[f["income"] == "<=50K"],
            ("expect_column_distinct_values_to_contain_set", "income"),
        ),
        (lambda f: f.head(10), ("expect_table_row_count_to_be_between", None)),
    ],
    ids=[
        "missing_column",
        "wrong_dtype",
        "nulls",
        "unknown_category",
        "out_of_range",
        "one_class_label",
        "too_few_rows",
    ],
)
def test_each_broken_batch_names_expectation_and_column(adult_frames, local, corrupt, expected):
    frame = corrupt(adult_frames[0].head(2000).copy())
    assert expected in _failures(frame, local)


def test_failure_message_carries_observed_values(adult_frames, local) -> None:
    config, schema = local
    frame = adult_frames[0].head(2000).copy()
    frame.loc[0, "age"] = 500
    summary = validate_batches({"train": frame}, schema, config.data.label)
    message = summary.failure_message()
    assert "[train] expect_column_values_to_be_between on column 'age'" in message
    assert "500" in message
