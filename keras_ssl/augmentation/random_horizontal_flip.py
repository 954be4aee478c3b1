"""Per-image random horizontal flip."""

import keras
from keras import ops

from keras_ssl.augmentation.image_augmentation import RandomImageAugmentation


@keras.saving.register_keras_serializable(package="keras_ssl")
class RandomHorizontalFlip(RandomImageAugmentation):
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
        super().__init__(probability, seed=seed, **kw)

    def augment(self, images):
        flip = self.uniform_per_image(images)
        return ops.where(flip < self.probability, ops.flip(images, axis=2), images)

    def get_config(self):
        config = super().get_config()
        return config
