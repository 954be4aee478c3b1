"""Tensor helpers shared by the losses (private)."""

from keras import ops


def broadcast_to_batch(value, x):
    """Repeats the scalar `value` once per row of `x`: `(batch,)`."""
    return value * ops.ones((ops.shape(x)[0],), dtype=value.dtype)
