"""How registered versions are deployed, smoke-tested and rolled out to production."""

from __future__ import annotations

from pydantic import Field, model_validator

from mlcicd.config.base import StrictModel


class StagingConfig(StrictModel):
    """Deploy every registered version to staging and smoke-test it before `staging` moves."""

    enabled: bool = True
    smoke_requests: int = Field(20, ge=1)
    smoke_p95_ms: float = Field(250.0, gt=0.0)
    probability_tolerance: float = Field(1e-6, ge=0.0)


class ProductionConfig(StrictModel):
    """Gates and smoke test of an approved version at promotion, before `champion` moves."""

    # The config (name in configs/ or a path) whose `gates` judge a promotion again, against the
    # champion of that moment; empty: this config's own gates.
    gates_config: str = ""
    smoke_requests: int = Field(20, ge=1)
    smoke_p95_ms: float = Field(250.0, gt=0.0)
    probability_tolerance: float = Field(1e-6, ge=0.0)


class DeploymentConfig(StrictModel):
    """Where models are served; ports apply to the local backend (processes on 127.0.0.1)."""

    staging: StagingConfig = StagingConfig()
    production: ProductionConfig = ProductionConfig()
    local_ports: dict[str, int] = Field(
        default_factory=lambda: {"staging": 8601, "production": 8602}
    )
    max_rows: int = Field(10_000, ge=1)

    @model_validator(mode="after")
    def _distinct_ports(self) -> DeploymentConfig:
        ports = list(self.local_ports.values())
        if len(set(ports)) != len(ports):
            raise ValueError(
                f"deployment.local_ports must differ per environment: {self.local_ports}"
            )
        if not {"staging", "production"} <= set(self.local_ports):
            raise ValueError("deployment.local_ports needs 'staging' and 'production'")
        if any(not 1024 <= p <= 65535 for p in ports):
            raise ValueError("deployment.local_ports must be between 1024 and 65535")
        return self
