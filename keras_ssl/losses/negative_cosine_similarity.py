"""Negative cosine similarity with a stop-gradient target (SimSiam, BYOL)."""

import keras
from keras import ops

from keras_ssl.checks import check_same_shape


def negative_cosine_similarity(p, z):
    """Negative cosine similarity `-cos(p, stop_gradient(z))`, per example.

    The SimSiam / BYOL form: `p` is the predictor output of one view and `z`
    the (projected) target of the other view. The stop-gradient is applied to
    `z` here, so no gradient flows into the target branch; `p` receives the
    gradient. The symmetric loss of those papers is
    `0.5 * (negative_cosine_similarity(p1, z2) + negative_cosine_similarity(p2, z1))`.

    BYOL's normalized mean squared error
    `||p / ||p|| - z / ||z|| ||^2` equals `2 + 2 * negative_cosine_similarity(p, z)`,
    so both give the same gradients up to a factor of 2.

    Values lie in `[-1, 1]`; `-1` means `p` and `z` point the same way.

    Args:
        p: `(batch, dim)` predictions (the branch that gets the gradient).
        z: `(batch, dim)` targets; wrapped in `stop_gradient`.

    Returns:
        `(batch,)` float32 tensor of per-example losses.

    Example:

    >>> p = keras.random.normal((8, 16))
    >>> z = keras.random.normal((8, 16))
    >>> negative_cosine_similarity(p, z).shape
    TensorShape([8])

    Reference:
        [Chen & He, 2021 (SimSiam)](https://arxiv.org/abs/2011.10566),
        [Grill et al., 2020 (BYOL)](https://arxiv.org/abs/2006.07733)
    """
    check_same_shape("p", p, "z", z)
    p = ops.normalize(ops.cast(p, "float32"), axis=-1)
    z = ops.normalize(ops.stop_gradient(ops.cast(z, "float32")), axis=-1)
    return -ops.sum(p * z, axis=-1)


@keras.saving.register_keras_serializable(package="keras_ssl")
class NegativeCosineSimilarity(keras.losses.Loss):
    """Negative cosine similarity with a stop-gradient on the target.

    Following the Keras `loss(y_true, y_pred)` convention, call it as
    `loss(z, p)`: `y_true` is the target `z` (stop-gradient applied) and
    `y_pred` the prediction `p`. It computes
    `negative_cosine_similarity(p=y_pred, z=y_true)` and returns the mean over
    the batch (or per-example values with `reduction=None`).

    BYOL's normalized MSE equals `2 + 2 * NegativeCosineSimilarity`.

    Args:
        reduction: Keras loss reduction. Defaults to `"sum_over_batch_size"`.
        name: loss name.

    Example:

    >>> loss = NegativeCosineSimilarity()
    >>> p1, z2 = keras.random.normal((8, 16)), keras.random.normal((8, 16))
    >>> value = loss(z2, p1)  # target first, prediction second

    Reference:
        [Chen & He, 2021 (SimSiam)](https://arxiv.org/abs/2011.10566),
        [Grill et al., 2020 (BYOL)](https://arxiv.org/abs/2006.07733)
    """

    def __init__(self, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction=reduction, name=name or "negative_cosine_similarity")

    def call(self, y_true, y_pred):
        return negative_cosine_similarity(y_pred, y_true)
