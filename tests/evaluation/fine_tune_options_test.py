"""fine_tune options: head L2, class weights, validation and early stopping."""

import keras
import numpy as np
import pytest

from keras_ssl.evaluation import build_classifier, fine_tune
from keras_ssl.evaluation.fine_tune import class_weights


def linear_encoder(seed=0):
    """A deterministic encoder (no dropout, no batch statistics)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6,))
    outputs = keras.layers.Dense(4, name="features")(inputs)
    return keras.Model(inputs, outputs, name="encoder")


def blobs(n=96, seed=0, imbalanced=False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    if imbalanced:
        y = np.where(rng.random(n) < 0.7, 0, y)
    centres = rng.normal(size=(3, 6)) * 2
    x = centres[y] + rng.normal(size=(n, 6))
    return x.astype("float32"), y.astype("int64")


def _per_example_ce(model, x, y):
    logits = model.predict(x, verbose=0)
    return np.asarray(
        keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
    )


# Head L2 ---------------------------------------------------------------------


def test_head_l2_is_added_to_the_loss():
    x, y = blobs(32)
    model = build_classifier(
        linear_encoder(), 3, dropout=0.0, head_norm=False, head_l2=0.5
    )
    kernel = np.array(model.get_layer("classifier_head").kernel)
    (penalty,) = [float(loss) for loss in model.losses]
    np.testing.assert_allclose(penalty, 0.5 * np.sum(kernel**2), rtol=1e-5)
    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    loss = model.evaluate(x, y, batch_size=32, verbose=0)
    expected = np.mean(_per_example_ce(model, x, y)) + penalty
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    plain = build_classifier(linear_encoder(), 3, head_l2=0.0)
    assert plain.losses == []


def test_fine_tune_head_l2_shrinks_the_head():
    x, y = blobs()
    norms = {}
    for head_l2 in (0.0, 1.0):
        result = fine_tune(
            linear_encoder(),
            x,
            y,
            x,
            y,
            epochs=2,
            batch_size=16,
            learning_rate=0.05,
            weight_decay=0.0,
            head_l2=head_l2,
            verbose=0,
        )
        model = result["model"]
        assert len(model.losses) == (1 if head_l2 else 0)
        norms[head_l2] = np.sum(
            np.array(model.get_layer("classifier_head").kernel) ** 2
        )
    assert norms[1.0] < norms[0.0]


@pytest.mark.parametrize("bad", [-0.1, float("nan"), "big", True])
def test_bad_head_l2(bad):
    with pytest.raises(ValueError, match="head_l2"):
        build_classifier(linear_encoder(), 3, head_l2=bad)


# Class weights ---------------------------------------------------------------


def test_balanced_class_weights():
    y = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    weights = class_weights("balanced", y, 4)
    # n / (k * n_c): 12 / (3 * 6), 12 / (3 * 2), 12 / (3 * 4); class 3 absent.
    assert weights == pytest.approx({0: 2 / 3, 1: 2.0, 2: 1.0, 3: 1.0})
    assert class_weights({1: 3}, y, 3) == {0: 1.0, 1: 3.0, 2: 1.0}
    assert class_weights(None, y, 3) is None
    for bad in ("inverse", {3: 1.0}, {0: -1.0}, {"a": 1.0}, [1.0, 2.0]):
        with pytest.raises(ValueError, match="class_weight"):
            class_weights(bad, y, 3)


def test_class_weights_scale_the_training_loss():
    """With a (practically) zero learning rate the epoch loss is computable."""
    x, y = blobs(48, imbalanced=True)
    weights = {0: 0.25, 1: 2.0, 2: 3.0}
    losses = {}
    for name, class_weight in (("none", None), ("dict", weights)):
        result = fine_tune(
            linear_encoder(),
            x,
            y,
            x,
            y,
            epochs=1,
            batch_size=48,
            learning_rate=1e-12,
            dropout=0.0,
            head_norm=False,
            class_weight=class_weight,
            verbose=0,
        )
        losses[name] = result["history"]["loss"][0]
        ce = _per_example_ce(result["model"], x, y)
        w = np.ones(len(y)) if class_weight is None else np.vectorize(weights.get)(y)
        # Keras: sum of weighted losses over the batch size.
        np.testing.assert_allclose(losses[name], np.sum(w * ce) / len(y), rtol=1e-4)
        assert result["class_weight"] == class_weight
    assert losses["none"] != pytest.approx(losses["dict"])


def test_balanced_class_weights_in_fine_tune():
    x, y = blobs(64, imbalanced=True)
    result = fine_tune(
        linear_encoder(),
        x,
        y,
        x,
        y,
        epochs=1,
        batch_size=16,
        class_weight="balanced",
        verbose=0,
    )
    assert result["class_weight"] == pytest.approx(class_weights("balanced", y, 3))


# Validation and early stopping ---------------------------------------------


class WeightsPerEpoch(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([np.array(w) for w in self.model.get_weights()])


def test_early_stopping_restores_the_best_weights():
    x, y = blobs(96)
    # Validation labels disagree with training: fitting the training data
    # makes the validation loss worse, so an early epoch is the best.
    y_val = (y + 1) % 3
    recorder = WeightsPerEpoch()
    result = fine_tune(
        linear_encoder(),
        x,
        y,
        x,
        y,
        epochs=8,
        batch_size=16,
        learning_rate=0.05,
        warmup_fraction=0.0,
        validation_data=(x, y_val),
        early_stopping_patience=1,
        callbacks=[recorder],
        verbose=0,
    )
    val_losses = result["history"]["val_loss"]
    best = int(np.argmin(val_losses))
    assert result["epochs_run"] == len(val_losses) < 8  # stopped early
    assert result["best_epoch"] == best + 1
    assert best < len(val_losses) - 1  # the last epoch was worse
    for restored, recorded in zip(
        result["model"].get_weights(), recorder.weights[best]
    ):
        np.testing.assert_array_equal(restored, recorded)
    assert result["val_loss"] == pytest.approx(val_losses[best], rel=1e-5)


def test_validation_split_is_stratified_and_held_out():
    x, y = blobs(100)
    result = fine_tune(
        linear_encoder(),
        x,
        y,
        x[:10],
        y[:10],
        epochs=1,
        batch_size=16,
        validation_split=0.2,
        verbose=0,
    )
    assert (result["num_train"], result["num_val"], result["num_test"]) == (80, 20, 10)
    assert "val_loss" in result["history"]
    assert 0.0 <= result["val_accuracy"] <= 1.0
    assert result["best_epoch"] is None  # no early stopping asked for


def test_without_test_data():
    x, y = blobs(32)
    result = fine_tune(
        linear_encoder(), x, y, None, None, epochs=1, batch_size=16, verbose=0
    )
    assert result["accuracy"] is None and result["num_test"] == 0


def test_bad_arguments():
    x, y = blobs(32)
    encoder = linear_encoder()

    def run(**kwargs):
        fine_tune(encoder, x, y, x, y, epochs=1, batch_size=16, verbose=0, **kwargs)

    with pytest.raises(ValueError, match="not both"):
        run(validation_split=0.2, validation_data=(x, y))
    with pytest.raises(ValueError, match="validation_split"):
        run(validation_split=1.5)
    with pytest.raises(ValueError, match="Early stopping needs validation data"):
        run(early_stopping_patience=2)
    with pytest.raises(ValueError, match="early_stopping_patience"):
        run(validation_split=0.2, early_stopping_patience=-1)
    with pytest.raises(ValueError, match="exclude each other"):
        run(gradual_unfreezing=True, freeze_encoder=True)
    with pytest.raises(ValueError, match="num_classes"):
        run(num_classes=2)
    with pytest.raises(ValueError, match="batch_size"):
        fine_tune(encoder, x, y, x, y, batch_size=64, verbose=0)
    with pytest.raises(ValueError, match="both be given"):
        fine_tune(encoder, x, y, x, None, verbose=0)
