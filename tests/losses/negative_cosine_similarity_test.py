import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.losses import NegativeCosineSimilarity, negative_cosine_similarity
from keras_ssl.testing import TestCase


def negative_cosine_reference(p, z):
    """Per-example `-cos(p, z)` in float64 NumPy."""
    p, z = p.astype("float64"), z.astype("float64")
    return np.array(
        [-(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b)) for a, b in zip(p, z)]
    )


def random_pair(batch, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.normal(size=(batch, dim)).astype("float32")
    z = (p + rng.normal(size=(batch, dim))).astype("float32")
    return p, z


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("batch", [1, 4, 8])
@pytest.mark.parametrize("dim", [2, 8, 16])
def test_matches_numpy_reference(batch, dim):
    p, z = random_pair(batch, dim, seed=batch * dim)
    actual = to_numpy(negative_cosine_similarity(p, z))
    assert actual.shape == (batch,)
    np.testing.assert_allclose(
        actual, negative_cosine_reference(p, z), rtol=1e-5, atol=1e-6
    )


def test_analytic_values():
    p = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [3.0, 4.0]], "float32")
    z = np.array([[2.0, 0.0], [0.0, 5.0], [-1.0, 0.0], [4.0, 3.0]], "float32")
    np.testing.assert_allclose(
        to_numpy(negative_cosine_similarity(p, z)),
        [-1.0, 0.0, 1.0, -24.0 / 25.0],
        atol=1e-6,
    )


def test_byol_normalized_mse_is_affine_in_the_loss():
    p, z = random_pair(8)
    p_hat = p / np.linalg.norm(p, axis=1, keepdims=True)
    z_hat = z / np.linalg.norm(z, axis=1, keepdims=True)
    byol = np.sum((p_hat - z_hat) ** 2, axis=1)
    np.testing.assert_allclose(
        byol, 2.0 + 2.0 * to_numpy(negative_cosine_similarity(p, z)), atol=1e-5
    )


def test_gradient_flows_to_p_only():
    p, z = random_pair(4)
    p, z = tf.Variable(p), tf.Variable(z)
    with tf.GradientTape() as tape:
        loss = keras.ops.mean(negative_cosine_similarity(p, z))
    grad_p, grad_z = tape.gradient(loss, [p, z])
    assert np.all(np.isfinite(to_numpy(grad_p)))
    assert np.any(to_numpy(grad_p) != 0)
    assert grad_z is None or not np.any(to_numpy(grad_z))


def test_invariant_to_scale():
    p, z = random_pair(4)
    np.testing.assert_allclose(
        to_numpy(negative_cosine_similarity(p, z)),
        to_numpy(negative_cosine_similarity(7.0 * p, 0.01 * z)),
        rtol=1e-5,
        atol=1e-6,
    )


def test_dynamic_batch_in_tf_function():
    spec = tf.TensorSpec([None, 8], tf.float32)
    fn = tf.function(negative_cosine_similarity, input_signature=[spec, spec])
    p, z = random_pair(4)
    np.testing.assert_allclose(
        to_numpy(fn(p, z)), negative_cosine_reference(p, z), rtol=1e-5, atol=1e-6
    )


def test_mismatched_shapes_raise():
    with pytest.raises(ValueError, match="Received: p.shape"):
        negative_cosine_similarity(np.ones((4, 8)), np.ones((4, 6)))


class TestNegativeCosineSimilarityLoss(TestCase):
    def test_mean_reduction_matches_function(self):
        p, z = random_pair(8)
        loss = NegativeCosineSimilarity()
        # Keras order: target first, prediction second.
        self.assert_allclose(
            loss(z, p), negative_cosine_reference(p, z).mean(), rtol=1e-5
        )

    def test_no_reduction_gives_per_example_values(self):
        p, z = random_pair(4)
        values = NegativeCosineSimilarity(reduction=None)(z, p)
        assert tuple(values.shape) == (4,)
        self.assert_allclose(values, negative_cosine_reference(p, z), rtol=1e-5)

    def test_stop_gradient_is_on_y_true(self):
        p, z = random_pair(4)
        p, z = tf.Variable(p), tf.Variable(z)
        with tf.GradientTape() as tape:
            loss = NegativeCosineSimilarity()(z, p)
        grad_p, grad_z = tape.gradient(loss, [p, z])
        assert np.any(to_numpy(grad_p) != 0)
        assert grad_z is None or not np.any(to_numpy(grad_z))

    def test_config_round_trip(self):
        loss = NegativeCosineSimilarity(reduction="sum", name="ncs")
        restored = self.assert_serialization_round_trip(loss)
        assert restored.name == "ncs"
        assert restored.reduction == "sum"
        p, z = random_pair(4)
        self.assert_allclose(restored(z, p), loss(z, p))

    def test_default_name(self):
        assert NegativeCosineSimilarity().name == "negative_cosine_similarity"
