"""Triplet margin loss on given (anchor, positive, negative) triplets."""

import keras
from keras import ops

from keras_ssl.checks import check_non_negative, check_same_shape
from keras_ssl.losses._distances import check_distance, paired_distance


def triplet(anchor, positive, negative, margin=0.2, distance="squared_euclidean"):
    """Triplet margin loss, one value per triplet.

    `loss_i = max(0, d(anchor_i, positive_i) - d(anchor_i, negative_i) + margin)`

    Args:
        anchor: `(batch, dim)` anchor embeddings.
        positive: `(batch, dim)` embeddings of the same class as the anchors.
        negative: `(batch, dim)` embeddings of another class.
        margin: float >= 0.
        distance: `"squared_euclidean"` (default, `||a - b||^2`),
            `"euclidean"` (`||a - b||`, with a finite gradient at 0) or
            `"cosine"` (`1 - cos(a, b)`).

    Returns:
        `(batch,)` float32 tensor of per-triplet losses.

    Example:

    >>> a = keras.random.normal((8, 16))
    >>> triplet(a, a + 0.1, -a, margin=0.2).shape
    TensorShape([8])

    Reference:
        [Schroff et al., 2015 (FaceNet)](https://arxiv.org/abs/1503.03832)
    """
    check_non_negative("margin", margin)
    check_distance(distance)
    check_same_shape("anchor", anchor, "positive", positive)
    check_same_shape("anchor", anchor, "negative", negative)
    anchor = ops.cast(anchor, "float32")
    positive = ops.cast(positive, "float32")
    negative = ops.cast(negative, "float32")
    d_positive = paired_distance(anchor, positive, distance)
    d_negative = paired_distance(anchor, negative, distance)
    return ops.relu(d_positive - d_negative + margin)


@keras.saving.register_keras_serializable(package="keras_ssl")
class TripletLoss(keras.losses.Loss):
    """Triplet margin loss on given (anchor, positive, negative) triplets.

    Call it as `loss(y_true, y_pred)` where `y_pred` is either a tuple
    `(anchor, positive, negative)` of `(batch, dim)` tensors or one
    `(batch, 3, dim)` tensor stacking them on axis 1 (handy as the output of
    a model). `y_true` is ignored (pass `None` or dummy targets). Returns the
    mean over triplets (or per-triplet values with `reduction=None`).

    Args:
        margin: float >= 0.
        distance: `"squared_euclidean"`, `"euclidean"` or `"cosine"`; see
            `triplet`.
        reduction: Keras loss reduction. Defaults to `"sum_over_batch_size"`.
        name: loss name.

    Example:

    >>> loss = TripletLoss(margin=0.5)
    >>> a = keras.random.normal((8, 16))
    >>> value = loss(None, (a, a + 0.1, -a))

    Reference:
        [Schroff et al., 2015 (FaceNet)](https://arxiv.org/abs/1503.03832)
    """

    def __init__(
        self,
        margin=0.2,
        distance="squared_euclidean",
        reduction="sum_over_batch_size",
        name=None,
    ):
        check_non_negative("margin", margin)
        check_distance(distance)
        super().__init__(reduction=reduction, name=name or "triplet")
        self.margin = float(margin)
        self.distance = distance

    def __call__(self, y_true, y_pred, sample_weight=None):
        # `y_true` is unused; Keras cannot convert `None` to a tensor.
        y_true = () if y_true is None else y_true
        return super().__call__(y_true, y_pred, sample_weight=sample_weight)

    def call(self, y_true, y_pred):
        if isinstance(y_pred, tuple | list):
            if len(y_pred) != 3:
                raise ValueError(
                    "`y_pred` must be `(anchor, positive, negative)`. "
                    f"Received: a sequence of length {len(y_pred)}"
                )
            anchor, positive, negative = y_pred
        else:
            shape = tuple(ops.shape(y_pred))
            if len(shape) != 3 or shape[1] != 3:
                raise ValueError(
                    "`y_pred` must be a `(batch, 3, dim)` tensor or a tuple "
                    f"`(anchor, positive, negative)`. Received: y_pred.shape={shape}"
                )
            anchor, positive, negative = (y_pred[:, k] for k in range(3))
        return triplet(
            anchor, positive, negative, margin=self.margin, distance=self.distance
        )

    def get_config(self):
        config = super().get_config()
        config.update({"margin": self.margin, "distance": self.distance})
        return config
