"""Export a text encoder and its tokenizer as a SavedModel."""

import keras
import tensorflow as tf

from keras_ssl.export._checks import as_float32, check_export_dir
from keras_ssl.tokenizers.text_preprocessor import TextPreprocessor


def _resolve(model_or_encoder, preprocessor):
    encoder = model_or_encoder
    inner = getattr(model_or_encoder, "encoder", None)
    if isinstance(inner, keras.Model):
        encoder = inner
        if preprocessor is None:
            preprocessor = getattr(model_or_encoder, "preprocessor", None)
    if not isinstance(encoder, keras.Model):
        raise ValueError(
            "Argument `model_or_encoder` must be a text SSL model (with "
            "`.encoder` and `.preprocessor`) or a keras.Model text encoder. "
            f"Received: model_or_encoder={model_or_encoder!r} of type "
            f"{type(model_or_encoder).__name__}"
        )
    outputs = getattr(encoder, "output", None)
    if not isinstance(outputs, dict) or "pooled_output" not in outputs:
        raise ValueError(
            "The text encoder must return a dict with `pooled_output` "
            "(batch, dim), as `transformer_encoder` does. Received: "
            f"encoder.output_shape={getattr(encoder, 'output_shape', None)}"
        )
    if len(outputs["pooled_output"].shape) != 2:
        raise ValueError(
            "The encoder's `pooled_output` must have shape (batch, dim). "
            f"Received: shape={tuple(outputs['pooled_output'].shape)}"
        )
    if not isinstance(preprocessor, TextPreprocessor):
        raise ValueError(
            "Argument `preprocessor` must be a keras_ssl TextPreprocessor or "
            "PresetTextPreprocessor (needed unless `model_or_encoder` carries "
            "one). Received: "
            f"preprocessor of type {type(preprocessor).__name__}"
        )
    in_shape = getattr(encoder, "input_shape", None)
    if not isinstance(in_shape, tuple) or len(in_shape) != 2:
        raise ValueError(
            "The text encoder must take one input of token ids of shape "
            f"(batch, sequence_length). Received: encoder.input_shape={in_shape}"
        )
    if in_shape[1] is not None and in_shape[1] != preprocessor.sequence_length:
        raise ValueError(
            "The preprocessor's sequence length must match the encoder's "
            f"input. Received: preprocessor.sequence_length="
            f"{preprocessor.sequence_length} with encoder.input_shape={in_shape}"
        )
    return encoder, preprocessor


def export_text_encoder(model_or_encoder, preprocessor=None, export_dir=None):
    """Exports a text encoder with its tokenizer as a SavedModel.

    The SavedModel has two signatures, both returning
    `{"embedding": float32 (batch, dim)}`, the encoder's `pooled_output`
    computed in inference mode (`training=False`, no dropout):

    - `serving_default`: input `texts`, `tf.string` of shape `(batch,)`,
      raw text. Tokenization (WordPiece, or the keras-hub tokenizer of a
      `PresetTextPreprocessor`: WordPiece for BERT / DistilBERT / ELECTRA,
      byte-pair encoding for RoBERTa), `[CLS] ... [SEP]` (`<s> ... </s>`)
      packing, padding and truncation to `sequence_length` run in the
      graph, so TF Serving takes raw strings. Loading the SavedModel
      therefore needs the `tensorflow_text` ops (`import tensorflow_text`
      before `tf.saved_model.load`; a TF Serving build with TF Text ops),
      but neither keras_ssl nor keras-hub.
    - `embed_token_ids`: input `token_ids`, `int32` of shape
      `(batch, sequence_length)`, ids already made by the same
      preprocessor. Its graph uses core TensorFlow ops only, but it lives
      in the same SavedModel as `serving_default`, so loading the folder
      still needs the `tensorflow_text` ops registered.

    To write the TF Serving layout `base_dir/name/version/`, wrap the call
    in `versioned_export`.

    Args:
        model_or_encoder: a text SSL model (`MaskedLanguageModel`,
            `CausalLanguageModel`, `ReplacedTokenDetection`, `SimCSE`: its
            `.encoder` and `.preprocessor` are exported), or a `keras.Model` from
            `(batch, sequence_length)` token ids to a dict with
            `pooled_output` (see `transformer_encoder`,
            `text_encoder_from_backbone`).
        preprocessor: the `TextPreprocessor` or `PresetTextPreprocessor`
            used in training. Required with a bare encoder; overrides the
            model's own when given.
        export_dir: path of the SavedModel directory; it must not exist yet
            or be empty (exports never overwrite files).

    Returns:
        `export_dir`, as a `str`.

    Example (not run as a doctest: it trains, and an export takes seconds):

    >>> from keras_ssl.models import MaskedLanguageModel  # doctest: +SKIP
    >>> model = MaskedLanguageModel(encoder, preprocessor)  # doctest: +SKIP
    >>> model.compile(optimizer="adam")  # doctest: +SKIP
    >>> model.fit(token_ids, epochs=1)  # doctest: +SKIP
    >>> export_text_encoder(model, export_dir="/tmp/mlm")  # doctest: +SKIP
    '/tmp/mlm'
    >>> import tensorflow_text  # doctest: +SKIP
    >>> served = tf.saved_model.load("/tmp/mlm")  # doctest: +SKIP
    >>> served.signatures["serving_default"](  # doctest: +SKIP
    ...     texts=tf.constant(["a small cat"]))["embedding"]
    """
    encoder, preprocessor = _resolve(model_or_encoder, preprocessor)
    if export_dir is None:
        raise ValueError(
            "Argument `export_dir` is required: a path to a new or empty "
            "directory. Received: export_dir=None"
        )
    export_dir = check_export_dir(export_dir)

    def embed_token_ids(token_ids):
        outputs = encoder(token_ids, training=False)
        return {"embedding": as_float32(outputs["pooled_output"])}

    def serving_default(texts):
        return embed_token_ids(tf.cast(preprocessor(texts), tf.int32))

    archive = keras.export.ExportArchive()
    archive.track(encoder)
    archive.track(preprocessor)
    archive.add_endpoint(
        "serving_default",
        serving_default,
        input_signature=[tf.TensorSpec((None,), tf.string, name="texts")],
    )
    archive.add_endpoint(
        "embed_token_ids",
        embed_token_ids,
        input_signature=[
            tf.TensorSpec(
                (None, preprocessor.sequence_length), tf.int32, name="token_ids"
            )
        ],
    )
    archive.write_out(export_dir, verbose=False)
    return export_dir
