import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.tokenizers import SPECIAL_TOKENS, TextPreprocessor
from keras_ssl.tokenizers.text_checks import (
    check_texts,
    count_truncated,
    word_piece_lengths,
)

# One word piece per word: lengths are word counts.
VOCAB = [*SPECIAL_TOKENS, "a", "cat", "dog", "sat", "on", "the", "mat"]


@pytest.fixture(scope="module")
def pre():
    # Room for 3 word pieces of one text, or 2 of a pair.
    return TextPreprocessor(VOCAB, sequence_length=5)


class TestCheckTexts:
    def test_returns_an_object_array_of_str(self):
        texts = check_texts(["a cat", b"a dog", np.str_("the mat")])
        assert texts.dtype == object and texts.shape == (3,)
        assert list(texts) == ["a cat", "a dog", "the mat"]
        assert all(type(t) is str for t in texts)

    @pytest.mark.parametrize(
        "texts",
        [
            ("a cat", "a dog"),
            np.array(["a cat", "a dog"]),
            np.array([b"a cat", b"a dog"]),
            np.array([["a cat"], ["a dog"]], dtype=object),
            tf.constant(["a cat", "a dog"]),
            (t for t in ["a cat", "a dog"]),
        ],
        ids=["tuple", "numpy-str", "numpy-bytes", "column", "tensor", "generator"],
    )
    def test_accepts_sequences(self, texts):
        assert list(check_texts(texts)) == ["a cat", "a dog"]

    def test_decodes_utf8_bytes(self):
        assert list(check_texts([b"caf\xc3\xa9"])) == ["café"]

    @pytest.mark.parametrize(
        "texts, match",
        [
            (["a", 3, "b", None], r"`texts`.*2 of 4 .*texts\[1\]=3 of type int"),
            (["a", None], r"texts\[1\]=None.*Missing values"),
            (["a", float("nan")], r"texts\[1\]=nan.*Missing values"),
            ([["nested"]], r"texts\[0\].*list"),
        ],
        ids=["int", "none", "nan", "nested"],
    )
    def test_non_strings_raise(self, texts, match):
        with pytest.raises(ValueError, match=match):
            check_texts(texts)

    def test_invalid_utf8_names_first_index_and_count(self):
        texts = ["fine", b"\xff\xfe", "ok", b"caf\xe9", "\ud800"]
        with pytest.raises(ValueError, match=r"UTF-8.*3 of 5 .*texts\[1\]"):
            check_texts(texts)

    def test_argument_name_in_errors(self):
        with pytest.raises(ValueError, match=r"`glosses`.*glosses\[0\]"):
            check_texts([1], argument="glosses")

    def test_empty_texts_raise_by_default(self):
        texts = ["a cat", "", "a dog", " \n\t", "\u3000"]
        with pytest.raises(ValueError, match=r"empty.*3 of 5.*texts\[1\].*drop"):
            check_texts(texts)

    def test_empty_texts_drop_and_keep(self):
        texts = ["a cat", "", "a dog", " \n\t"]
        kept, dropped = check_texts(texts, empty="drop")
        assert list(kept) == ["a cat", "a dog"] and dropped == 2
        assert kept.dtype == object
        kept, dropped = check_texts(["a cat"], empty="drop")
        assert list(kept) == ["a cat"] and dropped == 0
        assert list(check_texts(texts, empty="keep")) == texts

    def test_only_empty_texts_with_drop_raises(self):
        with pytest.raises(ValueError, match="only empty"):
            check_texts(["", " "], empty="drop")

    @pytest.mark.parametrize(
        "texts, match",
        [
            ([], "non-empty"),
            ("one string", "not one string"),
            (b"one string", "not one string"),
            (np.array([["a", "b"]]), "1-D"),
            (3, "sequence of strings"),
        ],
        ids=["empty", "str", "bytes", "2-D", "int"],
    )
    def test_bad_containers_raise(self, texts, match):
        with pytest.raises(ValueError, match=match):
            check_texts(texts)

    def test_bad_empty_mode_raises(self):
        with pytest.raises(ValueError, match="empty"):
            check_texts(["a"], empty="ignore")


class TestCountTruncated:
    def test_word_piece_lengths(self, pre):
        texts = ["a", "a cat sat", "a cat sat on", "", "the cat sat on the mat"]
        np.testing.assert_array_equal(word_piece_lengths(pre, texts), [1, 3, 4, 0, 6])
        assert word_piece_lengths(pre, texts).dtype == np.int32

    def test_counts_texts_longer_than_sequence_length_minus_two(self, pre):
        texts = ["a", "a cat sat", "a cat sat on", "", "the cat sat on the mat"]
        assert count_truncated(pre, texts) == 2
        # Agrees with the preprocessor: a truncated text loses word pieces.
        ids = pre(tf.constant(texts)).numpy()
        kept = (ids > 4).sum(axis=1)
        lengths = word_piece_lengths(pre, texts)
        assert int(np.sum(kept < lengths)) == 2

    def test_batches_do_not_change_the_count(self, pre):
        rng = np.random.default_rng(0)
        words = VOCAB[5:]
        texts = [
            " ".join(rng.choice(words, size=rng.integers(0, 7))) for _ in range(50)
        ]
        expected = sum(len(t.split()) > 3 for t in texts)
        for batch_size in (1, 7, 1024):
            assert count_truncated(pre, texts, batch_size=batch_size) == expected

    def test_pairs(self, pre):
        first = ["a", "a cat", "a", "a cat sat"]
        second = ["a", "a", "", "a"]
        np.testing.assert_array_equal(
            word_piece_lengths(pre, first, second), [2, 3, 1, 4]
        )
        # sequence_length 5 keeps 2 word pieces of a pair.
        assert count_truncated(pre, first, second_texts=second) == 2

    def test_bad_arguments_raise(self, pre):
        with pytest.raises(ValueError, match="preprocessor"):
            count_truncated(lambda t: t, ["a"])
        with pytest.raises(ValueError, match="batch_size"):
            count_truncated(pre, ["a"], batch_size=0)
        with pytest.raises(ValueError, match="same length"):
            count_truncated(pre, ["a", "b"], second_texts=["a"])
        with pytest.raises(ValueError, match="texts"):
            count_truncated(pre, ["a", 3])
