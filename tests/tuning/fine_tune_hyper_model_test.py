"""FineTuneHyperModel and make_tuner: search space, tuners, resume, failures."""

import os

import keras
import numpy as np
import pytest

keras_tuner = pytest.importorskip("keras_tuner")

from keras_ssl.encoders import conv_encoder, transformer_encoder  # noqa: E402
from keras_ssl.tuning import (  # noqa: E402
    HYPERPARAMETER_NAMES,
    TUNERS,
    FineTuneHyperModel,
    make_tuner,
    trial_results,
)

# The smallest useful search: one epoch, a fixed small part of the space.
NARROW = {"batch_size": 16, "head_units": 0, "weight_decay": 1e-4}


def tiny_encoder():
    # Two convolutions (blocks) with batch norm: (8, 8, 1) images -> 8 dims.
    return conv_encoder((8, 8, 1), widths=(4, 8), blocks_per_stage=0)


@pytest.fixture(scope="module")
def images():
    """Images whose brightness carries the label (3 classes)."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=96)
    x = rng.random((96, 8, 8, 1)).astype("float32") * 0.5 + y[:, None, None, None] / 4
    return x[:64], y[:64], x[64:], y[64:]


def search(tuner, images, epochs=1):
    x, y, x_val, y_val = images
    tuner.search(x, y, validation_data=(x_val, y_val), epochs=epochs, verbose=0)


class CountingHyperModel(FineTuneHyperModel):
    """Counts `fit` calls, i.e. trials actually trained."""

    fits = 0

    def fit(self, hp, model, *args, **kwargs):
        type(self).fits += 1
        return super().fit(hp, model, *args, **kwargs)


def test_search_space_names_and_defaults():
    hypermodel = FineTuneHyperModel(tiny_encoder(), 3)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    assert set(hp.values) == set(HYPERPARAMETER_NAMES)
    space = {p.name: p for p in hp.space}
    assert space["learning_rate"].sampling == "log"
    assert space["weight_decay"].sampling == "log"
    # 0 = head only, 2 = the whole encoder (its two convolutions).
    assert hypermodel.num_blocks == 2
    assert list(space["trainable_layers"].values) == [0, 1, 2]
    assert 0 in space["head_units"].values
    assert len(space["batch_size"].values) > 1
    assert model.output_shape == (None, 3)
    assert isinstance(model.optimizer, keras.optimizers.AdamW)


def test_text_encoder_dict_output():
    encoder = transformer_encoder(
        50, 8, hidden_dim=8, num_layers=2, num_heads=2, intermediate_dim=16
    )
    hypermodel = FineTuneHyperModel(encoder, 4, head_units=8)
    model = hypermodel.build(keras_tuner.HyperParameters())
    assert model.output_shape == (None, 4)
    assert model.get_layer("head_hidden").units == 8
    ids = np.ones((2, 8), dtype="int32")
    assert model.predict(ids, verbose=0).shape == (2, 4)


def test_narrowing_and_fixing_the_space():
    hypermodel = FineTuneHyperModel(
        tiny_encoder(),
        3,
        learning_rate=(1e-4, 1e-2),
        dropout=0.25,
        trainable_layers=[0, "all"],
        head_units=[8],
        batch_size=[16, 32],
    )
    hp = keras_tuner.HyperParameters()
    hypermodel.build(hp)
    space = {p.name: p for p in hp.space}
    assert (space["learning_rate"].min_value, space["learning_rate"].max_value) == (
        1e-4,
        1e-2,
    )
    assert type(space["dropout"]).__name__ == "Fixed"
    assert hp.values["dropout"] == 0.25
    assert list(space["trainable_layers"].values) == [0, 2]  # "all" = 2 blocks
    assert type(space["head_units"]).__name__ == "Fixed"
    assert list(space["batch_size"].values) == [16, 32]


def test_a_tuner_hyperparameters_object_overrides_the_space():
    hp = keras_tuner.HyperParameters()
    hp.Fixed("learning_rate", 3e-3)
    hypermodel = FineTuneHyperModel(tiny_encoder(), 3)
    hypermodel.build(hp)
    assert hp.values["learning_rate"] == 3e-3


@pytest.mark.parametrize("k, expected", [(0, 0), (1, 2), ("all", 4)])
def test_freeze_depth(k, expected):
    encoder = tiny_encoder()
    model = FineTuneHyperModel(encoder, 3, trainable_layers=k).build(
        keras_tuner.HyperParameters()
    )
    copy = model.get_layer(encoder.name)
    assert copy is not encoder
    # conv, norm, conv, norm: the top `expected` of them train.
    weighted = [layer for layer in copy.layers if layer.weights]
    assert len(weighted) == 4
    trainable = [layer.trainable for layer in weighted]
    assert trainable == [False] * (4 - expected) + [True] * expected
    # The head always trains.
    assert model.get_layer("classifier_head").trainable_weights


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_classes": 1}, "num_classes"),
        ({"dropout": 1.5}, "dropout"),
        ({"trainable_layers": 3}, r"trainable_layers.*\[0, 2\]"),
        ({"learning_rate": (1e-2, 1e-4)}, "low < high"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"batch_size": []}, "empty"),
        ({"batch_size": [0, 8]}, "batch_size"),
        ({"weight_decay": (0.0, 1e-2)}, "log scale"),
        ({"head_units": 2.5}, "head_units"),
        ({"warmup_fraction": 1.0}, "warmup_fraction"),
    ],
)
def test_bad_search_space(kwargs, match):
    kwargs = {"num_classes": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        FineTuneHyperModel(tiny_encoder(), **kwargs)


@pytest.mark.parametrize(
    "name, cls",
    [
        ("random", keras_tuner.RandomSearch),
        ("hyperband", keras_tuner.Hyperband),
        ("bayesian", keras_tuner.BayesianOptimization),
    ],
)
def test_each_tuner_builds(tmp_path, name, cls):
    hypermodel = FineTuneHyperModel(tiny_encoder(), 3, **NARROW)
    tuner = make_tuner(name, hypermodel, tmp_path, name, max_trials=2, max_epochs=1)
    assert isinstance(tuner, cls)
    assert tuner.oracle.objective.name == "val_accuracy"
    assert tuner.oracle.objective.direction == "max"
    assert tuner.oracle.max_trials == 2
    assert sorted(TUNERS) == ["bayesian", "hyperband", "random"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "randm"}, "Did you mean 'random'"),
        ({"name": "Bayesian_opt"}, "Did you mean 'bayesian'"),
        ({"name": "grid"}, r"Expected one of \['random', 'hyperband', 'bayesian'\]"),
        ({"objective": "val_acc"}, "Did you mean 'val_accuracy'"),
        ({"objective": "val_auc"}, "does not produce"),
        ({"max_trials": 0}, "max_trials"),
        ({"name": "hyperband"}, "max_epochs"),
        ({"project_name": "../x"}, "project_name"),
    ],
)
def test_bad_tuner_arguments(tmp_path, kwargs, match):
    hypermodel = FineTuneHyperModel(tiny_encoder(), 3)
    kwargs = {"name": "random", "project_name": "p", **kwargs}
    with pytest.raises(ValueError, match=match):
        make_tuner(hypermodel=hypermodel, directory=tmp_path / "d", **kwargs)
    assert not os.path.exists(tmp_path / "d")  # nothing was created


def test_search_resume_and_encoder_untouched(tmp_path, images):
    encoder = tiny_encoder()
    before = [w.copy() for w in encoder.get_weights()]
    CountingHyperModel.fits = 0
    lines = []

    def tuner(max_trials):
        hypermodel = CountingHyperModel(encoder, 3, **NARROW)
        return make_tuner(
            "random",
            hypermodel,
            tmp_path,
            "search",
            max_trials=max_trials,
            seed=1,
            progress=lines.append,
        )

    first = tuner(2)
    search(first, images)
    assert CountingHyperModel.fits == 2
    assert len(lines) == 2 and all("val_accuracy=" in line for line in lines)
    best = first.get_best_hyperparameters()[0].values
    assert set(best) == set(HYPERPARAMETER_NAMES)
    rows = trial_results(first)
    assert [row["status"] for row in rows] == ["COMPLETED"] * 2
    assert rows[0]["score"] >= rows[1]["score"]

    # Same folder, overwrite=False: finished trials are not redone ...
    search(tuner(2), images)
    assert CountingHyperModel.fits == 2
    # ... and a larger budget runs only the new trials.
    resumed = tuner(3)
    search(resumed, images)
    assert CountingHyperModel.fits == 3
    assert len(resumed.oracle.trials) == 3
    assert len(os.listdir(tmp_path / "search")) >= 3  # trial folders

    # Trials trained copies: the encoder passed in is unchanged.
    for old, new in zip(before, encoder.get_weights()):
        np.testing.assert_array_equal(old, new)


class FailingHyperModel(FineTuneHyperModel):
    def build(self, hp):
        if self.declare(hp)["head_units"] == 8:
            raise RuntimeError("cannot build this one")
        return super().build(hp)


def test_a_failing_trial_does_not_stop_the_search(tmp_path, images):
    # Two possible configurations: one builds, one raises.
    hypermodel = FailingHyperModel(
        tiny_encoder(),
        3,
        learning_rate=1e-3,
        dropout=0.0,
        trainable_layers=0,
        head_units=[0, 8],
        batch_size=16,
        weight_decay=1e-4,
    )
    lines = []
    tuner = make_tuner(
        "random", hypermodel, tmp_path, "p", max_trials=3, progress=lines.append
    )
    search(tuner, images)
    rows = trial_results(tuner)
    assert sorted(row["status"] for row in rows) == ["COMPLETED", "FAILED"]
    failed = [row for row in rows if row["status"] == "FAILED"][0]
    assert "cannot build this one" in failed["error"]
    assert any("FAILED" in line and "cannot build" in line for line in lines)
    assert tuner.get_best_hyperparameters()[0].values["head_units"] == 0


@pytest.mark.parametrize("name", ["hyperband", "bayesian"])
def test_hyperband_and_bayesian_search(tmp_path, images, name):
    hypermodel = FineTuneHyperModel(tiny_encoder(), 3, **NARROW)
    tuner = make_tuner(name, hypermodel, tmp_path, name, max_trials=1, max_epochs=2)
    search(tuner, images, epochs=2)
    (row,) = trial_results(tuner)
    assert row["status"] == "COMPLETED" and 0.0 <= row["score"] <= 1.0
