import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.metrics import EffectiveRank, effective_rank
from keras_ssl.testing import TestCase


def effective_rank_reference(z):
    """exp(entropy) of normalised singular values of centred z, float64."""
    z = z.astype("float64")
    s = np.linalg.svd(z - z.mean(axis=0), compute_uv=False)
    if s.sum() == 0:
        return 1.0
    p = s / s.sum()
    p = p[p > 0]
    return float(np.exp(-np.sum(p * np.log(p))))


def random_embeddings(batch, dim=8, seed=0, scale=1.0, shift=0.0):
    rng = np.random.default_rng(seed)
    return (scale * rng.normal(size=(batch, dim)) + shift).astype("float32")


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def antipodal_basis(d):
    """Rows +-e_i: centred already, with d equal singular values sqrt(2)."""
    return np.concatenate([np.eye(d), -np.eye(d)]).astype("float32")


@pytest.mark.parametrize("batch", [2, 4, 16])
@pytest.mark.parametrize("dim", [3, 8])
@pytest.mark.parametrize("scale,shift", [(1.0, 0.0), (0.01, 0.0), (1.0, 3.0)])
def test_matches_numpy_reference(batch, dim, scale, shift):
    z = random_embeddings(batch, dim, seed=batch + dim, scale=scale, shift=shift)
    np.testing.assert_allclose(
        to_numpy(effective_rank(z)), effective_rank_reference(z), rtol=1e-4
    )


def test_anisotropic_embeddings_match_reference():
    z = random_embeddings(32, 8, seed=1) * np.logspace(0, -3, 8, dtype="float32")
    value = float(to_numpy(effective_rank(z)))
    np.testing.assert_allclose(value, effective_rank_reference(z), rtol=1e-4)
    assert 1.0 < value < 4.0


@pytest.mark.parametrize("d", [1, 4, 8])
def test_equal_singular_values_give_full_rank(d):
    np.testing.assert_allclose(
        to_numpy(effective_rank(antipodal_basis(d))), d, rtol=1e-5
    )


def test_identity_rows_have_rank_d_minus_1():
    # Centring I_d leaves d - 1 equal singular values and one zero.
    np.testing.assert_allclose(
        to_numpy(effective_rank(np.eye(6, dtype="float32"))), 5.0, rtol=1e-5
    )


def test_collapsed_embeddings_give_one():
    assert float(to_numpy(effective_rank(np.ones((6, 8), "float32")))) == 1.0
    # Every embedding on one line through the mean: rank 1.
    rng = np.random.default_rng(0)
    line = rng.normal(size=(10, 1)) * rng.normal(size=(1, 8)) + 2.0
    np.testing.assert_allclose(
        to_numpy(effective_rank(line.astype("float32"))), 1.0, rtol=1e-4
    )


def test_scale_invariant():
    z = random_embeddings(8, seed=2)
    np.testing.assert_allclose(
        to_numpy(effective_rank(100.0 * z)), to_numpy(effective_rank(z)), rtol=1e-5
    )


@pytest.mark.parametrize("dim", [None, 8])
def test_metric_over_batches_equals_function_on_concatenation(dim):
    batches = [random_embeddings(b, 8, seed=b, shift=1.0) for b in (3, 5, 1, 7)]
    metric = EffectiveRank(dim=dim)
    for z in batches:
        metric.update_state(z)
    concatenated = np.concatenate(batches)
    np.testing.assert_allclose(
        to_numpy(metric.result()), to_numpy(effective_rank(concatenated)), rtol=1e-5
    )
    np.testing.assert_allclose(
        to_numpy(metric.result()), effective_rank_reference(concatenated), rtol=1e-5
    )


def test_metric_analytic_values_across_batches():
    metric = EffectiveRank(dim=4)
    z = antipodal_basis(4)
    metric.update_state(z[:3])
    metric.update_state(z[3:])
    np.testing.assert_allclose(to_numpy(metric.result()), 4.0, rtol=1e-6)
    metric.reset_state()
    metric.update_state(np.full((3, 4), 0.7, "float32"))
    metric.update_state(np.full((2, 4), 0.7, "float32"))
    assert float(to_numpy(metric.result())) == 1.0


def test_metric_with_fewer_rows_than_dimensions():
    # Batches of 2 rows in 8 dims: rank deficient per batch, not overall.
    batches = [random_embeddings(2, 8, seed=s) for s in range(3)]
    metric = EffectiveRank()
    for z in batches:
        metric.update_state(z)
    np.testing.assert_allclose(
        to_numpy(metric.result()),
        effective_rank_reference(np.concatenate(batches)),
        rtol=1e-4,
    )


def test_metric_reset_state():
    metric = EffectiveRank(dim=8)
    assert float(to_numpy(metric.result())) == 0.0  # Nothing seen yet.
    metric.update_state(random_embeddings(16, seed=1))
    assert float(to_numpy(metric.result())) > 1.0
    metric.reset_state()
    assert float(to_numpy(metric.result())) == 0.0
    z = random_embeddings(5, seed=2)
    metric.update_state(z)
    np.testing.assert_allclose(
        to_numpy(metric.result()), to_numpy(effective_rank(z)), rtol=1e-5
    )


def test_metric_in_compiled_function_with_unknown_batch():
    metric = EffectiveRank(dim=4)

    @tf.function(
        input_signature=[tf.TensorSpec((None, 4), tf.float32)], jit_compile=True
    )
    def step(z):
        metric.update_state(z)
        return metric.result()

    a, b = random_embeddings(3, 4, seed=4), random_embeddings(6, 4, seed=5)
    step(a)
    np.testing.assert_allclose(
        to_numpy(step(b)), effective_rank_reference(np.concatenate([a, b])), rtol=1e-5
    )


def test_default_name_and_config_round_trip():
    assert EffectiveRank().name == "effective_rank"
    restored = TestCase.assert_serialization_round_trip(EffectiveRank(dim=4))
    assert restored.dim == 4 and restored.name == "effective_rank"
    assert EffectiveRank(name="rank_z2").get_config()["name"] == "rank_z2"


@pytest.mark.parametrize("shape", [(8,), (2, 4, 8)])
def test_rejects_non_rank_2(shape):
    z = np.zeros(shape, "float32")
    with pytest.raises(
        ValueError, match=r"Expected embeddings of shape \(batch, dim\)"
    ):
        effective_rank(z)
    with pytest.raises(ValueError, match=r"Received: shape="):
        EffectiveRank().update_state(z)


def test_metric_rejects_other_dim_and_bad_dim():
    with pytest.raises(ValueError, match="dimension 4"):
        EffectiveRank(dim=4).update_state(np.zeros((4, 6), "float32"))
    with pytest.raises(ValueError, match="Received: dim=0"):
        EffectiveRank(dim=0)


def test_non_finite_embeddings_give_nan_not_an_error():
    import math

    import keras
    import numpy as np

    from keras_ssl.metrics import EffectiveRank, effective_rank

    z = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    z[3, 1] = np.nan
    assert math.isnan(float(effective_rank(z)))
    metric = EffectiveRank(dim=4)
    metric.update_state(z)
    assert math.isnan(float(keras.ops.convert_to_numpy(metric.result())))
    metric.reset_state()
    metric.update_state(np.nan_to_num(z))
    assert 1.0 <= float(keras.ops.convert_to_numpy(metric.result())) <= 4.0
