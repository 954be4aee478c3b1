"""Per-image brightness / contrast jitter, for greyscale or colour images."""

import keras
from keras import ops

from keras_ssl.augmentation.image_augmentation import RandomImageAugmentation
from keras_ssl.checks import check_fraction


@keras.saving.register_keras_serializable(package="keras_ssl")
class RandomColorJitter(RandomImageAugmentation):
    """Randomly shifts brightness and scales contrast of each image.

    Images are expected in `[0, 1]`. With probability `probability`, an image
    gets a brightness offset uniform in `[-brightness, brightness]` and its
    contrast scaled by a factor uniform in `[1 - contrast, 1 + contrast]`
    around its mean, then is clipped to `[0, 1]`. These are the two jitters
    that make sense for greyscale data; they apply to colour images too.
    Inactive when `training=False`.

    Args:
        brightness: max absolute brightness offset, in `[0, 1]`.
        contrast: max relative contrast change, in `[0, 1]`.
        probability: chance that an image is jittered, in `[0, 1]`.
        seed: int seed.

    Example:

    >>> jitter = RandomColorJitter(brightness=0.4, contrast=0.4, seed=0)
    >>> jitter(keras.random.uniform((2, 8, 8, 1)), training=True).shape
    TensorShape([2, 8, 8, 1])

    Reference:
        [Chen et al., 2020](https://arxiv.org/abs/2002.05709)
    """

    def __init__(self, brightness=0.4, contrast=0.4, probability=0.8, seed=None, **kw):
        super().__init__(probability, seed=seed, **kw)
        self.brightness = check_fraction("brightness", brightness)
        self.contrast = check_fraction("contrast", contrast)

    def augment(self, images):
        batch = ops.shape(images)[0]
        shape = (batch, 1, 1, 1)
        apply = ops.cast(
            self.uniform_per_image(images) < self.probability, images.dtype
        )
        delta = keras.random.uniform(
            shape, -self.brightness, self.brightness, seed=self.seed_generator
        )
        factor = keras.random.uniform(
            shape, 1.0 - self.contrast, 1.0 + self.contrast, seed=self.seed_generator
        )
        mean = ops.mean(images, axis=(1, 2, 3), keepdims=True)
        jittered = (images - mean) * factor + mean + delta
        out = apply * jittered + (1.0 - apply) * images
        return ops.clip(out, 0.0, 1.0)

    def get_config(self):
        config = super().get_config()
        config.update(
            brightness=self.brightness,
            contrast=self.contrast,
        )
        return config
