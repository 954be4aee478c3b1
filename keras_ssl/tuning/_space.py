"""Search-space specs shared by the hypermodels: one value, a list of
choices or a `(low, high)` range."""

import numbers


def is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def parse_spec(name, value, check):
    """Normalises the user spec `value` of hyperparameter `name`.

    `check(v)` validates (and may convert) one value. A list gives
    `("fixed", v)` (one distinct value) or `("choice", [...])` (unique, in
    order); a tuple gives `("range", low, high)` with `low < high`; anything
    else gives `("fixed", check(value))`.
    """
    if isinstance(value, list):
        if not value:
            raise ValueError(
                f"Argument `{name}` must not be an empty list. Received: {name}=[]"
            )
        values = list(dict.fromkeys(check(v) for v in value))  # unique, in order
        return ("fixed", values[0]) if len(values) == 1 else ("choice", values)
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ValueError(
                f"Argument `{name}` as a range must be a (low, high) tuple. "
                f"Received: {name}={value!r}"
            )
        low, high = (check(v) for v in value)
        if not low < high:
            raise ValueError(
                f"Argument `{name}` as a range must have low < high. "
                f"Received: {name}={value!r}"
            )
        return ("range", low, high)
    return ("fixed", check(value))


def declare_spec(hp, name, spec, is_float):
    """Registers the normalised `spec` of `name` in `hp`; returns its value.

    A range spec is `("range", low, high, sampling[, step])`: a float
    hyperparameter if `is_float`, else an int one.
    """
    if spec[0] == "fixed":
        return hp.Fixed(name, spec[1])
    if spec[0] == "choice":
        return hp.Choice(name, spec[1], ordered=True)
    _, low, high, sampling, *rest = spec
    if is_float:
        step = rest[0] if rest else None
        return hp.Float(name, low, high, step=step, sampling=sampling)
    return hp.Int(name, low, high)
