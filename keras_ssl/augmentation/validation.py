"""Argument checks of the augmentation layers (the general ones are in
`keras_ssl.checks`)."""


def check_range(name, value, low, high, allow_equal=True):
    """Checks that `value` is a `(min, max)` pair within `[low, high]`."""
    ok = (
        isinstance(value, tuple | list)
        and len(value) == 2
        and all(isinstance(v, int | float) for v in value)
        and low <= value[0] <= value[1] <= high
        and (allow_equal or value[0] < value[1])
    )
    if not ok:
        raise ValueError(
            f"Argument `{name}` must be a pair (min, max) with "
            f"{low} <= min <= max <= {high}. Received: {name}={value!r}"
        )
    return (float(value[0]), float(value[1]))


def check_channels(images, allowed=(1, 3), name="images"):
    """Checks that the channel count of `images` is known and in `allowed`.

    Returns:
        The channel count, a Python int.
    """
    channels = images.shape[-1]
    if channels not in allowed:
        raise ValueError(
            f"Expected `{name}` with a known channel count in {tuple(allowed)} "
            f"(1 = greyscale, 3 = RGB). Received: {name}.shape="
            f"{tuple(images.shape)}"
        )
    return int(channels)


def check_odd_int(name, value, minimum=3):
    """Checks that `value` is an odd int `>= minimum`."""
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or value < minimum
        or value % 2 == 0
    ):
        raise ValueError(
            f"Argument `{name}` must be an odd int >= {minimum}. "
            f"Received: {name}={value!r}"
        )
    return value


def check_image_size(image_size, name="image_size"):
    """Checks that `image_size` is a pair of positive ints `(height, width)`."""
    if (
        not isinstance(image_size, tuple | list)
        or len(image_size) != 2
        or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in image_size
        )
    ):
        raise ValueError(
            f"Argument `{name}` must be a pair of positive ints "
            f"(height, width). Received: {name}={image_size!r}"
        )
    return tuple(image_size)
