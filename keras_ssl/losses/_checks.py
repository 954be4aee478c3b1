"""Argument checks shared by the losses (private)."""

import numbers

from keras import ops


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_positive(name, value):
    """Raises unless `value` is a real number > 0."""
    if not _is_number(value) or not value > 0:
        raise ValueError(
            f"Argument `{name}` must be a number > 0. Received: {name}={value!r}"
        )


def check_non_negative(name, value):
    """Raises unless `value` is a real number >= 0."""
    if not _is_number(value) or not value >= 0:
        raise ValueError(
            f"Argument `{name}` must be a number >= 0. Received: {name}={value!r}"
        )


def check_choice(name, value, choices):
    """Raises unless `value` is one of `choices`."""
    if value not in choices:
        raise ValueError(
            f"Argument `{name}` must be one of {sorted(choices)}. "
            f"Received: {name}={value!r}"
        )


def check_embeddings(name, x, min_batch=1):
    """Raises unless `x` is rank 2 with at least `min_batch` rows where static."""
    shape = tuple(ops.shape(x))
    if len(shape) != 2:
        raise ValueError(
            f"Argument `{name}` must be a rank-2 `(batch, dim)` tensor. "
            f"Received: {name}.shape={shape}"
        )
    batch = shape[0]
    if isinstance(batch, int) and batch < min_batch:
        raise ValueError(
            f"Argument `{name}` must have a batch size >= {min_batch}. "
            f"Received: {name}.shape={shape}"
        )


def check_same_shape(name_1, x_1, name_2, x_2):
    """Raises if the static shapes of `x_1` and `x_2` are known and differ."""
    shape_1, shape_2 = tuple(ops.shape(x_1)), tuple(ops.shape(x_2))
    compatible = len(shape_1) == len(shape_2) and all(
        not isinstance(a, int) or not isinstance(b, int) or a == b
        for a, b in zip(shape_1, shape_2)
    )
    if not compatible:
        raise ValueError(
            f"Arguments `{name_1}` and `{name_2}` must have the same shape. "
            f"Received: {name_1}.shape={shape_1}, {name_2}.shape={shape_2}"
        )


def broadcast_to_batch(value, x):
    """Repeats the scalar `value` once per row of `x`: `(batch,)`."""
    return value * ops.ones((ops.shape(x)[0],), dtype=value.dtype)
