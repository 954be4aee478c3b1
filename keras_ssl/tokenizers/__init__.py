"""WordPiece vocabularies and in-graph text preprocessing."""

from keras_ssl.tokenizers.special_tokens import SPECIAL_TOKENS
from keras_ssl.tokenizers.text_preprocessor import TextPreprocessor
from keras_ssl.tokenizers.train_word_piece_vocabulary import (
    check_texts,
    train_word_piece_vocabulary,
)

__all__ = [
    "SPECIAL_TOKENS",
    "TextPreprocessor",
    "check_texts",
    "train_word_piece_vocabulary",
]
