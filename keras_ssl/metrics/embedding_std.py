"""Standard deviation of L2-normalised embeddings (collapse indicator)."""

import keras
from keras import ops

from keras_ssl.checks import check_embeddings
from keras_ssl.metrics._base import EmbeddingSums
from keras_ssl.metrics._ops import divide_no_nan, l2_normalize


def embedding_std(z):
    """Mean per-dimension standard deviation of L2-normalised embeddings.

    Each row of `z` is scaled to unit L2 norm; the standard deviation of each
    dimension is taken over the batch (population std, `ddof=0`) and averaged
    over the dimensions. SimSiam uses it to detect collapse: embeddings
    spread isotropically on the sphere give about `1 / sqrt(dim)`, collapsed
    ones (every row pointing the same way) give 0.

    Args:
        z: `(batch, dim)` embeddings.

    Returns:
        float32 scalar.

    Example:

    >>> z = keras.random.normal((64, 16))
    >>> value = embedding_std(z)  # about 1 / sqrt(16) = 0.25
    >>> float(embedding_std(keras.ops.ones((8, 16))))
    0.0

    Reference:
        [Chen & He, 2021](https://arxiv.org/abs/2011.10566)
    """
    check_embeddings(None, z)
    z = l2_normalize(ops.cast(z, "float32"))
    centered = z - ops.mean(z, axis=0, keepdims=True)
    std = ops.sqrt(ops.mean(ops.square(centered), axis=0))
    return ops.mean(std)


@keras.saving.register_keras_serializable(package="keras_ssl")
class EmbeddingStd(EmbeddingSums):
    """Streaming `embedding_std`: the value over every embedding seen.

    `update_state(embeddings)` adds a `(batch, dim)` batch to per-dimension
    sums (count, sum and sum of squares of the L2-normalised rows, kept in
    float64), so `result()` after several batches equals `embedding_std` of
    their concatenation, not a mean of batch values. The sums add across
    replicas under a `tf.distribute` strategy.

    The state has one entry per dimension. Pass `dim` to create it at
    construction, as a metric used inside a `train_step` (and under a
    distribution strategy) should; without it the state is created from the
    static last dimension of the first batch.

    Args:
        dim: int, embedding dimension, or `None` to infer it on first use.
        name: metric name. Defaults to `"embedding_std"`.
        dtype: dtype of `result()`.

    Example:

    >>> metric = EmbeddingStd(dim=16)
    >>> metric.update_state(keras.random.normal((8, 16)))
    >>> metric.update_state(keras.random.normal((8, 16)))
    >>> value = metric.result()

    Reference:
        [Chen & He, 2021](https://arxiv.org/abs/2011.10566)
    """

    def __init__(self, dim=None, name="embedding_std", dtype=None):
        super().__init__(dim=dim, name=name, dtype=dtype)

    def build_sums(self, dim):
        self.total_squares = self.add_variable(
            shape=(dim,), initializer="zeros", dtype="float64", name="total_squares"
        )

    def update_state(self, embeddings):
        embeddings = self.checked_embeddings(embeddings)
        z = ops.cast(l2_normalize(ops.cast(embeddings, "float32")), "float64")
        self.count.assign_add(ops.cast(ops.shape(z)[0], "float64"))
        self.total.assign_add(ops.sum(z, axis=0))
        self.total_squares.assign_add(ops.sum(ops.square(z), axis=0))

    def result(self):
        if not self._state_built:
            return ops.zeros((), dtype=self.dtype)
        mean = divide_no_nan(self.total, self.count)
        mean_squares = divide_no_nan(self.total_squares, self.count)
        variance = ops.maximum(mean_squares - ops.square(mean), 0.0)
        return ops.cast(ops.mean(ops.sqrt(variance)), self.dtype)
