"""`ImageAugmentation`: the base of the image augmentation layers."""

import keras
from keras import ops

from keras_ssl.checks import check_fraction, check_images


class ImageAugmentation(keras.layers.Layer):
    """A Keras layer that computes in float32 unless given another `dtype`.

    Augmentations do pixel arithmetic (crops by interpolation, colour
    factors, blur kernels) that gains nothing from bfloat16 or float16 and
    loses precision in it. Under a mixed precision global policy
    (`keras_ssl.distribute.set_mixed_precision`) they therefore still
    compute in float32; the encoder that receives the views casts them to
    its own compute dtype.

    Args:
        **kw: passed to `keras.layers.Layer`; `dtype` defaults to
            `"float32"` instead of the global policy.
    """

    def __init__(self, **kw):
        kw.setdefault("dtype", "float32")
        super().__init__(**kw)


class RandomImageAugmentation(ImageAugmentation):
    """Base of the augmentations applied to each image with a probability.

    It validates `probability`, creates the layer's seed generator, checks
    the input batch, casts it to the compute dtype and returns it unchanged
    when `training=False`. Subclasses implement `augment(images)` (only
    called in training) and add their own arguments to `get_config`.

    Args:
        probability: chance that an image is augmented, in `[0, 1]`.
        seed: int seed.
        **kw: passed to `ImageAugmentation`.
    """

    def __init__(self, probability, seed=None, **kw):
        super().__init__(**kw)
        self.probability = check_fraction("probability", probability)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def check_input(self, images):
        """Raises a `ValueError` unless `images` is a batch this layer takes."""
        check_images("images", images)

    def augment(self, images):
        """The augmented batch (`images` already checked and cast)."""
        raise NotImplementedError

    def uniform_per_image(self, images):
        """One uniform `[0, 1)` draw per image, shaped `(batch, 1, 1, 1)`."""
        return keras.random.uniform(
            (ops.shape(images)[0], 1, 1, 1), seed=self.seed_generator
        )

    def call(self, images, training=True):
        self.check_input(images)
        images = ops.cast(images, self.compute_dtype)
        if not training:
            return images
        return self.augment(images)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(probability=self.probability, seed=self.seed)
        return config
