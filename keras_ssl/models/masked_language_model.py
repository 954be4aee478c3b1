"""BERT-style masked language modelling."""

import keras
from keras import ops

from keras_ssl.augmentation.token_masker import TokenMasker
from keras_ssl.cross_replica import global_mean
from keras_ssl.layers.mlm_head import MLMHead
from keras_ssl.models.text_inputs import (
    TextSSLModel,
    embedding_matrix_getter,
    is_string,
    tied_token_embedding,
)

NEXT_SENTENCE_LABEL = "next_sentence_label"


@keras.saving.register_keras_serializable(package="keras_ssl")
class MaskedLanguageModel(TextSSLModel):
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

    With `next_sentence_prediction=True`, the model also learns BERT's
    next-sentence prediction (NSP): the training inputs are sentence pairs
    packed as `[CLS] first [SEP] second [SEP] [PAD]...`
    (`TextPreprocessor.pack_pair`, pairs from
    `keras_ssl.datasets.make_sentence_pairs`), as a dict

    - `{"token_ids": (batch, sequence_length) ids,
      "next_sentence_label": (batch,) ints}`, or
    - `{"first": (batch,) strings, "second": (batch,) strings,
      "next_sentence_label": (batch,) ints}` (packed in the graph),

    or as `(token_ids, next_sentence_label)`, e.g.
    `model.fit(ids, labels)`. The label is 1 when `second` follows `first`
    in its document and 0 when it is a random sentence. An NSP head reads
    the `[CLS]` position of the masked sequence, `Dense(hidden_dim, tanh)`
    then `Dense(2)`. The loss is the mean MLM cross-entropy over the masked
    tokens plus the mean NSP cross-entropy over the pairs, both over the
    global batch, and the metrics are `loss`, `mlm_accuracy` and
    `nsp_accuracy`. The encoder has no segment embedding: the `[SEP]`
    token separates the sentences. `model(x)` still returns the pooled
    embedding (labels are not needed).

    Args:
        encoder: `keras.Model` from `(batch, length)` ids to a dict with
            `sequence_output` and `pooled_output` (see `transformer_encoder`).
        preprocessor: `TextPreprocessor` (vocabulary, sequence length).
        mask_rate: fraction of tokens predicted, in `(0, 1)`.
        tie_embeddings: share the encoder's input token embeddings with the
            output layer of the MLM head (BERT's choice; much faster to learn
            useful embeddings on a short budget).
        seed: masking seed.
        next_sentence_prediction: also train next-sentence prediction on
            sentence pairs (see above). Off by default; when off, inputs,
            metrics and config are those of plain MLM.

    Example:

    >>> from keras_ssl.encoders import transformer_encoder
    >>> from keras_ssl.tokenizers import TextPreprocessor
    >>> vocab = ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]", "a", "small", "cat"]
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
        next_sentence_prediction=False,
        **kwargs,
    ):
        super().__init__(encoder, preprocessor, **kwargs)
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
        embedding = (
            tied_token_embedding(encoder, preprocessor.vocabulary_size)
            if tie_embeddings
            else None
        )
        self._embedding_matrix = embedding_matrix_getter(embedding)
        hidden_dim = encoder.output["sequence_output"].shape[-1]
        self.mlm_head = MLMHead(
            preprocessor.vocabulary_size,
            hidden_dim,
            tied=embedding is not None,
            name="mlm_head",
        )
        self.mlm_head.build()
        self.mlm_accuracy = keras.metrics.Mean(name="mlm_accuracy")
        if not isinstance(next_sentence_prediction, bool):
            raise ValueError(
                "Argument `next_sentence_prediction` must be True or False. "
                f"Received: next_sentence_prediction={next_sentence_prediction!r}"
            )
        self.next_sentence_prediction = next_sentence_prediction
        if next_sentence_prediction:
            # Created only when used: without NSP the model's variables, and
            # so its saved files, are those of plain MLM.
            self.nsp_pooler = keras.layers.Dense(
                hidden_dim, activation="tanh", name="nsp_pooler"
            )
            self.nsp_pooler.build((None, hidden_dim))
            self.nsp_classifier = keras.layers.Dense(2, name="nsp_classifier")
            self.nsp_classifier.build((None, hidden_dim))
            self.nsp_accuracy = keras.metrics.Mean(name="nsp_accuracy")
        self.build()

    def token_ids(self, inputs):
        """Tokenizes raw strings; passes token ids through as int32.

        Accepts ids or strings, or a dict with `token_ids` (ids or strings;
        ids only with next-sentence prediction) or with `first` and `second`
        (sentence pairs, packed with `TextPreprocessor.pack_pair`).
        """
        if (
            self.next_sentence_prediction
            and isinstance(inputs, dict)
            and is_string(inputs.get("token_ids"))
        ):
            raise ValueError(
                "With next_sentence_prediction=True, `token_ids` must "
                "be packed sentence pairs (ids). Pass raw sentence "
                "pairs as `first` and `second` strings instead."
            )
        return super().token_ids(inputs)

    def unpack_inputs(self, data):
        if not self.next_sentence_prediction:
            return super().unpack_inputs(data)
        # NSP labels may come as `y`: `fit(ids, labels)`.
        x, y = data, None
        if isinstance(data, tuple | list):
            x = data[0]
            y = data[1] if len(data) > 1 else None
        x = dict(x) if isinstance(x, dict) else {"token_ids": x}
        if y is not None and NEXT_SENTENCE_LABEL not in x:
            x[NEXT_SENTENCE_LABEL] = y
        return x

    def _next_sentence_labels(self, inputs):
        if not isinstance(inputs, dict) or NEXT_SENTENCE_LABEL not in inputs:
            keys = sorted(inputs) if isinstance(inputs, dict) else None
            raise ValueError(
                "With next_sentence_prediction=True, the training inputs must "
                f"hold `{NEXT_SENTENCE_LABEL}`: (batch,) ints, 1 where the "
                "second sentence follows the first and 0 where it is random, "
                "e.g. {'token_ids': ids, 'next_sentence_label': labels} or "
                f"fit(ids, labels). Received: "
                + (f"a dict with keys {keys}" if keys is not None else "no labels")
            )
        labels = ops.convert_to_tensor(inputs[NEXT_SENTENCE_LABEL])
        if len(labels.shape) == 2 and labels.shape[-1] == 1:
            labels = ops.squeeze(labels, -1)
        if len(labels.shape) != 1:
            raise ValueError(
                f"Expected `{NEXT_SENTENCE_LABEL}` of shape (batch,). "
                f"Received: shape={tuple(labels.shape)}"
            )
        if is_string(labels):
            raise ValueError(
                f"Expected `{NEXT_SENTENCE_LABEL}` to hold 0/1 ints. Received: strings"
            )
        return ops.cast(labels, "int32")

    def _masked_lm(self, inputs, training):
        """Masks, encodes and scores the masked tokens (the MLM part)."""
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
        return masked, sequence, loss_sum, weights, correct

    def compute_objective(self, inputs, training=False):
        if self.next_sentence_prediction:
            return self._objective_with_nsp(inputs, training)
        _, _, loss_sum, weights, correct = self._masked_lm(inputs, training)
        return loss_sum, ops.sum(weights), {"correct": correct, "weights": weights}

    def _objective_with_nsp(self, inputs, training):
        labels = self._next_sentence_labels(inputs)
        masked, sequence, loss_sum, weights, correct = self._masked_lm(inputs, training)
        mlm_loss = global_mean(loss_sum, ops.sum(weights))
        # NSP on the [CLS] position of the masked sequence, as in BERT.
        nsp_logits = ops.cast(
            self.nsp_classifier(self.nsp_pooler(sequence[:, 0])), "float32"
        )
        per_pair = ops.sparse_categorical_crossentropy(
            labels, nsp_logits, from_logits=True
        )
        nsp_loss = global_mean(ops.sum(per_pair), ops.shape(labels)[0])
        nsp_correct = ops.cast(
            ops.cast(ops.argmax(nsp_logits, axis=-1), "int32") == labels, "float32"
        )
        # Pairs packed in the graph can lose the static rank; metrics need it.
        nsp_correct = ops.reshape(nsp_correct, (-1,))
        outputs = {
            "correct": correct,
            "weights": weights,
            "nsp_correct": nsp_correct,
            # For tests and debugging (unused tensors are pruned in graph).
            "masked_token_ids": masked["token_ids"],
            "nsp_logits": nsp_logits,
            "next_sentence_label": labels,
            "mlm_loss": mlm_loss,
            "nsp_loss": nsp_loss,
        }
        return mlm_loss + nsp_loss, None, outputs

    def method_metrics(self):
        if self.next_sentence_prediction:
            return [self.mlm_accuracy, self.nsp_accuracy]
        return [self.mlm_accuracy]

    def update_method_metrics(self, outputs):
        self.mlm_accuracy.update_state(
            outputs["correct"], sample_weight=outputs["weights"]
        )
        if self.next_sentence_prediction:
            self.nsp_accuracy.update_state(outputs["nsp_correct"])

    def get_config(self):
        config = super().get_config()
        config.update(
            mask_rate=self.mask_rate,
            tie_embeddings=self.tie_embeddings,
            seed=self.seed,
        )
        if self.next_sentence_prediction:
            # Only when on: configs of plain MLM models stay as they were.
            config["next_sentence_prediction"] = True
        return config
