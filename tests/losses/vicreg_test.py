import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.losses import VICRegLoss, vicreg, vicreg_terms
from keras_ssl.testing import TestCase

# Columns 1..3 of a 4x4 Hadamard matrix: mean 0, orthogonal, unbiased
# variance 4/3 (std above 1).
HADAMARD = np.array(
    [[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]], "float32"
)[:, 1:]


def vicreg_terms_reference(z1, z2, gamma=1.0, eps=1e-4):
    """The three VICReg terms in float64 NumPy, written from the paper."""
    z1, z2 = z1.astype("float64"), z2.astype("float64")
    n, d = z1.shape
    invariance = np.mean((z1 - z2) ** 2)

    def variance(z):
        std = np.sqrt(z.var(axis=0, ddof=1) + eps)
        return np.mean(np.maximum(0.0, gamma - std))

    def covariance(z):
        cov = np.cov(z, rowvar=False, ddof=1)
        return sum(cov[i, j] ** 2 for i in range(d) for j in range(d) if i != j) / d

    return {
        "invariance": invariance,
        "variance": variance(z1) + variance(z2),
        "covariance": covariance(z1) + covariance(z2),
    }


def vicreg_reference(z1, z2, sim_weight, var_weight, cov_weight, gamma, eps):
    t = vicreg_terms_reference(z1, z2, gamma, eps)
    return (
        sim_weight * t["invariance"]
        + var_weight * t["variance"]
        + cov_weight * t["covariance"]
    )


def random_pair(batch, dim=8, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    z1 = scale * rng.normal(size=(batch, dim))
    z2 = z1 + 0.5 * scale * rng.normal(size=(batch, dim))
    return z1.astype("float32"), z2.astype("float32")


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("batch", [2, 4, 8])
@pytest.mark.parametrize("dim", [3, 8])
@pytest.mark.parametrize("scale", [0.3, 1.0, 3.0])
@pytest.mark.parametrize("gamma", [0.5, 1.0])
def test_terms_match_numpy_reference(batch, dim, scale, gamma):
    z1, z2 = random_pair(batch, dim, seed=batch * dim, scale=scale)
    actual = vicreg_terms(z1, z2, gamma=gamma)
    expected = vicreg_terms_reference(z1, z2, gamma=gamma)
    assert set(actual) == {"invariance", "variance", "covariance"}
    for name in expected:
        np.testing.assert_allclose(
            to_numpy(actual[name]), expected[name], rtol=1e-4, atol=1e-5, err_msg=name
        )


@pytest.mark.parametrize(
    "weights",
    [
        (25.0, 25.0, 1.0, 1.0, 1e-4),
        (1.0, 0.0, 0.0, 1.0, 1e-4),
        (0.0, 2.0, 3.0, 2.0, 0.1),
    ],
)
@pytest.mark.parametrize("batch", [2, 8])
def test_loss_matches_numpy_reference(weights, batch):
    sim, var, cov, gamma, eps = weights
    z1, z2 = random_pair(batch, 6, seed=batch, scale=0.5)
    actual = to_numpy(
        vicreg(
            z1,
            z2,
            sim_weight=sim,
            var_weight=var,
            cov_weight=cov,
            gamma=gamma,
            eps=eps,
        )
    )
    expected = vicreg_reference(z1, z2, sim, var, cov, gamma, eps)
    np.testing.assert_allclose(actual, np.full(batch, expected), rtol=1e-4, atol=1e-5)


def test_identical_views_have_zero_invariance():
    z1, _ = random_pair(8)
    terms = vicreg_terms(z1, z1)
    assert float(to_numpy(terms["invariance"])) == 0.0


def test_spread_decorrelated_identical_views_give_zero():
    np.testing.assert_allclose(to_numpy(vicreg(HADAMARD, HADAMARD)), 0.0, atol=1e-6)


def test_collapsed_views():
    # Constant embeddings: std = sqrt(eps) in every dimension, no covariance.
    z = np.ones((4, 3), "float32")
    terms = vicreg_terms(z, z, eps=1e-4)
    np.testing.assert_allclose(to_numpy(terms["variance"]), 2 * (1 - 0.01), rtol=1e-5)
    np.testing.assert_allclose(to_numpy(terms["covariance"]), 0.0, atol=1e-7)
    np.testing.assert_allclose(to_numpy(vicreg(z, z)), np.full(4, 49.5), rtol=1e-5)


def test_redundant_dimensions_covariance():
    # 3 copies of one column with unbiased variance 4/3: 6 off-diagonal
    # covariances of 4/3 per view, divided by dim = 3.
    z = np.repeat(HADAMARD[:, :1], 3, axis=1)
    terms = vicreg_terms(z, z)
    np.testing.assert_allclose(
        to_numpy(terms["covariance"]), 2 * 6 * (4 / 3) ** 2 / 3, rtol=1e-5
    )


def test_per_example_shape_and_symmetry():
    z1, z2 = random_pair(6)
    forward = vicreg(z1, z2)
    assert tuple(forward.shape) == (6,)
    assert keras.backend.standardize_dtype(forward.dtype) == "float32"
    values = to_numpy(forward)
    np.testing.assert_allclose(values, values[0])
    np.testing.assert_allclose(values, to_numpy(vicreg(z2, z1)), rtol=1e-5)


def test_gradients_are_finite():
    z1, z2 = random_pair(4, scale=0.3)
    v1, v2 = tf.Variable(z1), tf.Variable(z2)
    with tf.GradientTape() as tape:
        loss = keras.ops.mean(vicreg(v1, v2))
    for grad in tape.gradient(loss, [v1, v2]):
        assert np.all(np.isfinite(to_numpy(grad)))
        assert np.any(to_numpy(grad) != 0)


def test_gradients_finite_for_collapsed_views():
    v = tf.Variable(np.zeros((4, 3), "float32"))
    with tf.GradientTape() as tape:
        loss = keras.ops.mean(vicreg(v, v))
    assert np.all(np.isfinite(to_numpy(tape.gradient(loss, v))))


def test_dynamic_batch_in_tf_function():
    spec = tf.TensorSpec([None, 8], tf.float32)
    fn = tf.function(vicreg, input_signature=[spec, spec])
    z1, z2 = random_pair(4)
    expected = vicreg_reference(z1, z2, 25.0, 25.0, 1.0, 1.0, 1e-4)
    np.testing.assert_allclose(to_numpy(fn(z1, z2)), np.full(4, expected), rtol=1e-4)


@pytest.mark.parametrize("name", ["sim_weight", "var_weight", "cov_weight"])
@pytest.mark.parametrize("value", [-1.0, "1", None])
def test_bad_weights_raise(name, value):
    z1, z2 = random_pair(4)
    with pytest.raises(ValueError, match=f"Received: {name}="):
        vicreg(z1, z2, **{name: value})
    with pytest.raises(ValueError, match=f"Received: {name}="):
        VICRegLoss(**{name: value})


@pytest.mark.parametrize("name", ["gamma", "eps"])
@pytest.mark.parametrize("value", [0, -1.0, None])
def test_bad_gamma_eps_raise(name, value):
    z1, z2 = random_pair(4)
    with pytest.raises(ValueError, match=f"Received: {name}="):
        vicreg_terms(z1, z2, **{name: value})
    with pytest.raises(ValueError, match=f"Received: {name}="):
        VICRegLoss(**{name: value})


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="batch size >= 2"):
        vicreg(np.ones((1, 4)), np.ones((1, 4)))
    with pytest.raises(ValueError, match="rank-2"):
        vicreg(np.ones((4, 2, 2)), np.ones((4, 2, 2)))
    with pytest.raises(ValueError, match="same shape"):
        vicreg(np.ones((4, 3)), np.ones((5, 3)))


class TestVICRegLoss(TestCase):
    def test_mean_reduction_matches_function(self):
        z1, z2 = random_pair(8)
        self.assert_allclose(
            VICRegLoss(sim_weight=10.0, var_weight=5.0)(z1, z2),
            vicreg_reference(z1, z2, 10.0, 5.0, 1.0, 1.0, 1e-4),
            rtol=1e-4,
        )

    def test_no_reduction_gives_per_example_values(self):
        z1, z2 = random_pair(4)
        values = VICRegLoss(reduction=None)(z1, z2)
        assert tuple(values.shape) == (4,)
        expected = vicreg_reference(z1, z2, 25.0, 25.0, 1.0, 1.0, 1e-4)
        self.assert_allclose(values, np.full(4, expected), rtol=1e-4)

    def test_config_round_trip(self):
        loss = VICRegLoss(
            sim_weight=10.0,
            var_weight=15.0,
            cov_weight=2.0,
            gamma=0.5,
            eps=1e-3,
            name="vr",
        )
        restored = self.assert_serialization_round_trip(loss)
        assert (restored.sim_weight, restored.var_weight, restored.cov_weight) == (
            10.0,
            15.0,
            2.0,
        )
        assert (restored.gamma, restored.eps, restored.name) == (0.5, 1e-3, "vr")
        z1, z2 = random_pair(4)
        self.assert_allclose(restored(z1, z2), loss(z1, z2))

    def test_default_name(self):
        assert VICRegLoss().name == "vicreg"
