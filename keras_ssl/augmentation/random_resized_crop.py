"""Random resized crop, the main SimCLR augmentation."""

import math

import keras
from keras import ops

from keras_ssl.augmentation.image_augmentation import ImageAugmentation
from keras_ssl.augmentation.validation import check_range
from keras_ssl.checks import check_images, check_positive_int


@keras.saving.register_keras_serializable(package="keras_ssl")
class RandomResizedCrop(ImageAugmentation):
    """Crops a random box of each image and resizes it to a fixed size.

    Each image in the batch gets its own box: its area is a uniform fraction
    `scale` of the image and its aspect ratio is log-uniform in `ratio`
    (boxes are clipped to the image). The crop is resized bilinearly with
    two per-image interpolation matrices (matmuls), so it runs on-graph,
    inside `tf.data`, and under XLA. In inference (`training=False`) the
    layer only resizes.

    Args:
        height: output height.
        width: output width.
        scale: `(min, max)` fraction of the image area kept, in `(0, 1]`.
        ratio: `(min, max)` aspect ratio (width / height) of the box.
        seed: int seed for a reproducible sequence of crops.

    Example:

    >>> crop = RandomResizedCrop(28, 28, scale=(0.3, 1.0), seed=1)
    >>> crop(keras.random.uniform((4, 28, 28, 1)), training=True).shape
    TensorShape([4, 28, 28, 1])

    Reference:
        [Szegedy et al., 2015](https://arxiv.org/abs/1409.4842);
        [Chen et al., 2020](https://arxiv.org/abs/2002.05709)
    """

    def __init__(
        self, height, width, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), seed=None, **kw
    ):
        super().__init__(**kw)
        self.height = check_positive_int("height", height)
        self.width = check_positive_int("width", width)
        self.scale = check_range("scale", scale, 1e-6, 1.0)
        self.ratio = check_range("ratio", ratio, 1e-3, 1e3)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        check_images("images", images)
        images = ops.cast(images, self.compute_dtype)
        batch = ops.shape(images)[0]
        if not training:
            return ops.image.resize(images, (self.height, self.width))
        area = keras.random.uniform((batch,), *self.scale, seed=self.seed_generator)
        log_ratio = keras.random.uniform(
            (batch,),
            math.log(self.ratio[0]),
            math.log(self.ratio[1]),
            seed=self.seed_generator,
        )
        ratio = ops.exp(log_ratio)
        # Box sides as fractions of the image side (normalised coordinates).
        h = ops.minimum(ops.sqrt(area / ratio), 1.0)
        w = ops.minimum(ops.sqrt(area * ratio), 1.0)
        y0 = keras.random.uniform((batch,), seed=self.seed_generator) * (1.0 - h)
        x0 = keras.random.uniform((batch,), seed=self.seed_generator) * (1.0 - w)
        return self._crop(images, y0, x0, h, w)

    def _crop(self, images, y0, x0, h, w):
        # Bilinear crop-and-resize as two interpolation matrices per image,
        # out = Wy @ image @ Wx^T: plain matmuls, so it compiles with XLA.
        # Box corners map onto pixel centres as in tf.image.crop_and_resize.
        in_h, in_w = ops.shape(images)[1], ops.shape(images)[2]
        wy = self._weights(y0, h, self.height, in_h)
        wx = self._weights(x0, w, self.width, in_w)
        out = ops.einsum("bih,bhwc->biwc", wy, images)
        return ops.einsum("bjw,biwc->bijc", wx, out)

    def _weights(self, start, size, out_len, in_len):
        step = ops.arange(out_len, dtype="float32") / max(out_len - 1, 1)
        scale = ops.cast(in_len, "float32") - 1.0
        src = (start[:, None] + step[None, :] * size[:, None]) * scale
        pixels = ops.arange(in_len, dtype="float32")
        weights = ops.relu(1.0 - ops.abs(src[..., None] - pixels[None, None, :]))
        return ops.cast(weights, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(
            height=self.height,
            width=self.width,
            scale=self.scale,
            ratio=self.ratio,
            seed=self.seed,
        )
        return config
