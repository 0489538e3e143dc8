"""The review console: who may approve a version for production."""

from __future__ import annotations

from pydantic import Field

from mlcicd.config.base import StrictModel


class ConsoleConfig(StrictModel):
    """The review console: who may decide."""

    # YAML file of reviewers with hashed passwords; relative paths are relative to ML_CICD_HOME.
    # ML_CICD_REVIEWERS_FILE overrides it. Ignored for login when OIDC ([auth]) is configured.
    reviewers_file: str = "reviewers.yaml"
    # With OIDC, only these e-mail addresses may decide (empty: any logged-in user).
    oidc_reviewers: list[str] = Field(default_factory=list)
