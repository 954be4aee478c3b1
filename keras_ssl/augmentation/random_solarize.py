"""Per-image random solarization."""

import keras
from keras import ops

from keras_ssl.augmentation.image_augmentation import RandomImageAugmentation
from keras_ssl.checks import check_fraction


@keras.saving.register_keras_serializable(package="keras_ssl")
class RandomSolarize(RandomImageAugmentation):
    """Inverts the bright pixels of each image with probability `probability`.

    Images are expected in `[0, 1]`. A solarized image maps every pixel
    `x >= threshold` to `1 - x` and keeps the others. Works for any number
    of channels. Inactive when `training=False`.

    Args:
        threshold: pixels at or above it are inverted, in `[0, 1]`.
        probability: chance that an image is solarized, in `[0, 1]`.
        seed: int seed.

    Example:

    >>> solarize = RandomSolarize(threshold=0.5, probability=0.2, seed=0)
    >>> solarize(keras.random.uniform((2, 8, 8, 1)), training=True).shape
    TensorShape([2, 8, 8, 1])

    Reference:
        [Grill et al., 2020](https://arxiv.org/abs/2006.07733)
    """

    def __init__(self, threshold=0.5, probability=0.2, seed=None, **kw):
        super().__init__(probability, seed=seed, **kw)
        self.threshold = check_fraction("threshold", threshold)

    def augment(self, images):
        apply = self.uniform_per_image(images)
        invert = ops.logical_and(apply < self.probability, images >= self.threshold)
        return ops.where(invert, 1.0 - images, images)

    def get_config(self):
        config = super().get_config()
        config.update(threshold=self.threshold)
        return config
