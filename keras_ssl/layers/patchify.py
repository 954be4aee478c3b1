"""Splits images into flattened non-overlapping patches."""

import keras
from keras import ops


def check_patch_size(patch_size, image_shape=None):
    """Raises ValueError unless `patch_size` is a positive int that divides
    the height and width of `image_shape` (when given)."""
    if isinstance(patch_size, bool) or not isinstance(patch_size, int):
        raise ValueError(
            "Argument `patch_size` must be a positive int. "
            f"Received: patch_size={patch_size!r}"
        )
    if patch_size < 1:
        raise ValueError(
            "Argument `patch_size` must be a positive int. "
            f"Received: patch_size={patch_size!r}"
        )
    if image_shape is None:
        return
    height, width = image_shape[0], image_shape[1]
    if height is None or width is None:
        return
    if height % patch_size or width % patch_size:
        raise ValueError(
            "The image height and width must be divisible by `patch_size`. "
            f"Received: patch_size={patch_size} for images of size "
            f"{height}x{width}"
        )


@keras.saving.register_keras_serializable(package="keras_ssl")
class Patchify(keras.layers.Layer):
    """Splits images into flattened, non-overlapping square patches.

    Patches are ordered row-major over the patch grid; each patch is
    flattened in `(row, column, channel)` order, so `Unpatchify` inverts it
    exactly.

    Args:
        patch_size: side of the square patches; must divide the image
            height and width.

    Call arguments:
        images: `(batch, height, width, channels)`.

    Returns:
        `(batch, (height // p) * (width // p), p * p * channels)`.

    Example:

    >>> patches = Patchify(4)(keras.random.uniform((2, 28, 28, 1)))
    >>> patches.shape
    TensorShape([2, 49, 16])
    """

    def __init__(self, patch_size, **kwargs):
        super().__init__(**kwargs)
        check_patch_size(patch_size)
        self.patch_size = patch_size

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                "Expected `images` of shape (batch, height, width, channels). "
                f"Received: images.shape={tuple(input_shape)}"
            )
        batch, height, width, channels = input_shape
        check_patch_size(self.patch_size, (height, width))
        p = self.patch_size
        num = None if height is None or width is None else (height // p) * (width // p)
        dim = None if channels is None else p * p * channels
        return (batch, num, dim)

    def call(self, images):
        _, num, dim = self.compute_output_shape(tuple(images.shape))
        height, width, channels = images.shape[1:]
        p = self.patch_size
        x = ops.reshape(images, (-1, height // p, p, width // p, p, channels))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (-1, num, dim))

    def get_config(self):
        config = super().get_config()
        config["patch_size"] = self.patch_size
        return config
