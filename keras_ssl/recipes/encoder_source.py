"""Where a recipe's encoder comes from: built, named, or loaded from a file.

`pretrain(encoder=...)` / `--encoder` and `pretrain(init_from=...)` /
`--init-from` name the encoder a method trains; the recipes turn that into
an encoder (and, for text, the preprocessor that reads its vocabulary).
"""

import os

import keras

from keras_ssl.compat import safe_mode_scope
from keras_ssl.encoders import (
    IMAGE_BACKBONES,
    TEXT_BACKBONES,
    build_image_encoder,
    build_text_encoder,
    load_image_encoder,
    load_text_preset,
)
from keras_ssl.models import SSLModel

#: The name of keras_ssl's own image encoder (`conv_encoder`) and text
#: encoder (`transformer_encoder` / `transformer_decoder`).
OWN_IMAGE_ENCODER = "conv"
OWN_TEXT_ENCODER = "transformer"


def _is_path(spec):
    return isinstance(spec, os.PathLike) or (
        isinstance(spec, str)
        and (os.sep in spec or spec.endswith(".keras") or os.path.exists(spec))
    )


def resolve_spec(encoder, init_from):
    """The one encoder source of `encoder` and `init_from` (at most one may
    be given; `init_from` must be a path).

    Returns:
        `None` (the method's own encoder), a name, a path (`str`) or a
        `keras.Model`.
    """
    if init_from is not None:
        if encoder is not None:
            raise ValueError(
                "Arguments `encoder` and `init_from` exclude each other: "
                "`init_from` already sets the encoder (and its weights). "
                f"Received: encoder={encoder!r}, init_from={init_from!r}"
            )
        if not _is_path(init_from):
            raise ValueError(
                "Argument `init_from` must be the path of a keras-hub preset "
                "folder, a `.keras` file or a `keras-ssl pretrain` run folder. "
                f"Received: init_from={init_from!r}"
            )
        if not os.path.exists(init_from):
            raise FileNotFoundError(
                f"Argument `init_from` names no file or folder. Received: "
                f"init_from={os.fspath(init_from)!r}"
            )
        return os.fspath(init_from)
    if encoder is None or isinstance(encoder, keras.Model):
        return encoder
    if not isinstance(encoder, str | os.PathLike):
        raise ValueError(
            "Argument `encoder` must be a name, a path or a keras.Model. "
            f"Received: encoder of type {type(encoder).__name__}"
        )
    if _is_path(encoder):
        if not os.path.exists(encoder):
            raise FileNotFoundError(
                "Argument `encoder` names no file or folder. Received: "
                f"encoder={os.fspath(encoder)!r}"
            )
        return os.fspath(encoder)
    return encoder


def describe(spec):
    """A JSON-friendly description of an encoder source (for config.json)."""
    if spec is None or isinstance(spec, str):
        return spec
    return f"<{type(spec).__name__} {spec.name!r}>"


def _run_model_path(path):
    """`path`, or the `model.keras` of a run folder."""
    candidate = os.path.join(path, "model.keras")
    if os.path.isdir(path) and os.path.isfile(candidate):
        return candidate
    return path


def _load_keras_file(path):
    """The model saved at `path` (a `.keras` file), loaded in safe mode."""
    with safe_mode_scope(True):
        return keras.saving.load_model(path, safe_mode=True)


def image_encoder(spec, input_shape, method):
    """The image encoder of `spec` for images of `input_shape`, or `None` for
    the method's own (`spec` `None` or `"conv"`)."""
    if spec is None or spec == OWN_IMAGE_ENCODER:
        return None
    if isinstance(spec, keras.Model):
        shape = tuple(spec.input_shape[1:]) if hasattr(spec, "input_shape") else None
        if shape != tuple(input_shape):
            raise ValueError(
                f"The encoder passed to {method} must take images of the "
                f"data's shape. Received: encoder input shape {shape}, data "
                f"{tuple(input_shape)}. Expected a functional keras.Model "
                "(see keras_ssl.encoders.image_encoder_from_backbone)."
            )
        return spec
    if _is_path(spec):
        return load_image_encoder(_run_model_path(spec), input_shape)
    if spec in TEXT_BACKBONES:
        raise ValueError(
            f"{method} is an image method; {spec!r} is a text encoder. "
            f"Expected one of {list(IMAGE_BACKBONES)}, a "
            "`.keras` file or a keras-hub preset folder."
        )
    return build_image_encoder(spec, input_shape)


def text_encoder(spec, method, vocabulary_of, sequence_length):
    """`(encoder, preprocessor)` of `spec`, or `None` for the method's own
    Transformer (`spec` `None` or `"transformer"`).

    Args:
        spec: a name of `keras_ssl.TEXT_BACKBONES` (a random
            keras-hub backbone on a WordPiece vocabulary learned from the
            data), a keras-hub preset folder, a `.keras` file of a keras_ssl
            text model or a run folder.
        method: the method's name (for errors).
        vocabulary_of: function returning the vocabulary to use (learned
            from the data, or the resumed run's).
        sequence_length: the user's `sequence_length` (`None`: the default
            of the name, or the preset's).
    """
    if spec is None or spec == OWN_TEXT_ENCODER:
        return None
    if isinstance(spec, keras.Model):
        raise ValueError(
            f"A text encoder for {method} needs its tokenizer: pass a "
            "keras-hub preset folder, a `.keras` file of a keras_ssl text "
            f"model or a name of {sorted(TEXT_BACKBONES)}. Received: a "
            f"{type(spec).__name__}"
        )
    if _is_path(spec):
        path = _run_model_path(spec)
        if os.path.isdir(path):
            return load_text_preset(path, sequence_length=sequence_length)
        model = _load_keras_file(path)
        preprocessor = getattr(model, "preprocessor", None)
        if not isinstance(model, SSLModel) or preprocessor is None:
            raise ValueError(
                f"The file {path!r} holds no keras_ssl text model (a model with "
                "a preprocessor). Expected the `model.keras` of a text run or a "
                "keras-hub preset folder."
            )
        if sequence_length not in (None, preprocessor.sequence_length):
            raise ValueError(
                "A model continued from a file keeps its sequence length. "
                f"Received: sequence_length={sequence_length}, the file's is "
                f"{preprocessor.sequence_length}"
            )
        return model.encoder, preprocessor
    if spec in IMAGE_BACKBONES or spec == OWN_IMAGE_ENCODER:
        raise ValueError(
            f"{method} is a text method; {spec!r} is an image encoder. "
            f"Expected one of {[OWN_TEXT_ENCODER, *TEXT_BACKBONES]}, a "
            "keras-hub preset folder or a `.keras` file."
        )
    return build_text_encoder(spec, vocabulary_of(), sequence_length)
