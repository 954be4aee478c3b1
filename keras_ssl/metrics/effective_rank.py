"""Effective rank of an embedding matrix (collapse indicator)."""

import keras
from keras import ops

from keras_ssl.checks import check_embeddings
from keras_ssl.metrics._base import EmbeddingSums
from keras_ssl.metrics._ops import divide_no_nan, effective_rank_of_singular_values


def effective_rank(z):
    """Effective rank of the centred embedding matrix.

    With `s` the singular values of `z - mean(z, axis=0)` and
    `p = s / sum(s)`, the effective rank is `exp(-sum_k p_k log p_k)`
    (with `0 log 0 = 0`): a continuous count of the directions the batch
    spreads along, between 1 (every embedding on one line through the mean,
    or all equal) and `min(batch, dim)` (equal singular values). RankMe uses
    it to detect dimensional collapse. It does not depend on the scale of
    `z`; the embeddings are not normalised.

    Args:
        z: `(batch, dim)` embeddings.

    Returns:
        float32 scalar.

    Example:

    >>> z = keras.random.normal((64, 8))
    >>> value = effective_rank(z)  # close to 8
    >>> float(effective_rank(keras.ops.ones((8, 8))))
    1.0

    Reference:
        [Roy & Vetterli, 2007](https://infoscience.epfl.ch/record/110188);
        [Garrido et al., 2023 (RankMe)](https://arxiv.org/abs/2210.02885)
    """
    check_embeddings(None, z)
    z = ops.cast(z, "float32")
    centered = z - ops.mean(z, axis=0, keepdims=True)
    # Non-finite embeddings have no rank: NaN, not a value that looks like
    # a collapse (and the SVD must not see them).
    finite = ops.all(ops.isfinite(centered))
    centered = ops.where(finite, centered, ops.zeros_like(centered))
    singular_values = ops.svd(centered, full_matrices=False, compute_uv=False)
    value = effective_rank_of_singular_values(singular_values)
    return ops.where(finite, value, ops.cast(float("nan"), value.dtype))


@keras.saving.register_keras_serializable(package="keras_ssl")
class EffectiveRank(EmbeddingSums):
    """Streaming `effective_rank`: the value over every embedding seen.

    `update_state(embeddings)` adds a `(batch, dim)` batch to the count, the
    per-dimension sum and the `(dim, dim)` sum of outer products (float64).
    `result()` forms the biased covariance `C`; the singular values of the
    centred matrix of all `N` embeddings seen are `sqrt(N * eig(C))`, so the
    result equals `effective_rank` of their concatenation (up to rounding).
    The sums add across replicas under a `tf.distribute` strategy.

    `result()` costs an `O(dim^3)` eigendecomposition; for large `dim`, read
    it at epoch end rather than every step.

    The state has `dim * (dim + 1) + 1` entries. Pass `dim` to create it at
    construction, as a metric used inside a `train_step` (and under a
    distribution strategy) should; without it the state is created from the
    static last dimension of the first batch.

    Args:
        dim: int, embedding dimension, or `None` to infer it on first use.
        name: metric name. Defaults to `"effective_rank"`.
        dtype: dtype of `result()`.

    Example:

    >>> metric = EffectiveRank(dim=8)
    >>> metric.update_state(keras.random.normal((16, 8)))
    >>> metric.update_state(keras.random.normal((16, 8)))
    >>> value = metric.result()  # close to 8

    Reference:
        [Roy & Vetterli, 2007](https://infoscience.epfl.ch/record/110188);
        [Garrido et al., 2023 (RankMe)](https://arxiv.org/abs/2210.02885)
    """

    def __init__(self, dim=None, name="effective_rank", dtype=None):
        super().__init__(dim=dim, name=name, dtype=dtype)

    def build_sums(self, dim):
        self.total_outer = self.add_variable(
            shape=(dim, dim), initializer="zeros", dtype="float64", name="total_outer"
        )

    def update_state(self, embeddings):
        embeddings = self.checked_embeddings(embeddings)
        z = ops.cast(ops.cast(embeddings, "float32"), "float64")
        self.count.assign_add(ops.cast(ops.shape(z)[0], "float64"))
        self.total.assign_add(ops.sum(z, axis=0))
        self.total_outer.assign_add(ops.matmul(ops.transpose(z), z))

    def result(self):
        if not self._state_built:
            return ops.zeros((), dtype=self.dtype)
        count = self.count
        mean = divide_no_nan(self.total, count)
        covariance = divide_no_nan(self.total_outer, count) - ops.outer(mean, mean)
        covariance = 0.5 * (covariance + ops.transpose(covariance))
        # A NaN/Inf would make `eigh` raise inside the train step, before a
        # NonFiniteGuard could report: decompose zeros, report NaN.
        finite = ops.all(ops.isfinite(covariance))
        covariance = ops.where(finite, covariance, ops.zeros_like(covariance))
        eigenvalues, _ = ops.eigh(covariance)
        eigenvalues = ops.maximum(eigenvalues, 0.0)
        singular_values = ops.sqrt(eigenvalues * count)
        value = effective_rank_of_singular_values(singular_values)
        value = ops.where(count > 0, value, ops.zeros_like(value))
        value = ops.where(finite, value, ops.cast(float("nan"), value.dtype))
        return ops.cast(value, self.dtype)
