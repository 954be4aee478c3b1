"""Raw strings to padded token ids, inside the graph."""

import numbers
import os

import keras
import keras_hub
import tensorflow as tf

from keras_ssl.tokenizers.load_vocabulary import load_vocabulary
from keras_ssl.tokenizers.special_tokens import CLS, MASK, PAD, SEP, SPECIAL_TOKENS


class _InlineVocabularyTokenizer(keras_hub.tokenizers.WordPieceTokenizer):
    """WordPiece tokenizer whose vocabulary lives in its owner's config.

    keras-hub tokenizers also save the vocabulary as a `.keras` asset, which
    Keras safe mode then refuses to read back; `TextPreprocessor` keeps the
    vocabulary in its config instead, so the asset is not needed.
    """

    def save_assets(self, dir_path):
        pass

    def load_assets(self, dir_path):
        pass


@keras.saving.register_keras_serializable(package="keras_ssl")
class TextPreprocessor(keras.layers.Layer):
    """Tokenizes strings with WordPiece and packs `[CLS] ... [SEP] [PAD]...`.

    A Keras layer, so it runs in `tf.data`, inside a model and inside an
    exported SavedModel (the serving graph then needs `tensorflow_text`).
    Sequences longer than `sequence_length - 2` word pieces are truncated
    (`keras_ssl.tokenizers.count_truncated` counts how many texts are).

    `pack_pair(first, second)` packs sentence pairs for next-sentence
    prediction as `[CLS] first [SEP] second [SEP] [PAD]...`, truncating the
    pair to `sequence_length - 3` word pieces round-robin (see `pack_pair`).

    Args:
        vocabulary: list of tokens, starting with the special tokens (see
            `train_word_piece_vocabulary`), or the path of a vocabulary file
            with one token per line (read with `load_vocabulary`; the tokens,
            not the path, go into the config).
        sequence_length: output length, >= 3 (`[CLS]`, one token, `[SEP]`).
        lowercase: lowercase and strip accents (must match the vocabulary).

    Example:

    >>> vocab = ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]", "a", "small", "cat"]
    >>> pre = TextPreprocessor(vocab, sequence_length=8)
    >>> pre(tf.constant(["a small cat"]))
    <tf.Tensor: shape=(1, 8), dtype=int32, numpy=array([[1, 5, 6, 7, 2, 0, 0, 0]],
    dtype=int32)>
    """

    def __init__(self, vocabulary, sequence_length=64, lowercase=True, **kw):
        super().__init__(**kw)
        if isinstance(vocabulary, str | os.PathLike):
            vocabulary = load_vocabulary(vocabulary)
        elif vocabulary is None:
            raise ValueError(
                "Argument `vocabulary` must be a list of tokens or the path "
                "of a vocabulary file. Received: vocabulary=None"
            )
        vocabulary = list(vocabulary)
        missing = [t for t in SPECIAL_TOKENS if t not in vocabulary]
        if missing:
            raise ValueError(
                "Argument `vocabulary` must contain the special tokens "
                f"{list(SPECIAL_TOKENS)}. Received a vocabulary of "
                f"{len(vocabulary)} tokens missing {missing}"
            )
        if len(vocabulary) <= len(SPECIAL_TOKENS):
            raise ValueError(
                "Argument `vocabulary` must hold more than the special tokens. "
                f"Received: {len(vocabulary)} tokens"
            )
        if (
            not isinstance(sequence_length, numbers.Integral)
            or isinstance(sequence_length, bool)
            or sequence_length < 3
        ):
            raise ValueError(
                "Argument `sequence_length` must be an int >= 3: room for "
                "[CLS], at least one word piece and [SEP] (sentence pairs "
                "need >= 5 to keep a word piece of each sentence). "
                f"Received: sequence_length={sequence_length!r}"
            )
        sequence_length = int(sequence_length)
        self.vocabulary = vocabulary
        self.sequence_length = sequence_length
        self.lowercase = lowercase
        self.tokenizer = _InlineVocabularyTokenizer(
            vocabulary=vocabulary,
            lowercase=lowercase,
            strip_accents=lowercase,
            dtype="int32",
            # A valid root name scope: `pack_pair` calls it outside `call`,
            # and the default name (from the class) starts with "_".
            name="word_piece_tokenizer",
        )
        ids = {t: i for i, t in enumerate(vocabulary)}
        self.pad_id, self.cls_id = ids[PAD], ids[CLS]
        self.sep_id, self.mask_id = ids[SEP], ids[MASK]
        self.special_ids = [ids[t] for t in SPECIAL_TOKENS]
        self.packer = keras_hub.layers.StartEndPacker(
            sequence_length=sequence_length,
            start_value=self.cls_id,
            end_value=self.sep_id,
            pad_value=self.pad_id,
            return_padding_mask=False,
        )
        # Sentence pairs (next-sentence prediction). Stateless: no weights,
        # nothing in the config, so models saved before it still load.
        self.pair_packer = keras_hub.layers.MultiSegmentPacker(
            sequence_length=sequence_length,
            start_value=self.cls_id,
            end_value=self.sep_id,
            pad_value=self.pad_id,
            truncate="round_robin",
        )
        self.built = True

    @property
    def vocabulary_size(self):
        return len(self.vocabulary)

    @staticmethod
    def _as_strings(texts, argument=None):
        texts = tf.convert_to_tensor(texts)
        if texts.dtype != tf.string:
            name = f" for `{argument}`" if argument else ""
            raise ValueError(
                f"TextPreprocessor expects strings{name}. Received: dtype="
                f"{texts.dtype.name}. Expected: tf.string (raw text)"
            )
        if texts.shape.rank == 2 and texts.shape[-1] == 1:
            texts = tf.squeeze(texts, -1)
        if texts.shape.rank is not None and texts.shape.rank > 1:
            name = f"`{argument}`" if argument else "the texts"
            raise ValueError(
                f"TextPreprocessor expects {name} as a string, a batch of "
                "strings `(batch,)` or a column `(batch, 1)`. Received: "
                f"shape={tuple(texts.shape)}"
            )
        return texts

    def call(self, texts):
        return self.packer(self.tokenizer(self._as_strings(texts)))

    def pack_pair(self, first, second, return_segment_ids=False):
        """Packs sentence pairs: `[CLS] first [SEP] second [SEP] [PAD]...`.

        The input of next-sentence prediction (`MaskedLanguageModel(...,
        next_sentence_prediction=True)`). Pairs longer than
        `sequence_length - 3` word pieces are truncated round-robin
        (keras-hub `MultiSegmentPacker(truncate="round_robin")`): the budget
        is handed out one word piece at a time to each sentence in turn, so
        a short sentence is kept whole and two long ones keep about half the
        budget each, as BERT's pair truncation does (it trims the longer
        sentence first). Works in `tf.data` and in the graph.

        `transformer_encoder` has no segment embedding: the model tells the
        sentences apart by the `[SEP]` between them (and the positions).
        The segment ids (0 for `[CLS]`, the first sentence and its `[SEP]`;
        1 for the second sentence and the final `[SEP]`; 0 for padding) are
        returned on request, for encoders that do embed segments.

        Args:
            first: string tensor, `(batch,)`, `(batch, 1)` or a scalar.
            second: string tensor of the same shape.
            return_segment_ids: also return the segment ids.

        Returns:
            int32 token ids `(batch, sequence_length)` (or `(sequence_length,)`
            for scalars), or `(token_ids, segment_ids)`.

        Example:

        >>> vocab = ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]", "a", "cat", "it",
        ...          "sat"]
        >>> pre = TextPreprocessor(vocab, sequence_length=10)
        >>> ids = pre.pack_pair(tf.constant(["a cat"]), tf.constant(["it sat"]))
        >>> ids.numpy().tolist()  # [CLS] a cat [SEP] it sat [SEP] [PAD] ...
        [[1, 5, 6, 2, 7, 8, 2, 0, 0, 0]]
        """
        first = self._as_strings(first, "first")
        second = self._as_strings(second, "second")
        if first.shape.rank != second.shape.rank or not first.shape.is_compatible_with(
            second.shape
        ):
            raise ValueError(
                "Arguments `first` and `second` must have the same shape (one "
                f"second sentence per first sentence). Received: "
                f"first.shape={tuple(first.shape)}, "
                f"second.shape={tuple(second.shape)}"
            )
        token_ids, segment_ids = self.pair_packer(
            (self.tokenizer(first), self.tokenizer(second))
        )
        token_ids = tf.cast(token_ids, "int32")
        if return_segment_ids:
            return token_ids, tf.cast(segment_ids, "int32")
        return token_ids

    def detokenize(self, token_ids):
        """Maps ids back to a string per row, dropping padding."""
        token_ids = tf.convert_to_tensor(token_ids)
        ragged = tf.ragged.boolean_mask(token_ids, token_ids != self.pad_id)
        return self.tokenizer.detokenize(ragged)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary=self.vocabulary,
            sequence_length=self.sequence_length,
            lowercase=self.lowercase,
        )
        return config
