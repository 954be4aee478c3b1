import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.testing import TestCase
from keras_ssl.tokenizers import (
    SPECIAL_TOKENS,
    TextPreprocessor,
    train_word_piece_vocabulary,
)

TEXTS = [
    "a small cat sat on the mat",
    "the cat chased a small dog",
    "dogs and cats are animals",
    "an animal that barks",
]
PAD, CLS, SEP, UNK, MASK = range(5)


@pytest.fixture(scope="module")
def vocab():
    return train_word_piece_vocabulary(TEXTS, 80)


def ids_of(pre, texts):
    return pre(tf.constant(texts)).numpy()


class TestTextPreprocessor(TestCase):
    def test_special_ids(self, vocab):
        pre = TextPreprocessor(vocab, sequence_length=12)
        assert (pre.pad_id, pre.cls_id, pre.sep_id, pre.mask_id) == (
            PAD,
            CLS,
            SEP,
            MASK,
        )
        assert sorted(pre.special_ids) == [0, 1, 2, 3, 4]
        assert pre.vocabulary_size == len(vocab)

    def test_packs_cls_tokens_sep_then_pad(self, vocab):
        pre = TextPreprocessor(vocab, sequence_length=12)
        ids = ids_of(pre, ["a small cat", "an animal that barks"])
        assert ids.shape == (2, 12)
        assert ids.dtype == np.int32
        for row in ids:
            assert row[0] == CLS
            sep = int(np.flatnonzero(row == SEP)[0])
            assert (row[1:sep] > MASK).all()  # known words, no [UNK]
            assert (row[sep + 1 :] == PAD).all()
        first = ids[0]
        assert [vocab[i] for i in first[1:4]] == ["a", "small", "cat"]
        assert first[4] == SEP

    def test_truncates_to_sequence_length(self, vocab):
        pre = TextPreprocessor(vocab, sequence_length=6)
        ids = ids_of(pre, [" ".join(["cat"] * 40)])
        assert ids.shape == (1, 6)
        assert ids[0, 0] == CLS and ids[0, -1] == SEP
        assert [vocab[i] for i in ids[0, 1:-1]] == ["cat"] * 4

    def test_unknown_pieces_become_unk(self, vocab):
        pre = TextPreprocessor(vocab, sequence_length=8)
        ids = ids_of(pre, ["zzz 😀"])
        assert UNK in ids[0]

    def test_empty_string(self, vocab):
        pre = TextPreprocessor(vocab, sequence_length=5)
        np.testing.assert_array_equal(ids_of(pre, [""])[0], [CLS, SEP, PAD, PAD, PAD])

    def test_column_of_strings_and_tf_data(self, vocab):
        pre = TextPreprocessor(vocab, sequence_length=8)
        flat = ids_of(pre, TEXTS)
        column = pre(tf.constant(TEXTS)[:, None]).numpy()
        np.testing.assert_array_equal(flat, column)
        ds = tf.data.Dataset.from_tensor_slices(TEXTS).batch(2).map(pre)
        np.testing.assert_array_equal(
            np.concatenate(list(ds.as_numpy_iterator())), flat
        )

    def test_lowercase(self, vocab):
        pre = TextPreprocessor(vocab, sequence_length=8)
        np.testing.assert_array_equal(
            ids_of(pre, ["A SMALL Cat"]), ids_of(pre, ["a small cat"])
        )

    @pytest.mark.parametrize(
        "bad",
        [tf.constant([1, 2]), tf.constant([[1.0]]), np.array([3, 4])],
        ids=["int", "float", "numpy-int"],
    )
    def test_non_string_input_raises(self, vocab, bad):
        pre = TextPreprocessor(vocab, sequence_length=8)
        with pytest.raises(ValueError, match="strings"):
            pre(bad)

    @pytest.mark.parametrize("length", [2, 0, -1, 8.0, None])
    def test_bad_sequence_length_raises(self, vocab, length):
        with pytest.raises(ValueError, match="sequence_length"):
            TextPreprocessor(vocab, sequence_length=length)

    def test_vocabulary_without_specials_raises(self, vocab):
        with pytest.raises(ValueError, match="vocabulary"):
            TextPreprocessor([t for t in vocab if t != "[MASK]"])
        with pytest.raises(ValueError, match="vocabulary"):
            TextPreprocessor(list(SPECIAL_TOKENS))

    def test_detokenize_drops_padding(self, vocab):
        # Documented: "Maps ids back to a string per row, dropping padding."
        pre = TextPreprocessor(vocab, sequence_length=8)
        texts = pre.detokenize(pre(tf.constant(["a small cat", "the dog"])))
        texts = [t.decode() if isinstance(t, bytes) else t for t in list(texts)]
        assert len(texts) == 2
        assert "a small cat" in texts[0] and "the dog" in texts[1]
        assert not any("[PAD]" in t for t in texts)

    def test_config_round_trip(self, vocab):
        pre = TextPreprocessor(vocab, sequence_length=9, lowercase=True, name="pre")
        restored = self.assert_serialization_round_trip(pre)
        assert restored.vocabulary == vocab
        np.testing.assert_array_equal(ids_of(restored, TEXTS), ids_of(pre, TEXTS))
