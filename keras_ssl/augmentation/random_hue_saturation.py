"""Per-image random hue shift and saturation scale, in YIQ space."""

import math

import keras
import numpy as np
from keras import ops

from keras_ssl.augmentation.image_augmentation import RandomImageAugmentation
from keras_ssl.augmentation.validation import check_channels
from keras_ssl.checks import check_fraction

# RGB -> YIQ (NTSC). Y is the luma; I and Q span the chroma plane.
RGB_TO_YIQ = np.array(
    [
        [0.299, 0.587, 0.114],
        [0.596, -0.274, -0.322],
        [0.211, -0.523, 0.312],
    ],
    dtype="float64",
)
YIQ_TO_RGB = np.linalg.inv(RGB_TO_YIQ)


@keras.saving.register_keras_serializable(package="keras_ssl")
class RandomHueSaturation(RandomImageAugmentation):
    """Randomly shifts the hue and scales the saturation of RGB images.

    Images are expected in `[0, 1]`. With probability `probability`, an
    image is moved to YIQ space, its chroma plane `(I, Q)` is rotated by a
    hue shift uniform in `[-hue, hue]` of a full turn and scaled by a
    saturation factor uniform in `[1 - saturation, 1 + saturation]`; the
    luma `Y` is kept. The result goes back to RGB and is clipped to
    `[0, 1]`. Each image's change is one 3x3 matrix, applied with an einsum.
    Greyscale input (one channel) passes through unchanged. Inactive when
    `training=False`.

    Args:
        hue: max hue shift as a fraction of a full turn, in `[0, 0.5]`.
        saturation: max relative saturation change, in `[0, 1]`.
        probability: chance that an image is changed, in `[0, 1]`.
        seed: int seed.

    Example:

    >>> jitter = RandomHueSaturation(hue=0.1, saturation=0.4, seed=0)
    >>> jitter(keras.random.uniform((2, 8, 8, 3)), training=True).shape
    TensorShape([2, 8, 8, 3])

    Reference:
        [Chen et al., 2020](https://arxiv.org/abs/2002.05709)
    """

    def __init__(self, hue=0.1, saturation=0.4, probability=0.8, seed=None, **kw):
        super().__init__(probability, seed=seed, **kw)
        self.hue = check_fraction("hue", hue, 0.0, 0.5)
        self.saturation = check_fraction("saturation", saturation)

    def check_input(self, images):
        super().check_input(images)
        check_channels(images)

    def augment(self, images):
        if images.shape[-1] == 1:
            return images
        batch = ops.shape(images)[0]
        apply = self.uniform_per_image(images)
        shift = keras.random.uniform(
            (batch,), -self.hue, self.hue, seed=self.seed_generator
        )
        scale = keras.random.uniform(
            (batch,),
            1.0 - self.saturation,
            1.0 + self.saturation,
            seed=self.seed_generator,
        )
        matrix = self._matrices(shift * (2.0 * math.pi), scale)
        matrix = ops.cast(matrix, images.dtype)
        changed = ops.clip(ops.einsum("bij,bhwj->bhwi", matrix, images), 0.0, 1.0)
        return ops.where(apply < self.probability, changed, images)

    def _matrices(self, angle, scale):
        """Per-image RGB -> RGB matrices: YIQ, rotate and scale IQ, back."""
        cos, sin = scale * ops.cos(angle), scale * ops.sin(angle)
        one, zero = ops.ones_like(cos), ops.zeros_like(cos)
        chroma = ops.stack(
            [
                ops.stack([one, zero, zero], axis=-1),
                ops.stack([zero, cos, -sin], axis=-1),
                ops.stack([zero, sin, cos], axis=-1),
            ],
            axis=-2,
        )
        to_yiq = ops.convert_to_tensor(RGB_TO_YIQ, dtype="float32")
        to_rgb = ops.convert_to_tensor(YIQ_TO_RGB, dtype="float32")
        return ops.einsum("ij,bjk,kl->bil", to_rgb, chroma, to_yiq)

    def get_config(self):
        config = super().get_config()
        config.update(
            hue=self.hue,
            saturation=self.saturation,
        )
        return config
