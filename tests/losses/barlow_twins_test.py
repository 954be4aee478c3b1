import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.losses import BarlowTwinsLoss, barlow_twins
from keras_ssl.testing import TestCase

# Columns 1..3 of a 4x4 Hadamard matrix: mean 0, biased variance 1 and
# mutually orthogonal, i.e. standardized and decorrelated.
HADAMARD = np.array(
    [[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]], "float32"
)[:, 1:]


def barlow_twins_reference(z1, z2, lambda_, eps=1e-5):
    """Batch Barlow Twins loss in float64 NumPy, written from the paper."""
    z1, z2 = z1.astype("float64"), z2.astype("float64")
    n, d = z1.shape
    z1 = (z1 - z1.mean(0)) / np.sqrt(z1.var(0) + eps)
    z2 = (z2 - z2.mean(0)) / np.sqrt(z2.var(0) + eps)
    c = np.zeros((d, d))
    for i in range(d):
        for j in range(d):
            c[i, j] = np.sum(z1[:, i] * z2[:, j]) / n
    loss = 0.0
    for i in range(d):
        for j in range(d):
            loss += (1 - c[i, i]) ** 2 if i == j else lambda_ * c[i, j] ** 2
    return loss


def random_pair(batch, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    z1 = rng.normal(size=(batch, dim)).astype("float32")
    z2 = (z1 + 0.5 * rng.normal(size=(batch, dim))).astype("float32")
    return z1, z2


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("batch", [2, 4, 8])
@pytest.mark.parametrize("dim", [3, 8])
@pytest.mark.parametrize("lambda_", [0.0, 5e-3, 0.5])
def test_matches_numpy_reference(batch, dim, lambda_):
    z1, z2 = random_pair(batch, dim, seed=batch + dim)
    actual = to_numpy(barlow_twins(z1, z2, lambda_=lambda_))
    expected = barlow_twins_reference(z1, z2, lambda_)
    np.testing.assert_allclose(actual, np.full(batch, expected), rtol=1e-4, atol=1e-5)


def test_custom_eps_matches_reference():
    z1, z2 = random_pair(4)
    np.testing.assert_allclose(
        to_numpy(barlow_twins(z1, z2, lambda_=0.1, eps=0.5)),
        np.full(4, barlow_twins_reference(z1, z2, 0.1, eps=0.5)),
        rtol=1e-4,
    )


@pytest.mark.parametrize("lambda_", [0.0, 5e-3, 1.0])
def test_correlated_decorrelated_standardized_views_give_zero(lambda_):
    np.testing.assert_allclose(
        to_numpy(barlow_twins(HADAMARD, HADAMARD, lambda_=lambda_)), 0.0, atol=1e-6
    )
    # Invariant to a per-dimension affine map with positive scale.
    z2 = HADAMARD * np.array([3.0, 0.5, 2.0], "float32") + 5.0
    np.testing.assert_allclose(
        to_numpy(barlow_twins(HADAMARD, z2, lambda_=lambda_)), 0.0, atol=1e-6
    )


def test_anti_correlated_views():
    # C = -I: each diagonal term is (1 - (-1))^2 = 4.
    np.testing.assert_allclose(
        to_numpy(barlow_twins(HADAMARD, -HADAMARD)), np.full(4, 12.0), rtol=1e-4
    )


@pytest.mark.parametrize("lambda_", [5e-3, 0.25])
def test_redundant_dimensions_cost_lambda_per_off_diagonal(lambda_):
    # All 3 dimensions are the same standardized signal: C is all ones.
    z = np.repeat(HADAMARD[:, :1], 3, axis=1)
    np.testing.assert_allclose(
        to_numpy(barlow_twins(z, z, lambda_=lambda_)),
        np.full(4, 6 * lambda_),
        rtol=1e-4,
    )


def test_per_example_shape_and_symmetry():
    z1, z2 = random_pair(6)
    forward = barlow_twins(z1, z2)
    assert tuple(forward.shape) == (6,)
    assert keras.backend.standardize_dtype(forward.dtype) == "float32"
    values = to_numpy(forward)
    np.testing.assert_allclose(values, values[0])
    np.testing.assert_allclose(values, to_numpy(barlow_twins(z2, z1)), rtol=1e-5)


def test_gradients_are_finite_and_mean_equals_loss_gradient():
    z1, z2 = random_pair(4)
    v1, v2 = tf.Variable(z1), tf.Variable(z2)
    with tf.GradientTape(persistent=True) as tape:
        per_example = barlow_twins(v1, v2)
        mean = keras.ops.mean(per_example)
        first = per_example[0]
    grads = tape.gradient(mean, [v1, v2])
    for grad in grads:
        assert np.all(np.isfinite(to_numpy(grad)))
        assert np.any(to_numpy(grad) != 0)
    np.testing.assert_allclose(
        to_numpy(grads[0]), to_numpy(tape.gradient(first, v1)), rtol=1e-5, atol=1e-6
    )


def test_gradients_finite_for_a_constant_dimension():
    z = np.ones((4, 3), "float32")
    v = tf.Variable(z)
    with tf.GradientTape() as tape:
        loss = keras.ops.mean(barlow_twins(v, v + 1.0))
    assert np.all(np.isfinite(to_numpy(tape.gradient(loss, v))))


def test_dynamic_batch_in_tf_function():
    spec = tf.TensorSpec([None, 8], tf.float32)
    fn = tf.function(barlow_twins, input_signature=[spec, spec])
    z1, z2 = random_pair(4)
    np.testing.assert_allclose(
        to_numpy(fn(z1, z2)),
        np.full(4, barlow_twins_reference(z1, z2, 5e-3)),
        rtol=1e-4,
    )


@pytest.mark.parametrize("lambda_", [-1e-3, -1, "0.1", None, True])
def test_bad_lambda_raises(lambda_):
    z1, z2 = random_pair(4)
    with pytest.raises(ValueError, match="Received: lambda_="):
        barlow_twins(z1, z2, lambda_=lambda_)
    with pytest.raises(ValueError, match="Received: lambda_="):
        BarlowTwinsLoss(lambda_=lambda_)


@pytest.mark.parametrize("eps", [0, -1.0, None])
def test_bad_eps_raises(eps):
    z1, z2 = random_pair(4)
    with pytest.raises(ValueError, match="Received: eps="):
        barlow_twins(z1, z2, eps=eps)
    with pytest.raises(ValueError, match="Received: eps="):
        BarlowTwinsLoss(eps=eps)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="batch size >= 2"):
        barlow_twins(np.ones((1, 4)), np.ones((1, 4)))
    with pytest.raises(ValueError, match="rank-2"):
        barlow_twins(np.ones((4,)), np.ones((4,)))
    with pytest.raises(ValueError, match="same shape"):
        barlow_twins(np.ones((4, 3)), np.ones((4, 5)))


class TestBarlowTwinsLoss(TestCase):
    def test_mean_reduction_matches_function(self):
        z1, z2 = random_pair(8)
        self.assert_allclose(
            BarlowTwinsLoss(lambda_=0.1)(z1, z2),
            barlow_twins_reference(z1, z2, 0.1),
            rtol=1e-4,
        )

    def test_no_reduction_gives_per_example_values(self):
        z1, z2 = random_pair(4)
        values = BarlowTwinsLoss(reduction=None)(z1, z2)
        assert tuple(values.shape) == (4,)
        self.assert_allclose(
            values, np.full(4, barlow_twins_reference(z1, z2, 5e-3)), rtol=1e-4
        )

    def test_config_round_trip(self):
        loss = BarlowTwinsLoss(lambda_=0.02, eps=1e-3, name="bt")
        restored = self.assert_serialization_round_trip(loss)
        assert restored.lambda_ == 0.02
        assert restored.eps == 1e-3
        assert restored.name == "bt"
        z1, z2 = random_pair(4)
        self.assert_allclose(restored(z1, z2), loss(z1, z2))

    def test_default_name(self):
        assert BarlowTwinsLoss().name == "barlow_twins"
