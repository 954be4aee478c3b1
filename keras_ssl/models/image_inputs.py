"""Validation and scaling of image batches fed to image models."""

from keras import ops


def prepare_images(images, name="images"):
    """Checks a batch of images and returns float32 in `[0, 1]`.

    `uint8` images are divided by 255; float images are taken to be in
    `[0, 1]` already.
    """
    dtype = getattr(images, "dtype", None)
    dtype_name = getattr(dtype, "name", str(dtype))
    shape = tuple(getattr(images, "shape", ()))
    if len(shape) != 4:
        raise ValueError(
            f"Expected `{name}` to be a batch of images of shape (batch, height, "
            f"width, channels). Received: {name}.shape={shape}. (Add a channel "
            "axis to greyscale arrays: x[..., None].)"
        )
    if dtype_name == "uint8":
        return ops.cast(images, "float32") / 255.0
    if dtype_name in ("float16", "bfloat16", "float32", "float64"):
        return ops.cast(images, "float32")
    raise ValueError(
        f"Expected `{name}` to be uint8 in [0, 255] or float in [0, 1]. "
        f"Received: {name}.dtype={dtype_name}"
    )
