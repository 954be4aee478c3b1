import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.losses import BatchHardTripletLoss, batch_hard_triplet
from keras_ssl.testing import TestCase

DISTANCES = ["squared_euclidean", "euclidean", "cosine"]


def distance_reference(a, b, distance):
    a, b = a.astype("float64"), b.astype("float64")
    if distance == "cosine":
        return 1.0 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    squared = np.sum((a - b) ** 2)
    return squared if distance == "squared_euclidean" else np.sqrt(squared)


def batch_hard_reference(x, labels, margin, distance):
    """Per-anchor batch-hard triplet loss in float64 NumPy, with loops."""
    labels = np.asarray(labels).reshape(-1)
    losses = []
    for i in range(len(x)):
        positives = [
            distance_reference(x[i], x[j], distance)
            for j in range(len(x))
            if j != i and labels[j] == labels[i]
        ]
        negatives = [
            distance_reference(x[i], x[k], distance)
            for k in range(len(x))
            if labels[k] != labels[i]
        ]
        if not positives or not negatives:
            losses.append(0.0)
        else:
            losses.append(max(0.0, max(positives) - min(negatives) + margin))
    return np.array(losses)


def random_batch(batch, dim=4, num_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, dim)).astype("float32")
    labels = rng.integers(0, num_classes, size=batch)
    return x, labels


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("batch, num_classes", [(2, 2), (4, 2), (8, 3), (12, 4)])
@pytest.mark.parametrize("margin", [0.0, 0.3, 2.0])
@pytest.mark.parametrize("distance", DISTANCES)
def test_matches_numpy_reference(batch, num_classes, margin, distance):
    x, labels = random_batch(batch, num_classes=num_classes, seed=batch + num_classes)
    actual = to_numpy(batch_hard_triplet(x, labels, margin=margin, distance=distance))
    assert actual.shape == (batch,)
    np.testing.assert_allclose(
        actual,
        batch_hard_reference(x, labels, margin, distance),
        rtol=1e-4,
        atol=1e-4,
    )


def test_analytic_values():
    # 1-D points 0, 1 (class 0) and 3, 10 (class 1), squared distances.
    x = np.array([[0.0], [1.0], [3.0], [10.0]], "float32")
    labels = np.array([0, 0, 1, 1])
    np.testing.assert_allclose(
        to_numpy(batch_hard_triplet(x, labels, margin=10.0)),
        [1 - 9 + 10, 1 - 4 + 10, 49 - 4 + 10, 0.0],
        rtol=1e-5,
    )


@pytest.mark.parametrize("distance", DISTANCES)
def test_well_separated_classes_with_zero_margin_give_zero(distance):
    rng = np.random.default_rng(0)
    centers = np.array([[10.0, 0.0], [0.0, 10.0], [-10.0, -10.0]])
    labels = np.repeat(np.arange(3), 3)
    x = (centers[labels] + 0.1 * rng.normal(size=(9, 2))).astype("float32")
    np.testing.assert_allclose(
        to_numpy(batch_hard_triplet(x, labels, margin=0.0, distance=distance)),
        np.zeros(9),
        atol=1e-6,
    )


def test_anchors_without_positive_or_negative_give_zero():
    x, _ = random_batch(5)
    # Class 2 has a single example: no positive for anchor 4.
    labels = np.array([0, 0, 1, 1, 2])
    loss = to_numpy(batch_hard_triplet(x, labels, margin=100.0))
    assert loss[4] == 0.0 and np.all(loss[:4] > 0)
    # One class only: no negatives for anyone.
    np.testing.assert_array_equal(
        to_numpy(batch_hard_triplet(x, np.zeros(5, "int32"), margin=100.0)),
        np.zeros(5),
    )


def test_labels_of_shape_batch_by_one():
    x, labels = random_batch(6)
    np.testing.assert_allclose(
        to_numpy(batch_hard_triplet(x, labels[:, None], margin=0.5)),
        to_numpy(batch_hard_triplet(x, labels, margin=0.5)),
    )


@pytest.mark.parametrize("distance", DISTANCES)
def test_gradients_are_finite(distance):
    x, _ = random_batch(6)
    x[1] = x[0]  # a duplicate: zero euclidean distance
    labels = np.array([0, 0, 1, 1, 2, 2])
    v = tf.Variable(x)
    with tf.GradientTape() as tape:
        loss = keras.ops.mean(
            batch_hard_triplet(v, labels, margin=5.0, distance=distance)
        )
    grad = to_numpy(tape.gradient(loss, v))
    assert np.all(np.isfinite(grad))
    assert np.any(grad != 0)


def test_dynamic_batch_in_tf_function():
    fn = tf.function(
        lambda x, y: batch_hard_triplet(x, y, margin=0.5, distance="euclidean"),
        input_signature=[
            tf.TensorSpec([None, 4], tf.float32),
            tf.TensorSpec([None], tf.int32),
        ],
    )
    x, labels = random_batch(8)
    np.testing.assert_allclose(
        to_numpy(fn(x, labels.astype("int32"))),
        batch_hard_reference(x, labels, 0.5, "euclidean"),
        rtol=1e-4,
        atol=1e-4,
    )


@pytest.mark.parametrize("margin", [-0.1, "0.2", None])
def test_bad_margin_raises(margin):
    x, labels = random_batch(4)
    with pytest.raises(ValueError, match="Received: margin="):
        batch_hard_triplet(x, labels, margin=margin)
    with pytest.raises(ValueError, match="Received: margin="):
        BatchHardTripletLoss(margin=margin)


def test_bad_distance_raises():
    x, labels = random_batch(4)
    with pytest.raises(ValueError, match="Received: distance="):
        batch_hard_triplet(x, labels, distance="manhattan")
    with pytest.raises(ValueError, match="Received: distance="):
        BatchHardTripletLoss(distance="manhattan")


def test_bad_labels_raise():
    x, labels = random_batch(4)
    with pytest.raises(ValueError, match="Received: labels.shape"):
        batch_hard_triplet(x, labels[:3])
    with pytest.raises(ValueError, match="Received: labels.shape"):
        batch_hard_triplet(x, np.zeros((4, 2)))


class TestBatchHardTripletLoss(TestCase):
    def test_mean_reduction_matches_function(self):
        x, labels = random_batch(8)
        self.assert_allclose(
            BatchHardTripletLoss(margin=1.0)(labels, x),
            batch_hard_reference(x, labels, 1.0, "squared_euclidean").mean(),
            rtol=1e-4,
        )

    def test_no_reduction_gives_per_example_values(self):
        x, labels = random_batch(6)
        values = BatchHardTripletLoss(margin=0.5, reduction=None)(labels, x)
        assert tuple(values.shape) == (6,)
        self.assert_allclose(
            values,
            batch_hard_reference(x, labels, 0.5, "squared_euclidean"),
            rtol=1e-4,
            atol=1e-4,
        )

    def test_trains_in_model_fit(self):
        x, labels = random_batch(8, dim=4, num_classes=2, seed=1)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        model.compile(optimizer="sgd", loss=BatchHardTripletLoss(margin=1.0))
        history = model.fit(x, labels, batch_size=8, epochs=2, verbose=0)
        assert np.all(np.isfinite(history.history["loss"]))

    def test_config_round_trip(self):
        loss = BatchHardTripletLoss(margin=0.4, distance="euclidean", name="bh")
        restored = self.assert_serialization_round_trip(loss)
        assert (restored.margin, restored.distance) == (0.4, "euclidean")
        assert restored.name == "bh"
        x, labels = random_batch(6)
        self.assert_allclose(restored(labels, x), loss(labels, x))

    def test_default_name(self):
        assert BatchHardTripletLoss().name == "batch_hard_triplet"
