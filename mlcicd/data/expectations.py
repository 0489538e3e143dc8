"""The data gate: a Great Expectations 1.x suite derived from the declared schema.

The suite comes from configs/schemas/*.yaml, never from the batch being checked, so a drifted or
broken file cannot redefine what "valid" means.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from inference.frames import with_object_strings
from mlcicd.config import ColumnSpec, DataSchema

if TYPE_CHECKING:
    import great_expectations as gx

_INTEGER_TYPES = ["int64", "int32", "int16", "int8", "Int64", "Int32"]
_FLOAT_TYPES = ["float64", "float32", "Float64", *_INTEGER_TYPES]
_CATEGORICAL_TYPES = ["str"]  # object columns are checked value by value


@dataclass(frozen=True)
class ExpectationFailure:
    """One failed expectation, in words a person can act on."""

    batch: str
    expectation: str
    column: str | None
    observed: str

    def describe(self) -> str:
        """One line: which batch, which expectation, which column, what was seen."""
        where = f" on column '{self.column}'" if self.column else ""
        return f"[{self.batch}] {self.expectation}{where}: {self.observed}"


@dataclass
class BatchResult:
    """Validation outcome of one batch."""

    batch: str
    success: bool
    evaluated: int
    successful: int
    rows: int
    failures: list[ExpectationFailure] = field(default_factory=list)


@dataclass
class ValidationSummary:
    """What the data gate decided, for the report, the logs and MLflow."""

    suite: str
    success: bool
    batches: list[BatchResult]

    def failures(self) -> list[ExpectationFailure]:
        """Every failure across batches."""
        return [f for b in self.batches for f in b.failures]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    def failure_message(self) -> str:
        """Multi-line message listing every failed expectation."""
        lines = [f"data validation failed ({len(self.failures())} expectation(s) failed):"]
        lines += [f"  - {f.describe()}" for f in self.failures()]
        return "\n".join(lines)


def _import_gx() -> Any:
    """Import GX quietly: after ZenML configures logging it prints hundreds of registry lines."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    for name in ("great_expectations", "great_expectations.expectations.registry"):
        logging.getLogger(name).setLevel(logging.WARNING)
    import great_expectations as gx_module

    return gx_module


def _column_expectations(col: ColumnSpec, gxe: Any) -> list[Any]:
    name = col.name
    meta = {"column": name}
    exps: list[Any] = [gxe.ExpectColumnToExist(column=name, meta=meta)]
    type_list = {
        "integer": _INTEGER_TYPES + (["float64"] if col.nullable else []),
        "float": _FLOAT_TYPES,
        "categorical": _CATEGORICAL_TYPES,
    }[col.dtype]
    exps.append(gxe.ExpectColumnValuesToBeInTypeList(column=name, type_list=type_list, meta=meta))
    if not col.nullable:
        exps.append(gxe.ExpectColumnValuesToNotBeNull(column=name, meta=meta))
    if col.dtype == "categorical" and col.values:
        exps.append(gxe.ExpectColumnValuesToBeInSet(column=name, value_set=col.values, meta=meta))
    elif col.min is not None or col.max is not None:
        exps.append(
            gxe.ExpectColumnValuesToBeBetween(
                column=name, min_value=col.min, max_value=col.max, meta=meta
            )
        )
    return exps


def build_suite(schema: DataSchema, label: str) -> gx.ExpectationSuite:
    """Expectations for every declared column, the row count, and a label with both classes."""
    gx_module = _import_gx()
    gxe = gx_module.expectations
    suite = gx_module.ExpectationSuite(name=f"{schema.name}_schema")
    suite.add_expectation(
        gxe.ExpectTableRowCountToBeBetween(
            min_value=schema.row_count.min, max_value=schema.row_count.max
        )
    )
    for col in schema.columns:
        for expectation in _column_expectations(col, gxe):
            suite.add_expectation(expectation)
    label_values = schema.column(label).values or []
    suite.add_expectation(
        gxe.ExpectColumnDistinctValuesToContainSet(
            column=label, value_set=label_values, meta={"column": label}
        )
    )
    return suite


def _observed(result: dict[str, Any], exception_info: Any) -> str:
    """Summarise what GX saw for a failed expectation."""
    messages = _exception_messages(exception_info)
    if messages:
        return "could not be evaluated: " + "; ".join(sorted(set(messages)))
    parts = []
    if "observed_value" in result and result["observed_value"] is not None:
        parts.append(f"observed {result['observed_value']!r}")
    if result.get("unexpected_count"):
        examples = result.get("partial_unexpected_list") or []
        shown = ", ".join(repr(v) for v in examples[:5])
        parts.append(
            f"{result['unexpected_count']} unexpected value(s)"
            f" ({result.get('unexpected_percent', 0):.2f}%)" + (f", e.g. {shown}" if shown else "")
        )
    if result.get("partial_missing_list"):
        parts.append(f"missing values {result['partial_missing_list']!r}")
    return "; ".join(parts) or "failed"


def _exception_messages(info: Any) -> list[str]:
    if not isinstance(info, dict):
        return []
    if info.get("raised_exception"):
        return [str(info.get("exception_message") or "exception")]
    found: list[str] = []
    for value in info.values():
        if isinstance(value, dict):
            found += _exception_messages(value)
    return found


def _context(docs_dir: Path | None) -> Any:
    gx_module = _import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx_module.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    if docs_dir is not None:
        ctx.add_data_docs_site(
            site_name="run_docs",
            site_config={
                "class_name": "SiteBuilder",
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
            },
        )
    return ctx


def validate_batches(
    batches: dict[str, pd.DataFrame],
    schema: DataSchema,
    label: str,
    docs_dir: Path | None = None,
) -> ValidationSummary:
    """Run the schema suite on each named batch; optionally build the Data Docs site."""
    gx_module = _import_gx()
    ctx = _context(docs_dir)
    suite = ctx.suites.add(build_suite(schema, label))
    source = ctx.data_sources.add_pandas("pipeline_data")
    results: list[BatchResult] = []
    for batch_name, frame in batches.items():
        batch_def = source.add_dataframe_asset(batch_name).add_batch_definition_whole_dataframe(
            "whole"
        )
        definition = ctx.validation_definitions.add(
            gx_module.ValidationDefinition(
                name=f"{batch_name}_validation", data=batch_def, suite=suite
            )
        )
        actions = []
        if docs_dir is not None:
            actions.append(
                gx_module.checkpoint.UpdateDataDocsAction(name="docs", site_names=["run_docs"])
            )
        checkpoint = ctx.checkpoints.add(
            gx_module.Checkpoint(
                name=f"{batch_name}_checkpoint",
                validation_definitions=[definition],
                actions=actions,
                result_format={"result_format": "SUMMARY"},
            )
        )
        run = checkpoint.run(batch_parameters={"dataframe": with_object_strings(frame)})
        for validation in run.run_results.values():
            results.append(_batch_result(batch_name, len(frame), validation))
    return ValidationSummary(
        suite=suite.name, success=all(b.success for b in results), batches=results
    )


def _batch_result(batch_name: str, rows: int, validation: Any) -> BatchResult:
    failures = []
    for res in validation.results:
        if res.success:
            continue
        payload = res.to_json_dict()
        cfg = payload["expectation_config"]
        column = cfg.get("kwargs", {}).get("column")
        failures.append(
            ExpectationFailure(
                batch=batch_name,
                expectation=cfg["type"],
                column=column,
                observed=_observed(payload.get("result") or {}, payload.get("exception_info")),
            )
        )
    missing = {f.column for f in failures if f.expectation == "expect_column_to_exist"}
    failures = [
        ExpectationFailure(f.batch, f.expectation, f.column, "column is missing from the batch")
        if f.expectation == "expect_column_to_exist"
        else f
        for f in failures
        if f.column not in missing or f.expectation == "expect_column_to_exist"
    ]
    stats = validation.statistics
    failures.sort(key=lambda f: (f.column or "", f.expectation))
    return BatchResult(
        batch=batch_name,
        success=bool(validation.success),
        evaluated=int(stats.get("evaluated_expectations", 0)),
        successful=int(stats.get("successful_expectations", 0)),
        rows=rows,
        failures=failures,
    )
