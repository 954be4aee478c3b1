"""Encoders from outside keras_ssl (Sequential models), published projection heads."""

import keras
import numpy as np
import pytest

from keras_ssl.layers import ProjectionHead
from keras_ssl.models import BYOL, SimCLR, VICReg

SIZE = 12


def sequential_layers():
    return [
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
    ]


def images(n=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, SIZE, SIZE, 1)).astype("uint8")


class Subclassed(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.pool = keras.layers.GlobalAveragePooling2D()

    def call(self, x):
        return self.pool(x)


def test_an_unbuilt_sequential_encoder_is_told_what_to_add():
    with pytest.raises(ValueError) as info:
        SimCLR(keras.Sequential(sequential_layers()))
    message = str(info.value)
    assert "Received: encoder of type Sequential with no input shape" in message
    assert "keras.Sequential([keras.Input(shape=(height, width, channels))" in message
    assert "encoder.build((None, height, width, channels))" in message
    with pytest.raises(ValueError, match=r"Subclassed.*wrapped: `keras\.Model\("):
        SimCLR(Subclassed())


@pytest.mark.parametrize("how", ["input", "build"])
def test_a_sequential_encoder_with_an_input_shape_trains_and_round_trips(how, tmp_path):
    keras.utils.set_random_seed(0)
    if how == "input":
        encoder = keras.Sequential([keras.Input((SIZE, SIZE, 1)), *sequential_layers()])
    else:
        encoder = keras.Sequential(sequential_layers())
        encoder.build((None, SIZE, SIZE, 1))
    model = SimCLR(encoder, projection_dim=4, projection_hidden_dims=(8,), seed=0)
    assert model.augmenter.get_config()["image_size"] == (SIZE, SIZE)
    before = [np.array(w) for w in encoder.get_weights()]
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    history = model.fit(images(), batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.allclose(a, b) for a, b in zip(before, encoder.get_weights()))
    path = tmp_path / "simclr.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        loaded.predict(images(), verbose=0),
        model.predict(images(), verbose=0),
        atol=1e-6,
    )


def _dense_relu_dense(head, dim_in):
    """The keras.io SimCLR head, `Dense(relu) -> Dense`, with `head`'s weights."""
    inputs = keras.Input((dim_in,))
    hidden = keras.layers.Dense(head.hidden_dims[0], activation="relu")
    output = keras.layers.Dense(head.output_dim)
    reference = keras.Model(inputs, output(hidden(inputs)))
    (dense,) = [layer for block in head.hidden for layer in block if layer.weights]
    hidden.set_weights(dense.get_weights())
    output.set_weights(head.out.get_weights())
    return reference


def test_projection_head_without_batch_norm_is_dense_relu_dense():
    keras.utils.set_random_seed(1)
    encoder = keras.Sequential([keras.Input((SIZE, SIZE, 1)), *sequential_layers()])
    model = SimCLR(
        encoder,
        projection_dim=6,
        projection_hidden_dims=(5,),
        projection_batch_norm=False,
    )
    head = model.projection_head
    assert not any(
        isinstance(layer, keras.layers.BatchNormalization)
        for block in head.hidden
        for layer in block
    )
    features = np.random.default_rng(2).normal(size=(7, 4)).astype("float32")
    reference = _dense_relu_dense(head, 4)
    for training in (False, True):  # no batch statistics either way
        np.testing.assert_allclose(
            head(features, training=training),
            reference(features),
            rtol=1e-5,
            atol=1e-6,
        )
    # The default head still normalises its hidden layers.
    default = SimCLR(encoder, projection_dim=6, projection_hidden_dims=(5,))
    assert any(
        isinstance(layer, keras.layers.BatchNormalization)
        for block in default.projection_head.hidden
        for layer in block
    )


@pytest.mark.parametrize("model_class", [SimCLR, BYOL, VICReg])
def test_projection_batch_norm_survives_get_config(model_class):
    encoder = keras.Sequential([keras.Input((SIZE, SIZE, 1)), *sequential_layers()])
    model = model_class(
        encoder,
        projection_dim=4,
        projection_hidden_dims=(8,),
        projection_batch_norm=False,
    )
    config = model.get_config()
    assert config["projection_batch_norm"] is False
    restored = model_class.from_config(config)
    assert restored.projection_batch_norm is False
    assert restored.projection_head.batch_norm is False
    assert isinstance(restored.projection_head, ProjectionHead)
    if model_class is BYOL:  # the momentum copy of the head has none either
        assert model.target_head.batch_norm is False


def test_projection_batch_norm_must_be_a_bool():
    encoder = keras.Sequential([keras.Input((SIZE, SIZE, 1)), *sequential_layers()])
    with pytest.raises(ValueError, match=r"Received: projection_batch_norm='no'"):
        SimCLR(encoder, projection_batch_norm="no")
