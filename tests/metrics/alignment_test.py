import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.metrics import Alignment, alignment
from keras_ssl.testing import TestCase


def normalize(z):
    z = z.astype("float64")
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


def alignment_reference(z1, z2, alpha=2):
    """Mean ||f(x) - f(y)||^alpha over pairs, float64 NumPy loop."""
    z1, z2 = normalize(z1), normalize(z2)
    return np.mean([np.sqrt(np.sum((a - b) ** 2)) ** alpha for a, b in zip(z1, z2)])


def random_pair(batch, dim=8, seed=0, noise=0.5):
    rng = np.random.default_rng(seed)
    z1 = rng.normal(size=(batch, dim))
    z2 = z1 + noise * rng.normal(size=(batch, dim))
    return z1.astype("float32"), z2.astype("float32")


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("batch", [1, 4, 8])
@pytest.mark.parametrize("dim", [3, 16])
@pytest.mark.parametrize("alpha", [0.5, 1, 2, 3])
def test_matches_numpy_reference(batch, dim, alpha):
    z1, z2 = random_pair(batch, dim, seed=batch + dim)
    np.testing.assert_allclose(
        to_numpy(alignment(z1, z2, alpha=alpha)),
        alignment_reference(z1, z2, alpha),
        rtol=1e-5,
    )


def test_default_alpha_is_squared_distance():
    z1, z2 = random_pair(6)
    expected = np.mean(np.sum((normalize(z1) - normalize(z2)) ** 2, axis=1))
    np.testing.assert_allclose(to_numpy(alignment(z1, z2)), expected, rtol=1e-5)


def test_analytic_values():
    z1, _ = random_pair(6)
    assert float(to_numpy(alignment(z1, z1))) == 0.0
    # Identical after normalisation: only the direction counts.
    assert float(to_numpy(alignment(z1, 3.0 * z1))) == pytest.approx(0.0, abs=1e-6)
    # Opposite directions: distance 2.
    np.testing.assert_allclose(to_numpy(alignment(z1, -z1)), 4.0, rtol=1e-6)
    np.testing.assert_allclose(to_numpy(alignment(z1, -z1, alpha=1)), 2.0, rtol=1e-6)
    # Orthogonal unit vectors: squared distance 2.
    eye = np.eye(4, dtype="float32")
    np.testing.assert_allclose(
        to_numpy(alignment(eye, np.roll(eye, 1, axis=1))), 2.0, rtol=1e-6
    )


@pytest.mark.parametrize("alpha", [1, 2])
def test_gradient_is_finite_for_identical_views(alpha):
    z = tf.Variable(random_pair(4)[0])
    with tf.GradientTape() as tape:
        value = alignment(z, tf.identity(z), alpha=alpha)
    gradient = to_numpy(tape.gradient(value, z))
    assert np.all(np.isfinite(gradient))


def test_metric_is_weighted_mean_over_batches():
    pairs = [random_pair(b, seed=b) for b in (2, 5, 3)]
    metric = Alignment()
    for z1, z2 in pairs:
        metric.update_state(z1, z2)
    z1 = np.concatenate([p[0] for p in pairs])
    z2 = np.concatenate([p[1] for p in pairs])
    np.testing.assert_allclose(
        to_numpy(metric.result()), to_numpy(alignment(z1, z2)), rtol=1e-6
    )


def test_metric_equal_batches_give_plain_mean_and_reset():
    metric = Alignment(alpha=1)
    values = []
    for seed in range(3):
        z1, z2 = random_pair(4, seed=seed)
        metric.update_state(z1, z2)
        values.append(alignment_reference(z1, z2, alpha=1))
    np.testing.assert_allclose(to_numpy(metric.result()), np.mean(values), rtol=1e-5)
    metric.reset_state()
    assert float(to_numpy(metric.result())) == 0.0
    z1, z2 = random_pair(4, seed=9)
    metric.update_state(z1, z2)
    np.testing.assert_allclose(
        to_numpy(metric.result()), alignment_reference(z1, z2, alpha=1), rtol=1e-5
    )


def test_metric_in_compiled_function_with_unknown_batch():
    metric = Alignment()
    spec = tf.TensorSpec((None, 8), tf.float32)

    @tf.function(input_signature=[spec, spec], jit_compile=True)
    def step(z1, z2):
        metric.update_state(z1, z2)
        return metric.result()

    (a1, a2), (b1, b2) = random_pair(3, seed=1), random_pair(5, seed=2)
    step(a1, a2)
    np.testing.assert_allclose(
        to_numpy(step(b1, b2)),
        alignment_reference(np.concatenate([a1, b1]), np.concatenate([a2, b2])),
        rtol=1e-5,
    )


def test_default_name_and_config_round_trip():
    assert Alignment().name == "alignment"
    restored = TestCase.assert_serialization_round_trip(Alignment(alpha=1))
    assert restored.alpha == 1.0 and restored.name == "alignment"


def test_rejects_bad_inputs():
    z = np.zeros((4, 8), "float32")
    with pytest.raises(
        ValueError, match=r"Expected embeddings of shape \(batch, dim\)"
    ):
        alignment(z, np.zeros((4, 8, 1), "float32"))
    with pytest.raises(ValueError, match="same shape"):
        alignment(z, np.zeros((4, 6), "float32"))
    with pytest.raises(ValueError, match="same shape"):
        Alignment().update_state(z, np.zeros((3, 8), "float32"))
    for alpha in (0, -1.0, "2", None):
        with pytest.raises(ValueError, match="Received: alpha="):
            alignment(z, z, alpha=alpha)
        with pytest.raises(ValueError, match="Received: alpha="):
            Alignment(alpha=alpha)
