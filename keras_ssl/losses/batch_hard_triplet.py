"""Batch-hard triplet loss: the hardest positive and negative of each anchor."""

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


def batch_hard_triplet(embeddings, labels, margin=0.2, distance="squared_euclidean"):
    """Batch-hard triplet loss, one value per anchor.

    Every example of the batch is an anchor. Its hardest positive is the
    farthest other example with the same label, its hardest negative the
    closest example with a different label:

    `loss_i = max(0, max_{j: y_j = y_i, j != i} d_ij
    - min_{k: y_k != y_i} d_ik + margin)`

    Anchors without any positive or without any negative in the batch have
    loss 0 (they still count in the batch size of a mean reduction).

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
    >>> batch_hard_triplet(x, y, margin=0.2).shape
    TensorShape([8])

    Reference:
        [Hermans et al., 2017](https://arxiv.org/abs/1703.07737)
    """
    check_non_negative("margin", margin)
    check_distance(distance)
    embeddings, _, positive_mask, negative_mask = prepare_embeddings_and_labels(
        embeddings, labels
    )
    d = pairwise_distance(embeddings, distance)
    hardest_positive = masked_max(d, positive_mask, axis=1)
    hardest_negative = masked_min(d, negative_mask, axis=1)
    valid = ops.logical_and(
        ops.any(positive_mask, axis=1), ops.any(negative_mask, axis=1)
    )
    losses = ops.relu(hardest_positive - hardest_negative + margin)
    return ops.where(valid, losses, 0.0)


@keras.saving.register_keras_serializable(package="keras_ssl")
class BatchHardTripletLoss(MinedTripletLoss):
    """Batch-hard triplet loss with online mining from labels.

    Call it as `loss(labels, embeddings)`: `y_true` holds the `(batch,)`
    integer class labels and `y_pred` the `(batch, dim)` embeddings. Returns
    the mean over anchors (or per-anchor values with `reduction=None`); see
    `batch_hard_triplet`.

    Args:
        margin: float >= 0.
        distance: `"squared_euclidean"`, `"euclidean"` or `"cosine"`.
        reduction: Keras loss reduction. Defaults to `"sum_over_batch_size"`.
        name: loss name.

    Example:

    >>> loss = BatchHardTripletLoss(margin=0.5)
    >>> x = keras.random.normal((8, 16))
    >>> value = loss(keras.ops.array([0, 0, 1, 1, 2, 2, 3, 3]), x)

    Reference:
        [Hermans et al., 2017](https://arxiv.org/abs/1703.07737)
    """

    mining_fn = staticmethod(batch_hard_triplet)
    default_name = "batch_hard_triplet"
