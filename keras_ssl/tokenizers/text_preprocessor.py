"""Raw strings to padded token ids, inside the graph."""

import keras
import keras_hub
import tensorflow as tf

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
    Sequences longer than `sequence_length - 2` word pieces are truncated.

    Args:
        vocabulary: list of tokens, starting with the special tokens (see
            `train_word_piece_vocabulary`).
        sequence_length: output length, >= 3 (`[CLS]`, one token, `[SEP]`).
        lowercase: lowercase and strip accents (must match the vocabulary).

    Example:

    >>> pre = TextPreprocessor(vocab, sequence_length=16)
    >>> pre(tf.constant(["a small cat"])).shape
    TensorShape([1, 16])
    """

    def __init__(self, vocabulary, sequence_length=64, lowercase=True, **kw):
        super().__init__(**kw)
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
        if not isinstance(sequence_length, int) or sequence_length < 3:
            raise ValueError(
                "Argument `sequence_length` must be an int >= 3 ([CLS], one "
                f"token, [SEP]). Received: sequence_length={sequence_length!r}"
            )
        self.vocabulary = vocabulary
        self.sequence_length = sequence_length
        self.lowercase = lowercase
        self.tokenizer = _InlineVocabularyTokenizer(
            vocabulary=vocabulary,
            lowercase=lowercase,
            strip_accents=lowercase,
            dtype="int32",
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
        self.built = True

    @property
    def vocabulary_size(self):
        return len(self.vocabulary)

    def call(self, texts):
        texts = tf.convert_to_tensor(texts)
        if texts.dtype != tf.string:
            raise ValueError(
                "TextPreprocessor expects strings. Received: dtype="
                f"{texts.dtype.name}. Expected: tf.string (raw text)"
            )
        if texts.shape.rank == 2 and texts.shape[-1] == 1:
            texts = tf.squeeze(texts, -1)
        return self.packer(self.tokenizer(texts))

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
