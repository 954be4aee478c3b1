import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.losses import InfoNCE, info_nce
from keras_ssl.testing import TestCase


def info_nce_reference(query, key, negatives, temperature):
    """Per-query InfoNCE in float64 NumPy, written from the paper."""

    def unit(x):
        x = x.astype("float64")
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    q, k = unit(query), unit(key)
    candidates = list(k) + ([] if negatives is None else list(unit(negatives)))
    losses = []
    for i in range(len(q)):
        scores = np.array([q[i] @ c / temperature for c in candidates])
        losses.append(np.logaddexp.reduce(scores) - scores[i])
    return np.array(losses)


def random_inputs(batch, dim=8, num_negatives=0, seed=0):
    rng = np.random.default_rng(seed)
    query = rng.normal(size=(batch, dim)).astype("float32")
    key = (query + 0.5 * rng.normal(size=(batch, dim))).astype("float32")
    negatives = (
        rng.normal(size=(num_negatives, dim)).astype("float32")
        if num_negatives
        else None
    )
    return query, key, negatives


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("batch", [1, 4, 8])
@pytest.mark.parametrize("num_negatives", [0, 1, 16])
@pytest.mark.parametrize("temperature", [0.07, 0.2, 1.0])
def test_matches_numpy_reference(batch, num_negatives, temperature):
    q, k, negatives = random_inputs(batch, num_negatives=num_negatives, seed=batch)
    actual = to_numpy(info_nce(q, k, negatives=negatives, temperature=temperature))
    expected = info_nce_reference(q, k, negatives, temperature)
    assert actual.shape == (batch,)
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("batch", [2, 4])
@pytest.mark.parametrize("num_negatives", [0, 3])
@pytest.mark.parametrize("temperature", [0.1, 1.0])
def test_analytic_value_orthonormal_embeddings(batch, num_negatives, temperature):
    # Queries = keys = the first basis vectors; negatives the next ones: the
    # positive has cosine 1 and all batch - 1 + K negatives cosine 0.
    eye = np.eye(batch + num_negatives, dtype="float32")
    q = eye[:batch]
    negatives = eye[batch:] if num_negatives else None
    e = math.exp(1 / temperature)
    expected = -math.log(e / (e + batch - 1 + num_negatives))
    actual = to_numpy(info_nce(q, q, negatives=negatives, temperature=temperature))
    np.testing.assert_allclose(actual, np.full(batch, expected), rtol=1e-5, atol=1e-6)


def test_single_example_without_negatives_is_zero():
    q, k, _ = random_inputs(1)
    np.testing.assert_allclose(to_numpy(info_nce(q, k)), [0.0], atol=1e-6)


def test_gradients_are_finite():
    q, k, negatives = random_inputs(4, num_negatives=5)
    vq, vk, vn = tf.Variable(q), tf.Variable(k), tf.Variable(negatives)
    with tf.GradientTape() as tape:
        loss = keras.ops.mean(info_nce(vq, vk, vn, temperature=0.05))
    for grad in tape.gradient(loss, [vq, vk, vn]):
        assert np.all(np.isfinite(to_numpy(grad)))
        assert np.any(to_numpy(grad) != 0)


def test_per_example_shape_and_dtype():
    q, k, negatives = random_inputs(4, num_negatives=6)
    loss = info_nce(q, k, negatives)
    assert tuple(loss.shape) == (4,)
    assert keras.backend.standardize_dtype(loss.dtype) == "float32"


def test_dynamic_batch_in_tf_function():
    spec = tf.TensorSpec([None, 8], tf.float32)
    fn = tf.function(
        lambda q, k, n: info_nce(q, k, n, temperature=0.1),
        input_signature=[spec, spec, spec],
    )
    q, k, negatives = random_inputs(4, num_negatives=3)
    np.testing.assert_allclose(
        to_numpy(fn(q, k, negatives)),
        info_nce_reference(q, k, negatives, 0.1),
        rtol=1e-4,
        atol=1e-5,
    )


@pytest.mark.parametrize("temperature", [0, 0.0, -0.1, "0.1", None, False])
def test_bad_temperature_raises(temperature):
    q, k, _ = random_inputs(2)
    with pytest.raises(ValueError, match="Received: temperature="):
        info_nce(q, k, temperature=temperature)
    with pytest.raises(ValueError, match="Received: temperature="):
        InfoNCE(temperature=temperature)


def test_bad_shapes_raise():
    q, k, _ = random_inputs(4)
    with pytest.raises(ValueError, match="same shape"):
        info_nce(q, k[:, :4])
    with pytest.raises(ValueError, match="Received: negatives.shape"):
        info_nce(q, k, negatives=np.ones((3, 5), "float32"))
    with pytest.raises(ValueError, match="rank-2"):
        info_nce(q, k, negatives=np.ones((8,), "float32"))


class TestInfoNCELoss(TestCase):
    def test_mean_reduction_matches_function(self):
        q, k, _ = random_inputs(8)
        self.assert_allclose(
            InfoNCE(temperature=0.5)(k, q),
            info_nce_reference(q, k, None, 0.5).mean(),
            rtol=1e-4,
        )

    def test_negatives_through_y_true(self):
        q, k, negatives = random_inputs(4, num_negatives=6)
        values = InfoNCE(temperature=0.2, reduction=None)((k, negatives), q)
        assert tuple(values.shape) == (4,)
        self.assert_allclose(
            values, info_nce_reference(q, k, negatives, 0.2), rtol=1e-4, atol=1e-5
        )

    def test_bad_y_true_sequence_raises(self):
        q, k, negatives = random_inputs(4, num_negatives=2)
        with pytest.raises(ValueError, match="y_true"):
            InfoNCE()((k, negatives, negatives), q)

    def test_config_round_trip(self):
        loss = InfoNCE(temperature=0.3, name="nce")
        restored = self.assert_serialization_round_trip(loss)
        assert restored.temperature == 0.3
        assert restored.name == "nce"
        q, k, _ = random_inputs(4)
        self.assert_allclose(restored(k, q), loss(k, q))

    def test_default_name(self):
        assert InfoNCE().name == "info_nce"
