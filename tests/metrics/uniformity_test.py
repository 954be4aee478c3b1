import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.metrics import Uniformity, uniformity
from keras_ssl.testing import TestCase


def uniformity_reference(z, t=2):
    """log mean exp(-t ||f(x_i) - f(x_j)||^2) over i < j, float64 loops."""
    z = z.astype("float64")
    z = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    n = len(z)
    potentials = [
        np.exp(-t * np.sum((z[i] - z[j]) ** 2))
        for i in range(n)
        for j in range(i + 1, n)
    ]
    return np.log(np.mean(potentials))


def random_embeddings(batch, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(batch, dim)).astype("float32")


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("batch", [2, 3, 8])
@pytest.mark.parametrize("dim", [2, 16])
@pytest.mark.parametrize("t", [0.5, 2, 10])
def test_matches_numpy_reference(batch, dim, t):
    z = random_embeddings(batch, dim, seed=batch * dim)
    np.testing.assert_allclose(
        to_numpy(uniformity(z, t=t)), uniformity_reference(z, t), rtol=1e-5, atol=1e-6
    )


def test_identical_points_give_zero():
    assert float(to_numpy(uniformity(np.ones((6, 8), "float32")))) == pytest.approx(
        0.0, abs=1e-6
    )
    # Same direction, different lengths.
    z = random_embeddings(1) * np.arange(1, 6, dtype="float32")[:, None]
    assert float(to_numpy(uniformity(z))) == pytest.approx(0.0, abs=1e-5)


def test_well_spread_points_are_negative():
    # +-e_i in 4 dims: each point is at squared distance 4 from its antipode
    # and 2 from the 6 others.
    z = np.concatenate([np.eye(4), -np.eye(4)]).astype("float32")
    expected = np.log((6 * np.exp(-2 * 2) + np.exp(-2 * 4)) / 7)
    np.testing.assert_allclose(to_numpy(uniformity(z)), expected, rtol=1e-6)
    assert float(to_numpy(uniformity(random_embeddings(16)))) < -1.0


def test_stable_for_large_t():
    z = np.concatenate([np.eye(4), -np.eye(4)]).astype("float32")
    value = float(to_numpy(uniformity(z, t=200)))
    # exp(-400) underflows float32; the log-sum-exp keeps the value: -400 + log(6/7).
    np.testing.assert_allclose(value, -400 + np.log(6 / 7), rtol=1e-6)


def test_gradient_is_finite():
    z = tf.Variable(np.concatenate([random_embeddings(3), random_embeddings(1)]))
    with tf.GradientTape() as tape:
        value = uniformity(z)
    assert np.all(np.isfinite(to_numpy(tape.gradient(value, z))))


def test_metric_is_mean_of_batch_values():
    batches = [random_embeddings(b, seed=b) for b in (2, 6, 4)]
    metric = Uniformity(t=1)
    for z in batches:
        metric.update_state(z)
    expected = np.mean([uniformity_reference(z, t=1) for z in batches])
    np.testing.assert_allclose(to_numpy(metric.result()), expected, rtol=1e-5)
    metric.reset_state()
    assert float(to_numpy(metric.result())) == 0.0
    metric.update_state(batches[0])
    np.testing.assert_allclose(
        to_numpy(metric.result()), uniformity_reference(batches[0], t=1), rtol=1e-5
    )


def test_metric_in_compiled_function_with_unknown_batch():
    metric = Uniformity()

    @tf.function(
        input_signature=[tf.TensorSpec((None, 8), tf.float32)], jit_compile=True
    )
    def step(z):
        metric.update_state(z)
        return metric.result()

    a, b = random_embeddings(3, seed=1), random_embeddings(5, seed=2)
    step(a)
    expected = (uniformity_reference(a) + uniformity_reference(b)) / 2
    np.testing.assert_allclose(to_numpy(step(b)), expected, rtol=1e-5)


def test_default_name_and_config_round_trip():
    assert Uniformity().name == "uniformity"
    restored = TestCase.assert_serialization_round_trip(Uniformity(t=0.5))
    assert restored.t == 0.5 and restored.name == "uniformity"


def test_rejects_bad_inputs():
    with pytest.raises(
        ValueError, match=r"Expected embeddings of shape \(batch, dim\)"
    ):
        uniformity(np.zeros((8,), "float32"))
    with pytest.raises(ValueError, match="batch size >= 2"):
        uniformity(np.zeros((1, 8), "float32"))
    with pytest.raises(ValueError, match=r"Received: shape=\(1, 8\)"):
        Uniformity().update_state(np.zeros((1, 8), "float32"))
    for t in (0, -2, None):
        with pytest.raises(ValueError, match="Received: t="):
            uniformity(np.ones((4, 8), "float32"), t=t)
        with pytest.raises(ValueError, match="Received: t="):
            Uniformity(t=t)
