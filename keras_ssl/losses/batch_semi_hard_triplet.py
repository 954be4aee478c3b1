"""Semi-hard triplet loss with online mining (FaceNet)."""

import keras
from keras import ops

from keras_ssl.checks import check_non_negative
from keras_ssl.losses._distances import (
    check_distance,
    masked_max,
    masked_min,
    pairwise_distance,
    prepare_embeddings_and_labels,
)
from keras_ssl.losses._mined_triplet_loss import MinedTripletLoss


def batch_semi_hard_triplet(
    embeddings, labels, margin=0.2, distance="squared_euclidean"
):
    """Semi-hard triplet loss, one value per anchor.

    Every anchor `i` is paired with each of its positives `j` (same label,
    `j != i`). For each pair the negative is semi-hard: the closest negative
    `k` that is farther from the anchor than the positive, `d_ik > d_ij`.
    When no such negative exists, the farthest negative is used (as in
    TensorFlow Addons). The pair loss is `max(0, d_ij - d_ik + margin)`, and
    the anchor's loss is the mean over its positives.

    Anchors without any positive or without any negative in the batch have
    loss 0 (they still count in the batch size of a mean reduction). The
    mean over anchors weights anchors equally; TensorFlow Addons'
    `TripletSemiHardLoss` weights anchor-positive pairs equally instead (the
    two agree when every class has the same number of examples in the batch).
    Memory is `O(batch^3)`.

    Args:
        embeddings: `(batch, dim)` embeddings.
        labels: `(batch,)` or `(batch, 1)` integer class labels.
        margin: float >= 0.
        distance: `"squared_euclidean"` (default), `"euclidean"` or
            `"cosine"`; see `triplet`.

    Returns:
        `(batch,)` float32 tensor of per-anchor losses.

    Example:

    >>> x = keras.random.normal((8, 16))
    >>> y = keras.ops.array([0, 0, 1, 1, 2, 2, 3, 3])
    >>> batch_semi_hard_triplet(x, y, margin=0.2).shape
    TensorShape([8])

    Reference:
        [Schroff et al., 2015 (FaceNet)](https://arxiv.org/abs/1503.03832)
    """
    check_non_negative("margin", margin)
    check_distance(distance)
    embeddings, _, positive_mask, negative_mask = prepare_embeddings_and_labels(
        embeddings, labels
    )
    d = pairwise_distance(embeddings, distance)
    # Axis 0: anchor i, axis 1: positive j, axis 2: negative k.
    d_anchor_negative = d[:, None, :]
    semi_hard = ops.logical_and(
        negative_mask[:, None, :], d_anchor_negative > d[:, :, None]
    )
    closest_farther = masked_min(
        ops.broadcast_to(d_anchor_negative, ops.shape(semi_hard)), semi_hard, axis=2
    )
    farthest = masked_max(d, negative_mask, axis=1)
    chosen = ops.where(ops.any(semi_hard, axis=2), closest_farther, farthest[:, None])
    pair_losses = ops.relu(d - chosen + margin)

    has_negative = ops.any(negative_mask, axis=1)
    pairs = ops.logical_and(positive_mask, has_negative[:, None])
    pairs = ops.cast(pairs, "float32")
    count = ops.sum(pairs, axis=1)
    return ops.sum(pair_losses * pairs, axis=1) / ops.maximum(count, 1.0)


@keras.saving.register_keras_serializable(package="keras_ssl")
class BatchSemiHardTripletLoss(MinedTripletLoss):
    """Semi-hard triplet loss with online mining from labels.

    Call it as `loss(labels, embeddings)`: `y_true` holds the `(batch,)`
    integer class labels and `y_pred` the `(batch, dim)` embeddings. Returns
    the mean over anchors (or per-anchor values with `reduction=None`); see
    `batch_semi_hard_triplet`.

    Args:
        margin: float >= 0.
        distance: `"squared_euclidean"`, `"euclidean"` or `"cosine"`.
        reduction: Keras loss reduction. Defaults to `"sum_over_batch_size"`.
        name: loss name.

    Example:

    >>> loss = BatchSemiHardTripletLoss(margin=0.5)
    >>> x = keras.random.normal((8, 16))
    >>> value = loss(keras.ops.array([0, 0, 1, 1, 2, 2, 3, 3]), x)

    Reference:
        [Schroff et al., 2015 (FaceNet)](https://arxiv.org/abs/1503.03832)
    """

    mining_fn = staticmethod(batch_semi_hard_triplet)
    default_name = "batch_semi_hard_triplet"
