"""BERT-style masked language modelling."""

import copy

import keras
import keras_hub
import tensorflow as tf
from keras import ops

from keras_ssl.augmentation.token_masker import TokenMasker
from keras_ssl.layers.mlm_head import MLMHead
from keras_ssl.models.ssl_model import SSLModel
from keras_ssl.tokenizers.text_preprocessor import TextPreprocessor


def _find_token_embedding(encoder):
    for layer in encoder._flatten_layers(include_self=False):
        if isinstance(layer, keras_hub.layers.TokenAndPositionEmbedding):
            return layer.token_embedding
    return None


@keras.saving.register_keras_serializable(package="keras_ssl")
class MaskedLanguageModel(SSLModel):
    """Masked language modelling on a Transformer encoder.

    Every step masks a fresh random 15% of the non-special tokens
    (80% `[MASK]`, 10% random token, 10% unchanged, see `TokenMasker`) and
    predicts the original tokens at those positions with an MLM head. Inputs
    are token ids from `preprocessor` (tokenize once in `tf.data` for speed),
    or raw strings, which are tokenized in the graph.

    `model(texts_or_ids)` returns the mean-pooled sentence embedding; the
    preprocessor travels with the model, so `.keras` files and exports take
    raw strings.

    Metrics: `loss`, `mlm_accuracy` (top-1 over the masked tokens).

    Args:
        encoder: `keras.Model` from `(batch, length)` ids to a dict with
            `sequence_output` and `pooled_output` (see `transformer_encoder`).
        preprocessor: `TextPreprocessor` (vocabulary, sequence length).
        mask_rate: fraction of tokens predicted, in `(0, 1)`.
        tie_embeddings: share the encoder's input token embeddings with the
            output layer of the MLM head (BERT's choice; much faster to learn
            useful embeddings on a short budget).
        seed: masking seed.

    Example:

    >>> pre = TextPreprocessor(vocab, sequence_length=32)
    >>> enc = transformer_encoder(pre.vocabulary_size, 32)
    >>> model = MaskedLanguageModel(enc, pre)
    >>> model.compile(optimizer=keras.optimizers.AdamW(1e-3))
    >>> model.fit(token_ids, batch_size=64)  # doctest: +SKIP

    Reference:
        [Devlin et al., 2019](https://arxiv.org/abs/1810.04805)
    """

    def __init__(
        self,
        encoder,
        preprocessor,
        mask_rate=0.15,
        tie_embeddings=True,
        seed=None,
        **kwargs,
    ):
        super().__init__(encoder, **kwargs)
        if not isinstance(preprocessor, TextPreprocessor):
            raise ValueError(
                "Argument `preprocessor` must be a keras_ssl TextPreprocessor. "
                f"Received: preprocessor of type {type(preprocessor).__name__}"
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
                "The encoder must return a dict with `sequence_output` "
                "(batch, length, dim) and `pooled_output` (batch, dim). "
                f"Received: encoder outputs={outputs!r}. Build it with "
                "keras_ssl.encoders.transformer_encoder or as a functional model."
            )
        self.preprocessor = preprocessor
        self.mask_rate = mask_rate
        self.seed = seed
        length = preprocessor.sequence_length
        self.masker = TokenMasker(
            vocabulary_size=preprocessor.vocabulary_size,
            mask_token_id=preprocessor.mask_id,
            special_token_ids=preprocessor.special_ids,
            sequence_length=length,
            mask_rate=mask_rate,
            seed=seed,
        )
        self.tie_embeddings = tie_embeddings
        embedding = _find_token_embedding(encoder) if tie_embeddings else None
        if tie_embeddings and embedding is None:
            raise ValueError(
                "`tie_embeddings=True` needs an encoder with a keras_hub "
                "TokenAndPositionEmbedding layer. Pass tie_embeddings=False."
            )
        # A plain function, not an attribute holding the layer, so the
        # embedding is tracked (and saved) once, inside the encoder.
        self._embedding_matrix = (
            (lambda: embedding.embeddings) if embedding is not None else lambda: None
        )
        hidden_dim = outputs["sequence_output"].shape[-1]
        self.mlm_head = MLMHead(
            preprocessor.vocabulary_size,
            hidden_dim,
            tied=embedding is not None,
            name="mlm_head",
        )
        self.mlm_head.build()
        self.mlm_accuracy = keras.metrics.Mean(name="mlm_accuracy")
        self.build()

    def token_ids(self, inputs):
        """Tokenizes raw strings; passes token ids through as int32."""
        if isinstance(inputs, dict):
            inputs = inputs["token_ids"]
        if getattr(inputs, "dtype", None) in (tf.string, object) or (
            hasattr(inputs, "dtype") and str(inputs.dtype) == "string"
        ):
            return self.preprocessor(inputs)
        if len(inputs.shape) != 2:
            raise ValueError(
                "Expected raw strings or token ids of shape (batch, "
                f"sequence_length). Received: shape={tuple(inputs.shape)}"
            )
        return ops.cast(inputs, "int32")

    def call(self, inputs, training=False):
        ids = self.token_ids(inputs)
        return self.encoder(ids, training=training)["pooled_output"]

    def compute_objective(self, inputs, training=False):
        masked = self.masker(self.token_ids(inputs))
        sequence = self.encoder(masked["token_ids"], training=training)[
            "sequence_output"
        ]
        logits = self.mlm_head(
            sequence,
            mask_positions=masked["mask_positions"],
            embedding_matrix=self._embedding_matrix(),
        )
        weights = masked["mask_weights"]
        per_token = ops.sparse_categorical_crossentropy(
            masked["mask_ids"], ops.cast(logits, "float32"), from_logits=True
        )
        loss_sum = ops.sum(per_token * weights)
        correct = ops.cast(
            ops.cast(ops.argmax(logits, axis=-1), "int32") == masked["mask_ids"],
            "float32",
        )
        return loss_sum, ops.sum(weights), {"correct": correct, "weights": weights}

    def method_metrics(self):
        return [self.mlm_accuracy]

    def update_method_metrics(self, outputs):
        self.mlm_accuracy.update_state(
            outputs["correct"], sample_weight=outputs["weights"]
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            preprocessor=keras.saving.serialize_keras_object(self.preprocessor),
            mask_rate=self.mask_rate,
            tie_embeddings=self.tie_embeddings,
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = copy.deepcopy(config)
        config["preprocessor"] = keras.saving.deserialize_keras_object(
            config["preprocessor"]
        )
        return super().from_config(config)
