"""Per-image random horizontal flip."""

import keras
from keras import ops

from keras_ssl.augmentation.image_augmentation import ImageAugmentation
from keras_ssl.augmentation.validation import check_fraction, check_images


@keras.saving.register_keras_serializable(package="keras_ssl")
class RandomHorizontalFlip(ImageAugmentation):
    """Flips each image left-right with probability `probability`.

    Args:
        probability: chance of a flip, in `[0, 1]`.
        seed: int seed.

    Example:

    >>> flip = RandomHorizontalFlip(seed=0)
    >>> flip(keras.random.uniform((2, 8, 8, 1)), training=True).shape
    TensorShape([2, 8, 8, 1])
    """

    def __init__(self, probability=0.5, seed=None, **kw):
        super().__init__(**kw)
        self.probability = check_fraction("probability", probability)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        check_images(images)
        images = ops.cast(images, self.compute_dtype)
        if not training:
            return images
        flip = keras.random.uniform(
            (ops.shape(images)[0], 1, 1, 1), seed=self.seed_generator
        )
        return ops.where(flip < self.probability, ops.flip(images, axis=2), images)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(probability=self.probability, seed=self.seed)
        return config
