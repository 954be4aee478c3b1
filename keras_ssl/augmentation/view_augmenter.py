"""The SimCLR-style view pipeline: crop, flip, colour jitter."""

import keras
from keras import ops

from keras_ssl.augmentation.image_augmentation import ImageAugmentation
from keras_ssl.augmentation.random_color_jitter import RandomColorJitter
from keras_ssl.augmentation.random_horizontal_flip import RandomHorizontalFlip
from keras_ssl.augmentation.random_resized_crop import RandomResizedCrop
from keras_ssl.augmentation.validation import check_image_size
from keras_ssl.checks import check_images


def _subseed(seed, k):
    return None if seed is None else seed * 7919 + k


@keras.saving.register_keras_serializable(package="keras_ssl")
class ViewAugmenter(ImageAugmentation):
    """Makes one random view of a batch of images in `[0, 1]`.

    Random resized crop → horizontal flip → brightness/contrast jitter, each
    drawn independently per image and per call, so calling the layer twice on
    the same batch gives the two views of SimCLR. All on-graph; works inside
    a model's `train_step` and inside `tf.data.Dataset.map`.

    The defaults are tuned for small greyscale images such as Fashion-MNIST
    (milder crops than ImageNet's `scale=(0.08, 1)`, no hue or blur).

    Args:
        image_size: `(height, width)` of the output views.
        crop_scale: `(min, max)` area fraction of the random crop.
        flip_probability: chance of a horizontal flip.
        brightness: max brightness offset of the jitter.
        contrast: max relative contrast change of the jitter.
        jitter_probability: chance an image is jittered.
        seed: int seed.

    Example:

    >>> augment = ViewAugmenter((28, 28), seed=0)
    >>> images = keras.random.uniform((4, 28, 28, 1))
    >>> view_1, view_2 = augment(images), augment(images)

    Reference:
        [Chen et al., 2020](https://arxiv.org/abs/2002.05709)
    """

    def __init__(
        self,
        image_size,
        crop_scale=(0.25, 1.0),
        flip_probability=0.5,
        brightness=0.4,
        contrast=0.4,
        jitter_probability=0.8,
        seed=None,
        **kw,
    ):
        super().__init__(**kw)
        self.image_size = check_image_size(image_size)
        self.seed = seed
        self.crop = RandomResizedCrop(
            *self.image_size, scale=tuple(crop_scale), seed=_subseed(seed, 1)
        )
        self.flip = RandomHorizontalFlip(flip_probability, seed=_subseed(seed, 2))
        self.jitter = RandomColorJitter(
            brightness, contrast, jitter_probability, seed=_subseed(seed, 3)
        )

    def build(self, input_shape=None):
        self.built = True  # the sub-layers hold no weights

    def call(self, images, training=True):
        check_images("images", images)
        images = ops.cast(images, self.compute_dtype)
        if not training:
            return self.crop(images, training=False)
        x = self.crop(images, training=True)
        x = self.flip(x, training=True)
        return self.jitter(x, training=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.image_size, input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(
            image_size=self.image_size,
            crop_scale=self.crop.scale,
            flip_probability=self.flip.probability,
            brightness=self.jitter.brightness,
            contrast=self.jitter.contrast,
            jitter_probability=self.jitter.probability,
            seed=self.seed,
        )
        return config
