from pathlib import Path

import pytest

from mlcicd.config import ConfigError, available_configs, load_config, load_schema
from mlcicd.paths import CONFIG_DIR


def test_local_config_loads_with_its_schema() -> None:
    config, schema = load_config("local")
    assert config.stack == "local"
    assert config.data.label in schema.column_names
    assert config.model.type == "torch_mlp"


def test_fingerprint_is_stable_and_sensitive_to_changes() -> None:
    config, _ = load_config("local")
    again, _ = load_config("local")
    assert config.fingerprint() == again.fingerprint()
    assert config.with_overrides(seed=7).fingerprint() != config.fingerprint()


def test_unknown_config_name_lists_available() -> None:
    with pytest.raises(ConfigError, match="unknown config 'nope'; available: .*local"):
        load_config("nope")


def test_unknown_model_type_is_named(write_config) -> None:
    path = write_config({"model": {"type": "xgboost"}})
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    assert "model.type" in str(err.value)
    assert "torch_mlp" in str(err.value) and "hist_gradient_boosting" in str(err.value)


def test_override_of_model_type_is_validated() -> None:
    config, _ = load_config("local")
    with pytest.raises(ConfigError, match="model.type"):
        config.with_overrides(model_type="random_forest")


def test_label_not_in_schema_is_named(write_config) -> None:
    path = write_config({"data": {"label": "salary"}})
    with pytest.raises(ConfigError, match=r"data.label names column\(s\) \['salary'\]"):
        load_config(str(path))


def test_sensitive_feature_not_in_schema_is_named(write_config) -> None:
    path = write_config({"data": {"sensitive_features": ["gender"]}})
    with pytest.raises(ConfigError, match="gender"):
        load_config(str(path))


def test_positive_class_must_be_a_label_value(write_config) -> None:
    path = write_config({"data": {"positive_class": "rich"}})
    with pytest.raises(ConfigError, match="positive_class 'rich'"):
        load_config(str(path))


def test_unknown_key_is_rejected(write_config) -> None:
    path = write_config({"modle": {}})
    with pytest.raises(ConfigError, match="modle"):
        load_config(str(path))


def test_malformed_yaml_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(str(path))


def test_schema_rejects_duplicates_and_bad_domains(tmp_path: Path) -> None:
    path = tmp_path / "schema.yaml"
    path.write_text(
        "name: s\ncolumns:\n  - {name: a, dtype: integer}\n  - {name: a, dtype: integer}\n"
    )
    with pytest.raises(ConfigError, match="duplicate column names"):
        load_schema(path)
    path.write_text("name: s\ncolumns:\n  - {name: c, dtype: categorical}\n")
    with pytest.raises(ConfigError, match="needs a non-empty 'values'"):
        load_schema(path)


# --- extends: an overlay deep-merged over its base -------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def base_file(tmp_path: Path) -> Path:
    """A complete, valid config (a copy of configs/local.yaml) to extend, in tmp_path/bases/."""
    return _write(tmp_path / "bases" / "common.yaml", (CONFIG_DIR / "local.yaml").read_text())


def test_overlay_overrides_one_nested_key_and_keeps_its_siblings(
    tmp_path: Path, base_file: Path
) -> None:
    overlay = _write(
        tmp_path / "overlay.yaml",
        "extends: bases/common.yaml\ngates:\n  fairness:\n    min_group_size: 50\n",
    )
    base, _ = load_config(str(base_file))
    config, _ = load_config(str(overlay))
    assert config.gates.fairness.min_group_size == 50
    assert config.gates.fairness.max_demographic_parity_difference == (
        base.gates.fairness.max_demographic_parity_difference
    )
    expected = base.model_dump()
    expected["gates"]["fairness"]["min_group_size"] = 50
    assert config.model_dump() == expected


def test_overlay_replaces_lists_instead_of_merging_them(tmp_path: Path, base_file: Path) -> None:
    overlay = _write(
        tmp_path / "overlay.yaml",
        "extends: bases/common.yaml\n"
        "data: {sensitive_features: [sex]}\n"
        "model: {torch_mlp: {hidden_units: [16]}}\n",
    )
    base, _ = load_config(str(base_file))
    assert base.data.sensitive_features == ["sex", "race"]
    config, _ = load_config(str(overlay))
    assert config.data.sensitive_features == ["sex"]
    assert config.model.torch_mlp.hidden_units == [16]
    assert config.data.exclude_features == base.data.exclude_features


def test_extends_chains_and_the_nearest_file_wins(tmp_path: Path, base_file: Path) -> None:
    _write(tmp_path / "middle.yaml", "extends: bases/common.yaml\nseed: 1\nenvironment: middle\n")
    top = _write(tmp_path / "top.yaml", "extends: middle.yaml\nseed: 2\n")
    config, _ = load_config(str(top))
    assert (config.seed, config.environment) == (2, "middle")


def test_extends_by_name_reads_configs_dir(tmp_path: Path) -> None:
    overlay = _write(tmp_path / "overlay.yaml", "extends: local\nseed: 7\n")
    config, _ = load_config(str(overlay))
    local, _ = load_config("local")
    assert config.seed == 7
    assert config.model_dump() == local.model_copy(update={"seed": 7}).model_dump()


def test_missing_base_names_the_file_and_the_extends_key(tmp_path: Path) -> None:
    overlay = _write(tmp_path / "overlay.yaml", "extends: bases/missing.yaml\nseed: 1\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(overlay))
    message = str(err.value)
    assert str(overlay) in message
    assert "'extends: bases/missing.yaml'" in message
    assert str(tmp_path / "bases" / "missing.yaml") in message
    assert "does not exist" in message and "remove the key" in message


def test_extends_must_be_a_name_or_path(tmp_path: Path) -> None:
    overlay = _write(tmp_path / "overlay.yaml", "extends: [a.yaml, b.yaml]\n")
    with pytest.raises(ConfigError, match=r"overlay.yaml: 'extends' is \['a.yaml', 'b.yaml'\]"):
        load_config(str(overlay))


def test_extends_cycle_is_an_error_listing_the_files(tmp_path: Path) -> None:
    first = _write(tmp_path / "a.yaml", "extends: b.yaml\nseed: 1\n")
    second = _write(tmp_path / "b.yaml", "extends: a.yaml\nseed: 2\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(first))
    message = str(err.value)
    assert "cycle" in message and "'extends: a.yaml'" in message
    assert f"{first.resolve()} -> {second.resolve()} -> {first.resolve()}" in message
    assert f"(a base of {first.resolve()})" in message

    itself = _write(tmp_path / "self.yaml", "extends: self.yaml\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(str(itself))


def test_invalid_key_in_a_merged_config_names_the_users_file_and_the_key(
    tmp_path: Path, base_file: Path
) -> None:
    overlay = _write(
        tmp_path / "overlay.yaml",
        "extends: bases/common.yaml\ngates: {fairness: {min_group_size: 0}}\n",
    )
    with pytest.raises(ConfigError) as err:
        load_config(str(overlay))
    message = str(err.value)
    assert message.startswith(f"invalid configuration in {overlay} (extends {base_file.resolve()})")
    assert "gates.fairness.min_group_size" in message
    assert "extends" not in message.split("\n", 1)[1]


def test_staging_and_production_extend_the_shared_gpu_k8s_base() -> None:
    staging, _ = load_config("staging")
    production, _ = load_config("production")
    assert (staging.environment, production.environment) == ("staging", "production")
    assert staging.stack == production.stack == "gpu-k8s"
    assert staging.kubernetes.gpu == production.kubernetes.gpu
    assert staging.kubernetes.gpu.count == 1
    assert (staging.rollout.strategy, production.rollout.strategy) == ("direct", "canary")
    assert (
        production.gates.thresholds.minimums["roc_auc"]
        > staging.gates.thresholds.minimums["roc_auc"]
    )
    # both configs deploy each environment the same way (a promotion under the staging config
    # gives production its own replicas), each in its own namespace
    assert staging.kubernetes.serving.environments == production.kubernetes.serving.environments
    environments = staging.kubernetes.serving.environments
    assert (environments["staging"].replicas, environments["production"].replicas) == (1, 2)
    assert environments["staging"].namespace != environments["production"].namespace
    # the base is a shared part, not an environment
    assert (CONFIG_DIR / "base" / "gpu-k8s.yaml").is_file()
    assert {"staging", "production"} <= set(available_configs())
    assert "gpu-k8s" not in available_configs()


def test_the_old_per_config_serving_keys_name_their_new_place(write_config) -> None:
    path = write_config({"kubernetes": {"serving": {"replicas": 3}}})
    with pytest.raises(
        ConfigError,
        match=r"kubernetes\.serving\.replicas is now "
        r"kubernetes\.serving\.environments\.<staging\|production>\.replicas",
    ):
        load_config(str(path))
    path = write_config({"kubernetes": {"serving": {"environments": {"staging": {}}}}})
    with pytest.raises(ConfigError, match="exactly 'staging' and 'production'"):
        load_config(str(path))


def test_drift_and_monitoring_settings_are_validated_with_their_keys(write_config) -> None:
    with pytest.raises(ConfigError, match=r"drift\.on_drift"):
        load_config(str(write_config({"drift": {"on_drift": "shout"}})))
    with pytest.raises(ConfigError, match=r"monitoring\.actions\.errors"):
        load_config(str(write_config({"monitoring": {"actions": {"errors": "panic"}}})))
    with pytest.raises(ConfigError, match=r"monitoring\.actions"):
        load_config(str(write_config({"monitoring": {"actions": {"disk": "retrain"}}})))
    with pytest.raises(ConfigError, match=r"monitoring\.on_data_change"):
        load_config(str(write_config({"monitoring": {"on_data_change": "rollback"}})))
    with pytest.raises(ConfigError, match=r"monitoring\.thresholds\.max_p99_ratio"):
        load_config(str(write_config({"monitoring": {"thresholds": {"max_p99_ratio": 0.5}}})))
    config, _ = load_config(str(write_config({"monitoring": {"action": "retrain"}})))
    assert config.monitoring.action == "retrain" and config.drift.on_drift == "warn"


def test_ci_built_images_replace_the_configured_ones_by_digest_only(monkeypatch) -> None:
    digest = "registry.example.com/ml-cicd/ml-cicd-seldon-server@sha256:" + "a" * 64
    parent = "registry.example.com/ml-cicd/ml-cicd-cuda@sha256:" + "b" * 64
    monkeypatch.setenv("ML_CICD_SERVING_IMAGE", digest)
    monkeypatch.setenv("ML_CICD_STEP_PARENT_IMAGE", parent)
    config = load_config("staging")[0]
    assert config.kubernetes.serving.image == digest
    assert (config.kubernetes.image.parent_image, config.kubernetes.image.parent_dockerfile) == (
        parent,
        None,
    )
    monkeypatch.setenv("ML_CICD_SERVING_IMAGE", "registry.example.com/ml-cicd/server:abc123")
    with pytest.raises(ConfigError, match=r"ML_CICD_SERVING_IMAGE=.*must name an image by digest"):
        load_config("staging")
