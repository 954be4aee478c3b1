import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.losses import BatchSemiHardTripletLoss, batch_semi_hard_triplet
from keras_ssl.testing import TestCase

DISTANCES = ["squared_euclidean", "euclidean", "cosine"]


def distance_reference(a, b, distance):
    a, b = a.astype("float64"), b.astype("float64")
    if distance == "cosine":
        return 1.0 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    squared = np.sum((a - b) ** 2)
    return squared if distance == "squared_euclidean" else np.sqrt(squared)


def semi_hard_pair_losses(x, labels, margin, distance):
    """`{anchor: [pair losses]}` in float64 NumPy, with loops (FaceNet/TFA)."""
    labels = np.asarray(labels).reshape(-1)
    n = len(x)
    d = np.array(
        [[distance_reference(x[i], x[j], distance) for j in range(n)] for i in range(n)]
    )
    pairs = {}
    for i in range(n):
        negatives = [d[i, k] for k in range(n) if labels[k] != labels[i]]
        pairs[i] = []
        if not negatives:
            continue
        for j in range(n):
            if j == i or labels[j] != labels[i]:
                continue
            farther = [dn for dn in negatives if dn > d[i, j]]
            negative = min(farther) if farther else max(negatives)
            pairs[i].append(max(0.0, d[i, j] - negative + margin))
    return pairs


def semi_hard_reference(x, labels, margin, distance):
    pairs = semi_hard_pair_losses(x, labels, margin, distance)
    return np.array([np.mean(p) if p else 0.0 for _, p in sorted(pairs.items())])


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
    actual = to_numpy(
        batch_semi_hard_triplet(x, labels, margin=margin, distance=distance)
    )
    assert actual.shape == (batch,)
    np.testing.assert_allclose(
        actual,
        semi_hard_reference(x, labels, margin, distance),
        rtol=1e-4,
        atol=1e-4,
    )


def test_analytic_values():
    # 1-D points 0, 1 (class 0) and 3, 10 (class 1), squared distances.
    # Anchor 3: its positive (49) is farther than every negative (9, 4), so
    # the farthest negative (9) is used.
    x = np.array([[0.0], [1.0], [3.0], [10.0]], "float32")
    labels = np.array([0, 0, 1, 1])
    np.testing.assert_allclose(
        to_numpy(batch_semi_hard_triplet(x, labels, margin=10.0)),
        [1 - 9 + 10, 1 - 4 + 10, 49 - 9 + 10, 0.0],
        rtol=1e-5,
    )


def test_mean_over_anchors_equals_pair_mean_for_balanced_classes():
    x, _ = random_batch(9, seed=5)
    labels = np.repeat(np.arange(3), 3)
    pairs = semi_hard_pair_losses(x, labels, 1.0, "squared_euclidean")
    pair_mean = np.mean([loss for p in pairs.values() for loss in p])
    np.testing.assert_allclose(
        np.mean(to_numpy(batch_semi_hard_triplet(x, labels, margin=1.0))),
        pair_mean,
        rtol=1e-4,
    )


@pytest.mark.parametrize("distance", DISTANCES)
def test_well_separated_classes_with_zero_margin_give_zero(distance):
    rng = np.random.default_rng(0)
    centers = np.array([[10.0, 0.0], [0.0, 10.0], [-10.0, -10.0]])
    labels = np.repeat(np.arange(3), 3)
    x = (centers[labels] + 0.1 * rng.normal(size=(9, 2))).astype("float32")
    np.testing.assert_allclose(
        to_numpy(batch_semi_hard_triplet(x, labels, margin=0.0, distance=distance)),
        np.zeros(9),
        atol=1e-6,
    )


def test_anchors_without_positive_or_negative_give_zero():
    x, _ = random_batch(5)
    labels = np.array([0, 0, 1, 1, 2])  # anchor 4 has no positive
    loss = to_numpy(batch_semi_hard_triplet(x, labels, margin=100.0))
    assert loss[4] == 0.0 and np.all(loss[:4] > 0)
    np.testing.assert_array_equal(
        to_numpy(batch_semi_hard_triplet(x, np.zeros(5, "int32"), margin=100.0)),
        np.zeros(5),
    )


def test_labels_of_shape_batch_by_one():
    x, labels = random_batch(6)
    np.testing.assert_allclose(
        to_numpy(batch_semi_hard_triplet(x, labels[:, None], margin=0.5)),
        to_numpy(batch_semi_hard_triplet(x, labels, margin=0.5)),
    )


@pytest.mark.parametrize("distance", DISTANCES)
def test_gradients_are_finite(distance):
    x, _ = random_batch(6)
    x[1] = x[0]  # a duplicate: zero euclidean distance
    labels = np.array([0, 0, 1, 1, 2, 2])
    v = tf.Variable(x)
    with tf.GradientTape() as tape:
        loss = keras.ops.mean(
            batch_semi_hard_triplet(v, labels, margin=5.0, distance=distance)
        )
    grad = to_numpy(tape.gradient(loss, v))
    assert np.all(np.isfinite(grad))
    assert np.any(grad != 0)


def test_dynamic_batch_in_tf_function():
    fn = tf.function(
        lambda x, y: batch_semi_hard_triplet(x, y, margin=0.5, distance="cosine"),
        input_signature=[
            tf.TensorSpec([None, 4], tf.float32),
            tf.TensorSpec([None], tf.int32),
        ],
    )
    x, labels = random_batch(8)
    np.testing.assert_allclose(
        to_numpy(fn(x, labels.astype("int32"))),
        semi_hard_reference(x, labels, 0.5, "cosine"),
        rtol=1e-4,
        atol=1e-4,
    )


@pytest.mark.parametrize("margin", [-0.1, "0.2", None])
def test_bad_margin_raises(margin):
    x, labels = random_batch(4)
    with pytest.raises(ValueError, match="Received: margin="):
        batch_semi_hard_triplet(x, labels, margin=margin)
    with pytest.raises(ValueError, match="Received: margin="):
        BatchSemiHardTripletLoss(margin=margin)


def test_bad_distance_raises():
    x, labels = random_batch(4)
    with pytest.raises(ValueError, match="Received: distance="):
        batch_semi_hard_triplet(x, labels, distance="manhattan")
    with pytest.raises(ValueError, match="Received: distance="):
        BatchSemiHardTripletLoss(distance="manhattan")


def test_bad_labels_raise():
    x, labels = random_batch(4)
    with pytest.raises(ValueError, match="Received: labels.shape"):
        batch_semi_hard_triplet(x, labels[:3])


class TestBatchSemiHardTripletLoss(TestCase):
    def test_mean_reduction_matches_function(self):
        x, labels = random_batch(8)
        self.assert_allclose(
            BatchSemiHardTripletLoss(margin=1.0)(labels, x),
            semi_hard_reference(x, labels, 1.0, "squared_euclidean").mean(),
            rtol=1e-4,
        )

    def test_no_reduction_gives_per_example_values(self):
        x, labels = random_batch(6)
        values = BatchSemiHardTripletLoss(margin=0.5, reduction=None)(labels, x)
        assert tuple(values.shape) == (6,)
        self.assert_allclose(
            values,
            semi_hard_reference(x, labels, 0.5, "squared_euclidean"),
            rtol=1e-4,
            atol=1e-4,
        )

    def test_config_round_trip(self):
        loss = BatchSemiHardTripletLoss(margin=0.4, distance="cosine", name="sh")
        restored = self.assert_serialization_round_trip(loss)
        assert (restored.margin, restored.distance) == (0.4, "cosine")
        assert restored.name == "sh"
        x, labels = random_batch(6)
        self.assert_allclose(restored(labels, x), loss(labels, x))

    def test_default_name(self):
        assert BatchSemiHardTripletLoss().name == "batch_semi_hard_triplet"
