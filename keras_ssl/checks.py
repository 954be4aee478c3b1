"""Argument checks shared by the whole package (a leaf: imports no keras_ssl).

Every check raises `ValueError` with a message that names the argument, what
was received and what is expected (`"Argument `x` must be ... Received:
x=..."`), and returns the value normalised (a Python `int`, a `float`, ...)
so callers can write `steps = check_positive_int("steps", steps)`.

Example:

>>> check_positive_int("epochs", 3)
3
>>> check_positive_int("epochs", 0)
Traceback (most recent call last):
...
ValueError: Argument `epochs` must be a positive int. Received: epochs=0
>>> check_choice("method", "simclrr", ["simclr", "byol"])
Traceback (most recent call last):
...
ValueError: Argument `method` must be one of ['simclr', 'byol']. Received: method='simclrr'. Did you mean 'simclr'?
"""  # noqa: E501

import difflib
import numbers
import os

import numpy as np


def is_int(value):
    """Whether `value` is an integer (NumPy integers included), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value):
    """Whether `value` is a real number (NumPy scalars included), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_positive_int(name, value, allow_none=False):
    """`value` as an `int` >= 1 (or `None` when `allow_none`)."""
    if allow_none and value is None:
        return None
    if not is_int(value) or value < 1:
        extra = " or None" if allow_none else ""
        raise ValueError(
            f"Argument `{name}` must be a positive int{extra}. "
            f"Received: {name}={value!r}"
        )
    return int(value)


def check_int_range(name, value, low, high=None):
    """`value` as an `int` in `[low, high]` (`high=None`: no upper bound)."""
    if not is_int(value) or value < low or (high is not None and value > high):
        expected = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(
            f"Argument `{name}` must be an int {expected}. Received: {name}={value!r}"
        )
    return int(value)


def check_positive(name, value, allow_none=False):
    """`value` as a `float` > 0 (or `None` when `allow_none`)."""
    if allow_none and value is None:
        return None
    if not is_number(value) or not value > 0:
        extra = " or None" if allow_none else ""
        raise ValueError(
            f"Argument `{name}` must be a number > 0{extra}. Received: {name}={value!r}"
        )
    return float(value)


def check_non_negative(name, value):
    """`value` as a `float` >= 0."""
    if not is_number(value) or not value >= 0:
        raise ValueError(
            f"Argument `{name}` must be a number >= 0. Received: {name}={value!r}"
        )
    return float(value)


def check_fraction(name, value, low=0.0, high=1.0, low_open=False, high_open=False):
    """`value` as a `float` in the interval from `low` to `high`.

    `low_open` / `high_open` exclude the bounds: the default is `[0, 1]`,
    `check_fraction("p", p, low_open=True, high_open=True)` is `(0, 1)`.
    """
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    ok = is_number(value) and (value > low if low_open else value >= low)
    ok = ok and (value < high if high_open else value <= high)
    if not ok:
        raise ValueError(
            f"Argument `{name}` must be a number in {left}{low}, {high}{right}. "
            f"Received: {name}={value!r}"
        )
    return float(value)


def check_bool(name, value):
    """`value`, which must be `True` or `False`."""
    if not isinstance(value, bool):
        raise ValueError(
            f"Argument `{name}` must be True or False. Received: {name}={value!r}"
        )
    return value


def _closest(value, choices, cutoff):
    """The choice closest to `value` (`difflib`), or a choice that contains
    it, or `None`."""
    text = str(value)
    names = [str(c) for c in choices]
    close = difflib.get_close_matches(text, names, n=1, cutoff=cutoff)
    if not close and isinstance(value, str) and value:
        close = [c for c in names if c.startswith(value) or value in c][:1]
    return close[0] if close else None


def _is_one_of(value, choices):
    try:
        return value in choices
    except TypeError:  # unhashable or uncomparable values
        return False


def check_choice(name, value, choices, cutoff=0.6):
    """`value`, which must be one of `choices` (with a "did you mean").

    The message lists `choices` in the order given and suggests the closest
    choice whose similarity (`difflib`) is at least `cutoff`.
    """
    choices = list(choices)
    if not _is_one_of(value, choices):
        close = difflib.get_close_matches(
            str(value), [str(c) for c in choices], n=1, cutoff=cutoff
        )
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"Argument `{name}` must be one of {choices}. "
            f"Received: {name}={value!r}.{hint}"
        )
    return value


def check_name(kind, value, choices, cutoff=0.6):
    """`value`, which must name one of `choices` (a method, a tuner, ...).

    The message reads "Unknown <kind>. Received: <kind>=... Expected one of
    [...]. Did you mean ...?", suggesting the closest name (`difflib`
    similarity >= `cutoff`, or a name that contains the value).

    Example:

    >>> check_name("tuner", "randm", ["random", "bayesian"])
    Traceback (most recent call last):
    ...
    ValueError: Unknown tuner. Received: tuner='randm'. Expected one of ['random', 'bayesian']. Did you mean 'random'?
    """  # noqa: E501
    choices = list(choices)
    if not isinstance(value, str) or not _is_one_of(value, choices):
        close = _closest(value, choices, cutoff)
        hint = f" Did you mean {close!r}?" if close else ""
        raise ValueError(
            f"Unknown {kind}. Received: {kind}={value!r}. Expected one of "
            f"{choices}.{hint}"
        )
    return value


def check_seed(name="seed", value=None):
    """`value` as an `int` seed in `[0, 2**32 - 2]`.

    The range is what NumPy, TensorFlow and Keras all accept. Call as
    `check_seed("seed", seed)`; `check_seed(seed)` with an int works too
    (the argument is then called `seed`).
    """
    if value is None and not isinstance(name, str):
        name, value = "seed", name
    if not is_int(value) or not 0 <= value < 2**32 - 1:
        raise ValueError(
            f"Argument `{name}` must be an int in [0, 2**32 - 2]. "
            f"Received: {name}={value!r}"
        )
    return int(value)


def check_path(name, value, allow_none=False):
    """`value` as a non-empty `str` path (or `None` when `allow_none`)."""
    if allow_none and value is None:
        return None
    if not isinstance(value, str | os.PathLike) or not os.fspath(value):
        extra = " or None" if allow_none else ""
        raise ValueError(
            f"Argument `{name}` must be a non-empty path{extra}. "
            f"Received: {name}={value!r}"
        )
    return os.fspath(value)


def static_shape(x):
    """The shape of `x` as a tuple (`None` where unknown; `()` for scalars).

    Works on NumPy arrays, tensors (symbolic ones included) and nested
    lists.
    """
    shape = getattr(x, "shape", None)
    if shape is None:
        return tuple(np.shape(x))
    return tuple(None if d is None else int(d) for d in shape)


def _received_shape(name, shape):
    return f"Received: {name}.shape={shape}" if name else f"Received: shape={shape}"


def check_images(name, images, shape=None, channels=None, non_empty=False):
    """Checks that `images` is a batch of images `(batch, height, width, channels)`.

    Only the static shape is read, so `images` may be a NumPy array, a
    tensor or a symbolic tensor; it is returned unchanged.

    Args:
        name: the argument name used in error messages.
        images: the batch of images.
        shape: optional `(height, width, channels)` the images must have
            (`None` entries match any size).
        channels: optional tuple of allowed channel counts, e.g. `(1, 3)`.
        non_empty: whether a batch of 0 images is an error.

    Returns:
        `images`.

    Example:

    >>> check_images("x", np.zeros((2, 8, 8, 1))).shape
    (2, 8, 8, 1)
    >>> check_images("x", np.zeros((8, 8, 1)))
    Traceback (most recent call last):
    ...
    ValueError: Argument `x` must be a batch of images of shape (batch, height, width, channels). Received: x.shape=(8, 8, 1)
    """  # noqa: E501
    actual = static_shape(images) if not isinstance(images, str | bytes) else None
    expected = "batch, height, width, channels"
    if shape is not None:
        expected = "batch, " + ", ".join(str(d) for d in shape)
    ok = actual is not None and len(actual) == 4
    ok = ok and not (non_empty and actual[0] == 0)
    if ok and shape is not None:
        ok = all(e is None or e == a for e, a in zip(shape, actual[1:]))
    if not ok:
        what = "a non-empty batch" if non_empty else "a batch"
        raise ValueError(
            f"Argument `{name}` must be {what} of images of shape ({expected}). "
            + _received_shape(name, actual)
        )
    if channels is not None and actual[-1] not in channels:
        raise ValueError(
            f"Argument `{name}` must have a known channel count in "
            f"{tuple(channels)} (last axis; 1 = greyscale, 3 = RGB, 4 = RGBA). "
            + _received_shape(name, actual)
        )
    return images


def check_labels(name, labels, num_examples=None):
    """`labels` as a 1-D NumPy array of integer class ids.

    Args:
        name: the argument name used in error messages.
        labels: array-like of class ids.
        num_examples: optional number of examples the labels belong to
            (one label each).

    Returns:
        `np.asarray(labels)` (its integer dtype is kept).

    Example:

    >>> check_labels("y", [0, 2, 1])
    array([0, 2, 1])
    >>> check_labels("y", [0.5, 1.0])
    Traceback (most recent call last):
    ...
    ValueError: Argument `y` must be a 1-D array of integer class ids. Received: y with shape=(2,) and dtype=float64
    """  # noqa: E501
    array = np.asarray(labels)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"Argument `{name}` must be a 1-D array of integer class ids. "
            f"Received: {name} with shape={array.shape} and dtype={array.dtype}"
        )
    if num_examples is not None and len(array) != num_examples:
        raise ValueError(
            f"Argument `{name}` must hold one label per example. Received: "
            f"{len(array)} labels for {num_examples} examples"
        )
    return array


def check_same_length(name_1, x_1, name_2, x_2):
    """Raises unless `x_1` and `x_2` hold as many examples (`len`).

    Example:

    >>> check_same_length("x", [1, 2], "y", [0])
    Traceback (most recent call last):
    ...
    ValueError: Arguments `x` and `y` must have the same number of examples. Received: len(x)=2, len(y)=1
    """  # noqa: E501
    if len(x_1) != len(x_2):
        raise ValueError(
            f"Arguments `{name_1}` and `{name_2}` must have the same number of "
            f"examples. Received: len({name_1})={len(x_1)}, len({name_2})={len(x_2)}"
        )


def check_embeddings(name, x, min_batch=1):
    """Checks that `x` is rank 2 `(batch, dim)` with `batch >= min_batch`.

    Only the static shape is read (unknown sizes pass), so this works on
    symbolic tensors inside a traced function.

    Args:
        name: the argument name used in error messages, or `None` for
            unnamed embeddings.
        x: the embeddings.
        min_batch: the smallest batch size allowed.

    Returns:
        The static shape, a tuple (entries may be `None`).

    Example:

    >>> check_embeddings("z", np.zeros((4, 8)))
    (4, 8)
    >>> check_embeddings("z", np.zeros((1, 8)), min_batch=2)
    Traceback (most recent call last):
    ...
    ValueError: Argument `z` must have a batch size >= 2. Received: z.shape=(1, 8)
    """
    shape = static_shape(x)
    what = f"Argument `{name}`" if name else "The embeddings"
    if len(shape) != 2:
        raise ValueError(
            f"{what} must be a rank-2 tensor. Expected embeddings of shape "
            f"(batch, dim). " + _received_shape(name, shape)
        )
    if shape[0] is not None and shape[0] < min_batch:
        raise ValueError(
            f"{what} must have a batch size >= {min_batch}. "
            + _received_shape(name, shape)
        )
    return shape


def check_same_shape(name_1, x_1, name_2, x_2):
    """Raises if the static shapes of `x_1` and `x_2` differ where known.

    Example:

    >>> check_same_shape("a", np.zeros((2, 3)), "b", np.zeros((2, 4)))
    Traceback (most recent call last):
    ...
    ValueError: Arguments `a` and `b` must have the same shape. Received: a.shape=(2, 3), b.shape=(2, 4)
    """  # noqa: E501
    shape_1, shape_2 = static_shape(x_1), static_shape(x_2)
    compatible = len(shape_1) == len(shape_2) and all(
        a is None or b is None or a == b for a, b in zip(shape_1, shape_2)
    )
    if not compatible:
        raise ValueError(
            f"Arguments `{name_1}` and `{name_2}` must have the same shape. "
            f"Received: {name_1}.shape={shape_1}, {name_2}.shape={shape_2}"
        )


def check_embedding_pair(name_1, x_1, name_2, x_2, min_batch=1):
    """Checks two embeddings `(batch, dim)` of the same shape.

    `check_embeddings` on each, then `check_same_shape`.

    Returns:
        The static shape of `x_1`, a tuple.

    Example:

    >>> check_embedding_pair("z1", np.zeros((4, 8)), "z2", np.zeros((4, 8)))
    (4, 8)
    """
    shape = check_embeddings(name_1, x_1, min_batch=min_batch)
    check_embeddings(name_2, x_2, min_batch=min_batch)
    check_same_shape(name_1, x_1, name_2, x_2)
    return shape
