"""Per-image random conversion of RGB images to greyscale."""

import keras
from keras import ops

from keras_ssl.augmentation.image_augmentation import RandomImageAugmentation
from keras_ssl.augmentation.validation import check_channels

# ITU-R BT.601 luma weights, as `tf.image.rgb_to_grayscale` uses them.
LUMA_WEIGHTS = (0.2989, 0.5870, 0.1140)


@keras.saving.register_keras_serializable(package="keras_ssl")
class RandomGrayscale(RandomImageAugmentation):
    """Turns each RGB image greyscale with probability `probability`.

    A converted image holds its luminance `0.2989 R + 0.5870 G + 0.1140 B`
    in all three channels, so the output keeps the input's shape. Greyscale
    input (one channel) passes through unchanged. Inactive when
    `training=False`.

    Args:
        probability: chance that an image is converted, in `[0, 1]`.
        seed: int seed.

    Example:

    >>> grey = RandomGrayscale(probability=0.2, seed=0)
    >>> grey(keras.random.uniform((2, 8, 8, 3)), training=True).shape
    TensorShape([2, 8, 8, 3])

    Reference:
        [Chen et al., 2020](https://arxiv.org/abs/2002.05709)
    """

    def __init__(self, probability=0.2, seed=None, **kw):
        super().__init__(probability, seed=seed, **kw)

    def check_input(self, images):
        super().check_input(images)
        check_channels(images)

    def augment(self, images):
        if images.shape[-1] == 1:
            return images
        apply = self.uniform_per_image(images)
        weights = ops.convert_to_tensor(LUMA_WEIGHTS, dtype=images.dtype)
        luma = ops.sum(images * weights, axis=-1, keepdims=True)
        grey = ops.concatenate([luma, luma, luma], axis=-1)
        return ops.where(apply < self.probability, grey, images)
