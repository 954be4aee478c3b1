"""Random resized crop, the main SimCLR augmentation."""

import math

import keras
import tensorflow as tf
from keras import ops

from keras_ssl.augmentation.validation import check_images, check_range


@keras.saving.register_keras_serializable(package="keras_ssl")
class RandomResizedCrop(keras.layers.Layer):
    """Crops a random box of each image and resizes it to a fixed size.

    Each image in the batch gets its own box: its area is a uniform fraction
    `scale` of the image and its aspect ratio is log-uniform in `ratio`
    (boxes are clipped to the image). The crop is resized bilinearly with
    `tf.image.crop_and_resize`, so the whole batch is one op, on-graph. In
    inference (`training=False`) the layer only resizes.

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
        for arg, v in (("height", height), ("width", width)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(
                    f"Argument `{arg}` must be a positive int. Received: {arg}={v!r}"
                )
        self.height, self.width = height, width
        self.scale = check_range("scale", scale, 1e-6, 1.0)
        self.ratio = check_range("ratio", ratio, 1e-3, 1e3)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        check_images(images)
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
        # Normalised box corners; [0, 0, 1, 1] is the identity resize.
        boxes = ops.stack([y0, x0, y0 + h, x0 + w], axis=1)
        out = tf.image.crop_and_resize(
            ops.cast(images, "float32"),
            boxes,
            tf.range(batch),
            (self.height, self.width),
        )
        return ops.cast(out, self.compute_dtype)

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
