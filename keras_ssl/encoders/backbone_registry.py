"""Named image encoders, and loading one from a `.keras` file or a preset."""

import dataclasses
import functools
import json
import os

import keras
import keras_hub

from keras_ssl.checks import check_name, check_positive_int
from keras_ssl.compat import safe_mode_scope
from keras_ssl.encoders.conv_encoder import conv_encoder
from keras_ssl.encoders.image_backbone import (
    check_encoder_input_shape,
    image_encoder_from_backbone,
    is_image_encoder,
    is_keras_application_classifier,
    keras_application_scaling,
)
from keras_ssl.layers.image_input_scaling import scaled_image_shape


@dataclasses.dataclass(frozen=True)
class ImageBackboneSpec:
    """A named image encoder of `IMAGE_BACKBONES`.

    Attributes:
        builder: function `(input_shape, weights) -> keras.Model`; for a
            backbone, `input_shape` is the (resized, RGB) shape it takes.
        preprocessing: the `ImageInputScaling` mode of the family (`"unit"`
            for keras_ssl's own encoder, which takes `[0, 1]` images).
        min_side: the smallest height and width the backbone accepts; smaller
            images are resized up to it (`None`: any size).
        family: where the architecture comes from (`"keras_ssl"`,
            `"keras.applications"`).
        description: one line for listings.
    """

    builder: object
    preprocessing: str
    min_side: int | None
    family: str
    description: str

    @property
    def is_backbone(self):
        """Whether the builder makes a backbone to wrap (not an encoder)."""
        return self.family != "keras_ssl"


def _keras_application(constructor):
    def build(input_shape, weights):
        return getattr(keras.applications, constructor)(
            include_top=False, weights=weights, input_shape=tuple(input_shape)
        )

    return build


def _conv(input_shape, weights, **kwargs):
    encoder = conv_encoder(tuple(input_shape), **{"widths": (32, 64, 128), **kwargs})
    if weights is not None:
        encoder.load_weights(weights)
    return encoder


#: Image encoders a run can ask for by name (`pretrain(encoder=name)`,
#: `--encoder name`): keras_ssl's own `conv_encoder` and Keras Applications
#: backbones (`include_top=False`), randomly initialised or from a local
#: weights file. Greyscale images are repeated to RGB and images smaller
#: than `min_side` resized up, so ImageNet weights apply to Fashion-MNIST.
IMAGE_BACKBONES = {
    "conv": ImageBackboneSpec(
        _conv,
        "unit",
        None,
        "keras_ssl",
        "keras_ssl.encoders.conv_encoder, widths (32, 64, 128)",
    ),
    "resnet50v2": ImageBackboneSpec(
        _keras_application("ResNet50V2"),
        "tf",
        32,
        "keras.applications",
        "ResNet50 v2 (pre-activation), 2048-d",
    ),
    "resnet50": ImageBackboneSpec(
        _keras_application("ResNet50"),
        "caffe",
        32,
        "keras.applications",
        "ResNet50 v1, 2048-d",
    ),
    "mobilenetv3small": ImageBackboneSpec(
        _keras_application("MobileNetV3Small"),
        "0_255",
        32,
        "keras.applications",
        "MobileNetV3 small, 576-d",
    ),
    "efficientnetv2b0": ImageBackboneSpec(
        _keras_application("EfficientNetV2B0"),
        "0_255",
        32,
        "keras.applications",
        "EfficientNetV2 B0, 1280-d",
    ),
    "convnexttiny": ImageBackboneSpec(
        _keras_application("ConvNeXtTiny"),
        "0_255",
        32,
        "keras.applications",
        "ConvNeXt tiny, 768-d",
    ),
}


def _check_weights(weights):
    if weights is None or weights == "imagenet":
        return weights
    if not isinstance(weights, str | os.PathLike) or not os.fspath(weights):
        raise ValueError(
            "Argument `weights` must be None (random initialisation), "
            "'imagenet' (downloaded by Keras) or the path of a local weights "
            f"file. Received: weights={weights!r}"
        )
    weights = os.fspath(weights)
    if not os.path.isfile(weights):
        raise FileNotFoundError(
            f"Argument `weights` names no file. Received: weights={weights!r}. "
            "Expected a weights file of the backbone without its top "
            "(e.g. a Keras Applications '..._notop.h5' or a '.weights.h5')."
        )
    return weights


_CONV_KWARGS = (
    "widths",
    "blocks_per_stage",
    "embedding_dim",
    "synchronized_batch_norm",
)


def _check_kwargs(name, kwargs, allowed):
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(
            f"Unknown keyword arguments for the {name!r} encoder. Received: "
            f"{unknown}. Expected some of {list(allowed)}."
        )


def build_image_encoder(name, input_shape, weights=None, **kwargs):
    """Builds a named image encoder of `IMAGE_BACKBONES` for `input_shape`.

    `"conv"` is keras_ssl's own `conv_encoder` (keyword arguments `widths`,
    `blocks_per_stage`, `embedding_dim` and `synchronized_batch_norm` go to
    it). The others are Keras Applications backbones built with
    `include_top=False` for RGB images of at least `min_side` pixels a side,
    wrapped by `image_encoder_from_backbone` (keyword arguments `pooling` and
    `min_side` go to it; `min_side` defaults to the entry's, and may only be
    larger): the encoder takes images of `input_shape` in `[0, 1]`,
    greyscale or RGB. The model is named `"<name>_encoder"`.

    Args:
        name: a key of `IMAGE_BACKBONES`.
        input_shape: `(height, width, channels)` of the images, channels 1
            or 3.
        weights: `None` (random initialisation), `"imagenet"` (for a Keras
            Applications backbone; Keras downloads them) or the path of a
            local weights file of the backbone (`include_top=False`) or of
            the `conv` encoder.
        **kwargs: see above.

    Returns:
        A functional `keras.Model` from `(batch, *input_shape)` floats in
        `[0, 1]` to `(batch, dim)`.

    Example:

    >>> encoder = build_image_encoder("mobilenetv3small", (28, 28, 1))
    >>> encoder(keras.random.uniform((2, 28, 28, 1))).shape
    TensorShape([2, 576])
    """
    check_name("encoder", name, IMAGE_BACKBONES)
    input_shape = check_encoder_input_shape(input_shape)
    weights = _check_weights(weights)
    spec = IMAGE_BACKBONES[name]
    if not spec.is_backbone:
        if weights == "imagenet":
            raise ValueError(
                f"The {name!r} encoder has no ImageNet weights. Received: "
                "weights='imagenet'. Expected None or a weights file path."
            )
        _check_kwargs(name, kwargs, _CONV_KWARGS)
        return spec.builder(input_shape, weights, **kwargs)
    _check_kwargs(name, kwargs, ("pooling", "min_side"))
    min_side = kwargs.pop("min_side", None)
    if min_side is None:
        min_side = spec.min_side
    min_side = check_positive_int("min_side", min_side, allow_none=True)
    if spec.min_side is not None and min_side < spec.min_side:
        raise ValueError(
            f"The {name!r} backbone needs images of at least {spec.min_side} "
            f"pixels a side. Received: min_side={min_side!r}"
        )
    backbone_shape = scaled_image_shape(input_shape, 3, min_side)
    backbone = spec.builder(backbone_shape, weights)
    return image_encoder_from_backbone(
        backbone,
        input_shape,
        preprocessing=spec.preprocessing,
        min_side=min_side,
        name=f"{name}_encoder",
        **kwargs,
    )


@functools.cache
def _parameter_count(name, input_shape):
    encoder = build_image_encoder(name, input_shape)
    return int(encoder.count_params())


def describe_image_backbones(input_shape=(224, 224, 3), count_parameters=True):
    """One dict per entry of `IMAGE_BACKBONES`, for listings.

    Parameters are counted by building each encoder with random weights,
    which takes seconds for the large ones; counts are cached per name and
    input shape for the life of the process, and `count_parameters=False`
    skips them (`"parameters": None`).

    Args:
        input_shape: the `(height, width, channels)` the encoders are built
            for (the count of these fully convolutional backbones does not
            depend on it, except for the channels of `conv`).
        count_parameters: whether to build the encoders to count parameters.

    Returns:
        A list of `{"name", "family", "parameters", "description"}` dicts,
        in the order of `IMAGE_BACKBONES`.

    Example:

    >>> [row["name"] for row in describe_image_backbones(count_parameters=False)]
    ['conv', 'resnet50v2', 'resnet50', 'mobilenetv3small', 'efficientnetv2b0', 'convnexttiny']
    """  # noqa: E501
    input_shape = check_encoder_input_shape(input_shape)
    rows = []
    for name, spec in IMAGE_BACKBONES.items():
        rows.append(
            {
                "name": name,
                "family": spec.family,
                "parameters": (
                    _parameter_count(name, input_shape) if count_parameters else None
                ),
                "description": spec.description,
            }
        )
    return rows


def _is_hub_preset(path):
    return os.path.isfile(os.path.join(path, "config.json")) and os.path.isfile(
        os.path.join(path, "metadata.json")
    )


def _load_hub_preset(path, input_shape):
    try:
        with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
            config = json.load(f)
    except (OSError, ValueError) as error:
        raise ValueError(
            f"The keras-hub preset {path!r} has an unreadable config.json "
            f"({error}). Received: path={path!r}"
        ) from None
    with safe_mode_scope(True):
        backbone = keras_hub.models.Backbone.from_preset(path)
        converter = None
        if os.path.isfile(os.path.join(path, "image_converter.json")):
            converter = keras_hub.layers.ImageConverter.from_preset(path)
    inputs = getattr(backbone, "inputs", None) or []
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        raise ValueError(
            f"The keras-hub preset {path!r} holds a "
            f"{config.get('class_name', type(backbone).__name__)}, which does "
            "not take images. Expected an image backbone preset (ResNet, ViT, "
            "...). Received: path={path!r}"
        )
    return image_encoder_from_backbone(backbone, input_shape, image_converter=converter)


def _check_encoder_shape(encoder, input_shape, path):
    in_shape = tuple(getattr(encoder, "input_shape", ()) or ())
    out_shape = tuple(getattr(encoder, "output_shape", ()) or ())
    if len(in_shape) != 4 or len(out_shape) != 2:
        raise ValueError(
            f"The model in {path!r} is no image encoder: it maps {in_shape} to "
            f"{out_shape}. Expected images (batch, height, width, channels) to "
            "(batch, dim)."
        )
    if any(d not in (None, e) for d, e in zip(in_shape[1:], input_shape)):
        raise ValueError(
            f"The encoder in {path!r} takes images of shape {in_shape[1:]}. "
            f"Received: input_shape={input_shape}. Use data of that shape, or "
            "wrap its backbone again with image_encoder_from_backbone."
        )
    return encoder


def _encoder_of_model(model, input_shape, path):
    """The image encoder held by a model loaded from a `.keras` file."""
    inner = getattr(model, "encoder", None)
    if isinstance(inner, keras.Model):  # a keras_ssl SSLModel
        return _check_encoder_shape(inner, input_shape, path)
    if isinstance(model, keras_hub.models.Task):  # e.g. an ImageClassifier
        preprocessor = getattr(model, "preprocessor", None)
        converter = getattr(preprocessor, "image_converter", None)
        return image_encoder_from_backbone(
            model.backbone, input_shape, image_converter=converter
        )
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"The file {path!r} holds a {type(model).__name__}, not a "
            "keras.Model. Expected an image encoder, a keras_ssl model or a "
            "Keras Applications backbone."
        )
    if is_image_encoder(model):
        return _check_encoder_shape(model, input_shape, path)
    if is_keras_application_classifier(model):
        raise ValueError(
            f"The file {path!r} holds the Keras Applications classifier "
            f"{model.name!r} with its ImageNet top (output shape "
            f"{model.output_shape}). Expected the backbone alone: build it "
            "with include_top=False and save that."
        )
    if keras_application_scaling(model) is not None:
        return image_encoder_from_backbone(model, input_shape)
    # Any other model from images to vectors is taken as an encoder of
    # images in [0, 1] (keras_ssl's own `conv_encoder`, say).
    return _check_encoder_shape(model, input_shape, path)


def load_image_encoder(path, input_shape):
    """Loads an image encoder from a `.keras` file or a keras-hub preset.

    `path` may be:

    - a `.keras` file of an image encoder (returned as is); of a keras_ssl
      model such as a trained `SimCLR` (its `.encoder`); of a Keras
      Applications backbone saved with `include_top=False` (wrapped by
      `image_encoder_from_backbone`, its scaling read from its name); or of a
      keras-hub image task such as an `ImageClassifier` (its backbone and
      image converter). A Keras Applications model saved with its ImageNet
      top (`include_top=True`) is refused: save the backbone alone. Loading
      runs in Keras's safe mode (no Python lambdas).
    - a keras-hub preset folder (`config.json` and `metadata.json`, as
      written by `backbone.save_to_preset(path)`): the backbone, with its
      weights, and the preset's image converter when it has one
      (`image_converter.json`, written by `converter.save_to_preset(path)`
      or with a task's preprocessor).

    Args:
        path: the `.keras` file or the preset folder.
        input_shape: `(height, width, channels)` of the images the encoder
            will see. An encoder loaded as is must take that shape.

    Returns:
        A functional `keras.Model` from `(batch, *input_shape)` floats in
        `[0, 1]` to `(batch, dim)`.

    Example (not run: it needs a saved preset):

    >>> backbone.save_to_preset("/tmp/vit")  # doctest: +SKIP
    >>> converter.save_to_preset("/tmp/vit")  # doctest: +SKIP
    >>> encoder = load_image_encoder("/tmp/vit", (32, 32, 3))  # doctest: +SKIP
    """
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise ValueError(
            "Argument `path` must be the path of a `.keras` file or of a "
            f"keras-hub preset folder. Received: path={path!r}"
        )
    path = os.fspath(path)
    input_shape = check_encoder_input_shape(input_shape)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"Argument `path` names no file or folder. Received: path={path!r}. "
            "Expected a `.keras` file or a keras-hub preset folder."
        )
    if os.path.isdir(path):
        if _is_hub_preset(path):
            return _load_hub_preset(path, input_shape)
        hint = ""
        if os.path.isfile(os.path.join(path, "saved_model.pb")):
            hint = (
                " It is a SavedModel export, which serves but does not train; "
                "load the `.keras` file it was exported from."
            )
        raise ValueError(
            f"The folder {path!r} is no keras-hub preset (it needs config.json "
            f"and metadata.json).{hint} Received: path={path!r}"
        )
    if not path.endswith(".keras"):
        raise ValueError(
            "Argument `path` must be a `.keras` file or a keras-hub preset "
            f"folder. Received: path={path!r}. (For a weights file, use "
            "build_image_encoder(name, input_shape, weights=path).)"
        )
    with safe_mode_scope(True):
        model = keras.saving.load_model(path, safe_mode=True)
    return _encoder_of_model(model, input_shape, path)
