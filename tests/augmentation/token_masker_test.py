import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ssl.augmentation import TokenMasker
from keras_ssl.augmentation._token_ops import top_k_by_rank
from keras_ssl.testing import TestCase

PAD, CLS, SEP, UNK, MASK = 0, 1, 2, 3, 4
SPECIALS = [PAD, CLS, SEP, UNK, MASK]
VOCAB = 1000
LENGTH = 64


def make_batch(batch=512, length=LENGTH, vocab=VOCAB, seed=0):
    """`[CLS] words... [SEP] [PAD]...` rows with a few `[UNK]`s inside.

    Row lengths vary from empty (only `[CLS] [SEP]`) to full, so some rows
    have no selectable token and some have fewer than 7 (rounding to 0).
    """
    rng = np.random.default_rng(seed)
    ids = np.full((batch, length), PAD, dtype="int32")
    for row in range(batch):
        n = rng.integers(0, length - 1) if row > 1 else (0 if row == 0 else 3)
        words = rng.integers(len(SPECIALS), vocab, size=n)
        words[rng.random(n) < 0.05] = UNK
        ids[row, : n + 2] = [CLS, *words, SEP]
    return ids


def make_masker(**kwargs):
    defaults = dict(
        vocabulary_size=VOCAB,
        mask_token_id=MASK,
        special_token_ids=SPECIALS,
        sequence_length=LENGTH,
        seed=0,
    )
    defaults.update(kwargs)
    return TokenMasker(**defaults)


def run(masker, ids):
    return {k: keras.ops.convert_to_numpy(v) for k, v in masker(ids).items()}


def chosen_positions(out, row):
    weights = out["mask_weights"][row]
    return out["mask_positions"][row][weights > 0]


@pytest.fixture(scope="module")
def batch_and_output():
    ids = make_batch()
    return ids, run(make_masker(), ids)


def test_output_shapes_and_dtypes(batch_and_output):
    ids, out = batch_and_output
    p = math.ceil(0.15 * LENGTH)
    assert make_masker().max_predictions == p
    assert out["token_ids"].shape == ids.shape
    assert out["token_ids"].dtype == np.int32
    for key in ("mask_positions", "mask_ids", "mask_weights"):
        assert out[key].shape == (len(ids), p), key
    assert out["mask_positions"].dtype == np.int32
    assert out["mask_weights"].dtype == np.float32
    assert set(np.unique(out["mask_weights"])) <= {0.0, 1.0}


def test_selected_count_is_rounded_fraction_of_selectable(batch_and_output):
    ids, out = batch_and_output
    p = out["mask_weights"].shape[1]
    selectable = ~np.isin(ids, SPECIALS)
    for row in range(len(ids)):
        n = int(selectable[row].sum())
        expected = 0 if n == 0 else min(max(round(0.15 * n), 1), p)
        assert out["mask_weights"][row].sum() == expected, (row, n)
    # And the overall rate is about 15% of the selectable tokens.
    rate = out["mask_weights"].sum() / selectable.sum()
    assert abs(rate - 0.15) < 0.01


def test_never_selects_special_or_padding_and_positions_distinct(batch_and_output):
    ids, out = batch_and_output
    for row in range(len(ids)):
        positions = chosen_positions(out, row)
        assert len(set(positions.tolist())) == len(positions)
        assert not np.isin(ids[row, positions], SPECIALS).any()
    # Special and padding positions come back untouched.
    special = np.isin(ids, SPECIALS)
    np.testing.assert_array_equal(out["token_ids"][special], ids[special])


def test_rows_without_selectable_tokens_are_untouched(batch_and_output):
    ids, out = batch_and_output
    # Row 0 is `[CLS] [SEP] [PAD]...`.
    assert out["mask_weights"][0].sum() == 0
    np.testing.assert_array_equal(out["token_ids"][0], ids[0])
    # Row 1 has 3 selectable tokens: round(0.45) = 0, raised to 1.
    assert out["mask_weights"][1].sum() == 1


def test_mask_ids_are_original_tokens_and_only_chosen_change(batch_and_output):
    ids, out = batch_and_output
    np.testing.assert_array_equal(
        out["mask_ids"], np.take_along_axis(ids, out["mask_positions"], axis=1)
    )
    changed = out["token_ids"] != ids
    for row in range(len(ids)):
        allowed = np.zeros(ids.shape[1], bool)
        allowed[chosen_positions(out, row)] = True
        assert not (changed[row] & ~allowed).any(), row


def replacement_fractions(ids, out):
    originals, corrupted = [], []
    for row in range(len(ids)):
        positions = chosen_positions(out, row)
        originals.append(ids[row, positions])
        corrupted.append(out["token_ids"][row, positions])
    originals, corrupted = np.concatenate(originals), np.concatenate(corrupted)
    masked = corrupted == MASK
    unchanged = corrupted == originals
    randomised = ~masked & ~unchanged
    return originals, corrupted, masked.mean(), randomised.mean(), unchanged.mean()


def test_80_10_10_replacement(batch_and_output):
    ids, out = batch_and_output
    originals, corrupted, masked, randomised, unchanged = replacement_fractions(
        ids, out
    )
    assert len(originals) > 2000
    # Binomial standard deviations are < 1 point here; allow 3 points.
    assert abs(masked - 0.8) < 0.03
    assert abs(randomised - 0.1) < 0.03
    assert abs(unchanged - 0.1) < 0.03
    random_ids = corrupted[(corrupted != MASK) & (corrupted != originals)]
    assert not np.isin(random_ids, SPECIALS).any()
    assert (random_ids >= 0).all() and (random_ids < VOCAB).all()


def test_random_share_with_small_vocabulary():
    vocab = 10  # half of it special
    ids = make_batch(vocab=vocab, seed=1)
    out = run(make_masker(vocabulary_size=vocab, seed=1), ids)
    _, _, masked, randomised, _ = replacement_fractions(ids, out)
    assert abs(masked - 0.8) < 0.03
    # A random non-special token differs from the original 4 times in 5.
    assert abs(randomised - 0.1 * 4 / 5) < 0.02


def test_fresh_masks_each_call_and_seed_reproducible():
    ids = make_batch(batch=16)
    masker_a, masker_b = make_masker(seed=7), make_masker(seed=7)
    a1, a2 = run(masker_a, ids), run(masker_a, ids)
    b1, b2 = run(masker_b, ids), run(masker_b, ids)
    assert not np.array_equal(a1["mask_positions"], a2["mask_positions"])
    for key in a1:
        np.testing.assert_array_equal(a1[key], b1[key])
        np.testing.assert_array_equal(a2[key], b2[key])
    c1 = run(make_masker(seed=8), ids)
    assert not np.array_equal(a1["mask_positions"], c1["mask_positions"])


def test_max_predictions_caps_the_count():
    ids = make_batch(batch=32)
    out = run(make_masker(max_predictions=3), ids)
    assert out["mask_weights"].shape == (32, 3)
    assert out["mask_weights"].sum(axis=1).max() == 3


@pytest.mark.parametrize("mask_rate", [0, 1, -0.1, 1.5, 0.0, 1.0, "0.15"])
def test_bad_mask_rate_raises(mask_rate):
    with pytest.raises(ValueError, match="mask_rate"):
        make_masker(mask_rate=mask_rate)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(mask_token_id=VOCAB), "mask_token_id"),
        (dict(vocabulary_size=1), "vocabulary_size"),
        (dict(sequence_length=1), "sequence_length"),
        (dict(max_predictions=0), "max_predictions"),
        (dict(max_predictions=LENGTH + 1), "max_predictions"),
        (dict(mask_token_rate=1.2), "mask_token_rate"),
        (dict(mask_token_rate=0.8, random_token_rate=0.3), "random_token_rate"),
    ],
)
def test_bad_arguments_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_masker(**kwargs)


def test_wrong_rank_raises():
    with pytest.raises(ValueError, match="sequence_length"):
        make_masker()(np.zeros((2, 4, LENGTH), "int32"))


def test_works_in_xla_tf_function_and_tf_data():
    ids = make_batch(batch=8)
    masker = make_masker()
    out = tf.function(masker, jit_compile=True)(tf.constant(ids))
    assert tuple(out["token_ids"].shape) == ids.shape
    ds = tf.data.Dataset.from_tensor_slices(ids).batch(4).map(masker)
    first = next(iter(ds))
    assert tuple(first["mask_positions"].shape) == (4, masker.max_predictions)


def test_xla_masks_follow_the_rules():
    # XLA draws another random stream than the graph, so check the rules.
    ids = make_batch(batch=16)
    masker = make_masker(seed=5)
    out = tf.function(masker, jit_compile=True)(tf.constant(ids))
    out = {k: np.asarray(v) for k, v in out.items()}
    selectable = ~np.isin(ids, SPECIALS)
    for row in range(len(ids)):
        chosen = out["mask_positions"][row][out["mask_weights"][row] > 0]
        expected = min(
            max(round(0.15 * selectable[row].sum()), 1), masker.max_predictions
        )
        assert len(chosen) == (expected if selectable[row].any() else 0)
        assert len(set(chosen)) == len(chosen)
        assert selectable[row, chosen].all()
        np.testing.assert_array_equal(
            out["mask_ids"][row][: len(chosen)], ids[row, chosen]
        )
        unchanged = np.ones(ids.shape[1], bool)
        unchanged[chosen] = False
        np.testing.assert_array_equal(
            out["token_ids"][row][unchanged], ids[row][unchanged]
        )


@pytest.mark.parametrize("k", [1, 5, 16])
def test_top_k_by_rank_matches_top_k_ties_included(k):
    rng = np.random.default_rng(k)
    # Few distinct values, so ties are everywhere (as the -1 scores of
    # special tokens are).
    scores = rng.integers(-1, 4, size=(6, 16)).astype("float32")
    values, indices = top_k_by_rank(tf.constant(scores), k)
    expected_values, expected_indices = keras.ops.top_k(scores, k)
    np.testing.assert_array_equal(np.asarray(values), expected_values)
    np.testing.assert_array_equal(np.asarray(indices), expected_indices)
    assert indices.dtype == "int32"


class TestTokenMaskerConfig(TestCase):
    def test_config_round_trip(self):
        masker = make_masker(mask_rate=0.2, max_predictions=5, seed=3)
        restored = self.assert_serialization_round_trip(masker)
        assert restored.special_token_ids == SPECIALS
        assert restored.max_predictions == 5
