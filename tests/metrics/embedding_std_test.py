import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.metrics import EmbeddingStd, embedding_std
from keras_ssl.testing import TestCase


def embedding_std_reference(z):
    """Mean population std of L2-normalised rows, float64 NumPy loops."""
    z = z.astype("float64")
    rows = [row / max(np.sqrt(np.sum(row**2)), 1e-12) for row in z]
    z = np.stack(rows)
    n, d = z.shape
    stds = []
    for j in range(d):
        mean = sum(z[:, j]) / n
        stds.append(np.sqrt(sum((z[:, j] - mean) ** 2) / n))
    return np.mean(stds)


def random_embeddings(batch, dim=8, seed=0, scale=1.0, shift=0.0):
    rng = np.random.default_rng(seed)
    return (scale * rng.normal(size=(batch, dim)) + shift).astype("float32")


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("batch", [1, 2, 8])
@pytest.mark.parametrize("dim", [3, 16])
@pytest.mark.parametrize("scale,shift", [(1.0, 0.0), (10.0, 0.0), (1.0, 2.0)])
def test_matches_numpy_reference(batch, dim, scale, shift):
    z = random_embeddings(batch, dim, seed=batch * dim, scale=scale, shift=shift)
    np.testing.assert_allclose(
        to_numpy(embedding_std(z)), embedding_std_reference(z), rtol=1e-5, atol=1e-7
    )


def test_collapsed_embeddings_give_zero():
    direction = random_embeddings(1, 8)
    # Same direction, different lengths: identical after normalisation.
    z = direction * np.arange(1, 9, dtype="float32")[:, None]
    assert float(to_numpy(embedding_std(z))) == pytest.approx(0.0, abs=1e-7)
    assert float(to_numpy(embedding_std(np.ones((4, 8), "float32")))) == 0.0


def test_antipodal_basis_vectors():
    # Rows +-e_i: each coordinate is +-1 on 2 of 2d rows, 0 elsewhere, so its
    # mean is 0 and its variance 2 / (2d) = 1/d: std exactly 1/sqrt(d).
    d = 4
    z = np.concatenate([np.eye(d), -np.eye(d)]).astype("float32")
    np.testing.assert_allclose(to_numpy(embedding_std(z)), 1 / np.sqrt(d), rtol=1e-6)


def test_healthy_embeddings_near_inverse_sqrt_dim():
    z = random_embeddings(512, 16, seed=3)
    np.testing.assert_allclose(to_numpy(embedding_std(z)), 0.25, rtol=0.05)


def test_invariant_to_row_scale():
    z = random_embeddings(6)
    scales = np.linspace(0.1, 5.0, 6, dtype="float32")[:, None]
    np.testing.assert_allclose(
        to_numpy(embedding_std(z * scales)), to_numpy(embedding_std(z)), rtol=1e-5
    )


@pytest.mark.parametrize("dim", [None, 8])
def test_metric_over_batches_equals_function_on_concatenation(dim):
    batches = [random_embeddings(b, 8, seed=b) for b in (3, 5, 1, 7)]
    metric = EmbeddingStd(dim=dim)
    for z in batches:
        metric.update_state(z)
    assert metric.dim == 8
    np.testing.assert_allclose(
        to_numpy(metric.result()),
        to_numpy(embedding_std(np.concatenate(batches))),
        rtol=1e-6,
        atol=1e-7,
    )


def test_metric_collapsed_is_exactly_zero():
    metric = EmbeddingStd(dim=8)
    z = np.tile(random_embeddings(1, 8), (4, 1)) * 3.0
    metric.update_state(z)
    metric.update_state(z[:2])
    assert float(to_numpy(metric.result())) == 0.0


def test_metric_reset_state():
    metric = EmbeddingStd()
    assert float(to_numpy(metric.result())) == 0.0  # Nothing seen, no state.
    metric.update_state(random_embeddings(8, seed=1))
    assert float(to_numpy(metric.result())) > 0.0
    metric.reset_state()
    assert float(to_numpy(metric.result())) == 0.0
    z = random_embeddings(4, seed=2)
    metric.update_state(z)
    np.testing.assert_allclose(
        to_numpy(metric.result()), to_numpy(embedding_std(z)), rtol=1e-6
    )


def test_metric_in_compiled_function_with_unknown_batch():
    metric = EmbeddingStd(dim=8)

    @tf.function(
        input_signature=[tf.TensorSpec((None, 8), tf.float32)], jit_compile=True
    )
    def step(z):
        metric.update_state(z)
        return metric.result()

    a, b = random_embeddings(3, seed=4), random_embeddings(6, seed=5)
    step(a)
    np.testing.assert_allclose(
        to_numpy(step(b)),
        to_numpy(embedding_std(np.concatenate([a, b]))),
        rtol=1e-6,
    )


def test_default_name_and_config_round_trip():
    metric = EmbeddingStd()
    assert metric.name == "embedding_std"
    restored = TestCase.assert_serialization_round_trip(EmbeddingStd(dim=8))
    assert restored.dim == 8 and restored.name == "embedding_std"
    config = json.loads(json.dumps(EmbeddingStd(name="std_z1").get_config()))
    assert config["name"] == "std_z1" and config["dim"] is None


@pytest.mark.parametrize("shape", [(8,), (2, 4, 8), ()])
def test_rejects_non_rank_2(shape):
    z = np.zeros(shape, "float32")
    with pytest.raises(
        ValueError, match=r"Expected embeddings of shape \(batch, dim\)"
    ):
        embedding_std(z)
    with pytest.raises(ValueError, match=r"Received: shape="):
        EmbeddingStd().update_state(z)


def test_metric_rejects_other_dim_and_bad_dim():
    metric = EmbeddingStd(dim=8)
    with pytest.raises(ValueError, match="dimension 8"):
        metric.update_state(np.zeros((4, 6), "float32"))
    for dim in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="Received: dim="):
            EmbeddingStd(dim=dim)
