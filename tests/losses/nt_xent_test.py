import math

import keras
import numpy as np
import pytest

from keras_ssl.losses import NTXent, nt_xent, nt_xent_logits
from keras_ssl.testing import TestCase


def nt_xent_reference(z1, z2, temperature):
    """Per-pair symmetric NT-Xent in float64 NumPy, written from the paper."""
    z = np.concatenate([z1, z2]).astype("float64")
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    n = len(z)
    b = n // 2
    sim = z @ z.T / temperature
    per_anchor = np.empty(n)
    for i in range(n):
        positive = (i + b) % n
        others = [sim[i, k] for k in range(n) if k != i]
        log_denominator = np.logaddexp.reduce(others)
        per_anchor[i] = log_denominator - sim[i, positive]
    return 0.5 * (per_anchor[:b] + per_anchor[b:])


def random_pair(batch, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    z1 = rng.normal(size=(batch, dim)).astype("float32")
    z2 = (z1 + 0.5 * rng.normal(size=(batch, dim))).astype("float32")
    return z1, z2


@pytest.mark.parametrize("batch", [2, 4, 8])
@pytest.mark.parametrize("temperature", [0.05, 0.1, 0.5, 1.0])
def test_matches_numpy_reference(batch, temperature):
    z1, z2 = random_pair(batch, seed=batch)
    expected = nt_xent_reference(z1, z2, temperature)
    actual = keras.ops.convert_to_numpy(nt_xent(z1, z2, temperature=temperature))
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("temperature", [0.1, 1.0])
def test_symmetric_in_the_views(temperature):
    z1, z2 = random_pair(8)
    forward = keras.ops.convert_to_numpy(nt_xent(z1, z2, temperature))
    backward = keras.ops.convert_to_numpy(nt_xent(z2, z1, temperature))
    np.testing.assert_allclose(forward, backward, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("batch", [2, 4, 8])
@pytest.mark.parametrize("temperature", [0.05, 0.1, 0.5, 1.0])
def test_analytic_value_identical_orthogonal_views(batch, temperature):
    # Rows of the identity: each anchor's positive has cosine 1, its 2b - 2
    # negatives cosine 0.
    z = np.eye(batch, dtype="float32")
    expected = -math.log(
        math.exp(1 / temperature) / (math.exp(1 / temperature) + 2 * batch - 2)
    )
    actual = keras.ops.convert_to_numpy(nt_xent(z, z, temperature))
    np.testing.assert_allclose(actual, np.full(batch, expected), rtol=1e-5, atol=1e-6)


def test_invariant_to_embedding_scale():
    z1, z2 = random_pair(4)
    a = keras.ops.convert_to_numpy(nt_xent(z1, z2, 0.5))
    b = keras.ops.convert_to_numpy(nt_xent(10.0 * z1, 0.1 * z2, 0.5))
    np.testing.assert_allclose(a, b, rtol=1e-5)


def test_per_example_shape_and_dtype():
    z1, z2 = random_pair(4)
    loss = nt_xent(z1, z2)
    assert tuple(loss.shape) == (4,)
    assert keras.backend.standardize_dtype(loss.dtype) == "float32"
    logits, positives = nt_xent_logits(z1, z2)
    assert tuple(logits.shape) == (8, 8)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(positives), [4, 5, 6, 7, 0, 1, 2, 3]
    )


@pytest.mark.parametrize("offset", [0, 4, 8])
def test_gathered_keys_equal_plain_form_on_local_rows(offset):
    # The global batch has 12 pairs; this "replica" holds rows
    # [offset, offset + 4).
    z1, z2 = random_pair(12, seed=3)
    plain = keras.ops.convert_to_numpy(nt_xent(z1, z2, temperature=0.2))
    local = slice(offset, offset + 4)
    gathered = nt_xent(
        z1[local], z2[local], temperature=0.2, keys_1=z1, keys_2=z2, offset=offset
    )
    assert tuple(gathered.shape) == (4,)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(gathered), plain[local], rtol=1e-5, atol=1e-6
    )


def test_gathered_positives_point_into_global_batch():
    z1, z2 = random_pair(8)
    logits, positives = nt_xent_logits(z1[2:4], z2[2:4], keys_1=z1, keys_2=z2, offset=2)
    assert tuple(logits.shape) == (4, 16)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(positives), [10, 11, 2, 3])


@pytest.mark.parametrize("temperature", [0, 0.0, -0.1, -1, "0.1", None])
def test_bad_temperature_raises(temperature):
    z1, z2 = random_pair(2)
    with pytest.raises(ValueError, match="temperature"):
        nt_xent(z1, z2, temperature=temperature)
    with pytest.raises(ValueError, match="temperature"):
        NTXent(temperature=temperature)


class TestNTXentLoss(TestCase):
    def test_mean_reduction_matches_function(self):
        z1, z2 = random_pair(8)
        loss = NTXent(temperature=0.5)
        expected = nt_xent_reference(z1, z2, 0.5).mean()
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(loss(z1, z2)), expected, rtol=1e-4
        )

    def test_no_reduction_gives_per_example_values(self):
        z1, z2 = random_pair(4)
        values = NTXent(temperature=0.5, reduction=None)(z1, z2)
        assert tuple(values.shape) == (4,)
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(values),
            nt_xent_reference(z1, z2, 0.5),
            rtol=1e-4,
        )

    def test_config_round_trip(self):
        loss = NTXent(temperature=0.25, name="my_loss")
        restored = self.assert_serialization_round_trip(loss)
        assert restored.temperature == 0.25
        assert restored.name == "my_loss"
        z1, z2 = random_pair(4)
        self.assert_allclose(restored(z1, z2), loss(z1, z2))

    def test_default_name(self):
        assert NTXent().name == "nt_xent"
