"""Uniformity of embeddings on the hypersphere (Wang & Isola, 2020)."""

import keras
from keras import ops

from keras_ssl.checks import check_embeddings, check_positive
from keras_ssl.metrics._base import RunningMean
from keras_ssl.metrics._ops import l2_normalize


def uniformity(z, t=2):
    """Log of the mean Gaussian potential between distinct embeddings.

    `uniformity = log mean_{i != j} exp(-t ||f(x_i) - f(x_j)||_2 ** 2)`,
    with `f` scaling rows to unit norm, over the `batch * (batch - 1)`
    ordered pairs of distinct rows (the same mean as over unordered pairs).
    It is 0 when every embedding is equal (collapse) and more negative the
    more uniformly they cover the sphere; lower is better. Computed with a
    log-sum-exp, so it is stable for large `t`.

    Args:
        z: `(batch, dim)` embeddings, `batch >= 2`.
        t: float > 0, the potential's scale. The paper uses 2.

    Returns:
        float32 scalar.

    Example:

    >>> z = keras.random.normal((8, 16))
    >>> value = uniformity(z)  # negative
    >>> float(uniformity(keras.ops.ones((8, 16))))
    0.0

    Reference:
        [Wang & Isola, 2020](https://arxiv.org/abs/2005.10242)
    """
    check_positive("t", t)
    check_embeddings(None, z, min_batch=2)
    z = l2_normalize(ops.cast(z, "float32"))
    n = ops.shape(z)[0]
    squared_norms = ops.sum(ops.square(z), axis=-1)
    squared = (
        squared_norms[:, None]
        + squared_norms[None, :]
        - 2.0 * ops.matmul(z, ops.transpose(z))
    )
    logits = -float(t) * ops.maximum(squared, 0.0)
    off_diagonal = ops.logical_not(ops.cast(ops.eye(n), "bool"))
    logits = ops.where(off_diagonal, logits, ops.full_like(logits, -float("inf")))
    pairs = ops.cast(n * (n - 1), "float32")
    return ops.logsumexp(ops.reshape(logits, (-1,))) - ops.log(pairs)


@keras.saving.register_keras_serializable(package="keras_ssl")
class Uniformity(RunningMean):
    """Mean of the batch-level `uniformity` over the batches seen.

    Uniformity is defined on pairs within a batch, so it does not stream:
    `update_state(embeddings)` computes `uniformity` of that batch and
    `result()` is the plain (unweighted) mean of those batch values, which
    is not the uniformity of the concatenated batches. Values depend on the
    batch size; compare runs at equal batch sizes.

    Args:
        t: float > 0, the potential's scale.
        name: metric name. Defaults to `"uniformity"`.
        dtype: dtype of `result()`.

    Example:

    >>> metric = Uniformity()
    >>> metric.update_state(keras.random.normal((8, 16)))
    >>> value = metric.result()  # negative

    Reference:
        [Wang & Isola, 2020](https://arxiv.org/abs/2005.10242)
    """

    def __init__(self, t=2, name="uniformity", dtype=None):
        check_positive("t", t)
        super().__init__(name=name, dtype=dtype)
        self.t = float(t)

    def update_state(self, embeddings):
        value = uniformity(embeddings, t=self.t)
        self.total.assign_add(ops.cast(value, "float64"))
        self.count.assign_add(ops.ones((), dtype="float64"))

    def get_config(self):
        config = super().get_config()
        config.update({"t": self.t})
        return config
