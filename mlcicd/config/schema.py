"""The declared data schema (configs/schemas/*.yaml): the contract the data gate checks."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from mlcicd.config.base import ConfigError, StrictModel, format_validation_error, read_yaml


def category_text(value: object) -> object:
    """A category written as a number in YAML (`values: [0, 1]`) as the text it is read as.

    Integral numbers lose their `.0` (a label file holding 1 and one holding 1.0 mean the same
    class); a boolean is refused, since `yes`/`true` in YAML is rarely the category meant.
    """
    if isinstance(value, bool):
        raise ValueError(
            f'category {value!r} is a YAML boolean; quote it ("{str(value).lower()}") if the '
            "data holds that text"
        )
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return value


class RowCountBounds(StrictModel):
    """Bounds on the number of rows a batch may have."""

    min: int = Field(1, ge=0)
    max: int | None = Field(None, ge=1)


class ColumnSpec(StrictModel):
    """Declared type and domain of one column."""

    name: str
    dtype: Literal["integer", "float", "categorical"]
    nullable: bool = False
    values: list[str] | None = None
    min: float | None = None
    max: float | None = None

    @field_validator("values", mode="before")
    @classmethod
    def _values_as_text(cls, values: object) -> object:
        return [category_text(v) for v in values] if isinstance(values, list) else values

    @model_validator(mode="after")
    def _domain_matches_dtype(self) -> ColumnSpec:
        if self.dtype == "categorical":
            if not self.values:
                raise ValueError(
                    f"categorical column '{self.name}' needs a non-empty 'values' list"
                )
            if self.min is not None or self.max is not None:
                raise ValueError(f"categorical column '{self.name}' cannot have min/max")
        elif self.values is not None:
            raise ValueError(f"numeric column '{self.name}' cannot have 'values'")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"column '{self.name}': min {self.min} is above max {self.max}")
        return self


class DataSchema(StrictModel):
    """The declared contract every batch must satisfy (checked by the data gate)."""

    name: str
    row_count: RowCountBounds = RowCountBounds()
    columns: list[ColumnSpec]

    @model_validator(mode="after")
    def _unique_columns(self) -> DataSchema:
        names = [c.name for c in self.columns]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate column names in schema: {duplicates}")
        return self

    def column(self, name: str) -> ColumnSpec:
        """Look a column up by name."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def column_names(self) -> list[str]:
        """Column names in declared order."""
        return [c.name for c in self.columns]


def load_schema(path: Path) -> DataSchema:
    """Read and validate a declared data schema."""
    raw = read_yaml(path, "schema file")
    try:
        return DataSchema.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, str(path))) from None
