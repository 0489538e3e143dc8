from pathlib import Path

import pytest

from mlcicd.config import ConfigError, load_config, load_schema


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
