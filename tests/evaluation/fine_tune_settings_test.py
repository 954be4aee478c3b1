"""FineTuneSettings: validation, config round trip, replace, same runs."""

import dataclasses
import json
import random
import warnings

import keras
import numpy as np
import pytest

from keras_ssl.evaluation import FineTuneSettings, fine_tune
from keras_ssl.evaluation.fine_tune import warmup_cosine_schedule
from keras_ssl.evaluation.fine_tune_settings import resolve_settings
from keras_ssl.schedules import warmup_cosine


def linear_encoder():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    return keras.Model(inputs, keras.layers.Dense(4)(inputs), name="encoder")


def blobs(n=64, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    x = rng.normal(size=(3, 6))[y] * 2 + rng.normal(size=(n, 6))
    return x.astype("float32"), y.astype("int64")


def test_defaults_are_those_of_fine_tune():
    settings = FineTuneSettings()
    assert (settings.epochs, settings.batch_size, settings.learning_rate) == (
        2,
        64,
        5e-4,
    )
    assert (settings.weight_decay, settings.warmup_fraction, settings.dropout) == (
        0.01,
        0.1,
        0.1,
    )
    assert settings.head_norm and settings.head_l2 == 0.0
    assert not settings.freeze_encoder and not settings.gradual_unfreezing
    assert settings.trainable_layers is None and settings.probe_epochs == 0
    assert settings.validation_split is None
    assert settings.early_stopping_patience is None
    assert settings.early_stopping_monitor == "val_loss"
    assert settings.class_weight is None and settings.seed == 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"epochs": 0}, r"`epochs` must be a positive int\. Received: epochs=0"),
        ({"epochs": 1.5}, "`epochs` must be a positive int"),
        ({"batch_size": True}, "`batch_size` must be a positive int or None"),
        ({"learning_rate": 0.0}, r"`learning_rate` must be a number > 0"),
        ({"learning_rate": "fast"}, "learning_rate='fast'"),
        ({"weight_decay": -0.1}, "`weight_decay` must be a number >= 0"),
        ({"warmup_fraction": 1.5}, "`warmup_fraction` must be a number in"),
        ({"dropout": 1.0}, r"`dropout` must be a number in \[0.0, 1.0\)"),
        ({"head_norm": "yes"}, "`head_norm` must be True or False"),
        ({"head_l2": float("nan")}, "`head_l2` must be a number >= 0"),
        ({"freeze_encoder": 1}, "`freeze_encoder` must be True or False"),
        ({"trainable_layers": -1}, "`trainable_layers` must be None or an int"),
        ({"probe_epochs": -1}, "`probe_epochs` must be an int >= 0"),
        ({"validation_split": 1.0}, "strictly between 0 and 1"),
        ({"validation_split": 0}, "strictly between 0 and 1"),
        ({"early_stopping_patience": -1}, "`early_stopping_patience` must be"),
        ({"early_stopping_monitor": "val_acc"}, "Did you mean 'val_accuracy'"),
        ({"class_weight": "inverse"}, "`class_weight` must be None, 'balanced'"),
        ({"seed": -1}, r"`seed` must be an int in \[0, 2\*\*32 - 2\]"),
        (
            {"gradual_unfreezing": True, "freeze_encoder": True},
            "exclude each other",
        ),
    ],
)
def test_validation_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FineTuneSettings(**kwargs)
    # `replace` validates the same way.
    with pytest.raises(ValueError, match=match):
        FineTuneSettings().replace(**kwargs)


def test_values_are_normalised():
    settings = FineTuneSettings(
        epochs=np.int64(3),
        learning_rate=1,
        head_norm=np.bool_(False),
        class_weight={"1": 2.0, 0: 1},
    )
    assert type(settings.epochs) is int and settings.epochs == 3
    assert type(settings.learning_rate) is float
    assert settings.head_norm is False
    assert settings.class_weight == {1: 2.0, 0: 1}


def test_replace_returns_a_validated_copy():
    settings = FineTuneSettings(epochs=3)
    changed = settings.replace(dropout=0.2, trainable_layers=1)
    assert (changed.epochs, changed.dropout, changed.trainable_layers) == (3, 0.2, 1)
    assert settings.dropout == 0.1  # unchanged
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.epochs = 4
    with pytest.raises(ValueError, match="Did you mean 'learning_rate'"):
        settings.replace(lerning_rate=1e-3)


def test_config_round_trip_through_json():
    settings = FineTuneSettings(
        epochs=4,
        gradual_unfreezing=True,
        validation_split=0.2,
        early_stopping_patience=1,
        class_weight={0: 0.5, 2: 3.0},
        seed=7,
    )
    config = settings.get_config()
    assert set(config) == set(FineTuneSettings.field_names())
    assert FineTuneSettings.from_config(config) == settings
    # JSON turns the class ids into strings; `from_config` turns them back.
    assert FineTuneSettings.from_config(json.loads(json.dumps(config))) == settings
    # Keys left out keep their defaults; unknown keys are refused.
    assert FineTuneSettings.from_config({"epochs": 4}) == FineTuneSettings(epochs=4)
    with pytest.raises(ValueError, match="not a fine-tuning setting"):
        FineTuneSettings.from_config({"epoch": 4})
    with pytest.raises(ValueError, match="must be a dict"):
        FineTuneSettings.from_config([("epochs", 4)])


def test_freeze_names():
    assert FineTuneSettings().freeze == "all"
    assert FineTuneSettings(freeze_encoder=True).freeze == "head"
    assert FineTuneSettings(trainable_layers=2).freeze == "top-2"
    assert FineTuneSettings(gradual_unfreezing=True).freeze == "gradual"
    assert FineTuneSettings(gradual_unfreezing=True, trainable_layers=1).freeze is None


def test_resolve_settings():
    base = FineTuneSettings(epochs=5)
    assert resolve_settings(None, {}) == FineTuneSettings()
    assert resolve_settings(None, {}, default=base) is base
    assert resolve_settings(base, {"seed": 3}) == FineTuneSettings(epochs=5, seed=3)
    with pytest.raises(ValueError, match="`settings` must be a FineTuneSettings"):
        resolve_settings({"epochs": 5}, {})


def test_settings_give_the_same_run_as_keyword_arguments():
    x, y = blobs()
    kwargs = {
        "epochs": 2,
        "batch_size": 16,
        "learning_rate": 1e-2,
        "validation_split": 0.25,
        "early_stopping_patience": 3,
        "class_weight": "balanced",
        "seed": 3,
    }
    by_keywords = fine_tune(linear_encoder(), x, y, x, y, verbose=0, **kwargs)
    by_settings = fine_tune(
        linear_encoder(), x, y, x, y, FineTuneSettings(**kwargs), verbose=0
    )
    # A keyword argument overrides the settings' value.
    mixed = fine_tune(
        linear_encoder(),
        x,
        y,
        x,
        y,
        FineTuneSettings(**{**kwargs, "epochs": 1}),
        epochs=2,
        verbose=0,
    )
    for other in (by_settings, mixed):
        assert other["history"] == by_keywords["history"]
        assert other["accuracy"] == by_keywords["accuracy"]
        for a, b in zip(
            other["model"].get_weights(), by_keywords["model"].get_weights()
        ):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="Did you mean 'batch_size'"):
        fine_tune(linear_encoder(), x, y, x, y, batch_sze=16)


def test_fine_tune_leaves_the_callers_random_state_alone():
    x, y = blobs(32)
    encoder = linear_encoder()
    random.seed(1)
    np.random.seed(1)
    expected = (random.random(), np.random.random())
    random.seed(1)
    np.random.seed(1)
    fine_tune(encoder, x, y, None, None, epochs=1, batch_size=16, verbose=0)
    assert (random.random(), np.random.random()) == expected


def test_warmup_cosine_schedule_is_a_deprecated_alias():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = warmup_cosine_schedule(1e-3, 100, 0.1)
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
    new = warmup_cosine(1e-3, 100, 10)
    for step in (0, 5, 10, 50, 100):
        assert float(old(step)) == float(new(step))
