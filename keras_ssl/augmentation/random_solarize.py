"""Per-image random solarization."""

import keras
from keras import ops

from keras_ssl.augmentation.image_augmentation import ImageAugmentation
from keras_ssl.augmentation.validation import check_fraction, check_images


@keras.saving.register_keras_serializable(package="keras_ssl")
class RandomSolarize(ImageAugmentation):
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
        super().__init__(**kw)
        self.threshold = check_fraction("threshold", threshold)
        self.probability = check_fraction("probability", probability)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        check_images(images)
        images = ops.cast(images, self.compute_dtype)
        if not training:
            return images
        apply = keras.random.uniform(
            (ops.shape(images)[0], 1, 1, 1), seed=self.seed_generator
        )
        invert = ops.logical_and(apply < self.probability, images >= self.threshold)
        return ops.where(invert, 1.0 - images, images)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            threshold=self.threshold, probability=self.probability, seed=self.seed
        )
        return config
