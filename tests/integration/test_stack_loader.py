import pytest
from zenml.enums import StackComponentType

from mlcicd.errors import PipelineInputError
from mlcicd.stack.loader import available_stacks, ensure_stack, expand_placeholders, load_stack_spec


def test_local_stack_is_registered_once_and_then_left_alone(zenml_client) -> None:
    again = ensure_stack("local")
    assert not again.created and not again.updated and not again.stack_created
    assert zenml_client.active_stack_model.name == "local"
    stack = zenml_client.get_stack("local", allow_name_prefix_match=False)
    types = set(stack.components)
    assert {
        StackComponentType.ORCHESTRATOR,
        StackComponentType.ARTIFACT_STORE,
        StackComponentType.EXPERIMENT_TRACKER,
        StackComponentType.MODEL_REGISTRY,
        StackComponentType.MODEL_DEPLOYER,
    } <= types
    assert stack.components[StackComponentType.EXPERIMENT_TRACKER][0].flavor_name == "mlflow"
    assert stack.components[StackComponentType.MODEL_DEPLOYER][0].flavor_name == "local-seldon"


def test_project_flavors_are_registered_once(zenml_client) -> None:
    from mlcicd.stack.loader import register_project_flavors

    flavor = zenml_client.get_flavor_by_name_and_type(
        "local-seldon", StackComponentType.MODEL_DEPLOYER
    )
    assert flavor.source == "mlcicd.serving.local.deployer.LocalSeldonModelDeployerFlavor"
    assert register_project_flavors(zenml_client) == []


def test_a_store_holding_the_flavor_source_from_before_the_move_is_repaired(zenml_client) -> None:
    """Stores registered before the library move name `stacks.seldon.local_deployer...`."""
    from zenml.models import FlavorUpdate

    from mlcicd.stack.loader import register_project_flavors

    flavor = zenml_client.get_flavor_by_name_and_type(
        "local-seldon", StackComponentType.MODEL_DEPLOYER
    )
    old_source = "stacks.seldon.local_deployer.LocalSeldonModelDeployerFlavor"
    zenml_client.zen_store.update_flavor(flavor.id, FlavorUpdate(source=old_source))
    assert zenml_client.get_flavor(flavor.id).source == old_source
    assert register_project_flavors(zenml_client) == ["local-seldon"]
    repaired = zenml_client.get_flavor(flavor.id)
    assert repaired.source == "mlcicd.serving.local.deployer.LocalSeldonModelDeployerFlavor"
    assert ensure_stack("local").stack_created is False
    deployer = zenml_client.active_stack.model_deployer
    assert type(deployer).__module__ == "mlcicd.serving.local.deployer"


def test_service_records_from_before_the_move_are_rebuilt(zenml_client, tmp_path) -> None:
    """A record naming `stacks.seldon.local_deployer.LocalSeldonService` cannot be loaded back."""
    from zenml.enums import ServiceState
    from zenml.services.service import BaseService

    from mlcicd.serving.local.deployer import (
        LOCAL_SELDON_SERVICE,
        LocalSeldonServiceConfig,
        refresh_service_records,
    )

    config = LocalSeldonServiceConfig(
        name="moved-staging",
        service_name="moved-staging",
        model_name="moved",
        model_version="3",
        environment="staging",
        model_uri="models:/moved/3",
        serving_root=str(tmp_path),
        host="127.0.0.1",
        ports={"staging": 1, "production": 2},
        tracking_uri=f"sqlite:///{tmp_path / 'unused.db'}",
    )
    old = zenml_client.create_service(config=config, service_type=LOCAL_SELDON_SERVICE)
    zenml_client.update_service(
        id=old.id,
        service_source="stacks.seldon.local_deployer.LocalSeldonService",
        admin_state=ServiceState.ACTIVE,
    )
    with pytest.raises(ModuleNotFoundError):
        BaseService.from_model(zenml_client.get_service(old.id))
    (fresh,) = refresh_service_records(zenml_client)
    with pytest.raises(KeyError):
        zenml_client.get_service(old.id)
    service = BaseService.from_model(zenml_client.get_service(fresh))
    assert type(service).__module__ == "mlcicd.serving.local.deployer"
    assert service.config.model_version == "3"
    assert refresh_service_records(zenml_client) == []
    zenml_client.delete_service(fresh)


def test_the_local_deployer_refuses_a_non_loopback_host() -> None:
    from pydantic import ValidationError

    from mlcicd.serving.local.deployer import LocalSeldonModelDeployerConfig

    with pytest.raises(ValidationError, match="host must be a loopback address"):
        LocalSeldonModelDeployerConfig(serving_root="/tmp/x", host="0.0.0.0")  # noqa: S104 - the refusal is the test


def test_changed_config_updates_the_component(zenml_client, monkeypatch, tmp_path) -> None:
    import os

    original = os.environ["ML_CICD_HOME"]
    monkeypatch.setenv("ML_CICD_HOME", str(tmp_path))
    moved = ["artifact_store/local-artifact-store", "model_deployer/local-seldon-deployer"]
    changed = ensure_stack("local")
    assert changed.updated == moved
    store = zenml_client.get_stack_component(
        StackComponentType.ARTIFACT_STORE, "local-artifact-store", allow_name_prefix_match=False
    )
    assert store.configuration["path"] == f"{tmp_path}/artifacts"
    monkeypatch.setenv("ML_CICD_HOME", original)
    assert ensure_stack("local").updated == moved


def test_unknown_stack_lists_the_available_ones() -> None:
    with pytest.raises(PipelineInputError, match="unknown stack 'gpu'; available stacks: .*local"):
        load_stack_spec("gpu")
    assert "local" in available_stacks()


def test_missing_environment_variable_is_named(monkeypatch) -> None:
    monkeypatch.delenv("SOME_UNSET_VARIABLE", raising=False)
    with pytest.raises(PipelineInputError, match="environment variable SOME_UNSET_VARIABLE"):
        expand_placeholders({"a": ["x-${SOME_UNSET_VARIABLE}"]}, "stacks/x.yaml")
    assert expand_placeholders("${SOME_UNSET_VARIABLE:-fallback}", "s") == "fallback"
