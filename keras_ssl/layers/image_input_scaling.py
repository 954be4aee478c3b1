"""Turns images in `[0, 1]` into the input a pretrained backbone expects."""

import keras
from keras import ops

#: The scalings `ImageInputScaling` knows, by name.
SCALING_MODES = ("tf", "torch", "caffe", "0_255", "unit")

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)


def check_scaling_mode(mode, argument="mode"):
    """Returns `mode` if it names a scaling of `SCALING_MODES`, else raises."""
    if not isinstance(mode, str) or mode not in SCALING_MODES:
        raise ValueError(
            f"Argument `{argument}` must be one of {list(SCALING_MODES)}: 'tf' "
            "([-1, 1]), 'torch' (ImageNet mean/std), 'caffe' (BGR, 0-255 minus "
            "the ImageNet mean), '0_255' (models with built-in preprocessing) "
            f"or 'unit' (unchanged). Received: {argument}={mode!r}"
        )
    return mode


def scaled_image_shape(image_shape, channels=3, min_side=None):
    """The `(height, width, channels)` that `ImageInputScaling` outputs for
    images of `image_shape`: each side at least `min_side`, `channels`
    channels."""
    height, width = image_shape[0], image_shape[1]
    if min_side is not None:
        height = None if height is None else max(height, min_side)
        width = None if width is None else max(width, min_side)
    return (height, width, channels)


@keras.saving.register_keras_serializable(package="keras_ssl")
class ImageInputScaling(keras.layers.Layer):
    """Turns images in `[0, 1]` into what a backbone family expects.

    keras_ssl feeds its encoders float images in `[0, 1]`, greyscale or
    RGB. Pretrained backbones expect something else: three channels, a
    minimum size, and each family its own scaling. This layer does, in
    order:

    1. repeats a single grey channel `channels` times (when the images have
       one channel and `channels` is 3);
    2. resizes up (bilinear) every side smaller than `min_side` to
       `min_side` (each side on its own: 28x40 images with `min_side=32`
       become 32x40), when `min_side` is given;
    3. scales the values according to `mode`:
       - `"tf"`: to `[-1, 1]` (`2x - 1`; ResNetV2, MobileNetV2, Xception,
         Inception);
       - `"torch"`: `(x - mean) / std` with the ImageNet mean and standard
         deviation of `[0, 1]` images (DenseNet);
       - `"caffe"`: RGB to BGR, then `255x` minus the ImageNet BGR mean
         `(103.939, 116.779, 123.68)` (ResNet v1, VGG);
       - `"0_255"`: `255x`, for models that carry their own preprocessing
         layers (MobileNetV3, EfficientNet(V2), ConvNeXt in Keras
         Applications) or a keras-hub `ImageConverter`;
       - `"unit"`: unchanged.

    The maths are Keras ops on static shapes, so the layer runs on any
    device and inside XLA-compiled steps. The output has the layer's compute
    dtype (the arithmetic itself is float32).

    Args:
        mode: one of `"tf"`, `"torch"`, `"caffe"`, `"0_255"`, `"unit"`.
        channels: channels of the output, 1 or 3 (`"torch"` and `"caffe"`
            need 3). Inputs must have 1 channel or `channels`.
        min_side: optional minimum height and width of the output, in
            pixels; the input's height and width must then be known.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`).

    Call arguments:
        images: float `(batch, height, width, channels_in)` in `[0, 1]`.
        training: unused; defaults to `False` so that the layers after this
            one in a model called without `training` run in inference mode.

    Returns:
        `(batch, max(height, min_side), max(width, min_side), channels)`.

    Example:

    >>> scaling = ImageInputScaling("tf", channels=3, min_side=32)
    >>> out = scaling(keras.ops.ones((2, 28, 28, 1)))
    >>> tuple(out.shape), float(keras.ops.min(out))
    ((2, 32, 32, 3), 1.0)
    """

    def __init__(self, mode, channels=3, min_side=None, **kwargs):
        super().__init__(**kwargs)
        check_scaling_mode(mode)
        if isinstance(channels, bool) or channels not in (1, 3):
            raise ValueError(
                "Argument `channels` must be 1 (greyscale) or 3 (RGB). "
                f"Received: channels={channels!r}"
            )
        if mode in ("torch", "caffe") and channels != 3:
            raise ValueError(
                f"Scaling mode {mode!r} normalizes the three RGB channels, so "
                f"it needs channels=3. Received: mode={mode!r}, "
                f"channels={channels!r}"
            )
        if min_side is not None and (
            isinstance(min_side, bool) or not isinstance(min_side, int) or min_side < 1
        ):
            raise ValueError(
                "Argument `min_side` must be a positive int (pixels) or None. "
                f"Received: min_side={min_side!r}"
            )
        self.mode = mode
        self.channels = int(channels)
        self.min_side = None if min_side is None else int(min_side)

    def _check_input_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 4:
            raise ValueError(
                "ImageInputScaling expects images of shape (batch, height, "
                f"width, channels). Received: images.shape={input_shape}"
            )
        channels_in = input_shape[-1]
        if channels_in not in (1, self.channels):
            raise ValueError(
                f"ImageInputScaling({self.mode!r}, channels={self.channels}) "
                f"takes images with 1 or {self.channels} channels. Received: "
                f"images.shape={input_shape}. Convert the images to greyscale "
                "or RGB first."
            )
        if self.min_side is not None and None in input_shape[1:3]:
            raise ValueError(
                "ImageInputScaling with `min_side` needs images of a known "
                f"height and width. Received: images.shape={input_shape}, "
                f"min_side={self.min_side}"
            )
        return input_shape

    def build(self, input_shape):
        self._check_input_shape(input_shape)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        batch, *image_shape = self._check_input_shape(input_shape)
        return (batch, *scaled_image_shape(image_shape, self.channels, self.min_side))

    def call(self, images, training=False):
        # `training` is unused, but its default matters: Keras hands a
        # layer's non-None default on to the layers called after it in the
        # same outer call. A model called with `training=None` thus runs in
        # inference mode even if a later layer defaults to `training=True`
        # (a keras-hub `ImageConverter` holds a Keras `Resizing` layer that
        # does, which would put the backbone's batch normalization in
        # training mode).
        del training
        shape = self._check_input_shape(images.shape)
        x = ops.cast(images, "float32")
        if shape[-1] != self.channels:
            x = ops.repeat(x, self.channels, axis=-1)
        height, width, _ = scaled_image_shape(shape[1:], self.channels, self.min_side)
        if (height, width) != tuple(shape[1:3]):
            x = ops.image.resize(x, (height, width), interpolation="bilinear")
        if self.mode == "tf":
            x = x * 2.0 - 1.0
        elif self.mode == "torch":
            mean = ops.convert_to_tensor(_IMAGENET_MEAN, "float32")
            std = ops.convert_to_tensor(_IMAGENET_STD, "float32")
            x = (x - mean) / std
        elif self.mode == "caffe":
            mean = ops.convert_to_tensor(_CAFFE_BGR_MEAN, "float32")
            x = ops.flip(x, axis=-1) * 255.0 - mean
        elif self.mode == "0_255":
            x = x * 255.0
        return ops.cast(x, self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"mode": self.mode, "channels": self.channels, "min_side": self.min_side}
        )
        return config
