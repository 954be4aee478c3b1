"""Checks and input handling shared by the text models, and their base class."""

import copy

import keras
import keras_hub
import numpy as np
import tensorflow as tf
from keras import ops

from keras_ssl.compat import flatten_layers
from keras_ssl.models.ssl_model import SSLModel
from keras_ssl.tokenizers.text_preprocessor import TextPreprocessor


def is_string(x):
    """Whether `x` holds strings: a `str`, or a list, array or tensor of them."""
    if isinstance(x, str):
        return True
    if isinstance(x, list | tuple):
        x = np.asarray(x)
    dtype = getattr(x, "dtype", None)
    if isinstance(dtype, np.dtype):
        return dtype.kind in "OUS"
    return dtype == tf.string or str(dtype) == "string"


def check_text_preprocessor(preprocessor):
    """Raises ValueError unless `preprocessor` is a `TextPreprocessor`.

    A `PresetTextPreprocessor` (a keras-hub model's tokenizer) is one.
    """
    if not isinstance(preprocessor, TextPreprocessor):
        raise ValueError(
            "Argument `preprocessor` must be a keras_ssl TextPreprocessor or "
            "PresetTextPreprocessor. Received: preprocessor of type "
            f"{type(preprocessor).__name__}"
        )


def check_text_encoder(encoder, name="encoder", builder="transformer_encoder"):
    """Returns the symbolic output dict of a functional text encoder.

    Raises ValueError unless `encoder` is a functional `keras.Model` whose
    output is a dict with `sequence_output` and `pooled_output`. `name` and
    `builder` (the `keras_ssl.encoders` function that builds one) are used in
    the error messages.
    """
    if not isinstance(encoder, keras.Model):
        raise ValueError(
            f"Argument `{name}` must be a keras.Model. "
            f"Received: {name}={encoder!r} of type {type(encoder).__name__}"
        )
    try:
        outputs = encoder.output
    except (AttributeError, ValueError):
        outputs = None
    if not isinstance(outputs, dict) or not {
        "sequence_output",
        "pooled_output",
    } <= set(outputs):
        raise ValueError(
            f"The {name} must return a dict with `sequence_output` "
            "(batch, length, dim) and `pooled_output` (batch, dim). "
            f"Received: {name} outputs={outputs!r}. Build it with "
            f"keras_ssl.encoders.{builder} or as a functional model."
        )
    return outputs


def text_token_ids(preprocessor, inputs):
    """Turns text-model inputs into `(batch, sequence_length)` int32 token ids.

    Accepts token ids, raw strings (a string, a list or array of strings, or
    a string tensor; tokenized with `preprocessor`), or a dict with
    `token_ids` (either of those) or with `first` and `second` (sentence
    pairs, packed with `TextPreprocessor.pack_pair`).
    """
    if isinstance(inputs, dict):
        if "token_ids" in inputs:
            inputs = inputs["token_ids"]
        elif "first" in inputs and "second" in inputs:
            return preprocessor.pack_pair(inputs["first"], inputs["second"])
        else:
            raise ValueError(
                "Expected a dict with `token_ids` (token ids or strings) "
                "or with `first` and `second` (sentence pairs). "
                f"Received keys: {sorted(inputs)}"
            )
    if isinstance(inputs, str):
        inputs = [inputs]
    if isinstance(inputs, list | tuple | np.ndarray):
        inputs = np.asarray(inputs)
        if is_string(inputs):
            inputs = tf.constant(inputs.tolist(), dtype=tf.string)
    if is_string(inputs):
        return preprocessor(inputs)
    if len(inputs.shape) != 2:
        raise ValueError(
            "Expected raw strings or token ids of shape (batch, "
            f"sequence_length). Received: shape={tuple(inputs.shape)}"
        )
    return ops.cast(inputs, "int32")


def _token_embedding(encoder):
    """The input token embedding of `encoder`, or `None`.

    A keras-hub `Backbone`'s `token_embedding` (a `ReversibleEmbedding`:
    BERT, ELECTRA, RoBERTa, DistilBERT) comes first, then the token
    embedding of a keras-hub `TokenAndPositionEmbedding` (keras_ssl's own
    encoders).
    """
    layers = flatten_layers(encoder)
    for layer in layers:
        if isinstance(layer, keras_hub.models.Backbone):
            embedding = getattr(layer, "token_embedding", None)
            if isinstance(embedding, keras.layers.Embedding):
                return embedding
    for layer in layers:
        if isinstance(layer, keras_hub.layers.TokenAndPositionEmbedding):
            return layer.token_embedding
    return None


def tied_token_embedding(encoder, vocabulary_size, name="encoder", required=True):
    """The `keras.layers.Embedding` an output layer over the vocabulary ties to.

    Returns the token embedding of the keras-hub `Backbone` in `encoder`
    (its `token_embedding`, as BERT ties its masked-LM output to it) or of
    its keras-hub `TokenAndPositionEmbedding`, or `None` when it has none
    and not `required` (the output layer then needs its own matrix). Raises
    ValueError when it has none and `required`, when the embedding's size is
    not `vocabulary_size`, or when its width differs from the encoder's
    `sequence_output` (ELECTRA with `embedding_dim != hidden_dim`: pass
    `tie_embeddings=False`).
    """
    embedding = _token_embedding(encoder)
    if embedding is None:
        if required:
            raise ValueError(
                "`tie_embeddings=True` needs a keras_hub "
                "TokenAndPositionEmbedding layer or a keras_hub Backbone with "
                f"a `token_embedding` in the {name}. "
                "Pass tie_embeddings=False."
            )
        return None
    if embedding.input_dim != vocabulary_size:
        raise ValueError(
            f"The {name}'s token embedding must cover the preprocessor's "
            f"vocabulary. Received: embedding size={embedding.input_dim}, "
            f"vocabulary_size={vocabulary_size}"
        )
    outputs = getattr(encoder, "output", None)
    width = None
    if isinstance(outputs, dict) and "sequence_output" in outputs:
        width = outputs["sequence_output"].shape[-1]
    if width is not None and embedding.output_dim != width:
        if not required:
            return None
        raise ValueError(
            f"Tying the output layer to the {name}'s token embedding needs "
            "the embedding as wide as the sequence output. Received: "
            f"embedding width={embedding.output_dim}, sequence_output "
            f"width={width}. Pass tie_embeddings=False."
        )
    return embedding


def embedding_matrix_getter(embedding):
    """A function returning `embedding`'s matrix (`None` without `embedding`).

    Models keep this function, not the layer, as an attribute so the
    embedding is tracked (and saved) once, inside its encoder.
    """
    if embedding is None:
        return lambda: None
    return lambda: embedding.embeddings


class TextSSLModel(SSLModel):
    """Base class of the text models: a `TextPreprocessor` and a text encoder.

    Checks both, keeps the preprocessor as `self.preprocessor` (so `.keras`
    files and exports take raw strings) and serialises it in the config.
    `token_ids(inputs)` accepts everything `text_token_ids` does and
    `model(inputs)` returns the encoder's `pooled_output`.

    Subclasses list the arguments of their constructor that hold Keras
    objects in `_config_objects`: they are serialised in this order, first
    in the config (after the base `keras.Model` keys), and deserialised in
    `from_config`.

    Args:
        encoder: functional `keras.Model` from `(batch, sequence_length)` ids
            to a dict with `sequence_output` and `pooled_output`.
        preprocessor: `TextPreprocessor` (or `PresetTextPreprocessor`).
        encoder_name: the encoder's name in error messages (`"decoder"`).
        encoder_builder: the `keras_ssl.encoders` function suggested in
            error messages.
        **kwargs: passed to `keras.Model`.
    """

    _config_objects = ("encoder", "preprocessor")

    def __init__(
        self,
        encoder,
        preprocessor,
        encoder_name="encoder",
        encoder_builder="transformer_encoder",
        **kwargs,
    ):
        super().__init__(encoder, **kwargs)
        check_text_preprocessor(preprocessor)
        check_text_encoder(encoder, name=encoder_name, builder=encoder_builder)
        self.preprocessor = preprocessor

    def token_ids(self, inputs):
        """Tokenizes raw strings; passes token ids through as int32.

        Accepts ids or strings, or a dict with `token_ids` (ids or strings)
        or with `first` and `second` (sentence pairs, packed with
        `TextPreprocessor.pack_pair`).
        """
        return text_token_ids(self.preprocessor, inputs)

    def call(self, inputs, training=False):
        ids = self.token_ids(inputs)
        return self.encoder(ids, training=training)["pooled_output"]

    def get_config(self):
        config = super().get_config()
        del config["encoder"]
        for key in self._config_objects:
            config[key] = keras.saving.serialize_keras_object(getattr(self, key))
        return config

    @classmethod
    def from_config(cls, config):
        config = copy.deepcopy(config)
        for key in cls._config_objects:
            if key in config:  # optional objects may be absent in old files
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
