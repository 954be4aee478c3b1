"""Argument checks shared by the augmentation layers."""


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


def check_fraction(name, value, low=0.0, high=1.0):
    """Checks that `value` is a number in `[low, high]`."""
    if not isinstance(value, int | float) or not low <= value <= high:
        raise ValueError(
            f"Argument `{name}` must be a number in [{low}, {high}]. "
            f"Received: {name}={value!r}"
        )
    return float(value)


def check_images(images, name="images"):
    """Checks that a batch of images is a rank-4 tensor."""
    if len(images.shape) != 4:
        raise ValueError(
            f"Expected `{name}` to be a batch of images of shape "
            f"(batch, height, width, channels). Received: {name}.shape="
            f"{tuple(images.shape)}"
        )
