import types
import warnings

import keras
import numpy as np
import pytest

from keras_ssl.callbacks import CollapseGuard
from keras_ssl.encoders import conv_encoder
from keras_ssl.metrics import EffectiveRank, EmbeddingStd, effective_rank, embedding_std
from keras_ssl.models import SimCLR

DIM = 8
BATCH = 8
IMAGES = np.random.default_rng(0).random((64, 8, 8, 1)).astype("float32")  # 8 steps


def tiny_simclr(collapse_metrics=True):
    """A SimCLR whose weights never move (learning rate 0)."""
    keras.utils.set_random_seed(0)
    model = SimCLR(
        conv_encoder((8, 8, 1), widths=(4,), blocks_per_stage=0),
        projection_dim=DIM,
        projection_hidden_dims=(16,),
        seed=0,
        collapse_metrics=collapse_metrics,
    )
    model.compile(optimizer=keras.optimizers.SGD(0.0), jit_compile=False)
    return model


def collapse(model):
    """Makes the projection head constant: every embedding is the same."""
    kernel = [v for v in model.projection_head.weights if "kernel" in v.path][-1]
    bias = [v for v in model.projection_head.weights if "bias" in v.path][-1]
    kernel.assign(np.zeros(kernel.shape, "float32"))
    bias.assign(np.linspace(1.0, 2.0, DIM).astype("float32"))


def fit(model, guard, epochs=1, extra=()):
    return model.fit(
        IMAGES, batch_size=BATCH, epochs=epochs, callbacks=[*extra, guard], verbose=0
    )


def collapse_warnings(records):
    return [r for r in records if "Representation collapse" in str(r.message)]


def test_healthy_embeddings_pass():
    model = tiny_simclr()
    guard = CollapseGuard(min_embedding_std=0.05, min_effective_rank=2.0, patience=1)
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        history = fit(model, guard, epochs=2)
    assert not collapse_warnings(records)
    assert guard.collapsed_at is None
    assert len(history.history["loss"]) == 2
    # Per-window values of a random-init head: spread and high-rank.
    assert guard.last_values["embedding_std"] > 0.1
    assert guard.last_values["effective_rank"] > 2.0


def test_stop_mode_stops_after_patience_checks():
    model = tiny_simclr()
    collapse(model)
    guard = CollapseGuard(min_embedding_std=0.01, patience=3, mode="stop")
    fit(model, guard, epochs=2)
    assert int(model.optimizer.iterations) == 3
    assert guard.collapsed_at == 3
    assert guard.last_values["embedding_std"] == pytest.approx(0.0, abs=1e-6)


def test_warn_mode_warns_once_per_collapse_and_trains_on():
    model = tiny_simclr()
    collapse(model)
    guard = CollapseGuard(min_effective_rank=1.5, patience=2, mode="warn")
    with pytest.warns(UserWarning, match="Representation collapse") as records:
        fit(model, guard, epochs=2)
    assert len(collapse_warnings(records)) == 1
    assert "effective_rank 1 < 1.5 at 2 consecutive checks" in str(
        collapse_warnings(records)[0].message
    )
    assert int(model.optimizer.iterations) == 16
    assert guard.collapsed_at == 2
    assert guard.last_values["effective_rank"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "kwargs", [{"min_embedding_std": 0.01}, {"min_effective_rank": 1.5}]
)
def test_collapse_in_mid_epoch_is_seen_within_patience(kwargs):
    class CollapseAtBatch4(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 4:
                collapse(self.model)

    model = tiny_simclr()
    guard = CollapseGuard(patience=2, mode="stop", **kwargs)
    history = fit(model, guard, extra=[CollapseAtBatch4()])
    # Steps 5 and 6 are collapsed: the guard stops after step 6 ...
    assert guard.collapsed_at == 6
    assert int(model.optimizer.iterations) == 6
    # ... although the epoch-to-date metrics in the logs still look healthy.
    assert history.history["embedding_std"][-1] > 0.1
    assert history.history["effective_rank"][-1] > 2.0


def test_check_every_counts_checks_not_steps():
    model = tiny_simclr()
    collapse(model)
    guard = CollapseGuard(
        min_embedding_std=0.01, patience=2, check_every=3, mode="stop"
    )
    fit(model, guard)
    assert guard.collapsed_at == 6


def test_window_values_equal_the_metrics_of_the_window_batches():
    rng = np.random.default_rng(1)
    model = types.SimpleNamespace(
        metrics=[EmbeddingStd(dim=4), EffectiveRank(dim=4)],
        optimizer=None,
        stop_training=False,
    )
    guard = CollapseGuard(min_embedding_std=1e-3, min_effective_rank=1.01)
    guard.set_model(model)
    guard.on_train_begin()
    guard.on_epoch_begin(0)
    for step in range(3):
        z = (rng.normal(size=(16, 4)) * [1.0, 1.0, 0.1, 0.01]).astype("float32")
        for metric in model.metrics:
            metric.update_state(z)
        guard.on_train_batch_begin(step)
        guard.on_train_batch_end(step, {})
        values = guard.last_values
        assert values["embedding_std"] == pytest.approx(float(embedding_std(z)), 1e-4)
        assert values["effective_rank"] == pytest.approx(float(effective_rank(z)), 1e-4)


def test_non_finite_embeddings_are_not_called_a_collapse():
    model = types.SimpleNamespace(
        metrics=[EmbeddingStd(dim=4), EffectiveRank(dim=4)],
        optimizer=None,
        stop_training=False,
    )
    guard = CollapseGuard(min_embedding_std=0.01, min_effective_rank=1.5, patience=1)
    guard.set_model(model)
    guard.on_train_begin()
    guard.on_epoch_begin(0)
    z = np.ones((8, 4), "float32")
    z[0, 0] = np.nan
    model.metrics[0].update_state(z)
    model.metrics[1].update_state(z)
    guard.on_train_batch_begin(0)
    guard.on_train_batch_end(0, {})
    assert np.isnan(guard.last_values["embedding_std"])
    assert np.isnan(guard.last_values["effective_rank"])
    assert guard.collapsed_at is None and not model.stop_training


def test_logged_values_are_used_without_metric_state():
    model = types.SimpleNamespace(metrics=[], optimizer=None, stop_training=False)
    guard = CollapseGuard(min_embedding_std=0.01, patience=2, mode="stop")
    guard.set_model(model)
    guard.on_train_begin()
    guard.on_epoch_begin(0)
    for step, value in enumerate([0.001, 0.2, 0.001, 0.001]):
        guard.on_train_batch_begin(step)
        guard.on_train_batch_end(step, {"loss": 1.0, "embedding_std": value})
        assert model.stop_training == (step == 3)


def test_missing_metric_names_collapse_metrics():
    model = tiny_simclr(collapse_metrics=False)
    with pytest.raises(ValueError, match=r"collapse_metrics=True"):
        fit(model, CollapseGuard(min_embedding_std=0.01))


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({}, "min_embedding_std"),
        ({"min_embedding_std": 0}, "min_embedding_std"),
        ({"min_embedding_std": True}, "min_embedding_std"),
        ({"min_effective_rank": 1}, "min_effective_rank"),
        ({"min_effective_rank": "2"}, "min_effective_rank"),
        ({"min_embedding_std": 0.1, "patience": 0}, "patience"),
        ({"min_embedding_std": 0.1, "patience": 2.0}, "patience"),
        ({"min_embedding_std": 0.1, "mode": "raise"}, "mode"),
        ({"min_embedding_std": 0.1, "check_every": 0}, "check_every"),
    ],
)
def test_bad_arguments_raise(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`.*Received: {name}="):
        CollapseGuard(**kwargs)
