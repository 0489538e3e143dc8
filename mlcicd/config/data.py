"""Where the training and golden data come from and what their columns mean."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from mlcicd.config.base import StrictModel, repo_relative
from mlcicd.config.schema import category_text


class DataFileConfig(StrictModel):
    """One data file and the rows to skip before its records start."""

    path: str
    skip_rows: int = Field(0, ge=0)

    def resolved(self) -> Path:
        """Absolute path; relative paths are relative to the repository root."""
        return repo_relative(Path(self.path).expanduser())


class GoldenSplit(StrictModel):
    """The golden set as a share of the train file, for a dataset that ships as one file.

    Membership is a function of each row's content, the seed and the fraction
    (`mlcicd.data.golden`), so every later run with the same definition holds out the same
    rows, an appended row never moves an old one, and duplicate rows never straddle the split.
    `stratify: true` takes exactly `fraction` of each label class instead (a row near a class's
    cut can move when the file changes); the report shows the definition and a fingerprint of
    the golden rows, and says when they differ from the champion's.
    """

    fraction: float = Field(gt=0.0, le=0.5)
    seed: int = 0
    stratify: bool = False

    def describe(self) -> str:
        """As the report and the version's lineage name it."""
        kind = "stratified by label" if self.stratify else "by row hash"
        return f"split of the train file: {self.fraction:g} {kind}, seed {self.seed}"


class GoldenConfig(StrictModel):
    """The fixed golden set: its own file (`path`, `skip_rows`) or a `split` of the train file."""

    path: str | None = None
    skip_rows: int = Field(0, ge=0)
    split: GoldenSplit | None = None

    @model_validator(mode="after")
    def _file_or_split(self) -> GoldenConfig:
        if (self.path is None) == (self.split is None):
            raise ValueError(
                "give either 'path' (a fixed test file) or 'split' (a share of the train file: "
                "{split: {fraction: 0.2, seed: 0}}), not both or neither"
            )
        if self.split is not None and self.skip_rows:
            raise ValueError("'skip_rows' applies to a golden file, not to a split")
        return self


class SensitiveGroups(StrictModel):
    """How a sensitive feature's values become the groups fairness is judged over.

    `bins`: edges of right-open intervals for a numeric column (`[0, 25, 60, 120]` makes 0-25,
    25-60, 60-120); `merge`: group name -> declared categories it gathers (the others keep
    their own name). Exactly one of the two.
    """

    bins: list[float] | None = None
    merge: dict[str, list[str]] | None = None

    @field_validator("merge", mode="before")
    @classmethod
    def _merged_as_text(cls, merge: object) -> object:
        if not isinstance(merge, dict):
            return merge
        return {
            str(k): [category_text(v) for v in vs] if isinstance(vs, list) else vs
            for k, vs in merge.items()
        }

    @model_validator(mode="after")
    def _one_kind(self) -> SensitiveGroups:
        if (self.bins is None) == (self.merge is None):
            raise ValueError("give exactly one of 'bins' (numeric column) or 'merge' (categories)")
        edges = self.bins or []
        if self.bins is not None and (
            len(edges) < 2 or any(b <= a for a, b in itertools.pairwise(edges))
        ):
            raise ValueError(f"bins must be at least two increasing edges, got {self.bins}")
        if self.merge is not None:
            listed = [c for cs in self.merge.values() for c in cs]
            twice = sorted({c for c in listed if listed.count(c) > 1})
            if twice or any(not cs for cs in self.merge.values()):
                raise ValueError(
                    "each merged group needs its own non-empty list of categories"
                    + (f"; listed twice: {twice}" if twice else "")
                )
        return self


class CsvOptions(StrictModel):
    """How to parse CSV files (ignored for Parquet)."""

    header: bool = True
    separator: str = ","
    skip_initial_space: bool = True
    na_values: list[str] = Field(default_factory=list)


class DataConfig(StrictModel):
    """Where the data comes from and what its columns mean."""

    format: Literal["csv", "parquet"] = "csv"
    train: DataFileConfig
    golden: GoldenConfig
    csv: CsvOptions = CsvOptions()
    schema_path: str = Field(alias="schema")
    label: str
    positive_class: str
    label_aliases: dict[str, str] = Field(default_factory=dict)
    sensitive_features: list[str] = Field(default_factory=list)
    # derived groups per sensitive feature (bins for numbers, merged categories); the rest as is
    sensitive_groups: dict[str, SensitiveGroups] = Field(default_factory=dict)
    exclude_features: list[str] = Field(default_factory=list)
    validation_fraction: float = Field(0.2, gt=0.0, lt=0.9)
    sample_rows: int | None = Field(None, ge=10)

    # `schema` is the YAML key; the field is schema_path so it does not shadow BaseModel.schema
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @property
    def golden_file(self) -> DataFileConfig | None:
        """The golden file, or None when the golden set is a split of the train file."""
        if self.golden.path is None:
            return None
        return DataFileConfig(path=self.golden.path, skip_rows=self.golden.skip_rows)

    @property
    def golden_split(self) -> GoldenSplit | None:
        """The split definition, or None when the golden set is its own file."""
        return self.golden.split

    @field_validator("positive_class", mode="before")
    @classmethod
    def _class_as_text(cls, value: object) -> object:
        return category_text(value)

    @field_validator("label_aliases", mode="before")
    @classmethod
    def _aliases_as_text(cls, aliases: object) -> object:
        if not isinstance(aliases, dict):
            return aliases
        return {category_text(k): category_text(v) for k, v in aliases.items()}

    def schema_file(self) -> Path:
        """Absolute path of the declared schema file."""
        return repo_relative(Path(self.schema_path))
