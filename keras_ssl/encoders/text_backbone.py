"""keras-hub text backbones (BERT, RoBERTa, DistilBERT, ELECTRA) as text encoders."""

import keras
import keras_hub
from keras import ops

from keras_ssl.checks import check_int_range
from keras_ssl.layers.masked_mean_pooling import MaskedMeanPooling
from keras_ssl.tokenizers.preset_text_preprocessor import (
    PresetTextPreprocessor,
    check_preset_dir,
)

_TEXT_INPUTS = {"token_ids", "padding_mask", "segment_ids"}


def backbone_vocabulary_size(backbone):
    """A keras-hub text backbone's vocabulary size (`None` if it has none)."""
    return getattr(backbone, "vocabulary_size", getattr(backbone, "vocab_size", None))


def _backbone_inputs(backbone):
    """The input names of a keras-hub text backbone, or a ValueError."""
    inputs = getattr(backbone, "input", None)
    names = set(inputs) if isinstance(inputs, dict) else set()
    if "token_ids" not in names or not names <= _TEXT_INPUTS:
        raise ValueError(
            "Argument `backbone` must be a keras-hub text backbone taking "
            "`token_ids` and `padding_mask` (and optionally `segment_ids`), "
            "such as BertBackbone, RobertaBackbone, DistilBertBackbone or "
            f"ElectraBackbone. Received: a {type(backbone).__name__} with inputs "
            f"{sorted(names) if names else getattr(backbone, 'input', None)!r}"
        )
    return names


def text_encoder_from_backbone(backbone, sequence_length, pad_token_id, name=None):
    """Wraps a keras-hub text backbone as a keras_ssl text encoder.

    The returned functional model takes `(batch, sequence_length)` int32
    `token_ids` (what a `PresetTextPreprocessor` makes) and returns, like
    `transformer_encoder`, `{"sequence_output": (batch, length, hidden),
    "pooled_output": (batch, hidden)}`: the backbone's sequence output and
    its mean over the non-padding positions. The padding mask is
    `token_ids != pad_token_id`; backbones with segment ids (BERT, ELECTRA)
    get zeros (one segment). The backbone itself is a direct layer of the
    model (`keras_ssl.encoders.save_to_preset` finds it there) and every
    keras_ssl text model trains it in place. The backbone's own pooler
    (BERT's and ELECTRA's `pooled_output`, the `[CLS]` dense layer
    `pooled_dense`) is left out: no gradient reaches it (Keras warns once
    that it has none), so it keeps its pretrained weights.

    Args:
        backbone: a `keras_hub.models.Backbone` for text, e.g.
            `BertBackbone`, `RobertaBackbone`, `DistilBertBackbone`,
            `ElectraBackbone` (built, or loaded with `from_preset`).
        sequence_length: ids per text, in `[1, backbone.max_sequence_length]`.
        pad_token_id: the padding id of the tokenizer (`preprocessor.pad_id`:
            0 for BERT, 1 for RoBERTa).
        name: model name (default: `"<backbone name>_encoder"`).

    Returns:
        A functional `keras.Model` from `token_ids` to the dict above.

    Example:

    >>> backbone = keras_hub.models.BertBackbone(
    ...     vocabulary_size=30, num_layers=1, num_heads=2, hidden_dim=8,
    ...     intermediate_dim=16, max_sequence_length=16)
    >>> encoder = text_encoder_from_backbone(backbone, 16, pad_token_id=0)
    >>> encoder(keras.ops.ones((2, 16), "int32"))["pooled_output"].shape
    TensorShape([2, 8])
    """
    if not isinstance(backbone, keras_hub.models.Backbone):
        raise ValueError(
            "Argument `backbone` must be a keras_hub.models.Backbone (e.g. "
            "keras_hub.models.BertBackbone.from_preset(path)). Received: "
            f"backbone of type {type(backbone).__name__}"
        )
    names = _backbone_inputs(backbone)
    maximum = getattr(backbone, "max_sequence_length", None)
    check_int_range("sequence_length", sequence_length, 1, maximum)
    vocabulary_size = backbone_vocabulary_size(backbone)
    check_int_range(
        "pad_token_id",
        pad_token_id,
        0,
        None if vocabulary_size is None else vocabulary_size - 1,
    )
    token_ids = keras.Input(shape=(sequence_length,), dtype="int32", name="token_ids")
    padding_mask = ops.not_equal(token_ids, pad_token_id)
    inputs = {"token_ids": token_ids, "padding_mask": padding_mask}
    if "segment_ids" in names:
        inputs["segment_ids"] = ops.zeros_like(token_ids)
    inputs = {k: v for k, v in inputs.items() if k in names}
    outputs = backbone(inputs)
    sequence = outputs["sequence_output"] if isinstance(outputs, dict) else outputs
    if len(sequence.shape) != 3:
        raise ValueError(
            "Argument `backbone` must return a sequence (batch, length, hidden) "
            "or a dict with `sequence_output`. Received: outputs "
            f"{outputs!r}"
        )
    pooled = MaskedMeanPooling(name="pooled")(sequence, padding_mask=padding_mask)
    return keras.Model(
        token_ids,
        {"sequence_output": sequence, "pooled_output": pooled},
        name=name or f"{backbone.name}_encoder",
    )


def find_backbone(encoder):
    """The `keras_hub.models.Backbone` among `encoder.layers`, or `None`."""
    for layer in getattr(encoder, "layers", ()):
        if isinstance(layer, keras_hub.models.Backbone):
            return layer
    return None


def load_text_preset(path, sequence_length=None):
    """A text encoder and its preprocessor from a local keras-hub preset.

    Loads the backbone (`keras_hub.models.Backbone.from_preset`, pretrained
    weights included) and its tokenizer (`PresetTextPreprocessor.from_preset`)
    and wraps the backbone with `text_encoder_from_backbone`, ready for any
    keras_ssl text model: continued pretraining (`MaskedLanguageModel`,
    `SimCSE`, `ReplacedTokenDetection`), probes, fine-tuning and export.

    Args:
        path: a local keras-hub preset folder (`config.json`,
            `model.weights.h5`, `tokenizer.json` and its assets), e.g. one
            written by `save_to_preset` or downloaded from Kaggle / Hugging
            Face.
        sequence_length: ids per text; defaults to the backbone's
            `max_sequence_length` and may not exceed it.

    Returns:
        `(encoder, preprocessor)`.

    Raises:
        FileNotFoundError: `path` is not a folder.
        ValueError: `path` is not a keras-hub preset, has no tokenizer, or
            holds a backbone that is not a text backbone.

    Example:

    ```python
    encoder, preprocessor = load_text_preset("bert_tiny_en_uncased/")
    model = MaskedLanguageModel(encoder, preprocessor)
    ```
    """
    path = check_preset_dir(path)
    backbone = keras_hub.models.Backbone.from_preset(path)
    try:
        _backbone_inputs(backbone)
    except ValueError:
        raise ValueError(
            f"The preset at {path!r} holds a {type(backbone).__name__}, not a "
            "text backbone. Expected a keras-hub text backbone taking "
            "`token_ids` and `padding_mask` (BERT, RoBERTa, DistilBERT, "
            "ELECTRA); image presets load with `load_image_encoder`."
        ) from None
    preprocessor = PresetTextPreprocessor.from_preset(path, sequence_length)
    vocabulary_size = backbone_vocabulary_size(backbone)
    if vocabulary_size is not None and vocabulary_size != preprocessor.vocabulary_size:
        raise ValueError(
            f"The preset at {path!r} has a tokenizer of "
            f"{preprocessor.vocabulary_size} tokens for a backbone of "
            f"vocabulary_size={vocabulary_size}. Expected the same vocabulary."
        )
    encoder = text_encoder_from_backbone(
        backbone, preprocessor.sequence_length, preprocessor.pad_id
    )
    return encoder, preprocessor
