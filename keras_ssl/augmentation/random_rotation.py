"""Per-image random small rotation with bilinear sampling."""

import math

import keras
from keras import ops

from keras_ssl.augmentation.image_augmentation import RandomImageAugmentation
from keras_ssl.checks import check_fraction


@keras.saving.register_keras_serializable(package="keras_ssl")
class RandomRotation(RandomImageAugmentation):
    """Rotates each image about its centre by a random angle.

    With probability `probability`, an image is rotated by an angle drawn
    uniformly from `[-max_degrees, max_degrees]` (positive angles turn the
    picture counter-clockwise, as `np.rot90` does). Output pixels are
    sampled bilinearly from the input; those that fall outside it are
    filled with zeros. Sampling is a gather of the four neighbours of each
    source point, so it runs inside `tf.data` and under XLA (unlike
    `keras.ops.image.affine_transform`, whose TensorFlow kernel has no XLA
    implementation). Images that are not rotated come back unchanged.
    Inactive when `training=False`.

    Args:
        max_degrees: largest rotation in degrees, in `[0, 180]`.
        probability: chance that an image is rotated, in `[0, 1]`.
        seed: int seed.

    Example:

    >>> rotate = RandomRotation(max_degrees=15, seed=0)
    >>> rotate(keras.random.uniform((2, 8, 8, 1)), training=True).shape
    TensorShape([2, 8, 8, 1])

    Reference:
        [Krizhevsky et al., 2012](https://papers.nips.cc/paper/4824)
    """

    def __init__(self, max_degrees=15, probability=1.0, seed=None, **kw):
        super().__init__(probability, seed=seed, **kw)
        self.max_degrees = check_fraction("max_degrees", max_degrees, 0.0, 180.0)

    def augment(self, images):
        batch = ops.shape(images)[0]
        limit = math.radians(self.max_degrees)
        angle = keras.random.uniform((batch,), -limit, limit, seed=self.seed_generator)
        apply = keras.random.uniform((batch,), seed=self.seed_generator)
        angle = ops.where(apply < self.probability, angle, 0.0)
        return self._rotate(images, angle)

    def _rotate(self, images, angle):
        """Rotates `images` by `angle` (radians, shape `(batch,)`)."""
        shape = ops.shape(images)
        batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
        cy = (ops.cast(height, "float32") - 1.0) / 2.0
        cx = (ops.cast(width, "float32") - 1.0) / 2.0
        dy = ops.arange(height, dtype="float32") - cy
        dx = ops.arange(width, dtype="float32") - cx
        dy, dx = dy[None, :, None], dx[None, None, :]
        cos = ops.cos(ops.cast(angle, "float32"))[:, None, None]
        sin = ops.sin(ops.cast(angle, "float32"))[:, None, None]
        # Inverse map: the source point each output pixel samples from.
        src_x = cx + cos * dx - sin * dy
        src_y = cy + sin * dx + cos * dy
        x0, y0 = ops.floor(src_x), ops.floor(src_y)
        fx, fy = src_x - x0, src_y - y0
        flat = ops.reshape(images, (batch, height * width, channels))
        out = None
        for oy, wy in ((0.0, 1.0 - fy), (1.0, fy)):
            for ox, wx in ((0.0, 1.0 - fx), (1.0, fx)):
                yi, xi = y0 + oy, x0 + ox
                inside = (
                    (yi >= 0.0)
                    & (yi <= ops.cast(height, "float32") - 1.0)
                    & (xi >= 0.0)
                    & (xi <= ops.cast(width, "float32") - 1.0)
                )
                weight = ops.cast(ops.where(inside, wy * wx, 0.0), images.dtype)
                yi = ops.clip(ops.cast(yi, "int32"), 0, height - 1)
                xi = ops.clip(ops.cast(xi, "int32"), 0, width - 1)
                index = ops.reshape(yi * width + xi, (batch, height * width, 1))
                values = ops.take_along_axis(
                    flat, ops.broadcast_to(index, ops.shape(flat)), axis=1
                )
                term = ops.reshape(weight, (batch, height * width, 1)) * values
                out = term if out is None else out + term
        return ops.reshape(out, (batch, height, width, channels))

    def get_config(self):
        config = super().get_config()
        config.update(max_degrees=self.max_degrees)
        return config
