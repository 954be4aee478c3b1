"""GradualUnfreezing: one more encoder block trains each epoch, the rest stays put."""

import keras
import numpy as np
import pytest

from keras_ssl.callbacks import GradualUnfreezing
from keras_ssl.evaluation import build_classifier, fine_tune
from keras_ssl.evaluation.gradual_unfreezing import encoder_blocks


def dense_encoder(name="encoder"):
    """Three blocks (d0, d1, d2) and a norm between d1 and d2."""
    inputs = keras.Input((6,))
    x = keras.layers.Dense(8, activation="relu", name="d0")(inputs)
    x = keras.layers.Dense(8, activation="relu", name="d1")(x)
    x = keras.layers.LayerNormalization(name="n1")(x)
    x = keras.layers.Dense(8, name="d2")(x)
    return keras.Model(inputs, x, name=name)


def data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0)


def _weights(model):
    """Weights by layer name, over the model and the encoder inside it."""
    layers = [*model.layers, *model.get_layer("encoder").layers]
    return {
        layer.name: [np.array(w) for w in layer.get_weights()]
        for layer in layers
        if layer.weights and not isinstance(layer, keras.Model)
    }


class MovedPerEpoch(keras.callbacks.Callback):
    """Records which layers' weights changed during each epoch."""

    def __init__(self):
        super().__init__()
        self.moved = []

    def on_epoch_begin(self, epoch, logs=None):
        self.before = _weights(self.model)

    def on_epoch_end(self, epoch, logs=None):
        after = _weights(self.model)
        self.moved.append(
            {
                name
                for name, weights in after.items()
                if any(
                    not np.array_equal(a, b) for a, b in zip(weights, self.before[name])
                )
            }
        )


def test_blocks_are_weighted_non_norm_layers():
    assert [layer.name for layer in encoder_blocks(dense_encoder())] == [
        "d0",
        "d1",
        "d2",
    ]


def test_unfreezes_one_block_per_epoch_and_frozen_layers_stay_put():
    keras.utils.set_random_seed(0)
    encoder = dense_encoder()
    model = build_classifier(encoder, 3, dropout=0.0, head_norm=False)
    # Weight decay too: a frozen weight must not decay either.
    model.compile(
        optimizer=keras.optimizers.AdamW(0.05, weight_decay=0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    moved = MovedPerEpoch()
    history = model.fit(
        *data(),
        batch_size=16,
        epochs=5,
        verbose=0,
        callbacks=[GradualUnfreezing(encoder), moved],
    )
    head = "classifier_head"
    assert moved.moved == [
        {head},
        {head, "d2"},
        {head, "d2", "n1", "d1"},  # the norm above d1 trains with it
        {head, "d2", "n1", "d1", "d0"},
        {head, "d2", "n1", "d1", "d0"},
    ]
    assert history.history["unfrozen_blocks"] == [0, 1, 2, 3, 3]


def test_initial_blocks_and_blocks_per_epoch():
    encoder = dense_encoder()
    model = build_classifier(encoder, 3, dropout=0.0, head_norm=False)
    model.compile(optimizer="adamw", loss="sparse_categorical_crossentropy")
    callback = GradualUnfreezing(encoder, initial_blocks=1, blocks_per_epoch=2)
    history = model.fit(
        *data(), batch_size=32, epochs=3, verbose=0, callbacks=[callback]
    )
    assert history.history["unfrozen_blocks"] == [1, 3, 3]
    assert all(layer.trainable for layer in encoder.layers if layer.weights)


def test_fine_tune_gradual_unfreezing_moves_only_unfrozen_blocks():
    moved = MovedPerEpoch()
    result = fine_tune(
        dense_encoder(),
        *data(),
        None,
        None,
        epochs=3,
        batch_size=16,
        learning_rate=0.05,
        warmup_fraction=0.0,
        dropout=0.0,
        gradual_unfreezing=True,
        trainable_layers=1,  # the top block trains from the first epoch
        callbacks=[moved],
        verbose=0,
    )
    head = {"classifier_head", "head_norm"}
    assert moved.moved == [
        head | {"d2"},
        head | {"d2", "n1", "d1"},
        head | {"d2", "n1", "d1", "d0"},
    ]
    assert result["history"]["unfrozen_blocks"] == [1, 2, 3]


def test_optimizer_built_without_the_encoder_is_refused():
    encoder = dense_encoder()
    model = build_classifier(encoder, 3, head_norm=False)
    encoder.trainable = False
    model.compile(optimizer="adamw", loss="sparse_categorical_crossentropy")
    model.fit(*data(), epochs=1, verbose=0)  # builds the optimizer: head only
    with pytest.raises(ValueError, match="optimizer built over the encoder"):
        model.fit(*data(), epochs=2, verbose=0, callbacks=[GradualUnfreezing(encoder)])


def test_bad_arguments():
    encoder = dense_encoder()
    for bad in (-1, 4, 1.0, True):
        with pytest.raises(ValueError, match="initial_blocks"):
            GradualUnfreezing(encoder, initial_blocks=bad)
    for bad in (0, 1.5, False):
        with pytest.raises(ValueError, match="blocks_per_epoch"):
            GradualUnfreezing(encoder, blocks_per_epoch=bad)
    with pytest.raises(ValueError, match="keras.Model"):
        GradualUnfreezing("encoder")
    model = build_classifier(dense_encoder(), 3)
    model.compile(optimizer="adamw", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="part of the trained model"):
        model.fit(*data(), epochs=1, verbose=0, callbacks=[GradualUnfreezing(encoder)])


def test_old_import_paths_still_work():
    """The callback lives in keras_ssl.evaluation; the old paths re-export it."""
    from keras_ssl.callbacks import gradual_unfreezing as old
    from keras_ssl.evaluation import GradualUnfreezing as moved
    from keras_ssl.evaluation import gradual_unfreezing as new

    assert GradualUnfreezing is moved is old.GradualUnfreezing
    assert old.encoder_blocks is new.encoder_blocks
    assert old.set_trainable_blocks is new.set_trainable_blocks
