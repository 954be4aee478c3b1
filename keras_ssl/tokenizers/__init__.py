"""WordPiece vocabularies, in-graph text preprocessing (keras_ssl's own or a
keras-hub model's tokenizer) and text checks."""

from keras_ssl.tokenizers.load_vocabulary import load_vocabulary
from keras_ssl.tokenizers.preset_text_preprocessor import PresetTextPreprocessor
from keras_ssl.tokenizers.special_tokens import SPECIAL_TOKENS
from keras_ssl.tokenizers.text_checks import (
    check_texts,
    count_truncated,
    word_piece_lengths,
)
from keras_ssl.tokenizers.text_preprocessor import TextPreprocessor
from keras_ssl.tokenizers.train_word_piece_vocabulary import (
    train_word_piece_vocabulary,
)

__all__ = [
    "PresetTextPreprocessor",
    "SPECIAL_TOKENS",
    "TextPreprocessor",
    "check_texts",
    "count_truncated",
    "load_vocabulary",
    "train_word_piece_vocabulary",
    "word_piece_lengths",
]
