"""Alignment of positive pairs (Wang & Isola, 2020)."""

import keras
from keras import ops

from keras_ssl.checks import check_embedding_pair, check_positive
from keras_ssl.metrics._base import RunningMean
from keras_ssl.metrics._ops import l2_normalize


def _pair_distances(z1, z2, alpha):
    """`||f(x) - f(y)||_2 ** alpha` per pair of L2-normalised rows: `(batch,)`."""
    z1 = l2_normalize(ops.cast(z1, "float32"))
    z2 = l2_normalize(ops.cast(z2, "float32"))
    squared = ops.sum(ops.square(z1 - z2), axis=-1)
    # `squared ** (alpha / 2)` with a zero (not NaN) gradient at 0 for
    # `alpha < 2`, so the function can also serve as a loss.
    positive = squared > 0
    safe = ops.where(positive, squared, ops.ones_like(squared))
    return ops.where(positive, ops.power(safe, alpha / 2.0), ops.zeros_like(safe))


def alignment(z1, z2, alpha=2):
    """Mean distance between the L2-normalised embeddings of positive pairs.

    `alignment = mean_i ||f(x_i) - f(y_i)||_2 ** alpha`, where row `i` of
    `z1` and row `i` of `z2` embed two views of the same example and `f`
    scales rows to unit norm. 0 when both views embed identically; at most
    `2 ** alpha` (opposite directions). Lower is better.

    Args:
        z1: `(batch, dim)` embeddings of the first views.
        z2: `(batch, dim)` embeddings of the second views, same shape.
        alpha: float > 0, exponent of the distance. The paper uses 2.

    Returns:
        float32 scalar.

    Example:

    >>> z1 = keras.random.normal((8, 16))
    >>> float(alignment(z1, z1))
    0.0

    Reference:
        [Wang & Isola, 2020](https://arxiv.org/abs/2005.10242)
    """
    check_positive("alpha", alpha)
    check_embedding_pair("z1", z1, "z2", z2)
    return ops.mean(_pair_distances(z1, z2, float(alpha)))


@keras.saving.register_keras_serializable(package="keras_ssl")
class Alignment(RunningMean):
    """Streaming `alignment` over the positive pairs seen.

    `update_state(z1, z2)` adds the batch's per-pair distances to a running
    sum and its number of pairs to a count, so `result()` is the mean over
    batches weighted by batch size: `alignment` of the concatenated pairs
    (the plain mean of the batch values when batches have equal size).

    Args:
        alpha: float > 0, exponent of the distance.
        name: metric name. Defaults to `"alignment"`.
        dtype: dtype of `result()`.

    Example:

    >>> metric = Alignment()
    >>> z1 = keras.random.normal((8, 16))
    >>> metric.update_state(z1, z1 + 0.1 * keras.random.normal((8, 16)))
    >>> value = metric.result()

    Reference:
        [Wang & Isola, 2020](https://arxiv.org/abs/2005.10242)
    """

    def __init__(self, alpha=2, name="alignment", dtype=None):
        check_positive("alpha", alpha)
        super().__init__(name=name, dtype=dtype)
        self.alpha = float(alpha)

    def update_state(self, z1, z2):
        check_embedding_pair("z1", z1, "z2", z2)
        distances = ops.cast(_pair_distances(z1, z2, self.alpha), "float64")
        self.total.assign_add(ops.sum(distances))
        self.count.assign_add(ops.cast(ops.shape(distances)[0], "float64"))

    def get_config(self):
        config = super().get_config()
        config.update({"alpha": self.alpha})
        return config
