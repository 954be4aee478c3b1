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

    def test_sequence_length_error_is_clear(self, vocab):
        with pytest.raises(ValueError, match=r">= 3.*\[CLS\].*sequence_length=2"):
            TextPreprocessor(vocab, sequence_length=2)
        with pytest.raises(ValueError, match="sequence_length=True"):
            TextPreprocessor(vocab, sequence_length=True)

    def test_numpy_int_sequence_length(self, vocab):
        pre = TextPreprocessor(vocab, sequence_length=np.int64(7))
        assert pre.sequence_length == 7 and type(pre.sequence_length) is int
        assert ids_of(pre, ["a cat"]).shape == (1, 7)

    def test_config_keys_unchanged(self, vocab):
        # Saved models of earlier versions must load: no new config keys.
        config = TextPreprocessor(vocab, sequence_length=9).get_config()
        assert set(config) == {
            "name",
            "trainable",
            "dtype",
            "vocabulary",
            "sequence_length",
            "lowercase",
        }

    def test_rank_3_strings_raise(self, vocab):
        pre = TextPreprocessor(vocab, sequence_length=8)
        with pytest.raises(ValueError, match="shape"):
            pre(tf.constant([[["a cat"]]]))


def pair_ids(pre, first, second, **kw):
    out = pre.pack_pair(tf.constant(first), tf.constant(second), **kw)
    return tuple(t.numpy() for t in out) if isinstance(out, tuple) else out.numpy()


def words(vocab, ids):
    return [vocab[i] for i in ids]


class TestPackPair(TestCase):
    def test_layout_and_segment_ids(self, vocab):
        pre = TextPreprocessor(vocab, sequence_length=12)
        ids, segments = pair_ids(
            pre, ["a small cat"], ["the dog"], return_segment_ids=True
        )
        assert ids.shape == segments.shape == (1, 12)
        assert ids.dtype == segments.dtype == np.int32
        np.testing.assert_array_equal(ids[0, [0, 4, 7]], [CLS, SEP, SEP])
        assert words(vocab, ids[0, 1:4]) == ["a", "small", "cat"]
        assert words(vocab, ids[0, 5:7]) == ["the", "dog"]
        assert (ids[0, 8:] == PAD).all()
        np.testing.assert_array_equal(segments[0], [0] * 5 + [1] * 3 + [0] * 4)
        # Token ids only by default.
        np.testing.assert_array_equal(pair_ids(pre, ["a small cat"], ["the dog"]), ids)

    def test_round_robin_truncation(self, vocab):
        pre = TextPreprocessor(vocab, sequence_length=9)  # 6 word pieces
        long = " ".join(["cat"] * 10)
        ids = pair_ids(pre, [long, "a", long], [" ".join(["dog"] * 10), long, "a"])
        assert ids.shape == (3, 9)
        for row in ids:
            assert row[0] == CLS and row[-1] == SEP and (row != PAD).all()
        # Two long sentences keep half the budget each; a short one is kept
        # whole and the long one gets the rest.
        assert words(vocab, ids[0]).count("cat") == 3
        assert words(vocab, ids[0]).count("dog") == 3
        cats = ["cat"] * 5
        assert words(vocab, ids[1]) == ["[CLS]", "a", "[SEP]", *cats, "[SEP]"]
        assert words(vocab, ids[2]) == ["[CLS]", *cats, "[SEP]", "a", "[SEP]"]

    def test_shortest_sequence_length(self, vocab):
        pre = TextPreprocessor(vocab, sequence_length=3)
        np.testing.assert_array_equal(
            pair_ids(pre, ["a cat"], ["a dog"]), [[CLS, SEP, SEP]]
        )
        pre = TextPreprocessor(vocab, sequence_length=5)
        np.testing.assert_array_equal(
            pair_ids(pre, [""], [""]), [[CLS, SEP, SEP, PAD, PAD]]
        )

    def test_scalars_columns_and_tf_data(self, vocab):
        pre = TextPreprocessor(vocab, sequence_length=10)
        first, second = TEXTS, TEXTS[::-1]
        flat = pair_ids(pre, first, second)
        column = pre.pack_pair(
            tf.constant(first)[:, None], tf.constant(second)[:, None]
        ).numpy()
        np.testing.assert_array_equal(column, flat)
        np.testing.assert_array_equal(
            pre.pack_pair(first[0], second[0]).numpy(), flat[0]
        )
        ds = tf.data.Dataset.from_tensor_slices((first, second)).batch(3)
        ds = ds.map(pre.pack_pair)
        np.testing.assert_array_equal(
            np.concatenate(list(ds.as_numpy_iterator())), flat
        )

    def test_single_text_packing_is_unchanged(self, vocab):
        pre = TextPreprocessor(vocab, sequence_length=8)
        pre.pack_pair(["a cat"], ["a dog"])
        np.testing.assert_array_equal(
            ids_of(pre, ["a small cat"])[0],
            [CLS] + [vocab.index(w) for w in ("a", "small", "cat")] + [SEP] + [PAD] * 3,
        )

    def test_mismatched_shapes_raise(self, vocab):
        pre = TextPreprocessor(vocab, sequence_length=8)
        with pytest.raises(ValueError, match="same shape"):
            pre.pack_pair(tf.constant(["a", "b"]), tf.constant(["c"]))

    def test_non_strings_raise(self, vocab):
        pre = TextPreprocessor(vocab, sequence_length=8)
        with pytest.raises(ValueError, match="strings for `second`"):
            pre.pack_pair(tf.constant(["a"]), tf.constant([1]))
        with pytest.raises(ValueError, match="strings for `first`"):
            pre.pack_pair(np.array([1.0]), tf.constant(["a"]))
