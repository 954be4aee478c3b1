"""Encoders out as keras-hub presets: backbone, tokenizer, image converter."""

import os
import shutil

import keras
import keras_hub

from keras_ssl.atomic_io import temporary_path
from keras_ssl.encoders.text_backbone import backbone_vocabulary_size, find_backbone
from keras_ssl.tokenizers.preset_text_preprocessor import (
    PresetTextPreprocessor,
    build_tokenizer,
    keras_hub_class,
    tokenizer_config,
)
from keras_ssl.tokenizers.text_preprocessor import TextPreprocessor


def _tokenizer_classes(kind):
    """Every keras-hub tokenizer class deriving from `kind`, registered first."""
    found, stack = [], [kind]
    while stack:
        cls = stack.pop(0)
        if cls not in found:
            found.append(cls)
            stack.extend(cls.__subclasses__())
    return [c for c in found if c.__module__.startswith("keras_hub.")]


def _tokenizer_for(backbone, kind):
    """The keras-hub tokenizer class of `kind` made for `backbone`'s class."""
    for cls in _tokenizer_classes(kind):
        if getattr(cls, "backbone_cls", None) is type(backbone):
            return cls
    return None


def _tokenizer_spec(preprocessor, backbone):
    """The `{"class_name", "config"}` of the tokenizer to save with `backbone`.

    A `PresetTextPreprocessor` gives its own tokenizer; a keras_ssl
    `TextPreprocessor` a WordPiece tokenizer on its vocabulary (same special
    tokens, same lowercasing). The class is the one keras-hub pairs with the
    backbone's class when there is one (e.g. `ElectraTokenizer` for an
    `ElectraBackbone`), so `ElectraTokenizer.from_preset(path)` works too.
    """
    if isinstance(preprocessor, PresetTextPreprocessor):
        spec = tokenizer_config(preprocessor.tokenizer)
        own = keras_hub_class(preprocessor.tokenizer)
        kind = (
            keras_hub.tokenizers.BytePairTokenizer
            if issubclass(own, keras_hub.tokenizers.BytePairTokenizer)
            else keras_hub.tokenizers.WordPieceTokenizer
        )
        if getattr(own, "backbone_cls", None) in (None, type(backbone)):
            return spec
    else:
        kind = keras_hub.tokenizers.WordPieceTokenizer
        lowercase = bool(preprocessor.lowercase)
        spec = {
            "class_name": "keras_hub>BertTokenizer",
            "config": {
                "vocabulary": list(preprocessor.vocabulary),
                "lowercase": lowercase,
                "strip_accents": lowercase,
            },
        }
    target = _tokenizer_for(backbone, kind)
    if target is not None:
        spec["class_name"] = keras.saving.get_registered_name(target)
    return spec


def _check_target(path):
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise ValueError(
            "Argument `path` must be the path (str or os.PathLike) of a new or "
            f"empty folder. Received: path={path!r}"
        )
    path = os.fspath(path)
    if os.path.lexists(path):
        if not os.path.isdir(path):
            raise ValueError(
                "Argument `path` must be the path of a new or empty folder. "
                f"Received: path={path!r}, which is an existing file"
            )
        if os.listdir(path):
            raise FileExistsError(
                f"Preset folder {path!r} is not empty; save_to_preset never "
                f"overwrites files. Received: path={path!r}. Expected a new "
                "or empty folder."
            )
    return path


def _image_converter(encoder):
    for layer in getattr(encoder, "layers", ()):
        if isinstance(layer, keras_hub.layers.ImageConverter):
            return layer
    return None


def save_to_preset(encoder, path, preprocessor=None):
    """Saves an encoder built on a keras-hub backbone as a keras-hub preset.

    The preset is a folder that plain keras-hub loads, in a process without
    keras_ssl: `keras_hub.models.Backbone.from_preset(path)` (the trained
    weights), `keras_hub.models.Tokenizer.from_preset(path)` for text and
    `keras_hub.layers.ImageConverter.from_preset(path)` for images with a
    converter, and so every keras-hub task (`BertTextClassifier
    .from_preset(path)`, `ImageClassifier.from_preset(path)`, ...).
    `load_text_preset(path)` reads it back into keras_ssl.

    Only encoders with a `keras_hub.models.Backbone` among their layers can
    be saved this way: text encoders from `text_encoder_from_backbone` /
    `load_text_preset`, and image encoders from `image_encoder_from_backbone`
    on a keras-hub backbone (which keep the backbone, and an optional
    `keras_hub.layers.ImageConverter`, as direct layers). keras_ssl's own
    `conv_encoder` and `transformer_encoder`, and encoders on Keras
    Applications models, have no keras-hub counterpart: save those as
    `.keras` files or export them as SavedModels.

    The tokenizer of a text preset comes from `preprocessor`: a
    `PresetTextPreprocessor`'s keras-hub tokenizer, or for a keras_ssl
    `TextPreprocessor` a WordPiece tokenizer on its vocabulary (`BertTokenizer`,
    or the class keras-hub pairs with the backbone, e.g. `ElectraTokenizer`),
    with the same special tokens.

    The preset is written into a temporary folder next to `path`, which is
    renamed to `path` at the end: a failure leaves no half-written preset.

    Args:
        encoder: the encoder (a `keras.Model` with a keras-hub backbone among
            its layers), or a keras_ssl model with `.encoder` (and
            `.preprocessor`, used when `preprocessor` is not given).
        path: a new or empty folder.
        preprocessor: the text encoder's `PresetTextPreprocessor` or
            `TextPreprocessor` (required for text unless `encoder` is a
            model that carries one); `None` for images.

    Returns:
        `path`, as a `str`.

    Raises:
        ValueError: no keras-hub backbone in `encoder`, a text encoder
            without a preprocessor, a preprocessor of another vocabulary
            size, or a bad `path`.
        FileExistsError: `path` is a non-empty folder.

    Example:

    ```python
    encoder, preprocessor = load_text_preset("bert_tiny_en_uncased/")
    model = MaskedLanguageModel(encoder, preprocessor)
    model.fit(texts, epochs=1)
    save_to_preset(model, "bert_tiny_continued/")
    keras_hub.models.BertTextClassifier.from_preset(
        "bert_tiny_continued/", num_classes=2)
    ```
    """
    inner = getattr(encoder, "encoder", None)
    if isinstance(inner, keras.Model) and find_backbone(encoder) is None:
        if preprocessor is None:
            preprocessor = getattr(encoder, "preprocessor", None)
        encoder = inner
    if not isinstance(encoder, keras.Model):
        raise ValueError(
            "Argument `encoder` must be a keras.Model with a keras-hub "
            "backbone among its layers (or a keras_ssl model with such an "
            f"`.encoder`). Received: encoder of type {type(encoder).__name__}"
        )
    backbone = find_backbone(encoder)
    if backbone is None:
        raise ValueError(
            "Only encoders built on a keras-hub backbone can be saved as "
            "keras-hub presets: text encoders from text_encoder_from_backbone "
            "/ load_text_preset and image encoders from "
            "image_encoder_from_backbone on a keras-hub backbone. Received: "
            f"encoder {encoder.name!r} with no keras_hub.models.Backbone among "
            "its layers (keras_ssl's own conv_encoder and transformer_encoder, "
            "and Keras Applications models, have none). Save it as a `.keras` "
            "file (model.save) or export it as a SavedModel (keras_ssl.export) "
            "instead."
        )
    inputs = getattr(backbone, "input", None)
    is_text = isinstance(inputs, dict) and "token_ids" in inputs
    spec = None
    if is_text:
        if not isinstance(preprocessor, TextPreprocessor):
            raise ValueError(
                "Argument `preprocessor` must be the text encoder's "
                "PresetTextPreprocessor or TextPreprocessor: a text preset "
                "needs its tokenizer. Received: preprocessor of type "
                f"{type(preprocessor).__name__}"
            )
        size = backbone_vocabulary_size(backbone)
        if size is not None and size != preprocessor.vocabulary_size:
            raise ValueError(
                "Argument `preprocessor` must have the backbone's vocabulary. "
                f"Received: preprocessor.vocabulary_size="
                f"{preprocessor.vocabulary_size} for a {type(backbone).__name__} "
                f"with vocabulary_size={size}"
            )
        spec = _tokenizer_spec(preprocessor, backbone)
        build_tokenizer(spec, inline=False)  # fails here, before any file
    elif preprocessor is not None:
        raise ValueError(
            "Argument `preprocessor` is for text encoders; the image "
            "encoder's converter is saved from its layers. Received: "
            f"preprocessor of type {type(preprocessor).__name__} with a "
            f"{type(backbone).__name__}"
        )
    path = _check_target(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = temporary_path(path)
    try:
        backbone.save_to_preset(tmp)
        if spec is not None:
            build_tokenizer(spec, inline=False).save_to_preset(tmp)
        converter = _image_converter(encoder)
        if converter is not None:
            converter.save_to_preset(tmp)
        _check_target(path)  # nothing appeared there meanwhile
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path
