import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.losses import TripletLoss, triplet
from keras_ssl.testing import TestCase

DISTANCES = ["squared_euclidean", "euclidean", "cosine"]


def distance_reference(a, b, distance):
    a, b = a.astype("float64"), b.astype("float64")
    if distance == "cosine":
        return 1.0 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    squared = np.sum((a - b) ** 2)
    return squared if distance == "squared_euclidean" else np.sqrt(squared)


def triplet_reference(anchor, positive, negative, margin, distance):
    """Per-triplet margin loss in float64 NumPy."""
    return np.array(
        [
            max(
                0.0,
                distance_reference(a, p, distance)
                - distance_reference(a, n, distance)
                + margin,
            )
            for a, p, n in zip(anchor, positive, negative)
        ]
    )


def random_triplets(batch, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    anchor = rng.normal(size=(batch, dim)).astype("float32")
    positive = (anchor + 0.7 * rng.normal(size=(batch, dim))).astype("float32")
    negative = (anchor + 0.9 * rng.normal(size=(batch, dim))).astype("float32")
    return anchor, positive, negative


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("batch", [1, 4, 8])
@pytest.mark.parametrize("margin", [0.0, 0.2, 1.0])
@pytest.mark.parametrize("distance", DISTANCES)
def test_matches_numpy_reference(batch, margin, distance):
    a, p, n = random_triplets(batch, seed=batch)
    actual = to_numpy(triplet(a, p, n, margin=margin, distance=distance))
    assert actual.shape == (batch,)
    np.testing.assert_allclose(
        actual, triplet_reference(a, p, n, margin, distance), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize(
    "distance, margin, expected",
    [
        ("squared_euclidean", 0.2, 0.0),  # 1 - 4 + 0.2 < 0
        ("squared_euclidean", 5.0, 2.0),  # 1 - 4 + 5
        ("euclidean", 5.0, 4.0),  # 1 - 2 + 5
        ("cosine", 0.5, 0.0),  # 0 - 1 + 0.5 < 0
        ("cosine", 1.5, 0.5),  # 0 - 1 + 1.5
    ],
)
def test_analytic_values(distance, margin, expected):
    a = np.array([[1.0, 0.0]], "float32")
    p = np.array([[2.0, 0.0]], "float32")
    n = np.array([[1.0, 2.0]], "float32")  # cos(a, n) = 1 / sqrt(5)
    if distance == "cosine":
        n = np.array([[0.0, 3.0]], "float32")  # orthogonal: distance 1
    np.testing.assert_allclose(
        to_numpy(triplet(a, p, n, margin=margin, distance=distance)),
        [expected],
        atol=1e-6,
    )


@pytest.mark.parametrize("distance", DISTANCES)
def test_well_separated_triplets_with_zero_margin_give_zero(distance):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 4)).astype("float32") + 10.0
    p = a + 0.01
    n = -a
    np.testing.assert_array_equal(
        to_numpy(triplet(a, p, n, margin=0.0, distance=distance)), np.zeros(6)
    )


@pytest.mark.parametrize("distance", DISTANCES)
def test_gradients_are_finite(distance):
    a, p, n = random_triplets(4)
    # Make the first positive equal its anchor: the euclidean distance is 0.
    p[0] = a[0]
    va, vp, vn = tf.Variable(a), tf.Variable(p), tf.Variable(n)
    with tf.GradientTape() as tape:
        loss = keras.ops.mean(triplet(va, vp, vn, margin=10.0, distance=distance))
    for grad in tape.gradient(loss, [va, vp, vn]):
        assert np.all(np.isfinite(to_numpy(grad)))
        assert np.any(to_numpy(grad) != 0)


def test_dynamic_batch_in_tf_function():
    spec = tf.TensorSpec([None, 8], tf.float32)
    fn = tf.function(
        lambda a, p, n: triplet(a, p, n, margin=1.0, distance="euclidean"),
        input_signature=[spec, spec, spec],
    )
    a, p, n = random_triplets(4)
    np.testing.assert_allclose(
        to_numpy(fn(a, p, n)),
        triplet_reference(a, p, n, 1.0, "euclidean"),
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.parametrize("margin", [-0.1, "0.2", None, True])
def test_bad_margin_raises(margin):
    a, p, n = random_triplets(2)
    with pytest.raises(ValueError, match="Received: margin="):
        triplet(a, p, n, margin=margin)
    with pytest.raises(ValueError, match="Received: margin="):
        TripletLoss(margin=margin)


@pytest.mark.parametrize("distance", ["l2", "Euclidean", None])
def test_bad_distance_raises(distance):
    a, p, n = random_triplets(2)
    with pytest.raises(ValueError, match="Received: distance="):
        triplet(a, p, n, distance=distance)
    with pytest.raises(ValueError, match="Received: distance="):
        TripletLoss(distance=distance)


def test_mismatched_shapes_raise():
    a, p, n = random_triplets(4)
    with pytest.raises(ValueError, match="Received: anchor.shape"):
        triplet(a, p[:, :3], n)
    with pytest.raises(ValueError, match="negative.shape"):
        triplet(a, p, n[:2])


class TestTripletLoss(TestCase):
    def test_tuple_and_stacked_inputs_match_function(self):
        a, p, n = random_triplets(8)
        loss = TripletLoss(margin=1.0, distance="euclidean")
        expected = triplet_reference(a, p, n, 1.0, "euclidean").mean()
        self.assert_allclose(loss(None, (a, p, n)), expected, rtol=1e-5)
        stacked = np.stack([a, p, n], axis=1)
        self.assert_allclose(loss(np.zeros(8), stacked), expected, rtol=1e-5)

    def test_no_reduction_gives_per_example_values(self):
        a, p, n = random_triplets(4)
        values = TripletLoss(margin=0.5, reduction=None)(None, (a, p, n))
        assert tuple(values.shape) == (4,)
        self.assert_allclose(
            values,
            triplet_reference(a, p, n, 0.5, "squared_euclidean"),
            rtol=1e-5,
            atol=1e-5,
        )

    def test_bad_y_pred_raises(self):
        a, p, n = random_triplets(4)
        with pytest.raises(ValueError, match="y_pred"):
            TripletLoss()(None, (a, p))
        with pytest.raises(ValueError, match="y_pred.shape"):
            TripletLoss()(None, np.stack([a, p], axis=1))

    def test_config_round_trip(self):
        loss = TripletLoss(margin=0.7, distance="cosine", name="trip")
        restored = self.assert_serialization_round_trip(loss)
        assert (restored.margin, restored.distance) == (0.7, "cosine")
        assert restored.name == "trip"
        a, p, n = random_triplets(4)
        self.assert_allclose(restored(None, (a, p, n)), loss(None, (a, p, n)))

    def test_default_name(self):
        assert TripletLoss().name == "triplet"
