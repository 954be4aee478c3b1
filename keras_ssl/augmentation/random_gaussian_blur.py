"""Per-image random Gaussian blur with a per-image sigma."""

import keras
from keras import ops

from keras_ssl.augmentation.image_augmentation import RandomImageAugmentation
from keras_ssl.augmentation.validation import check_odd_int, check_range


def _reflect(index, length):
    """Maps indices outside `[0, length)` back inside, mirror-style (no edge
    repeat, like `np.pad(mode="reflect")`), clipped for tiny images."""
    last = length - 1
    index = last - ops.abs(last - ops.abs(index))
    return ops.clip(index, 0, last)


@keras.saving.register_keras_serializable(package="keras_ssl")
class RandomGaussianBlur(RandomImageAugmentation):
    """Blurs each image with a Gaussian of random width, with probability.

    With probability `probability`, an image is convolved with a separable
    `kernel_size x kernel_size` Gaussian whose standard deviation (in
    pixels) is drawn uniformly from `sigma`, one draw per image. Borders are
    padded by reflection, so a constant image stays constant. The blur is a
    weighted sum of `kernel_size` shifted copies along each axis (per-image
    weights broadcast over the batch): plain on-graph ops that work inside
    `tf.data` and under XLA, with no per-image convolution kernels.
    Inactive when `training=False`.

    Args:
        kernel_size: odd int >= 3, the kernel side in pixels (SimCLR uses
            about 10% of the image side).
        sigma: `(min, max)` range of the Gaussian's standard deviation.
        probability: chance that an image is blurred, in `[0, 1]`.
        seed: int seed.

    Example:

    >>> blur = RandomGaussianBlur(kernel_size=3, sigma=(0.1, 2.0), seed=0)
    >>> blur(keras.random.uniform((2, 8, 8, 3)), training=True).shape
    TensorShape([2, 8, 8, 3])

    Reference:
        [Chen et al., 2020](https://arxiv.org/abs/2002.05709)
    """

    def __init__(
        self, kernel_size=3, sigma=(0.1, 2.0), probability=0.5, seed=None, **kw
    ):
        super().__init__(probability, seed=seed, **kw)
        self.kernel_size = check_odd_int("kernel_size", kernel_size)
        self.sigma = check_range("sigma", sigma, 1e-3, 100.0)

    def augment(self, images):
        batch = ops.shape(images)[0]
        apply = self.uniform_per_image(images)
        sigma = keras.random.uniform((batch, 1), *self.sigma, seed=self.seed_generator)
        blurred = ops.clip(self._blur(images, sigma), 0.0, 1.0)
        return ops.where(apply < self.probability, blurred, images)

    def _blur(self, images, sigma):
        radius = self.kernel_size // 2
        offsets = ops.arange(-radius, radius + 1, dtype="float32")
        weights = ops.exp(-ops.square(offsets)[None, :] / (2.0 * ops.square(sigma)))
        weights = weights / ops.sum(weights, axis=1, keepdims=True)
        weights = ops.cast(weights, images.dtype)
        x = self._blur_axis(images, weights, axis=1)
        return self._blur_axis(x, weights, axis=2)

    def _blur_axis(self, x, weights, axis):
        radius = self.kernel_size // 2
        length = ops.shape(x)[axis]
        padded = ops.take(
            x, _reflect(ops.arange(-radius, length + radius), length), axis
        )
        out = None
        for k in range(self.kernel_size):
            window = (
                padded[:, k : k + length] if axis == 1 else padded[:, :, k : k + length]
            )
            term = weights[:, k, None, None, None] * window
            out = term if out is None else out + term
        return out

    def get_config(self):
        config = super().get_config()
        config.update(
            kernel_size=self.kernel_size,
            sigma=self.sigma,
        )
        return config
