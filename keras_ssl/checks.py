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
ValueError: Argument `method` must be one of ['byol', 'simclr']. Received: method='simclrr'. Did you mean 'simclr'?
"""  # noqa: E501

import difflib
import numbers
import os


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


def check_choice(name, value, choices):
    """`value`, which must be one of `choices` (with a "did you mean")."""
    choices = list(choices)
    try:
        ok = value in choices
    except TypeError:  # unhashable or uncomparable values
        ok = False
    if not ok:
        listed = sorted(choices, key=str)
        close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"Argument `{name}` must be one of {listed}. "
            f"Received: {name}={value!r}.{hint}"
        )
    return value


def check_seed(name="seed", value=None):
    """`value` as an `int` seed in `[0, 2**32 - 1]`.

    Call as `check_seed("seed", seed)`; `check_seed(seed)` with an int works
    too (the argument is then called `seed`).
    """
    if value is None and not isinstance(name, str):
        name, value = "seed", name
    if not is_int(value) or not 0 <= value < 2**32:
        raise ValueError(
            f"Argument `{name}` must be an int in [0, 2**32 - 1]. "
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
