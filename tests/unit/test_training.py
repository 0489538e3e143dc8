from pathlib import Path

import numpy as np
import pytest
import torch

from mlcicd.config import HistGradientBoostingConfig, TorchMLPConfig, load_config
from mlcicd.data.loading import binary_target, feature_columns
from mlcicd.data.preprocessing import fit_preprocessor, split_train_validation, transform
from mlcicd.training.gradient_boosting import train_hist_gradient_boosting
from mlcicd.training.torch_mlp import TrainingDiverged, choose_device, train_torch_mlp

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
SMALL = TorchMLPConfig(hidden_units=[16], max_epochs=6, patience=3, batch_size=128)


@pytest.fixture(scope="module")
def arrays(adult_frames) -> Arrays:
    config, schema = load_config("local")
    train, validation = split_train_validation(adult_frames[0].head(3000), config.data, seed=0)
    pre = fit_preprocessor(train, config.data, schema)
    features = feature_columns(config.data, schema)
    return (
        transform(pre, train[features]),
        binary_target(train, config.data).to_numpy(),
        transform(pre, validation[features]),
        binary_target(validation, config.data).to_numpy(),
    )


def _weights(model) -> list[np.ndarray]:
    return [v.numpy() for v in model.state_dict.values()]


def test_same_seed_same_weights_and_other_seed_differs(arrays: Arrays) -> None:
    a, hist_a = train_torch_mlp(*arrays, SMALL, seed=3, show_progress=False)
    b, hist_b = train_torch_mlp(*arrays, SMALL, seed=3, show_progress=False)
    c, _ = train_torch_mlp(*arrays, SMALL, seed=4, show_progress=False)
    for wa, wb in zip(_weights(a), _weights(b), strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert any(not np.array_equal(wa, wc) for wa, wc in zip(_weights(a), _weights(c), strict=True))
    assert [e.val_loss for e in hist_a.epochs] == [e.val_loss for e in hist_b.epochs]
    assert hist_a.device == "cpu"


def test_interrupted_training_resumes_to_identical_weights(arrays: Arrays, tmp_path: Path) -> None:
    reference, ref_hist = train_torch_mlp(*arrays, SMALL, seed=5, show_progress=False)

    def interrupt_after_two(metrics) -> None:
        if metrics.epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_torch_mlp(
            *arrays,
            SMALL,
            seed=5,
            checkpoint_dir=tmp_path,
            checkpoint_key="k",
            on_epoch=interrupt_after_two,
            show_progress=False,
        )
    assert (tmp_path / "k.pt").is_file()
    resumed, hist = train_torch_mlp(
        *arrays, SMALL, seed=5, checkpoint_dir=tmp_path, checkpoint_key="k", show_progress=False
    )
    assert hist.resumed_from_epoch == 2
    for wr, wx in zip(_weights(reference), _weights(resumed), strict=True):
        np.testing.assert_array_equal(wr, wx)
    assert [e.val_loss for e in hist.epochs] == [e.val_loss for e in ref_hist.epochs]
    assert not (tmp_path / "k.pt").exists()  # a finished training leaves no checkpoint


def test_checkpoint_of_another_run_is_not_resumed(arrays: Arrays, tmp_path: Path) -> None:
    def stop(metrics) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_torch_mlp(
            *arrays,
            SMALL,
            seed=1,
            checkpoint_dir=tmp_path,
            checkpoint_key="other",
            on_epoch=stop,
            show_progress=False,
        )
    (tmp_path / "other.pt").rename(tmp_path / "mine.pt")
    _, hist = train_torch_mlp(
        *arrays, SMALL, seed=1, checkpoint_dir=tmp_path, checkpoint_key="mine", show_progress=False
    )
    assert hist.resumed_from_epoch is None


@pytest.fixture(scope="module")
def s3_store():
    """The gpu-k8s stack's kind of artifact store: ZenML's S3 store, on a local S3 server."""
    from tests.helpers.s3 import create_bucket, s3_artifact_store, s3_server

    with s3_server() as endpoint:
        create_bucket(endpoint, "ml-cicd-artifacts")
        yield s3_artifact_store(endpoint, "s3://ml-cicd-artifacts/zenml")


def test_the_next_pod_of_a_run_resumes_from_the_artifact_store(arrays: Arrays, s3_store) -> None:
    """A lost pod's checkpoint is in S3 under its run: the Job's next pod carries on from it."""
    from mlcicd.training.checkpoints import run_checkpoint_folder

    reference, _ = train_torch_mlp(*arrays, SMALL, seed=6, show_progress=False)

    def pod_lost_after_three(metrics) -> None:
        if metrics.epoch == 3:
            raise KeyboardInterrupt

    first_pod = run_checkpoint_folder(s3_store, "run-a")
    with pytest.raises(KeyboardInterrupt):
        train_torch_mlp(
            *arrays, SMALL, seed=6, checkpoint_dir=first_pod, checkpoint_key="k",
            on_epoch=pod_lost_after_three, show_progress=False,
        )  # fmt: skip
    assert first_pod.path("k") == "s3://ml-cicd-artifacts/zenml/checkpoints/run-a/k.pt"
    assert s3_store.exists(first_pod.path("k"))
    _, other_run = train_torch_mlp(
        *arrays, SMALL, seed=6, checkpoint_dir=run_checkpoint_folder(s3_store, "run-b"),
        checkpoint_key="k", show_progress=False,
    )  # fmt: skip
    assert other_run.resumed_from_epoch is None  # another run never picks it up
    next_pod = run_checkpoint_folder(s3_store, "run-a")
    resumed, history = train_torch_mlp(
        *arrays, SMALL, seed=6, checkpoint_dir=next_pod, checkpoint_key="k", show_progress=False
    )
    assert history.resumed_from_epoch == 3
    for wr, wx in zip(_weights(reference), _weights(resumed), strict=True):
        np.testing.assert_array_equal(wr, wx)
    assert not s3_store.exists(next_pod.path("k"))  # a finished training leaves nothing behind


def test_the_gpu_k8s_configs_keep_checkpoints_in_the_artifact_store() -> None:
    assert load_config("staging")[0].training.checkpoints == "artifact_store"
    assert load_config("local")[0].training.checkpoints == "local"


def test_early_stopping_restores_best_epoch(arrays: Arrays) -> None:
    config = TorchMLPConfig(hidden_units=[64], max_epochs=30, patience=2, learning_rate=0.05)
    model, hist = train_torch_mlp(*arrays, config, seed=0, show_progress=False)
    assert hist.stopped_early
    assert len(hist.epochs) == hist.best_epoch + config.patience
    best = min(e.val_loss for e in hist.epochs)
    assert hist.epochs[hist.best_epoch - 1].val_loss == best
    proba = model.predict_proba(arrays[2])
    loss = torch.nn.functional.binary_cross_entropy(
        torch.tensor(proba[:, 1]).clamp(1e-7, 1 - 1e-7),
        torch.tensor(arrays[3], dtype=torch.float64),
    ).item()
    assert loss == pytest.approx(best, abs=1e-3)


def test_divergence_is_detected(arrays: Arrays) -> None:
    x_train, y_train, x_val, y_val = arrays
    broken = x_train.copy()
    broken[0, 0] = np.nan
    with pytest.raises(TrainingDiverged, match="loss became nan"):
        train_torch_mlp(broken, y_train, x_val, y_val, SMALL, seed=0, show_progress=False)


def test_device_choice_on_this_machine() -> None:
    if torch.cuda.is_available():
        assert choose_device("auto").type == "cuda"
    else:
        assert choose_device("auto").type == "cpu"
        with pytest.raises(RuntimeError, match="no CUDA device"):
            choose_device("cuda")
    assert choose_device("cpu").type == "cpu"


def test_hist_gradient_boosting_learns(arrays: Arrays) -> None:
    model, summary = train_hist_gradient_boosting(
        *arrays, HistGradientBoostingConfig(max_iter=100), seed=0
    )
    assert summary["val_auc"] > 0.85
    assert model.predict_proba(arrays[2]).shape == (len(arrays[2]), 2)
