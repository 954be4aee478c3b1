import keras
import numpy as np
import pytest

from keras_ssl.evaluation import embed


def dense_encoder(input_dim=4, dim=6):
    return keras.Sequential(
        [keras.Input((input_dim,)), keras.layers.Dense(dim), keras.layers.Dropout(0.5)]
    )


def test_model_encoder_runs_in_inference_mode():
    encoder = dense_encoder()
    x = np.random.default_rng(0).normal(size=(10, 4)).astype("float32")
    features = embed(encoder, x, batch_size=3)
    assert features.shape == (10, 6)
    assert features.dtype == np.float32
    expected = keras.ops.convert_to_numpy(encoder(x, training=False))
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-6)


def test_callable_encoder_is_called_in_batches_with_training_false():
    calls = []

    def encoder(batch, training=None):
        calls.append((len(batch), training))
        return batch * 2.0

    x = np.arange(20, dtype="float32").reshape(10, 2)
    features = embed(encoder, x, batch_size=4)
    np.testing.assert_array_equal(features, x * 2.0)
    assert calls == [(4, False), (4, False), (2, False)]


def test_callable_without_training_argument_and_dict_inputs():
    x = {"a": np.ones((5, 3), "float32"), "b": np.zeros((5, 2), "float32")}
    features = embed(lambda d: np.concatenate([d["a"], d["b"]], axis=1), x, 2)
    np.testing.assert_array_equal(features, np.concatenate([x["a"], x["b"]], 1))


def test_encoder_that_does_not_return_vectors_raises():
    x = np.ones((5, 4), "float32")
    with pytest.raises(ValueError, match=r"vector per example.*shape=\(5,\)"):
        embed(lambda batch: batch.sum(axis=1), x)
    encoder = keras.Sequential([keras.Input((4,)), keras.layers.Reshape((2, 2))])
    with pytest.raises(ValueError, match=r"Expected: \(batch, dim\)"):
        embed(encoder, x)


def test_empty_input_raises():
    with pytest.raises(ValueError, match="Argument `x` must contain at least one"):
        embed(dense_encoder(), np.zeros((0, 4), "float32"))
