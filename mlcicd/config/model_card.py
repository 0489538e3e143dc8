"""What a model card says that the evaluation report cannot know: purpose, users, limits."""

from __future__ import annotations

from pydantic import Field

from mlcicd.config.base import StrictModel


class ModelCardConfig(StrictModel):
    """The declared parts of every version's model card; the measured parts come from its report."""

    intended_use: str = ""
    intended_users: str = ""
    out_of_scope_uses: list[str] = Field(default_factory=list)
    limitations: list[str] = Field(default_factory=list)
    ethical_considerations: list[str] = Field(default_factory=list)
    owners: list[str] = Field(default_factory=list)
