import numpy as np
import pytest

from keras_ssl.tokenizers import SPECIAL_TOKENS, train_word_piece_vocabulary

TEXTS = [
    "a small cat sat on the mat",
    "the cat chased a small dog",
    "dogs and cats are animals",
    "an animal that barks",
    "Café au lait, s'il vous plaît!",
]


def test_special_tokens_come_first():
    vocab = train_word_piece_vocabulary(TEXTS, 60)
    assert list(SPECIAL_TOKENS) == ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"]
    assert vocab[:5] == list(SPECIAL_TOKENS)
    assert all(isinstance(t, str) for t in vocab)


@pytest.mark.parametrize("size", [6, 20, 40, 60, 200])
def test_size_limit_and_no_duplicates(size):
    vocab = train_word_piece_vocabulary(TEXTS, size)
    assert len(vocab) <= size
    assert len(set(vocab)) == len(vocab)


def test_large_budget_includes_characters_and_frequent_words():
    vocab = train_word_piece_vocabulary(TEXTS, 200)
    for token in ("c", "##a", "cat", "the", "small"):
        assert token in vocab
    # Lowercased and accent-stripped by default.
    assert "cafe" in vocab or "##e" in vocab
    assert "é" not in vocab and "Café" not in vocab


def test_accepts_numpy_object_arrays_and_utf8_bytes():
    texts = np.asarray([b"a caf\xc3\xa9", "a cafe", "a dog"], dtype=object)
    vocab = train_word_piece_vocabulary(texts, 60)
    assert vocab[:5] == list(SPECIAL_TOKENS)
    assert "cafe" in vocab  # the UTF-8 bytes were decoded, then accent-stripped


@pytest.mark.parametrize(
    "texts",
    [
        [],
        "one string, not a list",
        ["fine", 3],
        ["fine", None],
        [b"\xff\xfe not utf-8"],
        [["nested"]],
    ],
    ids=["empty", "str", "int", "none", "bad-utf8", "nested"],
)
def test_bad_texts_raise(texts):
    with pytest.raises(ValueError, match="texts"):
        train_word_piece_vocabulary(texts, 30)


@pytest.mark.parametrize("size", [-1, 0, 5, 5.5, "30", None])
def test_bad_vocabulary_size_raises(size):
    with pytest.raises(ValueError, match="vocabulary_size"):
        train_word_piece_vocabulary(TEXTS, size)


def test_bad_method_raises():
    with pytest.raises(ValueError, match="method"):
        train_word_piece_vocabulary(TEXTS, 30, method="bpe")
