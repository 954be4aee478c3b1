"""VICReg: variance-invariance-covariance regularization."""

import keras
from keras import ops

from keras_ssl.checks import check_embedding_pair, check_non_negative, check_positive
from keras_ssl.losses._ops import broadcast_to_batch


def _variance_term(z, gamma, eps):
    """`mean_j max(0, gamma - sqrt(Var(z_j) + eps))`, unbiased variance."""
    n = ops.cast(ops.shape(z)[0], z.dtype)
    centered = z - ops.mean(z, axis=0, keepdims=True)
    variance = ops.sum(ops.square(centered), axis=0) / (n - 1.0)
    std = ops.sqrt(variance + eps)
    return ops.mean(ops.relu(gamma - std))


def _covariance_term(z):
    """Sum of squared off-diagonal covariances divided by `dim`."""
    n = ops.cast(ops.shape(z)[0], z.dtype)
    dim = ops.cast(ops.shape(z)[1], z.dtype)
    centered = z - ops.mean(z, axis=0, keepdims=True)
    cov = ops.matmul(ops.transpose(centered), centered) / (n - 1.0)
    off_diagonal = ops.sum(ops.square(cov)) - ops.sum(ops.square(ops.diagonal(cov)))
    return off_diagonal / dim


def vicreg_terms(z1, z2, gamma=1.0, eps=1e-4):
    """The three unweighted VICReg terms of a batch of two views.

    - `invariance`: mean squared error between `z1` and `z2`, averaged over
      batch and dimensions.
    - `variance`: `v(z1) + v(z2)`, with
      `v(z) = mean_j max(0, gamma - sqrt(Var(z_j) + eps))` and `Var` the
      unbiased variance of dimension `j` over the batch.
    - `covariance`: `c(z1) + c(z2)`, with `c(z)` the sum of the squared
      off-diagonal entries of the unbiased `(dim, dim)` covariance matrix,
      divided by `dim`.

    Both views' terms are summed as in the paper (eq. 6 and Algorithm 1);
    the official repository instead averages the two variance terms.

    Args:
        z1: `(batch, dim)` embeddings of the first view.
        z2: `(batch, dim)` embeddings of the second view. `batch >= 2`.
        gamma: float > 0, target standard deviation of each dimension.
        eps: float > 0 added to the variance before the square root.

    Returns:
        Dict with float32 scalars `"invariance"`, `"variance"` and
        `"covariance"`.

    Example:

    >>> z1 = keras.random.normal((8, 16))
    >>> terms = vicreg_terms(z1, z1)
    >>> float(terms["invariance"])
    0.0

    Reference:
        [Bardes et al., 2022](https://arxiv.org/abs/2105.04906)
    """
    check_positive("gamma", gamma)
    check_positive("eps", eps)
    check_embedding_pair("z1", z1, "z2", z2, min_batch=2)
    z1 = ops.cast(z1, "float32")
    z2 = ops.cast(z2, "float32")
    return {
        "invariance": ops.mean(ops.square(z1 - z2)),
        "variance": _variance_term(z1, gamma, eps) + _variance_term(z2, gamma, eps),
        "covariance": _covariance_term(z1) + _covariance_term(z2),
    }


def vicreg(
    z1,
    z2,
    sim_weight=25.0,
    var_weight=25.0,
    cov_weight=1.0,
    gamma=1.0,
    eps=1e-4,
):
    """VICReg loss of two views, broadcast to one value per example.

    `loss = sim_weight * invariance + var_weight * variance
    + cov_weight * covariance`, with the terms of `vicreg_terms`.

    The loss is defined on the whole batch, not per example. It is returned
    as a `(batch,)` vector whose entries all equal the batch loss, so that
    its mean (the default `"sum_over_batch_size"` reduction) is the loss and
    its gradient is the loss's gradient. A `"sum"` reduction would scale it
    by the batch size, and per-example sample weights do not weight examples.

    Args:
        z1: `(batch, dim)` embeddings of the first view.
        z2: `(batch, dim)` embeddings of the second view. `batch >= 2`.
        sim_weight: float >= 0, weight `lambda` of the invariance term.
        var_weight: float >= 0, weight `mu` of the variance term.
        cov_weight: float >= 0, weight `nu` of the covariance term.
        gamma: float > 0, target standard deviation of each dimension.
        eps: float > 0 added to the variance before the square root.

    Returns:
        `(batch,)` float32 tensor, every entry the batch loss.

    Example:

    >>> z1 = keras.random.normal((8, 16))
    >>> z2 = z1 + 0.1 * keras.random.normal((8, 16))
    >>> vicreg(z1, z2).shape
    TensorShape([8])

    Reference:
        [Bardes et al., 2022](https://arxiv.org/abs/2105.04906)
    """
    check_non_negative("sim_weight", sim_weight)
    check_non_negative("var_weight", var_weight)
    check_non_negative("cov_weight", cov_weight)
    terms = vicreg_terms(z1, z2, gamma=gamma, eps=eps)
    loss = (
        sim_weight * terms["invariance"]
        + var_weight * terms["variance"]
        + cov_weight * terms["covariance"]
    )
    return broadcast_to_batch(loss, z1)


@keras.saving.register_keras_serializable(package="keras_ssl")
class VICRegLoss(keras.losses.Loss):
    """VICReg loss: invariance, variance and covariance terms of two views.

    Call it as `loss(z1, z2)` with two `(batch, dim)` embeddings of the same
    examples (the loss is symmetric in them). With the default reduction it
    returns the batch loss; with `reduction=None` a `(batch,)` vector whose
    entries all equal it (see `vicreg`).

    Args:
        sim_weight: float >= 0, weight of the invariance term.
        var_weight: float >= 0, weight of the variance term.
        cov_weight: float >= 0, weight of the covariance term.
        gamma: float > 0, target standard deviation of each dimension.
        eps: float > 0 added to the variance before the square root.
        reduction: Keras loss reduction. Defaults to `"sum_over_batch_size"`.
        name: loss name.

    Example:

    >>> loss = VICRegLoss()
    >>> z1 = keras.random.normal((8, 16))
    >>> value = loss(z1, z1 + 0.1 * keras.random.normal((8, 16)))

    Reference:
        [Bardes et al., 2022](https://arxiv.org/abs/2105.04906)
    """

    def __init__(
        self,
        sim_weight=25.0,
        var_weight=25.0,
        cov_weight=1.0,
        gamma=1.0,
        eps=1e-4,
        reduction="sum_over_batch_size",
        name=None,
    ):
        check_non_negative("sim_weight", sim_weight)
        check_non_negative("var_weight", var_weight)
        check_non_negative("cov_weight", cov_weight)
        check_positive("gamma", gamma)
        check_positive("eps", eps)
        super().__init__(reduction=reduction, name=name or "vicreg")
        self.sim_weight = float(sim_weight)
        self.var_weight = float(var_weight)
        self.cov_weight = float(cov_weight)
        self.gamma = float(gamma)
        self.eps = float(eps)

    def call(self, y_true, y_pred):
        return vicreg(
            y_true,
            y_pred,
            sim_weight=self.sim_weight,
            var_weight=self.var_weight,
            cov_weight=self.cov_weight,
            gamma=self.gamma,
            eps=self.eps,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "sim_weight": self.sim_weight,
                "var_weight": self.var_weight,
                "cov_weight": self.cov_weight,
                "gamma": self.gamma,
                "eps": self.eps,
            }
        )
        return config
