"""Which gates judge a promotion: deployment.production.gates_config, or the config's own."""

from __future__ import annotations

import pytest

from mlcicd.config import ConfigError, load_config
from mlcicd.release.promotion_gates import promotion_config


def test_gpu_k8s_promotions_are_judged_by_production_gates_whichever_config_runs_them() -> None:
    staging, _ = load_config("staging")
    production, _ = load_config("production")
    assert staging.deployment.production.gates_config == "production"
    judged = promotion_config(staging)
    assert judged.gates == production.gates != staging.gates
    assert judged.deployment == staging.deployment and judged.environment == "staging"


def test_empty_means_the_configs_own_gates_and_a_bad_reference_is_named(write_config) -> None:
    local, _ = load_config("local")
    assert promotion_config(local) is local
    config, _ = load_config(str(write_config({"deployment": {"production": {
        "gates_config": "no-such-env"}}})))  # fmt: skip
    with pytest.raises(ConfigError, match="deployment.production.gates_config 'no-such-env'"):
        promotion_config(config)
