"""Maths shared by the metrics (private)."""

from keras import ops


def l2_normalize(z):
    """Rows of `z` scaled to unit L2 norm; all-zero rows stay zero."""
    squared_norm = ops.sum(ops.square(z), axis=-1, keepdims=True)
    return z * ops.rsqrt(ops.maximum(squared_norm, 1e-24))


def effective_rank_of_singular_values(s):
    """`exp(H(p))` with `p = s / sum(s)` and `0 log 0 = 0`.

    All-zero singular values (a constant embedding matrix after centring)
    give `p = 0` and an effective rank of exactly 1.
    """
    total = ops.sum(s)
    p = s / ops.maximum(total, ops.cast(1e-30, s.dtype))
    positive = p > 0
    log_p = ops.log(ops.where(positive, p, ops.ones_like(p)))
    entropy = -ops.sum(ops.where(positive, p * log_p, ops.zeros_like(p)))
    return ops.exp(entropy)


def divide_no_nan(x, y):
    """`x / y`, and 0 where `y == 0`."""
    safe_y = ops.where(y == 0, ops.ones_like(y), y)
    return ops.where(y == 0, ops.zeros_like(x), x / safe_y)
