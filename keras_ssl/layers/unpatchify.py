"""Reassembles images from flattened non-overlapping patches."""

import keras
from keras import ops

from keras_ssl.layers.patchify import check_patch_size


@keras.saving.register_keras_serializable(package="keras_ssl")
class Unpatchify(keras.layers.Layer):
    """Inverse of `Patchify`: flattened patches back to images.

    Args:
        patch_size: side of the square patches.
        image_shape: `(height, width, channels)` of the images; height and
            width must be divisible by `patch_size`.

    Call arguments:
        patches: `(batch, num_patches, patch_size * patch_size * channels)`.

    Returns:
        `(batch, height, width, channels)`.

    Example:

    >>> from keras_ssl.layers import Patchify
    >>> images = keras.random.uniform((2, 28, 28, 1))
    >>> restored = Unpatchify(4, (28, 28, 1))(Patchify(4)(images))
    >>> bool(ops.all(restored == images))
    True
    """

    def __init__(self, patch_size, image_shape, **kwargs):
        super().__init__(**kwargs)
        if (
            not isinstance(image_shape, tuple | list)
            or len(image_shape) != 3
            or not all(isinstance(d, int) and d > 0 for d in image_shape)
        ):
            raise ValueError(
                "Argument `image_shape` must be (height, width, channels) "
                f"positive ints. Received: image_shape={image_shape!r}"
            )
        check_patch_size(patch_size, image_shape)
        self.patch_size = patch_size
        self.image_shape = tuple(image_shape)

    @property
    def grid(self):
        height, width, _ = self.image_shape
        return height // self.patch_size, width // self.patch_size

    def compute_output_shape(self, input_shape):
        rows, cols = self.grid
        height, width, channels = self.image_shape
        expected = (rows * cols, self.patch_size**2 * channels)
        if len(input_shape) != 3 or tuple(input_shape[1:]) != expected:
            raise ValueError(
                f"Expected `patches` of shape (batch, {expected[0]}, "
                f"{expected[1]}) for image_shape={self.image_shape} and "
                f"patch_size={self.patch_size}. Received: "
                f"patches.shape={tuple(input_shape)}"
            )
        return (input_shape[0], height, width, channels)

    def call(self, patches):
        self.compute_output_shape(tuple(patches.shape))
        rows, cols = self.grid
        height, width, channels = self.image_shape
        p = self.patch_size
        x = ops.reshape(patches, (-1, rows, cols, p, p, channels))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (-1, height, width, channels))

    def get_config(self):
        config = super().get_config()
        config.update(patch_size=self.patch_size, image_shape=self.image_shape)
        return config
