"""Argument checks shared by the metrics (private)."""

import numbers

from keras import ops


def check_positive(name, value):
    """Raises unless `value` is a real number > 0."""
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not is_number or not value > 0:
        raise ValueError(
            f"Argument `{name}` must be a number > 0. Received: {name}={value!r}"
        )


def check_dim(dim):
    """Raises unless `dim` is `None` or an integer >= 1."""
    is_int = isinstance(dim, numbers.Integral) and not isinstance(dim, bool)
    if dim is not None and (not is_int or dim < 1):
        raise ValueError(
            f"Argument `dim` must be None or an integer >= 1. Received: dim={dim!r}"
        )


def check_embeddings(x, min_batch=1):
    """Raises unless `x` is rank 2 with at least `min_batch` rows where static.

    Returns:
        The static shape as a tuple (entries may be `None`).
    """
    shape = tuple(ops.shape(x))
    if len(shape) != 2:
        raise ValueError(
            f"Expected embeddings of shape (batch, dim). Received: shape={shape}"
        )
    batch = shape[0]
    if isinstance(batch, int) and batch < min_batch:
        raise ValueError(
            f"Expected embeddings with a batch size >= {min_batch}. "
            f"Received: shape={shape}"
        )
    return shape


def check_pair(z1, z2, min_batch=1):
    """Checks two rank-2 embeddings whose static shapes agree where known."""
    shape_1 = check_embeddings(z1, min_batch=min_batch)
    shape_2 = check_embeddings(z2, min_batch=min_batch)
    compatible = all(
        not isinstance(a, int) or not isinstance(b, int) or a == b
        for a, b in zip(shape_1, shape_2)
    )
    if not compatible:
        raise ValueError(
            "Expected `z1` and `z2` of the same shape. "
            f"Received: z1.shape={shape_1}, z2.shape={shape_2}"
        )


def check_metric_dim(dim, shape):
    """Raises if the embeddings' static `dim` differs from the metric's."""
    if isinstance(shape[1], int) and shape[1] != dim:
        raise ValueError(
            f"Expected embeddings of dimension {dim} (the metric's state). "
            f"Received: shape={shape}"
        )
