"""Barlow Twins redundancy-reduction loss."""

import keras
from keras import ops

from keras_ssl.checks import check_embedding_pair, check_non_negative, check_positive
from keras_ssl.losses._ops import broadcast_to_batch


def _standardize(z, eps):
    """Zero mean, unit (biased) variance per dimension, along the batch axis."""
    mean = ops.mean(z, axis=0, keepdims=True)
    variance = ops.mean(ops.square(z - mean), axis=0, keepdims=True)
    return (z - mean) / ops.sqrt(variance + eps)


def barlow_twins(z1, z2, lambda_=5e-3, eps=1e-5):
    """Barlow Twins loss of two views, broadcast to one value per example.

    Each view is standardized along the batch axis (mean 0 and biased
    standard deviation 1 per dimension, `eps` added to the variance, as the
    affine-free batch norm of the official code). With the `(dim, dim)`
    cross-correlation `C = z1n^T z2n / N` over the batch of size `N`:

    `loss = sum_i (1 - C_ii)^2 + lambda_ * sum_{i != j} C_ij^2`

    The loss is defined on the whole batch, not per example. It is returned
    as a `(batch,)` vector whose entries all equal the batch loss, so that
    its mean (the default `"sum_over_batch_size"` reduction) is the loss and
    its gradient is the loss's gradient. A `"sum"` reduction would scale it
    by the batch size, and per-example sample weights do not weight examples.

    Args:
        z1: `(batch, dim)` embeddings of the first view.
        z2: `(batch, dim)` embeddings of the second view. `batch >= 2`.
        lambda_: float >= 0, weight of the off-diagonal (redundancy) term.
            The paper uses `5e-3` for `dim = 8192`.
        eps: float > 0 added to the variance when standardizing.

    Returns:
        `(batch,)` float32 tensor, every entry the batch loss.

    Example:

    >>> z1 = keras.random.normal((8, 16))
    >>> z2 = z1 + 0.1 * keras.random.normal((8, 16))
    >>> barlow_twins(z1, z2).shape
    TensorShape([8])

    Reference:
        [Zbontar et al., 2021](https://arxiv.org/abs/2103.03230)
    """
    check_non_negative("lambda_", lambda_)
    check_positive("eps", eps)
    check_embedding_pair("z1", z1, "z2", z2, min_batch=2)
    z1 = _standardize(ops.cast(z1, "float32"), eps)
    z2 = _standardize(ops.cast(z2, "float32"), eps)
    n = ops.cast(ops.shape(z1)[0], "float32")
    c = ops.matmul(ops.transpose(z1), z2) / n
    diagonal = ops.diagonal(c)
    on_diagonal = ops.sum(ops.square(1.0 - diagonal))
    off_diagonal = ops.sum(ops.square(c)) - ops.sum(ops.square(diagonal))
    return broadcast_to_batch(on_diagonal + lambda_ * off_diagonal, z1)


@keras.saving.register_keras_serializable(package="keras_ssl")
class BarlowTwinsLoss(keras.losses.Loss):
    """Barlow Twins loss: cross-correlation of two views pushed to identity.

    Call it as `loss(z1, z2)` with two `(batch, dim)` embeddings of the same
    examples (the loss is symmetric in them). With the default reduction it
    returns the batch loss; with `reduction=None` a `(batch,)` vector whose
    entries all equal it (see `barlow_twins`).

    Args:
        lambda_: float >= 0, weight of the off-diagonal (redundancy) term.
        eps: float > 0 added to the variance when standardizing.
        reduction: Keras loss reduction. Defaults to `"sum_over_batch_size"`.
        name: loss name.

    Example:

    >>> loss = BarlowTwinsLoss(lambda_=5e-3)
    >>> z1 = keras.random.normal((8, 16))
    >>> value = loss(z1, z1 + 0.1 * keras.random.normal((8, 16)))

    Reference:
        [Zbontar et al., 2021](https://arxiv.org/abs/2103.03230)
    """

    def __init__(
        self, lambda_=5e-3, eps=1e-5, reduction="sum_over_batch_size", name=None
    ):
        check_non_negative("lambda_", lambda_)
        check_positive("eps", eps)
        super().__init__(reduction=reduction, name=name or "barlow_twins")
        self.lambda_ = float(lambda_)
        self.eps = float(eps)

    def call(self, y_true, y_pred):
        return barlow_twins(y_true, y_pred, lambda_=self.lambda_, eps=self.eps)

    def get_config(self):
        config = super().get_config()
        config.update({"lambda_": self.lambda_, "eps": self.eps})
        return config
