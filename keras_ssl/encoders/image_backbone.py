"""Image encoders around a pretrained backbone (Keras Applications, keras-hub)."""

import re

import keras
import keras_hub

from keras_ssl.layers.image_input_scaling import (
    ImageInputScaling,
    check_scaling_mode,
    scaled_image_shape,
)

#: `pooling` values of `image_encoder_from_backbone`.
POOLINGS = ("avg", "max")

# Keras Applications model names (their `name=` default) and the scaling
# each family was trained with. Families that may carry their own
# preprocessing layers (`include_preprocessing=True`, the default) take
# `[0, 255]` images when they do, else the scaling in the last column.
_KERAS_APPLICATIONS = (
    # (pattern of the model name, scaling, scaling without built-in layers)
    (r"resnet(50|101|152)v2", "tf", None),
    (r"resnet(50|101|152)", "caffe", None),
    (r"vgg(16|19)", "caffe", None),
    (r"mobilenetv3(small|large)", "0_255", "tf"),
    (r"efficientnetv2-(b[0-3]|s|m|l)", "0_255", "tf"),
    (r"efficientnetb[0-7]", "0_255", None),
    (r"convnext_(tiny|small|base|large|xlarge)", "0_255", "torch"),
    (r"mobilenetv2_[0-9.]+_[0-9]+", "tf", None),
    (r"mobilenet_[0-9.]+_[0-9]+", "tf", None),
    (r"densenet(121|169|201)", "torch", None),
    (r"xception", "tf", None),
    (r"inception_v3", "tf", None),
    (r"inception_resnet_v2", "tf", None),
    (r"nasnet_(mobile|large)", "tf", None),
)


def _has_builtin_preprocessing(backbone):
    """Whether `backbone` starts with Keras's `Rescaling` / `Normalization`
    layers (Keras Applications built with `include_preprocessing=True`)."""
    kinds = (keras.layers.Rescaling, keras.layers.Normalization)
    return any(isinstance(layer, kinds) for layer in backbone.layers[:4])


def keras_application_scaling(backbone):
    """The `ImageInputScaling` mode of a Keras Applications model, by name.

    Returns `None` when `backbone.name` is no Keras Applications default
    name (a renamed model, a custom one).
    """
    name = str(getattr(backbone, "name", "")).lower()
    for pattern, scaling, without_layers in _KERAS_APPLICATIONS:
        if re.fullmatch(pattern + r"(_\d+)?", name):
            if without_layers is not None and not _has_builtin_preprocessing(backbone):
                return without_layers
            return scaling
    return None


def is_image_encoder(model):
    """Whether `model` is already a keras_ssl image encoder around a backbone
    (it holds an `ImageInputScaling` or a keras-hub `ImageConverter`)."""
    kinds = (ImageInputScaling, keras_hub.layers.ImageConverter)
    return any(isinstance(layer, kinds) for layer in getattr(model, "layers", []))


def is_keras_application_classifier(model):
    """Whether `model` is a Keras Applications model built with
    `include_top=True` (it ends in its ImageNet classifier)."""
    if keras_application_scaling(model) is None:
        return False
    layers = getattr(model, "layers", None) or []
    if not layers:
        return False
    last = layers[-1]
    return isinstance(last, keras.layers.Dense) or last.name == "predictions"


def check_encoder_input_shape(input_shape):
    """`input_shape` as a tuple `(height, width, channels)` of positive ints
    with 1 or 3 channels, else a `ValueError`."""
    try:
        shape = tuple(input_shape)
    except TypeError:
        shape = None
    if (
        shape is None
        or len(shape) != 3
        or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape)
        or not all(d > 0 for d in shape)
    ):
        raise ValueError(
            "Argument `input_shape` must be (height, width, channels) with "
            f"positive ints. Received: input_shape={input_shape!r}"
        )
    if shape[-1] not in (1, 3):
        raise ValueError(
            "Argument `input_shape` must have 1 (greyscale) or 3 (RGB) "
            f"channels. Received: input_shape={shape}"
        )
    return shape


def _check_backbone(backbone):
    """Returns `(image_shape, output_rank)` of a one-input image backbone."""
    if not isinstance(backbone, keras.Model):
        raise ValueError(
            "Argument `backbone` must be a keras.Model taking images, e.g. "
            "`keras.applications.ResNet50V2(include_top=False, weights=None, "
            "input_shape=(32, 32, 3))` or a keras-hub image Backbone. "
            f"Received: backbone={backbone!r} of type {type(backbone).__name__}"
        )
    inputs = getattr(backbone, "inputs", None) or []
    in_shape = tuple(inputs[0].shape) if len(inputs) == 1 else None
    if in_shape is None or len(in_shape) != 4:
        shapes = [tuple(x.shape) for x in inputs]
        raise ValueError(
            "Argument `backbone` must be a functional keras.Model with one "
            "input of images (batch, height, width, channels). Received: "
            f"backbone {backbone.name!r} ({type(backbone).__name__}) with "
            f"input shapes {shapes}. Build it with an input shape (a "
            "subclassed model has none) or pass an image backbone."
        )
    # keras-hub backbones keep their `data_format`; Keras Applications
    # follow `keras.config.image_data_format()`, as the input shape shows.
    if getattr(backbone, "data_format", None) == "channels_first":
        raise ValueError(
            "Argument `backbone` must take channels-last images. Received: "
            f"backbone {backbone.name!r} with data_format='channels_first'. "
            "Build it with data_format='channels_last'."
        )
    outputs = getattr(backbone, "outputs", None) or []
    rank = len(outputs[0].shape) if len(outputs) == 1 else None
    if rank not in (2, 3, 4):
        shapes = [tuple(x.shape) for x in outputs]
        raise ValueError(
            "Argument `backbone` must have one output: feature maps (batch, "
            "height, width, channels), tokens (batch, tokens, dim) or "
            f"vectors (batch, dim). Received: backbone {backbone.name!r} with "
            f"output shapes {shapes}."
        )
    return in_shape[1:], rank


def _channels(input_shape, backbone_shape, backbone):
    """The channel count the backbone takes (1 or 3)."""
    wanted = backbone_shape[-1] if backbone_shape[-1] is not None else 3
    if wanted not in (1, 3):
        raise ValueError(
            "Argument `backbone` must take images with 1 or 3 channels. "
            f"Received: backbone {backbone.name!r} with input shape "
            f"{tuple(backbone_shape)}. Build the backbone for RGB images "
            "(channels=3)."
        )
    if input_shape[-1] == 3 and wanted == 1:
        raise ValueError(
            f"The backbone {backbone.name!r} takes greyscale images (1 "
            f"channel) but the images have 3. Received: input_shape="
            f"{input_shape}, backbone input shape {tuple(backbone_shape)}. "
            "Build the backbone with 3 channels (greyscale images are "
            "repeated to RGB automatically)."
        )
    return wanted


def _resolve_preprocessing(preprocessing, backbone, image_converter):
    if image_converter is not None:
        if not isinstance(image_converter, keras_hub.layers.ImageConverter):
            raise ValueError(
                "Argument `image_converter` must be a keras_hub.layers."
                "ImageConverter (e.g. `keras_hub.layers.ImageConverter."
                "from_preset(path)`) or None. Received: image_converter of "
                f"type {type(image_converter).__name__}"
            )
        if preprocessing != "auto":
            raise ValueError(
                "Arguments `preprocessing` and `image_converter` exclude each "
                "other: the converter already scales the images. Received: "
                f"preprocessing={preprocessing!r} with an image_converter. "
                "Expected preprocessing='auto'."
            )
        # The converter takes raw [0, 255] pixels, as in keras-hub.
        return "0_255"
    if preprocessing == "auto":
        scaling = keras_application_scaling(backbone)
        if scaling is None:
            kind = (
                "a keras-hub backbone without its image converter"
                if isinstance(backbone, keras_hub.models.Backbone)
                else "a backbone that is no Keras Applications model"
            )
            raise ValueError(
                "Argument `preprocessing='auto'` only knows Keras Applications "
                "models by their default names and keras-hub backbones with "
                f"their `image_converter`. Received: {kind} "
                f"({type(backbone).__name__} {backbone.name!r}). Pass "
                "`image_converter=keras_hub.layers.ImageConverter.from_preset("
                "...)` or `preprocessing=` one of 'tf' ([-1, 1]), 'torch' "
                "(ImageNet mean/std), 'caffe' (BGR minus the ImageNet mean), "
                "'0_255' or 'unit' ([0, 1]), as the backbone was trained."
            )
        return scaling
    return check_scaling_mode(preprocessing, "preprocessing")


def _resolve_min_side(min_side, input_shape, backbone_shape, converter_size, backbone):
    """The `min_side` that brings `input_shape` to the backbone's fixed size."""
    if min_side is not None:
        if isinstance(min_side, bool) or not isinstance(min_side, int) or min_side < 1:
            raise ValueError(
                "Argument `min_side` must be a positive int (pixels) or None. "
                f"Received: min_side={min_side!r}"
            )
    fixed = tuple(backbone_shape[:2])
    if converter_size is not None or None in fixed:
        return min_side
    if min_side is None and fixed != tuple(input_shape[:2]):
        candidate = max(fixed)
        if scaled_image_shape(input_shape, 3, candidate)[:2] == fixed:
            min_side = candidate
    size = scaled_image_shape(input_shape, 3, min_side)[:2]
    if size != fixed:
        raise ValueError(
            f"The backbone {backbone.name!r} takes images of size "
            f"{fixed[0]}x{fixed[1]}, but images of input_shape={input_shape} "
            f"become {size[0]}x{size[1]} (min_side={min_side}). Build the "
            "backbone for that size, or with height and width None."
        )
    return min_side


def _has_class_token(backbone):
    try:
        config = backbone.get_config()
    except (NotImplementedError, AttributeError, TypeError):
        return False
    return bool(config.get("use_class_token", False))


@keras.saving.register_keras_serializable(package="keras_ssl")
class ClassTokenPooling(keras.layers.Layer):
    """Takes the first (class) token of a `(batch, tokens, dim)` sequence.

    Example:

    >>> ClassTokenPooling()(keras.ops.ones((2, 5, 3))).shape
    TensorShape([2, 3])
    """

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def call(self, tokens):
        return tokens[:, 0, :]


def _pool(features, rank, pooling, backbone):
    if rank == 2:
        return features
    if rank == 4:
        kind = (
            keras.layers.GlobalAveragePooling2D
            if pooling == "avg"
            else keras.layers.GlobalMaxPooling2D
        )
        return kind(name=f"{pooling}_pool")(features)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling1D(name="max_pool")(features)
    if _has_class_token(backbone):
        return ClassTokenPooling(name="class_token")(features)
    return keras.layers.GlobalAveragePooling1D(name="avg_pool")(features)


def image_encoder_from_backbone(
    backbone,
    input_shape,
    preprocessing="auto",
    image_converter=None,
    pooling="avg",
    min_side=None,
    name=None,
):
    """Wraps a pretrained image backbone as a keras_ssl image encoder.

    keras_ssl image encoders map float images in `[0, 1]` to one vector per
    image. The returned functional model does:

    1. `keras_ssl.layers.ImageInputScaling`: repeats greyscale to the
       backbone's channels, resizes up to `min_side` and scales the values as
       the backbone family expects (`preprocessing`); with a keras-hub
       `image_converter`, scales to `[0, 255]` and then applies the
       converter itself (its resizing and normalization);
    2. the backbone;
    3. pooling: feature maps `(batch, h, w, c)` go through global average
       (`"avg"`) or max (`"max"`) pooling; token sequences `(batch, tokens,
       dim)` give their class token when the backbone has one (a keras-hub
       `ViTBackbone` with `use_class_token=True`) for `"avg"`, else their
       mean, and their max for `"max"`; vectors `(batch, dim)` (a Keras
       Applications model built with `pooling="avg"`) are kept.

    The backbone, and the converter when given, are direct layers of the
    returned model (`encoder.layers`), so their configs and weights travel
    with it in a `.keras` file, and they can be found again with
    `isinstance` (to save a keras-hub preset, say). The backbone stays
    trainable.

    `preprocessing="auto"` reads the family of a Keras Applications model
    from its (default) name: `"tf"` for ResNetV2, MobileNet(V2), Xception,
    Inception and NASNet; `"caffe"` for ResNet (v1) and VGG; `"torch"` for
    DenseNet; `"0_255"` for MobileNetV3, EfficientNet(V2) and ConvNeXt when
    built with their own preprocessing layers (the default). Anything else
    needs `preprocessing=` or `image_converter=`.

    Args:
        backbone: functional `keras.Model` from images `(batch, height,
            width, channels)`: a Keras Applications model built with
            `include_top=False`, or a `keras_hub.models.Backbone`.
        input_shape: `(height, width, channels)` of the images fed to the
            encoder, channels 1 or 3.
        preprocessing: `"auto"` or one of the `ImageInputScaling` modes
            (`"tf"`, `"torch"`, `"caffe"`, `"0_255"`, `"unit"`). Must be
            `"auto"` with an `image_converter`.
        image_converter: optional `keras_hub.layers.ImageConverter` of a
            keras-hub backbone (e.g. `ResNetImageConverter.from_preset(...)`).
        pooling: `"avg"` or `"max"` (see above).
        min_side: optional minimum height and width, in pixels, the images
            are resized up to before the backbone. Defaults to what a backbone
            with a fixed input size needs (a backbone built for 32x32 gets
            28x28 images resized to 32x32).
        name: model name; defaults to `"<backbone name>_encoder"`.

    Returns:
        A functional `keras.Model` from `(batch, *input_shape)` floats in
        `[0, 1]` to `(batch, dim)`.

    Example:

    >>> backbone = keras.applications.MobileNetV3Small(
    ...     include_top=False, weights=None, input_shape=(32, 32, 3))
    >>> encoder = image_encoder_from_backbone(backbone, (28, 28, 1))
    >>> encoder(keras.random.uniform((2, 28, 28, 1))).shape
    TensorShape([2, 576])
    """
    input_shape = check_encoder_input_shape(input_shape)
    backbone_shape, rank = _check_backbone(backbone)
    if pooling not in POOLINGS:
        raise ValueError(
            f"Argument `pooling` must be one of {list(POOLINGS)}. Received: "
            f"pooling={pooling!r}"
        )
    if name is not None and (not isinstance(name, str) or not name):
        raise ValueError(
            f"Argument `name` must be a non-empty str or None. Received: name={name!r}"
        )
    channels = _channels(input_shape, backbone_shape, backbone)
    mode = _resolve_preprocessing(preprocessing, backbone, image_converter)
    converter_size = None
    if image_converter is not None:
        converter_size = image_converter.image_size
    min_side = _resolve_min_side(
        min_side, input_shape, backbone_shape, converter_size, backbone
    )

    inputs = keras.Input(shape=input_shape, name="images")
    x = ImageInputScaling(mode, channels=channels, min_side=min_side)(inputs)
    if image_converter is not None:
        x = image_converter(x)
        size, wanted = tuple(x.shape[1:3]), tuple(backbone_shape[:2])
        if None not in wanted and size != wanted:
            raise ValueError(
                f"The image converter outputs images of size {size}, but the "
                f"backbone {backbone.name!r} takes {wanted}. Received: "
                f"image_converter.image_size={converter_size}. Pass the "
                "converter saved with the backbone."
            )
    features = backbone(x)
    outputs = _pool(features, rank, pooling, backbone)
    return keras.Model(inputs, outputs, name=name or f"{backbone.name}_encoder")


def encoder_parts(encoder):
    """`(backbone, image_converter)` of an encoder made by
    `image_encoder_from_backbone` (`image_converter` may be `None`).

    The backbone is the encoder's one nested `keras.Model` layer; returns
    `(None, None)` when there is none (e.g. `conv_encoder`).
    """
    layers = getattr(encoder, "layers", [])
    models = [layer for layer in layers if isinstance(layer, keras.Model)]
    converters = [
        layer for layer in layers if isinstance(layer, keras_hub.layers.ImageConverter)
    ]
    backbone = models[0] if len(models) == 1 else None
    converter = converters[0] if len(converters) == 1 else None
    return backbone, converter
