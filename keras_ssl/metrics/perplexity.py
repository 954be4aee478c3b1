"""Perplexity of a language model: exp of the mean token negative log-likelihood."""

import keras
from keras import ops

from keras_ssl.metrics._ops import divide_no_nan


def _weighted_nll(token_nll, sample_weight):
    token_nll = ops.cast(token_nll, "float32")
    if sample_weight is None:
        sample_weight = ops.ones_like(token_nll)
    sample_weight = ops.broadcast_to(
        ops.cast(sample_weight, "float32"), ops.shape(token_nll)
    )
    return ops.sum(token_nll * sample_weight), ops.sum(sample_weight)


def perplexity(token_nll, sample_weight=None):
    """`exp` of the (weighted) mean of per-token negative log-likelihoods.

    Args:
        token_nll: per-token cross-entropies in nats, any shape (e.g.
            `(batch, length)`).
        sample_weight: optional weights of the same shape (1 for a target
            token, 0 for padding). Defaults to all ones.

    Returns:
        float32 scalar; 1.0 (`exp(0)`) when every weight is 0.

    Example:

    >>> nll = keras.ops.convert_to_tensor([[1.0, 3.0, 9.0]])
    >>> float(perplexity(nll, sample_weight=[[1.0, 1.0, 0.0]]))  # exp(2)
    7.389056205749512

    Reference:
        [Bengio et al., 2003](https://www.jmlr.org/papers/volume3/bengio03a/bengio03a.pdf)
    """
    total, count = _weighted_nll(token_nll, sample_weight)
    return ops.exp(divide_no_nan(total, count))


@keras.saving.register_keras_serializable(package="keras_ssl")
class Perplexity(keras.metrics.Metric):
    """Streaming `perplexity`: over every token seen since the last reset.

    `update_state(token_nll, sample_weight)` adds the weighted sum of the
    per-token negative log-likelihoods and the sum of the weights (the number
    of target tokens) to two scalar states; `result()` is
    `exp(total_nll / token_count)`. The result after several batches is
    therefore the perplexity of their concatenation, not a mean of per-batch
    perplexities, and the sums add across replicas under a `tf.distribute`
    strategy.

    Args:
        name: metric name. Defaults to `"perplexity"`.
        dtype: dtype of `result()`.

    Example:

    >>> metric = Perplexity()
    >>> metric.update_state(keras.ops.convert_to_tensor([[1.0, 3.0]]))
    >>> metric.update_state(keras.ops.convert_to_tensor([[2.0]]))
    >>> round(float(metric.result()), 4)  # exp((1 + 3 + 2) / 3)
    7.3891

    Reference:
        [Bengio et al., 2003](https://www.jmlr.org/papers/volume3/bengio03a/bengio03a.pdf)
    """

    def __init__(self, name="perplexity", dtype=None):
        super().__init__(name=name, dtype=dtype)
        # float64 sums: millions of tokens per epoch must not lose the small
        # per-batch increments.
        self.total_nll = self.add_variable(
            shape=(), initializer="zeros", dtype="float64", name="total_nll"
        )
        self.token_count = self.add_variable(
            shape=(), initializer="zeros", dtype="float64", name="token_count"
        )

    def update_state(self, token_nll, sample_weight=None):
        total, count = _weighted_nll(token_nll, sample_weight)
        self.total_nll.assign_add(ops.cast(total, "float64"))
        self.token_count.assign_add(ops.cast(count, "float64"))

    def result(self):
        mean = divide_no_nan(self.total_nll, self.token_count)
        return ops.cast(ops.exp(mean), self.dtype)
